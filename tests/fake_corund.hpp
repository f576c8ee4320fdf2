// A stand-in for corund in client tests: the Corun service on a Unix socket, in the test
// process, with add_one.onnx's tensors (x, y: FLOAT32 [1,3,4,4]) and y = x + 1 computed from
// the shared-memory slots the client registered. It can hold completions back (to test
// shutdown and a daemon that goes away) and claim another protocol version.
#pragma once

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "corun/format.hpp"
#include "corun/status.hpp"
#include "corun_service.grpc.pb.h"
#include "service/protocol_version.hpp"

namespace corun::test {

namespace v1 = corun::service::v1;

class FakeCorund final : public v1::Corun::Service {
public:
    explicit FakeCorund(std::string socket) : socket_(std::move(socket)) {}
    ~FakeCorund() override {
        stop();
        for (auto& [id, buffer] : buffers_) munmap(buffer.data, buffer.size);
    }

    bool start() {
        unlink(socket_.c_str());
        grpc::ServerBuilder builder;
        builder.AddListeningPort("unix:" + socket_, grpc::InsecureServerCredentials());
        builder.RegisterService(this);
        server_ = builder.BuildAndStart();
        return server_ != nullptr;
    }
    // Ends every call (the session stream included) as a daemon that dies would.
    void stop() {
        if (!server_) return;
        server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(50));
        server_->Wait();
        server_.reset();
        unlink(socket_.c_str());
    }

    std::atomic<bool> hold_completions{false};
    std::atomic<uint32_t> protocol_version{service::PROTOCOL_VERSION};
    std::atomic<uint32_t> last_priority{0};
    std::atomic<int> models_released{0};
    std::atomic<int> jobs_received{0};

    grpc::Status Hello(grpc::ServerContext*, const v1::HelloRequest* request,
                       v1::HelloReply* reply) override {
        reply->set_protocol_version(protocol_version);
        reply->set_daemon_version("fake");
        reply->set_session_id(7);
        auto* device = reply->add_devices();
        device->set_id("cpu:0");
        device->set_kind("cpu");
        device->set_status("available");
        (void)request;
        return grpc::Status::OK;
    }

    grpc::Status RegisterBuffer(grpc::ServerContext*, const v1::RegisterBufferRequest* request,
                                v1::RegisterBufferReply* reply) override {
        const int fd = shm_open(request->shm_name().c_str(), O_RDWR, 0);
        if (fd < 0) return failed(reply, StatusCode::INVALID_ARGUMENT, "no such region");
        void* data = mmap(nullptr, request->size(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd);
        if (data == MAP_FAILED) return failed(reply, StatusCode::INVALID_ARGUMENT, "mmap");
        std::lock_guard lock(mutex_);
        const uint64_t id = buffers_.size() + 1;
        buffers_[id] = {static_cast<uint8_t*>(data), request->size()};
        reply->set_buffer_id(id);
        return grpc::Status::OK;
    }

    grpc::Status LoadModel(grpc::ServerContext*, const v1::LoadModelRequest*,
                           v1::LoadModelReply* reply) override {
        reply->set_loaded_model_id(1);
        auto declare = [](v1::DeclaredTensor* tensor, const char* name) {
            tensor->set_name(name);
            tensor->set_element_type(static_cast<int32_t>(FormatType::FLOAT32));
            tensor->set_onnx_type_name("float");
            for (int64_t dim : {1, 3, 4, 4}) tensor->add_dims(dim);
            for (int i = 0; i < 4; ++i) tensor->add_dim_names("");
        };
        declare(reply->add_declared_inputs(), "x");
        declare(reply->add_declared_outputs(), "y");
        return grpc::Status::OK;
    }

    grpc::Status ConfigureModel(grpc::ServerContext*, const v1::ConfigureModelRequest*,
                                v1::ConfigureModelReply* reply) override {
        reply->set_model_id(100);
        return grpc::Status::OK;
    }

    grpc::Status SetSchedulingParams(grpc::ServerContext*,
                                     const v1::SetSchedulingParamsRequest* request,
                                     v1::Reply* reply) override {
        last_priority = request->scheduling().priority();
        (void)reply;
        return grpc::Status::OK;
    }

    // Completes the held jobs with SHUTDOWN, as the daemon does with queued frames.
    grpc::Status ShutdownModel(grpc::ServerContext*, const v1::ModelRequest*, v1::Reply*) override {
        std::lock_guard lock(mutex_);
        for (uint64_t job_id : held_) send_locked(job_id, StatusCode::SHUTDOWN);
        held_.clear();
        return grpc::Status::OK;
    }

    grpc::Status ReleaseModel(grpc::ServerContext*, const v1::ModelRequest*, v1::Reply*) override {
        ++models_released;
        return grpc::Status::OK;
    }
    grpc::Status ReleaseLoadedModel(grpc::ServerContext*, const v1::ModelRequest*,
                                    v1::Reply*) override {
        return grpc::Status::OK;
    }
    grpc::Status ReleaseBuffer(grpc::ServerContext*, const v1::ReleaseBufferRequest*,
                               v1::Reply*) override {
        return grpc::Status::OK;
    }

    grpc::Status Session(
        grpc::ServerContext*,
        grpc::ServerReaderWriter<v1::ServerMessage, v1::ClientMessage>* stream) override {
        v1::ClientMessage message;
        if (!stream->Read(&message)) return grpc::Status::OK;
        {
            std::lock_guard lock(mutex_);
            stream_ = stream;
        }
        while (stream->Read(&message)) {
            if (!message.has_infer()) continue;
            ++jobs_received;
            std::lock_guard lock(mutex_);
            if (hold_completions) {
                held_.push_back(message.infer().job_id());
                continue;
            }
            for (const auto& frame : message.infer().frames()) add_one(frame);
            send_locked(message.infer().job_id(), StatusCode::SUCCESS);
        }
        std::lock_guard lock(mutex_);
        stream_ = nullptr;
        return grpc::Status::OK;
    }

private:
    struct Buffer {
        uint8_t* data = nullptr;
        size_t size = 0;
    };

    template <typename Reply>
    static grpc::Status failed(Reply* reply, StatusCode code, const std::string& message) {
        reply->mutable_status()->set_code(static_cast<int32_t>(code));
        reply->mutable_status()->set_message(message);
        return grpc::Status::OK;
    }

    void add_one(const v1::FrameRefs& frame) {
        const auto& in = frame.inputs(0);
        const auto& out = frame.outputs(0);
        const auto* x = reinterpret_cast<const float*>(buffers_[in.buffer_id()].data + in.offset());
        auto* y = reinterpret_cast<float*>(buffers_[out.buffer_id()].data + out.offset());
        for (size_t i = 0; i < out.size() / sizeof(float); ++i) y[i] = x[i] + 1.0f;
    }

    void send_locked(uint64_t job_id, StatusCode code) {
        if (stream_ == nullptr) return;
        v1::ServerMessage reply;
        reply.mutable_completion()->set_job_id(job_id);
        reply.mutable_completion()->mutable_status()->set_code(static_cast<int32_t>(code));
        reply.mutable_completion()->set_device_ns(1000);
        stream_->Write(reply);
    }

    std::string socket_;
    std::unique_ptr<grpc::Server> server_;
    std::mutex mutex_;
    std::map<uint64_t, Buffer> buffers_;
    grpc::ServerReaderWriter<v1::ServerMessage, v1::ClientMessage>* stream_ = nullptr;
    std::vector<uint64_t> held_;
};

}  // namespace corun::test
