// The LLMs of one session (LoadLlm): each a genai LLM session on the session's device group, so
// that its prefill chunks and decode steps go through the scheduler the group shares with every
// other client's models. Generations stream their text to the client as it is produced
// (serve_generation); when the session ends, every generation is aborted and every LLM freed.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "corun/vdevice.hpp"
#include "corun_service.grpc.pb.h"
#include "runtime/genai/llm_session.hpp"
#include "service/daemon/client_account.hpp"
#include "service/daemon/daemon_config.hpp"
#include "service/daemon/generative_model_table.hpp"
#include "service/daemon/monitor_stats.hpp"

namespace corun::service {

struct ServedLlm {
    uint64_t llm_id = 0;  // daemon-wide (next_daemon_model_id)
    std::string name;
    std::shared_ptr<genai::detail::LlmSession> session;
    std::shared_ptr<AccountCharge> threads;  // the engine's threads, charged to the user
    std::shared_ptr<AccountCharge> memory;   // the GGUF's bytes, held in memory while loaded
    // Tokens as they are generated (a "frame" per token): tokens/s over the last second and
    // the count since loading, for the monitor.
    ModelActivity tokens;

    // Stops the running generation, if any (it ends ABORTED), and waits for its end.
    void abort_generation();
    void set_active(std::shared_ptr<genai::detail::Generation> generation);
    void clear_active(const std::shared_ptr<genai::detail::Generation>& generation);

private:
    std::mutex mutex_;
    std::shared_ptr<genai::detail::Generation> active_;
};

class LlmRegistry {
public:
    LlmRegistry(uint64_t session_id, VDevice& vdevice, DaemonLimits limits,
                std::shared_ptr<ClientAccount> account);
    LlmRegistry(const LlmRegistry&) = delete;
    LlmRegistry& operator=(const LlmRegistry&) = delete;
    ~LlmRegistry();

    // LoadLlm: `first` is the stream's first chunk (already read, its session checked), `next`
    // reads the following ones (false at the end). The bytes go into an anonymous memory file
    // (memfd), which the engine maps: no path is opened, nothing is left on disk, and the
    // memory goes when the LLM does. RESOURCE_LIMIT naming the setting for an LLM beyond
    // max_llms_per_client, a file over max_gguf_bytes (refused from the first chunk) or a
    // context over max_llm_context_tokens.
    Expected<std::shared_ptr<ServedLlm>> load(const v1::LoadLlmChunk& first,
                                              const std::function<bool(v1::LoadLlmChunk&)>& next);
    // NOT_FOUND naming the fix when `llm_id` is not an LLM of this session.
    Expected<std::shared_ptr<ServedLlm>> find(uint64_t llm_id) const;
    // Aborts its generation and frees it.
    Status unload(uint64_t llm_id);
    std::vector<std::shared_ptr<ServedLlm>> list() const;
    // The session ends: every generation is aborted and every LLM freed; later loads are
    // refused with SHUTDOWN. Idempotent.
    void close();

private:
    const uint64_t session_id_;
    VDevice& vdevice_;  // the session's, which outlives its registry
    const DaemonLimits limits_;
    const std::shared_ptr<ClientAccount> account_;
    GenerativeModelTable<ServedLlm> llms_;
};

// Generate: one generation of `llm`, its events written to `writer` until it ends. The client
// going away (its stream cancelled, a write failing) aborts it.
void serve_generation(ServedLlm& llm, const v1::GenerateRequest& request,
                      grpc::ServerContext& context, grpc::ServerWriter<v1::GenerateEvent>& writer);

// Bounds on what a client sends with LLM calls (a prompt, text to tokenize, chat messages,
// stop sequences), checked before the engine sees it.
constexpr size_t MAX_LLM_TEXT_BYTES = size_t{4} << 20;
constexpr size_t MAX_CHAT_MESSAGES = 4096;
Status check_llm_text(const std::string& text, const char* what);

// SetLlmScheduling on `llm`.
Status set_llm_scheduling(ServedLlm& llm, const v1::SetLlmSchedulingRequest& request);

}  // namespace corun::service
