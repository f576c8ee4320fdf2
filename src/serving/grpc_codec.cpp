#include "serving/grpc_codec.hpp"

#include <cstring>
#include <limits>
#include <string_view>
#include <type_traits>
#include <utility>

#include "common/string_elements.hpp"
#include "serving/invalid_request.hpp"
#include "serving/rest_codec.hpp"
#include "serving/tensor_datatype.hpp"

namespace corun::serving {
namespace {

using Parameters = google::protobuf::Map<std::string, inference::InferParameter>;

// A non-negative integer parameter (Triton's clients send int64_param; uint64_param too).
Expected<std::optional<uint64_t>> unsigned_parameter(const Parameters& parameters, const char* key,
                                                     const std::string& label) {
    auto found = parameters.find(key);
    if (found == parameters.end()) return std::optional<uint64_t>{};
    const auto& parameter = found->second;
    if (parameter.parameter_choice_case() == inference::InferParameter::kUint64Param) {
        return std::optional<uint64_t>{parameter.uint64_param()};
    }
    if (parameter.parameter_choice_case() == inference::InferParameter::kInt64Param &&
        parameter.int64_param() >= 0) {
        return std::optional<uint64_t>{static_cast<uint64_t>(parameter.int64_param())};
    }
    return invalid_request(label + ": parameter '" + key +
                           "' must be a non-negative int64_param or uint64_param");
}

Expected<std::optional<std::string>> string_parameter(const Parameters& parameters, const char* key,
                                                      const std::string& label) {
    auto found = parameters.find(key);
    if (found == parameters.end()) return std::optional<std::string>{};
    if (found->second.parameter_choice_case() != inference::InferParameter::kStringParam) {
        return invalid_request(label + ": parameter '" + key + "' must be a string_param");
    }
    return std::optional<std::string>{found->second.string_param()};
}

struct SharedMemoryPlace {
    std::shared_ptr<const MappedSharedMemory> region;
    uint64_t offset = 0;
    uint64_t byte_size = 0;
};

// The tensor's shared-memory parameters, nullopt when it names no region.
Expected<std::optional<SharedMemoryPlace>> shared_memory_place(const Parameters& parameters,
                                                               const SharedMemoryRegions& regions,
                                                               const std::string& label) {
    CORUN_TRY(auto region_name, string_parameter(parameters, "shared_memory_region", label));
    if (!region_name) {
        if (parameters.contains("shared_memory_byte_size") ||
            parameters.contains("shared_memory_offset")) {
            return invalid_request(label +
                                   ": shared_memory_byte_size/offset without "
                                   "shared_memory_region");
        }
        return std::optional<SharedMemoryPlace>{};
    }
    CORUN_TRY(auto byte_size, unsigned_parameter(parameters, "shared_memory_byte_size", label));
    if (!byte_size) {
        return invalid_request(label + ": shared_memory_region needs shared_memory_byte_size");
    }
    CORUN_TRY(auto offset, unsigned_parameter(parameters, "shared_memory_offset", label));
    SharedMemoryPlace place;
    CORUN_TRY(place.region, regions.find(*region_name));
    place.offset = offset.value_or(0);
    place.byte_size = *byte_size;
    // Checked here so that a bad offset fails before the request runs.
    CORUN_RETURN_IF_ERROR(place.region->bytes(place.offset, place.byte_size).status());
    return std::optional<SharedMemoryPlace>{std::move(place)};
}

std::string shape_text(const std::vector<int64_t>& shape) {
    std::string text = "[";
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i > 0) text += ",";
        text += std::to_string(shape[i]);
    }
    return text + "]";
}

Expected<uint64_t> element_count(const std::vector<int64_t>& shape, const std::string& label) {
    if (shape.size() > MAX_TENSOR_RANK) {
        return invalid_request(label + " has rank " + std::to_string(shape.size()) + "; at most " +
                               std::to_string(MAX_TENSOR_RANK) + " dimensions are accepted");
    }
    uint64_t count = 1;
    for (int64_t dim : shape) {
        if (dim < 0) return invalid_request(label + " has a negative dimension in its shape");
        if (dim != 0 && count > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(dim)) {
            return invalid_request(label + ": the shape's element count overflows");
        }
        count *= static_cast<uint64_t>(dim);
    }
    return count;
}

