#!/usr/bin/python3
"""P8 (issue 16): how a cluster batch scales with its worker nodes. Each node's device is a
simulated NPU (`corun worker --device npu-sim --timing-only`): its throughput is its simulated
device's, not this machine's cores, so 1 to 4 nodes on one machine stand for 1 to 4 machines.
A real nats-server (`corun cluster`) on loopback, real workers and the submitter.

1. Equal nodes: 1, 2, 3, 4 workers (--lanes 2, --npu-sim-frame-ms FRAME), a batch of 100 x N
   detect items each; throughput from the results' store times (first to last), and as a ratio
   to N x one node's. Target: >= 0.9 N.
2. Unequal nodes: 1x, 2x, 4x (--npu-sim-speed), one batch; each node's share of the items
   against its share of the speed (1/7, 2/7, 4/7). Target: within 10% of it.

Run under the benchmark lock: flock /work/bench.lock bench/cluster_bench.py build/tools/corun .cache
usage: cluster_bench.py CORUN CACHE_DIR [--frame-ms 50] [--unequal-frame-ms 100]
"""
import argparse
import datetime
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "cluster"))
from cluster_harness import Cluster, Processes, write_ppm  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("corun")
parser.add_argument("cache")
parser.add_argument("--frame-ms", type=float, default=50.0)
parser.add_argument("--unequal-frame-ms", type=float, default=100.0)
parser.add_argument("--items-per-node", type=int, default=100)
# Two lanes: one item's host work (fetch, decode, pre/post-processing, publish) overlaps the
# other's device time, so the simulated device, not the host, sets a node's pace.
parser.add_argument("--lanes", type=int, default=2)
args = parser.parse_args()
CORUN, CACHE = os.path.abspath(args.corun), os.path.abspath(args.cache)


def inputs(folder, first, count):
    os.makedirs(folder, exist_ok=True)
    for index in range(first, first + count):
        write_ppm(os.path.join(folder, f"{index:06d}.ppm"), index)
    return folder


def run_batch(cluster, folder, db):
    result = subprocess.run([CORUN, "batch", "detect", folder, "--db", db, *cluster.auth(),
                             "--models", CACHE, "--json", "--no-progress"],
                            capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    connection = sqlite3.connect(db)
    times = sorted(datetime.datetime.fromisoformat(row[0].replace("Z", "+00:00")).timestamp()
                   for row in connection.execute("SELECT finished_at FROM results"))
    nodes = dict(connection.execute("SELECT node, count(*) FROM results GROUP BY node"))
    connection.close()
    rate = (len(times) - 1) / (times[-1] - times[0])
    return rate, nodes


def start_workers(cluster, work, speeds, frame_ms):
    workers = []
    for index, speed in enumerate(speeds):
        workers.append(cluster.worker(
            f"n{index + 1}-{speed:g}x", work,
            ["--models", CACHE, "--device", "npu-sim", "--timing-only", "--npu-sim-frame-ms",
             str(frame_ms), "--npu-sim-speed", str(speed), "--lanes", str(args.lanes)]))
    return workers


def stop_workers(workers):
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        worker.wait(timeout=60)


def main():
    work = tempfile.mkdtemp(prefix="corun-cluster-bench.")
    processes = Processes()
    next_input = 0
    try:
        cluster = Cluster(CORUN, work, processes, ack_wait=30)
        print(f"cluster batch scaling: npu-sim nodes, {args.frame_ms:g} ms a frame, "
              f"{args.lanes} lane(s), prefetch 1, detect on 32x32 PNM inputs; nats-server on "
              f"loopback")
        one = None
        for nodes in (1, 2, 3, 4):
            workers = start_workers(cluster, work, [1.0] * nodes, args.frame_ms)
            # Warm-up: every worker loads its models on its first item.
            warm = inputs(os.path.join(work, f"warm{nodes}"), next_input, 4 * nodes)
            next_input += 4 * nodes
            run_batch(cluster, warm, os.path.join(work, f"warm{nodes}.db"))
            count = args.items_per_node * nodes
            folder = inputs(os.path.join(work, f"scale{nodes}"), next_input, count)
            next_input += count
            rate, by_node = run_batch(cluster, folder, os.path.join(work, f"scale{nodes}.db"))
            one = one or rate
            print(f"  {nodes} node(s): {count} items, {rate:7.2f} items/s = "
                  f"{rate / one:4.2f} x one node ({rate / (nodes * one):4.2f} of {nodes} x; "
                  f"target >= 0.90); by node {sorted(by_node.values())}")
            stop_workers(workers)

        speeds = [1.0, 2.0, 4.0]
        workers = start_workers(cluster, work, speeds, args.unequal_frame_ms)
        warm = inputs(os.path.join(work, "warm-unequal"), next_input, 12)
        next_input += 12
        run_batch(cluster, warm, os.path.join(work, "warm-unequal.db"))
        count = 700
        folder = inputs(os.path.join(work, "unequal"), next_input, count)
        rate, by_node = run_batch(cluster, folder, os.path.join(work, "unequal.db"))
        print(f"unequal nodes (1x, 2x, 4x at {args.unequal_frame_ms:g} ms a frame for 1x): "
              f"{count} items, {rate:.2f} items/s")
        total = sum(by_node.values())
        for index, speed in enumerate(speeds):
            name = f"n{index + 1}-{speed:g}x"
            share = by_node.get(name, 0) / total
            expected = speed / sum(speeds)
            print(f"  {name}: {by_node.get(name, 0):4d} items, share {share:6.1%} against its "
                  f"speed share {expected:6.1%}: {share / expected:4.2f} of it "
                  f"(target 0.90-1.10)")
        stop_workers(workers)
    finally:
        processes.stop_all()
        shutil.rmtree(work, ignore_errors=True)


main()
