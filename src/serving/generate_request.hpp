// A request of Triton's generate extension (POST v2/models/{m}/generate and .../generate_stream)
// to a generative model, and its answer, the same whichever front received it. The text and the
// sampling parameters map onto genai::LLMGeneratorParams (docs/SERVING.md, "Generative models").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace corun::serving {

struct GenerateRequest {
    std::string model_name;
    std::string model_version;  // "" = the model's default
    std::string id;             // echoed in the response
    std::string text_input;     // the prompt, as it is (no chat template)
    uint32_t max_tokens = 128;
    float temperature = 0.0f;  // 0 = greedy
    float top_p = 1.0f;
    uint32_t top_k = 0;
    uint32_t seed = 0;
    std::vector<std::string> stop;  // generation ends before any of these
};

struct GenerateResponse {
    std::string model_name;
    std::string model_version;
    std::string id;
    std::string text_output;
    uint32_t prompt_tokens = 0;
    uint32_t generated_tokens = 0;
    // "length" (max_tokens or the context is full), "stop" (a stop sequence or the model's
    // end of generation), "aborted" (the client went away, or the server is stopping).
    std::string finish_reason;
};

}  // namespace corun::serving
