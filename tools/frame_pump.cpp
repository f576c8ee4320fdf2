#include "frame_pump.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <latch>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "cli_support.hpp"
#include "common/half_precision.hpp"

namespace corun::tools {
namespace {

using Clock = std::chrono::steady_clock;

uint64_t add_saturating(uint64_t a, uint64_t b) {
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}
uint64_t multiply_saturating(uint64_t a, uint64_t b) {
    return b != 0 && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

}  // namespace

namespace {

template <typename T, typename Distribution>
void fill_values(std::vector<uint8_t>& buffer, Distribution values, std::mt19937& random) {
    for (size_t i = 0; i + sizeof(T) <= buffer.size(); i += sizeof(T)) {
        const T value = static_cast<T>(values(random));
        std::memcpy(buffer.data() + i, &value, sizeof(T));
    }
}

}  // namespace

// Random values a model takes without complaint: reals in [0, 1), small non-negative integers
// (token ids, indices), bools 0/1, and for strings empty elements.
void fill_random(std::vector<uint8_t>& buffer, FormatType type, std::mt19937& random) {
    std::uniform_real_distribution<float> reals(0.0f, 1.0f);
    std::uniform_int_distribution<int> small(0, 99);
    switch (type) {
        case FormatType::FLOAT32:
            fill_values<float>(buffer, reals, random);
            break;
        case FormatType::FLOAT64:
            fill_values<double>(buffer, reals, random);
            break;
        case FormatType::FLOAT16:
            for (size_t i = 0; i + 2 <= buffer.size(); i += 2) {
                const uint16_t half = common::float_to_half(reals(random));
                std::memcpy(buffer.data() + i, &half, 2);
            }
            break;
        case FormatType::BFLOAT16:
            for (size_t i = 0; i + 2 <= buffer.size(); i += 2) {
                const uint16_t half = common::float_to_bfloat16(reals(random));
                std::memcpy(buffer.data() + i, &half, 2);
            }
            break;
        case FormatType::INT64:
            fill_values<int64_t>(buffer, small, random);
            break;
        case FormatType::UINT64:
            fill_values<uint64_t>(buffer, small, random);
            break;
        case FormatType::INT32:
            fill_values<int32_t>(buffer, small, random);
            break;
        case FormatType::UINT32:
            fill_values<uint32_t>(buffer, small, random);
            break;
        case FormatType::INT16:
            fill_values<int16_t>(buffer, small, random);
            break;
        case FormatType::BOOL:
            fill_values<uint8_t>(buffer, std::uniform_int_distribution<int>(0, 1), random);
            break;
        case FormatType::STRING:
            // Each element: a 4-byte length of 0.
            std::fill(buffer.begin(), buffer.end(), 0);
            break;
        default: {
            std::uniform_int_distribution<int> values(0, 255);
            for (auto& byte : buffer) byte = static_cast<uint8_t>(values(random));
            break;
        }
    }
}

namespace {

// A configured model's async queue as a FrameTarget.
class ConfiguredModelTarget : public FrameTarget {
public:
    ConfiguredModelTarget(ConfiguredInferModel& model,
                          std::vector<ConfiguredInferModel::Bindings>& slots)
        : model_(model), slots_(slots) {}
    size_t slot_count() const override { return slots_.size(); }
    Status wait_until_ready() override {
        return model_.wait_for_async_ready(std::chrono::seconds(60));
    }
    Expected<std::function<void()>> submit(size_t slot,
                                           std::function<void(const PumpedFrame&)> done) override {
        auto job = model_.run_async(slots_[slot],
                                    [done = std::move(done)](const AsyncInferCompletionInfo& info) {
                                        done(PumpedFrame{info.status, info.timing});
                                    });
        if (!job) return job.status();
        auto waiting = std::make_shared<AsyncInferJob>(job.release());
        return std::function<void()>(
            [waiting] { waiting->wait(std::chrono::milliseconds::max()).ignore(); });
    }

private:
    ConfiguredInferModel& model_;
    std::vector<ConfiguredInferModel::Bindings>& slots_;
};

// A configured model run with the blocking run() on the pumping thread: one frame at a time.
class SynchronousModelTarget : public FrameTarget {
public:
    SynchronousModelTarget(ConfiguredInferModel& model,
                           std::vector<ConfiguredInferModel::Bindings>& slots)
        : model_(model), slots_(slots) {}
    size_t slot_count() const override { return 1; }
    Status wait_until_ready() override { return Status::ok(); }
    Expected<std::function<void()>> submit(size_t slot,
                                           std::function<void(const PumpedFrame&)> done) override {
        const auto started = Clock::now();
        Status status = model_.run(slots_[slot], std::chrono::seconds(60));
        InferTiming timing;
        timing.total_ns =
            std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - started).count();
        done(PumpedFrame{std::move(status), timing});
        return std::function<void()>([] {});
    }

private:
    ConfiguredInferModel& model_;
    std::vector<ConfiguredInferModel::Bindings>& slots_;
};

constexpr std::chrono::milliseconds REFUSED_BACKOFF{1};

bool is_refusal(StatusCode code) {
    return code == StatusCode::DEADLINE_EXCEEDED || code == StatusCode::QUEUE_IS_FULL;
}

}  // namespace

Expected<PumpResult> pump_frames(ConfiguredInferModel& model,
                                 std::vector<ConfiguredInferModel::Bindings>& slots,
                                 const PumpOptions& options) {
    if (options.synchronous) {
        SynchronousModelTarget target(model, slots);
        return pump_target(target, options);
    }
    ConfiguredModelTarget target(model, slots);
    return pump_target(target, options);
}

Expected<PumpResult> pump_target(FrameTarget& target, const PumpOptions& options) {
    const size_t slot_count = target.slot_count();
    if (slot_count == 0) return Status(StatusCode::INVALID_ARGUMENT, "pump_frames: no bindings");
    if (options.frames == 0 && options.seconds <= 0) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "give a frame count or a time to run (e.g. --frames-count 100 or "
                      "--time-to-run 5)");
    }
    if (options.framerate < 0) {
        return Status(StatusCode::INVALID_ARGUMENT, "pump_frames: the frame rate is negative");
    }
    PumpResult result;
    std::mutex result_mutex;
    Status first_error;
    // Closed-loop clients: one binding slot each.
    const size_t clients =
        options.in_flight > 0 ? std::min<size_t>(options.in_flight, slot_count) : slot_count;
    std::vector<std::function<void()>> jobs(clients);   // waits for the slot's frame
    std::vector<Clock::time_point> completed(clients);  // each client's last completion
    // Whether each client's last frame was refused: a client keeping the queue full sends its
    // next one after REFUSED_BACKOFF, not at once, so that a model refusing every frame (an SLO
    // it cannot meet, every placement full) is not driven in a busy loop.
    std::vector<uint8_t> refused_last(clients, 0);
    const auto think = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(std::max(0.0, options.think_seconds)));
    const auto start = Clock::now();
    auto last_progress = start;
    LatencyHistogram recent;  // frames completed since the last progress report
    auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
    const auto period = options.framerate > 0
                            ? std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(1.0 / options.framerate))
                            : Clock::duration::zero();
    auto next_due = start;
    auto stopped = [&] { return options.stop != nullptr && options.stop->load(); };

    uint64_t submitted = 0;
    while ((options.frames == 0 || submitted < options.frames) &&
           (options.seconds <= 0 || elapsed() < options.seconds) && !stopped()) {
        if (period > Clock::duration::zero()) {
            // Sleep until the next frame is due, in short steps so the stop flag and the end
            // of the run are noticed.
            const auto end = options.seconds > 0
                                 ? start + std::chrono::duration_cast<Clock::duration>(
                                               std::chrono::duration<double>(options.seconds))
                                 : Clock::time_point::max();
            while (Clock::now() < next_due && Clock::now() < end && !stopped()) {
                std::this_thread::sleep_until(
                    std::min({next_due, end, Clock::now() + std::chrono::milliseconds(100)}));
            }
            if (Clock::now() >= end || stopped()) break;
        }
        const size_t slot = submitted % clients;
        if (jobs[slot]) {
            jobs[slot]();
            jobs[slot] = nullptr;
            if (think > Clock::duration::zero()) {
                Clock::time_point resume;
                {
                    std::lock_guard lock(result_mutex);
                    resume = completed[slot] + think;
                }
                while (Clock::now() < resume && !stopped() &&
                       (options.seconds <= 0 || elapsed() < options.seconds)) {
                    std::this_thread::sleep_until(
                        std::min(resume, Clock::now() + std::chrono::milliseconds(100)));
                }
                if (stopped() || (options.seconds > 0 && elapsed() >= options.seconds)) break;
            }
        }
        bool back_off = false;
        {
            std::lock_guard lock(result_mutex);
            if (!first_error.is_ok()) break;
            back_off = refused_last[slot] != 0 && period == Clock::duration::zero();
        }
        if (back_off) std::this_thread::sleep_for(REFUSED_BACKOFF);
        CORUN_RETURN_IF_ERROR(target.wait_until_ready());
        if (period > Clock::duration::zero()) {
            // Fell behind by more than a period (the queue was full): restart the schedule.
            const auto now = Clock::now();
            next_due = now - next_due > period ? now + period : next_due + period;
        }
        auto job = target.submit(slot, [&, slot](const PumpedFrame& info) {
            std::lock_guard lock(result_mutex);
            completed[slot] = Clock::now();
            refused_last[slot] = 0;
            if (!info.status.is_ok()) {
                if (options.count_refusals && is_refusal(info.status.code())) {
                    ++result.refused[info.status.code()];
                    refused_last[slot] = 1;
                } else if (first_error.is_ok()) {
                    first_error = info.status;
                }
                return;
            }
            ++result.frames;
            const auto nanoseconds = [](int64_t ns) {
                return static_cast<uint64_t>(std::max<int64_t>(ns, 0));
            };
            result.total.record(nanoseconds(info.timing.total_ns));
            result.device.record(nanoseconds(info.timing.device_ns));
            result.conversion.record(nanoseconds(info.timing.conversion_ns));
            recent.record(nanoseconds(info.timing.total_ns));
            if (options.keep_every_frame) {
                result.total_ms.push_back(static_cast<double>(info.timing.total_ns) / 1e6);
                result.device_ms.push_back(static_cast<double>(info.timing.device_ns) / 1e6);
                result.queue_ms.push_back(static_cast<double>(info.timing.queue_ns) / 1e6);
            }
        });
        if (!job) {
            if (!options.count_refusals || !is_refusal(job.status().code())) return job.status();
            std::lock_guard lock(result_mutex);  // refused before it was queued
            ++result.refused[job.status().code()];
            completed[slot] = Clock::now();
            refused_last[slot] = 1;
        } else {
            jobs[slot] = job.release();
        }
        ++submitted;
        if (options.on_progress && Clock::now() - last_progress >= std::chrono::seconds(1)) {
            const auto now = Clock::now();
            const double interval = std::chrono::duration<double>(now - last_progress).count();
            last_progress = now;
            PumpProgress progress;
            {
                std::lock_guard lock(result_mutex);
                progress.frames_done = result.frames;
                progress.recent_fps =
                    interval > 0 ? static_cast<double>(recent.count()) / interval : 0;
                progress.recent_p50_ms = recent.percentile_ms(50);
                recent.clear();
            }
            progress.seconds = elapsed();
            options.on_progress(progress);
        }
    }
    for (auto& job : jobs) {
        if (job) job();
    }
    result.seconds = elapsed();
    if (!first_error.is_ok()) return first_error;
    return result;
}