template <typename Target, typename Field>
Status append_elements(const Field& values, uint64_t count, std::vector<uint8_t>& data,
                       const std::string& label, const char* field_name) {
    if (static_cast<uint64_t>(values.size()) != count) {
        return invalid_request(label + ": the shape holds " + std::to_string(count) +
                               " elements, " + field_name + " has " +
                               std::to_string(values.size()));
    }
    data.resize(count * sizeof(Target));
    uint8_t* out = data.data();
    for (const auto& value : values) {
        using Value = std::remove_cvref_t<decltype(value)>;
        if constexpr (std::is_integral_v<Target> && std::is_integral_v<Value> &&
                      !std::is_same_v<Value, bool>) {
            if (!std::in_range<Target>(value)) {
                return invalid_request(label + ": " + std::to_string(value) + " in " + field_name +
                                       " is out of the datatype's range");
            }
        }
        const Target element = static_cast<Target>(value);
        std::memcpy(out, &element, sizeof(Target));
        out += sizeof(Target);
    }
    return Status::ok();
}

// The typed contents of the tensor's datatype; the others must be empty.
Status decode_contents(const inference::InferTensorContents& contents, FormatType type,
                       uint64_t count, std::vector<uint8_t>& data, const std::string& label) {
    const int given = (contents.bool_contents_size() > 0) + (contents.int_contents_size() > 0) +
                      (contents.int64_contents_size() > 0) + (contents.uint_contents_size() > 0) +
                      (contents.uint64_contents_size() > 0) + (contents.fp32_contents_size() > 0) +
                      (contents.fp64_contents_size() > 0) + (contents.bytes_contents_size() > 0);
    auto only = [&](int field_size, const char* field) -> Status {
        if (given > (field_size > 0 ? 1 : 0)) {
            return invalid_request(label + ": 'contents' of " + datatype_name(type) + " go in " +
                                   field + " alone");
        }
        return Status::ok();
    };
    switch (type) {
        case FormatType::BOOL:
            CORUN_RETURN_IF_ERROR(only(contents.bool_contents_size(), "bool_contents"));
            return append_elements<uint8_t>(contents.bool_contents(), count, data, label,
                                            "bool_contents");
        case FormatType::UINT8:
            CORUN_RETURN_IF_ERROR(only(contents.uint_contents_size(), "uint_contents"));
            return append_elements<uint8_t>(contents.uint_contents(), count, data, label,
                                            "uint_contents");
        case FormatType::UINT16:
            CORUN_RETURN_IF_ERROR(only(contents.uint_contents_size(), "uint_contents"));
            return append_elements<uint16_t>(contents.uint_contents(), count, data, label,
                                             "uint_contents");
        case FormatType::UINT32:
            CORUN_RETURN_IF_ERROR(only(contents.uint_contents_size(), "uint_contents"));
            return append_elements<uint32_t>(contents.uint_contents(), count, data, label,
                                             "uint_contents");
        case FormatType::UINT64:
            CORUN_RETURN_IF_ERROR(only(contents.uint64_contents_size(), "uint64_contents"));
            return append_elements<uint64_t>(contents.uint64_contents(), count, data, label,
                                             "uint64_contents");
        case FormatType::INT8:
            CORUN_RETURN_IF_ERROR(only(contents.int_contents_size(), "int_contents"));
            return append_elements<int8_t>(contents.int_contents(), count, data, label,
                                           "int_contents");
        case FormatType::INT16:
            CORUN_RETURN_IF_ERROR(only(contents.int_contents_size(), "int_contents"));
            return append_elements<int16_t>(contents.int_contents(), count, data, label,
                                            "int_contents");
        case FormatType::INT32:
            CORUN_RETURN_IF_ERROR(only(contents.int_contents_size(), "int_contents"));
            return append_elements<int32_t>(contents.int_contents(), count, data, label,
                                            "int_contents");
        case FormatType::INT64:
            CORUN_RETURN_IF_ERROR(only(contents.int64_contents_size(), "int64_contents"));
            return append_elements<int64_t>(contents.int64_contents(), count, data, label,
                                            "int64_contents");
        case FormatType::FLOAT32:
            CORUN_RETURN_IF_ERROR(only(contents.fp32_contents_size(), "fp32_contents"));
            return append_elements<float>(contents.fp32_contents(), count, data, label,
                                          "fp32_contents");
        case FormatType::FLOAT64:
            CORUN_RETURN_IF_ERROR(only(contents.fp64_contents_size(), "fp64_contents"));
            return append_elements<double>(contents.fp64_contents(), count, data, label,
                                           "fp64_contents");
        case FormatType::STRING: {
            CORUN_RETURN_IF_ERROR(only(contents.bytes_contents_size(), "bytes_contents"));
            if (static_cast<uint64_t>(contents.bytes_contents_size()) != count) {
                return invalid_request(label + ": the shape holds " + std::to_string(count) +
                                       " elements, bytes_contents has " +
                                       std::to_string(contents.bytes_contents_size()));
            }
            std::vector<std::string_view> elements(contents.bytes_contents().begin(),
                                                   contents.bytes_contents().end());
            data.resize(common::string_elements_size(elements));
            common::write_string_elements(elements, data.data(), data.size());
            return Status::ok();
        }
        default:
            return invalid_request(label + ": the protocol has no 'contents' field for " +
                                   std::string(datatype_name(type)) +
                                   "; send it in raw_input_contents");
    }
}

