#include "runtime/monitor/chrome_trace_writer.hpp"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

namespace corun::runtime::monitor {
namespace {

using scheduler::FrameOutcome;
using scheduler::NOT_ENDED;
using scheduler::RecordedBurst;
using scheduler::RecordedFrame;
using scheduler::SchedulerRecording;
using scheduler::TimePoint;

// Flow markers on a model's track last this long at most (less when the next marker on the
// track comes sooner: slices of one track must not overlap), so that a viewer can draw them
// and bind the flow's ends to them.
constexpr int64_t MARKER_NS = 1000;
// Tracks of latency and lent slots come after the shared slots' tracks.
constexpr int LATENCY_TRACK_BASE = 1000;

std::string json_string(const std::string& text) {
    return nlohmann::json(text).dump();
}

// Appends the events of a trace, each as one JSON object on its own line.
class EventList {
public:
    explicit EventList(std::string& out) : out_(out) {}

    // `fields` are the JSON members after ph/ts/pid/tid, each with its leading comma.
    void add(char phase, int64_t ts_ns, int pid, int tid, const std::string& fields) {
        out_ += first_ ? "\n" : ",\n";
        first_ = false;
        char head[96];
        std::snprintf(head, sizeof(head), "{\"ph\":\"%c\",\"ts\":%s,\"pid\":%d,\"tid\":%d", phase,
                      microseconds(ts_ns).c_str(), pid, tid);
        out_ += head;
        out_ += fields;
        out_ += '}';
    }

    void metadata(int pid, int tid, const char* what, const std::string& args) {
        add('M', 0, pid, tid, std::string(",\"name\":\"") + what + "\",\"args\":" + args);
    }

