// A Whisper model in this process: whisper.cpp driven as units of the group's scheduler. A
// transcription is a chain of units, one per 30 s window of its audio, one queued at a time:
// each unit, when it ends, queues the next (a window's text prompts the next window's decoder,
// and whisper.cpp's context runs one window at a time). A unit asks the scheduler at each of the
// engine's preemption points whether a model of a higher priority has work, and if so lends it
// the slot there (Scheduler::yield_to_outranking) before going on (docs/GENAI.md).
#pragma once

#include <memory>
#include <string>

#include "runtime/genai/speech2text_session.hpp"

namespace corun {
class DeviceGroup;
}

namespace corun::runtime {
class LocalBackend;
}

namespace corun::genai::detail {

Expected<std::shared_ptr<Speech2TextSession>> open_local_speech2text_session(
    std::shared_ptr<DeviceGroup> group, runtime::LocalBackend& backend,
    const std::string& model_path, const Speech2TextParams& params);

}  // namespace corun::genai::detail
