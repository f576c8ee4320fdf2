// corund from the outside: starts the real daemon on a socket in a fresh directory and speaks
// the raw protocol to it (generated stub, and raw bytes through a generic stub): version and
// session checks, malformed and oversized messages, bad shared-memory references, one real
// inference through shared memory, session release when the client goes away. Every wait is
// bounded.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <future>
#include <iterator>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "corun/status.hpp"
#include "corun_service.grpc.pb.h"
#include "corund_channel.hpp"
#include "protocol/fast_lane.hpp"
#include "protocol/lane_ring.hpp"
#include "protocol/protocol_version.hpp"
#include "test_support.hpp"

namespace corun::service {
namespace {

using namespace std::chrono_literals;
namespace v1 = corun::service::v1;

constexpr int FLOAT32 = 3;                                       // corun::FormatType::FLOAT32
constexpr uint64_t FRAME_BYTES = 1 * 3 * 4 * 4 * sizeof(float);  // add_one.onnx's x and y
constexpr uint64_t MAX_MODEL_BYTES = 1 << 20;                    // what the test daemon allows

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

StatusCode code_of(const v1::Status& status) {
    return static_cast<StatusCode>(status.code());
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

bool socket_answers(const std::string& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    close(fd);
    return ok;
}

// The corund process under test, one per test binary run.
class Daemon {
public:
    Daemon() {
        char pattern[] = "/tmp/corund-test-XXXXXX";
        directory_ = mkdtemp(pattern);
        socket_ = directory_ + "/run/corund.sock";
        log_ = directory_ + "/corund.log";
        const std::string max_model = std::to_string(MAX_MODEL_BYTES);
        std::vector<std::string> args = {CORUN_CORUND_PATH,
                                         "--socket",
                                         socket_,
                                         "--log-file",
                                         log_,
                                         "--log-level",
                                         "debug",
                                         "--max-model-bytes",
                                         max_model,
                                         "--max-queued-frames-per-client",
                                         "16"};
        std::vector<char*> argv;
        for (auto& arg : args) argv.push_back(arg.data());
        argv.push_back(nullptr);
        if (posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) != 0) pid_ = -1;
        const auto deadline = std::chrono::steady_clock::now() + 30s;
        while (pid_ > 0 && !socket_answers(socket_) &&
               std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(20ms);
        }
    }
    ~Daemon() {
        if (pid_ <= 0) return;
        kill(pid_, SIGTERM);
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        int status = 0;
        while (waitpid(pid_, &status, WNOHANG) == 0) {
            if (std::chrono::steady_clock::now() > deadline) {
                kill(pid_, SIGKILL);
                waitpid(pid_, &status, 0);
                break;
            }
            std::this_thread::sleep_for(20ms);
        }
    }
    bool alive() const { return pid_ > 0 && kill(pid_, 0) == 0 && socket_answers(socket_); }
    const std::string& socket() const { return socket_; }
    const std::string& log() const { return log_; }

private:
    pid_t pid_ = -1;
    std::string directory_, socket_, log_;
};

Daemon* daemon_process = nullptr;

// A shared-memory region as a client makes it (shm_open O_EXCL, ftruncate, mmap).
class Region {
public:
    explicit Region(uint64_t size) : size_(size) {
        static std::atomic<int> counter{0};
        name_ = "/corun." + std::to_string(getpid()) + "." + std::to_string(counter++);
        const int fd = shm_open(name_.c_str(), O_CREAT | O_EXCL | O_RDWR, 0660);
        EXPECT_GE(fd, 0) << std::strerror(errno);
        EXPECT_EQ(ftruncate(fd, static_cast<off_t>(size)), 0);
        data_ = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd);
    }
    ~Region() {
        munmap(data_, size_);
        unlink();
    }
    void unlink() { shm_unlink(name_.c_str()); }
    // What a hostile client of the same uid can do after registering: cut the region short.
    void shrink_to(uint64_t size) {
        const int fd = shm_open(name_.c_str(), O_RDWR, 0);
        ASSERT_GE(fd, 0) << std::strerror(errno);
        EXPECT_EQ(ftruncate(fd, static_cast<off_t>(size)), 0);
        close(fd);
    }
    float* floats(uint64_t offset = 0) {
        return reinterpret_cast<float*>(static_cast<uint8_t*>(data_) + offset);
    }
    const std::string& name() const { return name_; }
    uint64_t size() const { return size_; }

private:
    std::string name_;
    void* data_ = nullptr;
    uint64_t size_;
};

class ServiceProtocolTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() { daemon_process = new Daemon(); }
    static void TearDownTestSuite() {
        delete daemon_process;
        daemon_process = nullptr;
    }

    void SetUp() override {
        ASSERT_TRUE(daemon_process->alive()) << "corund did not start; its log:\n"
                                             << read_file(daemon_process->log());
        channel_ = test::corund_channel(daemon_process->socket());
        ASSERT_NE(channel_, nullptr) << "cannot connect to corund at " << daemon_process->socket();
        stub_ = v1::Corun::NewStub(channel_);
    }

    static void bound(grpc::ClientContext& context, std::chrono::seconds limit = 20s) {
        context.set_deadline(std::chrono::system_clock::now() + limit);
    }

    v1::HelloReply hello(uint32_t version = PROTOCOL_VERSION) {
        grpc::ClientContext context;
        bound(context);
        v1::HelloRequest request;
        request.set_protocol_version(version);
        request.set_client_version("test");
        request.set_process_name("service_protocol_test");
        request.mutable_params()->set_group_id("protocol-test");
        request.mutable_params()->set_device_count(1);
        request.mutable_params()->set_round_robin(true);
        request.mutable_params()->set_cpu_execution_slots(1);
        request.mutable_params()->set_cpu_intra_op_threads(1);
        request.mutable_params()->set_fair_device_time(true);
        request.mutable_params()->set_aging_step_ms(250);
        request.mutable_params()->set_cpu_spin_wait(false);
        v1::HelloReply reply;
        grpc::Status status = stub_->Hello(&context, request, &reply);
        EXPECT_TRUE(status.ok()) << status.error_message();
        return reply;
    }

