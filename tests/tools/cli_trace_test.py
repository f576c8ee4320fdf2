#!/usr/bin/python3
"""Timelines from the command line (issue 15, docs/TRACING.md): `corun run2 ... --trace FILE` on
three test models on npu-sim writes a valid Chrome trace whose bursts carry every frame run2
counted, and `corun trace --seconds 1 --output FILE` against a corund this script starts
records the frames of a client running there, as `corun trace --pid PID` does for a process run
with CORUN_MONITOR=1. Bad values (an unwritable file, seconds out of
range, no corund) fail with a message naming the cause. No timing assertions.

Every wait is bounded; only the processes this script started are stopped, by their PID.

usage: cli_trace_test.py CORUN CORUND TEST_MODEL_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chrome_trace_checks import bursts, trace_problems  # noqa: E402
from cli_checks import check, finish, run  # noqa: E402

CORUN, CORUND, MODELS = sys.argv[1], sys.argv[2], sys.argv[3]
THREE = ("add_one", "slow_matmul", "conv_nchw")


def corun(*args, timeout=120):
    return run(CORUN, *args, timeout=timeout)


def model(name):
    return os.path.join(MODELS, name + ".onnx")


def load_trace(path, what):
    try:
        with open(path) as file:
            trace = json.load(file)
    except (OSError, ValueError) as error:
        check(False, f"{what}: the trace is JSON ({error})")
        return None
    problems = trace_problems(trace)
    check(not problems, f"{what}: the trace is valid Chrome trace JSON", None)
    for problem in problems[:10]:
        print("   ", problem)
    return trace


def thread_names(trace):
    return {e["args"]["name"] for e in trace["traceEvents"]
            if e["ph"] == "M" and e["name"] == "thread_name"}


def wait_running(monitor_args, count, process):
    """Whether `corun monitor ARGS` shows `count` models with frames done (bounded wait)."""
    deadline = time.time() + 60
    while time.time() < deadline and process.poll() is None:
        shown = corun("monitor", *monitor_args, "--json", "--once", timeout=30)
        if shown.returncode == 0:
            models = json.loads(shown.stdout).get("models", [])
            if len(models) == count and all(int(m.get("frames_done", 0)) > 0 for m in models):
                return True
        time.sleep(0.2)
    return False


directory = tempfile.mkdtemp(prefix="corun-cli-trace-")
daemon = client = monitored = None
try:
    # ---- run2 --trace: the run itself, on npu-sim ----
    profile = os.path.join(directory, "profile.json")
    with open(profile, "w") as file:
        json.dump({"device": {"context_switch_us": 50},
                   "models": {"add_one": {"frame_us": 300}, "slow_matmul": {"frame_us": 700},
                              "conv_nchw": {"frame_us": 500}}}, file)
    path = os.path.join(directory, "run2.json")
    args = ["run2", "--device", "npu-sim", "--profile", profile, "--timing-only", "-t", "0.5",
            "--json", "--trace", path]
    for name in THREE:
        args += ["set-net", model(name)]
    result = corun(*args)
    check(result.returncode == 0, "run2 --trace exits 0", result)
    check("trace written to " + path in result.stderr, "run2 says where the trace is", result)
    if result.returncode == 0:
        summary = json.loads(result.stdout)
        trace = load_trace(path, "run2 --trace")
        if trace:
            frames = {m["name"]: m["frames"] for m in summary["models"]}
            burst_frames = {}
            for burst in bursts(trace):
                burst_frames[burst["name"]] = burst_frames.get(burst["name"], 0) + \
                    burst["args"]["frames"]
            check(burst_frames == frames,
                  "the bursts carry exactly the frames run2 counted, per model",
                  f"{burst_frames} vs {frames}")
            check(all(burst["tid"] == 1 for burst in bursts(trace)),
                  "npu-sim's bursts are on its one slot track")
            check([b["args"]["decision"] for b in bursts(trace)] == list(range(len(bursts(trace)))),
                  "one burst per decision, numbered in order")
            flows = {e["id"] for e in trace["traceEvents"] if e["ph"] == "s"}
            check(len(flows) == sum(frames.values()), "one flow per frame, submit to completion")
            check(set(THREE) <= thread_names(trace), "one track per model, named after it")
            check({"slot 1"} <= thread_names(trace), "a track per device slot")
            counters = {e["name"] for e in trace["traceEvents"] if e["ph"] == "C"}
            check(counters == {"queue " + name for name in THREE}, "a queue-depth counter per model",
                  counters)
            check(trace["otherData"]["dropped_events"] == 0, "nothing dropped")

    # ---- errors ----
    unwritable = os.path.join(directory, "no-such-folder", "trace.json")
    result = corun("run2", "-t", "0.2", "--trace", unwritable, "set-net", model("add_one"))
    check(result.returncode != 0 and "cannot write the trace to " + unwritable in result.stderr,
          "run2 --trace to an unwritable path fails before running, naming the path", result)
    result = corun("run2", "-t", "0.2", "--trace", path, "--service-socket", "/tmp/x.sock",
                   "set-net", model("add_one"))
    check(result.returncode != 0 and "corun trace --socket" in result.stderr,
          "run2 --trace through corund points to `corun trace`", result)
    for seconds in ("0", "601", "1.5", "-3"):
        result = corun("trace", "--seconds", seconds, "--output", path)
        check(result.returncode != 0 and "--seconds must be a whole number of seconds in 1..600"
              in result.stderr, f"corun trace --seconds {seconds} is refused", result)
    socket = os.path.join(directory, "corund.sock")
    missing = os.path.join(directory, "missing.json")
    result = corun("trace", "--seconds", "1", "--output", missing, "--socket", socket)
    check(result.returncode != 0 and socket in result.stderr and not os.path.exists(missing),
          "corun trace without a corund names the socket and leaves no file", result)
    result = corun("trace", "--seconds", "1", "--output", unwritable, "--socket", socket)
    check(result.returncode != 0 and "cannot write the trace to " + unwritable in result.stderr,
          "corun trace to an unwritable path fails naming the path", result)

    # ---- corun trace against corund, with a client running there ----
    daemon = subprocess.Popen([CORUND, "--socket", socket, "--log-level", "warn"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    client = subprocess.Popen([CORUN, "run2", "--service-socket", socket, "-t", "300", "--json",
                               "set-net", model("add_one"), "set-net", model("slow_matmul")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    running = wait_running(["--socket", socket], 2, client)
    check(running, "the client runs frames through corund")
    if running:
        path = os.path.join(directory, "corund.json")
        # --max-events keeps the file small (the models are fast), and is checked on the way.
        result = corun("trace", "--socket", socket, "--seconds", "1", "--output", path,
                       "--max-events", "20000")
        check(result.returncode == 0 and "written to " + path in result.stderr,
              "corun trace --socket records corund", result)
        trace = load_trace(path, "corun trace") if result.returncode == 0 else None
        if trace:
            names = {b["name"] for b in bursts(trace)}
            check(names == {"add_one", "slow_matmul"},
                  "the client's two models ran bursts in the trace", names)
            check({"add_one", "slow_matmul"} <= thread_names(trace), "a track per model")
            completed = sum(1 for e in trace["traceEvents"] if e["ph"] == "f")
            check(completed > 0, "frames flow from submit to completion")
            check(len(trace["otherData"]["recordings"]) == 1, "one device group recorded")
            check(trace["otherData"]["recordings"][0]["max_events"] == 20000,
                  "--max-events reaches corund")
        # Two traces at once: they overlap (4 s each, started together), so exactly one records
        # and the other is told to wait for it.
        both = [subprocess.Popen([CORUN, "trace", "--socket", socket, "--seconds", "4",
                                  "--output", os.path.join(directory, f"both{i}.json"),
                                  "--max-events", "1000"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                for i in range(2)]
        outcomes = [(p.wait(timeout=120), p.stderr.read()) for p in both]
        check(sorted(rc == 0 for rc, _ in outcomes) == [False, True] and
              any("recording a trace for another client" in err for _, err in outcomes),
              "a second trace at the same time is refused, naming why", outcomes)

    # ---- corun trace --pid: a process run with CORUN_MONITOR=1, through its own monitor ----
    environment = dict(os.environ, CORUN_MONITOR="1", CORUN_MONITOR_DIR=directory)
    monitored_err = open(os.path.join(directory, "monitored.err"), "w+")
    monitored = subprocess.Popen([CORUN, "run2", "-t", "300", "--json", "set-net", model("add_one"),
                                  "set-net", model("conv_nchw")], env=environment,
                                 stdout=subprocess.DEVNULL, stderr=monitored_err)
    os.environ["CORUN_MONITOR_DIR"] = directory  # for the commands below
    running = wait_running(["--pid", str(monitored.pid)], 2, monitored)
    check(running, "the monitored process runs frames")
    if running:
        path = os.path.join(directory, "process.json")
        result = corun("trace", "--pid", str(monitored.pid), "--seconds", "1", "--output", path,
                       "--max-events", "20000")
        check(result.returncode == 0, "corun trace --pid records the process", result)
        trace = load_trace(path, "corun trace --pid") if result.returncode == 0 else None
        if trace:
            check({b["name"] for b in bursts(trace)} == {"add_one", "conv_nchw"},
                  "the process's two models ran bursts in the trace")
            check(trace["otherData"]["recordings"][0]["max_events"] == 20000,
                  "--max-events reaches the process")
        shown = corun("monitor", "--pid", str(monitored.pid), "--json", "--once")
        check(shown.returncode == 0 and len(json.loads(shown.stdout)["models"]) == 2,
              "corun monitor --pid still answers after a trace", shown)
        if shown.returncode != 0:
            monitored_err.seek(0)
            print("the monitored process:", monitored.poll(), monitored_err.read()[-2000:])
    result = corun("trace", "--pid", "999999", "--seconds", "1", "--output", missing)
    check(result.returncode != 0 and "no monitored process answers" in result.stderr
          and not os.path.exists(missing), "corun trace --pid of no such process says so", result)
finally:
    for process in (monitored, client, daemon):
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
    shutil.rmtree(directory, ignore_errors=True)

finish()
