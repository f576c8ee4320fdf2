// The multi-process service end to end: the real corund (CORUN_CORUND_PATH) on a temporary
// socket, used through the public API with multi_process_service = true exactly as in-process.
// Every wait is bounded.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "service/client/service_socket.hpp"
#include "test_support.hpp"

namespace corun::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// corund as a child process; killed (SIGKILL) and reaped by the destructor.
class Corund {
public:
    explicit Corund(std::string socket) : socket_(std::move(socket)) {}
    ~Corund() { kill_now(); }

    // Starts it and waits (at most 10 s) until it accepts connections.
    bool start() {
        unlink(socket_.c_str());
        pid_ = fork();
        if (pid_ == 0) {
            execl(CORUN_CORUND_PATH, CORUN_CORUND_PATH, "--socket", socket_.c_str(),
                  static_cast<char*>(nullptr));
            _exit(127);
        }
        const auto deadline = Clock::now() + 10s;
        while (Clock::now() < deadline) {
            if (service::probe_service_socket(socket_).empty()) return true;
            int status = 0;
            if (waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                return false;
            }
            std::this_thread::sleep_for(20ms);
        }
        return false;
    }
    void kill_now() {
        if (pid_ <= 0) return;
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

private:
    std::string socket_;
    pid_t pid_ = -1;
};

class ServiceEndToEndTest : public ::testing::Test {
protected:
    void SetUp() override {
        socket_ = "/tmp/corun-e2e-" + std::to_string(getpid()) + "-" + std::to_string(counter_++) +
                  ".sock";
        daemon_ = std::make_unique<Corund>(socket_);
        ASSERT_TRUE(daemon_->start()) << "corund did not start at " << socket_;
    }
    void TearDown() override {
        daemon_.reset();
        unlink(socket_.c_str());
    }
    VDeviceParams params() const {
        VDeviceParams params;
        params.multi_process_service = true;
        params.service_socket = socket_;
        params.group_id = unique_group("e2e");
        return params;
    }

    static inline std::atomic<int> counter_{0};
    std::string socket_;
    std::unique_ptr<Corund> daemon_;
};

Status bind_add_one(ConfiguredInferModel& configured, std::vector<float>& input,
                    std::vector<float>& output, ConfiguredInferModel::Bindings& bindings) {
    CORUN_TRY(bindings, configured.create_bindings(
                            {{"x", MemoryView::of(input)}, {"y", MemoryView::of(output)}}));
    return Status::ok();
}

TEST_F(ServiceEndToEndTest, RunAddsOne) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params()));
    EXPECT_FALSE(vdevice->physical_devices().empty());
    ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(test_model("add_one.onnx")));
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    std::vector<float> input(48), output(48);
    for (size_t i = 0; i < input.size(); ++i) input[i] = static_cast<float>(i) * 0.5f;
    ASSERT_OK_AND_ASSIGN(auto bindings, configured.create_bindings());
    ASSERT_OK(bind_add_one(configured, input, output, bindings));
    ASSERT_OK(configured.run(bindings, 5000ms));
    for (size_t i = 0; i < input.size(); ++i) ASSERT_EQ(output[i], input[i] + 1.0f) << i;
}

TEST_F(ServiceEndToEndTest, RunAsyncCompletesEveryJob) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params()));
    ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(test_model("add_one.onnx")));
    ASSERT_OK(model->set_batch_size(2));
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    constexpr size_t jobs = 16;
    std::vector<std::vector<float>> inputs(jobs, std::vector<float>(48));
    std::vector<std::vector<float>> outputs(jobs, std::vector<float>(48));
    std::atomic<int> callbacks{0};
    std::vector<AsyncInferJob> pending;
    for (size_t j = 0; j < jobs; ++j) {
        for (auto& value : inputs[j]) value = static_cast<float>(j);
        ASSERT_OK_AND_ASSIGN(auto bindings, configured.create_bindings());
        ASSERT_OK(bind_add_one(configured, inputs[j], outputs[j], bindings));
        ASSERT_OK(configured.wait_for_async_ready(5000ms));
        ASSERT_OK_AND_ASSIGN(auto job, configured.run_async(bindings, [&](const auto& info) {
            EXPECT_OK(info.status);
            ++callbacks;
        }));
        pending.push_back(std::move(job));
    }
    for (auto& job : pending) ASSERT_OK(job.wait(5000ms));
    EXPECT_EQ(callbacks.load(), static_cast<int>(jobs));
    for (size_t j = 0; j < jobs; ++j) {
        for (float value : outputs[j]) ASSERT_EQ(value, static_cast<float>(j) + 1.0f) << j;
    }
    bool listed = false;
    for (const auto& stats : vdevice->get_scheduler_stats()) {
        if (stats.model_id == configured.scheduler_model_id()) {
            listed = true;
            EXPECT_EQ(stats.frames_done, jobs);
        }
    }
    EXPECT_TRUE(listed);
}

