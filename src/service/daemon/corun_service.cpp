#include "service/daemon/corun_service.hpp"

#include <unistd.h>

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <set>
#include <thread>

#include "devices/cpu/cpu_device.hpp"
#include "protocol/proto_conversion.hpp"
#include "protocol/protocol_version.hpp"
#include "service/daemon/request_validation.hpp"
#include "service/daemon/status_message.hpp"

namespace corun::service {
namespace {

constexpr size_t MAX_SESSIONS_PER_CONNECTION = 256;

template <typename Reply>
grpc::Status reply_with(Reply* reply, const Status& status) {
    *reply->mutable_status() = to_proto(status);
    return grpc::Status::OK;
}

VDeviceParams to_vdevice_params(const v1::HelloRequest& request) {
    // No params: the client asked for the defaults.
    return request.has_params() ? from_proto(request.params()) : VDeviceParams{};
}

uint64_t random_session_id() {
    static std::mutex mutex;
    static std::mt19937_64 generator{std::random_device{}()};
    std::lock_guard lock(mutex);
    uint64_t id = 0;
    while (id == 0) id = generator();
    return id;
}

std::string describe_owner(const SessionOwner& owner) {
    return "'" + owner.process_name + "' (pid " + std::to_string(owner.credentials.pid) + ", uid " +
           std::to_string(owner.credentials.uid) + ", " + owner.peer + ")";
}

}  // namespace

const char* daemon_version() {
    return CORUND_VERSION;
}

CorunService::CorunService(DaemonLimits limits, const PeerRegistry& peers)
    : limits_(limits), peers_(peers) {}

CorunService::~CorunService() {
    release_all_sessions();
}

Expected<std::shared_ptr<ClientSession>> CorunService::find_session(grpc::ServerContext* context,
                                                                    uint64_t session_id) const {
    std::shared_ptr<ClientSession> session;
    {
        std::lock_guard lock(mutex_);
        auto found = sessions_.find(session_id);
        if (found != sessions_.end()) session = found->second;
    }
    if (!session) {
        return Status(StatusCode::NOT_FOUND,
                      "session " + std::to_string(session_id) +
                          " is unknown to corund (never opened, already ended, or the daemon "
                          "restarted); call Hello first");
    }
    // Sessions are the user's own: another user's process may not use one even if it learnt
    // the id.
    const PeerCredentials caller = peers_.find(context->peer());
    const PeerCredentials& owner = session->owner().credentials;
    if (caller.known && owner.known && caller.uid != owner.uid) {
        return Status(StatusCode::INVALID_OPERATION,
                      "session " + std::to_string(session_id) +
                          " belongs to another user; call Hello to open your own");
    }
    return session;
}

template <typename Request, typename Reply, typename Serve>
grpc::Status CorunService::with_session(grpc::ServerContext* context, const Request& request,
                                        Reply* reply, Serve&& serve) const {
    auto session = find_session(context, request.session_id());
    if (!session) return reply_with(reply, session.status());
    return reply_with(reply, serve(*session.value()));
}

template <typename Request, typename Reply, typename Serve>
grpc::Status CorunService::with_llm(grpc::ServerContext* context, const Request& request,
                                    Reply* reply, Serve&& serve) const {
    return with_session(context, request, reply, [&](ClientSession& session) -> Status {
        CORUN_TRY(auto llm, session.llms().find(request.llm_id()));
        return serve(*llm);
    });
}

void CorunService::release_session(uint64_t session_id, const std::string& why) {
    std::shared_ptr<ClientSession> session;
    {
        std::lock_guard lock(mutex_);
        auto found = sessions_.find(session_id);
        if (found == sessions_.end()) return;
        session = std::move(found->second);
        sessions_.erase(found);
    }
    const auto started = std::chrono::steady_clock::now();
    const size_t models = session->models().served().size();
    const size_t llms = session->llms().list().size();
    session->release();
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    spdlog::info(
        "session {} of {} released ({}): {} configured model(s) shut down, {} LLM(s) freed in {} "
        "ms",
        session_id, describe_owner(session->owner()), why, models, llms, took.count());
}

void CorunService::connection_opened(int fd) {
    const std::string peer = PeerRegistry::peer_name(fd);
    std::vector<uint64_t> orphans;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [id, session] : sessions_) {
            if (session->owner().peer == peer && !session->has_stream()) orphans.push_back(id);
        }
    }
    for (uint64_t id : orphans) {
        release_session(id, "its connection closed before it opened a Session stream");
    }
}

