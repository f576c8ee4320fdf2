// The REST front of `corun serve`: KServe v2 over HTTP/1.1 (cpp-httplib), on InferenceService.
// Endpoints (docs/SERVING.md): GET v2, v2/health/live, v2/health/ready,
// v2/models/{m}[/versions/{v}], .../ready; POST .../infer (JSON tensors and the binary-data
// extension); POST v2/repository/index, v2/repository/models/{m}/load, .../unload; GET /metrics.
// Every error is the protocol's {"error": "..."} with the HTTP status of docs/SERVING.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "corun/expected.hpp"
#include "serving/inference_service.hpp"
#include "serving/metrics_page.hpp"

namespace corun::serving {

struct HttpFrontOptions {
    std::string address = "127.0.0.1";  // loopback unless told otherwise
    int port = 8000;                    // 0 = any free port (port() says which)
    int metrics_port = -1;              // a second listener for /metrics alone; -1 = none
    // Bearer token every request must carry (Authorization: Bearer TOKEN), except the health
    // endpoints (probes carry no secrets); "" = none.
    std::string token;
    // The largest request body; larger ones get 413 before they are read.
    uint64_t max_request_bytes = DEFAULT_MAX_REQUEST_BYTES;
    // Threads that serve connections; a kept-alive connection holds one while it lives.
    uint32_t thread_count = 32;
    std::string server_version = "0.1.0";  // GET v2's "version"

    static constexpr uint64_t DEFAULT_MAX_REQUEST_BYTES = uint64_t{64} << 20;
};

// The HTTP status for a Status code of the service (docs/SERVING.md, "Errors").
int http_status_for(StatusCode code);

class HttpFront {
public:
    // Binds the ports (failing with the reason: in use, bad address) and starts serving.
    static Expected<std::unique_ptr<HttpFront>> start(InferenceService& service,
                                                      const HttpFrontOptions& options);
    ~HttpFront();  // stop()
    HttpFront(const HttpFront&) = delete;
    HttpFront& operator=(const HttpFront&) = delete;

    int port() const;
    int metrics_port() const;  // -1 without a metrics listener
    // Stops listening and waits for the requests being served. Idempotent.
    void stop();

private:
    struct Listeners;
    HttpFront() = default;
    std::unique_ptr<Listeners> listeners_;
};

}  // namespace corun::serving
