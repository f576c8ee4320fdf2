#!/usr/bin/python3
"""`corun run2` and `corun benchmark` from the command line (issue 4), on the generated test
models: set-net groups parse (options before and after them), every model runs frames, bad
values fail with clear messages, and `corun benchmark --profile` writes a profile that npu-sim
loads. No timing assertions: timing targets live in bench/.

usage: cli_run2_test.py CORUN_BINARY TEST_MODEL_DIR
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


def model(name):
    return os.path.join(MODELS, name + ".onnx")


def run2_json(*args):
    result = corun("run2", *args)
    check(result.returncode == 0, "run2 " + " ".join(args[:3]) + " ... exits 0", result)
    if result.returncode != 0:
        return None
    return json.loads(result.stdout)


# Two models, options before the set-net groups and after them.
summary = run2_json("--time-to-run", "1", "--json",
                    "set-net", model("slow_matmul"), "--priority", "20", "--batch-size", "2",
                    "set-net", model("add_one"), "--framerate", "50", "--scheduler-threshold", "1",
                    "--scheduler-timeout", "5")
if summary:
    models = summary["models"]
    check(len(models) == 2, "run2 reports each set-net")
    check(all(m["frames"] > 0 for m in models), "every model ran frames")
    check(models[0]["name"] == "slow_matmul" and models[1]["name"] == "add_one",
          "models keep their set-net order")
    check(models[0]["priority"] == 20 and models[1]["priority"] == 16, "priorities as given")
    check(models[0]["batch_size"] == 2, "batch size as given")
    check(models[1]["framerate"] == 50 and models[1]["timeout_ms"] == 5,
          "framerate and timeout as given")
    for key in ("fps", "latency", "device_share", "switches", "device_time_ms"):
        check(all(key in m for m in models), f"each model has '{key}'")
    check(all(k in models[0]["latency"] for k in ("p50_ms", "p95_ms", "p99_ms")),
          "latency has p50/p95/p99")
    # From the fixed-memory histogram (issue 9): min and max exact, percentiles between them.
    for m in models:
        lat = m["latency"]
        check(0 < lat["min_ms"] <= lat["p50_ms"] <= lat["p95_ms"] <= lat["p99_ms"]
              <= lat["max_ms"] and lat["min_ms"] <= lat["mean_ms"] <= lat["max_ms"],
              f"{m['name']}: min <= p50 <= p95 <= p99 <= max, mean between min and max")
    share = sum(m["device_share"] for m in models)
    check(abs(share - 1.0) < 1e-6, "device shares add up to 1")

summary = run2_json("set-net", model("add_one"), "set-net", model("add_one"),
                    "--json", "-t", "0.5", "--slots", "2", "--threads", "1")
if summary:
    check(len(summary["models"]) == 2 and all(m["frames"] > 0 for m in summary["models"]),
          "the same model twice; run2 options after the last set-net")
    check(summary["slots"] == 2 and summary["time_to_run"] == 0.5,
          "run2 options after the set-net groups apply")

# Bad values fail with a message that says what is wrong.
for args, expected in [
    (["set-net", model("add_one"), "--priority", "40"], "0..31"),
    (["set-net", model("does_not_exist")], "does not exist"),
    (["set-net", model("add_one"), "--framerate", "0"], "--framerate must be more than 0"),
    (["set-net", model("add_one"), "--framerate", "-2"], "--framerate must be more than 0"),
    (["set-net", model("add_one"), "--bogus", "1"], "neither a set-net nor a run2 option"),
    ([], "at least one `set-net MODEL`"),
    ([model("add_one")], "expected `set-net MODEL"),
    (["set-net", model("add_one"), "--scheduler-threshold", "9"], "threshold 9 is out of range"),
    (["--profile", "x.json", "set-net", model("add_one")], "for --device npu-sim"),
]:
    result = corun("run2", "-t", "0.2", *args)
    check(result.returncode != 0 and expected in result.stderr,
          f"run2 {' '.join(os.path.basename(a) for a in args)} fails with '{expected}'", result)

# benchmark writes a profile keyed by model file stems, and npu-sim runs with it.
with tempfile.TemporaryDirectory() as folder:
    profile = os.path.join(folder, "profile.json")
    result = corun("benchmark", model("slow_matmul"), model("add_one"), "-t", "0.5",
                   "--profile", profile, "--json")
    check(result.returncode == 0, "benchmark exits 0", result)
    if result.returncode == 0:
        report = json.loads(result.stdout)
        check(all(m["solo"]["frames"] > 0 and m["together"]["frames"] > 0
                  for m in report["models"]), "benchmark runs each model alone and together")
        check(all(m["solo"]["fps"] > 0 and m["solo"]["device_fps"] > 0 for m in report["models"]),
              "benchmark reports full-pipeline and device-only FPS")
        check("normalised_throughput" in report, "benchmark reports normalised throughput")
        written = json.load(open(profile))
        check(set(written["models"]) == {"slow_matmul", "add_one"},
              "profile keys are the model file stems")
        solo = {m["name"]: m["solo"] for m in report["models"]}
        for name, timing in written["models"].items():
            check(abs(timing["frame_us"] - solo[name]["device_latency"]["p50_ms"] * 1000) < 1,
                  f"{name}: frame_us is the solo median device latency")
            check(timing["max_in_flight"] == 2 and timing["burst_overhead_us"] == 0,
                  f"{name}: max_in_flight is the queue size, no burst overhead")
        check(written["device"]["context_switch_us"] == 0, "cpu profile: no context switch")
        summary = run2_json("--device", "npu-sim", "--profile", profile, "--timing-only",
                            "-t", "0.5", "--json", "set-net", model("slow_matmul"),
                            "set-net", model("add_one"))
        if summary:
            check(summary["device"] == "npu-sim:0" and
                  all(m["frames"] > 0 for m in summary["models"]),
                  "npu-sim loads the written profile and runs both models")

        # Routed models (issue 13, item 7): npu-sim first, cpu as the fallback. The queue kept
        # full (4 frames in flight: both placements' queues of 2) overflows npu-sim's queue, so
        # frames fall back to cpu; every frame runs exactly once, on one of them, or is counted
        # as refused by both.
        summary = run2_json("--profile", profile, "--timing-only", "-t", "0.5", "--json",
                            "set-net", model("slow_matmul"), "--placements", "npu-sim,cpu")
        if summary:
            routed = summary["models"][0]
            placements = routed.get("placements", [])
            check([p["placement"] for p in placements] == ["npu-sim:0", "cpu:0"],
                  "run2 --placements reports each placement in order", summary)
            if len(placements) == 2:
                npu, cpu = placements
                check(routed["frames"] > 0 and npu["frames"] + cpu["frames"] == routed["frames"],
                      "every routed frame ran on exactly one placement", summary)
                check(npu["frames"] > 0 and cpu["frames"] > 0,
                      "frames ran on npu-sim and fell back to cpu when its queue was full",
                      summary)
                check(npu["refused"].get("QUEUE_IS_FULL", 0) == npu["fallbacks_away"] > 0,
                      "each frame npu-sim refused (queue full) fell back", summary)
                check(routed["refused"].get("QUEUE_IS_FULL", 0) ==
                      cpu["refused"].get("QUEUE_IS_FULL", 0) and cpu["fallbacks_away"] == 0,
                      "a frame the last placement refused is counted refused, once", summary)
        # A model the npu-sim profile does not know stands for one the NPU cannot run: it is
        # NOT_LOADED there, with the reason, and every frame runs on cpu.
        summary = run2_json("--profile", profile, "-t", "0.3", "--json",
                            "set-net", model("conv_nchw"), "--placements", "npu-sim,cpu",
                            "--framerate", "50")
        if summary:
            routed = summary["models"][0]
            npu, cpu = routed["placements"]
            check(npu["condition"] == "NOT_LOADED" and "conv_nchw" in npu["condition_reason"],
                  "a model npu-sim cannot load is NOT_LOADED there, naming it", summary)
            check(npu["frames"] == 0 and cpu["frames"] == routed["frames"] > 0,
                  "all its frames run on cpu", summary)
        # An SLO the device cannot meet: npu-sim takes 30 ms a frame, the SLO is 5 ms. Once
        # a frame has run, every later frame is predicted to miss and is refused at once, by
        # reason, instead of finishing late; the run goes on.
        slow = dict(written)
        slow["models"] = {"slow_matmul": dict(written["models"]["slow_matmul"], frame_us=30000)}
        slow_profile = os.path.join(folder, "slow.json")
        json.dump(slow, open(slow_profile, "w"))
        summary = run2_json("--device", "npu-sim", "--profile", slow_profile, "--timing-only",
                            "-t", "0.5", "--json", "set-net", model("slow_matmul"),
                            "--slo-ms", "5", "--framerate", "40")
        if summary:
            m = summary["models"][0]
            check(m["latency_slo_ms"] == 5, "the SLO is reported", summary)
            refused = m["refused"].get("DEADLINE_EXCEEDED", 0)
            check(refused > 0 and m["frames"] <= 2,
                  "frames predicted to miss the SLO are refused, counted by reason", summary)

    for args, message in [
            (["set-net", model("add_one"), "--placements", "gpu,cpu"], "unknown device 'gpu'"),
            (["set-net", model("add_one"), "--placements", "cpu,cpu:0"], "twice"),
            (["set-net", model("add_one"), "--slo-ms", "-1"], "--slo-ms must be"),
            (["set-net", model("add_one"), "--placements", "cpu", "--scheduler-timeout", "5"],
             "not supported with --placements")]:
        result = corun("run2", "-t", "0.2", *args)
        check(result.returncode != 0 and message in result.stderr,
              f"run2 {' '.join(args[2:])}: fails naming '{message}'", result)

finish()