// Raw bytes (raw_input_contents or shared memory) checked against the shape.
Status check_raw_size(const InferTensor& tensor, uint64_t count, const std::string& datatype,
                      const std::string& label) {
    if (tensor.type == FormatType::STRING) {
        if (!common::read_string_elements(tensor.data.data(), tensor.data.size(), count)) {
            return invalid_request(label + ": the BYTES data does not hold exactly " +
                                   std::to_string(count) +
                                   " elements of 4-byte little-endian length + bytes");
        }
        return Status::ok();
    }
    const size_t element_size = format_type_size(tensor.type);
    if (count > std::numeric_limits<uint64_t>::max() / element_size ||
        count * element_size != tensor.data.size()) {
        return invalid_request(label + ": shape " + shape_text(tensor.shape) + " of " + datatype +
                               " takes " +
                               (count > std::numeric_limits<uint64_t>::max() / element_size
                                    ? std::string("more than 2^64")
                                    : std::to_string(count * element_size)) +
                               " bytes, " + std::to_string(tensor.data.size()) + " were given");
    }
    return Status::ok();
}

}  // namespace

Expected<GrpcInferRequest> decode_grpc_infer_request(const inference::ModelInferRequest& message,
                                                     const SharedMemoryRegions& regions) {
    GrpcInferRequest decoded;
    InferRequest& request = decoded.request;
    request.model_name = message.model_name();
    request.model_version = message.model_version();
    request.id = message.id();
    CORUN_TRY(request.priority,
              unsigned_parameter(message.parameters(), "priority", "the request"));
    CORUN_TRY(request.timeout_us,
              unsigned_parameter(message.parameters(), "timeout", "the request"));
    if (static_cast<size_t>(message.inputs_size()) > MAX_REST_TENSORS ||
        static_cast<size_t>(message.outputs_size()) > MAX_REST_TENSORS) {
        return invalid_request("the request has " + std::to_string(message.inputs_size()) +
                               " inputs and asks for " + std::to_string(message.outputs_size()) +
                               " outputs; at most " + std::to_string(MAX_REST_TENSORS) +
                               " of each are accepted");
    }
    int raw_index = 0;
    for (const auto& input : message.inputs()) {
        const std::string label = "input '" + input.name() + "'";
        InferTensor tensor;
        tensor.name = input.name();
        const auto type = datatype_format_type(input.datatype());
        if (!type) {
            return invalid_request(
                label + ": datatype '" + input.datatype().substr(0, 32) +
                "' is not one of the protocol's (BOOL, UINT8..UINT64, INT8..INT64, "
                "FP16, FP32, FP64, BF16, BYTES)");
        }
        tensor.type = *type;
        tensor.shape.assign(input.shape().begin(), input.shape().end());
        CORUN_TRY(const uint64_t count, element_count(tensor.shape, label));
        CORUN_TRY(auto place, shared_memory_place(input.parameters(), regions, label));
        if (place) {
            if (input.has_contents()) {
                return invalid_request(label + " has both 'contents' and shared memory; send one");
            }
            CORUN_TRY(auto bytes, place->region->bytes(place->offset, place->byte_size));
            tensor.data.assign(bytes.begin(), bytes.end());
            CORUN_RETURN_IF_ERROR(check_raw_size(tensor, count, input.datatype(), label));
        } else if (input.has_contents()) {
            if (message.raw_input_contents_size() > 0) {
                return invalid_request(label +
                                       " has 'contents' while the request uses "
                                       "raw_input_contents; use one of them for every input");
            }
            CORUN_RETURN_IF_ERROR(
                decode_contents(input.contents(), tensor.type, count, tensor.data, label));
        } else {
            if (raw_index >= message.raw_input_contents_size()) {
                return invalid_request(label +
                                       " has no data: neither 'contents', nor a "
                                       "raw_input_contents entry (there are " +
                                       std::to_string(message.raw_input_contents_size()) +
                                       "), nor shared memory");
            }
            const std::string& raw = message.raw_input_contents(raw_index++);
            tensor.data.assign(raw.begin(), raw.end());
            CORUN_RETURN_IF_ERROR(check_raw_size(tensor, count, input.datatype(), label));
        }
        for (const auto& earlier : request.inputs) {
            if (earlier.name == tensor.name) return invalid_request(label + " is given twice");
        }
        request.inputs.push_back(std::move(tensor));
    }
    if (raw_index != message.raw_input_contents_size()) {
        return invalid_request(std::to_string(message.raw_input_contents_size()) +
                               " raw_input_contents entries for " + std::to_string(raw_index) +
                               " inputs without contents or shared memory");
    }
    for (const auto& output : message.outputs()) {
        const std::string label = "output '" + output.name() + "'";
        for (const auto& earlier : request.outputs) {
            if (earlier.name == output.name())
                return invalid_request(label + " is asked for twice");
        }
        request.outputs.push_back({output.name(), false});
        CORUN_TRY(auto place, shared_memory_place(output.parameters(), regions, label));
        if (place) {
            decoded.shared_memory_outputs.push_back(
                {output.name(), std::move(place->region), place->offset, place->byte_size});
        }
    }
    return decoded;
}

