// Checks a Chrome trace against the Trace Event Format (what Perfetto and chrome://tracing
// need to open it): every event has ph, ts, pid and tid; X events have a dur and the X events
// of one track nest (never overlap partly); b/e events nest per (cat, id); every flow has one
// s and one f with the same id, in time order, each bound to a slice of its track; counters
// carry numbers; metadata names processes and threads. Returns the problems found (empty =
// valid).
#pragma once

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

namespace corun::test {

inline std::vector<std::string> chrome_trace_problems(const nlohmann::json& trace) {
    std::vector<std::string> problems;
    if (!trace.is_object() || !trace.contains("traceEvents") || !trace["traceEvents"].is_array()) {
        return {"the trace is not an object with a traceEvents array"};
    }
    const auto& events = trace["traceEvents"];
    const std::set<std::string> phases = {"X", "b", "e", "s", "t", "f", "C", "M"};
    using Track = std::pair<int64_t, int64_t>;
    std::map<Track, std::vector<std::pair<double, double>>> slices;   // X: [ts, ts + dur]
    std::map<std::string, std::vector<const nlohmann::json*>> flows;  // by id
    std::map<std::tuple<std::string, std::string, int64_t>, std::vector<const nlohmann::json*>>
        async;  // by (cat, id, pid)
    for (size_t i = 0; i < events.size(); ++i) {
        const auto& event = events[i];
        const std::string where = "event " + std::to_string(i) + " " + event.dump();
        if (!event.is_object() || !event.contains("ph") || !event["ph"].is_string() ||
            !event.contains("ts") || !event["ts"].is_number() || !event.contains("pid") ||
            !event["pid"].is_number_integer() || !event.contains("tid") ||
            !event["tid"].is_number_integer()) {
            problems.push_back(where + ": lacks ph, ts, pid or tid");
            continue;
        }
        const std::string phase = event["ph"];
        if (!phases.count(phase)) {
            problems.push_back(where + ": unexpected phase");
            continue;
        }
        if (phase != "M" && phase != "C" &&
            (!event.contains("name") || !event["name"].is_string())) {
            problems.push_back(where + ": no name");
        }
        const Track track{event["pid"].get<int64_t>(), event["tid"].get<int64_t>()};
        const double ts = event["ts"].get<double>();
        if (phase == "X") {
            if (!event.contains("dur") || !event["dur"].is_number() ||
                event["dur"].get<double>() < 0) {
                problems.push_back(where + ": X without a dur >= 0");
                continue;
            }
            slices[track].emplace_back(ts, ts + event["dur"].get<double>());
        } else if (phase == "b" || phase == "e") {
            if (!event.contains("cat") || !event.contains("id")) {
                problems.push_back(where + ": async event without cat and id");
                continue;
            }
            async[{event["cat"].get<std::string>(), event["id"].dump(), track.first}].push_back(
                &event);
        } else if (phase == "s" || phase == "t" || phase == "f") {
            if (!event.contains("cat") || !event.contains("id")) {
                problems.push_back(where + ": flow event without cat and id");
                continue;
            }
            flows[event["cat"].get<std::string>() + "/" + event["id"].dump()].push_back(&event);
        } else if (phase == "C") {
            if (!event.contains("name") || !event.contains("args") || !event["args"].is_object() ||
                event["args"].empty()) {
                problems.push_back(where + ": counter without name and args");
                continue;
            }
            for (const auto& [key, value] : event["args"].items()) {
                if (!value.is_number()) problems.push_back(where + ": counter value not a number");
            }
        } else if (phase == "M") {
            static const std::set<std::string> names = {"process_name", "thread_name",
                                                        "process_sort_index", "thread_sort_index"};
            if (!event.contains("name") || !names.count(event["name"].get<std::string>()) ||
                !event.contains("args") || !event["args"].is_object()) {
                problems.push_back(where + ": unexpected metadata");
            }
        }
    }
    // The X slices of a track nest.
    for (auto& [track, spans] : slices) {
        std::sort(spans.begin(), spans.end(), [](const auto& a, const auto& b) {
            return a.first != b.first ? a.first < b.first : a.second > b.second;
        });
        std::vector<double> open;  // ends of the enclosing slices
        for (const auto& [begin, end] : spans) {
            while (!open.empty() && open.back() <= begin) open.pop_back();
            if (!open.empty() && end > open.back()) {
                problems.push_back("track " + std::to_string(track.first) + "/" +
                                   std::to_string(track.second) + ": a slice at " +
                                   std::to_string(begin) + " overlaps the end of its parent");
            }
            open.push_back(end);
        }
    }
    // Whether a flow event at `ts` on `track` lies inside a slice of it.
    const auto bound = [&](const nlohmann::json& event) {
        const auto found = slices.find({event["pid"].get<int64_t>(), event["tid"].get<int64_t>()});
        if (found == slices.end()) return false;
        const double ts = event["ts"].get<double>();
        return std::any_of(found->second.begin(), found->second.end(),
                           [&](const auto& span) { return span.first <= ts && ts <= span.second; });
    };
    for (const auto& [id, list] : flows) {
        size_t starts = 0, ends = 0;
        double last = -1e300;
        for (const nlohmann::json* event : list) {
            const std::string phase = (*event)["ph"];
            starts += phase == "s";
            ends += phase == "f";
            const double ts = (*event)["ts"].get<double>();
            if (ts < last) problems.push_back("flow " + id + ": steps out of time order");
            last = ts;
            if (!bound(*event)) problems.push_back("flow " + id + ": " + phase + " is on no slice");
        }
        if (starts != 1 || ends != 1 || (*list.front())["ph"] != "s" ||
            (*list.back())["ph"] != "f") {
            problems.push_back("flow " + id + ": not one s ... one f");
        }
    }
    // b/e nest per (cat, id, pid), in the order written (events of equal ts keep it).
    for (const auto& [key, list] : async) {
        std::vector<std::string> open;
        double last = -1e300;
        for (const nlohmann::json* event : list) {
            const double ts = (*event)["ts"].get<double>();
            if (ts < last) problems.push_back("async " + std::get<1>(key) + ": out of time order");
            last = ts;
            const std::string name = (*event)["name"];
            if ((*event)["ph"] == "b") {
                open.push_back(name);
            } else if (open.empty() || open.back() != name) {
                problems.push_back("async " + std::get<1>(key) + ": e of " + name +
                                   " does not close the innermost b");
            } else {
                open.pop_back();
            }
        }
        if (!open.empty()) problems.push_back("async " + std::get<1>(key) + ": b without e");
    }
    return problems;
}

}  // namespace corun::test
