// genai::LLM (issue 12) on the tiny qwen2 GGUF that tests/models/make_tiny_llm.py writes at build
// time (real Qwen2 tokenizer, random weights: the text is gibberish by design). The reference for
// what the model generates is llama.cpp's own C API driven directly here (greedy argmax over
// llama_get_logits), independent of corun's path. The scheduler tests read its decision trace.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/environment.hpp"
#include "corun/genai/llm.hpp"
#include "llama.h"
#include "runtime/api_access.hpp"
#include "runtime/device_group.hpp"
#include "runtime/local_backend.hpp"
#include "scheduler/scheduler.hpp"
#include "test_support.hpp"

namespace corun {
namespace {

using genai::LLM;
using genai::LLMGeneratorCompletion;
using genai::LLMGeneratorParams;
using genai::LLMParams;
using GenerationStatus = LLMGeneratorCompletion::Status;
using test::unique_group;

const std::string kTinyLlm = test::test_model("genai/tiny_qwen2.gguf");
const std::string kPrompt = "The quick brown fox jumps over the lazy dog. Once upon a time";
// One thread: ggml's threads spin at a barrier after every graph node, which on a loaded 2-core
// machine (the test suite runs two tests at once) costs far more than it gains.
constexpr uint32_t kThreads = 1;
constexpr uint32_t kContext = 512;

// What llama.cpp's own API generates greedily for `prompt`: the bytes of `count` tokens.
std::string reference_greedy(const std::string& prompt, int count) {
    llama_model_params model_params = llama_model_default_params();
    model_params.n_gpu_layers = 0;
    llama_model* model = llama_model_load_from_file(kTinyLlm.c_str(), model_params);
    EXPECT_NE(model, nullptr);
    if (model == nullptr) return {};
    const llama_vocab* vocab = llama_model_get_vocab(model);
    llama_context_params context_params = llama_context_default_params();
    context_params.n_ctx = kContext;
    context_params.n_batch = kContext;
    context_params.n_ubatch = kContext;
    context_params.n_threads = kThreads;
    context_params.n_threads_batch = kThreads;
    llama_context* context = llama_init_from_model(model, context_params);
    std::vector<llama_token> tokens(prompt.size() + 8);
    tokens.resize(llama_tokenize(vocab, prompt.data(), static_cast<int32_t>(prompt.size()),
                                 tokens.data(), static_cast<int32_t>(tokens.size()), true, true));
    std::string text;
    llama_batch batch = llama_batch_get_one(tokens.data(), static_cast<int32_t>(tokens.size()));
    for (int i = 0; i < count; ++i) {
        EXPECT_EQ(llama_decode(context, batch), 0);
        const float* logits = llama_get_logits_ith(context, -1);
        llama_token next = static_cast<llama_token>(
            std::max_element(logits, logits + llama_vocab_n_tokens(vocab)) - logits);
        EXPECT_FALSE(llama_vocab_is_eog(vocab, next)) << "the tiny model ended early";
        char piece[256];
        const int length = llama_token_to_piece(vocab, next, piece, sizeof piece, 0, false);
        text.append(piece, static_cast<size_t>(std::max(length, 0)));
        tokens.assign(1, next);
        batch = llama_batch_get_one(tokens.data(), 1);
    }
    llama_free(context);
    llama_model_free(model);
    return text;
}

class LlmTest : public ::testing::Test {
protected:
    void SetUp() override {
        VDeviceParams params;
        params.group_id = unique_group("llm");
        params.cpu.execution_slots = 1;  // one slot: frames beside a unit run on lent slots
        auto created = VDevice::create(params);
        ASSERT_TRUE(created.has_value()) << created.status();
        vdevice_ = created.release();
    }

    std::unique_ptr<LLM> load(LLMParams params = {}) {
        if (params.context_size == 0) params.context_size = kContext;
        if (params.threads == 0) params.threads = kThreads;
        auto llm = LLM::create(*vdevice_, kTinyLlm, params);
        EXPECT_TRUE(llm.has_value()) << llm.status();
        return llm.has_value() ? llm.release() : nullptr;
    }

