// The client side of the multi-process service. Without a daemon: socket resolution, failing
// fast and clearly when none listens, shared-memory regions. Against the real corund
// (corund_process.hpp): the client's queue, shutdown, scheduler settings reaching the daemon,
// a daemon that stalls or dies and one that comes back, models released in the daemon, the
// daemon's limits. A protocol mismatch alone uses a stand-in (VersionMismatchService). Every
// wait is bounded.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <grpcpp/server_posix.h>

#include "corun_service.grpc.pb.h"
#include "corund_channel.hpp"
#include "corund_process.hpp"
#include "protocol/connection_admission.hpp"
#include "protocol/protocol_version.hpp"
#include "runtime/remote/service_socket.hpp"
#include "runtime/remote/shared_memory_region.hpp"
#include "test_support.hpp"

namespace corun::test {
namespace {

using namespace std::chrono_literals;

std::string temp_socket() {
    static std::atomic<int> counter{0};
    return "/tmp/corun-client-test-" + std::to_string(getpid()) + "-" +
           std::to_string(counter.fetch_add(1)) + ".sock";
}

VDeviceParams service_params(const std::string& socket) {
    VDeviceParams params;
    params.multi_process_service = true;
    params.service_socket = socket;
    params.group_id = unique_group("service");
    return params;
}

bool shm_name_exists(const std::string& name) {
    return std::filesystem::exists("/dev/shm" + name);
}

class ScopedEnvironment {
public:
    ScopedEnvironment(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        if (value) {
            setenv(name, value, 1);
        } else {
            unsetenv(name);
        }
    }
    ~ScopedEnvironment() {
        if (old_) {
            setenv(name_, old_->c_str(), 1);
        } else {
            unsetenv(name_);
        }
    }

private:
    const char* name_;
    std::optional<std::string> old_;
};

TEST(ServiceSocketTest, ParamsThenEnvironmentThenDefault) {
    VDeviceParams params;
    {
        ScopedEnvironment environment("CORUN_SERVICE_SOCKET", nullptr);
        EXPECT_EQ(service::resolve_service_socket(params), DEFAULT_SERVICE_SOCKET);
    }
    {
        ScopedEnvironment environment("CORUN_SERVICE_SOCKET", "");
        EXPECT_EQ(service::resolve_service_socket(params), DEFAULT_SERVICE_SOCKET);
    }
    {
        ScopedEnvironment environment("CORUN_SERVICE_SOCKET", "/tmp/from-env.sock");
        EXPECT_EQ(service::resolve_service_socket(params), "/tmp/from-env.sock");
        params.service_socket = "/tmp/from-params.sock";
        EXPECT_EQ(service::resolve_service_socket(params), "/tmp/from-params.sock");
    }
}

TEST(ServiceConnectionTest, NoDaemonFailsFastNamingTheSocket) {
    const std::string socket = temp_socket();
    // Fails fast without a timing: the cause named below is connect()'s own errno (ENOENT),
    // which it returns at once; a client that waited for the daemon would fail otherwise.
    auto vdevice = VDevice::create(service_params(socket));
    ASSERT_FALSE(vdevice.has_value());
    EXPECT_EQ(vdevice.status().code(), StatusCode::RPC_FAILED);
    const std::string& message = vdevice.status().message();
    EXPECT_TRUE(contains(message, "corund is not running at " + socket)) << message;
    EXPECT_TRUE(contains(message, "no such socket")) << message;
    EXPECT_TRUE(contains(message, "corund --socket " + socket)) << message;
    EXPECT_TRUE(contains(message, "CORUN_SERVICE_SOCKET")) << message;
}

TEST(ServiceConnectionTest, StaleSocketFileIsConnectionRefused) {
    // A socket file nobody listens on: what a daemon that was killed leaves behind.
    const std::string socket = temp_socket();
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strcpy(address.sun_path, socket.c_str());
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    close(fd);
    auto vdevice = VDevice::create(service_params(socket));  // connect()'s ECONNREFUSED, at once
    EXPECT_STATUS(vdevice, StatusCode::RPC_FAILED);
    EXPECT_TRUE(contains(vdevice.status().message(), "connection refused"))
        << vdevice.status().message();
    unlink(socket.c_str());
}

TEST(SharedMemoryRegionTest, CreatedMappedAndUnlinked) {
    ASSERT_OK_AND_ASSIGN(auto region, service::SharedMemoryRegion::create(4096));
    // "/corun.PID.N" (no std::regex: GCC 12 warns inside it under -fsanitize at -O2).
    const std::string prefix = "/corun." + std::to_string(getpid()) + ".";
    ASSERT_EQ(region.name().rfind(prefix, 0), 0u) << region.name();
    const std::string counter = region.name().substr(prefix.size());
    EXPECT_TRUE(!counter.empty() && counter.find_first_not_of("0123456789") == std::string::npos)
        << region.name();
    EXPECT_EQ(region.size(), 4096u);
    ASSERT_TRUE(shm_name_exists(region.name()));
    struct stat info {};
    ASSERT_EQ(stat(("/dev/shm" + region.name()).c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 0600, 0600u);  // the owner reads and writes
    EXPECT_EQ(info.st_mode & 0007, 0u);     // others have no access (mode 0660)
    region.data()[4095] = 42;
    region.unlink();
    EXPECT_FALSE(shm_name_exists(region.name()));
    EXPECT_EQ(region.data()[4095], 42);  // the mapping outlives the name
    region.unlink();                     // idempotent

    std::string name;
    {
        ASSERT_OK_AND_ASSIGN(auto other, service::SharedMemoryRegion::create(10));
        EXPECT_NE(other.name(), region.name());
        name = other.name();
        EXPECT_TRUE(shm_name_exists(name));
    }
    EXPECT_FALSE(shm_name_exists(name));  // the destructor unlinks a name still there
    EXPECT_STATUS(service::SharedMemoryRegion::create(0), StatusCode::INVALID_ARGUMENT);
}

// A stand-in that answers Hello with protocol version 99, and nothing else. The real corund
// speaks its own build's PROTOCOL_VERSION and has no way to speak another, so a mismatch
// cannot be caused with it; this double is for exactly that fault.
class VersionMismatchService final : public service::v1::Corun::Service {
public:
    grpc::Status Hello(grpc::ServerContext*, const service::v1::HelloRequest*,
                       service::v1::HelloReply* reply) override {
        reply->set_protocol_version(99);
        reply->set_daemon_version("9.9.9");
        return grpc::Status::OK;
    }
};

// Accepts one connection on `socket` as corund does (the admission line first) and hands it to
// `server`; the stand-in above then answers it.
std::thread admit_one_connection(const std::string& socket, grpc::Server* server, int& listener) {
    listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, socket.c_str(), sizeof(address.sun_path) - 1);
    EXPECT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(listen(listener, 4), 0);
    return std::thread([listener, server] {
        const int fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) return;
        service::write_admission(fd, service::ADMITTED_LINE);
        grpc::AddInsecureChannelFromFd(server, fd);
    });
}

TEST(ServiceConnectionTest, ProtocolMismatchNamesBothVersions) {
    const std::string socket = temp_socket();
    VersionMismatchService mismatching;
    grpc::ServerBuilder builder;
    builder.RegisterService(&mismatching);
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    ASSERT_NE(server, nullptr);
    int listener = -1;
    std::thread accepting = admit_one_connection(socket, server.get(), listener);
    auto vdevice = VDevice::create(service_params(socket));
    accepting.join();
    close(listener);
    EXPECT_STATUS(vdevice, StatusCode::PROTOCOL_MISMATCH);
    EXPECT_TRUE(contains(vdevice.status().message(), "version 99")) << vdevice.status();
    EXPECT_TRUE(contains(vdevice.status().message(),
                         "version " + std::to_string(service::PROTOCOL_VERSION)))
        << vdevice.status();
    server->Shutdown(std::chrono::system_clock::now() + 1s);
    unlink(socket.c_str());
}

using ServiceClientTest = CorundTest;

// The daemon's scheduler stats of `model_id`, asked through `vdevice` (SchedulerStats).
std::optional<ScheduledModelStats> daemon_stats(VDevice& vdevice, uint64_t model_id) {
    for (const auto& stats : vdevice.get_scheduler_stats()) {
        if (stats.model_id == model_id) return stats;
    }
    return std::nullopt;
}

// Whether corund comes to hold exactly one queued frame of `model_id`.
bool daemon_holds_one_queued_frame(VDevice& vdevice, uint64_t model_id) {
    return test::wait_until([&] {
        auto stats = daemon_stats(vdevice, model_id);
        return stats && stats->frames_queued == 1;
    });
}

// What `corun monitor` sees: the daemon's Monitor through the raw stub, on a connection of
// its own.
service::v1::MonitorSnapshot monitor(const std::string& socket) {
    auto stub = service::v1::Corun::NewStub(test::corund_channel(socket));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 5s);
    service::v1::MonitorSnapshot snapshot;
    const grpc::Status status = stub->Monitor(&context, service::v1::MonitorRequest(), &snapshot);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return snapshot;
}

