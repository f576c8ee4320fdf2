#include "serving/grpc_front.hpp"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "grpc_service.grpc.pb.h"
#include "serving/bearer_token.hpp"
#include "serving/grpc_codec.hpp"
#include "serving/system_shared_memory.hpp"
#include "serving/tensor_datatype.hpp"

namespace corun::serving {
namespace {

grpc::Status to_grpc(const Status& status) {
    return grpc::Status(static_cast<grpc::StatusCode>(grpc_status_code_for(status.code())),
                        status.to_string());
}

// Compares without an early exit, so the time taken says nothing about the token.
inference::DataType config_data_type(FormatType type) {
    switch (type) {
        case FormatType::BOOL:
            return inference::TYPE_BOOL;
        case FormatType::UINT8:
            return inference::TYPE_UINT8;
        case FormatType::UINT16:
            return inference::TYPE_UINT16;
        case FormatType::UINT32:
            return inference::TYPE_UINT32;
        case FormatType::UINT64:
            return inference::TYPE_UINT64;
        case FormatType::INT8:
            return inference::TYPE_INT8;
        case FormatType::INT16:
            return inference::TYPE_INT16;
        case FormatType::INT32:
            return inference::TYPE_INT32;
        case FormatType::INT64:
            return inference::TYPE_INT64;
        case FormatType::FLOAT16:
            return inference::TYPE_FP16;
        case FormatType::FLOAT32:
            return inference::TYPE_FP32;
        case FormatType::FLOAT64:
            return inference::TYPE_FP64;
        case FormatType::BFLOAT16:
            return inference::TYPE_BF16;
        case FormatType::STRING:
            return inference::TYPE_STRING;
        default:
            return inference::TYPE_INVALID;
    }
}

class InferenceServiceImpl final : public inference::GRPCInferenceService::Service {
public:
    InferenceServiceImpl(InferenceService& service, const GrpcFrontOptions& options)
        : service_(service), options_(options) {}

