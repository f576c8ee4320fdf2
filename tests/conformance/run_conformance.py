#!/usr/bin/python3
"""ONNX conformance: the ONNX backend node tests (Debian's libonnx-testdata) through corun's
public API and through bare ONNX Runtime, in the same run (README.md here).

Runs `--jobs` long-lived conformance_worker processes fed test folders over stdin; a worker is
restarted only when a test crashes it (that side of that test fails with the signal) or does not
answer within --timeout seconds (the worker is killed by its PID; the side fails as a hang).
Writes conformance_report.txt and conformance_results.json to --report-dir and prints the
summary.

Exit status: 1 when a test that bare ONNX Runtime passes fails through corun and is not listed
in --known-differences (with a reason), or when that list is malformed or names a test that does
not exist; 77 (ctest's skip) when the test data is not installed; else 0. Tests that bare ONNX
Runtime fails are reported, never counted against corun.
"""
import argparse
import collections
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import time


def read_reason_list(path, what):
    """`test_name  reason` per line; '#' starts a comment. Returns {name: reason}."""
    entries, errors = {}, []
    if not os.path.exists(path):
        return entries, [f"{what} file {path} does not exist"]
    with open(path, encoding="utf-8") as file:
        for number, raw in enumerate(file, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 1)
            if len(parts) < 2:
                errors.append(f"{path}:{number}: '{parts[0]}' has no reason; write `test_name  reason`")
                continue
            if any(ch in parts[0] for ch in "*?[]"):
                errors.append(f"{path}:{number}: '{parts[0]}' is a pattern; list tests by exact name")
                continue
            if parts[0] in entries:
                errors.append(f"{path}:{number}: '{parts[0]}' is listed twice")
            entries[parts[0]] = parts[1]
    return entries, errors


# The order the worker runs the sides in: corun first, so that its first model creates the
# process's ONNX Runtime environment with corun's settings, as in an application.
SIDES = ("corun", "ort")


class Worker:
    def __init__(self, executable, index, log_dir):
        self.executable = executable
        self.index = index
        self.log_path = os.path.join(log_dir, f"worker{index}.stderr")
        self.process = None
        self.buffer = b""
        self.test = None  # (name, sides) being run
        self.started = 0.0
        self.restarts = -1
        self.start()

    def start(self):
        self.restarts += 1
        self.log = open(self.log_path, "ab")
        self.log_offset = self.log.tell()
        self.process = subprocess.Popen([self.executable], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self.log)
        os.set_blocking(self.process.stdout.fileno(), False)
        self.buffer = b""

    def send(self, name, sides, folder):
        self.test = (name, sides)
        self.started = time.monotonic()
        self.process.stdin.write(f"{sides} {folder}\n".encode())
        self.process.stdin.flush()

    def stderr_tail(self):
        self.log.flush()
        with open(self.log_path, "rb") as log:
            log.seek(self.log_offset)
            text = log.read().decode(errors="replace").strip().splitlines()
        return " | ".join(text[-3:])

    def stop(self, kill):
        if kill and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        try:
            self.process.stdin.close()
        except OSError:
            pass
        self.process.wait()
        self.process.stdout.close()
        self.log.close()


def exit_text(returncode):
    if returncode is not None and returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit status {returncode}"


