// Asynchronous inference: run_async (single frames and bursts), completion callbacks and their
// order, AsyncInferJob, the async queue (wait_for_async_ready, QUEUE_IS_FULL), shutdown with
// jobs in flight, run() timeouts, and several client threads sharing one VDevice.
//
// Tests that need "a job that is still running" use a Blocker: a job whose completion callback
// waits for the test to release it. While it waits it holds its execution slot, so on a group
// with one slot everything queued behind it stays queued, deterministically.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "corun/corun.hpp"
#include "test_support.hpp"

namespace corun {
namespace {

using Bindings = ConfiguredInferModel::Bindings;
using test::contains;
using test::Counter;
using test::Gate;
using test::test_model;
using test::unique_group;
using namespace std::chrono_literals;

constexpr auto kTimeout = test::WAIT_LIMIT;

// One add_one frame: input, output (with a sentinel) and the bindings over them.
struct AddOneFrame {
    explicit AddOneFrame(float base) : input(48), output(48, kSentinel) {
        for (size_t i = 0; i < input.size(); ++i) input[i] = base + static_cast<float>(i);
    }
    Status bind(ConfiguredInferModel& configured) {
        auto created = configured.create_bindings(
            {{"x", MemoryView::of(input)}, {"y", MemoryView::of(output)}});
        if (!created) return created.status();
        bindings.emplace(created.release());
        return Status::ok();
    }
    bool is_correct() const {
        for (size_t i = 0; i < input.size(); ++i) {
            if (output[i] != input[i] + 1.0f) return false;
        }
        return true;
    }
    bool is_untouched() const {
        return std::all_of(output.begin(), output.end(), [](float v) { return v == kSentinel; });
    }

    static constexpr float kSentinel = -12345.0f;
    std::vector<float> input;
    std::vector<float> output;
    std::optional<Bindings> bindings;
};

// Holds one execution slot of a group: a job whose callback waits until release().
class Blocker {
public:
    explicit Blocker(ConfiguredInferModel configured) : configured_(std::move(configured)) {}
    ~Blocker() { release(); }

    // Returns once the job runs its callback (so the slot is taken).
    Status start() {
        CORUN_RETURN_IF_ERROR(frame_.bind(configured_));
        CORUN_TRY(job_, configured_.run_async(*frame_.bindings,
                                              [this](const AsyncInferCompletionInfo& info) {
                                                  status_ = info.status;
                                                  entered_.open();
                                                  released_.wait();
                                              }));
        if (!entered_.wait()) return Status(StatusCode::TIMEOUT, "the blocker never ran");
        return Status::ok();
    }
    void release() { released_.open(); }
    Status finish() {
        release();
        CORUN_RETURN_IF_ERROR(job_.wait(kTimeout));
        CORUN_RETURN_IF_ERROR(status_);
        return frame_.is_correct() ? Status::ok()
                                   : Status(StatusCode::INTERNAL_FAILURE, "wrong blocker output");
    }

private:
    ConfiguredInferModel configured_;
    AddOneFrame frame_{1000.0f};
    Gate entered_;
    Gate released_;
    Status status_{StatusCode::UNINITIALIZED, "the blocker's callback never ran"};
    AsyncInferJob job_;  // last: destroyed (and waited for) first
};

struct Group {
    std::unique_ptr<VDevice> vdevice;

    static Group make(const std::string& prefix, uint32_t slots, uint32_t threads = 1) {
        VDeviceParams params;
        params.group_id = unique_group(prefix);
        params.cpu.execution_slots = slots;
        params.cpu.intra_op_threads = threads;
        auto vdevice = VDevice::create(params);
        EXPECT_TRUE(vdevice.has_value()) << vdevice.status();
        return Group{vdevice.has_value() ? vdevice.release() : nullptr};
    }

