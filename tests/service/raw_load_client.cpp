// A client that speaks corund's raw protocol, for the hardening test (service_security_test.py):
// it says Hello and sends a model's bytes exactly as given, with none of the checks the corun
// runtime makes on the client side, as a hostile client would, then prints corund's answer.
//
//   raw_load_client SOCKET MODEL.onnx   -> prints "<code> <message>", exits 0 if it loaded
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

#include <grpcpp/create_channel_posix.h>
#include <grpcpp/grpcpp.h>

#include "corun_service.grpc.pb.h"
#include "protocol/protocol_version.hpp"
#include "runtime/remote/service_socket.hpp"

namespace v1 = corun::service::v1;

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: raw_load_client SOCKET MODEL.onnx\n";
        return 2;
    }
    const std::string socket = argv[1];
    auto fd = corun::service::connect_to_corund(socket, "");
    if (!fd) {
        std::cout << "connect " << fd.status().to_string() << "\n";
        return 3;
    }
    grpc::ChannelArguments arguments;
    arguments.SetMaxSendMessageSize(-1);
    auto stub = v1::Corun::NewStub(
        grpc::CreateCustomInsecureChannelFromFd("unix:" + socket, *fd, arguments));
    grpc::ClientContext hello_context;
    v1::HelloRequest hello;
    hello.set_protocol_version(corun::service::PROTOCOL_VERSION);
    hello.set_process_name("raw_load_client");
    v1::HelloReply session;
    if (!stub->Hello(&hello_context, hello, &session).ok() || session.status().code() != 0) {
        std::cout << "hello " << session.status().message() << "\n";
        return 3;
    }
    std::ifstream in(argv[2], std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    grpc::ClientContext load_context;
    v1::LoadModelRequest load;
    load.set_session_id(session.session_id());
    load.set_name("raw");
    load.set_onnx(bytes);
    v1::LoadModelReply loaded;
    const grpc::Status rpc = stub->LoadModel(&load_context, load, &loaded);
    if (!rpc.ok()) {
        std::cout << "rpc " << rpc.error_message() << "\n";
        return 1;
    }
    std::cout << loaded.status().code() << " " << loaded.status().message() << "\n";
    return loaded.status().code() == 0 ? 0 : 1;
}
