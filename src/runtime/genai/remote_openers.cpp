// The remote openers' slots (llm_session.hpp, speech2text_session.hpp): set once, from the static
// initialisation of the library that has them, read when a non-local group opens a model.
#include <atomic>

#include "runtime/genai/llm_session.hpp"
#include "runtime/genai/speech2text_session.hpp"

namespace corun::genai::detail {
namespace {

template <typename Opener>
std::atomic<Opener>& opener_slot() {
    static std::atomic<Opener> slot{nullptr};
    return slot;
}

}  // namespace

bool register_remote_llm_opener(RemoteLlmOpener opener) {
    opener_slot<RemoteLlmOpener>().store(opener);
    return true;
}

RemoteLlmOpener remote_llm_opener() {
    return opener_slot<RemoteLlmOpener>().load();
}

bool register_remote_speech2text_opener(RemoteSpeech2TextOpener opener) {
    opener_slot<RemoteSpeech2TextOpener>().store(opener);
    return true;
}

RemoteSpeech2TextOpener remote_speech2text_opener() {
    return opener_slot<RemoteSpeech2TextOpener>().load();
}

}  // namespace corun::genai::detail
