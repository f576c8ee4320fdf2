// llama.cpp on its own C API (issue 12), with the tiny qwen2 GGUF that
// tests/models/make_tiny_llm.py writes at build time (real Qwen2 tokenizer, random weights):
// the exact token ids of a known string, greedy decoding that repeats itself token for token,
// chunked prefill against one-shot prefill, and files that are not models. These are the
// independent checks corun's own LLM API is later compared against, so nothing here goes
// through corun.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "llama.h"

namespace {

const std::string kTinyLlm = std::string(CORUN_TEST_MODEL_DIR) + "/genai/tiny_qwen2.gguf";
constexpr int kThreads = 2;
constexpr uint32_t kContext = 256;

// llama.cpp logs every load to stderr; keep errors only, so a failing test still says why.
void quiet_log(ggml_log_level level, const char* text, void*) {
    if (level == GGML_LOG_LEVEL_ERROR) std::fputs(text, stderr);
}

struct ModelFree {
    void operator()(llama_model* model) const { llama_model_free(model); }
};
struct ContextFree {
    void operator()(llama_context* context) const { llama_free(context); }
};
using Model = std::unique_ptr<llama_model, ModelFree>;
using Context = std::unique_ptr<llama_context, ContextFree>;

class LlamaEngineTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        llama_log_set(quiet_log, nullptr);
        llama_backend_init();
        llama_model_params params = llama_model_default_params();
        params.n_gpu_layers = 0;
        model_.reset(llama_model_load_from_file(kTinyLlm.c_str(), params));
    }
    static void TearDownTestSuite() {
        model_.reset();
        llama_backend_free();
    }
    void SetUp() override { ASSERT_NE(model_, nullptr) << "cannot load " << kTinyLlm; }

    static const llama_vocab* vocab() { return llama_model_get_vocab(model_.get()); }

    // A context whose calls to llama_decode take at most `batch` tokens (n_batch = n_ubatch).
    static Context new_context(uint32_t batch) {
        llama_context_params params = llama_context_default_params();
        params.n_ctx = kContext;
        params.n_batch = batch;
        params.n_ubatch = batch;
        params.n_threads = kThreads;
        params.n_threads_batch = kThreads;
        return Context(llama_init_from_model(model_.get(), params));
    }

    static std::vector<llama_token> tokenize(const std::string& text) {
        std::vector<llama_token> tokens(text.size() + 8);
        const int32_t n = llama_tokenize(vocab(), text.data(), static_cast<int32_t>(text.size()),
                                         tokens.data(), static_cast<int32_t>(tokens.size()),
                                         /*add_special=*/false, /*parse_special=*/false);
        EXPECT_GE(n, 0) << "llama_tokenize(\"" << text << "\")";
        tokens.resize(std::max(n, 0));
        return tokens;
    }

    // Feeds tokens[begin, end) at positions begin.. with logits for every one of them; returns
    // llama_decode's result.
    static int32_t decode(llama_context* context, const std::vector<llama_token>& tokens,
                          size_t begin, size_t end) {
        llama_batch batch = llama_batch_init(static_cast<int32_t>(end - begin), 0, 1);
        for (size_t i = begin; i < end; ++i) {
            const auto k = static_cast<int32_t>(i - begin);
            batch.token[k] = tokens[i];
            batch.pos[k] = static_cast<llama_pos>(i);
            batch.n_seq_id[k] = 1;
            batch.seq_id[k][0] = 0;
            batch.logits[k] = 1;
        }
        batch.n_tokens = static_cast<int32_t>(end - begin);
        const int32_t result = llama_decode(context, batch);
        llama_batch_free(batch);
        return result;
    }

    // The logits of every prompt position, prefilled in calls of at most `chunk` tokens.
    static std::vector<std::vector<float>> prefill_logits(const std::vector<llama_token>& prompt,
                                                          uint32_t chunk) {
        Context context = new_context(chunk);
        EXPECT_NE(context, nullptr);
        const int32_t n_vocab = llama_vocab_n_tokens(vocab());
        std::vector<std::vector<float>> logits;
        for (size_t begin = 0; begin < prompt.size(); begin += chunk) {
            const size_t end = std::min(prompt.size(), begin + chunk);
            EXPECT_EQ(decode(context.get(), prompt, begin, end), 0);
            for (size_t i = begin; i < end; ++i) {
                const float* row =
                    llama_get_logits_ith(context.get(), static_cast<int32_t>(i - begin));
                logits.emplace_back(row, row + n_vocab);
            }
        }
        return logits;
    }

    // Greedy decoding (argmax of the logits, no sampler): the prompt in one call, then `count`
    // tokens one call each.
    static std::vector<llama_token> greedy(const std::vector<llama_token>& prompt, int count) {
        Context context = new_context(64);
        EXPECT_NE(context, nullptr);
        const int32_t n_vocab = llama_vocab_n_tokens(vocab());
        std::vector<llama_token> tokens = prompt;
        EXPECT_EQ(decode(context.get(), tokens, 0, tokens.size()), 0);
        std::vector<llama_token> generated;
        for (int step = 0; step < count; ++step) {
            const float* row = llama_get_logits_ith(context.get(), -1);
            const llama_token next =
                static_cast<llama_token>(std::max_element(row, row + n_vocab) - row);
            generated.push_back(next);
            tokens.push_back(next);
            EXPECT_EQ(decode(context.get(), tokens, tokens.size() - 1, tokens.size()), 0);
        }
        return generated;
    }

    static Model model_;
};
Model LlamaEngineTest::model_;