struct AddOneBuffers {
    std::vector<float> input = std::vector<float>(48, 1.5f);
    std::vector<float> output = std::vector<float>(48, 0.0f);
};

Expected<ConfiguredInferModel::Bindings> bind(ConfiguredInferModel& configured,
                                              AddOneBuffers& buffers) {
    return configured.create_bindings(
        {{"x", MemoryView::of(buffers.input)}, {"y", MemoryView::of(buffers.output)}});
}

TEST_F(ServiceClientTest, QueueIsFullFromTheClientsQueue) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params()));
    ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(test_model("add_one.onnx")));
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    ASSERT_OK_AND_ASSIGN(size_t queue_size, configured.get_async_queue_size());
    ASSERT_EQ(queue_size, 2u);
    AddOneBuffers buffers;
    ASSERT_OK_AND_ASSIGN(auto bindings, bind(configured, buffers));
    // A stalled daemon (SIGSTOP) completes nothing, so the client's own count fills the queue.
    // Resumed before anything above is destroyed, also when an assertion returns early.
    daemon_->pause();
    struct Resume {
        CorundProcess& daemon;
        ~Resume() { daemon.resume(); }
    } resume{*daemon_};
    ASSERT_OK_AND_ASSIGN(auto first, configured.run_async(bindings));
    ASSERT_OK_AND_ASSIGN(auto second, configured.run_async(bindings));
    EXPECT_STATUS(configured.run_async(bindings), StatusCode::QUEUE_IS_FULL);
    EXPECT_STATUS(configured.wait_for_async_ready(50ms), StatusCode::TIMEOUT);
    EXPECT_EQ(configured.get_frames_in_flight().value(), 2u);
    daemon_->resume();
    EXPECT_OK(first.wait(5000ms));
    EXPECT_OK(second.wait(5000ms));
    EXPECT_OK(configured.wait_for_async_ready(5000ms));
    EXPECT_EQ(buffers.output[0], 2.5f);
}

