#!/usr/bin/python3
"""The task commands through corund: `corun detect|faces|ocr|vad --service-socket S` run their
models on the daemon's devices and print what the same command prints in-process (every JSON
field but the timings), with --repeat's runs counted the same way. The in-process side and the
error for a missing daemon are in cli_test.cpp (CliTaskSkeletonTest).

Exits 77 (skipped) when scripts/fetch_models.sh has not filled the cache. Every wait is bounded;
only the corund this script started is stopped, by its PID.

usage: cli_tasks_service_test.py CORUN CORUND MODEL_CACHE_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

# process_checks.py lives with the service tests.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "service"))
from process_checks import check, failures, finish, start, stop_started  # noqa: E402

CORUN, CORUND, CACHE = sys.argv[1], sys.argv[2], sys.argv[3]
SKIPPED = 77


def cache(relative):
    return os.path.join(CACHE, relative)


def corun(*args):
    return subprocess.run([CORUN, *args, "--models", CACHE], capture_output=True, text=True,
                          timeout=300)


def without_timings(out):
    return {key: value for key, value in out.items()
            if key not in ("latency", "embedding_latency")}


def wait_for_daemon(socket):
    deadline = time.time() + 30
    while time.time() < deadline:
        up = subprocess.run([CORUN, "monitor", "--socket", socket, "--json", "--once"],
                            capture_output=True, text=True, timeout=30)
        if up.returncode == 0:
            return True
        time.sleep(0.2)
    return False


def main():
    image_cases = [
        (["nanodet/nanodet.onnx"], ["detect", cache("data/darknet/dog.jpg")]),
        (["blazeface-256/face_detection_back_256x256_barracuda.onnx", "faceres/faceres.onnx"],
         ["faces", cache("data/opencv-doc/messi5.jpg"), "--embed"]),
        (["ppocr-det/ch_PP-OCRv4_det_infer.onnx", "ppocr-rec/ch_PP-OCRv4_rec_infer.onnx",
          "ppocr-cls/ch_ppocr_mobile_v2.0_cls_infer.onnx"],
         ["ocr", cache("data/opencv-doc/imageTextN.png")]),
    ]
    cases = [command for models, command in image_cases
             if all(os.path.exists(cache("models/" + m)) for m in models)
             and os.path.exists(command[1])]
    directory = tempfile.mkdtemp(prefix="corun-cli-tasks-service-")
    wav = os.path.join(directory, "speech.wav")
    if (os.path.exists(cache("models/silero-vad/silero_vad_v5_16k.onnx"))
            and shutil.which("espeak-ng")
            and subprocess.run(["espeak-ng", "-w", wav, "hello world, this is corun"],
                               capture_output=True).returncode == 0):
        cases.append(["vad", wav])
    if not cases:
        print("skipped: no task model in", CACHE, "; run scripts/fetch_models.sh")
        return SKIPPED

    socket = os.path.join(directory, "corund.sock")
    daemon = start([CORUND, "--socket", socket, "--log-level", "warn"])
    try:
        if not wait_for_daemon(socket):
            _, _, err = finish(daemon, 5)
            check(False, "corund comes up", err[-2000:])
            return 1
        for command in cases:
            name = " ".join(command[:1] + command[2:])
            local = corun(*command, "--json")
            remote = corun(*command, "--json", "--repeat", "2", "--service-socket", socket)
            check(local.returncode == 0, name + ": runs in-process", local.stderr)
            check(remote.returncode == 0, name + ": runs through corund", remote.stderr)
            if local.returncode != 0 or remote.returncode != 0:
                continue
            local_out, remote_out = json.loads(local.stdout), json.loads(remote.stdout)
            check(without_timings(remote_out) == without_timings(local_out),
                  name + ": the same result through corund as in-process",
                  remote.stdout[:2000] + "\n---\n" + local.stdout[:2000])
            check(remote_out["latency"]["runs"] == 2, name + ": --repeat 2 counts 2 runs",
                  remote_out["latency"])
    finally:
        stop_started()
        shutil.rmtree(directory, ignore_errors=True)
    if failures:
        print("%d failure(s):" % len(failures), *failures, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
