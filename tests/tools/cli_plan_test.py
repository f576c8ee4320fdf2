#!/usr/bin/python3
"""`corun plan` from the command line (issue 13): on a profile written here its predictions are
exact (a periodic model on an idle device takes its frame time; its share of the device is rate
x frame time), text and --json agree, bad input fails with a message naming the fix, and a
profile that `corun benchmark --profile` writes on the generated test models plans. No timing
assertions on the measured profile: timing targets live in bench/.

usage: cli_plan_test.py CORUN_BINARY TEST_MODEL_DIR
"""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_checks import check, finish, run  # noqa: E402

CORUN, MODELS = sys.argv[1], sys.argv[2]


def corun(*args):
    return run(CORUN, *args)


PROFILE = {
    "device": {"context_switch_us": 0},
    "models": {"cam": {"frame_us": 4000}, "ocr": {"frame_us": 12000}},
    "cpu": {
        "device": {"cores": 2, "execution_slots": 1, "intra_op_threads": 0,
                   "interference": [1.0]},
        "models": {"cam": {"frame_us": 4000, "host_pre_us": 1000},
                   "ocr": {"frame_us": 12000}},
        "generative": {"qwen": {"prefill_chunk_tokens": 64, "prefill_chunk_us": 100000,
                                "decode_step_us": 20000}},
    },
}


