#!/usr/bin/python3
"""The multi-process service end to end (issue 5): the real corund and real client processes
(`corun run` / `corun run2 --multi-process-service`) on real models from the zoo.

  - two and four client processes at once, each completing its frames;
  - one client process with two models of unlike cost: fair device-time shares through corund;
  - `corun monitor --json --once` while a client runs shows its model, PID and frames;
  - kill -9 of a client mid-inference: the others complete, and the killed client's models are
    gone from the daemon (the time it took is printed, not bounded);
  - corund killed: its client fails with a clear error (no hang); after a restart a new client
    runs;
  - cross-process priority: while process B saturates the device with two models at priority
    16, a priority-24 model at 10 frames/s in process A is never overtaken by them (exact, from
    the scheduler's max_overtaken_by); a priority-8 model in its place is overtaken. Its p95
    latency is printed beside the solo one, not bounded: latency is a benchmark figure
    (bench/service_bench, docs/PERFORMANCE.md), and what priority guarantees is exact in
    max_overtaken_by here and in virtual time (tests/scheduler/virtual_time_schedule_test.cpp).

Nothing waits by sleeping for a while: each step waits for what it needs to see (a model of a
client in `corun monitor` with frames done, a process exit), bounded only by a give-up limit
that a passing run never nears. Only processes this script started are stopped, by PID.

usage: service_integration_test.py CORUN CORUND MODEL_CACHE_DIR [--sanitized]

--sanitized (the ASan and TSan builds): waits are longer, and the cross-process priority
section, which measures latency, is skipped; its exact part is also covered by the scheduler's
unit tests, which those builds run.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from cli_checks import wait_until  # noqa: E402
from process_checks import check, failures, finish, start, started  # noqa: E402

CORUN, CORUND, CACHE = sys.argv[1], sys.argv[2], sys.argv[3]
SANITIZED = "--sanitized" in sys.argv[4:]
SLOWER = 10 if SANITIZED else 1  # how much longer waits are in sanitizer builds


def zoo(relative):
    return os.path.join(CACHE, "models", relative)


BLAZEFACE_128 = zoo("blazeface-128/face_detection_front_128x128_barracuda.onnx")
BLAZEFACE_256 = zoo("blazeface-256/face_detection_back_256x256_barracuda.onnx")
MOBILEFACENET = zoo("mobilefacenet/mobilefacenet.onnx")
NANODET = zoo("nanodet/nanodet.onnx")
EMOTION = zoo("emotion/emotion.onnx")


class Daemon:
    def __init__(self, socket):
        self.socket = socket
        self.process = None

    def start(self):
        self.process = start([CORUND, "--socket", self.socket, "--log-level", "info"])
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.process.poll() is not None:
                break
            if monitor(self.socket) is not None:
                return True
            time.sleep(0.1)
        _, out, err = finish(self.process, 5)
        print("corund did not come up:", out[-1000:], err[-2000:])
        return False

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


def monitor(socket):
    """One snapshot, or None when corun monitor fails (never taken as "nothing running")."""
    try:
        result = subprocess.run([CORUN, "monitor", "--socket", socket, "--json", "--once"],
                                capture_output=True, text=True, timeout=10 * SLOWER)
    except subprocess.TimeoutExpired:
        return None
    if result.returncode != 0:
        return None
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError:
        return None


def client_run(socket, model, seconds, *extra):
    return start([CORUN, "run", model, "--multi-process-service", "--service-socket", socket,
                  "-t", str(seconds), "--json", *extra])


def client_run2(socket, seconds, nets):
    args = [CORUN, "run2", "--multi-process-service", "--service-socket", socket, "-t",
            str(seconds), "--json"]
    for model, options in nets:
        args += ["set-net", model, *options]
    return start(args)


def summary_of(process, timeout=60):
    code, out, err = finish(process, timeout)
    try:
        return code, json.loads(out), err
    except json.JSONDecodeError:
        return code, None, err + "\nstdout: " + out[-1000:]


def clients_at_once(socket, models, seconds):
    processes = [client_run(socket, model, seconds) for model in models]
    results = [summary_of(p) for p in processes]
    for model, (code, summary, err) in zip(models, results):
        name = os.path.basename(model)
        check(code == 0 and summary is not None and summary.get("frames", 0) > 0,
              f"{len(models)} clients at once: {name} completed frames",
              f"rc {code} {err[-1500:]}")


def models_of_pid(snapshot, pid):
    return [m for m in (snapshot or {}).get("models", []) if int(m.get("pid", 0)) == pid]


def running(socket, process, models=1):
    """Whether corund shows `models` models of `process` with frames done: it is mid-run."""
    seen = models_of_pid(monitor(socket), process.pid)
    return len([m for m in seen if int(m.get("frames_done", 0)) > 0]) >= models


def main():
    for path in (BLAZEFACE_128, BLAZEFACE_256, MOBILEFACENET, NANODET, EMOTION):
        if not os.path.exists(path):
            print("missing", path, "- run scripts/fetch_models.sh")
            return 1
    directory = tempfile.mkdtemp(prefix="corun-service-test-")
    socket = os.path.join(directory, "corund.sock")
    daemon = Daemon(socket)
    check(daemon.start(), "corund starts and answers corun monitor")
    if failures:
        return 1
    mode = os.stat(socket).st_mode & 0o777
    check(mode == 0o660, "the socket has mode 0660", oct(mode))

    # Two, then four client processes running real models at once.
    clients_at_once(socket, [BLAZEFACE_128, MOBILEFACENET], 2)
    clients_at_once(socket, [BLAZEFACE_128, BLAZEFACE_256, MOBILEFACENET, EMOTION], 2)

    # One client process pumping two models of unlike cost through one connection: corund's
    # scheduler shares the device by time between them, as in-process; it once ran such a
    # client's frames in arrival order, one at a time (equal frames). So the cheap model must
    # complete more frames than the costly one: a count, not a timing. The device shares are a
    # figure (they move with the machine's load; docs/PERFORMANCE.md).
    code, summary, err = summary_of(client_run2(socket, 3 * SLOWER, [(EMOTION, []),
                                                                     (MOBILEFACENET, [])]))
    models = {m["name"]: m for m in (summary or {}).get("models", [])}
    shares = {name: m["device_share"] for name, m in models.items()}
    frames = {name: m["frames"] for name, m in models.items()}
    print("one client, two models through corund: device shares", shares, "frames", frames)
    check(code == 0 and len(frames) == 2 and frames["emotion"] > 2 + frames["mobilefacenet"],
          "one client's models share the device by time, not by turns, through one connection",
          f"{frames} {err[-800:]}")

    # The monitor sees a running client. The client runs 6 s, so that a loaded machine's slow
    # start (process, connection, model load, the first second of frames) still leaves it running
    # while the monitor looks; the look is bounded by the client's life.
    client = client_run(socket, MOBILEFACENET, 6 * SLOWER)
    seen = None
    deadline = time.time() + 5.5 * SLOWER
    while time.time() < deadline:
        seen = models_of_pid(monitor(socket), client.pid)
        if seen and float(seen[0].get("fps", 0)) > 0:
            break
        time.sleep(0.2)
    check(bool(seen), "corun monitor --json shows the client's model with its PID", str(seen))
    if seen:
        model = seen[0]
        check(model.get("name") == "mobilefacenet", "the monitor names the model", str(model))
        check(float(model.get("fps", 0)) > 0 and int(model.get("frames_done", 0)) > 0,
              "the monitor shows frames and FPS", str(model))
        check(int(model.get("queue_capacity", 0)) >= 2, "the monitor shows the queue", str(model))
    code, summary, err = summary_of(client)
    check(code == 0, "the monitored client completes", err[-1500:])

    # kill -9 of a client mid-inference.
    victim = client_run(socket, NANODET, 20 * SLOWER)
    survivor = client_run(socket, BLAZEFACE_128, 3)
    check(wait_until(lambda: running(socket, victim), 10 * SLOWER),
          "the victim's model is live, with frames done")
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    killed_at = time.time()

    def victim_released():
        snapshot = monitor(socket)
        return snapshot is not None and not models_of_pid(snapshot, victim.pid)
    released = wait_until(victim_released, 20 * SLOWER)
    print("kill -9: the victim's models were released after %.2f s" % (time.time() - killed_at))
    check(released, "a client killed with -9 has its models released")
    code, summary, err = summary_of(survivor)
    check(code == 0 and summary and summary.get("frames", 0) > 0,
          "the other client completes every frame after the kill", err[-1500:])
    snapshot = monitor(socket)
    check(snapshot is not None and int(snapshot.get("sessions", 99)) == 0,
          "no session is left once the clients are gone", str(snapshot)[:500])

    # `corun scan` through the daemon lists the devices it serves.
    scan = subprocess.run([CORUN, "scan", "--multi-process-service", "--service-socket", socket,
                           "--json"], capture_output=True, text=True, timeout=30)
    try:
        scanned = [device["id"] for device in json.loads(scan.stdout)["devices"]]
    except (json.JSONDecodeError, KeyError):
        scanned = []
    check(scan.returncode == 0 and "cpu:0" in scanned, "corun scan through corund lists cpu:0",
          scan.stdout[-500:] + scan.stderr[-500:])

    if SANITIZED:
        print("skipped under sanitizers: cross-process priority (it measures latency)")
    else:
        cross_process_priority(socket)

    # corund killed: a clear error, then a restart serves new clients.
    daemon_killed_and_restarted(socket, daemon)


def cross_process_priority(socket):
    # Cross-process priority, exact: a priority-24 model in process A is never overtaken by
    # process B's priority-16 models (max_overtaken_by 0), while a priority-8 one is. Its p95
    # beside its solo p95 plus one frame of the longest other model (the p95 of that model's own
    # device time in the same run) is printed for the record; a bound on it would fail on a
    # loaded machine without any fault in the scheduler, whose guarantee max_overtaken_by states
    # exactly (and tests/scheduler/virtual_time_schedule_test.cpp in virtual time).
    solo_code, solo, err = summary_of(client_run2(socket, 4, [(BLAZEFACE_256, ["--framerate", "10"])]))
    if solo and solo_code == 0:
        solo_p95 = solo["models"][0]["latency"]["p95_ms"]
        figures = {}
        for label, priority in (("priority 24", "24"), ("priority 8", "8")):
            background = client_run2(socket, 7, [(NANODET, ["--priority", "16"]),
                                                 (MOBILEFACENET, ["--priority", "16"])])
            # A starts once both of B's models run (the device is then saturated).
            check(wait_until(lambda: running(socket, background, 2), 10),
                  f"the background models run before the {label} model starts")
            urgent = client_run2(socket, 4, [(BLAZEFACE_256,
                                              ["--framerate", "10", "--priority", priority])])
            code, summary, err = summary_of(urgent)
            background_code, background_summary, background_err = summary_of(background)
            check(code == 0 and background_code == 0 and summary and background_summary,
                  f"priority run ({label}) completes", err[-800:] + background_err[-800:])
            if summary and background_summary:
                longest = max(m["device_latency"]["p95_ms"] for m in background_summary["models"])
                model = summary["models"][0]
                figures[label] = (model["latency"]["p95_ms"], solo_p95 + longest,
                                  model["max_overtaken_by"])
        print("cross-process priority: solo p95 %.2f ms; %s" % (solo_p95, "; ".join(
            "%s: p95 %.2f ms (solo p95 + longest other frame: %.2f ms), most frames "
            "overtaking one of its frames %d" %
            (label, *figure) for label, figure in figures.items())))
        top = figures.get("priority 24")
        check(top is not None and top[2] == 0,
              "no frame of another process's priority-16 models overtakes a priority-24 frame",
              str(figures))
        check("priority 8" in figures and figures["priority 8"][2] >= 2,
              "a priority-8 model is overtaken by the priority-16 ones (priority crosses processes)",
              str(figures))
    else:
        check(False, "solo run for the priority bound", err[-800:])


def daemon_killed_and_restarted(socket, daemon):
    client = client_run(socket, NANODET, 20 * SLOWER)
    check(wait_until(lambda: running(socket, client), 10 * SLOWER),
          "the client runs before corund is killed")
    daemon.kill()
    code, out, err = finish(client, 15 * SLOWER)
    check(code != 0 and "RPC_FAILED" in err and "corund" in err,
          "a client whose daemon died exits with a clear RPC_FAILED error, no hang",
          f"rc {code} {err[-800:]}")
    check(daemon.start(), "corund restarts on the same socket")
    code, summary, err = summary_of(client_run(socket, BLAZEFACE_128, 1))
    check(code == 0 and summary and summary.get("frames", 0) > 0,
          "a new client runs after the restart", err[-800:])


try:
    if main() is not None:  # main() returns only when it could not run (a model is missing)
        failures.append("the test could not run")
finally:
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
print("%d failure(s)" % len(failures))
sys.exit(1 if failures else 0)