    Expected<ConfiguredInferModel> configure(const std::string& name, uint16_t batch_size = 1) {
        if (!vdevice) return Status(StatusCode::UNINITIALIZED, "no vdevice");
        CORUN_TRY(auto model, vdevice->create_infer_model(test_model(name)));
        CORUN_RETURN_IF_ERROR(model->set_batch_size(batch_size));
        return model->configure();
    }
};

// ---- run_async basics ----

TEST(AsyncInferenceTest, SingleJobCallbackGetsSuccessAndTiming) {
    Group group = Group::make("single", 1);
    ASSERT_OK_AND_ASSIGN(auto configured, group.configure("add_one.onnx"));
    AddOneFrame frame(-20.0f);
    ASSERT_OK(frame.bind(configured));
    Counter calls;
    std::optional<AsyncInferCompletionInfo> seen;
    ASSERT_OK_AND_ASSIGN(
        auto job, configured.run_async(*frame.bindings, [&](const AsyncInferCompletionInfo& info) {
            seen.emplace(info);
            calls.add();
        }));
    ASSERT_OK(job.wait(kTimeout));
    EXPECT_TRUE(job.is_done());
    // The callback ran before wait() returned, exactly once.
    EXPECT_EQ(calls.count(), 1);
    ASSERT_TRUE(seen.has_value());
    EXPECT_TRUE(seen->status.is_ok()) << seen->status;
    EXPECT_EQ(seen->frames, 1u);
    const InferTiming& timing = seen->timing;
    EXPECT_GT(timing.device_ns, 0);
    EXPECT_GE(timing.queue_ns, 0);
    EXPECT_GE(timing.conversion_ns, 0);
    EXPECT_EQ(timing.total_ns, timing.queue_ns + timing.conversion_ns + timing.device_ns);
    EXPECT_TRUE(frame.is_correct());
    EXPECT_EQ(configured.get_frames_in_flight().value(), 0u);
    // Waiting again returns the same status.
    ASSERT_OK(job.wait(0ms));
}

TEST(AsyncInferenceTest, JobWithoutCallback) {
    Group group = Group::make("no-callback", 1);
    ASSERT_OK_AND_ASSIGN(auto configured, group.configure("add_one.onnx"));
    AddOneFrame frame(3.5f);
    ASSERT_OK(frame.bind(configured));
    ASSERT_OK_AND_ASSIGN(auto job, configured.run_async(*frame.bindings));
    ASSERT_OK(job.wait(kTimeout));
    EXPECT_TRUE(frame.is_correct());
}

TEST(AsyncInferenceTest, BurstRunsEveryFrameAsOneJob) {
    Group group = Group::make("burst", 1);
    ASSERT_OK_AND_ASSIGN(auto configured, group.configure("add_one.onnx", 4));
    ASSERT_OK_AND_ASSIGN(size_t queue_size, configured.get_async_queue_size());
    ASSERT_EQ(queue_size, 8u);
    std::vector<AddOneFrame> frames;
    for (int f = 0; f < 4; ++f) frames.emplace_back(100.0f * static_cast<float>(f));
    std::vector<Bindings> burst;
    for (auto& frame : frames) {
        ASSERT_OK(frame.bind(configured));
        burst.push_back(*frame.bindings);
    }
    Counter calls;
    uint32_t frames_seen = 0;
    Status status_seen(StatusCode::UNINITIALIZED, "not called");
    ASSERT_OK_AND_ASSIGN(auto job,
                         configured.run_async(burst, [&](const AsyncInferCompletionInfo& info) {
                             frames_seen = info.frames;
                             status_seen = info.status;
                             calls.add();
                         }));
    ASSERT_OK(job.wait(kTimeout));
    EXPECT_EQ(calls.count(), 1);
    EXPECT_EQ(frames_seen, 4u);
    EXPECT_TRUE(status_seen.is_ok()) << status_seen;
    for (int f = 0; f < 4; ++f) EXPECT_TRUE(frames[f].is_correct()) << "frame " << f;
}

TEST(AsyncInferenceTest, JobsCompleteInOrderOnOneSlot) {
    Group group = Group::make("in-order", 1);
    ASSERT_OK_AND_ASSIGN(auto configured, group.configure("add_one.onnx", 4));
    constexpr int kJobs = 24;
    std::vector<AddOneFrame> frames;
    for (int j = 0; j < kJobs; ++j) frames.emplace_back(10.0f * static_cast<float>(j));
    std::mutex order_mutex;
    std::vector<int> order;
    std::vector<AsyncInferJob> jobs;
    for (int j = 0; j < kJobs; ++j) {
        ASSERT_OK(frames[j].bind(configured));
        ASSERT_OK(configured.wait_for_async_ready(kTimeout));
        ASSERT_OK_AND_ASSIGN(
            auto job,
            configured.run_async(*frames[j].bindings, [&, j](const AsyncInferCompletionInfo& info) {
                EXPECT_TRUE(info.status.is_ok());
                std::lock_guard lock(order_mutex);
                order.push_back(j);
            }));
        jobs.push_back(std::move(job));
    }
    for (auto& job : jobs) ASSERT_OK(job.wait(kTimeout));
    std::vector<int> expected(kJobs);
    for (int j = 0; j < kJobs; ++j) expected[j] = j;
    EXPECT_EQ(order, expected);
    for (int j = 0; j < kJobs; ++j) EXPECT_TRUE(frames[j].is_correct()) << "job " << j;
}

// slow_matmul's output for one input, by a synchronous run.
std::vector<float> slow_reference(ConfiguredInferModel& configured, std::vector<float> input) {
    std::vector<float> output(512, 0.0f);
    auto bindings =
        configured.create_bindings({{"x", MemoryView::of(input)}, {"y", MemoryView::of(output)}});
    EXPECT_TRUE(bindings.has_value()) << bindings.status();
    if (bindings.has_value()) EXPECT_OK(configured.run(*bindings, kTimeout));
    return output;
}

std::vector<float> slow_input(int frame) {
    std::vector<float> input(512);
    for (int i = 0; i < 512; ++i) {
        input[i] = static_cast<float>(((i * 7 + frame * 13) % 29) - 14) / 7.0f;
    }
    return input;
}

TEST(AsyncInferenceTest, ShortJobOvertakesALongBurstOnTwoSlots) {
    Group group = Group::make("two-slots", 2);
    constexpr int kBurst = 32;  // frames of slow_matmul in one job: far longer than add_one
    ASSERT_OK_AND_ASSIGN(auto slow, group.configure("slow_matmul.onnx", kBurst));
    ASSERT_OK_AND_ASSIGN(auto fast, group.configure("add_one.onnx"));

    // Warm both sessions up, and keep the per-frame references.
    std::vector<std::vector<float>> inputs, outputs, references;
    for (int f = 0; f < kBurst; ++f) {
        inputs.push_back(slow_input(f));
        outputs.emplace_back(512, -99.0f);
    }
    for (int f = 0; f < 3; ++f) references.push_back(slow_reference(slow, inputs[f]));
    AddOneFrame warm_up(0.0f);
    ASSERT_OK(warm_up.bind(fast));
    ASSERT_OK(fast.run(*warm_up.bindings, kTimeout));

    std::vector<Bindings> burst;
    for (int f = 0; f < kBurst; ++f) {
        ASSERT_OK_AND_ASSIGN(auto bindings,
                             slow.create_bindings({{"x", MemoryView::of(inputs[f])},
                                                   {"y", MemoryView::of(outputs[f])}}));
        burst.push_back(std::move(bindings));
    }
    AddOneFrame frame(7.0f);
    ASSERT_OK(frame.bind(fast));

    std::mutex order_mutex;
    std::vector<std::string> order;
    std::vector<Status> statuses;
    auto record = [&](const std::string& name) {
        return [&, name](const AsyncInferCompletionInfo& info) {
            std::lock_guard lock(order_mutex);
            order.push_back(name);
            statuses.push_back(info.status);
        };
    };
    ASSERT_OK_AND_ASSIGN(auto slow_job, slow.run_async(burst, record("slow")));
    ASSERT_OK_AND_ASSIGN(auto fast_job, fast.run_async(*frame.bindings, record("fast")));
    ASSERT_OK(fast_job.wait(kTimeout));
    ASSERT_OK(slow_job.wait(kTimeout));

    EXPECT_EQ(order, (std::vector<std::string>{"fast", "slow"}));
    for (const auto& status : statuses) EXPECT_TRUE(status.is_ok()) << status;
    EXPECT_TRUE(frame.is_correct());
    for (int f = 0; f < 3; ++f) EXPECT_EQ(outputs[f], references[f]) << "frame " << f;
    for (int f = 0; f < kBurst; ++f) {
        // Every frame got its own result: tanh outputs, different for different inputs.
        EXPECT_TRUE(std::all_of(outputs[f].begin(), outputs[f].end(),
                                [](float v) { return v > -1.0f && v < 1.0f; }))
            << "frame " << f;
        if (f > 0) {
            EXPECT_NE(outputs[f], outputs[f - 1]) << "frame " << f;
        }
    }
}

TEST(AsyncInferenceTest, SecondSlotRunsWhileTheFirstIsHeld) {
    Group group = Group::make("held-two-slots", 2);
    ASSERT_OK_AND_ASSIGN(auto holder, group.configure("add_one.onnx"));
    ASSERT_OK_AND_ASSIGN(auto other, group.configure("two_in_two_out.onnx"));
    Blocker blocker(holder);
    ASSERT_OK(blocker.start());
    std::vector<float> a = {1, 2, 3, 4, 5, 6, 7, 8}, b(8, 2.0f), sum(8), product(8);
    ASSERT_OK_AND_ASSIGN(auto bindings,
                         other.create_bindings({{"a", MemoryView::of(a)},
                                                {"b", MemoryView::of(b)},
                                                {"sum", MemoryView::of(sum)},
                                                {"product", MemoryView::of(product)}}));
    ASSERT_OK_AND_ASSIGN(auto job, other.run_async(bindings));
    ASSERT_OK(job.wait(kTimeout));  // completes although the first slot is still held
    for (size_t i = 0; i < 8; ++i) {
        EXPECT_EQ(sum[i], a[i] + 2.0f);
        EXPECT_EQ(product[i], a[i] * 2.0f);
    }
    ASSERT_OK(blocker.finish());
}

// ---- AsyncInferJob ----

TEST(AsyncInferenceTest, EmptyAndMovedFromJobs) {
    AsyncInferJob empty;
    EXPECT_FALSE(empty.is_done());
    EXPECT_STATUS(empty.wait(1ms), StatusCode::INVALID_OPERATION);

    Group group = Group::make("moved", 1);
    ASSERT_OK_AND_ASSIGN(auto configured, group.configure("add_one.onnx"));
    AddOneFrame frame(1.0f);
    ASSERT_OK(frame.bind(configured));
    ASSERT_OK_AND_ASSIGN(auto job, configured.run_async(*frame.bindings));
    AsyncInferJob moved(std::move(job));
    EXPECT_STATUS(job.wait(1ms), StatusCode::INVALID_OPERATION);  // NOLINT: testing moved-from
    EXPECT_FALSE(job.is_done());
    ASSERT_OK(moved.wait(kTimeout));
    EXPECT_TRUE(moved.is_done());
    EXPECT_TRUE(frame.is_correct());

    AsyncInferJob assigned;
    assigned = std::move(moved);
    EXPECT_TRUE(assigned.is_done());
    ASSERT_OK(assigned.wait(0ms));
}

TEST(AsyncInferenceTest, WaitTimesOutWhileQueuedThenSucceeds) {
    Group group = Group::make("wait-timeout", 1);
    ASSERT_OK_AND_ASSIGN(auto holder, group.configure("add_one.onnx"));
    ASSERT_OK_AND_ASSIGN(auto configured, group.configure("add_one.onnx"));
    Blocker blocker(holder);
    ASSERT_OK(blocker.start());
    AddOneFrame frame(5.0f);
    ASSERT_OK(frame.bind(configured));
    ASSERT_OK_AND_ASSIGN(auto job, configured.run_async(*frame.bindings));
    const Status waited = job.wait(5ms);
    EXPECT_EQ(waited.code(), StatusCode::TIMEOUT) << waited;
    EXPECT_FALSE(job.is_done());
    EXPECT_TRUE(frame.is_untouched());
    EXPECT_EQ(configured.get_frames_in_flight().value(), 1u);
    ASSERT_OK(blocker.finish());
    ASSERT_OK(job.wait(kTimeout));
    EXPECT_TRUE(job.is_done());
    EXPECT_TRUE(frame.is_correct());
}

TEST(AsyncInferenceTest, DestructorWaitsForTheJob) {
    Group group = Group::make("destructor", 1);
    ASSERT_OK_AND_ASSIGN(auto holder, group.configure("add_one.onnx"));
    ASSERT_OK_AND_ASSIGN(auto configured, group.configure("add_one.onnx"));
    AddOneFrame frame(9.0f);
    ASSERT_OK(frame.bind(configured));
    std::atomic<bool> called{false};
    Blocker blocker(holder);
    ASSERT_OK(blocker.start());
    Gate armed;
    // Releases the slot once the main thread blocks in the job's destructor (were the destructor
    // not to wait, the main thread would not block, and `called` below would still be false).
    const pid_t main_thread = test::this_thread_id();
    std::jthread releaser([&] {
        if (armed.wait()) {
            EXPECT_TRUE(test::wait_until_blocked(main_thread));
        }
        blocker.release();
    });
    std::optional<AsyncInferJob> job;
    {
        auto submitted = configured.run_async(
            *frame.bindings, [&](const AsyncInferCompletionInfo&) { called = true; });
        ASSERT_TRUE(submitted.has_value()) << submitted.status();
        job.emplace(submitted.release());
    }
    EXPECT_FALSE(called.load());  // queued behind the blocker
    armed.open();
    job.reset();  // blocks until the job is done, callback included
    EXPECT_TRUE(called.load());
    EXPECT_TRUE(frame.is_correct());
}

TEST(AsyncInferenceTest, DetachedJobStillCompletes) {
    Group group = Group::make("detach", 1);
    ASSERT_OK_AND_ASSIGN(auto holder, group.configure("add_one.onnx"));
    ASSERT_OK_AND_ASSIGN(auto configured, group.configure("add_one.onnx"));
    AddOneFrame frame(-3.0f);
    ASSERT_OK(frame.bind(configured));
    Counter calls;
    Blocker blocker(holder);
    ASSERT_OK(blocker.start());
    {
        ASSERT_OK_AND_ASSIGN(
            auto job,
            configured.run_async(*frame.bindings, [&](const AsyncInferCompletionInfo& info) {
                EXPECT_TRUE(info.status.is_ok());
                calls.add();
            }));
        job.detach();
    }  // returns at once although the job cannot run yet
    EXPECT_EQ(calls.count(), 0);
    EXPECT_TRUE(frame.is_untouched());
    ASSERT_OK(blocker.finish());
    ASSERT_TRUE(calls.wait_for(1));
    ASSERT_OK(configured.wait_for_async_ready(kTimeout, 2));  // its frame was released
    EXPECT_EQ(calls.count(), 1);
    EXPECT_TRUE(frame.is_correct());
}

// ---- the async queue ----

TEST(AsyncInferenceTest, QueueFullTimesOutAndRefusesMore) {
    Group group = Group::make("queue-full", 1);
    ASSERT_OK_AND_ASSIGN(auto holder, group.configure("add_one.onnx"));
    ASSERT_OK_AND_ASSIGN(auto configured, group.configure("add_one.onnx"));
    ASSERT_OK_AND_ASSIGN(size_t queue_size, configured.get_async_queue_size());
    ASSERT_EQ(queue_size, 2u);

    // Impossible requests fail at once.
    const Status too_many = configured.wait_for_async_ready(kTimeout, 3);
    EXPECT_EQ(too_many.code(), StatusCode::INVALID_ARGUMENT) << too_many;
    EXPECT_TRUE(contains(too_many.message(), "3")) << too_many;
    EXPECT_STATUS(configured.wait_for_async_ready(kTimeout, 0), StatusCode::INVALID_ARGUMENT);
    ASSERT_OK(configured.wait_for_async_ready(0ms, 2));  // empty queue

    Blocker blocker(holder);
    ASSERT_OK(blocker.start());
    std::vector<AddOneFrame> frames;
    for (int f = 0; f < 3; ++f) frames.emplace_back(50.0f * static_cast<float>(f));
    for (auto& frame : frames) ASSERT_OK(frame.bind(configured));
    ASSERT_OK_AND_ASSIGN(auto first, configured.run_async(*frames[0].bindings));
    ASSERT_OK(configured.wait_for_async_ready(0ms, 1));  // one slot left
    EXPECT_STATUS(configured.wait_for_async_ready(1ms, 2), StatusCode::TIMEOUT);
    // A burst of two does not fit next to the first frame.
    EXPECT_STATUS(
        configured.run_async(std::vector<Bindings>{*frames[1].bindings, *frames[2].bindings}),
        StatusCode::QUEUE_IS_FULL);
    ASSERT_OK_AND_ASSIGN(auto second, configured.run_async(*frames[1].bindings));
    EXPECT_EQ(configured.get_frames_in_flight().value(), 2u);

    const Status timed_out = configured.wait_for_async_ready(1ms);
    EXPECT_EQ(timed_out.code(), StatusCode::TIMEOUT) << timed_out;
    auto refused = configured.run_async(*frames[2].bindings);
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.status().code(), StatusCode::QUEUE_IS_FULL);
    EXPECT_TRUE(contains(refused.status().message(), "wait_for_async_ready")) << refused.status();
    // A synchronous run cannot get in either: TIMEOUT, and its buffers stay untouched.
    EXPECT_STATUS(configured.run(*frames[2].bindings, 5ms), StatusCode::TIMEOUT);
    EXPECT_TRUE(frames[2].is_untouched());

