// corund's gRPC service (proto/corun_service.proto): sessions by id, each call checked against
// its session, inference over the Session stream. Every error reaches the client as a corun
// Status in the reply (or a Completion), never as a crash of the daemon.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

#include "corun_service.grpc.pb.h"
#include "service/daemon/daemon_config.hpp"
#include "service/daemon/peer_registry.hpp"
#include "service/daemon/session.hpp"

namespace corun::service {

class CorunService final : public v1::Corun::Service {
public:
    CorunService(DaemonLimits limits, const PeerRegistry& peers);
    ~CorunService() override;

    grpc::Status Hello(grpc::ServerContext* context, const v1::HelloRequest* request,
                       v1::HelloReply* reply) override;
    grpc::Status Session(
        grpc::ServerContext* context,
        grpc::ServerReaderWriter<v1::ServerMessage, v1::ClientMessage>* stream) override;
    grpc::Status RegisterBuffer(grpc::ServerContext* context,
                                const v1::RegisterBufferRequest* request,
                                v1::RegisterBufferReply* reply) override;
    grpc::Status ReleaseBuffer(grpc::ServerContext* context,
                               const v1::ReleaseBufferRequest* request, v1::Reply* reply) override;
    grpc::Status OpenFastLane(grpc::ServerContext* context, const v1::OpenFastLaneRequest* request,
                              v1::Reply* reply) override;
    grpc::Status LoadModel(grpc::ServerContext* context, const v1::LoadModelRequest* request,
                           v1::LoadModelReply* reply) override;
    grpc::Status OutputDims(grpc::ServerContext* context, const v1::OutputDimsRequest* request,
                            v1::OutputDimsReply* reply) override;
    grpc::Status ConfigureModel(grpc::ServerContext* context,
                                const v1::ConfigureModelRequest* request,
                                v1::ConfigureModelReply* reply) override;
    grpc::Status SetSchedulingParams(grpc::ServerContext* context,
                                     const v1::SetSchedulingParamsRequest* request,
                                     v1::Reply* reply) override;
    grpc::Status ShutdownModel(grpc::ServerContext* context, const v1::ModelRequest* request,
                               v1::Reply* reply) override;
    grpc::Status ReleaseModel(grpc::ServerContext* context, const v1::ModelRequest* request,
                              v1::Reply* reply) override;
    grpc::Status ReleaseLoadedModel(grpc::ServerContext* context, const v1::ModelRequest* request,
                                    v1::Reply* reply) override;
    grpc::Status SchedulerStats(grpc::ServerContext* context, const v1::SessionRequest* request,
                                v1::SchedulerStatsReply* reply) override;
    grpc::Status Monitor(grpc::ServerContext* context, const v1::MonitorRequest* request,
                         v1::MonitorSnapshot* reply) override;
    // Records every device group for the seconds asked (new groups join only the next trace)
    // and streams the Chrome trace (trace_recording.cpp).
    grpc::Status Trace(grpc::ServerContext* context, const v1::TraceRequest* request,
                       grpc::ServerWriter<v1::TraceChunk>* writer) override;

    // LLMs (llm_registry.hpp).
    grpc::Status LoadLlm(grpc::ServerContext* context, grpc::ServerReader<v1::LoadLlmChunk>* reader,
                         v1::LoadLlmReply* reply) override;
    grpc::Status Generate(grpc::ServerContext* context, const v1::GenerateRequest* request,
                          grpc::ServerWriter<v1::GenerateEvent>* writer) override;
    grpc::Status AbortGeneration(grpc::ServerContext* context, const v1::LlmRequest* request,
                                 v1::Reply* reply) override;
    grpc::Status Tokenize(grpc::ServerContext* context, const v1::TokenizeRequest* request,
                          v1::TokenizeReply* reply) override;
    grpc::Status ApplyChatTemplate(grpc::ServerContext* context,
                                   const v1::ChatTemplateRequest* request,
                                   v1::ChatTemplateReply* reply) override;
    grpc::Status ContextUsage(grpc::ServerContext* context, const v1::LlmRequest* request,
                              v1::ContextUsageReply* reply) override;
    grpc::Status ClearContext(grpc::ServerContext* context, const v1::LlmRequest* request,
                              v1::Reply* reply) override;
    grpc::Status SetLlmScheduling(grpc::ServerContext* context,
                                  const v1::SetLlmSchedulingRequest* request,
                                  v1::Reply* reply) override;
    // Speech to text (speech_registry.hpp).
    grpc::Status LoadSpeech2Text(grpc::ServerContext* context,
                                 grpc::ServerReader<v1::LoadSpeech2TextChunk>* reader,
                                 v1::LoadSpeech2TextReply* reply) override;
    grpc::Status Transcribe(grpc::ServerContext* context, const v1::TranscribeRequest* request,
                            v1::TranscribeReply* reply) override;
    grpc::Status SetSpeech2TextScheduling(grpc::ServerContext* context,
                                          const v1::SetSpeech2TextSchedulingRequest* request,
                                          v1::Reply* reply) override;
    grpc::Status UnloadSpeech2Text(grpc::ServerContext* context,
                                   const v1::Speech2TextRequest* request,
                                   v1::Reply* reply) override;
    grpc::Status UnloadLlm(grpc::ServerContext* context, const v1::LlmRequest* request,
                           v1::Reply* reply) override;

    // A new connection got descriptor `fd`: a connection that had it before is closed, so its
    // sessions that never opened a Session stream are released (those with one end with it).
    void connection_opened(int fd);
    // Daemon shutdown: every session still open.
    void release_all_sessions();
    size_t session_count() const;

private:
    // The caller's session `session_id`: NOT_FOUND when there is none, INVALID_OPERATION when
    // it is another user's.
    Expected<std::shared_ptr<ClientSession>> find_session(grpc::ServerContext* context,
                                                          uint64_t session_id) const;
    // Every unary call on a session: `serve(ClientSession&)` fills `reply` and returns the
    // Status it carries; without a session the caller may use, the reply says why (see
    // find_session) and `serve` is not called. gRPC's own status is always OK: errors travel
    // as corun Statuses.
    template <typename Request, typename Reply, typename Serve>
    grpc::Status with_session(grpc::ServerContext* context, const Request& request, Reply* reply,
                              Serve&& serve) const;
    void release_session(uint64_t session_id, const std::string& why);
    // A unary call on one LLM of the session: `serve(ServedLlm&)`, as with_session.
    template <typename Request, typename Reply, typename Serve>
    grpc::Status with_llm(grpc::ServerContext* context, const Request& request, Reply* reply,
                          Serve&& serve) const;

    const DaemonLimits limits_;
    const PeerRegistry& peers_;
    LoadMemoryMeter load_memory_;
    std::mutex accounts_mutex_;
    std::map<uint32_t, std::shared_ptr<ClientAccount>> accounts_;  // by uid
    mutable std::mutex mutex_;
    std::map<uint64_t, std::shared_ptr<ClientSession>> sessions_;
    std::atomic<bool> tracing_{false};  // one Trace at a time
};

// corund's version ("0.1.0"), for Hello and logs.
const char* daemon_version();

}  // namespace corun::service
