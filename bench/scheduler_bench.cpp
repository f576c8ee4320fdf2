// The model scheduler's own cost (issue 4 target: < 5 us per decision with 100 configured
// models), with Google Benchmark:
//  - BM_PolicyDecide: SchedulingPolicy::decide over a view of N models, all with frames queued
//    (the worst case: every model is a candidate), in three shapes: one priority level with
//    device-time fairness, one level round robin by turns, and priorities spread over 0..31.
//  - BM_SchedulerDecisions: the whole mechanism, ModelScheduler with N models on one device slot,
//    every model's queue kept full by requests whose run() returns at once (each completion
//    enqueues the next frame). Reports decisions per second; its inverse is the full cost of one
//    decision: building the view, deciding, dequeuing, locking and waking. With recording 1 the
//    scheduler records a timeline meanwhile (Scheduler::start_recording, docs/TRACING.md),
//    restarted between iterations so that every decision is kept; recording 0 is the cost of
//    the recorder when off, to compare with a build before it existed.
//
//   scheduler_bench [--benchmark_filter=...] [--benchmark_format=json]
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <mutex>
#include <random>
#include <vector>

#include <benchmark/benchmark.h>

#include "scheduler/model_scheduler.hpp"
#include "scheduler/scheduling_policy.hpp"

namespace {

using namespace corun::scheduler;

enum Shape { FAIR_ONE_LEVEL = 0, ROUND_ROBIN_ONE_LEVEL = 1, SPREAD_PRIORITIES = 2 };

std::vector<ModelQueueState> make_view(size_t count, Shape shape) {
    std::mt19937 random(42);
    std::vector<ModelQueueState> view;
    for (size_t i = 0; i < count; ++i) {
        ModelQueueState model;
        model.model_id = i + 1;
        model.params.priority =
            shape == SPREAD_PRIORITIES ? static_cast<uint8_t>(random() % 32) : PRIORITY_NORMAL;
        model.params.threshold = 1 + static_cast<uint32_t>(random() % 2);
        model.params.timeout = std::chrono::milliseconds(random() % 2 ? 0 : 5);
        model.params.burst = 1 + static_cast<uint32_t>(random() % 4);
        model.frames_queued = 1 + static_cast<uint32_t>(random() % 4);
        model.oldest_enqueued = std::chrono::microseconds(random() % 1000);
        model.device_time_ns = static_cast<int64_t>(random() % 10'000'000);
        view.push_back(model);
    }
    return view;
}

void BM_PolicyDecide(benchmark::State& state) {
    const auto count = static_cast<size_t>(state.range(0));
    const auto shape = static_cast<Shape>(state.range(1));
    PolicyOptions options;
    options.fair_device_time = shape != ROUND_ROBIN_ONE_LEVEL;
    SchedulingPolicy policy(options);
    const auto view = make_view(count, shape);
    const TimePoint now = std::chrono::milliseconds(2);
    uint64_t active = 1;
    for (auto _ : state) {
        const PolicyResult result = policy.decide(now, view, active);
        benchmark::DoNotOptimize(result);
        if (result.decision) {
            active = result.decision->model_id;
            policy.record_dispatch(active);
        }
    }
    state.SetItemsProcessed(state.iterations());
    state.SetLabel(shape == FAIR_ONE_LEVEL          ? "one level, fair device time"
                   : shape == ROUND_ROBIN_ONE_LEVEL ? "one level, round robin"
                                                    : "priorities 0..31, fair device time");
}
BENCHMARK(BM_PolicyDecide)
    ->ArgNames({"models", "shape"})
    ->Args({10, FAIR_ONE_LEVEL})
    ->Args({100, FAIR_ONE_LEVEL})
    ->Args({100, ROUND_ROBIN_ONE_LEVEL})
    ->Args({100, SPREAD_PRIORITIES})
    ->Args({1000, FAIR_ONE_LEVEL});

// Closed loop: each completed request enqueues the next one of the same model.
struct Loop {
    ModelScheduler* scheduler = nullptr;
    std::atomic<uint64_t> decisions{0};
    std::atomic<bool> running{true};
    std::mutex mutex;
    std::condition_variable reached;
    std::atomic<uint64_t> target{std::numeric_limits<uint64_t>::max()};

    void submit(uint64_t model_id) {
        InferRequest request;
        request.model_id = model_id;
        request.frames = 1;
        request.run = [this, model_id](size_t) -> int64_t {
            const uint64_t done = decisions.fetch_add(1) + 1;
            if (running.load()) submit(model_id);
            if (done >= target.load()) {
                std::lock_guard lock(mutex);
                reached.notify_all();
            }
            return 1000;  // 1 us of "device time", so fairness has something to weigh
        };
        request.cancel = [](corun::Status) {};
        scheduler->enqueue(std::move(request)).ignore();
    }
};

void BM_SchedulerDecisions(benchmark::State& state) {
    const auto count = static_cast<uint64_t>(state.range(0));
    PolicyOptions options;
    options.fair_device_time = state.range(1) != 0;
    const bool recording = state.range(2) != 0;
    ModelScheduler scheduler({DeviceSlots{1}}, options);
    Loop loop;
    loop.scheduler = &scheduler;
    std::mt19937 random(7);
    for (uint64_t id = 1; id <= count; ++id) {
        ModelSchedulingParams params;
        params.priority = PRIORITY_NORMAL;
        scheduler.add_model(id, "model" + std::to_string(id), params).ignore();
    }
    for (uint64_t id = 1; id <= count; ++id) {
        loop.submit(id);
        loop.submit(id);  // two frames queued per model, as an async queue of 2 keeps
    }
    constexpr uint64_t BATCH = 2000;
    if (recording) scheduler.start_recording({}).ignore();
    for (auto _ : state) {
        if (recording) {
            // A fresh recording per batch (bursts, frames and queue samples: 4 events a frame):
            // never full, so every decision pays the whole recording.
            state.PauseTiming();
            benchmark::DoNotOptimize(scheduler.stop_recording());
            scheduler.start_recording({}).ignore();
            state.ResumeTiming();
        }
        std::unique_lock lock(loop.mutex);
        loop.target = loop.decisions.load() + BATCH;
        loop.reached.wait(lock, [&] { return loop.decisions.load() >= loop.target; });
    }
    loop.running = false;
    scheduler.stop();
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * BATCH));
    // Seconds per decision (printed with an SI prefix: "4.2us").
    state.counters["per_decision"] =
        benchmark::Counter(static_cast<double>(state.iterations() * BATCH),
                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_SchedulerDecisions)
    ->ArgNames({"models", "fair", "recording"})
    ->Args({1, 1, 0})
    ->Args({1, 1, 1})
    ->Args({100, 1, 0})
    ->Args({100, 1, 1})
    ->Args({100, 0, 0})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