void CorunService::release_all_sessions() {
    std::vector<uint64_t> ids;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [id, session] : sessions_) ids.push_back(id);
    }
    for (uint64_t id : ids) release_session(id, "corund is shutting down");
}

size_t CorunService::session_count() const {
    std::lock_guard lock(mutex_);
    return sessions_.size();
}

grpc::Status CorunService::Hello(grpc::ServerContext* context, const v1::HelloRequest* request,
                                 v1::HelloReply* reply) {
    reply->set_protocol_version(PROTOCOL_VERSION);
    reply->set_daemon_version(daemon_version());
    if (request->protocol_version() != PROTOCOL_VERSION) {
        spdlog::warn("Hello from {} refused: protocol {} (corund speaks {})", context->peer(),
                     request->protocol_version(), PROTOCOL_VERSION);
        return reply_with(
            reply, Status(StatusCode::PROTOCOL_MISMATCH,
                          "client speaks protocol " + std::to_string(request->protocol_version()) +
                              ", corund " + daemon_version() + " speaks " +
                              std::to_string(PROTOCOL_VERSION) +
                              "; use matching corun and corund builds"));
    }
    if (Status checked = check_hello_request(*request, limits_); !checked.is_ok()) {
        return reply_with(reply, checked);
    }
    const VDeviceParams params = to_vdevice_params(*request);
    const PeerCredentials caller = peers_.find(context->peer());
    std::shared_ptr<ClientAccount> account;
    {
        std::lock_guard lock(accounts_mutex_);
        auto& found = accounts_[caller.uid];
        if (!found) found = std::make_shared<ClientAccount>();
        account = found;
    }
    // The threads asked for are counted before anything is made: the group's scheduler workers
    // now, a model's own intra-op threads when it loads (check_hello_request: one model's alone
    // must fit).
    auto worker_threads =
        charge_account(account, ClientAccount::Resource::THREADS,
                       uint64_t{devices::cpu::cpu_slots(params.cpu).shared} +
                           devices::cpu::cpu_slots(params.cpu).latency,
                       limits_.max_threads_per_client,
                       "a session's scheduler workers (execution + latency slots)");
    if (!worker_threads) return reply_with(reply, worker_threads.status());
    auto vdevice = VDevice::create(params);
    if (!vdevice) return reply_with(reply, vdevice.status());

    SessionOwner owner;
    owner.peer = context->peer();
    owner.credentials = caller;
    owner.process_name = request->process_name().substr(0, 256);
    owner.client_version = request->client_version().substr(0, 64);
    for (const auto& device : vdevice.value()->physical_devices()) {
        to_proto(device, *reply->add_devices());
    }
    uint64_t session_id = 0;
    {
        std::lock_guard lock(mutex_);
        // Sessions live until their stream ends; one connection cannot pile up endless ones.
        const auto same_connection = std::count_if(
            sessions_.begin(), sessions_.end(),
            [&](const auto& entry) { return entry.second->owner().peer == owner.peer; });
        if (static_cast<size_t>(same_connection) >= MAX_SESSIONS_PER_CONNECTION) {
            return reply_with(
                reply, Status(StatusCode::RESOURCE_LIMIT,
                              "this connection already has " + std::to_string(same_connection) +
                                  " open sessions, corund's limit; end one (close its Session "
                                  "stream) before opening another"));
        }
        do {
            session_id = random_session_id();
        } while (sessions_.count(session_id) != 0);
        sessions_[session_id] =
            std::make_shared<ClientSession>(session_id, owner, vdevice.release(), limits_, account,
                                            load_memory_, worker_threads.release());
    }
    spdlog::info("session {} opened by {} (corun {}) on group '{}'", session_id,
                 describe_owner(owner), owner.client_version, params.group_id);
    reply->set_session_id(session_id);
    return reply_with(reply, Status::ok());
}