    // A waiter blocks until the queue drains.
    std::atomic<bool> ready{false};
    Status waiter_status(StatusCode::UNINITIALIZED, "not returned");
    std::atomic<pid_t> waiter_id{0};
    std::jthread waiter([&] {
        waiter_id = test::this_thread_id();
        waiter_status = configured.wait_for_async_ready(kTimeout);
        ready = true;
    });
    ASSERT_TRUE(test::wait_until([&] { return waiter_id != 0; }));
    EXPECT_TRUE(test::wait_until_blocked(waiter_id));
    EXPECT_FALSE(ready.load());  // still full: the blocker holds the only slot
    ASSERT_OK(blocker.finish());
    waiter.join();
    EXPECT_TRUE(waiter_status.is_ok()) << waiter_status;
    ASSERT_OK(first.wait(kTimeout));
    ASSERT_OK(second.wait(kTimeout));
    ASSERT_OK(configured.wait_for_async_ready(0ms, 2));
    EXPECT_EQ(configured.get_frames_in_flight().value(), 0u);
    EXPECT_TRUE(frames[0].is_correct());
    EXPECT_TRUE(frames[1].is_correct());
    EXPECT_TRUE(frames[2].is_untouched());
}

// ---- run() timeouts ----

TEST(AsyncInferenceTest, RunTimesOutBehindALongQueueAndLeavesBuffersAlone) {
    Group group = Group::make("run-timeout", 1);
    ASSERT_OK_AND_ASSIGN(auto holder, group.configure("add_one.onnx"));
    ASSERT_OK_AND_ASSIGN(auto busy, group.configure("slow_matmul.onnx", 8));
    ASSERT_OK_AND_ASSIGN(auto configured, group.configure("add_one.onnx"));
    Blocker blocker(holder);
    ASSERT_OK(blocker.start());
    // A long queue in front: a burst of slow frames of another model.
    std::vector<std::vector<float>> slow_in(8, slow_input(1)), slow_out(8, std::vector<float>(512));
    std::vector<Bindings> burst;
    for (int f = 0; f < 8; ++f) {
        ASSERT_OK_AND_ASSIGN(auto bindings,
                             busy.create_bindings({{"x", MemoryView::of(slow_in[f])},
                                                   {"y", MemoryView::of(slow_out[f])}}));
        burst.push_back(std::move(bindings));
    }
    ASSERT_OK_AND_ASSIGN(auto slow_job, busy.run_async(burst));

    AddOneFrame frame(2.0f);
    ASSERT_OK(frame.bind(configured));
    const Status timed_out = configured.run(*frame.bindings, 2ms);
    EXPECT_EQ(timed_out.code(), StatusCode::TIMEOUT) << timed_out;
    EXPECT_TRUE(contains(timed_out.message(), "cancelled")) << timed_out;
    EXPECT_TRUE(frame.is_untouched());
    EXPECT_EQ(configured.get_frames_in_flight().value(), 0u);  // the cancelled frame is released

    // Let everything run, then one more job behind the cancelled one: when it is done, the
    // cancelled request has long left the queue, and must not have written its buffers.
    ASSERT_OK(blocker.finish());
    ASSERT_OK(slow_job.wait(kTimeout));
    AddOneFrame after(4.0f);
    ASSERT_OK(after.bind(configured));
    ASSERT_OK(configured.run(*after.bindings, kTimeout));
    EXPECT_TRUE(after.is_correct());
    EXPECT_TRUE(frame.is_untouched());
    // The same bindings work normally afterwards.
    ASSERT_OK(configured.run(*frame.bindings, kTimeout));
    EXPECT_TRUE(frame.is_correct());
}

// ---- shutdown ----

TEST(AsyncInferenceTest, ShutdownCancelsQueuedJobsAndFinishesRunningOnes) {
    Group group = Group::make("shutdown", 1);
    ASSERT_OK_AND_ASSIGN(auto configured, group.configure("add_one.onnx", 4));
    ASSERT_OK_AND_ASSIGN(auto neighbour, group.configure("add_one.onnx"));

    // The running job: its callback holds the only slot until released.
    AddOneFrame running_frame(0.0f);
    ASSERT_OK(running_frame.bind(configured));
    Gate entered, release;
    std::atomic<int> running_calls{0};
    Status running_status(StatusCode::UNINITIALIZED, "not called");
    ASSERT_OK_AND_ASSIGN(
        auto running_job,
        configured.run_async(*running_frame.bindings, [&](const AsyncInferCompletionInfo& info) {
            running_status = info.status;
            ++running_calls;
            entered.open();
            release.wait();
        }));
    ASSERT_TRUE(entered.wait());

    // Queued jobs of this model, and one of a neighbour model on the same device.
    constexpr int kQueued = 3;
    std::vector<AddOneFrame> frames;
    for (int j = 0; j < kQueued; ++j) frames.emplace_back(10.0f * static_cast<float>(j + 1));
    std::array<std::atomic<int>, kQueued> calls{};
    std::array<Status, kQueued> statuses;
    Counter cancelled;
    std::vector<AsyncInferJob> jobs;
    for (int j = 0; j < kQueued; ++j) {
        ASSERT_OK(frames[j].bind(configured));
        ASSERT_OK_AND_ASSIGN(
            auto job,
            configured.run_async(*frames[j].bindings, [&, j](const AsyncInferCompletionInfo& info) {
                statuses[j] = info.status;
                ++calls[j];
                cancelled.add();
            }));
        jobs.push_back(std::move(job));
    }
    AddOneFrame neighbour_frame(77.0f);
    ASSERT_OK(neighbour_frame.bind(neighbour));
    ASSERT_OK_AND_ASSIGN(auto neighbour_job, neighbour.run_async(*neighbour_frame.bindings));

    // shutdown() blocks until the running job is finished, so call it on another thread.
    Status shutdown_status(StatusCode::UNINITIALIZED, "not returned");
    std::atomic<bool> shutdown_returned{false};
    std::atomic<pid_t> closer_id{0};
    std::jthread closer([&] {
        closer_id = test::this_thread_id();
        shutdown_status = configured.shutdown();
        shutdown_returned = true;
    });
    ASSERT_TRUE(cancelled.wait_for(kQueued));  // the queued jobs complete with SHUTDOWN at once
    ASSERT_TRUE(test::wait_until([&] { return closer_id != 0; }));
    // Still waiting for the running job: blocked, not returned.
    EXPECT_TRUE(test::wait_until_blocked(closer_id));
    EXPECT_FALSE(shutdown_returned.load());
    for (int j = 0; j < kQueued; ++j) {
        EXPECT_EQ(statuses[j].code(), StatusCode::SHUTDOWN) << statuses[j];
        EXPECT_TRUE(jobs[j].is_done());
        EXPECT_EQ(jobs[j].wait(0ms).code(), StatusCode::SHUTDOWN);
        EXPECT_TRUE(frames[j].is_untouched()) << j;
    }
    // New work is refused while shutting down.
    EXPECT_STATUS(configured.run_async(*frames[0].bindings), StatusCode::SHUTDOWN);

    release.open();
    closer.join();
    EXPECT_TRUE(shutdown_status.is_ok()) << shutdown_status;
    ASSERT_OK(running_job.wait(kTimeout));
    EXPECT_TRUE(running_status.is_ok()) << running_status;
    EXPECT_TRUE(running_frame.is_correct());
    // The neighbour model was not shut down: its job runs.
    ASSERT_OK(neighbour_job.wait(kTimeout));
    EXPECT_TRUE(neighbour_frame.is_correct());

    // Every callback ran exactly once.
    EXPECT_EQ(running_calls.load(), 1);
    for (int j = 0; j < kQueued; ++j) EXPECT_EQ(calls[j].load(), 1) << j;
    EXPECT_EQ(cancelled.count(), kQueued);

    // Everything after shutdown fails with SHUTDOWN; shutdown itself is idempotent.
    EXPECT_STATUS(configured.run(*running_frame.bindings, kTimeout), StatusCode::SHUTDOWN);
    EXPECT_STATUS(configured.run_async(*running_frame.bindings), StatusCode::SHUTDOWN);
    EXPECT_STATUS(configured.create_bindings(), StatusCode::SHUTDOWN);
    EXPECT_STATUS(configured.create_bindings({{"x", MemoryView::of(running_frame.input)}}),
                  StatusCode::SHUTDOWN);
    EXPECT_STATUS(configured.wait_for_async_ready(kTimeout), StatusCode::SHUTDOWN);
    ASSERT_OK(configured.shutdown());
    EXPECT_EQ(configured.get_frames_in_flight().value(), 0u);
    EXPECT_EQ(running_calls.load(), 1);
    for (int j = 0; j < kQueued; ++j) EXPECT_EQ(calls[j].load(), 1) << j;
}

TEST(AsyncInferenceTest, ShutdownWakesAWaiter) {
    Group group = Group::make("shutdown-waiter", 1);
    ASSERT_OK_AND_ASSIGN(auto holder, group.configure("add_one.onnx"));
    ASSERT_OK_AND_ASSIGN(auto configured, group.configure("add_one.onnx"));
    Blocker blocker(holder);
    ASSERT_OK(blocker.start());
    std::vector<AddOneFrame> frames;
    for (int f = 0; f < 2; ++f) frames.emplace_back(static_cast<float>(f));
    std::vector<AsyncInferJob> jobs;
    for (auto& frame : frames) {
        ASSERT_OK(frame.bind(configured));
        ASSERT_OK_AND_ASSIGN(auto job, configured.run_async(*frame.bindings));
        jobs.push_back(std::move(job));
    }
    Status waited(StatusCode::UNINITIALIZED, "not returned");
    std::atomic<pid_t> waiter_id{0};
    std::jthread waiter([&] {
        waiter_id = test::this_thread_id();
        waited = configured.wait_for_async_ready(kTimeout);
    });
    // Shut down only once the waiter waits: a waiter that came later would be refused at once,
    // and the wake-up would go untested.
    ASSERT_TRUE(test::wait_until([&] { return waiter_id != 0; }));
    EXPECT_TRUE(test::wait_until_blocked(waiter_id));
    ASSERT_OK(configured.shutdown());  // nothing of this model runs: returns at once
    waiter.join();
    EXPECT_EQ(waited.code(), StatusCode::SHUTDOWN) << waited;
    for (auto& job : jobs) EXPECT_EQ(job.wait(0ms).code(), StatusCode::SHUTDOWN);
    for (auto& frame : frames) EXPECT_TRUE(frame.is_untouched());
    ASSERT_OK(blocker.finish());
}

TEST(AsyncInferenceTest, LastReferenceDroppedByACallbackClosesTheGroup) {
    VDeviceParams params;
    params.group_id = unique_group("dropped-in-callback");
    params.cpu.intra_op_threads = 1;
    AddOneFrame frame(8.0f);
    Counter calls;
    Gate release;
    {
        ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params));
        ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(test_model("add_one.onnx")));
        ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
        ASSERT_OK(frame.bind(configured));
        ASSERT_OK_AND_ASSIGN(
            auto job,
            configured.run_async(*frame.bindings, [&](const AsyncInferCompletionInfo& info) {
                EXPECT_TRUE(info.status.is_ok());
                release.wait();
                calls.add();
            }));
        job.detach();
        frame.bindings.reset();
    }  // every handle is gone; only the job keeps the model and the group
    release.open();
    ASSERT_TRUE(calls.wait_for(1));
    EXPECT_TRUE(frame.is_correct());
    // Once the job is released, the group closes: other params are accepted for its id.
    VDeviceParams changed = params;
    changed.cpu.execution_slots = 2;
    // The group closes when the worker drops the job, just after the callback returned; nothing
    // announces it, so ask until it holds.
    Expected<std::unique_ptr<VDevice>> reopened(StatusCode::UNINITIALIZED, "not tried");
    EXPECT_TRUE(test::wait_until([&] {
        reopened = VDevice::create(changed);
        return reopened.has_value();
    }));
    ASSERT_TRUE(reopened.has_value()) << reopened.status();
    EXPECT_EQ(reopened.value()->params().cpu.execution_slots, 2u);
}