    uint64_t open_session() {
        v1::HelloReply reply = hello();
        EXPECT_EQ(code_of(reply.status()), StatusCode::SUCCESS) << reply.status().message();
        EXPECT_NE(reply.session_id(), 0u);
        return reply.session_id();
    }

    v1::RegisterBufferReply register_buffer(uint64_t session, const std::string& name,
                                            uint64_t size) {
        grpc::ClientContext context;
        bound(context);
        v1::RegisterBufferRequest request;
        request.set_session_id(session);
        request.set_shm_name(name);
        request.set_size(size);
        v1::RegisterBufferReply reply;
        EXPECT_TRUE(stub_->RegisterBuffer(&context, request, &reply).ok());
        return reply;
    }

    // add_one.onnx loaded and configured with its native float [1,3,4,4] streams.
    uint64_t configure_add_one(uint64_t session, const std::string& name = "add_one",
                               uint32_t batch_size = 2) {
        grpc::ClientContext load_context;
        bound(load_context);
        v1::LoadModelRequest load;
        load.set_session_id(session);
        load.set_name(name);
        load.set_onnx(read_file(std::string(CORUN_TEST_MODEL_DIR) + "/add_one.onnx"));
        v1::LoadModelReply loaded;
        EXPECT_TRUE(stub_->LoadModel(&load_context, load, &loaded).ok());
        EXPECT_EQ(code_of(loaded.status()), StatusCode::SUCCESS) << loaded.status().message();
        EXPECT_EQ(loaded.declared_inputs_size(), 1);
        if (loaded.declared_inputs_size() == 1) {
            EXPECT_EQ(loaded.declared_inputs(0).name(), "x");
            EXPECT_EQ(loaded.declared_inputs(0).element_type(), FLOAT32);
            EXPECT_EQ(loaded.declared_inputs(0).onnx_type_name(), "float");
            EXPECT_EQ(std::vector<int64_t>(loaded.declared_inputs(0).dims().begin(),
                                           loaded.declared_inputs(0).dims().end()),
                      (std::vector<int64_t>{1, 3, 4, 4}));
        }
        grpc::ClientContext context;
        bound(context);
        v1::ConfigureModelRequest configure;
        configure.set_session_id(session);
        configure.set_loaded_model_id(loaded.loaded_model_id());
        configure.set_name(name);
        for (auto [spec, stream] : {std::pair{configure.add_native_inputs(), "x"},
                                    std::pair{configure.add_native_outputs(), "y"}}) {
            spec->set_name(stream);
            spec->set_element_type(FLOAT32);
            for (int64_t dim : {1, 3, 4, 4}) spec->add_dims(dim);
        }
        configure.set_batch_size(batch_size);
        configure.mutable_scheduling()->set_priority(16);
        configure.mutable_scheduling()->set_threshold(1);
        v1::ConfigureModelReply reply;
        EXPECT_TRUE(stub_->ConfigureModel(&context, configure, &reply).ok());
        EXPECT_EQ(code_of(reply.status()), StatusCode::SUCCESS) << reply.status().message();
        return reply.model_id();
    }

    v1::MonitorSnapshot monitor() {
        grpc::ClientContext context;
        bound(context, 5s);
        v1::MonitorSnapshot snapshot;
        EXPECT_TRUE(stub_->Monitor(&context, v1::MonitorRequest(), &snapshot).ok());
        return snapshot;
    }

    std::shared_ptr<grpc::Channel> channel_;
    std::unique_ptr<v1::Corun::Stub> stub_;
};

// A Session stream with bounded reads.
class SessionStream {
public:
    SessionStream(v1::Corun::Stub& stub, uint64_t session) : session_(session) {
        context_.set_deadline(std::chrono::system_clock::now() + 30s);
        stream_ = stub.Session(&context_);
    }
    ~SessionStream() {
        context_.TryCancel();
        stream_->Finish().ok();
    }
    bool send(const v1::InferRequest& request) {
        v1::ClientMessage message;
        message.set_session_id(session_);
        *message.mutable_infer() = request;
        return stream_->Write(message);
    }
    v1::Completion next() {
        v1::ServerMessage message;
        EXPECT_TRUE(stream_->Read(&message)) << "the stream ended without a completion";
        return message.completion();
    }
    // Sends `request` and returns its completion.
    v1::Completion run(const v1::InferRequest& request) {
        EXPECT_TRUE(send(request));
        v1::Completion completion = next();
        EXPECT_EQ(completion.job_id(), request.job_id());
        return completion;
    }
    grpc::ClientContext& context() { return context_; }

private:
    uint64_t session_;
    grpc::ClientContext context_;
    std::unique_ptr<grpc::ClientReaderWriter<v1::ClientMessage, v1::ServerMessage>> stream_;
};

v1::InferRequest one_frame(uint64_t job, uint64_t model, uint64_t buffer, uint64_t in_offset,
                           uint64_t out_offset, uint64_t size = FRAME_BYTES) {
    v1::InferRequest request;
    request.set_job_id(job);
    request.set_model_id(model);
    v1::FrameRefs* frame = request.add_frames();
    v1::BufferRef* in = frame->add_inputs();
    in->set_buffer_id(buffer);
    in->set_offset(in_offset);
    in->set_size(size);
    v1::BufferRef* out = frame->add_outputs();
    out->set_buffer_id(buffer);
    out->set_offset(out_offset);
    out->set_size(FRAME_BYTES);
    return request;
}