    grpc::Status ServerLive(grpc::ServerContext*, const inference::ServerLiveRequest*,
                            inference::ServerLiveResponse* response) override {
        response->set_live(true);
        return grpc::Status::OK;
    }
    grpc::Status ServerReady(grpc::ServerContext*, const inference::ServerReadyRequest*,
                             inference::ServerReadyResponse* response) override {
        response->set_ready(service_.ready());
        return grpc::Status::OK;
    }
    grpc::Status ModelReady(grpc::ServerContext* context,
                            const inference::ModelReadyRequest* request,
                            inference::ModelReadyResponse* response) override {
        if (auto denied = check_token(*context); !denied.ok()) return denied;
        const Status ready = service_.model_ready(request->name(), request->version());
        if (ready.code() == StatusCode::NOT_FOUND) return to_grpc(ready);
        response->set_ready(ready.is_ok());
        return grpc::Status::OK;
    }
    grpc::Status ServerMetadata(grpc::ServerContext* context,
                                const inference::ServerMetadataRequest*,
                                inference::ServerMetadataResponse* response) override {
        if (auto denied = check_token(*context); !denied.ok()) return denied;
        response->set_name("corun");
        response->set_version(options_.server_version);
        response->add_extensions("model_repository");
        response->add_extensions("statistics");
        response->add_extensions("system_shared_memory");
        return grpc::Status::OK;
    }
    grpc::Status ModelMetadata(grpc::ServerContext* context,
                               const inference::ModelMetadataRequest* request,
                               inference::ModelMetadataResponse* response) override {
        if (auto denied = check_token(*context); !denied.ok()) return denied;
        auto metadata = service_.model_metadata(request->name(), request->version());
        if (!metadata) return to_grpc(metadata.status());
        response->set_name(metadata.value().name);
        for (const auto& version : metadata.value().versions) response->add_versions(version);
        response->set_platform(metadata.value().platform);
        auto add = [](const TensorMetadata& tensor, auto* listed) {
            listed->set_name(tensor.name);
            const char* datatype = datatype_name(tensor.type);
            listed->set_datatype(datatype ? datatype : format_type_name(tensor.type));
            for (int64_t dim : tensor.shape) listed->add_shape(dim);
        };
        for (const auto& tensor : metadata.value().inputs) add(tensor, response->add_inputs());
        for (const auto& tensor : metadata.value().outputs) add(tensor, response->add_outputs());
        return grpc::Status::OK;
    }
    grpc::Status ModelConfig(grpc::ServerContext* context,
                             const inference::ModelConfigRequest* request,
                             inference::ModelConfigResponse* response) override {
        if (auto denied = check_token(*context); !denied.ok()) return denied;
        auto metadata = service_.model_metadata(request->name(), request->version());
        if (!metadata) return to_grpc(metadata.status());
        auto* config = response->mutable_config();
        config->set_name(metadata.value().name);
        config->set_platform(metadata.value().platform);
        config->set_backend("onnxruntime");
        // 0: the dims below are the model's whole shape, batch dimension included (corun
        // splits a request's first dimension into frames itself).
        config->set_max_batch_size(0);
        for (const auto& tensor : metadata.value().inputs) {
            auto* input = config->add_input();
            input->set_name(tensor.name);
            input->set_data_type(config_data_type(tensor.type));
            for (int64_t dim : tensor.shape) input->add_dims(dim);
        }
        for (const auto& tensor : metadata.value().outputs) {
            auto* output = config->add_output();
            output->set_name(tensor.name);
            output->set_data_type(config_data_type(tensor.type));
            for (int64_t dim : tensor.shape) output->add_dims(dim);
        }
        return grpc::Status::OK;
    }
    grpc::Status ModelStatistics(grpc::ServerContext* context,
                                 const inference::ModelStatisticsRequest* request,
                                 inference::ModelStatisticsResponse* response) override {
        if (auto denied = check_token(*context); !denied.ok()) return denied;
        if (!request->name().empty()) {
            const Status known = service_.model_ready(request->name(), request->version());
            if (known.code() == StatusCode::NOT_FOUND) return to_grpc(known);
        }
        // Every served version, ONNX models and LLMs (one inference per generate request).
        struct Listed {
            std::string name;
            std::string version;
            RequestStatisticsSnapshot counts;
        };
        std::vector<Listed> listed;
        for (const auto& model : service_.served_models()) {
            listed.push_back({model->name(), model->version(), model->statistics().snapshot()});
        }
        for (const auto& llm : service_.served_llms()) {
            listed.push_back({llm->name(), llm->version(), llm->statistics().snapshot()});
        }
        for (const auto& [name, version, counts] : listed) {
            if (!request->name().empty() && name != request->name()) continue;
            if (!request->version().empty() && version != request->version()) continue;
            auto* stats = response->add_model_stats();
            stats->set_name(name);
            stats->set_version(version);
            stats->set_inference_count(counts.inference_count);
            stats->set_execution_count(counts.exec_count);
            auto* inference = stats->mutable_inference_stats();
            uint64_t failures = 0;
            for (const auto& [reason, count] : counts.failures) failures += count;
            // Durations in ns as the protocol has them; corun counts microseconds. The request
            // durations are summed over successes and failures alike, so they go to success.
            inference->mutable_success()->set_count(counts.success);
            inference->mutable_success()->set_ns(counts.duration_sum_us * 1000);
            inference->mutable_fail()->set_count(failures);
            inference->mutable_queue()->set_count(counts.success);
            inference->mutable_queue()->set_ns(counts.queue_us * 1000);
            inference->mutable_compute_infer()->set_count(counts.success);
            inference->mutable_compute_infer()->set_ns(counts.compute_us * 1000);
        }
        return grpc::Status::OK;
    }
    grpc::Status ModelInfer(grpc::ServerContext* context,
                            const inference::ModelInferRequest* request,
                            inference::ModelInferResponse* response) override {
        if (auto denied = check_token(*context); !denied.ok()) return denied;
        return to_grpc(infer(*request, *response));
    }
    grpc::Status ModelStreamInfer(
        grpc::ServerContext* context,
        grpc::ServerReaderWriter<inference::ModelStreamInferResponse, inference::ModelInferRequest>*
            stream) override {
        if (auto denied = check_token(*context); !denied.ok()) return denied;
        inference::ModelInferRequest request;
        // One request at a time, answered in order: each exactly once, its error in
        // error_message (the stream itself stays open, as the protocol has it).
        while (stream->Read(&request)) {
            inference::ModelStreamInferResponse answer;
            const Status done = infer(request, *answer.mutable_infer_response());
            if (!done.is_ok()) {
                answer.Clear();
                answer.set_error_message(done.to_string());
                answer.mutable_infer_response()->set_id(request.id());
                answer.mutable_infer_response()->set_model_name(request.model_name());
            }
            if (!stream->Write(answer)) break;
        }
        return grpc::Status::OK;
    }
    grpc::Status RepositoryIndex(grpc::ServerContext* context,
                                 const inference::RepositoryIndexRequest* request,
                                 inference::RepositoryIndexResponse* response) override {
        if (auto denied = check_token(*context); !denied.ok()) return denied;
        for (const auto& entry : service_.repository_index()) {
            if (request->ready() && entry.state != "READY") continue;
            auto* model = response->add_models();
            model->set_name(entry.name);
            model->set_version(entry.version);
            model->set_state(entry.state);
            model->set_reason(entry.reason);
        }
        return grpc::Status::OK;
    }
    grpc::Status RepositoryModelLoad(grpc::ServerContext* context,
                                     const inference::RepositoryModelLoadRequest* request,
                                     inference::RepositoryModelLoadResponse*) override {
        if (auto denied = check_token(*context); !denied.ok()) return denied;
        return to_grpc(service_.load_model(request->model_name()));
    }
    grpc::Status RepositoryModelUnload(grpc::ServerContext* context,
                                       const inference::RepositoryModelUnloadRequest* request,
                                       inference::RepositoryModelUnloadResponse*) override {
        if (auto denied = check_token(*context); !denied.ok()) return denied;
        return to_grpc(service_.unload_model(request->model_name()));
    }
    grpc::Status SystemSharedMemoryStatus(
        grpc::ServerContext* context, const inference::SystemSharedMemoryStatusRequest* request,
        inference::SystemSharedMemoryStatusResponse* response) override {
        if (auto denied = check_token(*context); !denied.ok()) return denied;
        auto listed = regions_.status(request->name());
        if (!listed) return to_grpc(listed.status());
        for (const auto& region : listed.value()) {
            auto& status = (*response->mutable_regions())[region.name];
            status.set_name(region.name);
            status.set_key(region.key);
            status.set_offset(region.offset);
            status.set_byte_size(region.byte_size);
        }
        return grpc::Status::OK;
    }
    grpc::Status SystemSharedMemoryRegister(
        grpc::ServerContext* context, const inference::SystemSharedMemoryRegisterRequest* request,
        inference::SystemSharedMemoryRegisterResponse*) override {
        if (auto denied = check_token(*context); !denied.ok()) return denied;
        return to_grpc(regions_.register_region(
            {request->name(), request->key(), request->offset(), request->byte_size()}));
    }
    grpc::Status SystemSharedMemoryUnregister(
        grpc::ServerContext* context, const inference::SystemSharedMemoryUnregisterRequest* request,
        inference::SystemSharedMemoryUnregisterResponse*) override {
        if (auto denied = check_token(*context); !denied.ok()) return denied;
        return to_grpc(regions_.unregister_region(request->name()));
    }

private:
    Status infer(const inference::ModelInferRequest& request,
                 inference::ModelInferResponse& response) {
        CORUN_TRY(auto decoded, decode_grpc_infer_request(request, regions_));
        CORUN_TRY(auto result, service_.infer(decoded.request));
        return encode_grpc_infer_response(result, decoded.shared_memory_outputs, response);
    }