// ---- several client threads on one VDevice ----

TEST(AsyncInferenceTest, FourClientThreadsShareOneVDevice) {
    VDeviceParams params;
    params.group_id = unique_group("clients");
    params.cpu.execution_slots = 2;
    params.cpu.intra_op_threads = 1;
    ASSERT_OK_AND_ASSIGN(std::shared_ptr<VDevice> vdevice, VDevice::create_shared(params));

    constexpr int kThreads = 4;
    constexpr int kJobs = 200;
    std::atomic<int> total_calls{0};
    std::vector<std::vector<std::atomic<int>>> calls(kThreads);
    for (auto& per_thread : calls) per_thread = std::vector<std::atomic<int>>(kJobs);
    std::vector<std::string> failures(kThreads);

    auto client = [&](int t) -> Status {
        const bool two_streams = t % 2 == 1;
        // Each thread opens the shared device itself, and configures its own model.
        CORUN_TRY(auto shared, VDevice::create_shared(params));
        if (shared.get() != vdevice.get()) {
            return Status(StatusCode::INTERNAL_FAILURE, "create_shared gave another object");
        }
        CORUN_TRY(auto model, shared->create_infer_model(test_model(
                                  two_streams ? "two_in_two_out.onnx" : "add_one.onnx")));
        CORUN_RETURN_IF_ERROR(model->set_batch_size(2));
        CORUN_TRY(auto configured, model->configure());
        const size_t size = two_streams ? 8 : 48;
        std::vector<std::vector<float>> a(kJobs, std::vector<float>(size)),
            b(kJobs, std::vector<float>(size)), out1(kJobs, std::vector<float>(size, -1.0f)),
            out2(kJobs, std::vector<float>(size, -1.0f));
        std::vector<AsyncInferJob> jobs;
        for (int j = 0; j < kJobs; ++j) {
            for (size_t i = 0; i < size; ++i) {
                a[j][i] = static_cast<float>(t * 1000 + j) + 0.5f * static_cast<float>(i);
                b[j][i] = static_cast<float>(j % 17) - static_cast<float>(i);
            }
            std::map<std::string, MemoryView> buffers;
            if (two_streams) {
                buffers = {{"a", MemoryView::of(a[j])},
                           {"b", MemoryView::of(b[j])},
                           {"sum", MemoryView::of(out1[j])},
                           {"product", MemoryView::of(out2[j])}};
            } else {
                buffers = {{"x", MemoryView::of(a[j])}, {"y", MemoryView::of(out1[j])}};
            }
            CORUN_TRY(auto bindings, configured.create_bindings(buffers));
            CORUN_RETURN_IF_ERROR(configured.wait_for_async_ready(kTimeout));
            CORUN_TRY(auto job, configured.run_async(
                                    bindings, [&, t, j](const AsyncInferCompletionInfo& info) {
                                        if (info.status.is_ok() && info.frames == 1) ++calls[t][j];
                                        ++total_calls;
                                    }));
            if (j % 3 == 0) {
                CORUN_RETURN_IF_ERROR(job.wait(kTimeout));  // some waited for at once
            } else {
                jobs.push_back(std::move(job));
            }
        }
        for (auto& job : jobs) CORUN_RETURN_IF_ERROR(job.wait(kTimeout));
        for (int j = 0; j < kJobs; ++j) {
            for (size_t i = 0; i < size; ++i) {
                const float expected1 = two_streams ? a[j][i] + b[j][i] : a[j][i] + 1.0f;
                if (out1[j][i] != expected1 || (two_streams && out2[j][i] != a[j][i] * b[j][i])) {
                    return Status(StatusCode::INTERNAL_FAILURE,
                                  "thread " + std::to_string(t) + " job " + std::to_string(j) +
                                      " element " + std::to_string(i) + " is wrong");
                }
            }
        }
        return Status::ok();
    };

    std::vector<std::jthread> threads;
    std::vector<Status> results(kThreads);
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] { results[t] = client(t); });
    }
    for (auto& thread : threads) thread.join();
    for (int t = 0; t < kThreads; ++t) EXPECT_TRUE(results[t].is_ok()) << results[t];
    EXPECT_EQ(total_calls.load(), kThreads * kJobs);
    for (int t = 0; t < kThreads; ++t) {
        for (int j = 0; j < kJobs; ++j) {
            EXPECT_EQ(calls[t][j].load(), 1) << "thread " << t << " job " << j;
        }
    }
}