    static LLMGeneratorParams greedy(uint32_t tokens) {
        LLMGeneratorParams params;
        params.max_generated_tokens = tokens;
        return params;
    }

    // Every piece read() returns, until the end; the pieces themselves in `pieces`.
    static std::string read_to_end(LLMGeneratorCompletion& completion,
                                   std::vector<std::string>* pieces = nullptr) {
        std::string text;
        while (true) {
            auto piece = completion.read(test::WAIT_LIMIT);
            if (!piece.has_value()) {
                EXPECT_EQ(piece.status().code(), StatusCode::INVALID_OPERATION) << piece.status();
                return text;
            }
            if (pieces != nullptr) pieces->push_back(*piece);
            text += *piece;
        }
    }

    scheduler::Scheduler& scheduler() {
        auto& backend = runtime::ApiAccess::group_of(*vdevice_)->backend();
        return dynamic_cast<runtime::LocalBackend&>(backend).scheduler();
    }

    std::unique_ptr<VDevice> vdevice_;
};

// ---- what it generates ----

TEST_F(LlmTest, GreedyTextIsWhatLlamaCppsOwnApiGenerates) {
    // Enough tokens that a reader a loaded machine holds back a while still sees them come in
    // more than one piece (read() returns everything made since the last read).
    constexpr int kTokens = 96;
    const std::string expected = reference_greedy(kPrompt, kTokens);
    auto llm = load();
    ASSERT_NE(llm, nullptr);
    ASSERT_OK_AND_ASSIGN(auto completion, llm->generate(greedy(kTokens), kPrompt));
    std::vector<std::string> pieces;
    const std::string text = read_to_end(completion, &pieces);
    EXPECT_EQ(completion.generation_status(), GenerationStatus::MAX_TOKENS_REACHED);
    EXPECT_EQ(completion.timings().generated_tokens, static_cast<uint32_t>(kTokens));
    // corun holds back an incomplete UTF-8 character at the end; everything else is identical.
    ASSERT_TRUE(expected.starts_with(text)) << "corun: " << text << "\nllama.cpp: " << expected;
    EXPECT_LT(expected.size() - text.size(), 4u);
    EXPECT_GT(pieces.size(), 1u) << "the text came in one piece, not streamed";
}

TEST_F(LlmTest, ChunkedPrefillGeneratesTheSameTextAsOneShot) {
    std::string one_shot;
    {
        LLMParams params;
        params.prefill_chunk_tokens = 512;
        auto llm = load(params);
        ASSERT_NE(llm, nullptr);
        ASSERT_OK_AND_ASSIGN(auto completion, llm->generate(greedy(16), kPrompt));
        ASSERT_OK_AND_ASSIGN(one_shot, completion.read_all(test::WAIT_LIMIT));
    }
    for (uint32_t chunk : {2u, 3u, 5u}) {
        LLMParams params;
        params.prefill_chunk_tokens = chunk;
        auto llm = load(params);
        ASSERT_NE(llm, nullptr);
        ASSERT_OK_AND_ASSIGN(auto completion, llm->generate(greedy(16), kPrompt));
        ASSERT_OK_AND_ASSIGN(auto chunked, completion.read_all(test::WAIT_LIMIT));
        EXPECT_EQ(chunked, one_shot) << "chunks of " << chunk;
        // Each chunk and each step was one scheduled unit.
        const auto prompt_tokens = completion.timings().prompt_tokens;
        // The last unit is counted once it returned to the scheduler, just after the reader
        // learnt of the end.
        const uint64_t units = (prompt_tokens + chunk - 1) / chunk + 15;
        uint64_t counted = 0;
        test::wait_until([&] {
            for (const auto& stats : vdevice_->get_scheduler_stats()) {
                if (stats.model_id == llm->scheduler_model_id()) counted = stats.frames_done;
            }
            return counted >= units;
        });
        EXPECT_EQ(counted, units) << "chunks of " << chunk;
    }
}

TEST_F(LlmTest, ContextGrowsAcrossGenerationsUntilCleared) {
    auto llm = load();
    ASSERT_NE(llm, nullptr);
    EXPECT_EQ(llm->max_context_capacity(), kContext);
    EXPECT_EQ(llm->get_context_usage_size(), 0u);
    ASSERT_OK_AND_ASSIGN(auto prompt_tokens, llm->tokenize(kPrompt));
    ASSERT_OK_AND_ASSIGN(auto first, llm->generate(greedy(8), kPrompt));
    ASSERT_OK(first.read_all(test::WAIT_LIMIT).status());
    // The prompt and the 7 tokens fed back (the 8th was sampled, not fed).
    EXPECT_EQ(llm->get_context_usage_size(), prompt_tokens.size() + 7);
    ASSERT_OK_AND_ASSIGN(auto second, llm->generate(greedy(4), " and then"));
    ASSERT_OK(second.read_all(test::WAIT_LIMIT).status());
    EXPECT_GT(llm->get_context_usage_size(), prompt_tokens.size() + 7);
    ASSERT_OK(llm->clear_context());
    EXPECT_EQ(llm->get_context_usage_size(), 0u);
    // After clearing, the same prompt generates the same text as a fresh LLM.
    ASSERT_OK_AND_ASSIGN(auto again, llm->generate(greedy(8), kPrompt));
    auto fresh = load();
    ASSERT_OK_AND_ASSIGN(auto from_fresh, fresh->generate(greedy(8), kPrompt));
    EXPECT_EQ(*again.read_all(test::WAIT_LIMIT), *from_fresh.read_all(test::WAIT_LIMIT));
}

TEST_F(LlmTest, StopSequenceEndsTheGenerationWithoutReturningIt) {
    auto llm = load();
    ASSERT_NE(llm, nullptr);
    ASSERT_OK_AND_ASSIGN(auto plain, llm->generate(greedy(24), kPrompt));
    ASSERT_OK_AND_ASSIGN(auto full, plain.read_all(test::WAIT_LIMIT));
    ASSERT_GE(full.size(), 12u);
    // A stop sequence taken from the middle of what the model generates.
    const std::string stop = full.substr(full.size() / 2, 3);
    const std::string before = full.substr(0, full.find(stop));
    ASSERT_OK(llm->clear_context());
    auto params = greedy(24);
    params.stop_sequences = {stop};
    ASSERT_OK_AND_ASSIGN(auto stopped, llm->generate(params, kPrompt));
    EXPECT_EQ(read_to_end(stopped), before);
    EXPECT_EQ(stopped.generation_status(), GenerationStatus::LOGICAL_END_OF_GENERATION);
}

TEST_F(LlmTest, SamplingWithASeedIsRepeatable) {
    auto params = greedy(16);
    params.temperature = 0.8f;
    params.top_k = 40;
    params.top_p = 0.95f;
    params.seed = 7;
    std::vector<std::string> texts;
    for (int run = 0; run < 2; ++run) {
        auto llm = load();
        ASSERT_NE(llm, nullptr);
        ASSERT_OK_AND_ASSIGN(auto completion, llm->generate(params, kPrompt));
        ASSERT_OK_AND_ASSIGN(auto text, completion.read_all(test::WAIT_LIMIT));
        texts.push_back(text);
    }
    EXPECT_EQ(texts[0], texts[1]);
    EXPECT_NE(texts[0], reference_greedy(kPrompt, 16)) << "sampling gave the greedy text";
}

// ---- abort and misuse ----

TEST_F(LlmTest, AbortStopsTheGenerationAndReadSaysSo) {
    auto llm = load();
    ASSERT_NE(llm, nullptr);
    ASSERT_OK_AND_ASSIGN(auto completion, llm->generate(greedy(100000 / 256), kPrompt));
    ASSERT_OK(completion.read(test::WAIT_LIMIT).status());  // it is generating
    ASSERT_OK(completion.abort());
    EXPECT_EQ(completion.generation_status(), GenerationStatus::ABORTED);
    EXPECT_STATUS(completion.read(test::WAIT_LIMIT), StatusCode::ABORTED);
    EXPECT_STATUS(completion.read_all(test::WAIT_LIMIT), StatusCode::ABORTED);
    EXPECT_LT(completion.timings().generated_tokens, 100000u / 256);
    // The LLM is free again, and goes on from the context it has.
    ASSERT_OK_AND_ASSIGN(auto next, llm->generate(greedy(2), " more"));
    ASSERT_OK(next.read_all(test::WAIT_LIMIT).status());
    EXPECT_EQ(next.generation_status(), GenerationStatus::MAX_TOKENS_REACHED);
}

TEST_F(LlmTest, DestroyingTheLlmAbortsItsGeneration) {
    auto llm = load();
    ASSERT_NE(llm, nullptr);
    ASSERT_OK_AND_ASSIGN(auto completion, llm->generate(greedy(300), kPrompt));
    llm.reset();
    EXPECT_EQ(completion.generation_status(), GenerationStatus::ABORTED);
    EXPECT_STATUS(completion.read(test::WAIT_LIMIT), StatusCode::ABORTED);
}

TEST_F(LlmTest, SecondGenerateWhileOneRunsIsRefused) {
    auto llm = load();
    ASSERT_NE(llm, nullptr);
    ASSERT_OK_AND_ASSIGN(auto running, llm->generate(greedy(200), kPrompt));
    auto second = llm->generate(greedy(4), "hello");
    EXPECT_STATUS(second, StatusCode::INVALID_OPERATION);
    EXPECT_TRUE(test::contains(second.status().message(), "abort()")) << second.status();
    EXPECT_STATUS(llm->clear_context(), StatusCode::INVALID_OPERATION);
    ASSERT_OK(running.abort());
}

TEST_F(LlmTest, ReadAfterTheEndNamesHowItEnded) {
    auto llm = load();
    ASSERT_NE(llm, nullptr);
    ASSERT_OK_AND_ASSIGN(auto completion, llm->generate(greedy(3), kPrompt));
    ASSERT_OK(completion.read_all(test::WAIT_LIMIT).status());
    auto after = completion.read(test::WAIT_LIMIT);
    EXPECT_STATUS(after, StatusCode::INVALID_OPERATION);
    EXPECT_TRUE(test::contains(after.status().message(), "MAX_TOKENS_REACHED")) << after.status();
}

TEST_F(LlmTest, PromptLongerThanTheContextIsRefused) {
    LLMParams params;
    params.context_size = 64;
    auto llm = load(params);
    ASSERT_NE(llm, nullptr);
    std::string long_prompt;
    while (llm->tokenize(long_prompt)->size() <= llm->max_context_capacity()) {
        long_prompt += kPrompt;
    }
    auto refused = llm->generate(greedy(4), long_prompt);
    EXPECT_STATUS(refused, StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(test::contains(refused.status().message(), "context_size")) << refused.status();
}

TEST_F(LlmTest, ContextFullEndsTheGenerationAtMaxTokens) {
    LLMParams params;
    params.context_size = 32;
    auto llm = load(params);
    ASSERT_NE(llm, nullptr);
    ASSERT_OK_AND_ASSIGN(auto completion, llm->generate(greedy(100000), kPrompt));
    ASSERT_OK(completion.read_all(test::WAIT_LIMIT).status());
    EXPECT_EQ(completion.generation_status(), GenerationStatus::MAX_TOKENS_REACHED);
    EXPECT_EQ(llm->get_context_usage_size(), llm->max_context_capacity());
    EXPECT_LT(completion.timings().generated_tokens, llm->max_context_capacity());
}

TEST_F(LlmTest, BadParamsAreRefusedByName) {
    auto llm = load();
    ASSERT_NE(llm, nullptr);
    auto params = greedy(0);
    EXPECT_STATUS(llm->generate(params, kPrompt), StatusCode::INVALID_ARGUMENT);
    params = greedy(4);
    params.top_p = 0.0f;
    EXPECT_STATUS(llm->generate(params, kPrompt), StatusCode::INVALID_ARGUMENT);
    params = greedy(4);
    params.temperature = -1.0f;
    EXPECT_STATUS(llm->generate(params, kPrompt), StatusCode::INVALID_ARGUMENT);
    EXPECT_STATUS(llm->generate(greedy(4), ""), StatusCode::INVALID_ARGUMENT);
    EXPECT_STATUS(llm->generate(greedy(4), std::vector<genai::ChatMessage>{}),
                  StatusCode::INVALID_ARGUMENT);
    EXPECT_STATUS(llm->set_scheduler_priority(32), StatusCode::INVALID_ARGUMENT);
    EXPECT_STATUS(llm->set_scheduler_threshold(2), StatusCode::INVALID_ARGUMENT);
    LLMParams bad_chunk;
    bad_chunk.prefill_chunk_tokens = 0;
    EXPECT_STATUS(LLM::create(*vdevice_, kTinyLlm, bad_chunk), StatusCode::INVALID_ARGUMENT);
}

TEST_F(LlmTest, ChatMessagesUseTheModelsTemplate) {
    auto llm = load();
    ASSERT_NE(llm, nullptr);
    std::vector<genai::ChatMessage> messages = {{"system", "You are terse."},
                                                {"user", "Say hello."}};
    ASSERT_OK_AND_ASSIGN(auto completion, llm->generate(greedy(4), messages));
    ASSERT_OK(completion.read_all(test::WAIT_LIMIT).status());
    // Qwen2's template wraps each message in <|im_start|>role ... <|im_end|> (special tokens,
    // one each) and opens the assistant's turn.
    ASSERT_OK_AND_ASSIGN(auto im_start, llm->tokenize("<|im_start|>"));
    EXPECT_EQ(im_start.size(), 1u);
    EXPECT_GT(completion.timings().prompt_tokens, 10u);
}

// ---- the in-process monitor ----

// A snapshot of this process's own monitor, as `corun monitor --pid PID --json --once` prints it.
nlohmann::json monitor_snapshot(const std::string& socket) {
    const std::string command = std::string(CORUN_BINARY) + " monitor --pid " +
                                std::to_string(getpid()) + " --socket '" + socket +
                                "' --json --once 2>/dev/null";
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return nlohmann::json::object();
    std::string text;
    char buffer[4096];
    for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) text.append(buffer, n);
    pclose(pipe);
    return nlohmann::json::parse(text, nullptr, false);
}

// Protobuf's JSON writes 64-bit integers as strings.
uint64_t as_count(const nlohmann::json& value) {
    if (value.is_string()) return std::stoull(value.get<std::string>());
    return value.is_number() ? value.get<uint64_t>() : 0;
}

// `corun monitor --pid` of an application that runs an LLM in its own process (CORUN_MONITOR)
// shows it as corund's monitor shows the LLMs it runs: marked as an LLM, with the tokens it
// generated since loading (exactly), the context in use and its capacity. Tokens/s covers only
// the last second, so it is not asserted.
TEST_F(LlmTest, CorunMonitorOfTheProcessShowsTheLlmsTokensAndContext) {
    VDeviceParams params;
    params.group_id = unique_group("llm-monitor");
    params.monitor = true;
    params.monitor_dir = ::testing::TempDir();
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params));
    ASSERT_OK_AND_ASSIGN(
        auto llm, LLM::create(*vdevice, kTinyLlm, {.context_size = kContext, .threads = kThreads}));
    uint64_t generated = 0;
    for (const char* prompt : {"The quick brown fox", " and then"}) {
        ASSERT_OK_AND_ASSIGN(auto completion, llm->generate(greedy(12), prompt));
        ASSERT_OK(completion.read_all(test::WAIT_LIMIT).status());
        generated += completion.timings().generated_tokens;
    }
    ASSERT_GT(generated, 0u);
    const size_t used = llm->get_context_usage_size();
    ASSERT_GT(used, generated);  // the prompts too

