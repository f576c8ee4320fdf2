// What genai::LLM drives: one loaded LLM with its context, in this process (local_llm_session)
// or in corund (runtime/remote/remote_llm_session). The public class checks arguments and formats
// prompts; a session schedules and runs.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "corun/genai/llm.hpp"
#include "runtime/genai/generation.hpp"

namespace corun::genai::detail {

class LlmSession {
public:
    virtual ~LlmSession() = default;

    // Starts a generation from `prompt` (already formatted; parse_special for chat templates).
    virtual Expected<std::shared_ptr<Generation>> generate(const LLMGeneratorParams& params,
                                                           const std::string& prompt,
                                                           bool parse_special) = 0;
    virtual Expected<std::vector<int32_t>> tokenize(const std::string& text) const = 0;
    virtual Expected<std::string> apply_chat_template(
        const std::vector<ChatMessage>& messages) const = 0;
    virtual size_t context_usage() const = 0;
    virtual size_t context_capacity() const = 0;
    virtual corun::Status clear_context() = 0;
    virtual corun::Status set_priority(uint8_t priority) = 0;
    virtual corun::Status set_timeout(std::chrono::milliseconds timeout) = 0;
    virtual corun::Status set_threshold(uint32_t threshold) = 0;
    virtual uint64_t model_id() const = 0;
    // Drops the generation's queued unit (its cancel ends the generation as ABORTED once an
    // abort was asked for).
    virtual void cancel_queued_units() = 0;
    // Aborts a running generation and waits for it; then nothing runs for this session.
    virtual void close() = 0;
};

// A session on the VDevice's group; NOT_SUPPORTED where the group cannot host one.
Expected<std::shared_ptr<LlmSession>> open_llm_session(VDevice& vdevice,
                                                       const std::string& model_path,
                                                       const LLMParams& params);

// How a group whose backend is not in this process opens a session: the remote backend's
// library (which this layer cannot include) registers its opener when it is loaded, as it
// registers the backend itself (runtime/backend_registry.hpp). The opener returns NOT_SUPPORTED
// for a group that is not its own.
using RemoteLlmOpener = Expected<std::shared_ptr<LlmSession>> (*)(VDevice& vdevice,
                                                                  const std::string& model_path,
                                                                  const LLMParams& params);
bool register_remote_llm_opener(RemoteLlmOpener opener);
// The registered opener, or nullptr when no remote backend with LLMs is linked.
RemoteLlmOpener remote_llm_opener();

}  // namespace corun::genai::detail