grpc::Status CorunService::Session(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::ServerMessage, v1::ClientMessage>* stream) {
    v1::ClientMessage message;
    if (!stream->Read(&message)) {
        // Closed at once, or the first message was no ClientMessage (gRPC cannot parse it).
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "the Session stream carried no readable first message; send a "
                            "ClientMessage with the session_id that Hello returned");
    }
    auto found = find_session(context, message.session_id());
    if (!found) {
        // Session 0 is never found: say what the first message lacks.
        Status status = check_message_session(message, message.session_id(), true);
        if (status.is_ok()) status = found.status();
        return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, status.to_string());
    }
    std::shared_ptr<ClientSession> session = found.release();
    const uint64_t session_id = session->id();
    if (!session->attach_stream()) {
        return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                            "session " + std::to_string(session_id) +
                                " already has a Session stream; open one per session");
    }
    spdlog::debug("session {}: stream opened on {}", session_id, context->peer());

    // gRPC allows one Write at a time, and completions come from many threads: the outbox
    // lets one write at a time, the writer thread or (for what it made itself) this one.
    std::atomic<bool> stream_broken{false};
    auto write = [&](const v1::ServerMessage& completion) {
        if (!stream_broken && !stream->Write(completion)) stream_broken = true;
        session->outbox().write_done();
    };
    std::thread writer([&] {
        v1::ServerMessage completion;
        std::shared_ptr<ModelActivity> activity;
        while (session->outbox().pop(completion, activity)) {
            write(completion);
            activity.reset();
        }
    });
    // A completion made on this thread (an error, or a frame run here) goes out at once unless
    // others wait before it; no hand-off to the writer.
    auto send = [&](v1::ServerMessage completion) {
        if (session->outbox().try_claim_write()) {
            write(completion);
        } else {
            session->outbox().push(std::move(completion), nullptr);
        }
    };
    // Completions the client has not read yet bound how far it may run ahead: beyond that the
    // daemon stops reading its requests (back-pressure, bounded memory).
    const size_t outbox_limit = 2 * static_cast<size_t>(limits_.max_queued_frames_per_client) + 64;
    bool first = true;
    std::string why = "the client closed its stream";
    do {
        if (Status ok = check_message_session(message, session_id, first); !ok.is_ok()) {
            if (message.has_infer()) send(error_completion(message.infer().job_id(), ok));
        } else if (message.has_infer()) {
            if (auto completion = session->submit(message.infer())) send(std::move(*completion));
        }
        first = false;
        while (!session->outbox().wait_for_room(outbox_limit, std::chrono::milliseconds(100))) {
            if (context->IsCancelled()) break;
        }
    } while (!context->IsCancelled() && stream->Read(&message));
    if (context->IsCancelled()) why = "the connection broke or the client was killed";

    // Queued frames complete with SHUTDOWN and running ones finish; the writer then sends what
    // it can of those completions, for at most a second.
    release_session(session_id, why);
    session->outbox().close();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (session->outbox().size() > 0 && std::chrono::steady_clock::now() < deadline &&
           !stream_broken) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (session->outbox().size() > 0 || stream_broken) context->TryCancel();  // unblocks Write
    writer.join();
    return grpc::Status::OK;
}

grpc::Status CorunService::OpenFastLane(grpc::ServerContext* context,
                                        const v1::OpenFastLaneRequest* request, v1::Reply* reply) {
    return with_session(context, *request, reply, [&](ClientSession& session) {
        return session.open_fast_lane(request->buffer_id());
    });
}

grpc::Status CorunService::RegisterBuffer(grpc::ServerContext* context,
                                          const v1::RegisterBufferRequest* request,
                                          v1::RegisterBufferReply* reply) {
    return with_session(context, *request, reply, [&](ClientSession& session) -> Status {
        CORUN_TRY(uint64_t buffer_id, session.buffers().add(request->shm_name(), request->size()));
        reply->set_buffer_id(buffer_id);
        return Status::ok();
    });
}

