// The C++ side of bench/python_bench.py (issue 14): the same work as the Python side, through the
// C++ API. One thread times FRAMES synchronous run() calls on the otherwise idle device; then
// THREADS threads, each with its own configured copy of MODEL on one VDevice, queue FRAMES
// frames each with run_async (wait_for_async_ready first, a callback that counts). Prints one
// JSON line:
//   {"async_fps": ..., "sync_median_ms": ...}
// Usage: async_throughput_bench MODEL THREADS FRAMES
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "corun/corun.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Frame {
    std::vector<std::vector<uint8_t>> buffers;  // inputs then outputs
    corun::ConfiguredInferModel::Bindings bindings;
};

// Bindings with a zero-filled buffer per stream, as the Python side's create_bindings gives.
Frame make_frame(corun::ConfiguredInferModel& configured) {
    Frame frame{{}, configured.create_bindings().release()};
    for (bool is_input : {true, false}) {
        for (const auto& name :
             is_input ? configured.get_input_names() : configured.get_output_names()) {
            auto stream =
                (is_input ? frame.bindings.input(name) : frame.bindings.output(name)).release();
            frame.buffers.emplace_back(stream.get_frame_size());
            stream.set_buffer(corun::MemoryView::of(frame.buffers.back())).ignore();
        }
    }
    return frame;
}

void fail(const corun::Status& status) {
    std::fprintf(stderr, "async_throughput_bench: %s\n", status.to_string().c_str());
    std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: async_throughput_bench MODEL THREADS FRAMES\n");
        return 2;
    }
    const std::string model_path = argv[1];
    const int threads = std::atoi(argv[2]);
    const int frames = std::atoi(argv[3]);
    corun::VDeviceParams params;
    params.group_id = "async-throughput-bench";
    auto vdevice = corun::VDevice::create(params);
    if (!vdevice) fail(vdevice.status());

    std::vector<corun::ConfiguredInferModel> models;
    for (int i = 0; i < threads; ++i) {
        auto model = (*vdevice)->create_infer_model(model_path);
        if (!model) fail(model.status());
        auto configured = (*model)->configure();
        if (!configured) fail(configured.status());
        models.push_back(configured.release());
    }

    // Synchronous latency first, on an otherwise idle device (as the Python side).
    Frame frame = make_frame(models[0]);
    std::vector<double> latencies;
    for (int i = 0; i < frames; ++i) {
        const auto begin = Clock::now();
        auto status = models[0].run(frame.bindings, corun::INFINITE_TIMEOUT);
        if (!status.is_ok()) fail(status);
        latencies.push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - begin).count());
    }
    std::atomic<int> done{0};
    const auto start = Clock::now();
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            auto& configured = models[t];
            std::vector<Frame> in_flight;
            in_flight.push_back(make_frame(configured));
            in_flight.push_back(make_frame(configured));
            corun::AsyncInferJob last;
            for (int i = 0; i < frames; ++i) {
                auto ready = configured.wait_for_async_ready(corun::INFINITE_TIMEOUT);
                if (!ready.is_ok()) fail(ready);
                auto job = configured.run_async(
                    in_flight[i % 2].bindings,
                    [&](const corun::AsyncInferCompletionInfo&) { done.fetch_add(1); });
                if (!job) fail(job.status());
                if (i + 1 < frames) {
                    job->detach();
                } else {
                    last = job.release();
                }
            }
            last.wait(corun::INFINITE_TIMEOUT).ignore();
        });
    }
    for (auto& worker : workers) worker.join();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

    std::printf("{\"async_fps\": %.3f, \"sync_median_ms\": %.4f, \"frames\": %d}\n",
                done.load() / seconds, corun::bench::median(latencies), done.load());
    return 0;
}