// ---- what a callback may do ----

TEST(AsyncInferenceTest, ShutdownFromACallbackReturnsAndCancelsWhatHasNotStarted) {
    Group group = Group::make("shutdown-in-callback", 1);
    ASSERT_OK_AND_ASSIGN(auto holder, group.configure("add_one.onnx"));
    // Burst 2: the first two frames leave the queue together, the third stays queued.
    ASSERT_OK_AND_ASSIGN(auto configured, group.configure("add_one.onnx", 2));
    Blocker blocker(holder);
    ASSERT_OK(blocker.start());  // holds the only slot while the frames queue up

    std::vector<AddOneFrame> frames;
    for (int f = 0; f < 3; ++f) frames.emplace_back(static_cast<float>(f));
    std::array<Status, 3> statuses;
    Status shutdown_status(StatusCode::UNINITIALIZED, "shutdown() did not return");
    Counter done;
    std::vector<AsyncInferJob> jobs;
    for (int f = 0; f < 3; ++f) {
        ASSERT_OK(frames[f].bind(configured));
        ASSERT_OK_AND_ASSIGN(
            auto job,
            configured.run_async(*frames[f].bindings, [&, f](const AsyncInferCompletionInfo& info) {
                statuses[f] = info.status;
                if (f == 0) shutdown_status = configured.shutdown();
                done.add();
            }));
        jobs.push_back(std::move(job));
    }
    ASSERT_OK(blocker.finish());
    ASSERT_TRUE(done.wait_for(3));
    EXPECT_TRUE(shutdown_status.is_ok()) << shutdown_status;
    EXPECT_TRUE(statuses[0].is_ok()) << statuses[0];
    EXPECT_TRUE(frames[0].is_correct());
    // Taken in the same burst but not started, and still queued: both complete with SHUTDOWN.
    for (int f = 1; f < 3; ++f) {
        EXPECT_EQ(statuses[f].code(), StatusCode::SHUTDOWN) << f << ": " << statuses[f];
        EXPECT_EQ(jobs[f].wait(kTimeout).code(), StatusCode::SHUTDOWN);
        EXPECT_TRUE(frames[f].is_untouched()) << f;
    }
    ASSERT_OK(jobs[0].wait(kTimeout));
    // The worker goes on with the group's other models.
    AddOneFrame after(5.0f);
    ASSERT_OK(after.bind(holder));
    ASSERT_OK(holder.run(*after.bindings, kTimeout));
    EXPECT_TRUE(after.is_correct());
    ASSERT_OK(configured.shutdown());
    EXPECT_EQ(configured.get_frames_in_flight().value(), 0u);
}