grpc::Status CorunService::ReleaseBuffer(grpc::ServerContext* context,
                                         const v1::ReleaseBufferRequest* request,
                                         v1::Reply* reply) {
    return with_session(context, *request, reply, [&](ClientSession& session) {
        return session.buffers().remove(request->buffer_id());
    });
}

grpc::Status CorunService::LoadModel(grpc::ServerContext* context,
                                     const v1::LoadModelRequest* request,
                                     v1::LoadModelReply* reply) {
    return with_session(context, *request, reply, [&](ClientSession& session) -> Status {
        auto loaded = session.models().load(*request);
        if (!loaded) {
            spdlog::info("session {}: loading '{}' failed: {}", request->session_id(),
                         request->name(), loaded.status().to_string());
            return loaded.status();
        }
        const auto& entry = *loaded.value();
        reply->set_loaded_model_id(entry.loaded_model_id);
        for (const auto& stream : entry.model->inputs()) {
            to_proto(runtime::declared_tensor(stream), *reply->add_declared_inputs());
        }
        for (const auto& stream : entry.model->outputs()) {
            to_proto(runtime::declared_tensor(stream), *reply->add_declared_outputs());
        }
        spdlog::info("session {}: loaded '{}' ({} bytes) as loaded_model_id {}",
                     request->session_id(), entry.name, request->onnx().size(),
                     entry.loaded_model_id);
        return Status::ok();
    });
}

grpc::Status CorunService::OutputDims(grpc::ServerContext* context,
                                      const v1::OutputDimsRequest* request,
                                      v1::OutputDimsReply* reply) {
    return with_session(context, *request, reply, [&](ClientSession& session) -> Status {
        CORUN_TRY(auto outputs,
                  session.models().output_dims(request->loaded_model_id(), request->inputs()));
        for (const auto& output : outputs) {
            v1::TensorSpec* spec = reply->add_outputs();
            spec->set_name(output.name);
            spec->set_element_type(static_cast<int32_t>(output.type));
            for (int64_t dim : output.dims) spec->add_dims(dim);
        }
        return Status::ok();
    });
}

grpc::Status CorunService::ConfigureModel(grpc::ServerContext* context,
                                          const v1::ConfigureModelRequest* request,
                                          v1::ConfigureModelReply* reply) {
    return with_session(context, *request, reply, [&](ClientSession& session) -> Status {
        CORUN_TRY(uint64_t model_id, session.models().configure(*request));
        reply->set_model_id(model_id);
        return Status::ok();
    });
}

grpc::Status CorunService::SetSchedulingParams(grpc::ServerContext* context,
                                               const v1::SetSchedulingParamsRequest* request,
                                               v1::Reply* reply) {
    return with_session(context, *request, reply, [&](ClientSession& session) {
        return session.models().set_scheduling(request->model_id(), request->scheduling());
    });
}

grpc::Status CorunService::ShutdownModel(grpc::ServerContext* context,
                                         const v1::ModelRequest* request, v1::Reply* reply) {
    return with_session(context, *request, reply, [&](ClientSession& session) {
        return session.models().shutdown(request->model_id());
    });
}

grpc::Status CorunService::ReleaseModel(grpc::ServerContext* context,
                                        const v1::ModelRequest* request, v1::Reply* reply) {
    return with_session(context, *request, reply, [&](ClientSession& session) {
        return session.models().release(request->model_id());
    });
}

grpc::Status CorunService::ReleaseLoadedModel(grpc::ServerContext* context,
                                              const v1::ModelRequest* request, v1::Reply* reply) {
    return with_session(context, *request, reply, [&](ClientSession& session) {
        return session.models().release_loaded(request->model_id());
    });
}

grpc::Status CorunService::SchedulerStats(grpc::ServerContext* context,
                                          const v1::SessionRequest* request,
                                          v1::SchedulerStatsReply* reply) {
    return with_session(context, *request, reply, [&](ClientSession& session) {
        for (auto& model : session.scheduler_stats()) *reply->add_models() = std::move(model);
        return Status::ok();
    });
}

