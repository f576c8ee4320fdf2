// `corun generate` and `corun run2 ... set-llm` (issue 12) on the tiny qwen2 GGUF written at build
// time: the text generate prints is the LLM API's for the same prompt, the JSON summaries count
// what ran, and bad input ends with a message naming the cause.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_process.hpp"
#include "corun/genai/llm.hpp"
#include "test_support.hpp"

namespace corun {
namespace {

using test::contains;

const std::string kTinyLlm = test::test_model("genai/tiny_qwen2.gguf");

TEST(CliGenaiTest, GeneratePrintsWhatTheApiGenerates) {
    const auto run = test::corun({"generate", kTinyLlm, "Once upon a time", "--max-tokens", "12",
                                  "--threads", "1", "--json"});
    ASSERT_EQ(run.exit_code, 0) << run;
    const auto report = nlohmann::json::parse(run.out);
    EXPECT_EQ(report["status"], "MAX_TOKENS_REACHED");
    EXPECT_EQ(report["generated_tokens"], 12);
    EXPECT_GT(report["time_to_first_token_ms"].get<double>(), 0.0);
    EXPECT_GT(report["tokens_per_second"].get<double>(), 0.0);

    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create());
    genai::LLMParams params;
    params.threads = 1;
    ASSERT_OK_AND_ASSIGN(auto llm, genai::LLM::create(*vdevice, kTinyLlm, params));
    genai::LLMGeneratorParams generator;
    generator.max_generated_tokens = 12;
    ASSERT_OK_AND_ASSIGN(auto completion, llm->generate(generator, "Once upon a time"));
    ASSERT_OK_AND_ASSIGN(auto text, completion.read_all(test::WAIT_LIMIT));
    EXPECT_EQ(report["text"], text);
}

TEST(CliGenaiTest, GenerateStreamsTextThenTimings) {
    const auto run = test::corun({"generate", kTinyLlm, "Hello", "--max-tokens", "5", "--threads",
                                  "1", "--stop", "zzzz-never"});
    ASSERT_EQ(run.exit_code, 0) << run;
    EXPECT_TRUE(contains(run.out, "time to first token:")) << run;
    EXPECT_TRUE(contains(run.out, "generated tokens:    5")) << run;
}

TEST(CliGenaiTest, GenerateNamesAMissingOrWrongModel) {
    auto run = test::corun({"generate", "/nonexistent/m.gguf", "hi"});
    EXPECT_NE(run.exit_code, 0);
    EXPECT_TRUE(contains(run.err, "NOT_FOUND")) << run;
    run = test::corun({"generate", test::test_model("add_one.onnx"), "hi"});
    EXPECT_NE(run.exit_code, 0);
    EXPECT_TRUE(contains(run.err, "not a GGUF file")) << run;
    run = test::corun({"generate", kTinyLlm, "hi", "--top-p", "2"});
    EXPECT_NE(run.exit_code, 0);
}

TEST(CliGenaiTest, Run2RunsAnLlmBesideAModel) {
    const auto run =
        test::corun({"run2", "-t", "2", "--json", "set-net", test::test_model("add_one.onnx"),
                     "--priority", "24", "--framerate", "20", "set-llm", kTinyLlm, "--threads", "1",
                     "--prompt-tokens", "16", "--max-tokens", "8"});
    ASSERT_EQ(run.exit_code, 0) << run;
    const auto summary = nlohmann::json::parse(run.out);
    ASSERT_EQ(summary["models"].size(), 1u);
    ASSERT_EQ(summary["llms"].size(), 1u);
    const auto& llm = summary["llms"][0];
    EXPECT_GT(llm["generations"].get<uint64_t>(), 0u);
    EXPECT_GT(llm["tokens"].get<uint64_t>(), 0u);
    EXPECT_EQ(llm["priority"], 16);
    EXPECT_GT(summary["models"][0]["frames"].get<uint64_t>(), 0u);
    const double shares =
        summary["models"][0]["device_share"].get<double>() + llm["device_share"].get<double>();
    EXPECT_NEAR(shares, 1.0, 1e-9);
}

TEST(CliGenaiTest, Run2NamesABadSetLlm) {
    const auto run = test::corun({"run2", "-t", "1", "set-llm", kTinyLlm, "--max-tokens", "0"});
    EXPECT_NE(run.exit_code, 0);
    EXPECT_TRUE(contains(run.err, "set-llm #1")) << run;
}

}  // namespace
}  // namespace corun
