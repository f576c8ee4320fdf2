// The gRPC front of `corun serve`: KServe v2's inference.GRPCInferenceService
// (grpc_service.proto) on InferenceService, beside the REST front and on the same service (one
// device, one scheduler). Errors are gRPC status codes with the reason (docs/SERVING.md, "gRPC"):
// INVALID_ARGUMENT, NOT_FOUND, UNAVAILABLE, RESOURCE_EXHAUSTED (queue full), DEADLINE_EXCEEDED.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "corun/expected.hpp"
#include "serving/inference_service.hpp"

namespace corun::serving {

struct GrpcFrontOptions {
    std::string address = "127.0.0.1";  // loopback unless told otherwise
    int port = 8001;                    // 0 = any free port (port() says which)
    // Bearer token every call must carry (metadata `authorization: Bearer TOKEN`), except
    // ServerLive and ServerReady (probes carry no secrets); "" = none.
    std::string token;
    // The largest request message; larger ones get RESOURCE_EXHAUSTED before they are parsed.
    uint64_t max_request_bytes = uint64_t{64} << 20;
    // Threads gRPC may use for calls (each running call holds one while its frames run); calls
    // beyond them get RESOURCE_EXHAUSTED instead of a thread each, as a flood would make.
    int max_threads = 64;
    std::string server_version = "0.1.0";  // ServerMetadata's version
};

// The gRPC status code for a Status code of the service.
int grpc_status_code_for(StatusCode code);

class GrpcFront {
public:
    // Binds the port (failing with the reason: in use, bad address) and starts serving.
    static Expected<std::unique_ptr<GrpcFront>> start(InferenceService& service,
                                                      const GrpcFrontOptions& options);
    ~GrpcFront();  // stop()
    GrpcFront(const GrpcFront&) = delete;
    GrpcFront& operator=(const GrpcFront&) = delete;

    int port() const;
    // Stops listening and waits for the calls being served. Idempotent.
    void stop();

private:
    struct Server;
    GrpcFront() = default;
    std::unique_ptr<Server> server_;
};

}  // namespace corun::serving