grpc::Status CorunService::Monitor(grpc::ServerContext*, const v1::MonitorRequest*,
                                   v1::MonitorSnapshot* reply) {
    std::vector<std::shared_ptr<ClientSession>> sessions;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [id, session] : sessions_) sessions.push_back(session);
    }
    const auto now = ModelActivity::Clock::now();
    reply->set_source("corund " + std::to_string(getpid()));
    reply->set_unix_time_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
    reply->set_sessions(static_cast<uint32_t>(sessions.size()));

    // Device time over the last second per group, against what its slots could have run.
    struct GroupLoad {
        VDevice* vdevice = nullptr;  // one handle of the group (they share devices)
        int64_t busy_ns = 0;
        double capacity_ns = 0;
    };
    // Inside corund every group is in-process: one group_id is one group.
    std::map<std::string, GroupLoad> groups;
    for (const auto& session : sessions) {
        GroupLoad& load = groups[session->vdevice().group_id()];
        if (load.vdevice == nullptr) {
            load.vdevice = &session->vdevice();
            const uint32_t slots = runtime::execution_slots(*load.vdevice);
            load.capacity_ns = 1e9 * std::max<uint32_t>(1, slots);
        }
        std::map<uint64_t, ScheduledModelStats> scheduled;  // by scheduler model id
        for (const auto& stats : session->vdevice().get_scheduler_stats()) {
            scheduled[stats.model_id] = stats;
        }
        for (const auto& served : session->models().served()) {
            const ActivitySnapshot activity = served->activity->snapshot(now);
            load.busy_ns += activity.device_ns;
            v1::MonitoredModel* model = reply->add_models();
            model->set_name(served->layout.name);
            model->set_pid(static_cast<uint32_t>(session->owner().credentials.pid));
            model->set_group_id(load.vdevice->group_id());
            model->set_model_id(served->model_id);
            model->set_priority(served->priority.load());
            model->set_fps(activity.fps);
            model->set_utilisation_percent(std::min(
                100.0, 100.0 * static_cast<double>(activity.device_ns) / load.capacity_ns));
            model->set_latency_p50_ms(activity.latency_p50_ms);
            model->set_latency_p95_ms(activity.latency_p95_ms);
            model->set_queue_capacity(served->queue_capacity);
            const ScheduledModelStats& stats = scheduled[served->configured.scheduler_model_id()];
            model->set_frames_waiting_in(stats.frames_queued);
            model->set_latency_slo_ms(stats.latency_slo_ms);
            set_deadline_figures(stats, *model);
            model->set_results_waiting_out(served->activity->results_waiting_out.load());
            model->set_frames_done(activity.frames_done);
            model->set_fast_lane_frames(served->fast_lane_frames.load());
        }
        for (const auto& llm : session->llms().list()) {
            const ScheduledModelStats& stats = scheduled[llm->session->model_id()];
            v1::MonitoredModel* model = reply->add_models();
            model->set_name(llm->name);
            model->set_pid(static_cast<uint32_t>(session->owner().credentials.pid));
            model->set_group_id(load.vdevice->group_id());
            model->set_model_id(llm->llm_id);
            model->set_priority(stats.priority);
            model->set_latency_p50_ms(stats.latency_p50_ms);
            model->set_latency_p95_ms(stats.latency_p95_ms);
            model->set_queue_capacity(stats.queue_capacity);
            model->set_frames_waiting_in(stats.frames_queued);
            model->set_frames_done(stats.frames_done);
            model->set_llm(true);
            const ActivitySnapshot tokens = llm->tokens.snapshot(now);
            model->set_tokens_per_second(tokens.fps);
            model->set_tokens_generated(tokens.frames_done);
            model->set_context_used(llm->session->context_usage());
            model->set_context_capacity(llm->session->context_capacity());
        }
    }
    for (const auto& [key, load] : groups) {
        const double percent =
            std::min(100.0, 100.0 * static_cast<double>(load.busy_ns) / load.capacity_ns);
        for (const DeviceDescription& description : load.vdevice->physical_devices()) {
            v1::MonitoredDevice* monitored = reply->add_devices();
            monitored->set_id(description.id);
            monitored->set_kind(description.kind);
            monitored->set_group_id(key);
            monitored->set_utilisation_percent(percent);
            monitored->set_scheduled_models(
                static_cast<uint32_t>(load.vdevice->get_scheduler_stats().size()));
        }
    }
    if (groups.empty()) {
        // No client: the devices corund would drive, idle, so that the monitor shows them.
        if (auto scanned = VDevice::scan()) {
            for (const auto& description : *scanned) {
                v1::MonitoredDevice* monitored = reply->add_devices();
                monitored->set_id(description.id);
                monitored->set_kind(description.kind);
                monitored->set_utilisation_percent(0);
            }
        }
    }
    return grpc::Status::OK;
}

