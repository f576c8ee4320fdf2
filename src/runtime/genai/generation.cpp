#include "runtime/genai/generation.hpp"

namespace corun::genai::detail {
namespace {

double milliseconds_between(Generation::Clock::time_point from, Generation::Clock::time_point to) {
    return std::chrono::duration<double, std::milli>(to - from).count();
}

}  // namespace

Generation::Generation(uint32_t prompt_tokens) {
    timings_.prompt_tokens = prompt_tokens;
}

void Generation::add_token(const std::string& text) {
    const auto now = Clock::now();
    {
        std::lock_guard lock(mutex_);
        if (timings_.generated_tokens == 0) {
            timings_.time_to_first_token_ms = milliseconds_between(started_, now);
        } else {
            timings_.inter_token_ms.push_back(milliseconds_between(last_token_, now));
        }
        ++timings_.generated_tokens;
        last_token_ = now;
        if (!text.empty()) pieces_.push_back(text);
    }
    changed_.notify_all();
}

void Generation::add_text(const std::string& text) {
    if (text.empty()) return;
    {
        std::lock_guard lock(mutex_);
        pieces_.push_back(text);
    }
    changed_.notify_all();
}

void Generation::finish(GenerationStatus status) {
    {
        std::lock_guard lock(mutex_);
        if (status_ != GenerationStatus::GENERATING) return;
        status_ = status;
    }
    changed_.notify_all();
}

void Generation::fail(const corun::Status& error) {
    {
        std::lock_guard lock(mutex_);
        if (status_ != GenerationStatus::GENERATING) return;
        // A failed generation reads as ABORTED, with the cause as read()'s error.
        status_ = GenerationStatus::ABORTED;
        error_ = error;
    }
    changed_.notify_all();
}

Expected<std::string> Generation::read(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    const bool ready = changed_.wait_for(
        lock, timeout, [&] { return !pieces_.empty() || status_ != GenerationStatus::GENERATING; });
    if (!pieces_.empty() && !abort_requested_) {
        std::string piece = std::move(pieces_.front());
        pieces_.pop_front();
        // What arrived meanwhile goes with it: a reader is never behind by more than one read.
        while (!pieces_.empty()) {
            piece += pieces_.front();
            pieces_.pop_front();
        }
        return piece;
    }
    if (!ready) {
        return corun::Status(StatusCode::TIMEOUT,
                             "no token within " + std::to_string(timeout.count()) +
                                 " ms; the generation goes on (read again, or abort())");
    }
    if (!error_.is_ok()) return error_;
    if (status_ == GenerationStatus::ABORTED) {
        return corun::Status(StatusCode::ABORTED,
                             "the generation was aborted; start another with generate()");
    }
    return corun::Status(StatusCode::INVALID_OPERATION,
                         std::string("the generation has ended (") +
                             generation_status_name(status_) +
                             ") and every piece was read; start another with generate()");
}

Expected<std::string> Generation::read_all(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, timeout,
                           [&] { return status_ != GenerationStatus::GENERATING; })) {
        return corun::Status(StatusCode::TIMEOUT,
                             "the generation did not end within " +
                                 std::to_string(timeout.count()) +
                                 " ms; read() takes the text so far, abort() stops it");
    }
    if (!error_.is_ok()) return error_;
    if (status_ == GenerationStatus::ABORTED) {
        return corun::Status(StatusCode::ABORTED,
                             "the generation was aborted; start another with generate()");
    }
    std::string text;
    for (auto& piece : pieces_) text += piece;
    pieces_.clear();
    return text;
}

Generation::GenerationStatus Generation::status() const {
    std::lock_guard lock(mutex_);
    return status_;
}

corun::Status Generation::error() const {
    std::lock_guard lock(mutex_);
    return error_;
}

void Generation::request_abort(const std::function<void()>& stop) {
    abort_requested_ = true;
    stop();
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return status_ != GenerationStatus::GENERATING; });
}

bool Generation::wait_ended(std::chrono::milliseconds limit) const {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return status_ != GenerationStatus::GENERATING; });
}

LLMGeneratorCompletion::Timings Generation::timings() const {
    std::lock_guard lock(mutex_);
    return timings_;
}

}  // namespace corun::genai::detail
