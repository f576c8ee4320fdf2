// The client side of the multi-process service without corund: socket resolution, failing
// fast and clearly when no daemon listens, shared-memory regions, and the runtime's remote
// path (run, run_async, format conversion, scheduler settings, shutdown, a daemon that goes
// away) against FakeCorund, a stand-in service in this process.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <regex>
#include <thread>

#include "fake_corund.hpp"
#include "service/client/service_socket.hpp"
#include "service/client/shared_memory_region.hpp"
#include "test_support.hpp"

namespace corun::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

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

// Names of this process's regions still in /dev/shm.
std::vector<std::string> leftover_regions() {
    std::vector<std::string> names;
    const std::string prefix = "corun." + std::to_string(getpid()) + ".";
    for (const auto& entry : std::filesystem::directory_iterator("/dev/shm")) {
        const std::string name = entry.path().filename();
        if (name.rfind(prefix, 0) == 0) names.push_back(name);
    }
    return names;
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

TEST(ServiceSocket, ParamsThenEnvironmentThenDefault) {
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

TEST(ServiceConnection, NoDaemonFailsFastNamingTheSocket) {
    const std::string socket = temp_socket();
    const auto started = Clock::now();
    auto vdevice = VDevice::create(service_params(socket));
    EXPECT_LT(Clock::now() - started, 2s);
    ASSERT_FALSE(vdevice.has_value());
    EXPECT_EQ(vdevice.status().code(), StatusCode::RPC_FAILED);
    const std::string& message = vdevice.status().message();
    EXPECT_TRUE(contains(message, "corund is not running at " + socket)) << message;
    EXPECT_TRUE(contains(message, "no such socket")) << message;
    EXPECT_TRUE(contains(message, "corund --socket " + socket)) << message;
    EXPECT_TRUE(contains(message, "CORUN_SERVICE_SOCKET")) << message;
}

TEST(ServiceConnection, StaleSocketFileIsConnectionRefused) {
    // A socket file nobody listens on: what a daemon that was killed leaves behind.
    const std::string socket = temp_socket();
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strcpy(address.sun_path, socket.c_str());
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    close(fd);
    const auto started = Clock::now();
    auto vdevice = VDevice::create(service_params(socket));
    EXPECT_LT(Clock::now() - started, 2s);
    EXPECT_STATUS(vdevice, StatusCode::RPC_FAILED);
    EXPECT_TRUE(contains(vdevice.status().message(), "connection refused"))
        << vdevice.status().message();
    unlink(socket.c_str());
}

TEST(SharedMemoryRegion, CreatedMappedAndUnlinked) {
    ASSERT_OK_AND_ASSIGN(auto region, service::SharedMemoryRegion::create(4096));
    EXPECT_TRUE(std::regex_match(region.name(),
                                 std::regex("/corun\\." + std::to_string(getpid()) + "\\.[0-9]+")))
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

TEST(ServiceConnection, ProtocolMismatchNamesBothVersions) {
    const std::string socket = temp_socket();
    FakeCorund daemon(socket);
    daemon.protocol_version = 99;
    ASSERT_TRUE(daemon.start());
    auto vdevice = VDevice::create(service_params(socket));
    EXPECT_STATUS(vdevice, StatusCode::PROTOCOL_MISMATCH);
    EXPECT_TRUE(contains(vdevice.status().message(), "version 99")) << vdevice.status();
    EXPECT_TRUE(contains(vdevice.status().message(),
                         "version " + std::to_string(service::PROTOCOL_VERSION)))
        << vdevice.status();
}

class FakeServiceTest : public ::testing::Test {
protected:
    void SetUp() override {
        socket_ = temp_socket();
        daemon_ = std::make_unique<FakeCorund>(socket_);
        ASSERT_TRUE(daemon_->start());
    }
    void TearDown() override { daemon_.reset(); }

    std::string socket_;
    std::unique_ptr<FakeCorund> daemon_;
};

TEST_F(FakeServiceTest, RunAddsOneAndLeavesNoRegionBehind) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(service_params(socket_)));
    ASSERT_EQ(vdevice->physical_devices().size(), 1u);
    EXPECT_EQ(vdevice->physical_devices()[0].id, "cpu:0");
    ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(test_model("add_one.onnx")));
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    EXPECT_EQ(configured.scheduler_model_id(), 100u);
    // The region was registered and its name unlinked at once.
    EXPECT_TRUE(leftover_regions().empty());

    std::vector<float> input(48), output(48, 0.0f);
    for (size_t i = 0; i < input.size(); ++i) input[i] = static_cast<float>(i);
    ASSERT_OK_AND_ASSIGN(
        auto bindings,
        configured.create_bindings({{"x", MemoryView::of(input)}, {"y", MemoryView::of(output)}}));
    ASSERT_OK(configured.run(bindings, 2000ms));
    for (size_t i = 0; i < input.size(); ++i) ASSERT_EQ(output[i], input[i] + 1.0f) << i;
    EXPECT_EQ(configured.get_frames_in_flight(), 0u);
}