TEST_F(ServiceClientTest, ShutdownCompletesQueuedFramesWithShutdown) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params()));
    ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(test_model("add_one.onnx")));
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    // Threshold 2 without a timeout: the daemon's scheduler keeps a lone frame queued.
    ASSERT_OK(configured.set_scheduler_threshold(2));
    AddOneBuffers buffers;
    ASSERT_OK_AND_ASSIGN(auto bindings, bind(configured, buffers));
    ASSERT_OK_AND_ASSIGN(auto job, configured.run_async(bindings));
    const uint64_t id = configured.scheduler_model_id();
    EXPECT_TRUE(daemon_holds_one_queued_frame(*vdevice, id));
    EXPECT_STATUS(job.wait(100ms), StatusCode::TIMEOUT);
    ASSERT_OK(configured.shutdown());
    EXPECT_STATUS(job.wait(5000ms), StatusCode::SHUTDOWN);
    EXPECT_STATUS(configured.run_async(bindings), StatusCode::SHUTDOWN);
    EXPECT_EQ(configured.get_frames_in_flight().value(), 0u);
    EXPECT_EQ(buffers.output[0], 0.0f);  // never ran
}

TEST_F(ServiceClientTest, SchedulerSettingsReachTheDaemon) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params()));
    ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(test_model("add_one.onnx")));
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    const uint64_t id = configured.scheduler_model_id();
    EXPECT_STATUS(configured.set_scheduler_priority(32), StatusCode::INVALID_ARGUMENT);
    EXPECT_STATUS(configured.set_scheduler_threshold(0), StatusCode::INVALID_ARGUMENT);
    EXPECT_STATUS(configured.set_scheduler_threshold(3), StatusCode::INVALID_ARGUMENT);
    for (uint32_t priority : {20u, 31u, 0u}) {
        ASSERT_OK(configured.set_scheduler_priority(priority));
        auto stats = daemon_stats(*vdevice, id);
        ASSERT_TRUE(stats.has_value());
        EXPECT_EQ(stats->priority, priority);
    }
    // Threshold 2 with a 5 ms timeout: a lone frame runs once the timeout reached the daemon.
    ASSERT_OK(configured.set_scheduler_threshold(2));
    ASSERT_OK(configured.set_scheduler_timeout(5ms));
    AddOneBuffers buffers;
    ASSERT_OK_AND_ASSIGN(auto bindings, bind(configured, buffers));
    ASSERT_OK(configured.run(bindings, 5000ms));
    EXPECT_EQ(buffers.output[0], 2.5f);
}

