#include "serving/rest_codec.hpp"

#include <charconv>
#include <cstring>
#include <limits>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "common/half_precision.hpp"
#include "common/string_elements.hpp"
#include "serving/invalid_request.hpp"
#include "serving/tensor_datatype.hpp"

namespace corun::serving {
namespace {

using Json = nlohmann::json;

std::string tensor_label(const std::string& what, const std::string& name) {
    return what + " '" + name + "'";
}

// A non-negative integer parameter (binary_data_size); nullopt when absent.
Expected<std::optional<uint64_t>> unsigned_parameter(const Json& parameters, const char* key,
                                                     const std::string& label) {
    if (!parameters.is_object()) return std::optional<uint64_t>{};
    auto found = parameters.find(key);
    if (found == parameters.end()) return std::optional<uint64_t>{};
    if (!found->is_number_unsigned() && !(found->is_number_integer() && *found >= 0)) {
        return invalid_request(label + ": parameter '" + key + "' must be a non-negative integer");
    }
    return std::optional<uint64_t>{found->get<uint64_t>()};
}

Expected<bool> bool_parameter(const Json& parameters, const char* key, const std::string& label) {
    if (!parameters.is_object()) return false;
    auto found = parameters.find(key);
    if (found == parameters.end()) return false;
    if (!found->is_boolean()) {
        return invalid_request(label + ": parameter '" + key + "' must be true or false");
    }
    return found->get<bool>();
}

// Elements a shape holds; INVALID_ARGUMENT for a negative dimension, a rank above the bound or
// a product that overflows.
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

// The JSON `data` of a tensor, nested or flat, in row-major order. The depth is bounded by the
// rank, so a hostile nesting cannot run deep.
Status flatten_data(const Json& value, size_t depth_left, std::vector<const Json*>& out,
                    const std::string& label) {
    if (!value.is_array()) {
        out.push_back(&value);
        return Status::ok();
    }
    if (depth_left == 0) {
        return invalid_request(label + ": 'data' is nested deeper than the tensor's rank");
    }
    for (const auto& element : value) {
        CORUN_RETURN_IF_ERROR(flatten_data(element, depth_left - 1, out, label));
    }
    return Status::ok();
}

template <typename T>
Status append_integer(const Json& value, std::vector<uint8_t>& data, const std::string& label) {
    T element{};
    if (value.is_number_unsigned()) {
        const uint64_t given = value.get<uint64_t>();
        if (given > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
            return invalid_request(label + ": " + std::to_string(given) +
                                   " is out of the datatype's range");
        }
        element = static_cast<T>(given);
    } else if (value.is_number_integer()) {
        const int64_t given = value.get<int64_t>();
        if constexpr (std::is_unsigned_v<T>) {
            if (given < 0) {
                return invalid_request(label + ": " + std::to_string(given) +
                                       " is negative; the datatype is unsigned");
            }
            if (static_cast<uint64_t>(given) >
                static_cast<uint64_t>(std::numeric_limits<T>::max())) {
                return invalid_request(label + ": " + std::to_string(given) +
                                       " is out of the datatype's range");
            }
        } else if (given < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
                   given > static_cast<int64_t>(std::numeric_limits<T>::max())) {
            return invalid_request(label + ": " + std::to_string(given) +
                                   " is out of the datatype's range");
        }
        element = static_cast<T>(given);
    } else {
        return invalid_request(label + ": 'data' holds " + std::string(value.type_name()) +
                               " where the datatype takes integers");
    }
    const auto* bytes = reinterpret_cast<const uint8_t*>(&element);
    data.insert(data.end(), bytes, bytes + sizeof(T));
    return Status::ok();
}

template <typename T>
void append_raw(T element, std::vector<uint8_t>& data) {
    const auto* bytes = reinterpret_cast<const uint8_t*>(&element);
    data.insert(data.end(), bytes, bytes + sizeof(T));
}

Status append_json_element(FormatType type, const Json& value, std::vector<uint8_t>& data,
                           const std::string& label) {
    switch (type) {
        case FormatType::BOOL:
            if (!value.is_boolean()) {
                return invalid_request(label + ": 'data' holds " + std::string(value.type_name()) +
                                       " where BOOL takes true or false");
            }
            data.push_back(value.get<bool>() ? 1 : 0);
            return Status::ok();
        case FormatType::UINT8:
            return append_integer<uint8_t>(value, data, label);
        case FormatType::UINT16:
            return append_integer<uint16_t>(value, data, label);
        case FormatType::UINT32:
            return append_integer<uint32_t>(value, data, label);
        case FormatType::UINT64:
            return append_integer<uint64_t>(value, data, label);
        case FormatType::INT8:
            return append_integer<int8_t>(value, data, label);
        case FormatType::INT16:
            return append_integer<int16_t>(value, data, label);
        case FormatType::INT32:
            return append_integer<int32_t>(value, data, label);
        case FormatType::INT64:
            return append_integer<int64_t>(value, data, label);
        case FormatType::FLOAT16:
        case FormatType::BFLOAT16:
        case FormatType::FLOAT32:
        case FormatType::FLOAT64: {
            if (!value.is_number()) {
                return invalid_request(label + ": 'data' holds " + std::string(value.type_name()) +
                                       " where the datatype takes numbers");
            }
            const double number = value.get<double>();
            if (type == FormatType::FLOAT64) {
                append_raw(number, data);
            } else if (type == FormatType::FLOAT32) {
                append_raw(static_cast<float>(number), data);
            } else if (type == FormatType::FLOAT16) {
                append_raw(common::float_to_half(static_cast<float>(number)), data);
            } else {
                append_raw(common::float_to_bfloat16(static_cast<float>(number)), data);
            }
            return Status::ok();
        }
        case FormatType::STRING: {
            if (!value.is_string()) {
                return invalid_request(label + ": 'data' holds " + std::string(value.type_name()) +
                                       " where BYTES takes strings");
            }
            const auto& text = value.get_ref<const std::string&>();
            if (text.size() > std::numeric_limits<uint32_t>::max()) {
                return invalid_request(label + ": a BYTES element is longer than 4 GiB");
            }
            append_raw(static_cast<uint32_t>(text.size()), data);
            data.insert(data.end(), text.begin(), text.end());
            return Status::ok();
        }
        case FormatType::AUTO:
            break;
    }
    return invalid_request(label + ": no datatype");
}

Expected<InferTensor> decode_input(const Json& input, size_t index, std::string_view binary,
                                   size_t& binary_offset) {
    std::string label = "input #" + std::to_string(index);
    if (!input.is_object()) return invalid_request(label + " is not a JSON object");
    auto name = input.find("name");
    if (name == input.end() || !name->is_string()) {
        return invalid_request(label + " has no 'name' string");
    }
    InferTensor tensor;
    tensor.name = name->get<std::string>();
    label = tensor_label("input", tensor.name);

    auto datatype = input.find("datatype");
    if (datatype == input.end() || !datatype->is_string()) {
        return invalid_request(label +
                               " has no 'datatype' string (BOOL, UINT8 .. UINT64, INT8 .. INT64, "
                               "FP16, FP32, FP64, BF16 or BYTES)");
    }
    auto type = datatype_format_type(datatype->get_ref<const std::string&>());
    if (!type) {
        return invalid_request(
            label + ": datatype '" + datatype->get<std::string>() +
            "' is not one of the protocol's (BOOL, UINT8 .. UINT64, INT8 .. INT64, "
            "FP16, FP32, FP64, BF16, BYTES)");
    }
    tensor.type = *type;

    auto shape = input.find("shape");
    if (shape == input.end() || !shape->is_array()) {
        return invalid_request(label + " has no 'shape' array");
    }
    if (shape->size() > MAX_TENSOR_RANK) {
        return invalid_request(label + " has rank " + std::to_string(shape->size()) + "; at most " +
                               std::to_string(MAX_TENSOR_RANK) + " dimensions are accepted");
    }
    for (const auto& dim : *shape) {
        if (!dim.is_number_integer()) {
            return invalid_request(label + ": 'shape' must hold integers");
        }
        tensor.shape.push_back(dim.get<int64_t>());
    }
    CORUN_TRY(const uint64_t count, element_count(tensor.shape, label));

    const Json no_parameters;
    auto parameters_it = input.find("parameters");
    const Json& parameters = parameters_it == input.end() ? no_parameters : *parameters_it;
    if (!parameters.is_null() && !parameters.is_object()) {
        return invalid_request(label + ": 'parameters' must be an object");
    }
    CORUN_TRY(const auto binary_size, unsigned_parameter(parameters, "binary_data_size", label));
    auto data = input.find("data");
    const size_t element_size = format_type_size(tensor.type);
    if (binary_size) {
        if (data != input.end()) {
            return invalid_request(label +
                                   " has both 'data' and binary_data_size; send one of them");
        }
        if (*binary_size > binary.size() - binary_offset) {
            return invalid_request(label + ": binary_data_size " + std::to_string(*binary_size) +
                                   " runs past the end of the body (" +
                                   std::to_string(binary.size() - binary_offset) +
                                   " bytes of binary data left)");
        }
        if (tensor.type != FormatType::STRING) {
            if (count > std::numeric_limits<uint64_t>::max() / element_size ||
                count * element_size != *binary_size) {
                return invalid_request(label + ": shape " + shape_text(tensor.shape) + " of " +
                                       datatype->get<std::string>() + " takes " +
                                       (count > std::numeric_limits<uint64_t>::max() / element_size
                                            ? std::string("more than 2^64")
                                            : std::to_string(count * element_size)) +
                                       " bytes, binary_data_size says " +
                                       std::to_string(*binary_size));
            }
        }
        const auto* begin = reinterpret_cast<const uint8_t*>(binary.data()) + binary_offset;
        tensor.data.assign(begin, begin + *binary_size);
        binary_offset += *binary_size;
        if (tensor.type == FormatType::STRING &&
            !common::read_string_elements(tensor.data.data(), tensor.data.size(), count)) {
            return invalid_request(label + ": the BYTES data does not hold exactly " +
                                   std::to_string(count) +
                                   " elements of 4-byte little-endian length + bytes");
        }
        return tensor;
    }
    if (data == input.end()) {
        return invalid_request(label + " has neither 'data' nor parameters.binary_data_size");
    }
    std::vector<const Json*> elements;
    CORUN_RETURN_IF_ERROR(flatten_data(*data, tensor.shape.size() + 1, elements, label));
    if (elements.size() != count) {
        return invalid_request(label + ": shape " + shape_text(tensor.shape) + " holds " +
                               std::to_string(count) + " elements, 'data' has " +
                               std::to_string(elements.size()));
    }
    if (element_size > 0) tensor.data.reserve(count * element_size);
    for (const Json* element : elements) {
        CORUN_RETURN_IF_ERROR(append_json_element(tensor.type, *element, tensor.data, label));
    }
    return tensor;
}

Expected<RequestedOutput> decode_output(const Json& output, size_t index, bool binary_default) {
    std::string label = "output #" + std::to_string(index);
    if (!output.is_object()) return invalid_request(label + " is not a JSON object");
    auto name = output.find("name");
    if (name == output.end() || !name->is_string()) {
        return invalid_request(label + " has no 'name' string");
    }
    RequestedOutput requested;
    requested.name = name->get<std::string>();
    label = tensor_label("output", requested.name);
    requested.binary_data = binary_default;
    if (auto parameters = output.find("parameters"); parameters != output.end()) {
        if (!parameters->is_object())
            return invalid_request(label + ": 'parameters' must be an object");
        if (parameters->contains("binary_data")) {
            CORUN_TRY(requested.binary_data, bool_parameter(*parameters, "binary_data", label));
        }
    }
    return requested;
}

Expected<size_t> parse_header_length(std::string_view text, size_t body_size) {
    size_t length = 0;
    const auto* end = text.data() + text.size();
    auto [stop, error] = std::from_chars(text.data(), end, length);
    if (error != std::errc() || stop != end || text.empty()) {
        return invalid_request("Inference-Header-Content-Length '" +
                               std::string(text.substr(0, 32)) + "' is not a byte count");
    }
    if (length > body_size) {
        return invalid_request("Inference-Header-Content-Length " + std::to_string(length) +
                               " is larger than the body (" + std::to_string(body_size) +
                               " bytes)");
    }
    return length;
}

void append_json_data(const InferTensor& tensor, Json& data) {
    data = Json::array();
    const uint8_t* bytes = tensor.data.data();
    const size_t element_size = format_type_size(tensor.type);
    const size_t count = element_size == 0 ? 0 : tensor.data.size() / element_size;
    auto read = [&]<typename T>(size_t i) {
        T value;
        std::memcpy(&value, bytes + i * sizeof(T), sizeof(T));
        return value;
    };
    switch (tensor.type) {
        case FormatType::BOOL:
            for (size_t i = 0; i < count; ++i) data.push_back(bytes[i] != 0);
            break;
        case FormatType::UINT8:
            for (size_t i = 0; i < count; ++i) data.push_back(read.operator()<uint8_t>(i));
            break;
        case FormatType::UINT16:
            for (size_t i = 0; i < count; ++i) data.push_back(read.operator()<uint16_t>(i));
            break;
        case FormatType::UINT32:
            for (size_t i = 0; i < count; ++i) data.push_back(read.operator()<uint32_t>(i));
            break;
        case FormatType::UINT64:
            for (size_t i = 0; i < count; ++i) data.push_back(read.operator()<uint64_t>(i));
            break;
        case FormatType::INT8:
            for (size_t i = 0; i < count; ++i) data.push_back(read.operator()<int8_t>(i));
            break;
        case FormatType::INT16:
            for (size_t i = 0; i < count; ++i) data.push_back(read.operator()<int16_t>(i));
            break;
        case FormatType::INT32:
            for (size_t i = 0; i < count; ++i) data.push_back(read.operator()<int32_t>(i));
            break;
        case FormatType::INT64:
            for (size_t i = 0; i < count; ++i) data.push_back(read.operator()<int64_t>(i));
            break;
        case FormatType::FLOAT16:
            for (size_t i = 0; i < count; ++i) {
                data.push_back(common::half_to_float(read.operator()<uint16_t>(i)));
            }
            break;
        case FormatType::BFLOAT16:
            for (size_t i = 0; i < count; ++i) {
                data.push_back(common::bfloat16_to_float(read.operator()<uint16_t>(i)));
            }
            break;
        case FormatType::FLOAT32:
            for (size_t i = 0; i < count; ++i) data.push_back(read.operator()<float>(i));
            break;
        case FormatType::FLOAT64:
            for (size_t i = 0; i < count; ++i) data.push_back(read.operator()<double>(i));
            break;
        case FormatType::STRING: {
            // Written by the service in the layout, so it reads back; malformed reads as empty.
            size_t offset = 0;
            while (offset + 4 <= tensor.data.size()) {
                uint32_t length = 0;
                std::memcpy(&length, bytes + offset, 4);
                offset += 4;
                if (length > tensor.data.size() - offset) break;
                data.push_back(std::string(reinterpret_cast<const char*>(bytes + offset), length));
                offset += length;
            }
            break;
        }
        case FormatType::AUTO:
            break;
    }
}

}  // namespace

Expected<InferRequest> decode_rest_infer_request(std::string_view body,
                                                 std::optional<std::string_view> header_length) {
    size_t json_length = body.size();
    if (header_length) {
        CORUN_TRY(json_length, parse_header_length(*header_length, body.size()));
    }
    if (json_length > MAX_REST_JSON_BYTES) {
        return invalid_request("the request's JSON is " + std::to_string(json_length) +
                               " bytes; at most " + std::to_string(MAX_REST_JSON_BYTES) +
                               " are accepted: send large tensors as binary data (parameters."
                               "binary_data_size, Inference-Header-Content-Length)");
    }
    const std::string_view json_text = body.substr(0, json_length);
    const std::string_view binary = body.substr(json_length);
    Json header;
    try {  // nlohmann reports syntax errors by throwing; nothing leaves this function
        header = Json::parse(json_text);
    } catch (const Json::exception& error) {
        return invalid_request(std::string("the request is not valid JSON: ") + error.what());
    }
    if (!header.is_object()) return invalid_request("the request's JSON must be an object");

    InferRequest request;
    if (auto id = header.find("id"); id != header.end()) {
        if (!id->is_string()) return invalid_request("'id' must be a string");
        request.id = id->get<std::string>();
    }
    if (auto parameters = header.find("parameters"); parameters != header.end()) {
        if (!parameters->is_object()) return invalid_request("'parameters' must be an object");
        CORUN_TRY(request.binary_data_output,
                  bool_parameter(*parameters, "binary_data_output", "the request"));
        CORUN_TRY(request.priority, unsigned_parameter(*parameters, "priority", "the request"));
        CORUN_TRY(request.timeout_us, unsigned_parameter(*parameters, "timeout", "the request"));
    }
    auto inputs = header.find("inputs");
    if (inputs == header.end() || !inputs->is_array()) {
        return invalid_request("the request has no 'inputs' array");
    }
    if (inputs->size() > MAX_REST_TENSORS) {
        return invalid_request("the request has " + std::to_string(inputs->size()) +
                               " inputs; at most " + std::to_string(MAX_REST_TENSORS) +
                               " are accepted");
    }
    size_t binary_offset = 0;
    for (size_t i = 0; i < inputs->size(); ++i) {
        CORUN_TRY(auto tensor, decode_input((*inputs)[i], i, binary, binary_offset));
        for (const auto& earlier : request.inputs) {
            if (earlier.name == tensor.name) {
                return invalid_request("input '" + tensor.name + "' is given twice");
            }
        }
        request.inputs.push_back(std::move(tensor));
    }
    if (binary_offset != binary.size()) {
        return invalid_request(
            std::to_string(binary.size() - binary_offset) +
            " bytes of binary data after the JSON belong to no input (the inputs' "
            "binary_data_size add up to " +
            std::to_string(binary_offset) + ")");
    }
    if (auto outputs = header.find("outputs"); outputs != header.end()) {
        if (!outputs->is_array()) return invalid_request("'outputs' must be an array");
        if (outputs->size() > MAX_REST_TENSORS) {
            return invalid_request("the request asks for " + std::to_string(outputs->size()) +
                                   " outputs; at most " + std::to_string(MAX_REST_TENSORS) +
                                   " are accepted");
        }
        for (size_t i = 0; i < outputs->size(); ++i) {
            CORUN_TRY(auto requested, decode_output((*outputs)[i], i, request.binary_data_output));
            for (const auto& earlier : request.outputs) {
                if (earlier.name == requested.name) {
                    return invalid_request("output '" + requested.name + "' is asked for twice");
                }
            }
            request.outputs.push_back(std::move(requested));
        }
    }
    return request;
}

RestResponseBody encode_rest_infer_response(const InferResponse& response) {
    Json header = {{"model_name", response.model_name}, {"model_version", response.model_version}};
    if (!response.id.empty()) header["id"] = response.id;
    if (!response.placement.empty()) header["parameters"] = {{"placement", response.placement}};
    header["outputs"] = Json::array();
    size_t binary_size = 0;
    for (size_t i = 0; i < response.outputs.size(); ++i) {
        const InferTensor& tensor = response.outputs[i];
        Json output = {{"name", tensor.name},
                       {"datatype", datatype_name(tensor.type) ? datatype_name(tensor.type) : ""},
                       {"shape", tensor.shape}};
        const bool binary = i < response.binary_outputs.size() && response.binary_outputs[i];
        if (binary) {
            output["parameters"] = {{"binary_data_size", tensor.data.size()}};
            binary_size += tensor.data.size();
        } else {
            append_json_data(tensor, output["data"]);
        }
        header["outputs"].push_back(std::move(output));
    }
    RestResponseBody encoded;
    encoded.body = header.dump(-1, ' ', false, Json::error_handler_t::replace);
    if (binary_size == 0) return encoded;
    encoded.json_length = encoded.body.size();
    encoded.body.reserve(encoded.body.size() + binary_size);
    for (size_t i = 0; i < response.outputs.size(); ++i) {
        if (i < response.binary_outputs.size() && response.binary_outputs[i]) {
            const auto& data = response.outputs[i].data;
            encoded.body.append(reinterpret_cast<const char*>(data.data()), data.size());
        }
    }
    return encoded;
}

std::string rest_error_body(std::string_view message) {
    return Json{{"error", std::string(message)}}.dump(-1, ' ', false,
                                                      Json::error_handler_t::replace);
}

}  // namespace corun::serving
