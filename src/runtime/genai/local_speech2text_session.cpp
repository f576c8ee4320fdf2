#include "runtime/genai/local_speech2text_session.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>

#include "devices/whisper/whisper_engine.hpp"
#include "runtime/device_group.hpp"
#include "runtime/genai/scheduled_generative_model.hpp"
#include "runtime/local_backend.hpp"
#include "scheduler/scheduler.hpp"

namespace corun::genai::detail {
namespace {

namespace engine = devices::whisper;

// One transcription: the caller's audio (alive while the caller waits), the windows run so far
// and how it ended. The units fill it in; the caller waits for ended.
class Transcription {
public:
    Transcription(std::span<const float> audio, TranscriptionRequest request)
        : audio_(audio),
          request_(std::move(request)),
          windows_((audio.size() + engine::WINDOW_SAMPLES - 1) / engine::WINDOW_SAMPLES) {}

    std::span<const float> window(size_t index) const {
        const size_t start = index * engine::WINDOW_SAMPLES;
        return audio_.subspan(start, std::min(engine::WINDOW_SAMPLES, audio_.size() - start));
    }
    size_t windows() const { return windows_; }
    const TranscriptionRequest& request() const { return request_; }

    // ---- units (one at a time) ----
    size_t next_window = 0;
    std::vector<Speech2TextSegment> segments;

    bool abort_requested() const { return abort_requested_.load(std::memory_order_relaxed); }
    void request_abort() { abort_requested_.store(true, std::memory_order_relaxed); }

    // Only the first call counts; after it, nothing may touch the caller's audio.
    void finish(const corun::Status& result) {
        std::lock_guard lock(mutex_);
        if (ended_) return;
        ended_ = true;
        result_ = result;
        ended_changed_.notify_all();
    }

