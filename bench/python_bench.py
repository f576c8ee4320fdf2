#!/usr/bin/env python3
"""Python run_async throughput against the C++ API, side by side (issue 14; docs/PERFORMANCE.md).

Both sides do the same work on the same model: THREADS threads, each with its own configured
copy of MODEL on one VDevice, queue FRAMES frames each with run_async (wait_for_async_ready
first, a callback that counts), after one thread timed FRAMES synchronous run() calls on the
otherwise idle device. The C++
side is build/bench/async_throughput_bench; the sides alternate for ROUNDS rounds and the
medians are compared: the throughput ratio (Python / C++) and the latency Python adds per call.

Usage: PYTHONPATH=build/python /usr/bin/python3 bench/python_bench.py [--model M] [--threads N]
       [--frames F] [--rounds R] [--cpp build/bench/async_throughput_bench]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

import numpy as np

import corun


def python_side(model_path, threads, frames):
    params = corun.VDevice.create_params()
    params.group_id = "python-bench"
    with corun.VDevice(params) as vdevice:
        models = [vdevice.create_infer_model(model_path).configure() for _ in range(threads)]
        done = [0]
        lock = threading.Lock()

        def count(completion_info):
            with lock:
                done[0] += 1

        def worker(configured):
            in_flight = [configured.create_bindings() for _ in range(2)]
            for bindings in in_flight:
                for name in configured.input_names:
                    bindings.input(name).set_buffer(_zeros_like_stream(bindings.input(name)))
            job = None
            for i in range(frames):
                configured.wait_for_async_ready(corun.HAILO_INFINITE)
                job = configured.run_async([in_flight[i % 2]], count)
            job.wait(corun.HAILO_INFINITE)

        configured = models[0]
        bindings = configured.create_bindings()
        for name in configured.input_names:
            bindings.input(name).set_buffer(_zeros_like_stream(bindings.input(name)))
        latencies = []
        for _ in range(frames):
            begin = time.perf_counter()
            configured.run([bindings], corun.HAILO_INFINITE)
            latencies.append((time.perf_counter() - begin) * 1000)

        pool = [threading.Thread(target=worker, args=(m,)) for m in models]
        start = time.perf_counter()
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        seconds = time.perf_counter() - start

        for model in models:
            model.shutdown()
        return {"async_fps": threads * frames / seconds,
                "sync_median_ms": statistics.median(latencies), "frames": done[0]}


def _zeros_like_stream(stream):
    dtype = {corun.FormatType.FLOAT32: np.float32, corun.FormatType.UINT8: np.uint8,
             corun.FormatType.UINT16: np.uint16, corun.FormatType.INT64: np.int64,
             corun.FormatType.INT32: np.int32}[stream.format.type]
    return np.zeros(stream.shape, dtype)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default=".cache/models/blazeface-256/face_detection_back_256x256_barracuda.onnx")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cpp", default="build/bench/async_throughput_bench")
    args = parser.parse_args()

    cpp_runs, python_runs = [], []
    for round_index in range(args.rounds):
        out = subprocess.run([args.cpp, args.model, str(args.threads), str(args.frames)],
                             check=True, capture_output=True, text=True).stdout
        cpp_runs.append(json.loads(out))
        python_runs.append(python_side(args.model, args.threads, args.frames))
        print(f"round {round_index + 1}: C++ {cpp_runs[-1]['async_fps']:.1f} fps, "
              f"Python {python_runs[-1]['async_fps']:.1f} fps; sync run() C++ "
              f"{cpp_runs[-1]['sync_median_ms']:.3f} ms, Python "
              f"{python_runs[-1]['sync_median_ms']:.3f} ms", flush=True)

    def median(runs, key):
        return statistics.median(run[key] for run in runs)

    cpp_fps, python_fps = median(cpp_runs, "async_fps"), median(python_runs, "async_fps")
    cpp_ms, python_ms = median(cpp_runs, "sync_median_ms"), median(python_runs, "sync_median_ms")
    summary = {
        "model": os.path.basename(args.model), "threads": args.threads, "frames": args.frames,
        "rounds": args.rounds, "cpp_async_fps": round(cpp_fps, 1),
        "python_async_fps": round(python_fps, 1), "ratio": round(python_fps / cpp_fps, 3),
        "cpp_sync_ms": round(cpp_ms, 4), "python_sync_ms": round(python_ms, 4),
        "python_added_us_per_call": round((python_ms - cpp_ms) * 1000, 1),
        "load_average": os.getloadavg()[0],
    }
    print(json.dumps(summary))
    print(f"Python/C++ run_async throughput: {summary['ratio']:.3f} "
          f"({python_fps:.1f} / {cpp_fps:.1f} fps, {args.threads} threads); "
          f"Python adds {summary['python_added_us_per_call']:.1f} us per run() call")
    return 0


if __name__ == "__main__":
    sys.exit(main())
