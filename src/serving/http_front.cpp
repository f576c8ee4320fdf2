#include "serving/http_front.hpp"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <thread>

#include <nlohmann/json.hpp>

#include "serving/bearer_token.hpp"
#include "serving/generate_codec.hpp"
#include "serving/rest_codec.hpp"
#include "serving/tensor_datatype.hpp"

namespace corun::serving {
namespace {

using Json = nlohmann::json;

constexpr const char* JSON_TYPE = "application/json";
constexpr const char* HEADER_LENGTH = "Inference-Header-Content-Length";
// A model (and version) in a URL: the names a repository folder may have.
constexpr const char* MODEL_PATH = R"(/v2/models/([A-Za-z0-9_.\-]+)(?:/versions/([0-9]+))?)";

void reply_error(httplib::Response& response, int http_status, std::string_view message) {
    response.status = http_status;
    response.set_content(rest_error_body(message), JSON_TYPE);
}

void reply_error(httplib::Response& response, const Status& status) {
    reply_error(response, http_status_for(status.code()), status.to_string());
}

void reply_json(httplib::Response& response, const Json& body) {
    response.status = 200;
    response.set_content(body.dump(-1, ' ', false, Json::error_handler_t::replace), JSON_TYPE);
}

std::string version_of(const httplib::Request& request) {
    return request.matches.size() > 2 ? request.matches[2].str() : std::string();
}

// Compares without an early exit, so the time taken says nothing about the token.
Json tensor_metadata_json(const std::vector<TensorMetadata>& tensors) {
    Json listed = Json::array();
    for (const auto& tensor : tensors) {
        const char* datatype = datatype_name(tensor.type);
        listed.push_back({{"name", tensor.name},
                          {"datatype", datatype ? datatype : format_type_name(tensor.type)},
                          {"shape", tensor.shape}});
    }
    return listed;
}

void set_up_common(httplib::Server& server, const HttpFrontOptions& options) {
    server.new_task_queue = [threads = options.thread_count] {
        return new httplib::ThreadPool(threads);
    };
    server.set_payload_max_length(static_cast<size_t>(options.max_request_bytes));
    server.set_keep_alive_max_count(1000);
    server.set_tcp_nodelay(true);
    // SO_REUSEADDR only: cpp-httplib's default sets SO_REUSEPORT, with which a second server of
    // the same user binds the same port without an error and the kernel splits the connections
    // between the two.
    server.set_socket_options([](socket_t sock) {
        int yes = 1;
        setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    server.set_pre_routing_handler(
        [token = options.token](const httplib::Request& request, httplib::Response& response) {
            if (token.empty() || request.path.starts_with("/v2/health/")) {
                return httplib::Server::HandlerResponse::Unhandled;
            }
            const std::string authorization = request.get_header_value("Authorization");
            constexpr std::string_view BEARER = "Bearer ";
            if (!authorization.starts_with(BEARER) ||
                !same_token(std::string_view(authorization).substr(BEARER.size()), token)) {
                response.set_header("WWW-Authenticate", "Bearer");
                reply_error(response, 401,
                            "this server needs the header 'Authorization: Bearer <token>' with "
                            "the token of its --http-token-file");
                return httplib::Server::HandlerResponse::Handled;
            }
            return httplib::Server::HandlerResponse::Unhandled;
        });
    // Called for every response of 400 and above; fills in the body of those httplib makes
    // itself (no route: 404, a body over the limit: 413, a bad request line: 400).
    server.set_error_handler(httplib::Server::HandlerWithResponse(
        [max = options.max_request_bytes](const httplib::Request& request,
                                          httplib::Response& response) {
            if (!response.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
            std::string message;
            if (response.status == 404) {
                message = "no endpoint " + request.method + " " + request.path.substr(0, 256) +
                          " (docs/SERVING.md lists them)";
            } else if (response.status == 413) {
                message = "the request is larger than this server takes (" + std::to_string(max) +
                          " bytes, --http-max-request-bytes)";
            } else {
                message = "HTTP " + std::to_string(response.status) + " for " +
                          request.path.substr(0, 256);
            }
            response.set_content(rest_error_body(message), JSON_TYPE);
            return httplib::Server::HandlerResponse::Handled;
        }));
    server.set_exception_handler(
        [](const httplib::Request&, httplib::Response& response, std::exception_ptr error) {
            std::string what = "unknown";
            try {
                if (error) std::rethrow_exception(error);
            } catch (const std::exception& caught) {
                what = caught.what();
            } catch (...) {
            }
            spdlog::error("HTTP handler failed: {}", what);
            reply_error(response, 500, "internal error: " + what);
        });
}

void add_metrics_route(httplib::Server& server, MetricsPage& metrics) {
    server.Get("/metrics", [&metrics](const httplib::Request&, httplib::Response& response) {
        response.set_content(metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
    });
}

void add_kserve_routes(httplib::Server& server, InferenceService& service,
                       const HttpFrontOptions& options) {
    server.Get("/v2", [version = options.server_version](const httplib::Request&,
                                                         httplib::Response& response) {
        reply_json(response, {{"name", "corun"},
                              {"version", version},
                              {"extensions", {"binary_tensor_data", "model_repository"}}});
    });
    server.Get("/v2/health/live",
               [](const httplib::Request&, httplib::Response& response) { response.status = 200; });
    server.Get("/v2/health/ready",
               [&service](const httplib::Request&, httplib::Response& response) {
                   if (service.ready()) {
                       response.status = 200;
                   } else {
                       reply_error(response, 400, "the model repository is still loading");
                   }
               });
    server.Get(
        MODEL_PATH, [&service](const httplib::Request& request, httplib::Response& response) {
            auto metadata = service.model_metadata(request.matches[1].str(), version_of(request));
            if (!metadata) return reply_error(response, metadata.status());
            reply_json(response, {{"name", metadata.value().name},
                                  {"versions", metadata.value().versions},
                                  {"platform", metadata.value().platform},
                                  {"inputs", tensor_metadata_json(metadata.value().inputs)},
                                  {"outputs", tensor_metadata_json(metadata.value().outputs)}});
        });
    server.Get(std::string(MODEL_PATH) + "/ready", [&service](const httplib::Request& request,
                                                              httplib::Response& response) {
        const Status ready = service.model_ready(request.matches[1].str(), version_of(request));
        if (ready.is_ok()) {
            response.status = 200;
        } else {
            // Not ready is 400 (the protocol's "false"); an unknown model 404.
            reply_error(response, ready.code() == StatusCode::NOT_FOUND ? 404 : 400,
                        ready.to_string());
        }
    });
    server.Post(std::string(MODEL_PATH) + "/infer",
                [&service](const httplib::Request& request, httplib::Response& response) {
                    std::optional<std::string_view> header_length;
                    std::string header_value;
                    if (request.has_header(HEADER_LENGTH)) {
                        header_value = request.get_header_value(HEADER_LENGTH);
                        header_length = header_value;
                    }
                    auto decoded = decode_rest_infer_request(request.body, header_length);
                    if (!decoded) return reply_error(response, decoded.status());
                    InferRequest& infer_request = decoded.value();
                    infer_request.model_name = request.matches[1].str();
                    infer_request.model_version = version_of(request);
                    auto result = service.infer(infer_request);
                    if (!result) return reply_error(response, result.status());
                    RestResponseBody encoded = encode_rest_infer_response(result.value());
                    response.status = 200;
                    if (encoded.json_length) {
                        response.set_header(HEADER_LENGTH, std::to_string(*encoded.json_length));
                        response.set_content(std::move(encoded.body), "application/octet-stream");
                    } else {
                        response.set_content(std::move(encoded.body), JSON_TYPE);
                    }
                });
    // Triton's generate extension, on generative models (docs/SERVING.md, "Generative models").
    server.Post(std::string(MODEL_PATH) + "/generate",
                [&service](const httplib::Request& request, httplib::Response& response) {
                    auto decoded = decode_generate_request(request.body);
                    if (!decoded) return reply_error(response, decoded.status());
                    decoded.value().model_name = request.matches[1].str();
                    decoded.value().model_version = version_of(request);
                    auto result = service.generate(decoded.value());
                    if (!result) return reply_error(response, result.status());
                    response.status = 200;
                    response.set_content(encode_generate_response(result.value()), JSON_TYPE);
                });
    // The same as server-sent events, one per piece of text as it is produced. Errors found
    // before the first byte get their HTTP status; later ones (a prompt longer than the
    // context) come as an event {"error": ...}. A client that closes the stream aborts the
    // generation (at its next piece).
    server.Post(std::string(MODEL_PATH) + "/generate_stream", [&service](
                                                                  const httplib::Request& request,
                                                                  httplib::Response& response) {
        auto decoded = decode_generate_request(request.body);
        if (!decoded) return reply_error(response, decoded.status());
        auto generate = std::make_shared<GenerateRequest>(decoded.release());
        generate->model_name = request.matches[1].str();
        generate->model_version = version_of(request);
        auto version = service.generative_version(generate->model_name, generate->model_version);
        if (!version) return reply_error(response, version.status());
        response.status = 200;
        response.set_header("Cache-Control", "no-cache");
        response.set_chunked_content_provider(
            "text/event-stream",
            [&service, generate, version = version.value()](size_t, httplib::DataSink& sink) {
                GenerateResponse event{generate->model_name, version, generate->id, "", 0, 0, ""};
                auto send = [&sink](const std::string& text) {
                    return sink.is_writable() && sink.write(text.data(), text.size());
                };
                auto result = service.generate(*generate, [&](const std::string& piece) {
                    event.text_output = piece;
                    return send(encode_generate_event(event, false));
                });
                if (result) {
                    GenerateResponse last = result.value();
                    last.text_output.clear();  // every piece was sent already
                    send(encode_generate_event(last, true));
                } else {
                    send(encode_generate_error_event(result.status().to_string()));
                }
                sink.done();
                return true;
            });
    });
    server.Post("/v2/repository/index",
                [&service](const httplib::Request&, httplib::Response& response) {
                    Json index = Json::array();
                    for (const auto& entry : service.repository_index()) {
                        Json listed = {{"name", entry.name}, {"state", entry.state}};
                        if (!entry.version.empty()) listed["version"] = entry.version;
                        if (!entry.reason.empty()) listed["reason"] = entry.reason;
                        index.push_back(std::move(listed));
                    }
                    reply_json(response, index);
                });
    server.Post(R"(/v2/repository/models/([A-Za-z0-9_.\-]+)/(load|unload))",
                [&service](const httplib::Request& request, httplib::Response& response) {
                    const std::string name = request.matches[1].str();
                    const Status done = request.matches[2].str() == "load"
                                            ? service.load_model(name)
                                            : service.unload_model(name);
                    if (!done.is_ok()) return reply_error(response, done);
                    response.status = 200;
                });
}

}  // namespace

int http_status_for(StatusCode code) {
    switch (code) {
        case StatusCode::SUCCESS:
            return 200;
        case StatusCode::INVALID_ARGUMENT:
        case StatusCode::NOT_SUPPORTED:
        case StatusCode::INVALID_OPERATION:
        case StatusCode::INVALID_MODEL:
            return 400;
        case StatusCode::NOT_FOUND:
            return 404;
        case StatusCode::QUEUE_IS_FULL:
        case StatusCode::RESOURCE_LIMIT:
            return 429;
        case StatusCode::SHUTDOWN:
        case StatusCode::OUT_OF_HOST_MEMORY:
        case StatusCode::OUT_OF_PHYSICAL_DEVICES:
            return 503;
        case StatusCode::DEADLINE_EXCEEDED:
        case StatusCode::TIMEOUT:
            return 504;
        default:
            return 500;
    }
}

struct HttpFront::Listeners {
    httplib::Server server;
    std::unique_ptr<httplib::Server> metrics_server;
    std::unique_ptr<MetricsPage> metrics;
    std::thread server_thread;
    std::thread metrics_thread;
    int port = 0;
    int metrics_port = -1;
    bool stopped = false;
};

Expected<std::unique_ptr<HttpFront>> HttpFront::start(InferenceService& service,
                                                      const HttpFrontOptions& options) {
    std::unique_ptr<HttpFront> front(new HttpFront());
    front->listeners_ = std::make_unique<Listeners>();
    Listeners& listeners = *front->listeners_;
    listeners.metrics = std::make_unique<MetricsPage>(service);
    set_up_common(listeners.server, options);
    add_kserve_routes(listeners.server, service, options);
    add_metrics_route(listeners.server, *listeners.metrics);

    auto bind = [&](httplib::Server& server, int port, const char* flag) -> Expected<int> {
        const int bound = port == 0 ? server.bind_to_any_port(options.address)
                                    : (server.bind_to_port(options.address, port) ? port : -1);
        if (bound <= 0) {
            return Status(StatusCode::OPEN_FILE_FAILURE,
                          std::string("cannot listen on ") + options.address + ":" +
                              std::to_string(port) + " (" + flag +
                              "): the port is in use or the address is not this machine's");
        }
        return bound;
    };
    CORUN_TRY(listeners.port, bind(listeners.server, options.port, "--http"));
    if (options.metrics_port >= 0) {
        listeners.metrics_server = std::make_unique<httplib::Server>();
        set_up_common(*listeners.metrics_server, options);
        add_metrics_route(*listeners.metrics_server, *listeners.metrics);
        CORUN_TRY(listeners.metrics_port,
                  bind(*listeners.metrics_server, options.metrics_port, "--metrics-port"));
        listeners.metrics_thread =
            std::thread([&listeners] { listeners.metrics_server->listen_after_bind(); });
    }
    listeners.server_thread = std::thread([&listeners] { listeners.server.listen_after_bind(); });
    spdlog::info("KServe v2 REST on http://{}:{}/v2{}{}", options.address, listeners.port,
                 listeners.metrics_port >= 0
                     ? ", metrics on port " + std::to_string(listeners.metrics_port)
                     : std::string(),
                 options.token.empty() ? "" : " (bearer token required)");
    return front;
}

HttpFront::~HttpFront() {
    stop();
}

int HttpFront::port() const {
    return listeners_->port;
}

int HttpFront::metrics_port() const {
    return listeners_->metrics_port;
}

void HttpFront::stop() {
    if (!listeners_ || listeners_->stopped) return;
    listeners_->stopped = true;
    listeners_->server.stop();
    if (listeners_->metrics_server) listeners_->metrics_server->stop();
    if (listeners_->server_thread.joinable()) listeners_->server_thread.join();
    if (listeners_->metrics_thread.joinable()) listeners_->metrics_thread.join();
}

}  // namespace corun::serving
