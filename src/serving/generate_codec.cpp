#include "serving/generate_codec.hpp"
#include "serving/invalid_request.hpp"

#include <cmath>

#include <nlohmann/json.hpp>

namespace corun::serving {
namespace {

using Json = nlohmann::json;

Expected<uint32_t> unsigned_field(const Json& value, const std::string& key, uint32_t low,
                                  uint32_t high) {
    if (!value.is_number_unsigned() && !(value.is_number_integer() && value >= 0)) {
        return invalid_request("parameter '" + key + "' must be an integer " + std::to_string(low) +
                               ".." + std::to_string(high));
    }
    const uint64_t number = value.get<uint64_t>();
    if (number < low || number > high) {
        return invalid_request("parameter '" + key + "' is " + std::to_string(number) +
                               "; it must be " + std::to_string(low) + ".." + std::to_string(high));
    }
    return static_cast<uint32_t>(number);
}

Expected<float> number_field(const Json& value, const std::string& key, double low, double high) {
    if (!value.is_number()) return invalid_request("parameter '" + key + "' must be a number");
    const double number = value.get<double>();
    if (!std::isfinite(number) || number < low || number > high) {
        return invalid_request("parameter '" + key + "' must be a number from " + Json(low).dump() +
                               " to " + Json(high).dump());
    }
    return static_cast<float>(number);
}

// Text the model produced may hold bytes that are not UTF-8; JSON cannot, so those become U+FFFD
// rather than an exception.
std::string dump(const Json& json) {
    return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Json response_json(const GenerateResponse& response) {
    Json json = {{"model_name", response.model_name},
                 {"model_version", response.model_version},
                 {"text_output", response.text_output}};
    if (!response.id.empty()) json["id"] = response.id;
    return json;
}

}  // namespace

Expected<GenerateRequest> decode_generate_request(std::string_view body) {
    Json json;
    try {  // nlohmann reports syntax errors by throwing; nothing leaves this function
        json = Json::parse(body);
    } catch (const Json::exception& error) {
        return invalid_request(std::string("the generate request is not valid JSON: ") +
                               error.what());
    }
    if (!json.is_object()) {
        return invalid_request("the generate request must be a JSON object with \"text_input\"");
    }
    GenerateRequest request;
    bool have_text = false;
    for (const auto& [key, value] : json.items()) {
        if (key == "text_input") {
            if (!value.is_string()) return invalid_request("\"text_input\" must be a string");
            request.text_input = value.get<std::string>();
            have_text = true;
        } else if (key == "id") {
            if (!value.is_string()) return invalid_request("\"id\" must be a string");
            request.id = value.get<std::string>();
        } else if (key == "parameters") {
            if (!value.is_object()) return invalid_request("\"parameters\" must be a JSON object");
            for (const auto& [name, parameter] : value.items()) {
                if (name == "max_tokens") {
                    CORUN_TRY(request.max_tokens,
                              unsigned_field(parameter, name, 1, MAX_GENERATE_TOKENS));
                } else if (name == "temperature") {
                    CORUN_TRY(request.temperature, number_field(parameter, name, 0, 100));
                } else if (name == "top_p") {
                    CORUN_TRY(request.top_p, number_field(parameter, name, 1e-6, 1));
                } else if (name == "top_k") {
                    CORUN_TRY(request.top_k, unsigned_field(parameter, name, 0, 1u << 20));
                } else if (name == "seed") {
                    CORUN_TRY(request.seed, unsigned_field(parameter, name, 0, UINT32_MAX));
                } else if (name == "stop") {
                    const Json list = parameter.is_string() ? Json::array({parameter}) : parameter;
                    if (!list.is_array() || list.size() > MAX_STOP_SEQUENCES) {
                        return invalid_request(
                            "parameter 'stop' must be a string or an array of at most " +
                            std::to_string(MAX_STOP_SEQUENCES) + " strings");
                    }
                    for (const auto& stop : list) {
                        if (!stop.is_string() || stop.get<std::string>().empty()) {
                            return invalid_request("parameter 'stop' must hold non-empty strings");
                        }
                        request.stop.push_back(stop.get<std::string>());
                    }
                } else {
                    return invalid_request(
                        "unknown parameter '" + name.substr(0, 64) +
                        "' (known: max_tokens, temperature, top_p, top_k, seed, stop)");
                }
            }
        } else {
            return invalid_request("unknown field '" + key.substr(0, 64) +
                                   "' in the generate request (known: text_input, parameters, id)");
        }
    }
    if (!have_text)
        return invalid_request("the generate request has no \"text_input\" (the prompt)");
    return request;
}

std::string encode_generate_response(const GenerateResponse& response) {
    Json json = response_json(response);
    json["prompt_tokens"] = response.prompt_tokens;
    json["generated_tokens"] = response.generated_tokens;
    json["finish_reason"] = response.finish_reason;
    return dump(json);
}

std::string encode_generate_event(const GenerateResponse& piece, bool last) {
    Json json = response_json(piece);
    if (last) {
        json["prompt_tokens"] = piece.prompt_tokens;
        json["generated_tokens"] = piece.generated_tokens;
        json["finish_reason"] = piece.finish_reason;
    }
    return "data: " + dump(json) + "\n\n";
}

std::string encode_generate_error_event(std::string_view message) {
    return "data: " + dump(Json{{"error", std::string(message)}}) + "\n\n";
}

}  // namespace corun::serving
