"""Checks a Chrome trace against the Trace Event Format (what Perfetto and chrome://tracing need to
open it), as tests/runtime/chrome_trace_checks.hpp does in C++: every event has ph, ts, pid and
tid; X events have a dur and the X events of one track nest; b/e events nest per (cat, id, pid);
every flow has one s and one f with the same id, in time order, each on a slice of its track;
counters carry numbers; metadata names processes and threads."""

PHASES = {"X", "b", "e", "s", "t", "f", "C", "M"}
METADATA = {"process_name", "thread_name", "process_sort_index", "thread_sort_index"}


def trace_problems(trace):
    """The problems found (an empty list: valid)."""
    if not isinstance(trace, dict) or not isinstance(trace.get("traceEvents"), list):
        return ["the trace is not an object with a traceEvents array"]
    problems = []
    slices, flows, asyncs = {}, {}, {}
    for index, event in enumerate(trace["traceEvents"]):
        where = f"event {index} {event}"
        if not isinstance(event, dict) or not all(key in event for key in ("ph", "ts", "pid", "tid")):
            problems.append(where + ": lacks ph, ts, pid or tid")
            continue
        if not isinstance(event["pid"], int) or not isinstance(event["tid"], int) or \
                not isinstance(event["ts"], (int, float)):
            problems.append(where + ": ts, pid or tid of the wrong type")
            continue
        phase, track, ts = event["ph"], (event["pid"], event["tid"]), event["ts"]
        if phase not in PHASES:
            problems.append(where + ": unexpected phase")
            continue
        if phase not in ("M", "C") and not isinstance(event.get("name"), str):
            problems.append(where + ": no name")
        if phase == "X":
            if not isinstance(event.get("dur"), (int, float)) or event["dur"] < 0:
                problems.append(where + ": X without a dur >= 0")
                continue
            slices.setdefault(track, []).append((ts, ts + event["dur"]))
        elif phase in ("b", "e"):
            if "cat" not in event or "id" not in event:
                problems.append(where + ": async event without cat and id")
                continue
            asyncs.setdefault((event["cat"], str(event["id"]), event["pid"]), []).append(event)
        elif phase in ("s", "t", "f"):
            if "cat" not in event or "id" not in event:
                problems.append(where + ": flow event without cat and id")
                continue
            flows.setdefault((event["cat"], str(event["id"])), []).append(event)
        elif phase == "C":
            args = event.get("args")
            if "name" not in event or not isinstance(args, dict) or not args or \
                    not all(isinstance(v, (int, float)) for v in args.values()):
                problems.append(where + ": counter without a name and numeric args")
        elif phase == "M":
            if event.get("name") not in METADATA or not isinstance(event.get("args"), dict):
                problems.append(where + ": unexpected metadata")
    for track, spans in slices.items():
        spans.sort(key=lambda span: (span[0], -span[1]))
        open_ends = []
        for begin, end in spans:
            while open_ends and open_ends[-1] <= begin:
                open_ends.pop()
            if open_ends and end > open_ends[-1]:
                problems.append(f"track {track}: a slice at {begin} overlaps the end of its parent")
            open_ends.append(end)

    def on_a_slice(event):
        return any(begin <= event["ts"] <= end
                   for begin, end in slices.get((event["pid"], event["tid"]), []))

    for key, events in flows.items():
        phases = [event["ph"] for event in events]
        if phases.count("s") != 1 or phases.count("f") != 1 or phases[0] != "s" or phases[-1] != "f":
            problems.append(f"flow {key}: not one s ... one f ({phases})")
        if [event["ts"] for event in events] != sorted(event["ts"] for event in events):
            problems.append(f"flow {key}: steps out of time order")
        for event in events:
            if not on_a_slice(event):
                problems.append(f"flow {key}: its {event['ph']} is on no slice")
    for key, events in asyncs.items():
        open_names, last = [], None
        for event in events:
            if last is not None and event["ts"] < last:
                problems.append(f"async {key}: out of time order")
            last = event["ts"]
            if event["ph"] == "b":
                open_names.append(event["name"])
            elif not open_names or open_names[-1] != event["name"]:
                problems.append(f"async {key}: e of {event['name']} closes no b")
            else:
                open_names.pop()
        if open_names:
            problems.append(f"async {key}: b without e")
    return problems


def bursts(trace):
    """The burst slices (ph X, cat burst), in decision order."""
    found = [e for e in trace["traceEvents"] if e["ph"] == "X" and e.get("cat") == "burst"]
    return sorted(found, key=lambda e: (e["pid"], e["args"]["decision"]))