TEST_F(ServiceProtocolTest, SocketIsGroupOnly) {
    struct stat info {};
    ASSERT_EQ(stat(daemon_process->socket().c_str(), &info), 0);
    EXPECT_TRUE(S_ISSOCK(info.st_mode));
    EXPECT_EQ(info.st_mode & 0777, 0660u);
}

TEST_F(ServiceProtocolTest, ProtocolMismatchNamesBothVersions) {
    v1::HelloReply reply = hello(PROTOCOL_VERSION + 1);
    EXPECT_EQ(code_of(reply.status()), StatusCode::PROTOCOL_MISMATCH);
    EXPECT_TRUE(contains(reply.status().message(),
                         "client speaks protocol " + std::to_string(PROTOCOL_VERSION + 1)))
        << reply.status().message();
    EXPECT_TRUE(contains(reply.status().message(), "speaks " + std::to_string(PROTOCOL_VERSION)))
        << reply.status().message();
    EXPECT_EQ(reply.session_id(), 0u);
    EXPECT_EQ(reply.protocol_version(), PROTOCOL_VERSION);
}

TEST_F(ServiceProtocolTest, HelloListsDevicesAndRefusesMismatchedGroupParams) {
    v1::HelloReply reply = hello();
    ASSERT_EQ(code_of(reply.status()), StatusCode::SUCCESS) << reply.status().message();
    ASSERT_GE(reply.devices_size(), 1);
    EXPECT_EQ(reply.devices(0).id(), "cpu:0");

    grpc::ClientContext context;
    bound(context);
    v1::HelloRequest request;
    request.set_protocol_version(PROTOCOL_VERSION);
    request.mutable_params()->set_group_id("protocol-test");
    request.mutable_params()->set_cpu_execution_slots(3);  // the live group has 1
    v1::HelloReply refused;
    ASSERT_TRUE(stub_->Hello(&context, request, &refused).ok());
    EXPECT_EQ(code_of(refused.status()), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(refused.status().message(), "protocol-test"))
        << refused.status().message();
}

TEST_F(ServiceProtocolTest, UnknownSessionIsNotFound) {
    v1::RegisterBufferReply reply = register_buffer(123456789, "/corun.1.1", 64);
    EXPECT_EQ(code_of(reply.status()), StatusCode::NOT_FOUND);
    EXPECT_TRUE(contains(reply.status().message(), "123456789")) << reply.status().message();
    EXPECT_TRUE(contains(reply.status().message(), "Hello")) << reply.status().message();

    // A stream whose first message names no known session ends with an error.
    v1::ServerMessage message;
    grpc::ClientContext context;
    bound(context);
    auto raw = stub_->Session(&context);
    v1::ClientMessage first;
    first.set_session_id(987654321);
    raw->Write(first);
    raw->WritesDone();
    EXPECT_FALSE(raw->Read(&message));
    grpc::Status status = raw->Finish();
    EXPECT_FALSE(status.ok());
    EXPECT_TRUE(contains(status.error_message(), "987654321")) << status.error_message();
}

