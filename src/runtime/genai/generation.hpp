// One generation as its reader sees it: the text pieces produced so far, how it ended, and its
// timings. The producer (a local LLM session's units, or corund's stream) pushes; the
// completion handle reads. Shared by both, so the behaviour of read() is the same everywhere.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>

#include "corun/genai/llm.hpp"

namespace corun::genai::detail {

class Generation {
public:
    using GenerationStatus = LLMGeneratorCompletion::Status;
    using Clock = std::chrono::steady_clock;

    explicit Generation(uint32_t prompt_tokens);

    // ---- producer ----
    // A token was sampled (for the timings); `text` may be empty (held back).
    void add_token(const std::string& text);
    // Text without a token of its own (what a stop-sequence check released at the end).
    void add_text(const std::string& text);
    // The generation ended normally (MAX_TOKENS_REACHED or LOGICAL_END_OF_GENERATION) or was
    // aborted; or failed with `error`. Only the first call counts.
    void finish(GenerationStatus status);
    void fail(const corun::Status& error);
    bool abort_requested() const { return abort_requested_.load(std::memory_order_relaxed); }

    // ---- reader ----
    Expected<std::string> read(std::chrono::milliseconds timeout);
    Expected<std::string> read_all(std::chrono::milliseconds timeout);
    GenerationStatus status() const;
    // Why it failed (fail()); OK when it ended otherwise or goes on.
    corun::Status error() const;
    // Asks the producer to stop; `stop` is how (cancels queued work, and so on). Waits until the
    // generation has ended.
    void request_abort(const std::function<void()>& stop);
    // Waits at most `limit` for the end.
    bool wait_ended(std::chrono::milliseconds limit) const;
    LLMGeneratorCompletion::Timings timings() const;

private:
    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    std::deque<std::string> pieces_;
    GenerationStatus status_ = GenerationStatus::GENERATING;
    corun::Status error_;
    std::atomic<bool> abort_requested_{false};
    const Clock::time_point started_ = Clock::now();
    Clock::time_point last_token_{};
    LLMGeneratorCompletion::Timings timings_;
};

}  // namespace corun::genai::detail