TEST_F(ServiceClientTest, KilledDaemonFailsPendingAndLaterCallsThenRestartReconnects) {
    const auto group = params();
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(group));
    ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(test_model("add_one.onnx")));
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    ASSERT_OK(configured.set_scheduler_threshold(2));  // the frame stays queued in the daemon
    AddOneBuffers buffers;
    ASSERT_OK_AND_ASSIGN(auto bindings, bind(configured, buffers));
    ASSERT_OK_AND_ASSIGN(auto job, configured.run_async(bindings));
    const uint64_t id = configured.scheduler_model_id();
    EXPECT_TRUE(daemon_holds_one_queued_frame(*vdevice, id));

    daemon_->kill_now();  // kill -9
    // Each call below has a deadline far beyond a passing run: a client that missed the death
    // would end in TIMEOUT (or hang until the limit), not in RPC_FAILED naming the daemon.
    const Status pending = job.wait(test::WAIT_LIMIT);
    EXPECT_EQ(pending.code(), StatusCode::RPC_FAILED) << pending;
    EXPECT_TRUE(contains(pending.message(), "went away")) << pending;
    EXPECT_TRUE(contains(pending.message(), daemon_->socket())) << pending;
    const Status later = configured.run(bindings, test::WAIT_LIMIT);
    EXPECT_EQ(later.code(), StatusCode::RPC_FAILED) << later;
    EXPECT_STATUS(configured.set_scheduler_priority(3), StatusCode::RPC_FAILED);
    EXPECT_STATUS(vdevice->create_infer_model(test_model("add_one.onnx")), StatusCode::RPC_FAILED);
    EXPECT_TRUE(vdevice->get_scheduler_stats().empty());

    // corund is back on the same socket: a new VDevice of the same group connects afresh.
    ASSERT_TRUE(daemon_->start());
    ASSERT_OK_AND_ASSIGN(auto again, VDevice::create(group));
    EXPECT_FALSE(again->shares_devices_with(*vdevice));
    ASSERT_OK_AND_ASSIGN(auto model_again, again->create_infer_model(test_model("add_one.onnx")));
    ASSERT_OK_AND_ASSIGN(auto configured_again, model_again->configure());
    ASSERT_OK_AND_ASSIGN(auto bindings_again, bind(configured_again, buffers));
    ASSERT_OK(configured_again.run(bindings_again, 5000ms));
    EXPECT_EQ(buffers.output[0], 2.5f);
}

