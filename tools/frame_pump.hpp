// Keeps a ConfiguredInferModel's async queue full (or feeds it at a fixed frame rate) for a number
// of frames or seconds and records each frame's latency; `corun run`, `run2` and `benchmark`
// drive models with it. Also: loading a model with random input buffers for every queue slot,
// and driving several models at once, each from its own thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "corun/corun.hpp"
#include "latency_histogram.hpp"

namespace corun::tools {

struct PumpProgress {
    uint64_t frames_done = 0;
    double seconds = 0;
    // Since the previous progress report: frames per second and median latency (run_async()
    // to completion); 0 when no frame completed meanwhile.
    double recent_fps = 0;
    double recent_p50_ms = 0;
};

struct PumpOptions {
    uint64_t frames = 0;  // stop after this many frames (0 = no limit)
    double seconds = 0;   // stop after this long (0 = no limit)
    // Frames submitted per second (a camera, say); 0 = keep the queue full. A pump that falls
    // more than one period behind (the queue was full) restarts its schedule instead of sending
    // a burst to catch up.
    double framerate = 0;
    // Frames in flight at most (0 = one per binding slot): closed-loop clients, each sending
    // its next frame only after its last one completed (and, with think_seconds, that long
    // after).
    uint32_t in_flight = 0;
    double think_seconds = 0;
    // Stops the pump early once set (another pump failed, the user pressed Ctrl-C, ...).
    const std::atomic<bool>* stop = nullptr;
    std::function<void(const PumpProgress&)> on_progress;  // about once a second
    bool keep_every_frame = false;  // also fill PumpResult::total_ms, device_ms and queue_ms
    // Frames refused for their deadline (DEADLINE_EXCEEDED: a model with a latency SLO) or a
    // full queue (QUEUE_IS_FULL) are counted in PumpResult::refused and the pump goes on;
    // without it the first refused frame stops the pump like any failure.
    bool count_refusals = false;
    // A camera loop: each frame with the blocking run() on the pumping thread, one at a time
    // (as a loop around a bare session's Run() does), instead of run_async(). Its frames'
    // device and conversion times are not reported (run() returns none); total is run()'s.
    bool synchronous = false;
};

struct PumpResult {
    uint64_t frames = 0;
    double seconds = 0;
    // Fixed memory, however long the run.
    LatencyHistogram total;       // run_async() to completion
    LatencyHistogram device;      // device execution only
    LatencyHistogram conversion;  // host-side format conversion
    // Every frame's figures in milliseconds, only with PumpOptions::keep_every_frame (they grow
    // by 16 bytes a frame: for short benchmark rounds that post-process each frame).
    std::vector<double> total_ms;
    std::vector<double> device_ms;
    std::vector<double> queue_ms;  // waiting for the device
    // With PumpOptions::count_refusals: frames refused, by reason (not in `frames`).
    std::map<StatusCode, uint64_t> refused;
};

// One frame as a pump sees it complete.
struct PumpedFrame {
    Status status;
    InferTiming timing;
};

// What a pump drives: a configured model (pump_frames) or a routed one (routed_pump.hpp). Its
// frames use binding slots 0..slot_count()-1, a slot being reused only after its frame completed.
class FrameTarget {
public:
    virtual ~FrameTarget() = default;
    virtual size_t slot_count() const = 0;
    // Blocks until one more frame may be sent.
    virtual Status wait_until_ready() = 0;
    // Sends slot `slot`'s frame; `done` runs exactly once, when it completed or was refused.
    // Returns what blocks until `done` has run.
    virtual Expected<std::function<void()>> submit(
        size_t slot, std::function<void(const PumpedFrame&)> done) = 0;
};

// Drives `target` as pump_frames drives a configured model.
Expected<PumpResult> pump_target(FrameTarget& target, const PumpOptions& options);

// `slots` are the bindings to cycle through, one per queue entry; each slot's buffers are
// reused only after its previous frame completed. Stops at the first failed frame.
Expected<PumpResult> pump_frames(ConfiguredInferModel& model,
                                 std::vector<ConfiguredInferModel::Bindings>& slots,
                                 const PumpOptions& options);

// How to load one model for pumping.
struct ModelSetup {
    std::string path;
    uint16_t batch_size = 0;  // 0 = let corun pick
    // "NAME=D0,D1,..." fixing dynamic input dims (native order).
    std::vector<std::string> shapes;
    // true: a shape naming an input the model does not have is skipped (one --shape list for
    // several models); false: it is an error.
    bool skip_missing_inputs = false;
};

// A configured model with one set of random input and output buffers per async queue entry.
struct PreparedModel {
    std::string path;
    ModelSetup setup;  // what it was prepared from (to prepare it again on another device)
    std::shared_ptr<InferModel> model;
    std::optional<ConfiguredInferModel> configured;
    size_t queue_size = 0;
    std::vector<ConfiguredInferModel::Bindings> slots;
    std::vector<std::vector<uint8_t>> storage;  // never resized after the bindings point into it

