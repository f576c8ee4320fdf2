#!/usr/bin/python3
"""What a routed frame with a deadline no longer pays through corund (issue 13): the router used
to ask corund for the placement's predicted latency before each such frame, one
scheduler-stats call (RemoteConfiguredModel::predicted_latency); now the frame carries its
deadline and corund's own admission decides. Side by side in one run, in alternating rounds:
that call, and a frame through corund that corund admits against a deadline (add_one with a
latency SLO, run()): the way a routed frame whose deadline is the model's SLO goes to its first
corund placement (by the shared-memory lane). A frame with a deadline of its own goes by the
session stream, which costs more per frame than this one.

usage: remote_prediction_cost.py BUILD_DIR [--rounds 9] [--calls 200]
Run on a quiet machine (it starts its own corund on a socket in a fresh 0700 directory).
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("build")
parser.add_argument("--rounds", type=int, default=9)
parser.add_argument("--calls", type=int, default=200)
args = parser.parse_args()
sys.path.insert(0, os.path.join(os.path.abspath(args.build), "python"))
from corun import VDevice  # noqa: E402

directory = tempfile.mkdtemp(prefix="corun-prediction-cost-")
socket = os.path.join(directory, "corund.sock")
daemon = subprocess.Popen([os.path.join(args.build, "tools", "corund"), "--socket", socket,
                           "--log-level", "warn"])
try:
    for _ in range(600):
        if os.path.exists(socket) or daemon.poll() is not None:
            break
        time.sleep(0.05)
    if daemon.poll() is not None:
        sys.exit("corund did not start")
    params = VDevice.create_params()
    params.multi_process_service = True
    params.service_socket = socket
    params.group_id = "remote-prediction-cost"
    with VDevice(params) as vdevice:
        model = vdevice.create_infer_model(os.path.join(args.build, "test_models", "add_one.onnx"))
        with model.configure() as configured:
            configured.set_latency_slo(3600 * 1000)  # every frame has a deadline an hour away
            bindings = configured.create_bindings(
                input_buffers={"x": np.ones((3, 4, 4), np.float32)})
            for _ in range(50):  # warm-up
                configured.run([bindings], 10000)
                vdevice.get_scheduler_stats()
            question_us, frame_us = [], []
            for round_index in range(args.rounds):
                def questions():
                    start = time.perf_counter()
                    for _ in range(args.calls):
                        vdevice.get_scheduler_stats()
                    question_us.append((time.perf_counter() - start) / args.calls * 1e6)

                def frames():
                    start = time.perf_counter()
                    for _ in range(args.calls):
                        configured.run([bindings], 10000)
                    frame_us.append((time.perf_counter() - start) / args.calls * 1e6)

                for measure in (questions, frames) if round_index % 2 == 0 else (frames, questions):
                    measure()
    question, frame = statistics.median(question_us), statistics.median(frame_us)
    print(f"the question the router no longer asks (one scheduler-stats call to corund): "
          f"median {question:.0f} us per frame")
    print(f"a frame through corund admitted against its SLO (add_one, run()): median "
          f"{frame:.0f} us")
    print(f"the question cost {question / frame:.2f}x the frame itself "
          f"(medians of {args.rounds} rounds of {args.calls})")
finally:
    daemon.terminate()
    daemon.wait(timeout=30)
    shutil.rmtree(directory, ignore_errors=True)