std::string model_stem(const std::string& path) {
    return std::filesystem::path(path).stem().string();
}

Expected<std::unique_ptr<PreparedModel>> prepare_model(VDevice& vdevice, const ModelSetup& setup) {
    // Callers name the model (with its path) as context, so these messages do not repeat it.
    std::error_code error;
    const auto status = std::filesystem::status(setup.path, error);
    if (!std::filesystem::exists(status)) {
        return Status(StatusCode::NOT_FOUND, "the model file does not exist (give an .onnx file)");
    }
    if (!std::filesystem::is_regular_file(status)) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      std::string(std::filesystem::is_directory(status) ? "a directory"
                                                                        : "not a regular file") +
                          ", not a model file (give an .onnx file)");
    }
    auto prepared = std::make_unique<PreparedModel>();
    prepared->path = setup.path;
    prepared->setup = setup;
    CORUN_TRY(prepared->model, vdevice.create_infer_model(setup.path));
    InferModel& model = *prepared->model;
    CORUN_RETURN_IF_ERROR(model.set_batch_size(setup.batch_size));
    for (const auto& text : setup.shapes) {
        CORUN_TRY(auto shape, parse_shape_option(text));
        auto stream = model.input(shape.first);
        if (!stream) {
            if (setup.skip_missing_inputs) continue;
            return stream.status();
        }
        CORUN_RETURN_IF_ERROR(stream->set_shape(shape.second));
    }
    CORUN_TRY(auto configured, model.configure());
    prepared->configured.emplace(std::move(configured));
    CORUN_TRY(prepared->queue_size, prepared->configured->get_async_queue_size());

    // One set of buffers per queue entry, so frames in flight never share memory.
    std::mt19937 random(1234);
    prepared->storage.reserve(prepared->queue_size *
                              (model.inputs().size() + model.outputs().size()));
    for (size_t slot = 0; slot < prepared->queue_size; ++slot) {
        CORUN_TRY(auto bindings, prepared->configured->create_bindings());
        if (slot == 0) {
            CORUN_TRY(const FrameBytes frame, frame_bytes(bindings, model));
            CORUN_RETURN_IF_ERROR(check_frame_memory(frame, prepared->queue_size));
        }
        for (const auto& stream : model.inputs()) {
            CORUN_TRY(auto bound, bindings.input(stream.name()));
            CORUN_TRY(auto buffer, allocate_frame_buffer(stream.name(), buffer_bytes(bound, true)));
            prepared->storage.push_back(std::move(buffer));
            fill_random(prepared->storage.back(), stream.format().type, random);
            CORUN_RETURN_IF_ERROR(bound.set_buffer(MemoryView::of(prepared->storage.back())));
        }
        for (const auto& stream : model.outputs()) {
            CORUN_TRY(auto bound, bindings.output(stream.name()));
            CORUN_TRY(auto buffer,
                      allocate_frame_buffer(stream.name(), buffer_bytes(bound, false)));
            prepared->storage.push_back(std::move(buffer));
            CORUN_RETURN_IF_ERROR(bound.set_buffer(MemoryView::of(prepared->storage.back())));
        }
        prepared->slots.push_back(std::move(bindings));
    }
    return prepared;
}

