// The prompts `corun benchmark --profile` and bench/capacity_bench time an LLM with: exactly the
// tokens asked for, on the tiny qwen2 GGUF's real tokenizer. A prompt one token over a prefill
// chunk takes a second chunk, which made the profile's chunk time twice what a mix measured.
#include "llm_prompt.hpp"

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace corun {
namespace {

TEST(LlmPromptTest, EveryCountUpToTwoChunksIsHitExactly) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create());
    genai::LLMParams params;
    params.threads = 1;
    ASSERT_OK_AND_ASSIGN(
        auto llm, genai::LLM::create(*vdevice, test::test_model("genai/tiny_qwen2.gguf"), params));
    for (uint32_t tokens = 1; tokens <= 2 * params.prefill_chunk_tokens + 1; ++tokens) {
        ASSERT_OK_AND_ASSIGN(const auto prompt, tools::prompt_of_tokens(*llm, tokens));
        ASSERT_OK_AND_ASSIGN(const auto counted, llm->tokenize(prompt.text));
        EXPECT_EQ(counted.size(), tokens) << "prompt: " << prompt.text;
        EXPECT_EQ(prompt.tokens, tokens) << "prompt: " << prompt.text;
    }
    ASSERT_OK_AND_ASSIGN(const auto nothing, tools::prompt_of_tokens(*llm, 0));
    EXPECT_EQ(nothing.text, "");
    EXPECT_EQ(nothing.tokens, 0u);
}

}  // namespace
}  // namespace corun