    const std::string& name() const { return model->info().name; }
};

// NOT_FOUND when the file does not exist, INVALID_ARGUMENT when it is a directory;
// OUT_OF_HOST_MEMORY when its buffers do not fit (check_frame_memory); otherwise what loading
// and configuring says. The messages do not name the path: callers add it as context.
Expected<std::unique_ptr<PreparedModel>> prepare_model(VDevice& vdevice, const ModelSetup& setup);

// Bytes of one frame of every input and output of a model together, and its largest stream.
struct FrameBytes {
    uint64_t total = 0;  // UINT64_MAX when the sum overflows
    uint64_t largest = 0;
    std::string largest_stream;  // "input 'x'"
};
Expected<FrameBytes> frame_bytes(ConfiguredInferModel::Bindings& bindings, const InferModel& model);

// Refuses, before anything is allocated, buffers for `slots` frames that could never fit:
// OUT_OF_HOST_MEMORY when they need more than this machine's physical memory (a model whose
// input is [1, 1000000, 1000000, 1000] floats takes 4 PB a frame), naming the sizes and the fix.
Status check_frame_memory(const FrameBytes& frame, size_t slots);

// A zeroed buffer of `bytes` for the input or output `stream`; OUT_OF_HOST_MEMORY, naming both,
// when the allocation fails (never std::bad_alloc).
Expected<std::vector<uint8_t>> allocate_frame_buffer(const std::string& stream, uint64_t bytes);

// Bytes of the buffer a tool binds to `bound`: its frame size, except for STRING streams, whose
// size varies: an input of empty strings (a 4-byte length of 0 per element), an output with
// room for STRING_OUTPUT_ROOM bytes of text besides the lengths.
inline constexpr uint64_t STRING_OUTPUT_ROOM = 1 << 20;
uint64_t buffer_bytes(const ConfiguredInferModel::Bindings::InferStream& bound, bool is_input);

// One model to drive in pump_together().
struct PumpTask {
    PreparedModel* model = nullptr;
    FrameTarget* target = nullptr;  // instead of `model` (a routed model)
    PumpOptions options;            // on_progress is replaced; the progress goes to on_tick instead
};

// Runs every task on its own thread, all starting at the same moment, and waits for all. When
// one fails, the others stop early (unless their options name another stop flag).
// `on_tick` (optional) runs on the calling thread about once a second with each task's latest
// progress, in task order.
std::vector<Expected<PumpResult>> pump_together(
    std::vector<PumpTask>& tasks,
    const std::function<void(const std::vector<PumpProgress>&)>& on_tick = nullptr);

// Random frame data of `type`: floats in [0, 1), integers in 0..99 (plausible ids), bytes 0..255.
void fill_random(std::vector<uint8_t>& buffer, FormatType type, std::mt19937& random);

// Model file name without folders and extension ("nanodet" for models/nanodet.onnx): the key
// the npu-sim profile uses.
std::string model_stem(const std::string& path);

}  // namespace corun::tools