TEST_F(FakeServiceTest, RunAsyncCompletesEveryJobWithItsOwnOutputs) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(service_params(socket_)));
    ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(test_model("add_one.onnx")));
    ASSERT_OK(model->set_batch_size(2));
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    ASSERT_OK_AND_ASSIGN(size_t queue_size, configured.get_async_queue_size());
    constexpr size_t jobs = 20;
    std::vector<std::vector<float>> inputs(jobs, std::vector<float>(48));
    std::vector<std::vector<float>> outputs(jobs, std::vector<float>(48));
    std::atomic<int> callbacks{0};
    std::vector<AsyncInferJob> pending;
    for (size_t j = 0; j < jobs; ++j) {
        for (auto& value : inputs[j]) value = static_cast<float>(j);
        ASSERT_OK_AND_ASSIGN(auto bindings,
                             configured.create_bindings({{"x", MemoryView::of(inputs[j])},
                                                         {"y", MemoryView::of(outputs[j])}}));
        ASSERT_OK(configured.wait_for_async_ready(2000ms));
        ASSERT_LE(configured.get_frames_in_flight(), queue_size);
        ASSERT_OK_AND_ASSIGN(
            auto job, configured.run_async(bindings, [&](const AsyncInferCompletionInfo& info) {
                EXPECT_OK(info.status);
                EXPECT_EQ(info.frames, 1u);
                EXPECT_EQ(info.timing.device_ns, 1000);
                ++callbacks;
            }));
        pending.push_back(std::move(job));
    }
    for (auto& job : pending) ASSERT_OK(job.wait(2000ms));
    EXPECT_EQ(callbacks.load(), static_cast<int>(jobs));
    for (size_t j = 0; j < jobs; ++j) {
        for (float value : outputs[j]) ASSERT_EQ(value, static_cast<float>(j) + 1.0f) << j;
    }
}

TEST_F(FakeServiceTest, QueueIsFullAsInProcess) {
    daemon_->hold_completions = true;
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(service_params(socket_)));
    ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(test_model("add_one.onnx")));
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    std::vector<float> input(48), output(48);
    ASSERT_OK_AND_ASSIGN(
        auto bindings,
        configured.create_bindings({{"x", MemoryView::of(input)}, {"y", MemoryView::of(output)}}));
    ASSERT_OK_AND_ASSIGN(auto first, configured.run_async(bindings));
    ASSERT_OK_AND_ASSIGN(auto second, configured.run_async(bindings));
    EXPECT_STATUS(configured.run_async(bindings), StatusCode::QUEUE_IS_FULL);
    EXPECT_STATUS(configured.wait_for_async_ready(50ms), StatusCode::TIMEOUT);
    // Shutdown: the daemon completes the queued frames with SHUTDOWN.
    ASSERT_OK(configured.shutdown());
    EXPECT_STATUS(first.wait(2000ms), StatusCode::SHUTDOWN);
    EXPECT_STATUS(second.wait(2000ms), StatusCode::SHUTDOWN);
    EXPECT_STATUS(configured.run_async(bindings), StatusCode::SHUTDOWN);
    EXPECT_EQ(configured.get_frames_in_flight(), 0u);
}