    const std::string socket = environment::in_process_monitor_socket(params, getpid());
    // The LLM's record in a snapshot, null while the monitor has not sampled it yet.
    auto llm_record = [&] {
        const nlohmann::json snapshot = monitor_snapshot(socket);
        if (!snapshot.is_object() || !snapshot.contains("models")) return nlohmann::json();
        for (const auto& model : snapshot["models"]) {
            if (model.value("group_id", "") == params.group_id) return model;
        }
        return nlohmann::json();
    };
    // The monitor samples once a second: ask until a sample taken after the generations.
    nlohmann::json shown;
    ASSERT_TRUE(test::wait_until([&] {
        shown = llm_record();
        if (!shown.is_null() && as_count(shown["tokens_generated"]) == generated) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        return false;
    })) << "the monitor never showed the LLM's "
        << generated << " tokens; last: " << shown;
    EXPECT_EQ(shown["name"], "tiny_qwen2");
    EXPECT_EQ(shown.value("llm", false), true);
    EXPECT_EQ(as_count(shown["pid"]), static_cast<uint64_t>(getpid()));
    EXPECT_EQ(as_count(shown["model_id"]), llm->scheduler_model_id());
    EXPECT_EQ(as_count(shown["context_used"]), used);
    EXPECT_EQ(as_count(shown["context_capacity"]), llm->max_context_capacity());

