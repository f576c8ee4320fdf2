#include "runtime/loaded_infer_model.hpp"

#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "onnx/onnx_model_file.hpp"
#include "runtime/external_data.hpp"

namespace corun {
namespace {

bool is_channel_count(int64_t dim) {
    return dim == 1 || dim == 3 || dim == 4;
}

// ONNX has no layout field; image tensors are NCHW by convention, NHWC when the channel count
// sits last (TF exports). `corun.format_order.NAME` metadata overrides the guess.
FormatOrder native_order_of(const devices::DeclaredTensor& tensor,
                            const std::map<std::string, std::string>& metadata) {
    if (auto it = metadata.find("corun.format_order." + tensor.name); it != metadata.end()) {
        if (it->second == "NHWC") return FormatOrder::NHWC;
        if (it->second == "NCHW") return FormatOrder::NCHW;
    }
    switch (tensor.dims.size()) {
        case 2:
            return FormatOrder::NC;
        case 3:
            return FormatOrder::NHW;
        case 4:
            if (is_channel_count(tensor.dims[3]) && !is_channel_count(tensor.dims[1])) {
                return FormatOrder::NHWC;
            }
            return FormatOrder::NCHW;
        default:
            return FormatOrder::FLAT;
    }
}

QuantInfo make_quant(double scale, double zero_point, FormatType type) {
    QuantInfo quant;
    quant.scale = static_cast<float>(scale);
    quant.zero_point = static_cast<float>(zero_point);
    double low = 0, high = 0;
    switch (type) {
        case FormatType::UINT8:
            high = 255;
            break;
        case FormatType::INT8:
            low = -128, high = 127;
            break;
        case FormatType::UINT16:
            high = 65535;
            break;
        default:
            break;
    }
    quant.limvals_min = static_cast<float>((low - zero_point) * scale);
    quant.limvals_max = static_cast<float>((high - zero_point) * scale);
    return quant;
}

// Scale and zero point of an integer stream: from the QuantizeLinear/DequantizeLinear next to
// it in the graph, else from `corun.quant.NAME` metadata ("scale,zero_point").
void detect_quantization(StreamSettings& stream, const onnx::OnnxModelFile* file) {
    stream.quant = QuantInfo{};
    const bool is_integer = stream.native.type == FormatType::UINT8 ||
                            stream.native.type == FormatType::INT8 ||
                            stream.native.type == FormatType::UINT16;
    if (!is_integer) {
        // "none (float stream)", "none (int64 stream)": not a type corun quantizes.
        stream.quant_source = "none (" + stream.declared.onnx_type_name + " stream)";
        return;
    }
    stream.quant_source = "none (identity: the model declares no quantization for this stream)";
    if (file == nullptr) return;
    const std::string& name = stream.declared.name;
    for (const auto& node : file->nodes) {
        const bool dequantizes_input = stream.is_input && node.op_type == "DequantizeLinear" &&
                                       !node.inputs.empty() && node.inputs[0] == name;
        const bool quantizes_output = !stream.is_input && node.op_type == "QuantizeLinear" &&
                                      !node.outputs.empty() && node.outputs[0] == name;
        if (!dequantizes_input && !quantizes_output) continue;
        auto scale = node.inputs.size() > 1 ? file->scalar_constant(node.inputs[1]) : std::nullopt;
        auto zero_point = node.inputs.size() > 2 && !node.inputs[2].empty()
                              ? file->scalar_constant(node.inputs[2])
                              : std::optional<double>(0.0);
        if (scale && zero_point) {
            stream.quant = make_quant(*scale, *zero_point, stream.native.type);
            stream.quant_source = node.op_type + " '" + node.name + "' at the " +
                                  (stream.is_input ? "input" : "output");
        } else {
            stream.quant_source = node.op_type + " '" + node.name +
                                  "' uses per-axis or computed parameters; corun converts this "
                                  "stream with an identity mapping";
        }
        return;
    }
    if (auto it = file->metadata.find("corun.quant." + name); it != file->metadata.end()) {
        std::istringstream text(it->second);
        double scale = 0, zero_point = 0;
        char comma = 0;
        if (text >> scale >> comma >> zero_point && comma == ',' && scale > 0) {
            stream.quant = make_quant(scale, zero_point, stream.native.type);
            stream.quant_source = "metadata corun.quant." + name;
        } else {
            stream.quant_source = "metadata corun.quant." + name + " = '" + it->second +
                                  "' is not 'scale,zero_point'; identity used";
        }
    }
}

std::shared_ptr<StreamSettings> make_stream(const devices::DeclaredTensor& declared, bool is_input,
                                            const onnx::OnnxModelFile* file,
                                            const std::map<std::string, std::string>& metadata) {
    auto stream = std::make_shared<StreamSettings>();
    stream->is_input = is_input;
    stream->declared = declared;
    stream->native_dims = declared.dims;
    // A dynamic first dimension is the batch: one frame is one item of it.
    if (!stream->native_dims.empty() && stream->native_dims[0] < 0) stream->native_dims[0] = 1;
    stream->native = {declared.type, native_order_of(declared, metadata)};
    detect_quantization(*stream, file);
    return stream;
}

}  // namespace

Format StreamSettings::resolved_user_format() const {
    return {user.type == FormatType::AUTO ? native.type : user.type,
            user.order == FormatOrder::AUTO ? native.order : user.order};
}

Expected<std::vector<uint8_t>> read_model_file(const std::string& path) {
    struct stat info {};
    if (stat(path.c_str(), &info) != 0) {
        return Status(StatusCode::NOT_FOUND,
                      "model file '" + path + "' does not exist; check the path");
    }
    if (S_ISDIR(info.st_mode)) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "'" + path + "' is a directory; give the path of an .onnx file");
    }
    std::ifstream file(path, std::ios::binary);
    if (!file) {
        return Status(StatusCode::OPEN_FILE_FAILURE,
                      "cannot open model file '" + path + "' for reading; check its permissions");
    }
    std::vector<uint8_t> bytes(static_cast<size_t>(info.st_size));
    if (!file.read(reinterpret_cast<char*>(bytes.data()),
                   static_cast<std::streamsize>(bytes.size()))) {
        return Status(StatusCode::FILE_OPERATION_FAILURE,
                      "reading model file '" + path + "' failed");
    }
    if (bytes.empty()) {
        return Status(StatusCode::INVALID_MODEL, "model file '" + path + "' is empty");
    }
    return bytes;
}