Expected<FrameBytes> frame_bytes(ConfiguredInferModel::Bindings& bindings,
                                 const InferModel& model) {
    FrameBytes frame;
    auto add = [&](const std::string& stream, uint64_t bytes) {
        frame.total = add_saturating(frame.total, bytes);
        if (bytes > frame.largest || frame.largest_stream.empty()) {
            frame.largest = bytes;
            frame.largest_stream = stream;
        }
    };
    for (const auto& stream : model.inputs()) {
        CORUN_TRY(auto bound, bindings.input(stream.name()));
        add("input '" + stream.name() + "'", bound.get_frame_size());
    }
    for (const auto& stream : model.outputs()) {
        CORUN_TRY(auto bound, bindings.output(stream.name()));
        add("output '" + stream.name() + "'", bound.get_frame_size());
    }
    return frame;
}

Status check_frame_memory(const FrameBytes& frame, size_t slots) {
    const uint64_t needed = multiply_saturating(frame.total, slots);
    const long pages = sysconf(_SC_PHYS_PAGES);
    const long page_size = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page_size <= 0) return Status::ok();  // unknown: let the allocation tell
    const uint64_t physical =
        multiply_saturating(static_cast<uint64_t>(pages), static_cast<uint64_t>(page_size));
    if (needed <= physical) return Status::ok();
    auto bytes_text = [](uint64_t bytes) {
        return bytes == UINT64_MAX ? std::string("more than 2^64") : std::to_string(bytes);
    };
    return Status(StatusCode::OUT_OF_HOST_MEMORY,
                  "one frame of the model takes " + bytes_text(frame.total) +
                      " bytes (the largest stream is " + frame.largest_stream + ", " +
                      bytes_text(frame.largest) + " bytes); its " + std::to_string(slots) +
                      " queue slot(s) need " + bytes_text(needed) +
                      " bytes, more than this machine's memory (" + std::to_string(physical) +
                      " bytes); fix its dimensions with --shape or use a smaller --batch-size");
}

