#!/usr/bin/python3
"""A cluster batch across network namespaces (issue 16's acceptance): a bridge namespace, a server
namespace (nats-server through `corun cluster`, and the submitter) and three worker namespaces,
each joined to the bridge by a veth pair with a 10.77.0.x address. Every namespace is created
and removed by this test (also when it fails); traffic only ever flows inside them.

2,000 items (detect on a simulated NPU, outputs zero-filled, so it is cheap on 2 cores). Two
workers start; one is killed with SIGKILL mid-batch, a third joins late, and the other's link is
cut (`ip link set ... down`) and restored. Checked item by item: every input has exactly one
row, the server received exactly one result per item (none lost, none twice), the late worker
took work, and the cut worker took work again once its link was back.

Runs as root (network namespaces); exits 77 (skipped) otherwise, or without nats-server, `ip`
or the models.

usage: cluster_netns_test.py CORUN CACHE_DIR
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
sys.path.insert(0, HERE)
from cli_checks import check, finish  # noqa: E402
from cluster_harness import Cluster, Processes, result_count, rows, wait_for, write_ppm  # noqa: E402

CORUN, CACHE = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
ITEMS = 2000
SIMULATED = ["--device", "npu-sim", "--timing-only", "--npu-sim-frame-ms", "10"]
if os.geteuid() != 0:
    print("skipped: network namespaces need root")
    sys.exit(77)
if not shutil.which("nats-server") or not shutil.which("ip"):
    print("skipped: nats-server or ip (iproute2) is missing (scripts/setup.sh installs them)")
    sys.exit(77)
if not os.path.exists(os.path.join(CACHE, "models", "nanodet", "nanodet.onnx")):
    print("skipped: the models are missing; run scripts/fetch_models.sh")
    sys.exit(77)

SUFFIX = str(os.getpid())
BRIDGE_NS = "crbr" + SUFFIX
SERVER_NS = "crsv" + SUFFIX
WORKER_NS = {name: f"cr{name}{SUFFIX}" for name in ("w1", "w2", "w3")}
ADDRESSES = {SERVER_NS: "10.77.0.1"}
ADDRESSES.update({ns: f"10.77.0.{i + 2}" for i, ns in enumerate(WORKER_NS.values())})
created = []


def ip(*args):
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


def make_network():
    ip("netns", "add", BRIDGE_NS)
    created.append(BRIDGE_NS)
    ip("-n", BRIDGE_NS, "link", "add", "br0", "type", "bridge")
    ip("-n", BRIDGE_NS, "link", "set", "br0", "up")
    for index, (ns, address) in enumerate(ADDRESSES.items()):
        ip("netns", "add", ns)
        created.append(ns)
        port = f"veth{index}"
        ip("-n", BRIDGE_NS, "link", "add", port, "type", "veth", "peer", "name", "eth0",
           "netns", ns)
        ip("-n", BRIDGE_NS, "link", "set", port, "master", "br0", "up")
        ip("-n", ns, "addr", "add", address + "/24", "dev", "eth0")
        ip("-n", ns, "link", "set", "eth0", "up")
        ip("-n", ns, "link", "set", "lo", "up")


def bridge_port(ns):
    return f"veth{list(ADDRESSES).index(ns)}"


def remove_network():
    for ns in reversed(created):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


def in_ns(ns):
    return ["ip", "netns", "exec", ns]


def nodes_of(db):
    found = {}
    for row in rows(db).values():
        found[row["node"]] = found.get(row["node"], 0) + 1
    return found


def main():
    work = tempfile.mkdtemp(prefix="corun-netns-test.")
    processes = Processes()
    try:
        make_network()
        folder = os.path.join(work, "inputs")
        os.makedirs(folder)
        for index in range(ITEMS):
            write_ppm(os.path.join(folder, f"{index:05d}.ppm"), index)
        cluster = Cluster(CORUN, work, processes, ack_wait=3, listen="10.77.0.1:4222",
                          prefix=in_ns(SERVER_NS))
        workers = {}
        for name in ("w1", "w2"):
            workers[name] = cluster.worker(name, work, ["--models", CACHE, *SIMULATED],
                                           prefix=in_ns(WORKER_NS[name]))
        db = os.path.join(work, "batch.db")
        log = os.path.join(work, "submitter.log")
        submitter = processes.start(
            [CORUN, "batch", "detect", folder, "--db", db, *cluster.auth(), "--models", CACHE,
             "--json", "--no-progress"], log, prefix=in_ns(SERVER_NS))

        wait_for(lambda: result_count(db) >= 400, "400 results before the kill")
        os.kill(workers["w1"].pid, signal.SIGKILL)
        workers["w1"].wait(timeout=30)
        print("killed w1 at", result_count(db), "results")
        workers["w3"] = cluster.worker("w3", work, ["--models", CACHE, *SIMULATED],
                                       prefix=in_ns(WORKER_NS["w3"]))

        wait_for(lambda: result_count(db) >= 800, "800 results before the cut")
        ip("-n", BRIDGE_NS, "link", "set", bridge_port(WORKER_NS["w2"]), "down")
        w2_at_cut = nodes_of(db).get("w2", 0)
        print("cut w2's link at", result_count(db), "results; w2 had", w2_at_cut)
        time.sleep(6)
        ip("-n", BRIDGE_NS, "link", "set", bridge_port(WORKER_NS["w2"]), "up")
        print("restored w2's link at", result_count(db), "results")

        code = submitter.wait(timeout=600)
        with open(log) as text:
            output = text.read()
        check(code == 0, f"the batch finishes (exit {code})")
        summary = json.loads(output[output.index("{"):]) if "{" in output else {}
        info = summary.get("cluster", {})
        found = rows(db)
        missing = [i for i in range(ITEMS)
                   if (os.path.join(folder, f"{i:05d}.ppm"), "detect") not in found]
        check(not missing, f"every one of {ITEMS} inputs has its row ({len(missing)} missing: "
                           f"{missing[:10]})")
        check(result_count(db) == ITEMS, f"exactly {ITEMS} rows (got {result_count(db)})")
        bad = [k for k, r in found.items() if r["status"] != "ok" or r["node"] not in WORKER_NS]
        check(not bad, f"each row is a result computed by a worker ({len(bad)} not)")
        check(info.get("published") == ITEMS and info.get("results_received") == ITEMS and
              info.get("duplicates_dropped") == 0,
              f"{ITEMS} items published, exactly {ITEMS} results came (none twice): {info}")
        nodes = nodes_of(db)
        print("rows by node:", nodes)
        check(nodes.get("w3", 0) > 0, f"the worker that joined late took work: {nodes}")
        check(nodes.get("w2", 0) > w2_at_cut,
              f"the cut worker took work again after its link came back ({w2_at_cut} before "
              f"the cut, {nodes.get('w2', 0)} in all)")
        for name in ("w2", "w3"):
            workers[name].send_signal(signal.SIGTERM)
            check(workers[name].wait(timeout=60) == 0, f"worker {name} exits 0 on SIGTERM")
    finally:
        processes.stop_all()
        remove_network()
        shutil.rmtree(work, ignore_errors=True)
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    check(not any(ns in left for ns in created), "every namespace the test made is gone")
    finish()


main()
