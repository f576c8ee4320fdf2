#include "runtime/remote/rpc_status.hpp"

#include "runtime/remote/service_socket.hpp"

namespace corun::service {

std::string daemon_gone_message(const std::string& socket) {
    return "corund at " + socket +
           " went away (it exited or was killed); this VDevice and its models are no longer "
           "usable: create the VDevice again once it is back (`corund --socket " +
           socket + "` or `corun serve`)";
}

Status rpc_failure(const grpc::Status& status, const std::string& call, const std::string& socket) {
    const std::string detail = " [" + call + ": " + status.error_message() + "]";
    switch (status.error_code()) {
        case grpc::StatusCode::UNAVAILABLE: {
            const std::string cause = probe_service_socket(socket);
            if (!cause.empty()) {
                return Status(StatusCode::RPC_FAILED,
                              service_unreachable_message(socket, cause) + detail);
            }
            return Status(StatusCode::RPC_FAILED, daemon_gone_message(socket) + detail);
        }
        case grpc::StatusCode::DEADLINE_EXCEEDED:
            return Status(StatusCode::RPC_FAILED,
                          "corund at " + socket + " did not answer " + call +
                              " in time; it may be overloaded or stuck (see its log, and "
                              "`corun monitor`)" +
                              detail);
        case grpc::StatusCode::RESOURCE_EXHAUSTED:
            return Status(StatusCode::RESOURCE_LIMIT,
                          "corund at " + socket + " refused " + call +
                              " as too large (a model file above its message limit?)" + detail);
        case grpc::StatusCode::UNIMPLEMENTED:
            return Status(StatusCode::PROTOCOL_MISMATCH,
                          "corund at " + socket + " does not implement " + call +
                              "; use a client and a daemon from the same corun release" + detail);
        default:
            return Status(StatusCode::RPC_FAILED,
                          "the call " + call + " to corund at " + socket + " failed" + detail);
    }
}

}  // namespace corun::service