TEST_F(ServiceProtocolTest, MalformedMessagesGetErrorsAndTheDaemonLives) {
    grpc::GenericStub generic(channel_);
    const std::string garbage = "\x0a\xff\xff\xff\xff\x0f\x12\x34garbage";
    grpc::Slice slice(garbage);
    grpc::ByteBuffer request(&slice, 1);

    // Unary: LoadModel with bytes that are no LoadModelRequest.
    {
        grpc::ClientContext context;
        bound(context, 10s);
        grpc::ByteBuffer response;
        std::promise<grpc::Status> done;
        generic.UnaryCall(&context, "/corun.service.v1.Corun/LoadModel", grpc::StubOptions(),
                          &request, &response,
                          [&](grpc::Status status) { done.set_value(status); });
        auto future = done.get_future();
        ASSERT_EQ(future.wait_for(15s), std::future_status::ready);
        const grpc::Status status = future.get();
        EXPECT_FALSE(status.ok());
        EXPECT_NE(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
    }
    // Streaming: garbage as the first message of a Session stream.
    {
        grpc::ClientContext context;
        bound(context, 10s);
        grpc::CompletionQueue queue;
        auto call = generic.PrepareCall(&context, "/corun.service.v1.Corun/Session", &queue);
        auto next = [&queue]() {
            void* tag = nullptr;
            bool ok = false;
            const auto status = queue.AsyncNext(&tag, &ok, std::chrono::system_clock::now() + 15s);
            return status == grpc::CompletionQueue::GOT_EVENT ? reinterpret_cast<intptr_t>(tag)
                                                              : intptr_t{-1};
        };
        call->StartCall(reinterpret_cast<void*>(1));
        EXPECT_EQ(next(), 1);
        call->WriteLast(request, grpc::WriteOptions(), reinterpret_cast<void*>(2));
        EXPECT_EQ(next(), 2);
        grpc::Status status;
        call->Finish(&status, reinterpret_cast<void*>(3));
        EXPECT_EQ(next(), 3);
        EXPECT_FALSE(status.ok());
        queue.Shutdown();
        void* tag = nullptr;
        bool ok = false;
        while (queue.Next(&tag, &ok)) {
        }
    }
    EXPECT_TRUE(daemon_process->alive());
    EXPECT_EQ(code_of(hello().status()), StatusCode::SUCCESS);
}

TEST_F(ServiceProtocolTest, OversizedMessagesAreRefusedAndTheDaemonLives) {
    const uint64_t session = open_session();
    // Over the limit but under gRPC's receive maximum: corund's own RESOURCE_LIMIT.
    {
        grpc::ClientContext context;
        bound(context);
        v1::LoadModelRequest request;
        request.set_session_id(session);
        request.set_name("big");
        request.set_onnx(std::string(MAX_MODEL_BYTES + 1000, 'x'));
        v1::LoadModelReply reply;
        ASSERT_TRUE(stub_->LoadModel(&context, request, &reply).ok());
        EXPECT_EQ(code_of(reply.status()), StatusCode::RESOURCE_LIMIT);
        EXPECT_TRUE(contains(reply.status().message(), "max_model_bytes"))
            << reply.status().message();
    }
    // Over gRPC's receive maximum: refused by gRPC before corund parses it.
    {
        grpc::ClientContext context;
        bound(context);
        v1::LoadModelRequest request;
        request.set_session_id(session);
        request.set_onnx(std::string(3 * MAX_MODEL_BYTES, 'x'));
        v1::LoadModelReply reply;
        const grpc::Status status = stub_->LoadModel(&context, request, &reply);
        EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
            << status.error_message();
    }
    EXPECT_TRUE(daemon_process->alive());
    EXPECT_EQ(code_of(hello().status()), StatusCode::SUCCESS);
}

TEST_F(ServiceProtocolTest, BadModelBytesGiveTheRuntimesError) {
    const uint64_t session = open_session();
    grpc::ClientContext context;
    bound(context);
    v1::LoadModelRequest request;
    request.set_session_id(session);
    request.set_name("not-onnx");
    request.set_onnx("this is not an ONNX model");
    v1::LoadModelReply reply;
    ASSERT_TRUE(stub_->LoadModel(&context, request, &reply).ok());
    EXPECT_EQ(code_of(reply.status()), StatusCode::INVALID_MODEL) << reply.status().message();
    EXPECT_TRUE(daemon_process->alive());
}

TEST_F(ServiceProtocolTest, BadSharedMemoryNamesAndSizesAreRefused) {
    const uint64_t session = open_session();
    for (const std::string name :
         {"/etc/passwd", "/corun.1.x", "corun.1.1", "/corun..1", "/corun.1.1/../../x", ""}) {
        v1::RegisterBufferReply reply = register_buffer(session, name, 64);
        EXPECT_EQ(code_of(reply.status()), StatusCode::INVALID_ARGUMENT) << name;
        EXPECT_TRUE(contains(reply.status().message(), "/corun.<pid>.<n>"))
            << reply.status().message();
    }
    EXPECT_EQ(code_of(register_buffer(session, "/corun.1.999999999", 64).status()),
              StatusCode::NOT_FOUND);
    Region region(256);
    v1::RegisterBufferReply zero = register_buffer(session, region.name(), 0);
    EXPECT_EQ(code_of(zero.status()), StatusCode::INVALID_ARGUMENT);
    v1::RegisterBufferReply too_big = register_buffer(session, region.name(), 4096);
    EXPECT_EQ(code_of(too_big.status()), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(too_big.status().message(), "256 bytes")) << too_big.status().message();
    v1::RegisterBufferReply over_limit = register_buffer(session, region.name(), uint64_t{1} << 40);
    EXPECT_EQ(code_of(over_limit.status()), StatusCode::RESOURCE_LIMIT);
}

TEST_F(ServiceProtocolTest, InferenceThroughSharedMemory) {
    const uint64_t session = open_session();
    const uint64_t model = configure_add_one(session);
    ASSERT_NE(model, 0u);
    Region region(4 * FRAME_BYTES);
    v1::RegisterBufferReply registered = register_buffer(session, region.name(), region.size());
    ASSERT_EQ(code_of(registered.status()), StatusCode::SUCCESS) << registered.status().message();
    region.unlink();  // as the client does: the mapping lives on in both processes
    const size_t count = FRAME_BYTES / sizeof(float);
    for (size_t i = 0; i < count; ++i) {
        region.floats()[i] = static_cast<float>(i);
        region.floats(2 * FRAME_BYTES)[i] = -static_cast<float>(i);
    }

    SessionStream stream(*stub_, session);
    v1::Completion done = stream.run(one_frame(7, model, registered.buffer_id(), 0, FRAME_BYTES));
    ASSERT_EQ(code_of(done.status()), StatusCode::SUCCESS) << done.status().message();
    for (size_t i = 0; i < count; ++i) {
        ASSERT_FLOAT_EQ(region.floats(FRAME_BYTES)[i], static_cast<float>(i) + 1.0f) << i;
    }
    // Two frames in one request (batch size 2).
    v1::InferRequest two = one_frame(8, model, registered.buffer_id(), 0, FRAME_BYTES);
    *two.add_frames() =
        one_frame(0, model, registered.buffer_id(), 2 * FRAME_BYTES, 3 * FRAME_BYTES).frames(0);
    done = stream.run(two);
    ASSERT_EQ(code_of(done.status()), StatusCode::SUCCESS) << done.status().message();
    EXPECT_FLOAT_EQ(region.floats(3 * FRAME_BYTES)[5], -4.0f);

    // The scheduler counts a job's frames once its worker has charged the device time, which
    // is after the job completed (and so after the client saw its completion): wait for it.
    v1::SchedulerStatsReply stats;
    const auto scheduler_stats = [&] {
        grpc::ClientContext stats_context;
        bound(stats_context);
        v1::SessionRequest stats_request;
        stats_request.set_session_id(session);
        stats.Clear();
        return stub_->SchedulerStats(&stats_context, stats_request, &stats).ok();
    };
    EXPECT_TRUE(test::wait_until([&] {
        return scheduler_stats() && stats.models_size() == 1 && stats.models(0).frames_done() == 3u;
    }));
    // The monitor sees the session and its model; the buffer cannot go while... it is idle now.
    const v1::MonitorSnapshot snapshot = monitor();
    EXPECT_GE(snapshot.sessions(), 1u);
    EXPECT_TRUE(contains(snapshot.source(), "corund"));
    bool listed = false;
    for (const auto& monitored : snapshot.models()) {
        if (monitored.model_id() != model) continue;
        listed = true;
        EXPECT_EQ(monitored.pid(), static_cast<uint32_t>(getpid()));
        EXPECT_EQ(monitored.frames_done(), 3u);
        EXPECT_GT(monitored.latency_p50_ms(), 0.0);
        EXPECT_EQ(monitored.queue_capacity(), 4u);
    }
    EXPECT_TRUE(listed);

    ASSERT_TRUE(scheduler_stats());
    ASSERT_EQ(stats.models_size(), 1);
    EXPECT_EQ(stats.models(0).model_id(), model);
    EXPECT_EQ(stats.models(0).frames_done(), 3u);

    grpc::ClientContext release_context;
    bound(release_context);
    v1::ReleaseBufferRequest release;
    release.set_session_id(session);
    release.set_buffer_id(registered.buffer_id());
    v1::Reply released;
    ASSERT_TRUE(stub_->ReleaseBuffer(&release_context, release, &released).ok());
    EXPECT_EQ(code_of(released.status()), StatusCode::SUCCESS) << released.status().message();
    done = stream.run(one_frame(9, model, registered.buffer_id(), 0, FRAME_BYTES));
    EXPECT_EQ(code_of(done.status()), StatusCode::NOT_FOUND);
}

TEST_F(ServiceProtocolTest, BadReferencesCompleteWithErrorsNamingTheProblem) {
    const uint64_t session = open_session();
    const uint64_t model = configure_add_one(session);
    const uint64_t other_session = open_session();
    const uint64_t other_model = configure_add_one(other_session, "other");
    Region region(2 * FRAME_BYTES);
    v1::RegisterBufferReply registered = register_buffer(session, region.name(), region.size());
    ASSERT_EQ(code_of(registered.status()), StatusCode::SUCCESS) << registered.status().message();
    const uint64_t buffer = registered.buffer_id();

    struct Case {
        std::string what;
        v1::InferRequest request;
        StatusCode code;
        std::string message_part;
    };
    std::vector<Case> cases;
    cases.push_back({"unknown buffer id", one_frame(1, model, buffer + 100, 0, FRAME_BYTES),
                     StatusCode::NOT_FOUND, "buffer_id " + std::to_string(buffer + 100)});
    cases.push_back({"offset past the end", one_frame(2, model, buffer, 2 * FRAME_BYTES, 0),
                     StatusCode::INVALID_ARGUMENT, "runs past the end"});
    cases.push_back({"offset + size overflowing uint64",
                     one_frame(3, model, buffer, std::numeric_limits<uint64_t>::max() - 10, 0),
                     StatusCode::INVALID_ARGUMENT, "overflows"});
    cases.push_back({"wrong size", one_frame(4, model, buffer, 0, FRAME_BYTES, FRAME_BYTES - 4),
                     StatusCode::INVALID_ARGUMENT, "exactly " + std::to_string(FRAME_BYTES)});
    v1::InferRequest too_few = one_frame(5, model, buffer, 0, FRAME_BYTES);
    too_few.mutable_frames(0)->clear_outputs();
    cases.push_back(
        {"too few references", too_few, StatusCode::INVALID_ARGUMENT, "0 output reference"});
    cases.push_back({"another session's model", one_frame(6, other_model, buffer, 0, FRAME_BYTES),
                     StatusCode::NOT_FOUND, "not a configured model of this session"});
    v1::InferRequest no_frames;
    no_frames.set_job_id(7);
    no_frames.set_model_id(model);
    cases.push_back({"no frames", no_frames, StatusCode::INVALID_ARGUMENT, "0 frame(s)"});
    v1::InferRequest too_many = one_frame(8, model, buffer, 0, FRAME_BYTES);
    for (int i = 0; i < 2; ++i) *too_many.add_frames() = too_many.frames(0);
    cases.push_back(
        {"more frames than the batch", too_many, StatusCode::INVALID_ARGUMENT, "batch size 2"});

    SessionStream stream(*stub_, session);
    for (const Case& bad : cases) {
        v1::Completion completion = stream.run(bad.request);
        EXPECT_EQ(code_of(completion.status()), bad.code) << bad.what;
        EXPECT_TRUE(contains(completion.status().message(), bad.message_part))
            << bad.what << ": " << completion.status().message();
    }
    // The stream still works after all of them.
    v1::Completion done = stream.run(one_frame(99, model, buffer, 0, FRAME_BYTES));
    EXPECT_EQ(code_of(done.status()), StatusCode::SUCCESS) << done.status().message();
    EXPECT_TRUE(daemon_process->alive());
}

// Touching pages cut off by ftruncate raises SIGBUS in corund; the fault guard maps zero pages
// over the region instead, and the frame fails with an error naming the region.
TEST_F(ServiceProtocolTest, ARegionShrunkAfterRegisteringFailsItsFramesAndTheDaemonLives) {
    const uint64_t session = open_session();
    const uint64_t model = configure_add_one(session, "shrunk");
    Region region(2 * FRAME_BYTES);
    v1::RegisterBufferReply registered = register_buffer(session, region.name(), region.size());
    ASSERT_EQ(code_of(registered.status()), StatusCode::SUCCESS) << registered.status().message();
    region.shrink_to(0);
    SessionStream stream(*stub_, session);
    v1::Completion faulted =
        stream.run(one_frame(1, model, registered.buffer_id(), 0, FRAME_BYTES));
    EXPECT_EQ(code_of(faulted.status()), StatusCode::INVALID_OPERATION);
    EXPECT_TRUE(contains(
        faulted.status().message(),
        region.name() + "' (" + std::to_string(2 * FRAME_BYTES) + " bytes registered) was shrunk"))
        << faulted.status().message();
    ASSERT_TRUE(daemon_process->alive());
    // Later references to it fail at once; a fresh region works on the same stream.
    v1::Completion again = stream.run(one_frame(2, model, registered.buffer_id(), 0, FRAME_BYTES));
    EXPECT_EQ(code_of(again.status()), StatusCode::INVALID_OPERATION);
    Region fresh(2 * FRAME_BYTES);
    v1::RegisterBufferReply replaced = register_buffer(session, fresh.name(), fresh.size());
    ASSERT_EQ(code_of(replaced.status()), StatusCode::SUCCESS) << replaced.status().message();
    fresh.floats()[0] = 41.0f;
    v1::Completion done = stream.run(one_frame(3, model, replaced.buffer_id(), 0, FRAME_BYTES));
    ASSERT_EQ(code_of(done.status()), StatusCode::SUCCESS) << done.status().message();
    EXPECT_FLOAT_EQ(fresh.floats(FRAME_BYTES)[0], 42.0f);
    EXPECT_TRUE(daemon_process->alive());
}

v1::Reply open_fast_lane(v1::Corun::Stub& stub, uint64_t session, uint64_t buffer) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 20s);
    v1::OpenFastLaneRequest request;
    request.set_session_id(session);
    request.set_buffer_id(buffer);
    v1::Reply reply;
    const grpc::Status status = stub.OpenFastLane(&context, request, &reply);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return reply;
}

