// `corun serve`: runs corund in the foreground, with corund's flags; with --http and/or --grpc
// and --model-repository (Triton's flag names) it also serves the repository's models over
// KServe v2 REST and gRPC, on the same device and scheduler as corund's Unix-socket clients
// (docs/SERVING.md).
#include <fstream>
#include <iostream>
#include <optional>

#include "commands.hpp"
#include "service/daemon/daemon_main.hpp"
#include "serving/grpc_front.hpp"
#include "serving/http_front.hpp"
#include "serving/inference_service.hpp"

namespace corun::tools {
namespace {

struct ServeOptions {
    int http_port = -1;  // -1 = no REST front
    std::string http_address = "127.0.0.1";
    int grpc_port = -1;  // -1 = no gRPC front
    std::string grpc_address = "127.0.0.1";
    std::string model_repository;
    int metrics_port = -1;
    std::string http_token_file;
    uint64_t http_max_request_bytes = serving::HttpFrontOptions::DEFAULT_MAX_REQUEST_BYTES;
    uint32_t http_thread_count = 32;
    std::string npu_sim_profile;
};

// The KServe fronts inside corund: the InferenceService over the daemon's VDevice and the REST
// and gRPC listeners on it (either or both).
class KServeFront : public service::DaemonFront {
public:
    KServeFront(std::optional<serving::HttpFrontOptions> options,
                std::optional<serving::GrpcFrontOptions> grpc_options, std::string repository,
                serving::InferenceServiceOptions service_options)
        : options_(std::move(options)),
          grpc_options_(std::move(grpc_options)),
          repository_(std::move(repository)),
          service_options_(std::move(service_options)) {}

    Status start(std::shared_ptr<VDevice> vdevice) override {
        service_ = std::make_unique<serving::InferenceService>(
            std::move(vdevice), serving::ModelRepository(repository_), service_options_);
        // Listening first: health/live answers while the models load, ready once they did.
        if (options_) {
            CORUN_TRY(http_, serving::HttpFront::start(*service_, *options_));
        }
        if (grpc_options_) {
            CORUN_TRY(grpc_, serving::GrpcFront::start(*service_, *grpc_options_));
        }
        return service_->load_repository();
    }

    void stop() override {
        // Queued frames end first, so that no HTTP thread waits on one while the listener stops.
        if (service_) service_->stop();
        if (http_) http_->stop();
        if (grpc_) grpc_->stop();
        http_.reset();
        grpc_.reset();
        service_.reset();  // queued frames complete with SHUTDOWN; the VDevice handle goes
    }

private:
    std::optional<serving::HttpFrontOptions> options_;
    std::optional<serving::GrpcFrontOptions> grpc_options_;
    std::string repository_;
    serving::InferenceServiceOptions service_options_;
    std::unique_ptr<serving::InferenceService> service_;
    std::unique_ptr<serving::HttpFront> http_;
    std::unique_ptr<serving::GrpcFront> grpc_;
};

Expected<std::string> read_token(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        return Status(StatusCode::OPEN_FILE_FAILURE,
                      "--http-token-file: cannot read '" + path + "'");
    }
    std::string token;
    std::getline(in, token);
    while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
    if (token.size() < 16) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "--http-token-file: the token on the first line of '" + path +
                          "' must have at least 16 characters (e.g. `openssl rand -hex 32`)");
    }
    return token;
}

}  // namespace

