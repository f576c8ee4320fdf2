// Writes scheduler recordings as a Chrome trace (the Trace Event Format that Perfetto,
// ui.perfetto.dev, and chrome://tracing open; docs/TRACING.md):
// - per device of a group, a process with one track (thread) per slot: every burst as a
//   complete event (ph X) named after its model, with the frames and the decision's reason;
// - per group, a "models" process with one track per model: each frame's submit and completion
//   as short slices joined by a flow (ph s, t on the burst that ran it, f), and each frame's
//   queue wait and execution as nested async slices (ph b/e, named after the model so that a
//   viewer groups them per model); the queue depth per model as a counter (ph C);
// - metadata (ph M) naming processes and tracks, and "otherData" with what each recording held
//   and the events it dropped when full.
// Written as text directly: a recording of a million events would take gigabytes as a JSON
// object tree.
#pragma once

#include <string>
#include <vector>

#include "corun/status.hpp"
#include "scheduler/scheduler_recording.hpp"

namespace corun::runtime::monitor {

// One device group's recording and the names of its devices (in the scheduler's order).
struct TracedGroup {
    std::string group_id;
    std::vector<std::string> device_names;
    scheduler::SchedulerRecording recording;
};

std::string chrome_trace_json(const std::vector<TracedGroup>& groups);

// Opens `path` for writing (creating or emptying it), to find out before recording whether the
// trace can be written there: OPEN_FILE_FAILURE naming the path and the cause otherwise.
Status check_trace_output(const std::string& path);
// Writes `json` to `path`; OPEN_FILE_FAILURE / FILE_OPERATION_FAILURE naming path and cause.
Status write_trace_file(const std::string& path, const std::string& json);

}  // namespace corun::runtime::monitor