    // clear_context() shows as an empty context; the tokens since loading stay.
    ASSERT_OK(llm->clear_context());
    ASSERT_TRUE(test::wait_until([&] {
        shown = llm_record();
        if (!shown.is_null() && as_count(shown["context_used"]) == 0) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        return false;
    })) << "the monitor never showed the cleared context; last: "
        << shown;
    EXPECT_EQ(as_count(shown["tokens_generated"]), generated);
}

// ---- files that are not models ----

class LlmFileTest : public LlmTest {
protected:
    std::string write_file(const std::string& name, const std::vector<uint8_t>& bytes) {
        const std::string path =
            std::string(::testing::TempDir()) + "/" + unique_group("llmfile") + name;
        std::ofstream(path, std::ios::binary)
            .write(reinterpret_cast<const char*>(bytes.data()),
                   static_cast<std::streamsize>(bytes.size()));
        return path;
    }
};

TEST_F(LlmFileTest, MissingFileIsNotFound) {
    auto llm = LLM::create(*vdevice_, "/nonexistent/model.gguf");
    EXPECT_STATUS(llm, StatusCode::NOT_FOUND);
    EXPECT_TRUE(test::contains(llm.status().message(), "/nonexistent/model.gguf"));
}

TEST_F(LlmFileTest, OnnxFileIsNotGguf) {
    auto llm = LLM::create(*vdevice_, test::test_model("add_one.onnx"));
    EXPECT_STATUS(llm, StatusCode::INVALID_MODEL);
    EXPECT_TRUE(test::contains(llm.status().message(), "not a GGUF file")) << llm.status();
}