def run_tests(options, names):
    results = {name: {"name": name} for name in names}
    pending = collections.deque((name, SIDES) for name in names)
    log_dir = options.report_dir
    for i in range(options.jobs):  # each run's worker logs start empty
        open(os.path.join(log_dir, f"worker{i}.stderr"), "w").close()
    workers = [Worker(options.worker, i, log_dir) for i in range(options.jobs)]
    selector = selectors.DefaultSelector()

    def dispatch(worker):
        if pending:
            name, sides = pending.popleft()
            worker.send(name, ",".join(sides), os.path.join(options.tests, name))
            selector.register(worker.process.stdout, selectors.EVENT_READ, worker)
        else:
            worker.test = None

    def handle(worker, event):
        name, _ = worker.test
        result = results[name]
        if event["event"] == "case":
            if "error" in event:
                result["tensor_only"] = None
                result["case_error"] = event["error"]
            else:
                result["tensor_only"] = event["tensor_only"]
                result["reason"] = event["reason"]
        elif event["event"] == "result":
            result[event["side"]] = {k: event[k] for k in ("passed", "stage", "code", "message", "note")}
        elif event["event"] == "done":
            selector.unregister(worker.process.stdout)
            dispatch(worker)

    def lost(worker, why):
        """The worker crashed or hung on its test: blame the side that was running."""
        name, sides = worker.test
        result = results[name]
        tail = worker.stderr_tail()
        failure = {"passed": False, "stage": "crash" if "signal" in why or "exit" in why else "hang",
                   "code": "", "message": why + (f"; stderr: {tail}" if tail else ""), "note": ""}
        if "tensor_only" not in result:
            result["tensor_only"] = None
            result["case_error"] = "reading the test " + failure["message"]
        else:
            remaining = [side for side in sides.split(",") if side not in result]
            result[remaining[0]] = failure
            if remaining[1:]:  # the other side still gets its run, in a fresh worker
                pending.appendleft((name, tuple(remaining[1:])))
        selector.unregister(worker.process.stdout)
        worker.stop(kill=True)
        worker.start()
        dispatch(worker)

    for worker in workers:
        dispatch(worker)
    while any(w.test for w in workers):
        for key, _ in selector.select(timeout=1.0):
            worker = key.data
            try:
                chunk = os.read(worker.process.stdout.fileno(), 1 << 16)
            except BlockingIOError:
                continue
            if not chunk:
                worker.process.wait()
                lost(worker, f"the worker died ({exit_text(worker.process.returncode)})")
                continue
            worker.buffer += chunk
            while worker.test and b"\n" in worker.buffer:
                line, worker.buffer = worker.buffer.split(b"\n", 1)
                worker.started = time.monotonic()  # progress: each side has its own time
                handle(worker, json.loads(line))
        now = time.monotonic()
        for worker in workers:
            if worker.test and now - worker.started > options.timeout:
                lost(worker, f"no answer in {options.timeout} s (hang); worker killed")
    for worker in workers:
        worker.stop(kill=False)
    return results


def corun_cause(side):
    """A short cause for grouping corun's failures."""
    message, stage, code = side["message"], side["stage"], side["code"]
    rules = [
        (r"which corun cannot bind yet|element type .* refused|cannot bind", "element type refused"),
        (r"0 bytes per frame\) has no buffer", "zero-size tensor: its empty buffer counts as no buffer"),
        (r"has no buffer", "optional input left out (unbound)"),
        (r"zero-filled frame", "dynamic output shapes: the zero-filled frame failed"),
        (r"it must be positive", "zero-size dimension refused by set_shape"),
        (r"bytes per frame through corun", "output size differs from the expected output"),
    ]
    refused = re.search(r"has element type (\w+), which corun cannot bind", message)
    if refused:
        return f"element type refused: {refused.group(1)}"
    for pattern, cause in rules:
        if re.search(pattern, message):
            return cause
    if stage in ("crash", "hang"):
        return stage
    if stage == "compare":
        return "wrong values"
    return f"{stage}: {code or 'error'}"