    // The Trace Event Format counts in microseconds; a fraction keeps the nanoseconds.
    static std::string microseconds(int64_t ns) {
        char text[48];
        const int64_t whole = ns / 1000;
        const int64_t fraction = ns % 1000;
        if (fraction == 0) {
            std::snprintf(text, sizeof(text), "%" PRId64, whole);
        } else {
            std::snprintf(text, sizeof(text), "%s%" PRId64 ".%03" PRId64,
                          ns < 0 && whole == 0 ? "-" : "", whole,
                          fraction < 0 ? -fraction : fraction);
        }
        return text;
    }

private:
    std::string& out_;
    bool first_ = true;
};

// Where the tracks of one group's processes are.
struct GroupLayout {
    std::vector<int> device_pids;
    int models_pid = 0;
    std::map<uint64_t, int> model_tids;
    std::map<uint64_t, std::string> model_names;  // unique within the group
    std::vector<int> burst_tids;                  // per burst: its slot's track
};

// Assigns each burst a slot track of its device: the lowest-numbered one free when it starts
// (slots of one device are interchangeable, so this needs no slot numbers from the scheduler
// and uses no more tracks than bursts ran at once).
std::vector<int> slot_tracks(const SchedulerRecording& recording) {
    std::vector<int> tids(recording.bursts.size(), 1);
    // Per device and kind (shared, latency): each track's end time.
    std::map<std::pair<size_t, bool>, std::vector<TimePoint>> tracks;
    std::vector<size_t> order(recording.bursts.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return recording.bursts[a].start < recording.bursts[b].start;
    });
    for (size_t index : order) {
        const RecordedBurst& burst = recording.bursts[index];
        const TimePoint end = burst.end == NOT_ENDED ? recording.stopped : burst.end;
        auto& ends = tracks[{burst.device_index, burst.latency_slot}];
        size_t track = 0;
        while (track < ends.size() && ends[track] > burst.start) ++track;
        if (track == ends.size()) ends.push_back(end);
        ends[track] = end;
        tids[index] = static_cast<int>(track) + 1 + (burst.latency_slot ? LATENCY_TRACK_BASE : 0);
    }
    return tids;
}

void write_group(const TracedGroup& group, int64_t zero_ns, int& next_pid, EventList& events) {
    const SchedulerRecording& recording = group.recording;
    const auto at = [&](TimePoint t) { return recording.origin_steady_ns + t.count() - zero_ns; };
    GroupLayout layout;
    const size_t devices = std::max(recording.devices.size(), group.device_names.size());
    for (size_t device = 0; device < devices; ++device) {
        const int pid = next_pid++;
        layout.device_pids.push_back(pid);
        const std::string name = device < group.device_names.size()
                                     ? group.device_names[device]
                                     : "device " + std::to_string(device);
        events.metadata(pid, 0, "process_name",
                        "{\"name\":" + json_string(name + " (group " + group.group_id + ")") + "}");
        events.metadata(pid, 0, "process_sort_index",
                        "{\"sort_index\":" + std::to_string(pid) + "}");
    }
    layout.models_pid = next_pid++;
    events.metadata(layout.models_pid, 0, "process_name",
                    "{\"name\":" + json_string("models (group " + group.group_id + ")") + "}");
    events.metadata(layout.models_pid, 0, "process_sort_index",
                    "{\"sort_index\":" + std::to_string(layout.models_pid) + "}");

    // One track per model, named after it (with its id where two share a name).
    std::map<std::string, int> name_count;
    for (const auto& [id, name] : recording.model_names) ++name_count[name];
    for (const auto& [id, name] : recording.model_names) {
        const int tid = static_cast<int>(layout.model_tids.size()) + 1;
        layout.model_tids[id] = tid;
        layout.model_names[id] =
            name_count[name] > 1 ? name + " (id " + std::to_string(id) + ")" : name;
        events.metadata(layout.models_pid, tid, "thread_name",
                        "{\"name\":" + json_string(layout.model_names[id]) + "}");
        events.metadata(layout.models_pid, tid, "thread_sort_index",
                        "{\"sort_index\":" + std::to_string(tid) + "}");
    }
    const auto model_tid = [&](uint64_t id) {
        auto found = layout.model_tids.find(id);
        return found == layout.model_tids.end() ? 0 : found->second;
    };
    const auto model_name = [&](uint64_t id) {
        auto found = layout.model_names.find(id);
        return found == layout.model_names.end() ? "model " + std::to_string(id) : found->second;
    };

    // Bursts on their slot tracks.
    layout.burst_tids = slot_tracks(recording);
    std::set<std::pair<size_t, int>> named_tracks;
    for (size_t i = 0; i < recording.bursts.size(); ++i) {
        const RecordedBurst& burst = recording.bursts[i];
        if (burst.device_index >= layout.device_pids.size()) continue;
        const int pid = layout.device_pids[burst.device_index];
        const int tid = layout.burst_tids[i];
        if (named_tracks.insert({burst.device_index, tid}).second) {
            const std::string track =
                tid > LATENCY_TRACK_BASE
                    ? "latency slot " + std::to_string(tid - LATENCY_TRACK_BASE)
                    : "slot " + std::to_string(tid);
            events.metadata(pid, tid, "thread_name", "{\"name\":" + json_string(track) + "}");
            events.metadata(pid, tid, "thread_sort_index",
                            "{\"sort_index\":" + std::to_string(tid) + "}");
        }
        const bool ended = burst.end != NOT_ENDED;
        const TimePoint end = ended ? burst.end : recording.stopped;
        std::string fields =
            ",\"dur\":" + EventList::microseconds((end - burst.start).count()) +
            ",\"cat\":\"burst\",\"name\":" + json_string(model_name(burst.model_id)) +
            ",\"args\":{\"decision\":" + std::to_string(i) +
            ",\"model_id\":" + std::to_string(burst.model_id) +
            ",\"frames\":" + std::to_string(burst.frames) + ",\"reason\":\"" +
            scheduler::decision_reason_name(burst.reason) + "\",\"ready\":\"" +
            (burst.ready == scheduler::ReadyReason::TIMEOUT ? "timeout" : "threshold") +
            "\",\"effective_priority\":" + std::to_string(burst.effective_priority);
        if (burst.lent_by != 0) fields += ",\"lent_by\":" + json_string(model_name(burst.lent_by));
        if (!ended) fields += ",\"running_at_end\":true";
        fields += "}";
        events.add('X', at(burst.start), pid, tid, fields);
    }

    // Flow markers per model track: submit and completion of each frame that completed.
    std::map<int, std::vector<int64_t>> marker_times;  // per model track, in trace time
    for (const RecordedFrame& frame : recording.frames) {
        if (frame.outcome != FrameOutcome::COMPLETED) continue;
        marker_times[model_tid(frame.model_id)].push_back(at(frame.submitted));
        marker_times[model_tid(frame.model_id)].push_back(at(frame.ended));
    }
    for (auto& [tid, times] : marker_times) std::sort(times.begin(), times.end());
    // A marker's duration: up to MARKER_NS, and at most half the way to the next marker of its
    // track, so that markers never touch (a viewer reading microseconds as doubles could see
    // two that meet as overlapping).
    const auto marker_ns = [&](int tid, int64_t t) {
        const auto& times = marker_times[tid];
        auto next = std::upper_bound(times.begin(), times.end(), t);
        return next == times.end() ? MARKER_NS : std::min(MARKER_NS, (*next - t) / 2);
    };

    for (const RecordedFrame& frame : recording.frames) {
        const int tid = model_tid(frame.model_id);
        const std::string name = json_string(model_name(frame.model_id));
        const std::string id = ",\"id\":" + std::to_string(frame.id);
        const int64_t submitted = at(frame.submitted);
        const bool pending = frame.outcome == FrameOutcome::PENDING;
        const int64_t ended = pending ? at(recording.stopped) : at(frame.ended);
        const bool ran = frame.outcome == FrameOutcome::COMPLETED;
        const int64_t started = ran ? at(frame.started) : ended;
        // The frame, its queue wait and its execution, nested (async: frames of a model overlap).
        events.add('b', submitted, layout.models_pid, tid,
                   ",\"cat\":\"frame\",\"name\":" + name + id +
                       ",\"args\":{\"frame\":" + std::to_string(frame.id) +
                       ",\"frames\":" + std::to_string(frame.frames) + "}");
        events.add('b', submitted, layout.models_pid, tid,
                   ",\"cat\":\"frame\",\"name\":\"queue wait\"" + id);
        events.add('e', started, layout.models_pid, tid,
                   ",\"cat\":\"frame\",\"name\":\"queue wait\"" + id);
        if (ran) {
            events.add('b', started, layout.models_pid, tid,
                       ",\"cat\":\"frame\",\"name\":\"execute\"" + id);
            events.add('e', ended, layout.models_pid, tid,
                       ",\"cat\":\"frame\",\"name\":\"execute\"" + id);
        }
        events.add('e', ended, layout.models_pid, tid,
                   ",\"cat\":\"frame\",\"name\":" + name + id + ",\"args\":{\"outcome\":\"" +
                       scheduler::frame_outcome_name(frame.outcome) + "\"}");
        if (!ran) continue;

        // Submit -> the burst that ran it -> completion, as a flow between short slices.
        // The submit marker ends before the execution starts, so that the flow's steps (each in
        // the middle of its slice, where a viewer surely binds it) keep their order.
        const int64_t submit_dur = std::min(marker_ns(tid, submitted), started - submitted);
        const int64_t complete_dur = marker_ns(tid, ended);
        const std::string frame_args = ",\"args\":{\"frame\":" + std::to_string(frame.id) + "}";
        events.add('X', submitted, layout.models_pid, tid,
                   ",\"dur\":" + EventList::microseconds(submit_dur) +
                       ",\"cat\":\"frame\",\"name\":\"submit\"" + frame_args);
        events.add('X', ended, layout.models_pid, tid,
                   ",\"dur\":" + EventList::microseconds(complete_dur) +
                       ",\"cat\":\"frame\",\"name\":\"complete\"" + frame_args);
        const std::string flow = ",\"cat\":\"flow\",\"name\":\"frame\"" + id;
        events.add('s', submitted + submit_dur / 2, layout.models_pid, tid, flow);
        if (frame.burst >= 0 && static_cast<size_t>(frame.burst) < recording.bursts.size()) {
            const RecordedBurst& burst = recording.bursts[static_cast<size_t>(frame.burst)];
            if (burst.device_index < layout.device_pids.size()) {
                events.add('t', started, layout.device_pids[burst.device_index],
                           layout.burst_tids[static_cast<size_t>(frame.burst)],
                           flow + ",\"bp\":\"e\"");
            }
        }
        events.add('f', ended + complete_dur / 2, layout.models_pid, tid, flow + ",\"bp\":\"e\"");
    }

    // Queue depth per model.
    for (const auto& sample : recording.queue_depths) {
        events.add('C', at(sample.time), layout.models_pid, model_tid(sample.model_id),
                   ",\"name\":" + json_string("queue " + model_name(sample.model_id)) +
                       ",\"args\":{\"frames\":" + std::to_string(sample.frames_queued) + "}");
    }
}

}  // namespace

