// Prompts of a given length in tokens, for measuring an LLM (corun benchmark --profile,
// bench/capacity_bench): a prompt one token over a prefill chunk takes a second chunk.
#pragma once

#include <cstdint>
#include <string>

#include "corun/genai/llm.hpp"

namespace corun::tools {

// A prompt and the tokens the LLM's tokenizer makes of it.
struct TokenPrompt {
    std::string text;
    size_t tokens = 0;
};

// Plain prose of exactly `tokens` tokens for this LLM's tokenizer; where no word fits what is
// left, the longest prompt below it (its `tokens` says how many).
Expected<TokenPrompt> prompt_of_tokens(genai::LLM& llm, uint32_t tokens);

}  // namespace corun::tools
