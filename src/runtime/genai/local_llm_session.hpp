// An LLM in this process: llama.cpp's context driven as units of the group's scheduler. A
// generation is a chain of units (prefill chunks, then one decode step per token), one queued at
// a time: each unit, when it ends, queues the next. A unit asks the scheduler after every graph
// node whether a model of a higher priority has work, and if so lends it the slot there
// (Scheduler::yield_to_outranking) before going on (docs/GENAI.md, "How interleaving works").
#pragma once

#include <memory>
#include <string>

#include "runtime/genai/llm_session.hpp"

namespace corun {
class DeviceGroup;
}

namespace corun::runtime {
class LocalBackend;
}

namespace corun::genai::detail {

Expected<std::shared_ptr<LlmSession>> open_local_llm_session(std::shared_ptr<DeviceGroup> group,
                                                             runtime::LocalBackend& backend,
                                                             const std::string& model_path,
                                                             const LLMParams& params);

}  // namespace corun::genai::detail