with tempfile.TemporaryDirectory() as folder:
    profile = os.path.join(folder, "profile.json")
    with open(profile, "w") as file:
        json.dump(PROFILE, file)

    # One camera at 50 frames/s on an idle npu-sim: 4 ms each, 20% of the device, and the
    # SLO of 5 ms holds until frames come every 4 ms: five times the rate.
    result = corun("plan", "--profile", profile, "--device", "npu-sim", "--horizon", "20",
                   "--json", "set-net", "models/cam.onnx", "--framerate", "50", "--slo-ms", "5")
    check(result.returncode == 0, "plan --json exits 0", result)
    if result.returncode == 0:
        plan = json.loads(result.stdout)
        cam = plan["models"][0]
        check(cam["name"] == "cam", "a model file names its profile entry by its stem")
        check(cam["latency"] == {"p50": 4.0, "p95": 4.0, "p99": 4.0},
              "a periodic model on an idle device takes exactly its frame time", result)
        check(abs(cam["utilisation"] - 0.2) < 0.001, "utilisation = rate x frame time", result)
        check(cam["slo_holds"] and plan["all_slos_hold"], "the SLO holds")
        check(cam["headroom"] == 5.0 and plan["headroom"] == 5.0,
              "headroom: the rate fits five times", result)
        check(plan["device"] == "npu-sim" and plan["slots"] == 1, "plans for npu-sim's one slot")

    # Text: one line per model, the LLM in its own table; the cpu section's host time counts.
    result = corun("plan", "--profile", profile, "--horizon", "20",
                   "set-net", "cam", "--framerate", "10", "--priority", "24", "--slo-ms", "20",
                   "set-net", "ocr", "--clients", "1", "--think-ms", "50",
                   "set-llm", "qwen.gguf", "--prompt-tokens", "64", "--max-tokens", "4",
                   "--slo-ms", "500")
    check(result.returncode == 0, "plan with a camera, a closed loop and an LLM exits 0", result)
    out = result.stdout
    check("plan for cpu (1 slot)" in out, "names the device and its slots", result)
    check(any(line.split()[:2] == ["#1", "cam"] and "p95<=20: yes" in line
              for line in out.splitlines()), "the camera's line says its SLO holds", result)
    check(any(line.split()[:2] == ["#2", "ocr"] and " loop " in line
              for line in out.splitlines()), "the closed loop has no offered rate", result)
    check(any(line.split()[:2] == ["#3", "qwen"] and "TTFT p95<=500: yes" in line
              for line in out.splitlines()), "the LLM's SLO is on its time to first token",
          result)

    result = corun("plan", "--profile", profile, "--horizon", "20", "--json", "--no-headroom",
                   "set-net", "cam", "--framerate", "10", "--priority", "24",
                   "set-llm", "qwen", "--max-tokens", "4")
    if result.returncode == 0:
        plan = json.loads(result.stdout)
        check(plan["models"][0]["latency"]["p95"] == 5.0,
              "a frame above the LLM's priority runs beside its unit: 1 + 4 ms", result)
        check(plan["models"][0]["headroom"] is None and plan["headroom"] is None,
              "--no-headroom searches none")
        llm = plan["llms"][0]
        # One 100 ms chunk and three 20 ms steps; a camera frame (4 ms on the device) comes
        # during most chunks, and the unit pauses for it.
        check(llm["ttft_p50_ms"] == 104.0 and llm["prompt_tokens"] == 64,
              "the LLM: its prefill chunk, paused once for a camera frame", result)
    else:
        check(False, "plan with an LLM --json exits 0", result)

    # --waits: a camera beyond the device (4 ms frames at 300/s on npu-sim) sends what the device
    # takes (250/s) and skips the rest of its schedule: it does not keep up. --waits needs a
    # fixed rate.
    result = corun("plan", "--profile", profile, "--device", "npu-sim", "--horizon", "20",
                   "--json", "--no-headroom", "set-net", "cam", "--framerate", "300", "--waits")
    check(result.returncode == 0, "plan with --waits exits 0", result)
    if result.returncode == 0:
        cam = json.loads(result.stdout)["models"][0]
        check(cam["arrivals"] == "fixed-rate, waits when full" and cam["dropped_share"] > 0.1 and
              abs(cam["throughput"] - 250) < 1 and not cam["slo_holds"],
              "a waiting camera sends 250/s, skips the rest and does not keep up", result)
    result = corun("plan", "--profile", profile, "set-net", "cam", "--clients", "1", "--waits")
    check(result.returncode != 0 and "--waits is for a camera" in result.stderr,
          "--waits without --framerate is refused, naming why", result)

    # --trace: the simulation as a Chrome trace. A camera at 10 frames/s on npu-sim over 1 s:
    # its ten frames (at 0, 100, ... 900 ms), each one burst of exactly 4 ms on slot 1.
    trace = os.path.join(folder, "predicted.json")
    result = corun("plan", "--profile", profile, "--device", "npu-sim", "--horizon", "1",
                   "--no-headroom", "--trace", trace, "set-net", "cam", "--framerate", "10",
                   "--phase-ms", "0")
    check(result.returncode == 0, "plan --trace exits 0", result)
    check("predicted schedule written to" in result.stderr, "plan --trace says where it wrote",
          result)
    if result.returncode == 0:
        events = json.load(open(trace))["traceEvents"]
        bursts = [e for e in events if e.get("ph") == "X" and e.get("name") == "cam"
                  and e.get("tid") == 1]
        check(len(bursts) == 10 and all(e["dur"] == 4000 for e in bursts) and
              [e["ts"] for e in bursts] == [100000 * i for i in range(10)],
              "the trace holds the camera's ten 4 ms bursts at 0, 100, ... 900 ms", bursts)
        check(any(e.get("ph") == "M" and e.get("name") == "process_name" and
                  e["args"]["name"].startswith("npu-sim (predicted)") for e in events),
              "the device is named as predicted")
    result = corun("plan", "--profile", profile, "--trace", "/nonexistent/folder/t.json",
                   "set-net", "cam", "--framerate", "10")
    check(result.returncode != 0 and "/nonexistent/folder/t.json" in result.stderr,
          "an unwritable --trace fails naming the path", result)

    # An overloaded camera with an SLO (4 ms frames at 400/s on npu-sim: 1.6x the device):
    # with admission, as run2 --slo-ms enforces it, the excess is refused and what runs is on
    # time; with --no-admission nothing is refused and frames run late.
    overload = ["--profile", profile, "--device", "npu-sim", "--horizon", "20", "--json",
                "--no-headroom", "set-net", "cam", "--framerate", "400", "--slo-ms", "5.5",
                "--slo-percentile", "99"]
    admitted, unchecked = corun("plan", *overload), corun("plan", "--no-admission", *overload)
    if admitted.returncode == 0 and unchecked.returncode == 0:
        cam = json.loads(admitted.stdout)["models"][0]
        check(cam["admission"] and cam["refused_share"] > 0.1 and cam["late_share"] == 0 and
              cam["latency"]["p99"] <= 5.5 and not cam["slo_holds"],
              "with admission the excess is refused and what runs meets the SLO", admitted)
        cam = json.loads(unchecked.stdout)["models"][0]
        check(not cam["admission"] and cam["refused_share"] == 0 and
              cam["latency"]["p99"] > 5.5, "--no-admission refuses nothing; frames run late",
              unchecked)
    else:
        check(False, "plan of an overloaded camera exits 0", (admitted, unchecked))
    text = corun(*[arg for arg in ["plan", *overload] if arg != "--json"])
    check("% refused)" in text.stdout, "the text names the share refused", text)

    # Errors name the cause and the fix.
    bad_profile = os.path.join(folder, "bad.json")
    with open(bad_profile, "w") as file:
        file.write('{"models": {"cam": {"frame_us": -4}}}')
    for args, expected in [
        (["set-net", "yolo", "--framerate", "5"],
         "model 'yolo' is not in the profile's cpu section (it has: cam, ocr, qwen)"),
        (["set-net", "yolo", "--framerate", "5"], "corun benchmark yolo.onnx"),
        (["set-net", "cam", "--framerate", "0"], "--framerate must be more than 0"),
        (["set-net", "cam", "--framerate", "-3"], "--framerate must be more than 0"),
        (["set-net", "cam", "--framerate", "5", "--clients", "2"], "exclude each other"),
        (["set-net", "cam", "--poisson"], "--poisson needs --framerate"),
        (["set-net", "cam", "--priority", "40"], "0..31"),
        (["set-net", "cam", "--slots", "2"], "measure it with `corun benchmark"),
        (["--device", "npu-sim", "set-net", "qwen"], "not in the profile's npu-sim section"),
        (["set-net", "cam", "--bogus"], "neither a set-net nor a plan option"),
        (["--anticipation-us", "20000", "set-net", "cam"], "--anticipation-us"),
        ([], "plan needs at least one `set-net MODEL`"),
    ]:
        result = corun("plan", "--profile", profile, *args)
        check(result.returncode != 0 and expected in result.stderr,
              f"plan {' '.join(args)} fails with '{expected}'", result)
    for args, expected in [
        (["--profile", os.path.join(folder, "missing.json")], "cannot be opened"),
        (["--profile", os.path.join(folder, "missing.json")], "corun benchmark"),
        (["--profile", folder], "not a regular file"),
        (["--profile", bad_profile], "frame_us must be a number"),
        ([], "plan needs --profile FILE"),
    ]:
        result = corun("plan", *args, "set-net", "cam", "--framerate", "5")
        check(result.returncode != 0 and expected in result.stderr,
              f"plan {' '.join(os.path.basename(a) for a in args)} fails with '{expected}'",
              result)

    # A profile measured by `corun benchmark --profile` on the test models plans.
    measured = os.path.join(folder, "measured.json")
    result = corun("benchmark", os.path.join(MODELS, "slow_matmul.onnx"),
                   os.path.join(MODELS, "add_one.onnx"), "-t", "0.3", "--slots", "2",
                   "--threads", "1", "--profile", measured)
    check(result.returncode == 0, "benchmark --slots 2 --profile exits 0", result)
    if result.returncode == 0:
        written = json.load(open(measured))
        check(set(written["cpu"]["models"]) == {"slow_matmul", "add_one"},
              "the cpu section has every model")
        check(written["cpu"]["device"]["execution_slots"] == 2 and
              len(written["cpu"]["device"]["interference"]) == 2 and
              written["cpu"]["device"]["interference"][0] == 1.0,
              "the cpu section records its slots and the slowdown for 1 and 2 slots busy")
        # A 10 s horizon: add_one's 4 us frames keep the queue full, millions of events a minute.
        result = corun("plan", "--profile", measured, "--json", "--no-headroom", "--horizon", "10",
                       "set-net", os.path.join(MODELS, "slow_matmul.onnx"), "--framerate", "20",
                       "set-net", "add_one")
        check(result.returncode == 0, "plan reads the measured profile", result)
        if result.returncode == 0:
            plan = json.loads(result.stdout)
            check(plan["slots"] == 2 and plan["models"][0]["throughput"] > 19,
                  "plans on the measured slots; the 20 FPS model keeps up")

    # The default device (sharing its cores by itself), three models: each model's slowdown
    # beside others comes from a one-core twin of it (a factor per slot), and the closed-loop
    # race share is measured for 2 and 3 models.
    automatic = os.path.join(folder, "automatic.json")
    result = corun("benchmark", os.path.join(MODELS, "slow_matmul.onnx"),
                   os.path.join(MODELS, "add_one.onnx"), os.path.join(MODELS, "conv_nchw.onnx"),
                   "-t", "0.3", "--profile", automatic)
    check(result.returncode == 0, "benchmark --profile on the default device exits 0", result)
    if result.returncode == 0:
        cpu = json.load(open(automatic))["cpu"]
        slots = cpu["device"]["execution_slots"]
        check(cpu["device"]["one_burst_per_model"] is True and cpu["device"]["intra_op_threads"] == 0,
              "the profile records the automatic sharing")
        check(all(len(model["interference"]) == slots and model["interference"][0] == 1.0
                  for model in cpu["models"].values()) or slots == 1,
              "every model has its own slowdown for 1..slots busy")
        check(len(cpu["device"].get("closed_loop_in_time_by_clients", [])) == 2,
              "the closed-loop race share is measured with 2 and 3 models")
        check(all(len(model.get("closed_loop_in_time_by_clients", [])) == 2 and
                  all(0 <= share <= 1 for share in model["closed_loop_in_time_by_clients"])
                  for model in cpu["models"].values()),
              "every model has its own race share with 2 and 3 models")
        # With 2 models on 2 slots nothing races: [0] (in time, as the share's 1).
        def gap_lists(lists):
            return (len(lists) == 2 and
                    all(1 <= len(gaps) <= 20 and gaps == sorted(gaps) and gaps[0] >= 0
                        for gaps in lists))
        check(gap_lists(cpu["device"].get("closed_loop_gap_us_by_clients", [])),
              "the clients' return gaps are measured with 2 and 3 models (up to 20 quantiles "
              "each): " + json.dumps(cpu["device"]))
        check(all(len(model.get("cold_spread", [])) == 20 and
                  (len(model.get("beside_spread", [])) == 20 or slots == 1)
                  for model in cpu["models"].values()),
              "every model has the spread of its cold frames and (with two slots or more) of its "
              "frames beside others")
        check(all(gap_lists(model.get("closed_loop_gap_us_by_clients", []))
                  for model in cpu["models"].values()),
              "every model has its own return gaps with 2 and 3 models (the group's where it "
              "raced too rarely)")

finish()