TEST(AsyncInferenceTest, ShutdownFromCallbacksOnTwoSlotsAtOnceReturns) {
    Group group = Group::make("shutdown-in-two-callbacks", 2);
    ASSERT_OK_AND_ASSIGN(auto configured, group.configure("add_one.onnx"));
    // Both callbacks wait until both run, then both shut the model down: a shutdown() that
    // waited for the other callback would wait forever.
    std::array<AddOneFrame, 2> frames{AddOneFrame(1.0f), AddOneFrame(2.0f)};
    Counter entered;
    Counter done;
    std::array<Status, 2> shutdown_statuses;
    std::vector<AsyncInferJob> jobs;
    for (int f = 0; f < 2; ++f) {
        ASSERT_OK(frames[f].bind(configured));
        ASSERT_OK_AND_ASSIGN(
            auto job,
            configured.run_async(*frames[f].bindings, [&, f](const AsyncInferCompletionInfo&) {
                entered.add();
                entered.wait_for(2);
                shutdown_statuses[f] = configured.shutdown();
                done.add();
            }));
        jobs.push_back(std::move(job));
    }
    ASSERT_TRUE(done.wait_for(2));
    for (int f = 0; f < 2; ++f) {
        EXPECT_TRUE(shutdown_statuses[f].is_ok()) << shutdown_statuses[f];
        ASSERT_OK(jobs[f].wait(kTimeout));
        EXPECT_TRUE(frames[f].is_correct());
    }
}