TEST_F(FakeServiceTest, FormatConversionOnTheClientMatchesInProcess) {
    auto run_uint8 = [](VDevice& vdevice, std::vector<uint8_t>& output) -> Status {
        CORUN_TRY(auto model, vdevice.create_infer_model(test_model("add_one.onnx")));
        model->inputs()[0].set_format_type(FormatType::UINT8);
        model->inputs()[0].set_format_order(FormatOrder::NHWC);
        model->outputs()[0].set_format_type(FormatType::UINT8);
        CORUN_TRY(auto configured, model->configure());
        std::vector<uint8_t> input(48);
        for (size_t i = 0; i < input.size(); ++i) input[i] = static_cast<uint8_t>(i * 5);
        output.assign(48, 0);
        CORUN_TRY(auto bindings, configured.create_bindings({{"x", MemoryView::of(input)},
                                                             {"y", MemoryView::of(output)}}));
        return configured.run(bindings, std::chrono::milliseconds(5000));
    };
    ASSERT_OK_AND_ASSIGN(auto remote, VDevice::create(service_params(socket_)));
    VDeviceParams local_params;
    local_params.group_id = unique_group("local");
    ASSERT_OK_AND_ASSIGN(auto local, VDevice::create(local_params));
    std::vector<uint8_t> remote_output, local_output;
    ASSERT_OK(run_uint8(*remote, remote_output));
    ASSERT_OK(run_uint8(*local, local_output));
    EXPECT_EQ(remote_output, local_output);
}

TEST_F(FakeServiceTest, SchedulerSettingsGoToTheDaemon) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(service_params(socket_)));
    ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(test_model("add_one.onnx")));
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    EXPECT_STATUS(configured.set_scheduler_priority(32), StatusCode::INVALID_ARGUMENT);
    ASSERT_OK(configured.set_scheduler_priority(20));
    EXPECT_EQ(daemon_->last_priority.load(), 20u);
    EXPECT_STATUS(configured.set_scheduler_threshold(0), StatusCode::INVALID_ARGUMENT);
}

TEST_F(FakeServiceTest, DaemonGoingAwayFailsPendingAndLaterCallsThenReconnects) {
    daemon_->hold_completions = true;
    auto params = service_params(socket_);
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params));
    ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(test_model("add_one.onnx")));
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    std::vector<float> input(48), output(48);
    ASSERT_OK_AND_ASSIGN(
        auto bindings,
        configured.create_bindings({{"x", MemoryView::of(input)}, {"y", MemoryView::of(output)}}));
    ASSERT_OK_AND_ASSIGN(auto job, configured.run_async(bindings));
    for (int i = 0; i < 200 && daemon_->jobs_received == 0; ++i) std::this_thread::sleep_for(5ms);

    daemon_->stop();
    auto started = Clock::now();
    const Status pending = job.wait(2000ms);
    EXPECT_EQ(pending.code(), StatusCode::RPC_FAILED) << pending;
    EXPECT_TRUE(contains(pending.message(), "went away")) << pending;
    EXPECT_TRUE(contains(pending.message(), socket_)) << pending;
    const Status later = configured.run(bindings, 10000ms);
    EXPECT_EQ(later.code(), StatusCode::RPC_FAILED) << later;
    EXPECT_LT(Clock::now() - started, 2s);
    EXPECT_STATUS(configured.set_scheduler_priority(3), StatusCode::RPC_FAILED);
    EXPECT_STATUS(vdevice->create_infer_model(test_model("add_one.onnx")), StatusCode::RPC_FAILED);
    EXPECT_TRUE(vdevice->get_scheduler_stats().empty());

    // The daemon is back: a new VDevice of the same group connects afresh.
    daemon_ = std::make_unique<FakeCorund>(socket_);
    ASSERT_TRUE(daemon_->start());
    ASSERT_OK_AND_ASSIGN(auto again, VDevice::create(params));
    EXPECT_FALSE(again->shares_devices_with(*vdevice));
    ASSERT_OK_AND_ASSIGN(auto model_again, again->create_infer_model(test_model("add_one.onnx")));
    ASSERT_OK_AND_ASSIGN(auto configured_again, model_again->configure());
    ASSERT_OK_AND_ASSIGN(auto bindings_again,
                         configured_again.create_bindings(
                             {{"x", MemoryView::of(input)}, {"y", MemoryView::of(output)}}));
    ASSERT_OK(configured_again.run(bindings_again, 2000ms));
    EXPECT_EQ(output[0], input[0] + 1.0f);
}

TEST_F(FakeServiceTest, SameGroupSameConnectionAndDestructionReleasesTheModel) {
    auto params = service_params(socket_);
    ASSERT_OK_AND_ASSIGN(auto first, VDevice::create(params));
    ASSERT_OK_AND_ASSIGN(auto second, VDevice::create(params));
    EXPECT_TRUE(first->shares_devices_with(*second));
    {
        ASSERT_OK_AND_ASSIGN(auto model, first->create_infer_model(test_model("add_one.onnx")));
        ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    }
    EXPECT_EQ(daemon_->models_released.load(), 1);
}

}  // namespace
}  // namespace corun::test