    grpc::Status check_token(const grpc::ServerContext& context) const {
        if (options_.token.empty()) return grpc::Status::OK;
        const auto& metadata = context.client_metadata();
        auto found = metadata.find("authorization");
        constexpr std::string_view BEARER = "Bearer ";
        if (found != metadata.end()) {
            const std::string_view value(found->second.data(), found->second.size());
            if (value.starts_with(BEARER) &&
                same_token(value.substr(BEARER.size()), options_.token)) {
                return grpc::Status::OK;
            }
        }
        return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                            "this server needs the metadata 'authorization: Bearer <token>' "
                            "with the token of its --http-token-file");
    }

    InferenceService& service_;
    GrpcFrontOptions options_;
    SharedMemoryRegions regions_;
};

}  // namespace

int grpc_status_code_for(StatusCode code) {
    switch (code) {
        case StatusCode::SUCCESS:
            return grpc::StatusCode::OK;
        case StatusCode::INVALID_ARGUMENT:
        case StatusCode::NOT_SUPPORTED:
        case StatusCode::INVALID_OPERATION:
        case StatusCode::INVALID_MODEL:
            return grpc::StatusCode::INVALID_ARGUMENT;
        case StatusCode::NOT_FOUND:
            return grpc::StatusCode::NOT_FOUND;
        case StatusCode::QUEUE_IS_FULL:
        case StatusCode::RESOURCE_LIMIT:
            return grpc::StatusCode::RESOURCE_EXHAUSTED;
        case StatusCode::SHUTDOWN:
        case StatusCode::OUT_OF_HOST_MEMORY:
        case StatusCode::OUT_OF_PHYSICAL_DEVICES:
            return grpc::StatusCode::UNAVAILABLE;
        case StatusCode::DEADLINE_EXCEEDED:
        case StatusCode::TIMEOUT:
            return grpc::StatusCode::DEADLINE_EXCEEDED;
        default:
            return grpc::StatusCode::INTERNAL;
    }
}