TEST_F(LlmFileTest, TruncatedFilesAreInvalidModels) {
    const auto bytes = test::read_bytes(kTinyLlm);
    ASSERT_GT(bytes.size(), 1000000u);
    // In the header, in the key/value pairs (the vocabulary), in the tensor data, one byte short.
    for (size_t length : {size_t{10}, size_t{4000}, bytes.size() / 2, bytes.size() - 1}) {
        const std::string path = write_file("cut.gguf", {bytes.begin(), bytes.begin() + length});
        auto llm = LLM::create(*vdevice_, path);
        SCOPED_TRACE("cut at " + std::to_string(length));
        EXPECT_STATUS(llm, StatusCode::INVALID_MODEL);
        std::filesystem::remove(path);
    }
}

TEST_F(LlmFileTest, DamagedHeaderCountsAreRefusedBeforeLlamaCppReadsThem) {
    auto bytes = test::read_bytes(kTinyLlm);
    bytes.resize(4096);
    const uint64_t absurd = uint64_t{1} << 40;
    std::memcpy(bytes.data() + 8, &absurd, sizeof absurd);  // the tensor count
    const std::string path = write_file("damaged.gguf", bytes);
    auto llm = LLM::create(*vdevice_, path);
    EXPECT_STATUS(llm, StatusCode::INVALID_MODEL);
    EXPECT_TRUE(test::contains(llm.status().message(), "header is damaged")) << llm.status();
    std::filesystem::remove(path);
}

