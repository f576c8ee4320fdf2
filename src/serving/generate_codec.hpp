// The generate extension's JSON (Triton's, as vLLM and TensorRT-LLM backends serve it) to and
// from GenerateRequest/GenerateResponse. No HTTP here, so the fuzzer can drive it.
//
// Request: {"id": ..., "text_input": "...", "parameters": {"max_tokens": N, "temperature": T,
// "top_p": P, "top_k": K, "seed": S, "stop": "..." or ["...", ...]}}. Unknown parameters are
// refused (a misspelt "max_token" must not silently generate 128 tokens). Every field is
// checked; errors are INVALID_ARGUMENT naming the field and what it takes.
#pragma once

#include <string>
#include <string_view>

#include "corun/expected.hpp"
#include "serving/generate_request.hpp"

namespace corun::serving {

// Bounds on one request.
constexpr uint32_t MAX_GENERATE_TOKENS = 1u << 16;
constexpr size_t MAX_STOP_SEQUENCES = 16;

Expected<GenerateRequest> decode_generate_request(std::string_view body);

// The whole answer: {"id"?, "model_name", "model_version", "text_output", "prompt_tokens",
// "generated_tokens", "finish_reason"}.
std::string encode_generate_response(const GenerateResponse& response);

// One server-sent event of generate_stream: `data: {"model_name", "model_version", "id"?,
// "text_output": PIECE}` and a blank line. The last event also carries finish_reason and the
// token counts.
std::string encode_generate_event(const GenerateResponse& piece, bool last);
// An error after the stream started (the status line was sent): `data: {"error": "..."}`.
std::string encode_generate_error_event(std::string_view message);

}  // namespace corun::serving