std::string chrome_trace_json(const std::vector<TracedGroup>& groups) {
    // Time 0 is the earliest start of a recording: recordings of several groups line up.
    int64_t zero_ns = std::numeric_limits<int64_t>::max();
    for (const auto& group : groups) {
        zero_ns =
            std::min(zero_ns, group.recording.origin_steady_ns + group.recording.started.count());
    }
    if (groups.empty()) zero_ns = 0;
    std::string out = "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[";
    EventList events(out);
    int next_pid = 1;
    nlohmann::json recordings = nlohmann::json::array();
    uint64_t dropped = 0;
    for (const auto& group : groups) {
        write_group(group, zero_ns, next_pid, events);
        const SchedulerRecording& recording = group.recording;
        dropped += recording.dropped_events;
        const int64_t start_ns = recording.origin_steady_ns + recording.started.count() - zero_ns;
        recordings.push_back(
            {{"group_id", group.group_id},
             {"started_us", static_cast<double>(start_ns) / 1e3},
             {"seconds",
              static_cast<double>((recording.stopped - recording.started).count()) / 1e9},
             {"bursts", recording.bursts.size()},
             {"frames", recording.frames.size()},
             {"queue_depth_samples", recording.queue_depths.size()},
             {"max_events", recording.max_events},
             {"dropped_events", recording.dropped_events}});
    }
    nlohmann::json other = {{"recorder", "corun"},
                            {"format",
                             "https://docs.google.com/document/d/"
                             "1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU"},
                            {"dropped_events", dropped},
                            {"recordings", recordings}};
    out += "\n],\"otherData\":" + other.dump() + "}\n";
    return out;
}

Status check_trace_output(const std::string& path) {
    std::FILE* file = std::fopen(path.c_str(), "w");
    if (file == nullptr) {
        return Status(StatusCode::OPEN_FILE_FAILURE, "cannot write the trace to " + path + " (" +
                                                         std::strerror(errno) +
                                                         "); give a writable --output path");
    }
    std::fclose(file);
    return Status::ok();
}

Status write_trace_file(const std::string& path, const std::string& json) {
    std::FILE* file = std::fopen(path.c_str(), "w");
    if (file == nullptr) {
        return Status(StatusCode::OPEN_FILE_FAILURE, "cannot write the trace to " + path + " (" +
                                                         std::strerror(errno) +
                                                         "); give a writable --output path");
    }
    const bool written = std::fwrite(json.data(), 1, json.size(), file) == json.size();
    const int write_error = errno;
    const bool closed = std::fclose(file) == 0;
    if (!written || !closed) {
        return Status(StatusCode::FILE_OPERATION_FAILURE,
                      "writing the trace to " + path + " failed (" +
                          std::strerror(written ? errno : write_error) + ")");
    }
    return Status::ok();
}

}  // namespace corun::runtime::monitor
