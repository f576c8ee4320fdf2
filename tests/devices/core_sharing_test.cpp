// The cpu device's automatic sharing (CpuDeviceParams::execution_slots 0): slots per core, a
// latency slot, and urgent frames that the frames beside them yield to (by OS priority), or that
// stop them, and they then run again.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <future>
#include <iterator>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "corun/corun.hpp"
#include "devices/cpu/core_arbiter.hpp"
#include "devices/cpu/core_count_choice.hpp"
#include "devices/cpu/core_pinning.hpp"
#include "devices/cpu/cpu_device.hpp"
#include "devices/cpu/thread_priority.hpp"
#include "devices/device_registry.hpp"
#include "test_support.hpp"

namespace corun {
namespace {

using devices::cpu::CoreArbiter;

// Counts the stops the arbiter asks for (a test double for ONNX Runtime's terminate flag:
// the arbiter's own bookkeeping is what is tested here).
struct StopCounter {
    int stops = 0;
    static void stop(void* context) { ++static_cast<StopCounter*>(context)->stops; }
};

CoreArbiter::Frame frame_of(StopCounter& counter, bool urgent = false) {
    CoreArbiter::Frame frame;
    frame.urgent = urgent;
    frame.stop = &StopCounter::stop;
    frame.context = &counter;
    return frame;
}

TEST(CoreArbiterTest, AFrameAloneTakesEveryCoreAndFramesBesideOthersOne) {
    CoreArbiter arbiter(2);
    StopCounter a_stops, b_stops;
    auto a = frame_of(a_stops), b = frame_of(b_stops);
    EXPECT_FALSE(arbiter.begin(a));  // alone
    EXPECT_TRUE(arbiter.begin(b));   // beside a
    EXPECT_EQ(arbiter.frames_running(), 2u);
    EXPECT_FALSE(arbiter.end(a));
    EXPECT_FALSE(arbiter.end(b));
    EXPECT_EQ(arbiter.frames_running(), 0u);
    EXPECT_EQ(a_stops.stops + b_stops.stops, 0);
}

TEST(CoreArbiterTest, AFrameRunsAloneThroughoutOnlyIfNoOtherRanBesideItAtAnyTime) {
    // What CoreCountChoice may compare: a frame's time alone, not one slowed by company.
    CoreArbiter arbiter(2);
    StopCounter a_stops, b_stops, c_stops, u_stops;
    auto a = frame_of(a_stops), b = frame_of(b_stops), c = frame_of(c_stops);
    ASSERT_FALSE(arbiter.begin(a));
    ASSERT_TRUE(arbiter.begin(b));  // joins a: neither ran alone throughout
    ASSERT_FALSE(arbiter.end(b));
    ASSERT_FALSE(arbiter.end(a));
    EXPECT_FALSE(a.alone_throughout);
    EXPECT_FALSE(b.alone_throughout);
    ASSERT_FALSE(arbiter.begin(c));  // after both ended: alone
    ASSERT_FALSE(arbiter.end(c));
    EXPECT_TRUE(c.alone_throughout);
    // An urgent frame on every core stops the frame running: the stopped one is on its way out,
    // so the urgent frame runs alone throughout.
    ASSERT_FALSE(arbiter.begin(a));
    auto urgent = frame_of(u_stops, true);
    ASSERT_TRUE(arbiter.begin(urgent));
    EXPECT_EQ(a_stops.stops, 1);
    ASSERT_TRUE(arbiter.end(a));
    ASSERT_FALSE(arbiter.end(urgent));
    EXPECT_TRUE(urgent.alone_throughout);
}

TEST(CoreArbiterTest, AnUrgentFrameStopsTheOthersOnceAndTheyWaitForIt) {
    CoreArbiter arbiter(2);
    StopCounter a_stops, b_stops, u_stops, v_stops;
    auto a = frame_of(a_stops), b = frame_of(b_stops);
    auto urgent = frame_of(u_stops, true);
    ASSERT_FALSE(arbiter.begin(a));
    ASSERT_TRUE(arbiter.begin(b));
    arbiter.begin(urgent);
    EXPECT_EQ(a_stops.stops, 1);
    EXPECT_EQ(b_stops.stops, 1);
    EXPECT_EQ(arbiter.frames_stopped(), 2u);
    EXPECT_TRUE(arbiter.end(a));  // stopped: its result is void
    EXPECT_TRUE(arbiter.end(b));

    // a runs again only once the urgent frame is done.
    std::mutex order_mutex;
    std::vector<std::string> order;
    std::atomic<bool> asking{false};
    std::thread again([&] {
        asking = true;
        arbiter.begin(a);
        std::lock_guard lock(order_mutex);
        order.push_back("a began again");
    });
    while (!asking) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a chance to begin too early
    {
        std::lock_guard lock(order_mutex);
        order.push_back("urgent ended");
    }
    EXPECT_FALSE(arbiter.end(urgent));
    again.join();
    EXPECT_EQ(order, (std::vector<std::string>{"urgent ended", "a began again"}));

    // A frame is stopped at most MAX_STOPS times: after that, urgent frames run beside it.
    for (uint32_t times = 1; times < CoreArbiter::MAX_STOPS; ++times) {
        auto next_urgent = frame_of(v_stops, true);
        arbiter.begin(next_urgent);
        EXPECT_EQ(a_stops.stops, static_cast<int>(times) + 1);
        EXPECT_FALSE(arbiter.end(next_urgent));
        EXPECT_TRUE(arbiter.end(a));
        EXPECT_FALSE(arbiter.begin(a));
    }
    auto last_urgent = frame_of(v_stops, true);
    arbiter.begin(last_urgent);
    EXPECT_EQ(a_stops.stops, static_cast<int>(CoreArbiter::MAX_STOPS));
    EXPECT_EQ(arbiter.frames_stopped(), 1u + CoreArbiter::MAX_STOPS);
    EXPECT_FALSE(arbiter.end(last_urgent));
    EXPECT_FALSE(arbiter.end(a));
    EXPECT_EQ(u_stops.stops + v_stops.stops, 0);  // urgent frames never stop each other
}

TEST(CoreArbiterTest, AFrameWaitsOnlyForTheUrgentFramesThatStartedBeforeIt) {
    CoreArbiter arbiter(2);
    StopCounter stops;
    auto first = frame_of(stops, true);
    arbiter.begin(first);
    EXPECT_FALSE(arbiter.end(first));
    // Every urgent frame that started is done: a normal frame begins at once, and an urgent
    // frame that starts after it stops it once.
    auto normal = frame_of(stops);
    EXPECT_FALSE(arbiter.begin(normal));
    auto later = frame_of(stops, true);
    arbiter.begin(later);
    EXPECT_EQ(stops.stops, 1);
    EXPECT_FALSE(arbiter.end(later));
    EXPECT_TRUE(arbiter.end(normal));
}

// An urgent frame that runs on one core (it measured faster there) frees one core, not all:
// of two frames running on a 2-core device it stops only the one that started last (the least
// work lost); beside one frame it stops none. One on every core stops both, as before.
TEST(CoreArbiterTest, AnUrgentFrameOnOneCoreStopsOnlyWhatFreesOneCore) {
    CoreArbiter arbiter(2);
    StopCounter a_stops, b_stops, u_stops, v_stops, w_stops;
    auto a = frame_of(a_stops), b = frame_of(b_stops);
    ASSERT_FALSE(arbiter.begin(a));
    arbiter.set_cores(a, 1);  // alone, it measured faster on one core
    ASSERT_TRUE(arbiter.begin(b));
    auto one_core = frame_of(u_stops, true);
    one_core.cores = 1;
    EXPECT_TRUE(arbiter.begin(one_core));
    EXPECT_EQ(a_stops.stops, 0);
    EXPECT_EQ(b_stops.stops, 1);  // the later of the two
    EXPECT_EQ(arbiter.frames_stopped(), 1u);
    EXPECT_TRUE(arbiter.end(b));  // b runs again once the urgent frame is done
    EXPECT_FALSE(arbiter.end(one_core));
    // Beside a alone, on its one core.
    auto again = frame_of(v_stops, true);
    again.cores = 1;
    EXPECT_TRUE(arbiter.begin(again));
    EXPECT_EQ(a_stops.stops, 0);
    EXPECT_FALSE(arbiter.end(again));
    // An urgent frame on every core stops a, which holds a core.
    auto every = frame_of(w_stops, true);
    EXPECT_TRUE(arbiter.begin(every));
    EXPECT_EQ(a_stops.stops, 1);
    EXPECT_TRUE(arbiter.end(a));
    EXPECT_FALSE(arbiter.end(every));
    EXPECT_EQ(arbiter.frames_stopped(), 2u);
    EXPECT_EQ(arbiter.frames_running(), 0u);
}

// A frame alone that ran on every core counts all of them: an urgent frame on one core stops it.
TEST(CoreArbiterTest, AFrameAloneOnEveryCoreIsStoppedEvenForAnUrgentFrameOnOne) {
    CoreArbiter arbiter(2);
    StopCounter a_stops, u_stops;
    auto a = frame_of(a_stops);
    ASSERT_FALSE(arbiter.begin(a));  // alone: every core (cores 0)
    auto urgent = frame_of(u_stops, true);
    urgent.cores = 1;
    EXPECT_TRUE(arbiter.begin(urgent));
    EXPECT_EQ(a_stops.stops, 1);
    EXPECT_FALSE(arbiter.end(urgent));
    EXPECT_TRUE(arbiter.end(a));
}

// A thread that only waits, standing for the thread a frame runs on: its OS priority is what
// the arbiter changes.
class IdleThread {
public:
    IdleThread()
        : thread_([this] {
              id_.set_value(devices::cpu::current_thread_id());
              release_.get_future().wait();
          }) {
        id = id_.get_future().get();
    }
    ~IdleThread() {
        release_.set_value();
        thread_.join();
    }
    pid_t id = 0;

private:
    std::promise<pid_t> id_;
    std::promise<void> release_;
    std::thread thread_;
};

int nice_of(pid_t thread) {
    errno = 0;
    const int nice = getpriority(PRIO_PROCESS, static_cast<id_t>(thread));
    EXPECT_EQ(errno, 0);
    return nice;
}

// Where the process may raise a thread's priority back, frames on one core yield to an urgent
// frame by OS priority instead of stopping: their threads run at YIELDING_NICE from the urgent
// frame's start to their own end, when they get their priority back, their results standing
// (nothing runs again). While urgent frames come, a frame that begins beside others yields from
// its start; one alone does not.
TEST(CoreArbiterTest, FramesOnOneCoreYieldByPriorityToUrgentFramesUntilTheyEnd) {
    if (!devices::cpu::may_restore_thread_priority()) {
        GTEST_SKIP() << "this process may not raise a thread's priority back (no CAP_SYS_NICE, "
                        "RLIMIT_NICE 0): the device stops frames instead, as the tests above";
    }
    CoreArbiter arbiter(2, true);
    IdleThread a_thread, b_thread, c_thread;
    const int a_nice = nice_of(a_thread.id), b_nice = nice_of(b_thread.id);
    const int c_nice = nice_of(c_thread.id);
    StopCounter a_stops, b_stops, c_stops, u_stops;
    auto a = frame_of(a_stops), b = frame_of(b_stops), c = frame_of(c_stops);
    a.thread = a_thread.id;
    b.thread = b_thread.id;
    c.thread = c_thread.id;
    ASSERT_FALSE(arbiter.begin(a));
    arbiter.set_cores(a, 1);
    ASSERT_TRUE(arbiter.begin(b));  // beside a: one core; no urgent frame yet, no yield
    EXPECT_EQ(nice_of(b_thread.id), b_nice);
    auto urgent = frame_of(u_stops, true);
    EXPECT_TRUE(arbiter.begin(urgent));  // every core: both yield
    EXPECT_EQ(a_stops.stops + b_stops.stops, 0);
    EXPECT_EQ(arbiter.frames_stopped(), 0u);
    EXPECT_EQ(arbiter.frames_yielded(), 2u);
    EXPECT_EQ(nice_of(a_thread.id), devices::cpu::YIELDING_NICE);
    EXPECT_EQ(nice_of(b_thread.id), devices::cpu::YIELDING_NICE);
    // b ends while the urgent frame runs: its thread gets its priority back at once.
    EXPECT_FALSE(arbiter.end(b));
    EXPECT_EQ(nice_of(b_thread.id), b_nice);
    // The urgent frame ends: a goes on yielding (more may come), and gets its priority back as
    // it ends, its result standing.
    EXPECT_FALSE(arbiter.end(urgent));
    EXPECT_EQ(nice_of(a_thread.id), devices::cpu::YIELDING_NICE);
    // An urgent frame began lately: c, beginning beside a, yields from its start.
    ASSERT_TRUE(arbiter.begin(c));
    EXPECT_EQ(nice_of(c_thread.id), devices::cpu::YIELDING_NICE);
    EXPECT_EQ(arbiter.frames_yielded(), 3u);
    EXPECT_FALSE(arbiter.end(a));
    EXPECT_EQ(nice_of(a_thread.id), a_nice);
    EXPECT_FALSE(arbiter.end(c));
    EXPECT_EQ(nice_of(c_thread.id), c_nice);
    // Alone, a frame has no one to yield to.
    ASSERT_FALSE(arbiter.begin(c));
    EXPECT_EQ(nice_of(c_thread.id), c_nice);
    EXPECT_FALSE(arbiter.end(c));
    EXPECT_EQ(arbiter.frames_yielded(), 3u);
    EXPECT_EQ(arbiter.frames_running(), 0u);
}

// What cannot yield is stopped, as before: a frame alone on every core (its pool's threads are
// ONNX Runtime's); a frame whose thread is not known never yields. A frame that began beside it
// while urgent frames come yields from its start, so an urgent frame on one core then finds its
// core free and stops nothing.
TEST(CoreArbiterTest, WhatCannotYieldByPriorityIsStoppedAndAnUrgentFrameOnOneCoreTakesOneYield) {
    if (!devices::cpu::may_restore_thread_priority()) {
        GTEST_SKIP() << "this process may not raise a thread's priority back: nothing yields";
    }
    CoreArbiter arbiter(2, true);
    IdleThread a_thread, b_thread;
    StopCounter a_stops, b_stops, u_stops, v_stops;
    auto a = frame_of(a_stops);
    a.thread = a_thread.id;
    ASSERT_FALSE(arbiter.begin(a));  // alone on every core (cores 0)
    auto urgent = frame_of(u_stops, true);
    urgent.cores = 1;
    EXPECT_TRUE(arbiter.begin(urgent));
    EXPECT_EQ(a_stops.stops, 1);
    EXPECT_EQ(arbiter.frames_yielded(), 0u);
    EXPECT_TRUE(arbiter.end(a));
    EXPECT_FALSE(arbiter.end(urgent));

    auto unknown = frame_of(a_stops), b = frame_of(b_stops);  // `unknown` has no thread
    b.thread = b_thread.id;
    ASSERT_FALSE(arbiter.begin(unknown));
    arbiter.set_cores(unknown, 1);
    ASSERT_TRUE(arbiter.begin(b));
    auto one_core = frame_of(v_stops, true);
    one_core.cores = 1;
    EXPECT_TRUE(arbiter.begin(one_core));
    EXPECT_EQ(arbiter.frames_yielded(), 1u);  // b, from its start: nothing stopped
    EXPECT_EQ(b_stops.stops, 0);
    EXPECT_EQ(a_stops.stops, 1);  // from before
    EXPECT_EQ(nice_of(b_thread.id), devices::cpu::YIELDING_NICE);
    EXPECT_FALSE(arbiter.end(one_core));
    EXPECT_FALSE(arbiter.end(b));
    EXPECT_FALSE(arbiter.end(unknown));
}

// Lowering a thread is always allowed; raising it back is what the probe finds out, and a
// restore to the value a thread already has always succeeds.
TEST(ThreadPriorityTest, ALoweredThreadIsAtTheYieldingNiceAndRestoredWhereAllowed) {
    IdleThread thread;
    const int before = nice_of(thread.id);
    const auto lowered = devices::cpu::lower_thread_priority(thread.id);
    ASSERT_TRUE(lowered.has_value());
    EXPECT_EQ(*lowered, before);
    EXPECT_EQ(nice_of(thread.id), devices::cpu::YIELDING_NICE);
    EXPECT_TRUE(devices::cpu::restore_thread_priority(thread.id, devices::cpu::YIELDING_NICE));
    EXPECT_EQ(devices::cpu::restore_thread_priority(thread.id, before),
              devices::cpu::may_restore_thread_priority());
    if (devices::cpu::may_restore_thread_priority()) {
        EXPECT_EQ(nice_of(thread.id), before);
    }
}

// A pool of n threads: the caller's thread on the first CPU, the n - 1 workers one on each of
// the next, named as ONNX Runtime takes them (1-based); no pinning without a CPU per thread.
TEST(CorePinningTest, APoolsWorkersGoOnePerCpuAfterTheCallersFirst) {
    using devices::cpu::pool_affinities;
    EXPECT_EQ(pool_affinities({0, 1}, 2), "2");
    EXPECT_EQ(pool_affinities({0, 1, 2, 3}, 4), "2;3;4");
    EXPECT_EQ(pool_affinities({2, 5, 7}, 2), "6");  // a cpuset of CPUs 2, 5 and 7
    EXPECT_EQ(pool_affinities({0, 1}, 1), "");      // one thread: the caller's alone
    EXPECT_EQ(pool_affinities({0, 1}, 3), "");      // fewer CPUs than threads
    EXPECT_EQ(pool_affinities({}, 2), "");
}

// The caller's thread runs on the one CPU while pinned, and may use the CPUs it had after.
TEST(CorePinningTest, APinnedThreadRunsOnItsCpuAndGetsItsCpusBack) {
    const auto before = devices::cpu::allowed_cpus();
    ASSERT_FALSE(before.empty());
    {
        devices::cpu::PinnedToCpu pinned(before.back());
        EXPECT_EQ(devices::cpu::allowed_cpus(), std::vector<int>{before.back()});
        EXPECT_EQ(sched_getcpu(), before.back());
    }
    EXPECT_EQ(devices::cpu::allowed_cpus(), before);
}

using devices::cpu::CoreCountChoice;
using std::chrono::milliseconds;

// Records `count` frames of `elapsed` for the choice the device makes for each.
void run_frames(CoreCountChoice& choice, int count, milliseconds every_core, milliseconds one_core,
                std::string& choices) {
    for (int i = 0; i < count; ++i) {
        const bool every = choice.every_core_next();
        choices += every ? 'E' : '1';
        choice.record(every, every ? every_core : one_core);
    }
}

TEST(CoreCountChoiceTest, TriesBothThenTakesTheFasterAndProbesTheOtherEverySixteenth) {
    CoreCountChoice choice;
    std::string choices;
    // Every core takes 20 ms, one core 10: three warm-up frames and three tries each, then one
    // core, except that the 16th, 32nd, ... decision tries every core again.
    run_frames(choice, 32, milliseconds(20), milliseconds(10), choices);
    EXPECT_EQ(choices, "EEEEEE111111111E111111111111111E");
}

TEST(CoreCountChoiceTest, AModelFasterOnEveryCoreKeepsEveryCore) {
    CoreCountChoice choice;
    std::string choices;
    run_frames(choice, 32, milliseconds(6), milliseconds(10), choices);
    EXPECT_EQ(choices, "EEEEEE111111EEE1EEEEEEEEEEEEEEE1");
}

TEST(CoreCountChoiceTest, TheFirstFramesOfEachChoiceAreWarmUpAndNotCompared) {
    // A session's first runs are slow: here the first three on either take 30 ms, then every
    // core 6 ms and one core 9. Compared, the slow every-core frames held every core's median
    // at 30 ms and the model ran on one core (9 ms) until probes had flushed them.
    CoreCountChoice choice;
    std::string choices;
    int every_core_frames = 0, one_core_frames = 0;
    for (int i = 0; i < 32; ++i) {
        const bool every = choice.every_core_next();
        choices += every ? 'E' : '1';
        int& frames = every ? every_core_frames : one_core_frames;
        const bool warming_up = frames++ < 3;
        choice.record(every, warming_up ? milliseconds(30) : milliseconds(every ? 6 : 9));
    }
    EXPECT_EQ(choices, "EEEEEE111111EEE1EEEEEEEEEEEEEEE1");
}

TEST(CoreCountChoiceTest, SwitchesWhenTheMeasuredTimesChange) {
    CoreCountChoice choice;
    std::string choices;
    run_frames(choice, 16, milliseconds(20), milliseconds(10), choices);
    // One core turns slow (other load on the cores): the median of its last 8 frames (the
    // upper of the two middle ones) passes every core's 20 ms after 4 slow frames, and every
    // core wins from then on.
    choices.clear();
    run_frames(choice, 12, milliseconds(20), milliseconds(40), choices);
    EXPECT_EQ(choices, "1111EEEEEEEE");
}

TEST(CpuSlotsTest, TheDefaultSharesByItselfAndExplicitParamsWin) {
    const uint32_t cores = std::max(1u, std::thread::hardware_concurrency());
    const auto automatic = devices::cpu::cpu_slots(CpuDeviceParams{});
    EXPECT_TRUE(automatic.automatic);
    EXPECT_EQ(automatic.shared, cores);
    EXPECT_EQ(automatic.latency, 1u);

    CpuDeviceParams fixed;
    fixed.execution_slots = 1;
    const auto one = devices::cpu::cpu_slots(fixed);
    EXPECT_FALSE(one.automatic);
    EXPECT_EQ(one.shared, 1u);
    EXPECT_EQ(one.latency, 0u);

    CpuDeviceParams per_core;
    per_core.intra_op_threads = 1;  // slots 0 with a thread count: one slot per core, fixed
    const auto threads = devices::cpu::cpu_slots(per_core);
    EXPECT_FALSE(threads.automatic);
    EXPECT_EQ(threads.shared, cores);
    EXPECT_EQ(threads.latency, 0u);

    CpuDeviceParams two_latency;
    two_latency.latency_slots = 2;
    EXPECT_EQ(devices::cpu::cpu_slots(two_latency).latency, 2u);

    // The device reports them to the scheduler.
    ASSERT_OK_AND_ASSIGN(auto device,
                         devices::DeviceRegistry::instance().create("cpu:0", VDeviceParams{}));
    EXPECT_EQ(device->execution_slots(), cores);
    EXPECT_EQ(device->latency_slots(), 1u);
}

std::vector<uint8_t> file_bytes(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

// Real ONNX Runtime: a long burst of slow_matmul frames runs while urgent frames of the same
// model arrive one after another; frames of the burst give way, stopped (and run again) or
// yielding by OS priority (a frame of the burst alone takes every core and is stopped; one that
// measured faster on one core, or began beside an urgent frame, yields where the process may
// raise its priority back), and every output of the burst equals the output of the same input
// run alone.
TEST(CpuCoreSharingTest, UrgentFramesStopOrYieldTheFramesBesideThemWhoseOutputsStayExact) {
    VDeviceParams params;  // automatic sharing
    ASSERT_OK_AND_ASSIGN(auto device, devices::DeviceRegistry::instance().create("cpu:0", params));
    const auto onnx = file_bytes(test::test_model("slow_matmul.onnx"));
    ASSERT_FALSE(onnx.empty());
    devices::ModelSource source;
    source.onnx = onnx;
    source.name = "slow_matmul";
    ASSERT_OK_AND_ASSIGN(auto model, device->load_model(source));
    const std::vector<devices::TensorSpec> inputs = {{"x", FormatType::FLOAT32, {1, 512}}};
    const std::vector<devices::TensorSpec> outputs = {{"y", FormatType::FLOAT32, {1, 512}}};

    constexpr size_t kFrames = 400;
    std::vector<std::vector<float>> x(kFrames, std::vector<float>(512));
    std::vector<std::vector<float>> y(kFrames, std::vector<float>(512, 0.f));
    std::vector<devices::FrameBuffers> burst(kFrames);
    for (size_t f = 0; f < kFrames; ++f) {
        for (size_t i = 0; i < 512; ++i) x[f][i] = static_cast<float>((f * 7 + i) % 13) / 13.f;
        burst[f].inputs = {x[f].data()};
        burst[f].outputs = {y[f].data()};
    }
    std::atomic<bool> burst_done{false};
    std::thread normal([&] {
        EXPECT_OK(model->execute(inputs, outputs, burst, devices::FrameLimits{}));
        burst_done = true;
    });
    devices::FrameLimits urgent;
    urgent.urgent = true;
    std::vector<float> ux(512, 0.5f), uy(512);
    devices::FrameBuffers urgent_frame{{ux.data()}, {uy.data()}, {}, {}};
    // Bounded: at most 2000 urgent frames, and only while the burst runs.
    for (int i = 0; i < 2000 && !burst_done; ++i) {
        EXPECT_OK(model->execute(inputs, outputs, {&urgent_frame, 1}, urgent));
    }
    normal.join();
    EXPECT_GT(device->frames_preempted() + device->frames_yielded(), 0u)
        << "no frame of the burst gave way";
    if (!devices::cpu::may_restore_thread_priority()) {
        EXPECT_EQ(device->frames_yielded(), 0u);  // without the right, frames never yield
    }

    for (size_t f = 0; f < kFrames; ++f) {
        std::vector<float> alone(512);
        devices::FrameBuffers single{{x[f].data()}, {alone.data()}, {}, {}};
        ASSERT_OK(model->execute(inputs, outputs, {&single, 1}, devices::FrameLimits{}));
        ASSERT_EQ(y[f], alone) << "frame " << f;
    }
}

}  // namespace
}  // namespace corun