// A raw client on the fast lane, writing the page as src/protocol/fast_lane.hpp lays it out.
class RawFastLane {
public:
    explicit RawFastLane(Region& region) : lane_(*reinterpret_cast<FastLane*>(region.floats())) {}

    v1::Completion run(const FastLaneRequest& request) {
        const uint32_t completed = lane_.completion_sequence.load();
        lane_.request = request;
        lane_.request_sequence.fetch_add(1);
        futex_wake(lane_.request_sequence);
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (std::chrono::steady_clock::now() < deadline) {
            const uint32_t current = lane_.completion_sequence.load();
            if (current != completed) return read_fast_lane_completion(lane_);
            futex_wait(lane_.completion_sequence, current, 50ms);
        }
        ADD_FAILURE() << "no fast-lane completion within 10 s for job " << request.job_id;
        return {};
    }

private:
    FastLane& lane_;
};

FastLaneRequest lane_frame(uint64_t job, uint64_t model, uint64_t buffer, uint64_t in_offset,
                           uint64_t out_offset, uint64_t size = FRAME_BYTES) {
    FastLaneRequest request{};
    request.job_id = job;
    request.model_id = model;
    request.input_count = 1;
    request.output_count = 1;
    request.references[0] = {buffer, in_offset, size};
    request.references[1] = {buffer, out_offset, FRAME_BYTES};
    return request;
}

