// The device plug-in interface. A device loads models and executes bursts of frames of one
// model; the scheduler and runtime know devices only through this (ONNX Runtime's
// execution-provider idea: the core does not know which devices exist).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "corun/expected.hpp"
#include "corun/format.hpp"
#include "corun/vdevice.hpp"
#include "devices/frame_watchdog.hpp"

namespace corun::devices {

// One tensor as the model takes it natively, every dimension fixed.
struct TensorSpec {
    std::string name;
    FormatType type = FormatType::FLOAT32;
    std::vector<int64_t> dims;
    size_t byte_size() const;
};

// A tensor as the model declares it: dims may be -1 (dynamic), with their symbolic names.
struct DeclaredTensor {
    std::string name;
    FormatType type = FormatType::AUTO;  // AUTO: an element type corun cannot bind
    // "float", "uint8", "float16", ...; for a non-tensor stream the whole ONNX type,
    // "seq(tensor(float))", "map(int64,tensor(float))".
    std::string onnx_type_name;
    bool is_tensor = true;  // false: a sequence or map, which corun cannot bind
    bool optional = false;  // optional(tensor(T)): an input may be left unbound
    std::vector<int64_t> dims;
    std::vector<std::string> dim_names;
};

// The content of one file a model names as external data, keyed by the location written in
// the model ("weights.bin"). Devices never open such files themselves: the runtime reads them
// (from the model's own folder, never outside it) or a client sends them to corund.
struct ExternalDataFile {
    std::string location;
    std::vector<uint8_t> content;
};

// What a device loads: the model's bytes, its external data, and limits on what loading may
// build from them.
struct ModelSource {
    std::span<const uint8_t> onnx;
    std::string name;  // labels the model in messages
    std::vector<ExternalDataFile> external_data;
    // The largest tensor constant folding may materialise at load (ONNX Runtime's
    // constant_folding_max_output_size_in_bytes); 0 = the engine's default.
    uint64_t constant_folding_max_bytes = 0;
};

// Native buffers of one frame, in TensorSpec order. A null input is an optional input the
// user left unbound: the device runs the model without it. A zero-size tensor has a non-null
// pointer (to no bytes).
struct FrameBuffers {
    std::vector<const void*> inputs;
    std::vector<void*> outputs;
    // Each buffer's bytes, where the caller knows them: a STRING stream's size varies per
    // frame (an input's is its content, an output's the room there is). Empty: the sizes the
    // specs give.
    std::vector<size_t> input_sizes;
    std::vector<size_t> output_sizes;
};

// What bounds each frame of one execute() call.
struct FrameLimits {
    // A frame running longer is stopped and execute() returns TIMEOUT (a model with an endless
    // Loop must not hold a device slot, or corund, forever).
    std::chrono::nanoseconds time_limit{std::chrono::minutes(10)};  // DEFAULT_FRAME_TIME_LIMIT
    // Frames of a terminated owner are stopped and execute() returns ABORTED. Null: none.
    const FrameTermination* termination = nullptr;
    // A frame of a model above normal priority. A device that shares its cores by itself (the
    // cpu device with execution_slots 0) gives it every core at once: it stops the frames
    // running beside it and runs them again once it is done (docs/SCHEDULER.md).
    bool urgent = false;
};

// A model loaded on one device. Execution must be safe from several threads at once.
class LoadedModel {
public:
    virtual ~LoadedModel() = default;
    virtual const std::vector<DeclaredTensor>& declared_inputs() const = 0;
    virtual const std::vector<DeclaredTensor>& declared_outputs() const = 0;
    // Runs every frame of the burst with the given fixed shapes, each within `limits`. A device
    // that cannot stop a running frame runs it unbounded (the three-argument form).
    virtual Status execute(const std::vector<TensorSpec>& inputs,
                           const std::vector<TensorSpec>& outputs,
                           std::span<const FrameBuffers> frames, const FrameLimits& limits) {
        (void)limits;
        return execute(inputs, outputs, frames);
    }
    // As above with the default limits.
    virtual Status execute(const std::vector<TensorSpec>& inputs,
                           const std::vector<TensorSpec>& outputs,
                           std::span<const FrameBuffers> frames) = 0;
    // Output shapes for the given input shapes, found by running one zero-filled frame within
    // `limits`; used only when the model declares dynamic output dimensions.
    virtual Expected<std::vector<std::vector<int64_t>>> infer_output_dims(
        const std::vector<TensorSpec>& inputs, const FrameLimits& limits) {
        (void)limits;
        return infer_output_dims(inputs);
    }
    virtual Expected<std::vector<std::vector<int64_t>>> infer_output_dims(
        const std::vector<TensorSpec>& inputs) = 0;
};

class Device {
public:
    virtual ~Device() = default;
    virtual DeviceDescription describe() const = 0;
    // Inferences that may execute on this device at the same time.
    virtual uint32_t execution_slots() const = 0;
    // Further slots kept for latency-critical models (priority above normal) only.
    virtual uint32_t latency_slots() const { return 0; }
    // Whether the scheduler runs at most one burst of a model at a time, so that its jobs
    // complete in order even with several slots.
    virtual bool one_burst_per_model() const { return false; }
    // Frames stopped part-way for an urgent frame and run again (FrameLimits::urgent).
    virtual uint64_t frames_preempted() const { return 0; }
    // Frames that yielded their cores to an urgent frame by OS priority and ran on.
    virtual uint64_t frames_yielded() const { return 0; }
    virtual Expected<std::shared_ptr<LoadedModel>> load_model(const ModelSource& source) = 0;
};

}  // namespace corun::devices