Status encode_grpc_infer_response(const InferResponse& response,
                                  const std::vector<SharedMemoryOutput>& shared_memory_outputs,
                                  inference::ModelInferResponse& message) {
    message.set_model_name(response.model_name);
    message.set_model_version(response.model_version);
    message.set_id(response.id);
    if (!response.placement.empty()) {
        (*message.mutable_parameters())["placement"].set_string_param(response.placement);
    }
    for (const InferTensor& tensor : response.outputs) {
        auto* output = message.add_outputs();
        output->set_name(tensor.name);
        const char* datatype = datatype_name(tensor.type);
        output->set_datatype(datatype ? datatype : "");
        for (int64_t dim : tensor.shape) output->add_shape(dim);
        const SharedMemoryOutput* place = nullptr;
        for (const auto& candidate : shared_memory_outputs) {
            if (candidate.name == tensor.name) place = &candidate;
        }
        std::string* raw = message.add_raw_output_contents();
        if (!place) {
            raw->assign(reinterpret_cast<const char*>(tensor.data.data()), tensor.data.size());
            continue;
        }
        if (tensor.data.size() > place->byte_size) {
            return invalid_request(
                "output '" + tensor.name + "' has " + std::to_string(tensor.data.size()) +
                " bytes; its shared_memory_byte_size is " + std::to_string(place->byte_size));
        }
        CORUN_TRY(auto bytes, place->region->bytes(place->offset, tensor.data.size()));
        std::memcpy(bytes.data(), tensor.data.data(), tensor.data.size());
        auto& parameters = *output->mutable_parameters();
        parameters["shared_memory_region"].set_string_param(place->region->status().name);
        parameters["shared_memory_byte_size"].set_int64_param(
            static_cast<int64_t>(tensor.data.size()));
        if (place->offset > 0) {
            parameters["shared_memory_offset"].set_int64_param(static_cast<int64_t>(place->offset));
        }
    }
    return Status::ok();
}

}  // namespace corun::serving