TEST_F(ServiceProtocolTest, FastLaneRunsFramesAndRefusesBadOnesWithoutHarm) {
    const uint64_t session = open_session();
    const uint64_t model = configure_add_one(session, "lane");
    Region data(2 * FRAME_BYTES);
    Region lane_region(FAST_LANE_BYTES);
    Region small(64);
    const uint64_t data_id = register_buffer(session, data.name(), data.size()).buffer_id();
    const uint64_t lane_id =
        register_buffer(session, lane_region.name(), lane_region.size()).buffer_id();
    const uint64_t small_id = register_buffer(session, small.name(), small.size()).buffer_id();
    ASSERT_NE(lane_id, 0u);

    v1::Reply reply = open_fast_lane(*stub_, session, lane_id + 100);
    EXPECT_EQ(code_of(reply.status()), StatusCode::NOT_FOUND) << reply.status().message();
    reply = open_fast_lane(*stub_, session, small_id);
    EXPECT_EQ(code_of(reply.status()), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(reply.status().message(), "needs " + std::to_string(FAST_LANE_BYTES)))
        << reply.status().message();
    reply = open_fast_lane(*stub_, session, lane_id);
    ASSERT_EQ(code_of(reply.status()), StatusCode::SUCCESS) << reply.status().message();
    reply = open_fast_lane(*stub_, session, lane_id);
    EXPECT_EQ(code_of(reply.status()), StatusCode::INVALID_OPERATION);

    RawFastLane lane(lane_region);
    const size_t count = FRAME_BYTES / sizeof(float);
    for (size_t i = 0; i < count; ++i) data.floats()[i] = static_cast<float>(i);
    v1::Completion done = lane.run(lane_frame(1, model, data_id, 0, FRAME_BYTES));
    ASSERT_EQ(code_of(done.status()), StatusCode::SUCCESS) << done.status().message();
    EXPECT_EQ(done.job_id(), 1u);
    for (size_t i = 0; i < count; ++i) {
        ASSERT_FLOAT_EQ(data.floats(FRAME_BYTES)[i], static_cast<float>(i) + 1.0f) << i;
    }

    FastLaneRequest too_many = lane_frame(2, model, data_id, 0, FRAME_BYTES);
    too_many.input_count = 1000;
    done = lane.run(too_many);
    EXPECT_EQ(code_of(done.status()), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(done.status().message(), "at most 32")) << done.status().message();
    done = lane.run(lane_frame(3, model, data_id + 100, 0, FRAME_BYTES));
    EXPECT_EQ(code_of(done.status()), StatusCode::NOT_FOUND) << done.status().message();
    done = lane.run(lane_frame(4, model, data_id, FRAME_BYTES, 2 * FRAME_BYTES));
    EXPECT_EQ(code_of(done.status()), StatusCode::INVALID_ARGUMENT) << done.status().message();
    done = lane.run(lane_frame(5, model + 100, data_id, 0, FRAME_BYTES));
    EXPECT_EQ(code_of(done.status()), StatusCode::NOT_FOUND) << done.status().message();

    // Still serving, on the lane and on the stream.
    done = lane.run(lane_frame(6, model, data_id, 0, FRAME_BYTES));
    EXPECT_EQ(code_of(done.status()), StatusCode::SUCCESS) << done.status().message();
    SessionStream stream(*stub_, session);
    done = stream.run(one_frame(7, model, data_id, 0, FRAME_BYTES));
    EXPECT_EQ(code_of(done.status()), StatusCode::SUCCESS) << done.status().message();
    EXPECT_TRUE(daemon_process->alive());
}