struct GrpcFront::Server {
    std::unique_ptr<InferenceServiceImpl> service;
    std::unique_ptr<grpc::Server> server;
    int port = 0;
    bool stopped = false;
};

Expected<std::unique_ptr<GrpcFront>> GrpcFront::start(InferenceService& service,
                                                      const GrpcFrontOptions& options) {
    std::unique_ptr<GrpcFront> front(new GrpcFront());
    front->server_ = std::make_unique<Server>();
    Server& server = *front->server_;
    server.service = std::make_unique<InferenceServiceImpl>(service, options);
    grpc::ServerBuilder builder;
    const std::string address = options.address.find(':') != std::string::npos
                                    ? "[" + options.address + "]"
                                    : options.address;
    builder.AddListeningPort(address + ":" + std::to_string(options.port),
                             grpc::InsecureServerCredentials(), &server.port);
    builder.SetMaxReceiveMessageSize(
        static_cast<int>(std::min<uint64_t>(options.max_request_bytes, INT32_MAX)));
    builder.SetMaxSendMessageSize(INT32_MAX);
    grpc::ResourceQuota quota("corun-kserve-grpc");
    quota.SetMaxThreads(options.max_threads);
    builder.SetResourceQuota(quota);
    builder.RegisterService(server.service.get());
    server.server = builder.BuildAndStart();
    if (!server.server || server.port <= 0) {
        return Status(StatusCode::OPEN_FILE_FAILURE,
                      "cannot listen on " + options.address + ":" + std::to_string(options.port) +
                          " (--grpc): the port is in use or the address is not this machine's");
    }
    spdlog::info("KServe v2 gRPC on {}:{}{}", options.address, server.port,
                 options.token.empty() ? "" : " (bearer token required)");
    return front;
}

GrpcFront::~GrpcFront() {
    stop();
}

int GrpcFront::port() const {
    return server_->port;
}

void GrpcFront::stop() {
    if (!server_ || server_->stopped) return;
    server_->stopped = true;
    // Calls still running get a second to finish, then are cancelled.
    server_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    server_->server->Wait();
}

}  // namespace corun::serving