// The frames of `model_id` that corund counted, and those of them that came on the fast lane.
std::pair<uint64_t, uint64_t> monitored_frames(const std::string& socket, uint64_t model_id) {
    const service::v1::MonitorSnapshot snapshot = monitor(socket);
    for (const auto& model : snapshot.models()) {
        if (model.model_id() == model_id) return {model.frames_done(), model.fast_lane_frames()};
    }
    return {0, 0};
}

// Async frames take the lane ring (the lane's region, after its page): corund counts them with
// the lane's as frames that came through shared memory.
TEST_F(ServiceClientTest, SyncRunsTakeTheFastLaneAndAsyncOnesTheRing) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params()));
    ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(test_model("add_one.onnx")));
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    AddOneBuffers buffers;
    ASSERT_OK_AND_ASSIGN(auto bindings, bind(configured, buffers));
    for (int i = 0; i < 5; ++i) {
        buffers.input.assign(48, static_cast<float>(i));
        ASSERT_OK(configured.run(bindings, 5000ms));
        ASSERT_EQ(buffers.output[47], static_cast<float>(i) + 1.0f) << i;
    }
    for (int i = 0; i < 3; ++i) {
        ASSERT_OK_AND_ASSIGN(auto job, configured.run_async(bindings));
        ASSERT_OK(job.wait(5000ms));
    }
    const uint64_t id = configured.scheduler_model_id();
    std::pair<uint64_t, uint64_t> frames;
    EXPECT_TRUE(test::wait_until([&] {
        frames = monitored_frames(daemon_->socket(), id);
        return frames.first == 8;
    })) << frames.first;
    EXPECT_EQ(frames.second, 8u);
}

// Many async jobs through the ring, several frames each and the client's queue full: every
// callback runs once, with its own job's outputs.
TEST_F(ServiceClientTest, AsyncJobsThroughTheRingCompleteOnceWithTheirOwnOutputs) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params()));
    ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(test_model("add_one.onnx")));
    ASSERT_OK(model->set_batch_size(2));
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    ASSERT_OK_AND_ASSIGN(size_t queue_size, configured.get_async_queue_size());
    constexpr int ROUNDS = 40;
    const size_t per_round = queue_size / 2;  // jobs of 2 frames fill the queue
    std::vector<AddOneBuffers> buffers(2 * per_round);
    std::vector<ConfiguredInferModel::Bindings> bindings;
    for (auto& frame : buffers) {
        ASSERT_OK_AND_ASSIGN(auto bound, bind(configured, frame));
        bindings.push_back(std::move(bound));
    }
    std::vector<std::atomic<int>> calls(ROUNDS * per_round);
    std::atomic<int> wrong{0};
    for (int round = 0; round < ROUNDS; ++round) {
        std::vector<AsyncInferJob> jobs;
        for (size_t j = 0; j < per_round; ++j) {
            const size_t index = static_cast<size_t>(round) * per_round + j;
            for (size_t f = 0; f < 2; ++f) {
                buffers[2 * j + f].input.assign(48, static_cast<float>(index * 2 + f));
                buffers[2 * j + f].output.assign(48, -1.0f);
            }
            std::vector<ConfiguredInferModel::Bindings> pair = {bindings[2 * j],
                                                                bindings[2 * j + 1]};
            ASSERT_OK_AND_ASSIGN(
                auto job,
                configured.run_async(pair, [&, index](const AsyncInferCompletionInfo& info) {
                    if (!info.status.is_ok()) wrong.fetch_add(1);
                    calls[index].fetch_add(1);
                }));
            jobs.push_back(std::move(job));
        }
        for (auto& job : jobs) ASSERT_OK(job.wait(30000ms));
        for (size_t j = 0; j < per_round; ++j) {
            const size_t index = static_cast<size_t>(round) * per_round + j;
            for (size_t f = 0; f < 2; ++f) {
                ASSERT_EQ(buffers[2 * j + f].output,
                          std::vector<float>(48, static_cast<float>(index * 2 + f) + 1.0f))
                    << "job " << index << " frame " << f;
            }
        }
    }
    for (auto& count : calls) EXPECT_EQ(count.load(), 1);
    EXPECT_EQ(wrong.load(), 0);
    std::pair<uint64_t, uint64_t> frames;
    const uint64_t expected = 2 * ROUNDS * per_round;
    EXPECT_TRUE(test::wait_until([&] {
        frames = monitored_frames(daemon_->socket(), configured.scheduler_model_id());
        return frames.first == expected;
    })) << frames.first;
    EXPECT_EQ(frames.second, expected);  // all through shared memory
}