// A raw client on the lane ring, writing entries as src/protocol/lane_ring.hpp lays them out.
class RawLaneRing {
public:
    explicit RawLaneRing(Region& region)
        : ring_(lane_ring_in(reinterpret_cast<uint8_t*>(region.floats()))) {}

    uint32_t next_sequence() const { return submitted_; }
    LaneRing& ring() { return ring_; }

    void submit(const LaneRingSubmission& entry) {
        ring_.submissions[submitted_ % LANE_RING_ENTRIES] = entry;
        ring_.submission_head.store(++submitted_, std::memory_order_seq_cst);
        ring_doorbell_if_sleeping(ring_.daemon_doorbell, ring_.daemon_sleeping);
    }

    // The next `count` completions, in the order corund published them.
    std::vector<v1::Completion> take(size_t count) {
        std::vector<v1::Completion> taken;
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (taken.size() < count && std::chrono::steady_clock::now() < deadline) {
            const uint32_t head = ring_.completion_head.load(std::memory_order_acquire);
            if (head == taken_) {
                futex_wait(ring_.client_doorbell, ring_.client_doorbell.load(), 5ms);
                continue;
            }
            taken.push_back(
                read_lane_ring_completion(ring_.completions[taken_ % LANE_RING_ENTRIES]));
            ring_.completion_tail.store(++taken_, std::memory_order_release);
        }
        EXPECT_EQ(taken.size(), count) << "lane-ring completions within 10 s";
        return taken;
    }

private:
    LaneRing& ring_;
    uint32_t submitted_ = 0;
    uint32_t taken_ = 0;
};

LaneRingSubmission ring_job(const RawLaneRing& ring, uint64_t job, uint64_t model, uint64_t buffer,
                            uint64_t in_offset, uint64_t out_offset) {
    LaneRingSubmission entry{};
    entry.sequence = ring.next_sequence();
    entry.frame_count = 1;
    entry.inputs_per_frame = 1;
    entry.outputs_per_frame = 1;
    entry.job_id = job;
    entry.model_id = model;
    entry.references[0] = {buffer, in_offset, FRAME_BYTES};
    entry.references[1] = {buffer, out_offset, FRAME_BYTES};
    return entry;
}

TEST_F(ServiceProtocolTest, LaneRingRunsJobsAndRefusesBadEntriesWithoutHarm) {
    const uint64_t session = open_session();
    const uint64_t model = configure_add_one(session, "ring");
    constexpr uint64_t JOBS = 4;  // the model's queue: 2 x batch 2
    Region data(2 * JOBS * FRAME_BYTES);
    Region lane_region(FAST_LANE_BYTES);
    const uint64_t data_id = register_buffer(session, data.name(), data.size()).buffer_id();
    const uint64_t lane_id =
        register_buffer(session, lane_region.name(), lane_region.size()).buffer_id();
    v1::Reply reply = open_fast_lane(*stub_, session, lane_id);
    ASSERT_EQ(code_of(reply.status()), StatusCode::SUCCESS) << reply.status().message();
    RawLaneRing ring(lane_region);
    const size_t count = FRAME_BYTES / sizeof(float);

    // Jobs in flight together, each with its own slot: inputs first, outputs after them.
    for (uint64_t job = 0; job < JOBS; ++job) {
        for (size_t i = 0; i < count; ++i) {
            data.floats(job * FRAME_BYTES)[i] = static_cast<float>(job * 100 + i);
        }
    }
    for (uint64_t job = 0; job < JOBS; ++job) {
        ring.submit(
            ring_job(ring, job + 1, model, data_id, job * FRAME_BYTES, (JOBS + job) * FRAME_BYTES));
    }
    std::vector<bool> seen(JOBS + 1, false);
    for (const v1::Completion& done : ring.take(JOBS)) {
        ASSERT_EQ(code_of(done.status()), StatusCode::SUCCESS) << done.status().message();
        ASSERT_GE(done.job_id(), 1u);
        ASSERT_LE(done.job_id(), JOBS);
        EXPECT_FALSE(seen[done.job_id()]) << "job " << done.job_id() << " completed twice";
        seen[done.job_id()] = true;
    }
    for (uint64_t job = 0; job < JOBS; ++job) {
        for (size_t i = 0; i < count; ++i) {
            ASSERT_FLOAT_EQ(data.floats((JOBS + job) * FRAME_BYTES)[i],
                            static_cast<float>(job * 100 + i) + 1.0f)
                << "job " << job + 1 << " value " << i;
        }
    }

    // Malformed entries, one at a time: each completes with its named error.
    auto refused = [&](LaneRingSubmission entry) {
        ring.submit(entry);
        auto taken = ring.take(1);
        EXPECT_EQ(taken.size(), 1u);
        if (taken.empty()) return v1::Completion{};
        EXPECT_EQ(taken.front().job_id(), entry.job_id);
        return taken.front();
    };
    LaneRingSubmission torn = ring_job(ring, 10, model, data_id, 0, FRAME_BYTES);
    torn.sequence += 1;
    v1::Completion done = refused(torn);
    EXPECT_EQ(code_of(done.status()), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(done.status().message(), "carries sequence number"))
        << done.status().message();
    LaneRingSubmission too_many = ring_job(ring, 11, model, data_id, 0, FRAME_BYTES);
    too_many.inputs_per_frame = 1000;
    done = refused(too_many);
    EXPECT_EQ(code_of(done.status()), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(done.status().message(), "at most 64")) << done.status().message();
    done = refused(ring_job(ring, 12, model, data_id + 100, 0, FRAME_BYTES));
    EXPECT_EQ(code_of(done.status()), StatusCode::NOT_FOUND) << done.status().message();
    done = refused(ring_job(ring, 13, model, data_id, 2 * JOBS * FRAME_BYTES, 0));
    EXPECT_EQ(code_of(done.status()), StatusCode::INVALID_ARGUMENT) << done.status().message();
    done = refused(ring_job(ring, 14, model + 100, data_id, 0, FRAME_BYTES));
    EXPECT_EQ(code_of(done.status()), StatusCode::NOT_FOUND) << done.status().message();
    LaneRingSubmission over_batch = ring_job(ring, 15, model, data_id, 0, FRAME_BYTES);
    over_batch.frame_count = 3;  // batch size 2
    for (int r = 2; r < 6; ++r) over_batch.references[r] = over_batch.references[r % 2];
    done = refused(over_batch);
    EXPECT_EQ(code_of(done.status()), StatusCode::INVALID_ARGUMENT) << done.status().message();

    // Still serving, on the ring and on the stream.
    ring.submit(ring_job(ring, 16, model, data_id, 0, FRAME_BYTES));
    auto taken = ring.take(1);
    ASSERT_EQ(taken.size(), 1u);
    EXPECT_EQ(code_of(taken.front().status()), StatusCode::SUCCESS)
        << taken.front().status().message();
    SessionStream stream(*stub_, session);
    done = stream.run(one_frame(17, model, data_id, 0, FRAME_BYTES));
    EXPECT_EQ(code_of(done.status()), StatusCode::SUCCESS) << done.status().message();

    // A head no client can write: the ring closes and says why as job 0; corund lives on.
    ring.ring().submission_head.store(ring.next_sequence() + LANE_RING_ENTRIES + 1,
                                      std::memory_order_seq_cst);
    ring_doorbell_if_sleeping(ring.ring().daemon_doorbell, ring.ring().daemon_sleeping);
    taken = ring.take(1);
    ASSERT_EQ(taken.size(), 1u);
    EXPECT_EQ(taken.front().job_id(), 0u);
    EXPECT_EQ(code_of(taken.front().status()), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(taken.front().status().message(), "stops reading this session's ring"))
        << taken.front().status().message();
    done = stream.run(one_frame(18, model, data_id, 0, FRAME_BYTES));
    EXPECT_EQ(code_of(done.status()), StatusCode::SUCCESS) << done.status().message();
    EXPECT_TRUE(daemon_process->alive());
}