// uint8 NHWC buffers on the float add_one, and the quantized model: the client converts, and
// the bytes equal those of the in-process path.
TEST_F(ServiceEndToEndTest, FormatConversionMatchesInProcess) {
    auto run_model = [](VDevice& vdevice, const std::string& file, bool uint8_user,
                        std::vector<uint8_t>& output) -> Status {
        CORUN_TRY(auto model, vdevice.create_infer_model(test_model(file)));
        if (uint8_user) {
            model->inputs()[0].set_format_type(FormatType::UINT8);
            model->inputs()[0].set_format_order(FormatOrder::NHWC);
            model->outputs()[0].set_format_type(FormatType::UINT8);
        } else {
            model->inputs()[0].set_format_type(FormatType::FLOAT32);
            model->outputs()[0].set_format_type(FormatType::FLOAT32);
        }
        CORUN_TRY(auto configured, model->configure());
        CORUN_TRY(auto bindings, configured.create_bindings());
        CORUN_TRY(auto in, bindings.input());
        CORUN_TRY(auto out, bindings.output());
        std::vector<uint8_t> input(in.frame_size());
        for (size_t i = 0; i < input.size(); ++i) input[i] = static_cast<uint8_t>(i * 7);
        if (!uint8_user) {
            auto* values = reinterpret_cast<float*>(input.data());
            for (size_t i = 0; i < input.size() / 4; ++i) values[i] = static_cast<float>(i) * 0.3f;
        }
        output.assign(out.frame_size(), 0);
        CORUN_RETURN_IF_ERROR(in.set_buffer(MemoryView::of(input)));
        CORUN_RETURN_IF_ERROR(out.set_buffer(MemoryView::of(output)));
        return configured.run(bindings, std::chrono::milliseconds(5000));
    };
    ASSERT_OK_AND_ASSIGN(auto remote, VDevice::create(params()));
    VDeviceParams local_params;
    local_params.group_id = unique_group("local");
    ASSERT_OK_AND_ASSIGN(auto local, VDevice::create(local_params));
    for (const auto& [file, uint8_user] : std::vector<std::pair<std::string, bool>>{
             {"add_one.onnx", true}, {"quantized.onnx", false}}) {
        std::vector<uint8_t> remote_output, local_output;
        ASSERT_OK(run_model(*remote, file, uint8_user, remote_output));
        ASSERT_OK(run_model(*local, file, uint8_user, local_output));
        EXPECT_EQ(remote_output, local_output) << file;
    }
}

TEST_F(ServiceEndToEndTest, PriorityOutOfRangeIsInvalidArgument) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params()));
    ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(test_model("add_one.onnx")));
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    EXPECT_STATUS(configured.set_scheduler_priority(32), StatusCode::INVALID_ARGUMENT);
    EXPECT_OK(configured.set_scheduler_priority(31));
    EXPECT_OK(configured.set_scheduler_threshold(2));
    EXPECT_OK(configured.set_scheduler_timeout(5ms));
}

TEST_F(ServiceEndToEndTest, ShutdownCompletesJobsInFlight) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params()));
    // slow_matmul keeps the device busy, so that later jobs are still queued at shutdown.
    ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(test_model("slow_matmul.onnx")));
    ASSERT_OK(model->set_batch_size(4));
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    ASSERT_OK_AND_ASSIGN(size_t queue_size, configured.get_async_queue_size());
    std::vector<std::vector<uint8_t>> buffers;
    std::vector<AsyncInferJob> jobs;
    for (size_t j = 0; j < queue_size; ++j) {
        ASSERT_OK_AND_ASSIGN(auto bindings, configured.create_bindings());
        for (const auto& name : configured.get_input_names()) {
            ASSERT_OK_AND_ASSIGN(auto stream, bindings.input(name));
            buffers.emplace_back(stream.frame_size());
            ASSERT_OK(stream.set_buffer(MemoryView::of(buffers.back())));
        }
        for (const auto& name : configured.get_output_names()) {
            ASSERT_OK_AND_ASSIGN(auto stream, bindings.output(name));
            buffers.emplace_back(stream.frame_size());
            ASSERT_OK(stream.set_buffer(MemoryView::of(buffers.back())));
        }
        ASSERT_OK_AND_ASSIGN(auto job, configured.run_async(bindings));
        jobs.push_back(std::move(job));
    }
    ASSERT_OK(configured.shutdown());
    size_t shut_down = 0;
    for (auto& job : jobs) {
        const Status status = job.wait(10000ms);
        EXPECT_TRUE(status.is_ok() || status.code() == StatusCode::SHUTDOWN) << status;
        shut_down += status.code() == StatusCode::SHUTDOWN;
    }
    EXPECT_GT(shut_down, 0u);
    EXPECT_EQ(configured.get_frames_in_flight(), 0u);
}

TEST_F(ServiceEndToEndTest, KilledDaemonGivesRpcFailedAndRestartReconnects) {
    const auto group = params();
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(group));
    ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(test_model("add_one.onnx")));
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    std::vector<float> input(48, 1.0f), output(48);
    ASSERT_OK_AND_ASSIGN(auto bindings, configured.create_bindings());
    ASSERT_OK(bind_add_one(configured, input, output, bindings));
    ASSERT_OK(configured.run(bindings, 5000ms));

    daemon_->kill_now();
    const auto killed = Clock::now();
    const Status after = configured.run(bindings, 10000ms);
    EXPECT_EQ(after.code(), StatusCode::RPC_FAILED) << after;
    EXPECT_LT(Clock::now() - killed, 2s);

    daemon_ = std::make_unique<Corund>(socket_);
    ASSERT_TRUE(daemon_->start());
    ASSERT_OK_AND_ASSIGN(auto again, VDevice::create(group));
    ASSERT_OK_AND_ASSIGN(auto model_again, again->create_infer_model(test_model("add_one.onnx")));
    ASSERT_OK_AND_ASSIGN(auto configured_again, model_again->configure());
    ASSERT_OK_AND_ASSIGN(auto bindings_again, configured_again.create_bindings());
    ASSERT_OK(bind_add_one(configured_again, input, output, bindings_again));
    ASSERT_OK(configured_again.run(bindings_again, 5000ms));
    EXPECT_EQ(output[0], 2.0f);
}

}  // namespace
}  // namespace corun::test