// Jobs waiting in corund when it dies complete once each with RPC_FAILED from the ring.
TEST_F(ServiceClientTest, AsyncJobsInTheRingFailOnceWhenTheDaemonDies) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params()));
    ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(test_model("add_one.onnx")));
    ASSERT_OK(model->set_batch_size(2));  // a queue of 4, so a threshold of 3 may be set
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    ASSERT_OK(configured.set_scheduler_threshold(3));  // two frames stay queued in the daemon
    std::vector<AddOneBuffers> buffers(2);
    std::atomic<int> calls{0};
    std::atomic<int> rpc_failed{0};
    std::vector<AsyncInferJob> jobs;
    for (auto& frame : buffers) {
        ASSERT_OK_AND_ASSIGN(auto bound, bind(configured, frame));
        ASSERT_OK_AND_ASSIGN(
            auto job, configured.run_async({bound}, [&](const AsyncInferCompletionInfo& info) {
                calls.fetch_add(1);
                if (info.status.code() == StatusCode::RPC_FAILED &&
                    contains(info.status.message(), "[lane ring]")) {
                    rpc_failed.fetch_add(1);
                }
            }));
        jobs.push_back(std::move(job));
    }
    EXPECT_TRUE(test::wait_until([&] {
        auto stats = daemon_stats(*vdevice, configured.scheduler_model_id());
        return stats && stats->frames_queued == 2;
    }));
    daemon_->kill_now();  // kill -9
    for (auto& job : jobs) EXPECT_STATUS(job.wait(30000ms), StatusCode::RPC_FAILED);
    EXPECT_EQ(calls.load(), 2);
    EXPECT_EQ(rpc_failed.load(), 2);
}

TEST_F(ServiceClientTest, WithTheFastLaneOffSyncRunsTakeTheStream) {
    std::unique_ptr<VDevice> vdevice;
    {
        ScopedEnvironment lane_off("CORUN_SERVICE_FAST_LANE", "0");
        ASSERT_OK_AND_ASSIGN(vdevice, VDevice::create(params()));
    }
    ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(test_model("add_one.onnx")));
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    AddOneBuffers buffers;
    ASSERT_OK_AND_ASSIGN(auto bindings, bind(configured, buffers));
    for (int i = 0; i < 3; ++i) ASSERT_OK(configured.run(bindings, 5000ms));
    EXPECT_EQ(buffers.output[0], 2.5f);
    std::pair<uint64_t, uint64_t> frames;
    EXPECT_TRUE(test::wait_until([&] {
        frames = monitored_frames(daemon_->socket(), configured.scheduler_model_id());
        return frames.first == 3;
    }));
    EXPECT_EQ(frames.second, 0u);
}