TEST_F(ServiceProtocolTest, QueuedFramesOverTheClientLimitAreRefused) {
    // The test daemon allows 16 frames queued or running per client.
    const uint64_t session = open_session();
    const uint64_t model = configure_add_one(session, "limited", 32);
    Region region(2 * FRAME_BYTES);
    v1::RegisterBufferReply registered = register_buffer(session, region.name(), region.size());
    ASSERT_EQ(code_of(registered.status()), StatusCode::SUCCESS);
    v1::InferRequest request = one_frame(1, model, registered.buffer_id(), 0, FRAME_BYTES);
    for (int i = 0; i < 16; ++i) *request.add_frames() = request.frames(0);
    SessionStream stream(*stub_, session);
    v1::Completion refused = stream.run(request);
    EXPECT_EQ(code_of(refused.status()), StatusCode::RESOURCE_LIMIT);
    EXPECT_TRUE(contains(refused.status().message(), "16")) << refused.status().message();
    request.mutable_frames()->RemoveLast();
    request.set_job_id(2);
    EXPECT_EQ(code_of(stream.run(request).status()), StatusCode::SUCCESS);
}

TEST_F(ServiceProtocolTest, ClosingTheStreamReleasesTheSession) {
    const uint64_t session = open_session();
    const uint64_t model = configure_add_one(session, "released-on-close");
    const uint32_t sessions_before = monitor().sessions();
    {
        SessionStream stream(*stub_, session);
        Region region(2 * FRAME_BYTES);
        v1::RegisterBufferReply registered = register_buffer(session, region.name(), region.size());
        ASSERT_EQ(code_of(registered.status()), StatusCode::SUCCESS);
        ASSERT_EQ(
            code_of(
                stream.run(one_frame(1, model, registered.buffer_id(), 0, FRAME_BYTES)).status()),
            StatusCode::SUCCESS);
        // Leave frames queued behind, then vanish as a killed client would (stream cancelled).
        for (uint64_t job = 2; job < 6; ++job) {
            stream.send(one_frame(job, model, registered.buffer_id(), 0, FRAME_BYTES));
        }
    }
    // Asked until released; 20 s only bounds a hang (a session never released), the time a
    // release takes is no test's business.
    const auto give_up = std::chrono::steady_clock::now() + 20s;
    uint32_t sessions = sessions_before;
    bool model_listed = true;
    while (std::chrono::steady_clock::now() < give_up) {
        const v1::MonitorSnapshot snapshot = monitor();
        sessions = snapshot.sessions();
        model_listed = false;
        for (const auto& monitored : snapshot.models())
            model_listed |= monitored.model_id() == model;
        if (sessions == sessions_before - 1 && !model_listed) break;
        std::this_thread::sleep_for(20ms);
    }
    EXPECT_EQ(sessions, sessions_before - 1);
    EXPECT_FALSE(model_listed);
    // The session is gone for good.
    EXPECT_EQ(code_of(register_buffer(session, "/corun.1.1", 64).status()), StatusCode::NOT_FOUND);
    EXPECT_TRUE(daemon_process->alive());
}

}  // namespace
}  // namespace corun::service