// ---- LLMs ----

grpc::Status CorunService::LoadLlm(grpc::ServerContext* context,
                                   grpc::ServerReader<v1::LoadLlmChunk>* reader,
                                   v1::LoadLlmReply* reply) {
    v1::LoadLlmChunk first;
    if (!reader->Read(&first)) {
        return reply_with(reply, Status(StatusCode::INVALID_ARGUMENT,
                                        "LoadLlm carried no chunk; the first names the session, "
                                        "the LLM and the file's size"));
    }
    return with_session(context, first, reply, [&](ClientSession& session) -> Status {
        auto loaded = session.llms().load(
            first, [&](v1::LoadLlmChunk& chunk) { return reader->Read(&chunk); });
        if (!loaded) {
            spdlog::info("session {}: loading LLM '{}' failed: {}", first.session_id(),
                         first.name().substr(0, 256), loaded.status().to_string());
            return loaded.status();
        }
        reply->set_llm_id(loaded.value()->llm_id);
        reply->set_context_capacity(loaded.value()->session->context_capacity());
        return Status::ok();
    });
}

grpc::Status CorunService::Generate(grpc::ServerContext* context,
                                    const v1::GenerateRequest* request,
                                    grpc::ServerWriter<v1::GenerateEvent>* writer) {
    auto llm = [&]() -> Expected<std::shared_ptr<ServedLlm>> {
        CORUN_TRY(auto session, find_session(context, request->session_id()));
        return session->llms().find(request->llm_id());
    }();
    if (!llm) {
        v1::GenerateEvent event;
        *event.mutable_ended()->mutable_status() = to_proto(llm.status());
        writer->Write(event);
        return grpc::Status::OK;
    }
    serve_generation(*llm.value(), *request, *context, *writer);
    return grpc::Status::OK;
}

grpc::Status CorunService::AbortGeneration(grpc::ServerContext* context,
                                           const v1::LlmRequest* request, v1::Reply* reply) {
    return with_llm(context, *request, reply, [&](ServedLlm& llm) {
        llm.abort_generation();
        return Status::ok();
    });
}

grpc::Status CorunService::Tokenize(grpc::ServerContext* context,
                                    const v1::TokenizeRequest* request, v1::TokenizeReply* reply) {
    return with_llm(context, *request, reply, [&](ServedLlm& llm) -> Status {
        CORUN_RETURN_IF_ERROR(check_llm_text(request->text(), "the text to tokenize"));
        CORUN_TRY(auto tokens, llm.session->tokenize(request->text()));
        reply->mutable_tokens()->Add(tokens.begin(), tokens.end());
        return Status::ok();
    });
}

