#include "serving/served_llm.hpp"
#include "serving/elapsed_microseconds.hpp"

#include <chrono>
#include <numeric>

namespace corun::serving {
namespace {

using Clock = std::chrono::steady_clock;
using GenerationStatus = genai::LLMGeneratorCompletion::Status;

// How long one read waits for the next piece before the request looks at shutdown again.
constexpr std::chrono::milliseconds READ_POLL{250};

const char* finish_reason(GenerationStatus status) {
    switch (status) {
        case GenerationStatus::MAX_TOKENS_REACHED:
            return "length";
        case GenerationStatus::LOGICAL_END_OF_GENERATION:
            return "stop";
        default:
            return "aborted";
    }
}

}  // namespace

Expected<std::shared_ptr<ServedLlm>> ServedLlm::load(VDevice& vdevice, const std::string& name,
                                                     const ModelVersionFile& file,
                                                     const ModelConfig& config) {
    std::shared_ptr<ServedLlm> served(new ServedLlm());
    served->name_ = name;
    served->version_ = file.version;
    served->config_ = config;
    genai::LLMParams params;
    params.context_size = config.context_size;
    params.prefill_chunk_tokens = config.prefill_chunk_tokens;
    params.threads = config.threads;
    const std::string label = "model '" + name + "' version " + file.version;
    CORUN_TRY(served->llm_, genai::LLM::create(vdevice, file.path, params), label);
    CORUN_RETURN_IF_ERROR(
        served->llm_->set_scheduler_priority(static_cast<uint8_t>(config.priority)),
        label + " config priority");
    return served;
}

ServedLlm::~ServedLlm() {
    shutdown();
}

void ServedLlm::shutdown() {
    std::lock_guard lock(mutex_);
    shut_down_ = true;  // the running generation sees it at its next read and aborts
}

size_t ServedLlm::context_capacity() const {
    return llm_->max_context_capacity();
}

uint64_t ServedLlm::scheduler_model_id() const {
    return llm_->scheduler_model_id();
}

GenerationStatisticsSnapshot ServedLlm::generation_statistics() const {
    std::lock_guard lock(generation_statistics_mutex_);
    return generation_statistics_;
}

void ServedLlm::record(const genai::LLMGeneratorCompletion::Timings& timings,
                       const std::string& ending) {
    std::lock_guard lock(generation_statistics_mutex_);
    auto& counts = generation_statistics_;
    ++counts.finished[ending];
    counts.generated_tokens += timings.generated_tokens;
    counts.prompt_tokens += timings.prompt_tokens;
    if (timings.generated_tokens > 0) {
        const auto first_us = static_cast<uint64_t>(timings.time_to_first_token_ms * 1000.0);
        size_t bucket = 0;
        while (bucket < TIME_TO_FIRST_TOKEN_BUCKETS_US.size() &&
               first_us > TIME_TO_FIRST_TOKEN_BUCKETS_US[bucket]) {
            ++bucket;
        }
        ++counts.first_token_buckets[bucket];
        counts.first_token_sum_us += first_us;
    }
    const double gaps_ms =
        std::accumulate(timings.inter_token_ms.begin(), timings.inter_token_ms.end(), 0.0);
    if (!timings.inter_token_ms.empty() && gaps_ms > 0) {
        counts.last_tokens_per_second =
            static_cast<double>(timings.inter_token_ms.size()) / (gaps_ms / 1000.0);
    }
}

Expected<GenerateResponse> ServedLlm::generate(const GenerateRequest& request,
                                               const PieceSink& on_piece) {
    const auto start = Clock::now();
    const PendingRequest entered(statistics_);
    const uint64_t pending = entered.inside();
    auto fail = [&](const Status& status) -> Expected<GenerateResponse> {
        statistics_.record_failure(failure_reason_of(status.code()),
                                   microseconds_between(start, Clock::now()));
        return status.with_context("model '" + name_ + "' version " + version_);
    };
    if (pending > config_.max_queued_requests) {
        return fail(Status(StatusCode::QUEUE_IS_FULL,
                           "already " + std::to_string(config_.max_queued_requests) +
                               " generate requests are waiting or running (its "
                               "max_queued_requests); try again later"));
    }
    auto done = run(request, on_piece);
    if (!done) return fail(done.status());
    statistics_.record_success(1, 1, 0, 0, microseconds_between(start, Clock::now()));
    return done;
}

Expected<GenerateResponse> ServedLlm::run(const GenerateRequest& request,
                                          const PieceSink& on_piece) {
    std::lock_guard turn(generation_mutex_);
    auto shut_down = [&] {
        std::lock_guard lock(mutex_);
        return shut_down_;
    };
    if (shut_down()) {
        return Status(StatusCode::SHUTDOWN, "the model was unloaded; load it again to serve it");
    }
    // The previous generation has ended (its completion was read to the end or aborted), so
    // the LLM is free: clear_context() waits for what is left of it (an LLM on corund: its
    // stream's last call).
    CORUN_RETURN_IF_ERROR(llm_->clear_context());
    genai::LLMGeneratorParams params;
    params.max_generated_tokens = request.max_tokens;
    params.temperature = request.temperature;
    params.top_p = request.top_p;
    params.top_k = request.top_k;
    params.seed = request.seed;
    params.stop_sequences = request.stop;
    CORUN_TRY(auto completion, llm_->generate(params, request.text_input));
    GenerateResponse response;
    response.model_name = name_;
    response.model_version = version_;
    response.id = request.id;
    Status failure = Status::ok();
    while (true) {
        auto piece = completion.read(READ_POLL);
        if (piece) {
            response.text_output += piece.value();
            if (on_piece && !on_piece(piece.value())) {
                completion.abort().ignore();  // the client went away
                break;
            }
            if (shut_down()) {
                completion.abort().ignore();
                failure = Status(StatusCode::SHUTDOWN, "the server is stopping");
                break;
            }
            continue;
        }
        if (piece.status().code() == StatusCode::TIMEOUT) {
            if (shut_down()) {
                completion.abort().ignore();
                failure = Status(StatusCode::SHUTDOWN, "the server is stopping");
                break;
            }
            continue;
        }
        // INVALID_OPERATION: ended and every piece read; anything else: the engine's failure.
        if (completion.generation_status() == GenerationStatus::GENERATING ||
            piece.status().code() != StatusCode::INVALID_OPERATION) {
            failure = piece.status();
        }
        break;
    }
    const auto timings = completion.timings();
    const std::string ending = failure.is_ok() || failure.code() == StatusCode::SHUTDOWN
                                   ? finish_reason(completion.generation_status())
                                   : "error";
    record(timings, ending);
    CORUN_RETURN_IF_ERROR(failure);
    response.prompt_tokens = timings.prompt_tokens;
    response.generated_tokens = timings.generated_tokens;
    response.finish_reason = ending;
    return response;
}

}  // namespace corun::serving