TEST_F(LlamaEngineTest, ModelHasTheQwen2ShapeAndTokenizer) {
    char architecture[64] = {};
    ASSERT_GT(llama_model_meta_val_str(model_.get(), "general.architecture", architecture,
                                       sizeof(architecture)),
              0);
    EXPECT_STREQ(architecture, "qwen2");
    EXPECT_EQ(llama_vocab_n_tokens(vocab()), 151936);
    EXPECT_EQ(llama_model_n_layer(model_.get()), 2);
    EXPECT_EQ(llama_model_n_embd(model_.get()), 64);
    EXPECT_EQ(llama_model_n_head(model_.get()), 4);
    EXPECT_EQ(llama_model_n_head_kv(model_.get()), 2);
    EXPECT_FLOAT_EQ(llama_model_rope_freq_scale_train(model_.get()), 1.0f);
    // Qwen2's end of text, from the vocabulary file.
    EXPECT_EQ(llama_vocab_eos(vocab()), 151643);
}

// Ids from llama.cpp's own reference, models/ggml-vocab-qwen2.gguf.inp/.out: "Hello world" is
// 9707 1879, " Hello world" 21927 1879 (GPT-2 byte-level BPE: "Ġ" is the space).
TEST_F(LlamaEngineTest, TokenizesWithTheRealQwen2Tokenizer) {
    EXPECT_EQ(tokenize("Hello world"), (std::vector<llama_token>{9707, 1879}));
    EXPECT_EQ(tokenize(" Hello world"), (std::vector<llama_token>{21927, 1879}));
    EXPECT_STREQ(llama_vocab_get_text(vocab(), 9707), "Hello");
    EXPECT_STREQ(llama_vocab_get_text(vocab(), 1879), "\xC4\xA0world");  // "Ġworld"
    // With parse_special, a special token's text is that one token.
    std::vector<llama_token> special(8);
    const std::string text = "<|endoftext|>";
    ASSERT_EQ(
        llama_tokenize(vocab(), text.data(), static_cast<int32_t>(text.size()), special.data(),
                       static_cast<int32_t>(special.size()), false, /*parse_special=*/true),
        1);
    EXPECT_EQ(special[0], 151643);
}

TEST_F(LlamaEngineTest, GreedyDecodingRepeatsTokenForToken) {
    const std::vector<llama_token> prompt = tokenize("The quick brown fox jumps over the lazy dog");
    ASSERT_EQ(prompt.size(), 9u);
    const std::vector<llama_token> first = greedy(prompt, 24);
    const std::vector<llama_token> second = greedy(prompt, 24);
    ASSERT_EQ(first.size(), 24u);
    EXPECT_EQ(first, second);
    // Random weights still give a real distribution: not one token over and over.
    EXPECT_GT(
        std::count_if(first.begin(), first.end(), [&](llama_token t) { return t != first[0]; }), 0);
}