// ---- on the scheduler, beside a vision model ----

// Vision frames of priority 24, run from another thread while the LLM prefills a long prompt in
// small chunks: the decision trace shows that no chunk or step was ever dispatched while a
// vision frame waited, and (with preemption) that vision frames ran inside a running chunk, at a
// graph node, before the prefill went on.
class LlmBesideVisionTest : public LlmTest, public ::testing::WithParamInterface<bool> {};

TEST_P(LlmBesideVisionTest, VisionFramesOfHigherPriorityNeverWaitForTheNextUnit) {
    const bool preemption = GetParam();
    LLMParams params;
    params.context_size = 2048;
    params.prefill_chunk_tokens = 8;
    params.preemption = preemption;
    auto llm = load(params);
    ASSERT_NE(llm, nullptr);
    // slow_matmul's frames last milliseconds: a unit that runs while one of them runs reaches a
    // preemption point inside it (add_one's microseconds often end before the unit's next node,
    // and then nothing is left to pause for).
    auto model = test::load_test_model(*vdevice_, "slow_matmul.onnx");
    ASSERT_NE(model, nullptr);
    ASSERT_OK_AND_ASSIGN(auto vision, model->configure());
    ASSERT_OK(vision.set_scheduler_priority(24));
    const uint64_t vision_id = vision.scheduler_model_id();
    const uint64_t llm_id = llm->scheduler_model_id();

    std::mutex trace_mutex;
    std::vector<scheduler::DecisionRecord> trace;
    scheduler().set_decision_sink([&](const scheduler::DecisionRecord& record) {
        std::lock_guard lock(trace_mutex);
        trace.push_back(record);
    });
    std::string long_prompt;
    for (int i = 0; i < 40; ++i) long_prompt += kPrompt + " ";
    ASSERT_OK_AND_ASSIGN(auto completion, llm->generate(greedy(8), long_prompt));
    std::atomic<bool> done{false};
    std::atomic<int> frames{0};
    std::thread camera([&] {
        std::vector<float> input(512, 0.5f), output(512);
        auto bindings =
            vision.create_bindings({{"x", MemoryView::of(input)}, {"y", MemoryView::of(output)}});
        // Bounded: at most 5000 frames, and no longer than the generation runs. A pause between
        // frames, as a camera's, leaves the units time to run between them.
        while (!done && frames < 5000) {
            if (vision.run(*bindings, test::WAIT_LIMIT).is_ok()) ++frames;
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    });
    ASSERT_OK(completion.read_all(test::WAIT_LIMIT).status());
    done = true;
    camera.join();
    scheduler().set_decision_sink(nullptr);

    std::lock_guard lock(trace_mutex);
    size_t llm_units = 0, vision_inside_unit = 0;
    for (size_t i = 0; i < trace.size(); ++i) {
        const auto& record = trace[i];
        if (record.model_id == llm_id) {
            ++llm_units;
            for (const auto& [id, queued] : record.queue_depths) {
                EXPECT_FALSE(id == vision_id && queued > 0)
                    << "an LLM unit was dispatched while a vision frame waited (decision " << i
                    << ")";
            }
        } else if (record.model_id == vision_id && record.preempted_model == llm_id) {
            ++vision_inside_unit;
        }
    }
    EXPECT_GT(llm_units, 60u);
    EXPECT_GT(frames.load(), 0);
    // Frames that came while a unit ran were dispatched at once, beside it on the lent slot.
    EXPECT_GT(vision_inside_unit, 0u) << "no vision frame ran while a unit ran";
    // With preemption the unit paused for them; without, it went on beside them.
    uint64_t preemptions = 0;
    for (const auto& stats : scheduler().stats()) {
        if (stats.model_id == llm_id) preemptions = stats.preemptions;
    }
    if (preemption) {
        EXPECT_GT(preemptions, 0u) << frames.load() << " vision frames, " << vision_inside_unit
                                   << " of them while a unit ran";
    } else {
        EXPECT_EQ(preemptions, 0u);
    }
}

INSTANTIATE_TEST_SUITE_P(Preemption, LlmBesideVisionTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "On" : "Off"; });

}  // namespace
}  // namespace corun