// A sync run() waits on the lane's futex, not on gRPC: it must still notice a dead daemon.
TEST_F(ServiceClientTest, SyncRunWaitingOnTheFastLaneFailsWhenTheDaemonDies) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params()));
    ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(test_model("add_one.onnx")));
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    ASSERT_OK(configured.set_scheduler_threshold(2));  // the frame stays queued in the daemon
    AddOneBuffers buffers;
    ASSERT_OK_AND_ASSIGN(auto bindings, bind(configured, buffers));
    Status waited;
    std::thread caller([&] { waited = configured.run(bindings, 30000ms); });
    const uint64_t id = configured.scheduler_model_id();
    EXPECT_TRUE(daemon_holds_one_queued_frame(*vdevice, id));
    daemon_->kill_now();  // kill -9
    caller.join();
    // Within run()'s 30 s limit, and not as its TIMEOUT: the lane noticed the death.
    EXPECT_EQ(waited.code(), StatusCode::RPC_FAILED) << waited;
    EXPECT_TRUE(contains(waited.message(), "fast lane")) << waited;
}

TEST_F(ServiceClientTest, SameGroupSharesTheConnectionAndDestroyingReleasesTheModel) {
    const auto group = params();
    ASSERT_OK_AND_ASSIGN(auto first, VDevice::create(group));
    ASSERT_OK_AND_ASSIGN(auto second, VDevice::create(group));
    EXPECT_TRUE(first->shares_devices_with(*second));
    uint64_t id = 0;
    {
        ASSERT_OK_AND_ASSIGN(auto model, first->create_infer_model(test_model("add_one.onnx")));
        ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
        id = configured.scheduler_model_id();
        EXPECT_TRUE(daemon_stats(*second, id).has_value());
        const auto snapshot = monitor(daemon_->socket());
        ASSERT_EQ(snapshot.models_size(), 1);
        EXPECT_EQ(snapshot.models(0).model_id(), id);
        EXPECT_EQ(snapshot.models(0).pid(), static_cast<uint32_t>(getpid()));
    }
    EXPECT_FALSE(daemon_stats(*second, id).has_value());
    EXPECT_EQ(monitor(daemon_->socket()).models_size(), 0);
}

// Issue 11: the new fixed-size types travel through corund as in-process, conversions done by
// the client; what varies per frame (strings, an unbound optional input) is refused by name.
TEST_F(ServiceClientTest, HalfAndBoolStreamsRunThroughCorund) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params()));
    ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(test_model("bool_mask.onnx")));
    EXPECT_EQ(model->input("mask")->native_format().type, FormatType::BOOL);
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    ASSERT_OK_AND_ASSIGN(auto bindings, configured.create_bindings());
    std::vector<float> x = {1, 2, 3, 4, 5, 6};
    std::vector<uint8_t> mask = {1, 0, 0, 1, 1, 0};
    std::vector<float> kept(6, -1.0f);
    std::vector<uint8_t> inverted(6, 7);
    ASSERT_OK(bindings.input("x")->set_buffer(MemoryView(x.data(), 24)));
    ASSERT_OK(bindings.input("mask")->set_buffer(MemoryView(mask.data(), 6)));
    ASSERT_OK(bindings.output("kept")->set_buffer(MemoryView(kept.data(), 24)));
    ASSERT_OK(bindings.output("inverted")->set_buffer(MemoryView(inverted.data(), 6)));
    ASSERT_OK(configured.run(bindings, 10s));
    EXPECT_EQ(kept, (std::vector<float>{1, 0, 0, 4, 5, 0}));
    EXPECT_EQ(inverted, (std::vector<uint8_t>{0, 1, 1, 0, 0, 1}));

    // The float16 model with FLOAT32 buffers gives through corund exactly what it gives
    // in-process: the client converts, corund runs the native halves.
    auto run_half = [](VDevice& device) {
        std::vector<float> y(32, -1.0f);
        auto half = device.create_infer_model(test_model("half_dense.onnx"));
        EXPECT_TRUE(half.has_value()) << half.status();
        if (!half) return y;
        (*half)->input()->set_format_type(FormatType::FLOAT32);
        (*half)->output()->set_format_type(FormatType::FLOAT32);
        auto half_configured = (*half)->configure();
        EXPECT_TRUE(half_configured.has_value()) << half_configured.status();
        if (!half_configured) return y;
        auto half_bindings = half_configured->create_bindings();
        std::vector<float> x(64);
        for (size_t i = 0; i < x.size(); ++i) x[i] = 0.25f * static_cast<float>(i % 7) - 0.5f;
        EXPECT_OK(half_bindings->input()->set_buffer(MemoryView(x.data(), 256)));
        EXPECT_OK(half_bindings->output()->set_buffer(MemoryView(y.data(), 128)));
        EXPECT_OK(half_configured->run(*half_bindings, 10s));
        return y;
    };
    ASSERT_OK_AND_ASSIGN(auto in_process, VDevice::create());
    const std::vector<float> local = run_half(*in_process);
    EXPECT_NE(local, std::vector<float>(32, -1.0f));
    EXPECT_EQ(run_half(*vdevice), local);
}

