// The shapes of a model's outputs for the input shapes in force. One rule for configure() and
// for InferModel::output().shape() / get_frame_size() before it, so that a program sizing its
// buffers from the model's streams (the HailoRT way) gets what configure() will expect after
// set_shape() changed a dynamic batch or any other input dimension.
#pragma once

#include <optional>
#include <vector>

#include "devices/device.hpp"
#include "runtime/loaded_infer_model.hpp"

namespace corun::runtime {

// Each output's dimensions: fixed where the model declares them or set_shape declared them; a
// dynamic first dimension follows the inputs' batch when they agree on one; whatever is still
// dynamic comes from running one zero-filled frame of `native_inputs` within `limits` (its
// result is kept per input shapes: asking again costs nothing). An error of that frame is
// returned as it is.
Expected<std::vector<std::vector<int64_t>>> resolve_output_dims(
    LoadedInferModel& model, const std::vector<devices::TensorSpec>& native_inputs,
    const devices::FrameLimits& limits);

// The inputs as configure() will give them to the device, or nullopt while an input still has
// a dynamic dimension.
std::optional<std::vector<devices::TensorSpec>> fixed_native_inputs(const LoadedInferModel& model);

// The dimensions of output `output_index` for the shapes in force now; -1 where they cannot be
// known yet (an input still dynamic, or the model failed to run a zero-filled frame).
std::vector<int64_t> current_output_dims(LoadedInferModel& model, size_t output_index);

}  // namespace corun::runtime