    // ---- the caller ----
    Expected<std::vector<Speech2TextSegment>> wait() {
        std::unique_lock lock(mutex_);
        ended_changed_.wait(lock, [&] { return ended_; });
        if (!result_.is_ok()) return result_;
        return std::move(segments);
    }
    void wait_ended() {
        std::unique_lock lock(mutex_);
        ended_changed_.wait(lock, [&] { return ended_; });
    }

private:
    const std::span<const float> audio_;
    const TranscriptionRequest request_;
    const size_t windows_;
    std::atomic<bool> abort_requested_{false};
    std::mutex mutex_;
    std::condition_variable ended_changed_;
    bool ended_ = false;
    corun::Status result_;
};

class LocalSpeech2TextSession final : public Speech2TextSession,
                                      public std::enable_shared_from_this<LocalSpeech2TextSession> {
public:
    LocalSpeech2TextSession(std::shared_ptr<DeviceGroup> group,
                            std::unique_ptr<engine::WhisperModel> model,
                            ScheduledGenerativeModel scheduled)
        : group_(std::move(group)), model_(std::move(model)), scheduled_(std::move(scheduled)) {}

    ~LocalSpeech2TextSession() override { close(); }

    corun::Status check(const TranscriptionRequest& request) const override {
        return model_->check_options({request.language, request.translate, false});
    }

    Expected<std::vector<Speech2TextSegment>> transcribe(
        std::span<const float> audio, const TranscriptionRequest& request) override {
        CORUN_RETURN_IF_ERROR(engine::check_audio(audio));
        CORUN_RETURN_IF_ERROR(check(request));
        // One transcription at a time: the engine's context runs one window at a time, and a
        // window's text prompts the next one's.
        std::lock_guard call(call_mutex_);
        auto transcription = std::make_shared<Transcription>(audio, request);
        {
            std::lock_guard lock(mutex_);
            if (closed_) return corun::Status(StatusCode::SHUTDOWN, "the Speech2Text was closed");
            active_ = transcription;
        }
        queue_next(transcription);
        auto result = transcription->wait();
        std::lock_guard lock(mutex_);
        active_.reset();
        return result;
    }

    corun::Status set_priority(uint8_t priority) override {
        return scheduled_.set_priority(priority);
    }
    corun::Status set_timeout(std::chrono::milliseconds timeout) override {
        return scheduled_.set_timeout(timeout);
    }
    uint64_t model_id() const override { return scheduled_.model_id(); }

    void close() override {
        std::shared_ptr<Transcription> active;
        {
            std::lock_guard lock(mutex_);
            if (closed_) return;
            closed_ = true;
            active = active_;
        }
        if (active) {
            active->request_abort();  // a running unit stops at its next preemption point
            scheduled_.cancel_queued(
                corun::Status(StatusCode::ABORTED, "the Speech2Text was closed"));
            active->wait_ended();
        }
        scheduled_.remove();
    }

private:
    void queue_next(const std::shared_ptr<Transcription>& transcription) {
        scheduler::InferRequest request;
        request.run = [self = shared_from_this(), transcription](size_t device_index) {
            return self->run_unit(transcription, device_index);
        };
        request.cancel = [transcription](corun::Status reason) {
            transcription->finish(
                transcription->abort_requested()
                    ? corun::Status(StatusCode::ABORTED, "the Speech2Text was closed")
                    : reason);
        };
        if (auto queued = scheduled_.enqueue(std::move(request)); !queued.is_ok()) {
            transcription->finish(queued);
        }
    }

    // One 30 s window; queues the next one or ends the transcription.
    int64_t run_unit(const std::shared_ptr<Transcription>& shared, size_t device_index) {
        Transcription& transcription = *shared;
        ScheduledGenerativeModel::UnitClock clock(scheduled_, device_index);
        const engine::WhisperModel::StopPoint stop_point = [&] {
            if (transcription.abort_requested()) return true;
            clock.preemption_point();
            return transcription.abort_requested();
        };
        if (transcription.abort_requested()) {
            transcription.finish(corun::Status(StatusCode::ABORTED, "the Speech2Text was closed"));
            return 0;
        }
        const size_t index = transcription.next_window;
        const engine::TranscribeOptions options{transcription.request().language,
                                                transcription.request().translate,
                                                /*continues=*/index > 0};
        auto window = model_->transcribe(transcription.window(index), options, stop_point);
        const int64_t device_ns = clock.device_ns();
        if (!window.has_value()) {
            if (window.status().code() == StatusCode::ABORTED) {
                transcription.finish(
                    corun::Status(StatusCode::ABORTED, "the Speech2Text was closed"));
            } else {
                transcription.finish(window.status().with_context(
                    "transcribing window " + std::to_string(index + 1) + " of " +
                    std::to_string(transcription.windows()) + " with '" + model_->path() + "'"));
            }
            return device_ns;
        }
        const double offset_sec =
            static_cast<double>(index * engine::WINDOW_SAMPLES) / engine::SAMPLE_RATE;
        for (auto& segment : *window) {
            transcription.segments.push_back({offset_sec + segment.start_sec,
                                              offset_sec + segment.end_sec,
                                              std::move(segment.text)});
        }
        transcription.next_window = index + 1;
        if (transcription.next_window < transcription.windows()) {
            queue_next(shared);
        } else {
            transcription.finish(corun::Status::ok());
        }
        return device_ns;
    }

    std::shared_ptr<DeviceGroup> group_;           // keeps the scheduler alive
    std::unique_ptr<engine::WhisperModel> model_;  // used by one unit at a time
    ScheduledGenerativeModel scheduled_;
    std::mutex call_mutex_;  // held for a whole transcribe()
    std::mutex mutex_;
    std::shared_ptr<Transcription> active_;
    bool closed_ = false;
};

}  // namespace

Expected<std::shared_ptr<Speech2TextSession>> open_local_speech2text_session(
    std::shared_ptr<DeviceGroup> group, runtime::LocalBackend& backend,
    const std::string& model_path, const Speech2TextParams& params) {
    CORUN_TRY(auto model, engine::WhisperModel::load(model_path, params.threads));
    CORUN_TRY(auto scheduled,
              ScheduledGenerativeModel::add(backend, model_path, params.preemption));
    return std::shared_ptr<Speech2TextSession>(std::make_shared<LocalSpeech2TextSession>(
        std::move(group), std::move(model), std::move(scheduled)));
}

}  // namespace corun::genai::detail
