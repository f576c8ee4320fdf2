// A gRPC channel to corund for tests that speak the raw protocol: connected the way every
// client connects (who listens is checked, corund's admission line read), then handed to gRPC.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/create_channel_posix.h>
#include <grpcpp/grpcpp.h>

#include "runtime/remote/service_socket.hpp"

namespace corun::test {

inline std::shared_ptr<grpc::Channel> corund_channel(const std::string& socket) {
    auto fd = service::connect_to_corund(socket, "");
    if (!fd) return nullptr;
    return grpc::CreateInsecureChannelFromFd("unix:" + socket, *fd);
}

}  // namespace corun::test