Expected<std::shared_ptr<LoadedInferModel>> load_model(std::shared_ptr<DeviceGroup> group,
                                                       std::span<const uint8_t> onnx_bytes,
                                                       ModelInfo info, ModelLoadExtras extras) {
    auto state = std::make_shared<LoadedInferModel>();
    state->group = group;

    auto file = onnx::read_onnx_model(onnx_bytes);
    // The model is read once: its external data comes from what the reader found. A file corun
    // cannot read is refused by the device, which is given no folder to look in.
    if (file && !extras.external_data_folder.empty()) {
        CORUN_TRY(extras.external_data,
                  runtime::read_external_data(extras.external_data_folder,
                                              file->external_data_locations, info.name));
    }
    if (file) {
        CORUN_RETURN_IF_ERROR(runtime::check_external_data_provided(
            file->external_data_locations, extras.external_data, info.name));
    }
    devices::ModelSource source;
    source.onnx = onnx_bytes;
    source.name = info.name;
    source.external_data = std::move(extras.external_data);
    source.constant_folding_max_bytes = extras.constant_folding_max_bytes;
    auto loaded = group->backend().load_model(source);
    if (!loaded) {
        std::string detail = loaded.status().message();
        // Through corund the daemon already added it: said once.
        const std::string own_reading = " (corun's own reading of the file: ";
        if (!file && detail.find(own_reading) == std::string::npos) {
            detail += own_reading + file.status().message() + ")";
        }
        return Status(loaded.status().code(), detail);
    }
    state->backend_model = loaded.release();
    if (file) {
        info.ir_version = file->ir_version;
        info.opsets = file->opsets;
        info.producer = file->producer_name +
                        (file->producer_version.empty() ? "" : " " + file->producer_version);
        info.parameter_count = file->parameter_count;
        info.metadata = file->metadata;
    }
    info.file_size = onnx_bytes.size();
    state->info = std::move(info);

    const auto& loaded_model = *state->backend_model;
    const onnx::OnnxModelFile* graph = file ? &file.value() : nullptr;
    for (const auto& tensor : loaded_model.declared_inputs()) {
        state->inputs.push_back(make_stream(tensor, true, graph, state->info.metadata));
        state->inputs.back()->index = state->inputs.size() - 1;
        state->inputs.back()->model = state;
    }
    for (const auto& tensor : loaded_model.declared_outputs()) {
        state->outputs.push_back(make_stream(tensor, false, graph, state->info.metadata));
        state->outputs.back()->index = state->outputs.size() - 1;
        state->outputs.back()->model = state;
    }
    return state;
}

}  // namespace corun