// Prefill in chunks (what corun's scheduler interleaves with vision frames) against the whole
// prompt in one call. Measured here: every call of 2 or more tokens gives logits bitwise equal
// to one-shot prefill, whatever the chunk size: each output row is computed from its own
// token's activations and the same KV cache cells, and the batched kernels (matrix products,
// attention) accumulate over the same inner dimension in the same order whatever the number of
// rows. A call of a single token takes ggml's single-row kernels instead (vector dot products,
// the one-query attention path), whose sums round differently in the last bits; the 8-bit
// quantization of activations before the Q4_0 output matrix turns that into up to 0.4% of the
// largest logit here. So: exact for chunks of >= 2 tokens, within 1% of the largest logit for
// chunks of 1 (and a corun run compared with llama.cpp's must make the same calls to be
// bitwise equal).
TEST_F(LlamaEngineTest, ChunkedPrefillGivesTheSameLogitsAsOneShot) {
    const std::vector<llama_token> prompt = tokenize(
        "Chunked prefill feeds a long prompt to the model a few tokens at a time, so that a "
        "vision frame never waits behind all of it.");
    ASSERT_EQ(prompt.size(), 30u);
    const auto whole = prefill_logits(prompt, 64);
    // 7, 8 and 16 leave a last chunk of 2, 6 and 14 tokens.
    for (uint32_t chunk : {2u, 3u, 4u, 5u, 7u, 8u, 16u}) {
        SCOPED_TRACE("chunks of " + std::to_string(chunk) + " tokens");
        const auto chunked = prefill_logits(prompt, chunk);
        ASSERT_EQ(chunked.size(), whole.size());
        for (size_t position = 0; position < whole.size(); ++position) {
            ASSERT_EQ(std::memcmp(chunked[position].data(), whole[position].data(),
                                  whole[position].size() * sizeof(float)),
                      0)
                << "logits differ at prompt position " << position;
        }
    }
    const auto one_by_one = prefill_logits(prompt, 1);
    ASSERT_EQ(one_by_one.size(), whole.size());
    for (size_t position = 0; position < whole.size(); ++position) {
        float worst = 0, largest = 0;
        for (size_t k = 0; k < whole[position].size(); ++k) {
            worst = std::max(worst, std::fabs(one_by_one[position][k] - whole[position][k]));
            largest = std::max(largest, std::fabs(whole[position][k]));
        }
        EXPECT_LE(worst, 1e-2f * largest) << "at prompt position " << position;
    }
}

// llama_decode does not refuse a batch of more than n_batch tokens: it aborts the process
// (GGML_ASSERT). Whoever calls it (corun's LLM engine) must split prompts itself.
TEST_F(LlamaEngineTest, BatchLargerThanNBatchAbortsTheProcess) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    const std::vector<llama_token> prompt = tokenize("one two three four five six");
    ASSERT_GT(prompt.size(), 4u);
    EXPECT_DEATH(
        {
            ::setenv("GGML_NO_BACKTRACE", "1", 1);  // no gdb attach in the dying child
            Context context = new_context(4);
            decode(context.get(), prompt, 0, prompt.size());
        },
        "n_tokens_all <= cparams.n_batch");
}

// Files that are not models: llama.cpp returns null and the process carries on.
class LlamaBadFileTest : public ::testing::Test {
protected:
    void SetUp() override {
        llama_log_set(quiet_log, nullptr);
        llama_backend_init();
        directory_ = std::filesystem::temp_directory_path() /
                     ("llama_bad_file_test." +
                      std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "." +
                      ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::create_directories(directory_);
    }
    void TearDown() override {
        std::filesystem::remove_all(directory_);
        llama_backend_free();
    }
    std::string write(const std::string& name, const std::string& bytes) {
        const std::string path = (directory_ / name).string();
        std::ofstream(path, std::ios::binary)
            .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        return path;
    }
    static llama_model* load(const std::string& path) {
        llama_model_params params = llama_model_default_params();
        params.n_gpu_layers = 0;
        return llama_model_load_from_file(path.c_str(), params);
    }
    std::filesystem::path directory_;
};

TEST_F(LlamaBadFileTest, TruncatedGgufIsRefused) {
    std::ifstream in(kTinyLlm, std::ios::binary);
    const std::string whole((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_GT(whole.size(), 1000000u);
    // Cut in the tensor data, in the tokenizer's metadata, and in the header.
    for (size_t size : {whole.size() - 4096, whole.size() / 2, size_t{4096}, size_t{12}}) {
        SCOPED_TRACE(std::to_string(size) + " of " + std::to_string(whole.size()) + " bytes");
        llama_model* model = load(write("truncated.gguf", whole.substr(0, size)));
        EXPECT_EQ(model, nullptr);
        if (model != nullptr) llama_model_free(model);
    }
}

TEST_F(LlamaBadFileTest, FilesThatAreNotGgufAreRefused) {
    const std::string onnx = std::string(CORUN_TEST_MODEL_DIR) + "/add_one.onnx";
    for (const std::string& path :
         {write("text.gguf", "this is not a model\n"), write("empty.gguf", ""),
          write("magic_only.gguf", std::string("GGUF\x03\0\0\0", 8)), onnx,
          (directory_ / "missing.gguf").string()}) {
        SCOPED_TRACE(path);
        llama_model* model = load(path);
        EXPECT_EQ(model, nullptr);
        if (model != nullptr) llama_model_free(model);
    }
}

}  // namespace