void add_serve_command(CLI::App& app) {
    auto* command = app.add_subcommand(
        "serve",
        "Run the corund service: processes with multi_process_service share its devices; with "
        "--http/--grpc and --model-repository, also KServe v2 REST/gRPC endpoints for the "
        "repository's models (docs/SERVING.md)");
    static service::DaemonCommandLine command_line;
    static ServeOptions serve;
    service::add_daemon_options(*command, command_line);
    command
        ->add_option("--http", serve.http_port,
                     "Serve KServe v2 REST on this TCP port (0 = any free port); needs "
                     "--model-repository")
        ->check(CLI::Range(0, 65535));
    command->add_option("--http-address", serve.http_address,
                        "Address the REST endpoint listens on (default 127.0.0.1: this machine "
                        "only; 0.0.0.0 for every interface)");
    command
        ->add_option("--grpc", serve.grpc_port,
                     "Serve KServe v2 gRPC (inference.GRPCInferenceService) on this TCP port "
                     "(0 = any free port); needs --model-repository")
        ->check(CLI::Range(0, 65535));
    command->add_option("--grpc-address", serve.grpc_address,
                        "Address the gRPC endpoint listens on (default 127.0.0.1)");
    command->add_option("--model-repository", serve.model_repository,
                        "Folder of models in Triton's layout: NAME/VERSION/model.onnx, optional "
                        "NAME/config.json");
    command
        ->add_option("--metrics-port", serve.metrics_port,
                     "Also serve /metrics (Prometheus) on this port; /metrics is on the "
                     "--http port too")
        ->check(CLI::Range(0, 65535));
    command->add_option("--http-token-file", serve.http_token_file,
                        "File whose first line is a bearer token every request must carry "
                        "(Authorization: Bearer TOKEN; gRPC metadata authorization), REST and gRPC "
                        "alike; health endpoints excepted");
    command
        ->add_option("--http-max-request-bytes", serve.http_max_request_bytes,
                     "Largest request body (REST, larger: 413) or message (gRPC, larger: "
                     "RESOURCE_EXHAUSTED) accepted; default 64 MiB")
        ->check(CLI::Range(uint64_t{1024}, uint64_t{1} << 34));
    command
        ->add_option("--http-thread-count", serve.http_thread_count,
                     "Threads serving HTTP connections (default 32)")
        ->check(CLI::Range(1u, 1024u));
    command->add_option("--npu-sim-profile", serve.npu_sim_profile,
                        "npu-sim timing profile for the \"npu-sim\" placements of routed models "
                        "(config.json \"placements\"; default $CORUN_NPU_SIM_PROFILE)");
    command->callback([] {
        const bool serving = serve.http_port >= 0 || serve.grpc_port >= 0;
        if (serving != !serve.model_repository.empty()) {
            std::cerr << "corun serve: --http PORT and/or --grpc PORT go with --model-repository "
                         "DIR (the endpoints serve the repository's models)\n";
            throw CLI::RuntimeError(2);
        }
        std::unique_ptr<KServeFront> front;
        if (serving) {
            serving::HttpFrontOptions options;
            options.address = serve.http_address;
            options.port = serve.http_port;
            options.metrics_port = serve.metrics_port;
            options.max_request_bytes = serve.http_max_request_bytes;
            options.thread_count = serve.http_thread_count;
            if (!serve.http_token_file.empty()) {
                auto token = read_token(serve.http_token_file);
                if (!token) {
                    std::cerr << "corun serve: " << token.status().to_string() << "\n";
                    throw CLI::RuntimeError(2);
                }
                options.token = token.value();
            }
            std::optional<serving::GrpcFrontOptions> grpc_options;
            if (serve.grpc_port >= 0) {
                grpc_options.emplace();
                grpc_options->address = serve.grpc_address;
                grpc_options->port = serve.grpc_port;
                grpc_options->token = options.token;  // the same token guards both fronts
                grpc_options->max_request_bytes = serve.http_max_request_bytes;
            }
            if (serve.http_port < 0 && serve.metrics_port >= 0) {
                std::cerr << "corun serve: --metrics-port needs --http\n";
                throw CLI::RuntimeError(2);
            }
            front = std::make_unique<KServeFront>(
                serve.http_port >= 0 ? std::optional(options) : std::nullopt,
                std::move(grpc_options), serve.model_repository,
                serving::InferenceServiceOptions{serve.npu_sim_profile});
        } else if (serve.metrics_port >= 0 || !serve.http_token_file.empty()) {
            std::cerr << "corun serve: --metrics-port and --http-token-file need --http or "
                         "--grpc\n";
            throw CLI::RuntimeError(2);
        }
        const int code = service::run_daemon(command_line, front.get());
        if (code != 0) throw CLI::RuntimeError(code);
    });
}

}  // namespace corun::tools