TEST(AsyncInferenceTest, ACallbackThatThrowsIsLoggedAndTheWorkerGoesOn) {
    Group group = Group::make("throwing-callback", 1);
    ASSERT_OK_AND_ASSIGN(auto configured, group.configure("add_one.onnx"));
    ASSERT_OK_AND_ASSIGN(auto neighbour, group.configure("add_one.onnx"));
    AddOneFrame frame(1.0f);
    ASSERT_OK(frame.bind(configured));
    testing::internal::CaptureStderr();
    {
        ASSERT_OK_AND_ASSIGN(
            auto job, configured.run_async(*frame.bindings, [](const AsyncInferCompletionInfo&) {
                throw std::runtime_error("the user's callback failed");
            }));
        ASSERT_OK(job.wait(kTimeout));  // the frame itself succeeded
    }
    {
        ASSERT_OK_AND_ASSIGN(
            auto job, configured.run_async(*frame.bindings, [](const AsyncInferCompletionInfo&) {
                throw 42;  // not a std::exception
            }));
        ASSERT_OK(job.wait(kTimeout));
    }
    const std::string logged = testing::internal::GetCapturedStderr();
    EXPECT_TRUE(contains(logged, "callback of model 'add_one' threw (the user's callback failed)"))
        << logged;
    EXPECT_TRUE(contains(logged, "not derived from std::exception")) << logged;
    EXPECT_TRUE(frame.is_correct());
    // The one worker still runs frames, of this model and of the other.
    Counter calls;
    ASSERT_OK_AND_ASSIGN(
        auto job, configured.run_async(*frame.bindings, [&](const AsyncInferCompletionInfo& info) {
            if (info.status.is_ok()) calls.add();
        }));
    ASSERT_OK(job.wait(kTimeout));
    EXPECT_EQ(calls.count(), 1);
    AddOneFrame other(3.0f);
    ASSERT_OK(other.bind(neighbour));
    ASSERT_OK(neighbour.run(*other.bindings, kTimeout));
    EXPECT_TRUE(other.is_correct());
    EXPECT_EQ(configured.get_frames_in_flight().value(), 0u);
}

TEST(AsyncInferenceTest, ErrorsOfRunNameRun) {
    Group group = Group::make("run-messages", 1);
    ASSERT_OK_AND_ASSIGN(auto configured, group.configure("add_one.onnx"));
    ASSERT_OK_AND_ASSIGN(auto empty, configured.create_bindings());
    const Status from_run = configured.run(empty, kTimeout);
    EXPECT_EQ(from_run.code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(from_run.message().rfind("run: ", 0), 0u) << from_run;
    const Status from_async = configured.run_async(empty).status();
    EXPECT_EQ(from_async.code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(from_async.message().rfind("run_async: ", 0), 0u) << from_async;
}

}  // namespace
}  // namespace corun