grpc::Status CorunService::ApplyChatTemplate(grpc::ServerContext* context,
                                             const v1::ChatTemplateRequest* request,
                                             v1::ChatTemplateReply* reply) {
    return with_llm(context, *request, reply, [&](ServedLlm& llm) -> Status {
        if (static_cast<size_t>(request->messages_size()) > MAX_CHAT_MESSAGES) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          std::to_string(request->messages_size()) +
                              " chat messages; corund takes at most " +
                              std::to_string(MAX_CHAT_MESSAGES));
        }
        std::vector<genai::ChatMessage> messages;
        size_t bytes = 0;
        for (const auto& message : request->messages()) {
            bytes += message.role().size() + message.content().size();
            messages.push_back({message.role(), message.content()});
        }
        if (bytes > MAX_LLM_TEXT_BYTES) {
            return Status(StatusCode::INVALID_ARGUMENT, "the chat has " + std::to_string(bytes) +
                                                            " bytes; corund takes at most " +
                                                            std::to_string(MAX_LLM_TEXT_BYTES));
        }
        CORUN_TRY(auto prompt, llm.session->apply_chat_template(messages));
        reply->set_prompt(prompt);
        return Status::ok();
    });
}

grpc::Status CorunService::ContextUsage(grpc::ServerContext* context, const v1::LlmRequest* request,
                                        v1::ContextUsageReply* reply) {
    return with_llm(context, *request, reply, [&](ServedLlm& llm) {
        reply->set_used_tokens(llm.session->context_usage());
        reply->set_capacity_tokens(llm.session->context_capacity());
        return Status::ok();
    });
}

grpc::Status CorunService::ClearContext(grpc::ServerContext* context, const v1::LlmRequest* request,
                                        v1::Reply* reply) {
    return with_llm(context, *request, reply,
                    [&](ServedLlm& llm) { return llm.session->clear_context(); });
}

grpc::Status CorunService::SetLlmScheduling(grpc::ServerContext* context,
                                            const v1::SetLlmSchedulingRequest* request,
                                            v1::Reply* reply) {
    return with_llm(context, *request, reply,
                    [&](ServedLlm& llm) { return set_llm_scheduling(llm, *request); });
}

grpc::Status CorunService::UnloadLlm(grpc::ServerContext* context, const v1::LlmRequest* request,
                                     v1::Reply* reply) {
    return with_session(context, *request, reply, [&](ClientSession& session) {
        return session.llms().unload(request->llm_id());
    });
}

grpc::Status CorunService::LoadSpeech2Text(grpc::ServerContext* context,
                                           grpc::ServerReader<v1::LoadSpeech2TextChunk>* reader,
                                           v1::LoadSpeech2TextReply* reply) {
    v1::LoadSpeech2TextChunk first;
    if (!reader->Read(&first)) {
        return reply_with(reply, Status(StatusCode::INVALID_ARGUMENT,
                                        "LoadSpeech2Text carried no chunk; the first names the "
                                        "session, the model and the file's size"));
    }
    return with_session(context, first, reply, [&](ClientSession& session) -> Status {
        auto loaded = session.speech_models().load(
            first, [&](v1::LoadSpeech2TextChunk& chunk) { return reader->Read(&chunk); });
        if (!loaded) {
            spdlog::info("session {}: loading Speech2Text '{}' failed: {}", first.session_id(),
                         first.name().substr(0, 256), loaded.status().to_string());
            return loaded.status();
        }
        reply->set_model_id(loaded.value()->model_id);
        return Status::ok();
    });
}

grpc::Status CorunService::Transcribe(grpc::ServerContext* context,
                                      const v1::TranscribeRequest* request,
                                      v1::TranscribeReply* reply) {
    return with_session(context, *request, reply, [&](ClientSession& session) -> Status {
        CORUN_TRY(auto model, session.speech_models().find(request->model_id()));
        return serve_transcription(*model, *request, *reply);
    });
}

grpc::Status CorunService::SetSpeech2TextScheduling(
    grpc::ServerContext* context, const v1::SetSpeech2TextSchedulingRequest* request,
    v1::Reply* reply) {
    return with_session(context, *request, reply, [&](ClientSession& session) -> Status {
        CORUN_TRY(auto model, session.speech_models().find(request->model_id()));
        return set_speech_scheduling(*model, *request);
    });
}

grpc::Status CorunService::UnloadSpeech2Text(grpc::ServerContext* context,
                                             const v1::Speech2TextRequest* request,
                                             v1::Reply* reply) {
    return with_session(context, *request, reply, [&](ClientSession& session) {
        return session.speech_models().unload(request->model_id());
    });
}

}  // namespace corun::service
