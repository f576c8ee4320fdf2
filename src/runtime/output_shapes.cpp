#include "runtime/output_shapes.hpp"

#include <algorithm>

namespace corun::runtime {
namespace {

constexpr size_t kMaxCachedOutputShapes = 256;

bool any_dynamic(const std::vector<std::vector<int64_t>>& all_dims) {
    return std::any_of(all_dims.begin(), all_dims.end(), [](const auto& dims) {
        return std::any_of(dims.begin(), dims.end(), [](int64_t d) { return d < 0; });
    });
}

// What follows from the declarations alone: declared or set_shape dims, and the batch.
std::vector<std::vector<int64_t>> declared_output_dims(const LoadedInferModel& model) {
    std::vector<std::vector<int64_t>> output_dims;
    // An output's dynamic batch dimension follows the inputs' (native_dims holds 1 for it only
    // as a placeholder), so only what set_shape declared counts as fixed here.
    for (const auto& stream : model.outputs) {
        output_dims.push_back(stream->shape_set ? stream->native_dims : stream->declared.dims);
    }
    // A dynamic first dimension of the inputs is their batch; an output's dynamic first
    // dimension follows it when the model names both alike ("N" and "N", or both unnamed, as
    // converters leave them). A differently named one ("M" after a Concat of "N" rows) does
    // not: one zero-filled frame finds it.
    std::optional<int64_t> input_batch;
    std::string batch_name;
    bool inputs_agree = true;
    for (const auto& stream : model.inputs) {
        if (stream->declared.dims.empty() || stream->declared.dims[0] >= 0) continue;
        if (input_batch && *input_batch != stream->native_dims[0]) inputs_agree = false;
        input_batch = stream->native_dims[0];
        batch_name = stream->declared.dim_names.empty() ? "" : stream->declared.dim_names[0];
    }
    for (size_t i = 0; i < output_dims.size(); ++i) {
        auto& dims = output_dims[i];
        const auto& names = model.outputs[i]->declared.dim_names;
        const std::string name = names.empty() ? "" : names[0];
        if (input_batch && inputs_agree && !dims.empty() && dims[0] < 0 && name == batch_name) {
            dims[0] = *input_batch;
        }
    }
    return output_dims;
}

}  // namespace

Expected<std::vector<std::vector<int64_t>>> resolve_output_dims(
    LoadedInferModel& model, const std::vector<devices::TensorSpec>& native_inputs,
    const devices::FrameLimits& limits) {
    std::vector<std::vector<int64_t>> output_dims = declared_output_dims(model);
    if (!any_dynamic(output_dims)) return output_dims;

    std::vector<std::vector<int64_t>> input_dims;
    for (const auto& input : native_inputs) input_dims.push_back(input.dims);
    std::vector<std::vector<int64_t>> found;
    {
        std::lock_guard lock(model.output_dims_mutex);
        auto cached = model.output_dims_by_input_dims.find(input_dims);
        if (cached != model.output_dims_by_input_dims.end()) found = cached->second;
    }
    if (found.empty()) {
        CORUN_TRY(found, model.backend_model->infer_output_dims(native_inputs, limits));
        std::lock_guard lock(model.output_dims_mutex);
        // A model configured for ever new shapes (text lines of every width) must not grow
        // this without bound: past the cap it starts over, at the cost of one frame each.
        if (model.output_dims_by_input_dims.size() >= kMaxCachedOutputShapes) {
            model.output_dims_by_input_dims.clear();
        }
        model.output_dims_by_input_dims[input_dims] = found;
    }
    for (size_t i = 0; i < found.size() && i < model.outputs.size(); ++i) {
        // Dimensions the user declared win over what the zero-filled frame gave.
        if (model.outputs[i]->shape_set) {
            const auto& fixed = model.outputs[i]->native_dims;
            for (size_t d = 0; d < fixed.size() && d < found[i].size(); ++d) {
                if (fixed[d] >= 0) found[i][d] = fixed[d];
            }
        }
    }
    return found;
}

std::optional<std::vector<devices::TensorSpec>> fixed_native_inputs(const LoadedInferModel& model) {
    std::vector<devices::TensorSpec> inputs;
    for (const auto& stream : model.inputs) {
        for (int64_t dim : stream->native_dims) {
            if (dim < 0) return std::nullopt;
        }
        inputs.push_back({stream->declared.name, stream->native.type, stream->native_dims});
    }
    return inputs;
}

std::vector<int64_t> current_output_dims(LoadedInferModel& model, size_t output_index) {
    std::vector<std::vector<int64_t>> declared = declared_output_dims(model);
    if (!any_dynamic({declared[output_index]})) return declared[output_index];
    auto inputs = fixed_native_inputs(model);
    // A model whose inputs cannot be fed as they are (a type corun has no FormatType for, a
    // sequence) cannot run a frame either: its output shapes stay as declared.
    const bool feedable =
        inputs && std::all_of(model.inputs.begin(), model.inputs.end(), [](const auto& stream) {
            return stream->declared.is_tensor && stream->native.type != FormatType::AUTO &&
                   stream->native.type != FormatType::STRING;
        });
    if (!feedable) return declared[output_index];
    auto resolved = resolve_output_dims(model, *inputs, devices::FrameLimits{});
    if (!resolved || resolved->size() <= output_index) return declared[output_index];
    return (*resolved)[output_index];
}

}  // namespace corun::runtime