def first_line(text, limit=300):
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "..."


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", required=True)
    parser.add_argument("--tests", required=True, help="folder of node tests (test_*/model.onnx)")
    parser.add_argument("--known-differences", required=True)
    parser.add_argument("--ort-failures", required=True)
    parser.add_argument("--report-dir", required=True)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds one side of one test may take before its worker is killed")
    parser.add_argument("--only", action="append", default=[], help="run only this test (repeatable)")
    options = parser.parse_args()

    if not os.path.isdir(options.tests):
        print(f"SKIP: ONNX node tests not found at {options.tests}; install Debian's "
              "libonnx-testdata (scripts/setup.sh does)")
        return 77
    os.makedirs(options.report_dir, exist_ok=True)
    known, known_errors = read_reason_list(options.known_differences, "known differences")
    ort_listed, ort_errors = read_reason_list(options.ort_failures, "ONNX Runtime failures")
    names = sorted(n for n in os.listdir(options.tests)
                   if os.path.isfile(os.path.join(options.tests, n, "model.onnx")))
    missing = [n for n in list(known) + list(ort_listed) if n not in names]
    known_errors += [f"'{n}' is listed but is not a test in {options.tests}" for n in missing]
    if options.only:
        names = [n for n in names if n in options.only]

    start = time.monotonic()
    results = run_tests(options, names)
    seconds = time.monotonic() - start

    tensor_only = [r for r in results.values() if r.get("tensor_only")]
    other = [r for r in results.values() if r.get("tensor_only") is False]
    case_errors = [r for r in results.values() if r.get("tensor_only") is None]
    ort_pass = [r for r in tensor_only if r["ort"]["passed"]]
    ort_loaded = [r for r in tensor_only if r["ort"]["passed"] or r["ort"]["stage"] != "load"]
    corun_pass = [r for r in tensor_only if r["corun"]["passed"]]
    corun_fail = [r for r in tensor_only if not r["corun"]["passed"]]
    regressions = [r for r in ort_pass if not r["corun"]["passed"] and r["name"] not in known]
    ort_fail = [r for r in tensor_only if not r["ort"]["passed"]]
    known_now_passing = [n for n in known if n in results and results[n].get("tensor_only")
                         and results[n]["corun"]["passed"]]

    summary = [
        f"ONNX node tests: {len(results)} in {options.tests} ({seconds:.0f} s, {options.jobs} workers)",
        f"  tensor-only: {len(tensor_only)}; not tensor-only (sequence/map/optional streams): "
        f"{len(other)}; unreadable: {len(case_errors)}",
        f"  bare ONNX Runtime: passes {len(ort_pass)} of {len(tensor_only)} tensor-only tests "
        f"({len(ort_loaded)} load)",
        f"  corun:             passes {len(corun_pass)} of {len(tensor_only)} tensor-only tests; "
        f"{len([r for r in ort_pass if r['corun']['passed']])} of the {len(ort_pass)} that ONNX "
        f"Runtime passes",
        f"  corun fails {len(regressions)} test(s) that bare ONNX Runtime passes and that "
        f"{os.path.basename(options.known_differences)} does not list "
        f"({len([r for r in ort_pass if not r['corun']['passed'] and r['name'] in known])} listed)",
    ]
    lines = list(summary)

    groups = collections.defaultdict(list)
    for r in corun_fail:
        groups[corun_cause(r["corun"])].append(r)
    lines += ["", f"corun's failures by cause ({len(corun_fail)}):"]
    for cause, members in sorted(groups.items(), key=lambda item: -len(item[1])):
        lines.append(f"  {cause}: {len(members)}")
        for r in members:
            tag = "" if r["ort"]["passed"] else " [ONNX Runtime fails too]"
            if r["name"] in known:
                tag += " [known difference]"
            lines.append(f"    {r['name']}{tag}: {first_line(r['corun']['message'])}")

    lines += ["", f"bare ONNX Runtime's failures ({len(ort_fail)}; not held against corun):"]
    for r in ort_fail:
        listed = ort_listed.get(r["name"])
        why = f" [listed: {listed}]" if listed else " [not in ort_failures.txt]"
        lines.append(f"  {r['name']} ({r['ort']['stage']}){why}: {first_line(r['ort']['message'])}")
    stale_ort = [n for n in ort_listed if n in results and results[n].get("tensor_only")
                 and results[n]["ort"]["passed"]]
    if stale_ort:
        lines.append("  listed in ort_failures.txt but passing now: " + ", ".join(stale_ort))

    lines += ["", f"known differences ({len(known)}):"]
    for name, reason in known.items():
        state = "passes now: remove it" if name in known_now_passing else "still differs"
        lines.append(f"  {name} ({state}): {reason}")

    lines += ["", f"not tensor-only ({len(other)}):"]
    lines += [f"  {r['name']}: {r['reason']}" for r in other]
    if case_errors:
        lines += ["", "unreadable tests:"]
        lines += [f"  {r['name']}: {r['case_error']}" for r in case_errors]
    if known_errors or ort_errors:
        lines += ["", "list errors:"] + [f"  {e}" for e in known_errors + ort_errors]

    lines += ["", "every tensor-only test (ort / corun):"]
    for r in tensor_only:
        def state(side):
            s = r[side]
            return "pass" + (f" ({s['note']})" if s["note"] else "") if s["passed"] else f"FAIL {s['stage']}"
        lines.append(f"  {r['name']}: {state('ort')} / {state('corun')}")

    report = os.path.join(options.report_dir, "conformance_report.txt")
    with open(report, "w", encoding="utf-8") as file:
        file.write("\n".join(lines) + "\n")
    with open(os.path.join(options.report_dir, "conformance_results.json"), "w") as file:
        json.dump({"seconds": seconds, "results": results}, file, indent=1, sort_keys=True)

    print("\n".join(summary))
    print("  corun's failures by cause: " + "; ".join(
        f"{cause} {len(members)}" for cause, members in sorted(groups.items(), key=lambda i: -len(i[1]))))
    print(f"  report: {report}")
    if regressions:
        print(f"\nFAIL: {len(regressions)} test(s) pass on bare ONNX Runtime but fail through corun:")
        for r in regressions:
            print(f"  {r['name']} [{corun_cause(r['corun'])}]: {first_line(r['corun']['message'], 200)}")
        print(f"Fix corun, or list a test with its reason in {options.known_differences}.")
    for error in known_errors + ort_errors:
        print(f"FAIL: {error}")
    return 1 if regressions or known_errors or ort_errors else 0


if __name__ == "__main__":
    sys.exit(main())
