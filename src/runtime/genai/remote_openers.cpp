// The remote LLM opener's slot (llm_session.hpp): set once, from the static initialisation of
// the library that has it, read when a non-local group opens an LLM.
#include <atomic>

#include "runtime/genai/llm_session.hpp"

namespace corun::genai::detail {
namespace {

std::atomic<RemoteLlmOpener>& opener_slot() {
    static std::atomic<RemoteLlmOpener> slot{nullptr};
    return slot;
}

}  // namespace

bool register_remote_llm_opener(RemoteLlmOpener opener) {
    opener_slot().store(opener);
    return true;
}

RemoteLlmOpener remote_llm_opener() {
    return opener_slot().load();
}

}  // namespace corun::genai::detail
