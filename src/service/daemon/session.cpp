#include "service/daemon/session.hpp"

#include <cmath>

#include "protocol/proto_conversion.hpp"
#include "runtime/api_access.hpp"

namespace corun::service {
namespace {

// Regions a client may register: its own user's (root's clients: any, as root can open them
// anyway).
std::optional<uint32_t> region_owner(const SessionOwner& owner) {
    if (owner.credentials.known && owner.credentials.uid != 0) return owner.credentials.uid;
    return std::nullopt;
}

// The scheduler's figures of one model, under the session's id and name (set by the caller).
void fill_scheduled(const ScheduledModelStats& scheduled, uint32_t burst, v1::ModelStats& model) {
    model.mutable_scheduling()->set_priority(scheduled.priority);
    model.mutable_scheduling()->set_burst(burst);
    model.set_frames_done(scheduled.frames_done);
    model.set_device_time_ns(scheduled.device_time_ns);
    model.set_switches_in(scheduled.switches);
    model.set_frames_queued(scheduled.frames_queued);
    model.set_frames_running(scheduled.frames_running);
    model.set_queue_capacity(scheduled.queue_capacity);
    model.set_latency_p50_ms(scheduled.latency_p50_ms);
    model.set_latency_p95_ms(scheduled.latency_p95_ms);
    model.set_max_overtaken_by(scheduled.max_overtaken_by);
    model.mutable_scheduling()->set_latency_slo_ms(
        static_cast<uint32_t>(std::lround(scheduled.latency_slo_ms)));
    set_deadline_figures(scheduled, model);
}

}  // namespace

ClientSession::ClientSession(uint64_t id, SessionOwner owner, std::unique_ptr<VDevice> vdevice,
                             DaemonLimits limits, std::shared_ptr<ClientAccount> account,
                             LoadMemoryMeter& load_memory,
                             std::shared_ptr<AccountCharge> worker_threads)
    : id_(id),
      owner_(std::move(owner)),
      vdevice_(std::move(vdevice)),
      worker_threads_(std::move(worker_threads)),
      buffers_(limits.max_shm_bytes_per_client, region_owner(owner_)),
      models_(id, *vdevice_, limits, account, load_memory),
      llms_(id, *vdevice_, limits, account),
      speech_models_(id, *vdevice_, limits, std::move(account)),
      submitter_(models_, buffers_, outbox_, limits.max_queued_frames_per_client) {}

ClientSession::~ClientSession() {
    release();
}

Status ClientSession::open_fast_lane(uint64_t buffer_id) {
    return lane_.open(*this, buffer_id, buffers_.find(buffer_id));
}

std::vector<v1::ModelStats> ClientSession::scheduler_stats() {
    const auto models = models_.served();
    const auto llms = llms_.list();
    const auto speech_models = speech_models_.list();
    std::vector<v1::ModelStats> stats;
    for (const auto& scheduled : vdevice_->get_scheduler_stats()) {
        for (const auto& served : models) {
            if (served->configured.scheduler_model_id() != scheduled.model_id) continue;
            v1::ModelStats& model = stats.emplace_back();
            model.set_model_id(served->model_id);
            model.set_name(served->layout.name);
            fill_scheduled(scheduled, served->layout.batch_size, model);
        }
        for (const auto& llm : llms) {
            if (llm->session->model_id() != scheduled.model_id) continue;
            v1::ModelStats& model = stats.emplace_back();
            model.set_model_id(llm->llm_id);
            model.set_name(llm->name);
            fill_scheduled(scheduled, 1, model);  // an LLM runs one unit at a time
        }
        for (const auto& speech : speech_models) {
            if (speech->session->model_id() != scheduled.model_id) continue;
            v1::ModelStats& model = stats.emplace_back();
            model.set_model_id(speech->model_id);
            model.set_name(speech->name);
            fill_scheduled(scheduled, 1, model);  // one 30 s window at a time
        }
    }
    return stats;
}

bool ClientSession::attach_stream() {
    bool expected = false;
    return stream_attached_.compare_exchange_strong(expected, true);
}

void ClientSession::release() {
    if (released_.exchange(true)) return;
    // LLMs first: each generation stops at its unit's next graph node, and its context and
    // model are freed (the client is gone or done; nothing else will read them).
    llms_.close();
    speech_models_.close();
    // Later loads, configurations and lane openings are refused; requests find no model.
    ModelRegistry::Closed models = models_.close();
    // Running frames are stopped, not waited for: a client that went away (or SIGTERM) must not
    // leave a frame with an endless Loop holding a device slot and this session forever. First
    // of all, since the lane thread may be running one of them itself.
    for (auto& model : models.served) {
        runtime::terminate_running_frames(model->configured);
    }
    // Then the lane, so that no lane request arrives while the models shut down; the lane
    // thread may be inside submit(), so this holds no lock of the session's.
    lane_.stop();
    for (auto& model : models.served) model->configured.shutdown().ignore();
    models.served.clear();
    models.loaded.clear();
    buffers_.close();
}

}  // namespace corun::service