TEST_F(ServiceClientTest, StringsAndUnboundOptionalInputsAreRefusedThroughCorund) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params()));
    ASSERT_OK_AND_ASSIGN(auto strings,
                         vdevice->create_infer_model(test_model("string_upper.onnx")));
    auto refused = strings->configure();
    EXPECT_STATUS(refused, StatusCode::NOT_SUPPORTED);
    EXPECT_TRUE(contains(refused.status().message(), "run this model in-process"))
        << refused.status();

    ASSERT_OK_AND_ASSIGN(auto optional,
                         vdevice->create_infer_model(test_model("optional_bias.onnx")));
    ASSERT_OK_AND_ASSIGN(auto configured, optional->configure());
    ASSERT_OK_AND_ASSIGN(auto bindings, configured.create_bindings());
    std::vector<float> x = {1, 2, 3}, bias = {10, 20, 30}, y(3);
    ASSERT_OK(bindings.input("x")->set_buffer(MemoryView(x.data(), 12)));
    ASSERT_OK(bindings.output()->set_buffer(MemoryView(y.data(), 12)));
    auto unbound = configured.run(bindings, 10s);
    EXPECT_STATUS(unbound, StatusCode::NOT_SUPPORTED);
    EXPECT_TRUE(contains(unbound.message(), "optional input 'bias'")) << unbound;
    ASSERT_OK(bindings.input("bias")->set_buffer(MemoryView(bias.data(), 12)));
    ASSERT_OK(configured.run(bindings, 10s));
    EXPECT_EQ(y, (std::vector<float>{11, 22, 33}));
}

class LimitedCorundTest : public CorundTest {
protected:
    std::vector<std::string> daemon_args() const override {
        return {"--max-models-per-client", "1"};
    }
};

TEST_F(LimitedCorundTest, ModelCountLimitIsResourceLimitNamingIt) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params()));
    ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(test_model("add_one.onnx")));
    {
        ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
        // ConfigureModel of a second model over the limit.
        auto over = model->configure();
        EXPECT_STATUS(over, StatusCode::RESOURCE_LIMIT);
        EXPECT_TRUE(contains(over.status().message(), "1 configured models")) << over.status();
        EXPECT_TRUE(contains(over.status().message(), "max_models_per_client")) << over.status();
        // LoadModel of a second model too.
        auto loaded = vdevice->create_infer_model(test_model("add_one.onnx"));
        EXPECT_STATUS(loaded, StatusCode::RESOURCE_LIMIT);
        EXPECT_TRUE(contains(loaded.status().message(), "max_models_per_client"))
            << loaded.status();
    }
    // The released model frees its place.
    EXPECT_OK(model->configure());
}

}  // namespace
}  // namespace corun::test