uint64_t buffer_bytes(const ConfiguredInferModel::Bindings::InferStream& bound, bool is_input) {
    if (bound.format().type != FormatType::STRING) return bound.get_frame_size();
    uint64_t elements = 1;
    for (int64_t dim : bound.shape()) elements *= static_cast<uint64_t>(dim < 0 ? 0 : dim);
    return 4 * elements + (is_input ? 0 : STRING_OUTPUT_ROOM);
}

Expected<std::vector<uint8_t>> allocate_frame_buffer(const std::string& stream, uint64_t bytes) {
    try {
        if (bytes > std::vector<uint8_t>().max_size()) throw std::bad_alloc();
        return std::vector<uint8_t>(static_cast<size_t>(bytes));
    } catch (const std::exception& error) {  // bad_alloc, length_error
        return Status(StatusCode::OUT_OF_HOST_MEMORY,
                      "cannot allocate " + std::to_string(bytes) + " bytes for '" + stream +
                          "': " + error.what() + "; fix its dimensions with --shape");
    }
}

std::vector<Expected<PumpResult>> pump_together(
    std::vector<PumpTask>& tasks,
    const std::function<void(const std::vector<PumpProgress>&)>& on_tick) {
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<PumpProgress> progress(tasks.size());
    std::vector<std::optional<Expected<PumpResult>>> results(tasks.size());
    size_t finished = 0;
    std::latch start(static_cast<std::ptrdiff_t>(tasks.size()));
    std::atomic<bool> failed{false};  // one pump failed: the others stop too
    std::vector<std::thread> threads;
    threads.reserve(tasks.size());
    for (size_t i = 0; i < tasks.size(); ++i) {
        threads.emplace_back([&, i] {
            PumpOptions options = tasks[i].options;
            if (options.stop == nullptr) options.stop = &failed;
            options.on_progress = [&, i](const PumpProgress& latest) {
                std::lock_guard lock(mutex);
                progress[i] = latest;
            };
            start.arrive_and_wait();
            auto result = tasks[i].target != nullptr ? pump_target(*tasks[i].target, options)
                                                     : pump_frames(*tasks[i].model->configured,
                                                                   tasks[i].model->slots, options);
            if (!result) failed = true;
            std::lock_guard lock(mutex);
            results[i].emplace(std::move(result));
            ++finished;
            changed.notify_all();
        });
    }
    {
        // Ticks a little after each whole second, when the pumps have just reported.
        auto next_tick = Clock::now() + std::chrono::milliseconds(1200);
        std::unique_lock lock(mutex);
        while (finished < tasks.size()) {
            changed.wait_until(lock, next_tick, [&] { return finished == tasks.size(); });
            next_tick += std::chrono::seconds(1);
            if (on_tick && finished < tasks.size()) {
                const auto snapshot = progress;
                lock.unlock();
                on_tick(snapshot);
                lock.lock();
            }
        }
    }
    for (auto& thread : threads) thread.join();
    std::vector<Expected<PumpResult>> all;
    all.reserve(tasks.size());
    for (auto& result : results) all.push_back(std::move(*result));
    return all;
}

}  // namespace corun::tools
