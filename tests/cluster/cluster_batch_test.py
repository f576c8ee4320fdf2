#!/usr/bin/python3
"""`corun batch --cluster` with `corun cluster` and `corun worker` on loopback (issue 16 items 2
and 3), every part real: Debian's nats-server (started by `corun cluster` on a free port with a
temporary store), worker processes on real models, the submitter's SQLite database.

- Two workers give per input and task exactly the rows the local `corun batch` gives (detect,
  faces, ocr).
- Items that run longer than the AckWait, and one waiting behind another in a fetch, keep
  their lease: none is given to a second worker.
- A worker killed with SIGKILL mid-batch, and a worker joining late: every item has exactly
  one result (none lost, none computed-and-stored twice: the server dropped the second result
  by its message id), the late worker took work.
- The submitter killed with SIGKILL and started again: it republishes only what has no result,
  the server keeps those from being queued twice, and no item ran twice.
- Hostile messages published straight to the work stream: each gets an error result naming the
  cause (or a rejection when it names no batch), the worker keeps running and does real work.
- Inputs above --max-message-bytes: an error naming the flags, or sent by path under
  --shared-root to a worker whose --allowed-root holds it.
- A wrong token, a node name that cannot be a key: a clear error, exit 1.

Exits 77 (skipped) without nats-server or the models (scripts/setup.sh, scripts/fetch_models.sh).

usage: cluster_batch_test.py CORUN CACHE_DIR [SECTION...]   (default: every section)
"""
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
sys.path.insert(0, HERE)
from cli_checks import check, finish  # noqa: E402
from cluster_harness import (Cluster, Processes, RawNats, result_count, rows, wait_for,  # noqa: E402
                             write_ppm)

CORUN, CACHE = sys.argv[1], sys.argv[2]
DATA = os.path.join(CACHE, "data")
IMAGES = [os.path.join(DATA, "darknet", name) for name in ("dog.jpg", "eagle.jpg", "person.jpg")]
IMAGES.append(os.path.join(DATA, "opencv-doc", "messi5.jpg"))
TEXT = os.path.join(DATA, "opencv-doc", "imageTextN.png")
NEEDED = IMAGES + [TEXT, os.path.join(CACHE, "models", "nanodet", "nanodet.onnx"),
                   os.path.join(CACHE, "models", "ppocr-det", "ch_PP-OCRv4_det_infer.onnx"),
                   os.path.join(CACHE, "models", "faceres", "faceres.onnx")]
if not shutil.which("nats-server"):
    print("skipped: nats-server is not installed (scripts/setup.sh installs it)")
    sys.exit(77)
if not all(os.path.exists(path) for path in NEEDED):
    print("skipped: the models or test images are missing; run scripts/fetch_models.sh")
    sys.exit(77)

# The cheap work of the many-item checks: detect on a simulated NPU (20 ms a frame, outputs
# zero-filled), so the counts do not depend on this machine's cores.
SIMULATED = ["--device", "npu-sim", "--timing-only", "--npu-sim-frame-ms", "20"]


def batch(cluster, *args, timeout=300):
    return subprocess.run([CORUN, "batch", *args, *cluster.auth(), "--models", CACHE, "--json",
                           "--no-progress"], capture_output=True, text=True, timeout=timeout)


def summary_of(result):
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError:
        return {}


def stop_worker(process, name):
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=60)
    check(code == 0, f"worker {name} exits 0 on SIGTERM (got {code})")


def many_inputs(folder, count):
    os.makedirs(folder, exist_ok=True)
    for index in range(count):
        write_ppm(os.path.join(folder, f"{index:05d}.ppm"), index)


def check_exactly_once(db, folder, count, what):
    found = rows(db)
    paths = {os.path.join(folder, f"{index:05d}.ppm") for index in range(count)}
    missing = [p for p in paths if (p, "detect") not in found]
    check(not missing, f"{what}: every one of {count} inputs has its detect row "
                       f"({len(missing)} missing)")
    check(result_count(db) == count, f"{what}: exactly {count} rows, none twice "
                                     f"(got {result_count(db)})")
    return found


def same_rows_as_local(cluster, work):
    folder = os.path.join(work, "photos")
    os.makedirs(folder)
    for image in IMAGES:
        shutil.copy(image, folder)
    with open(os.path.join(folder, "not-an-image.jpg"), "w") as out:
        out.write("hello")
    with open(IMAGES[0], "rb") as source, open(os.path.join(folder, "cut.jpg"), "wb") as out:
        out.write(source.read()[:20000])  # a JPEG cut short: damaged, found by the worker
    local_db = os.path.join(work, "local.db")
    local = subprocess.run([CORUN, "batch", "detect", "faces", folder, "--db", local_db,
                            "--models", CACHE, "--json", "--no-progress"],
                           capture_output=True, text=True, timeout=300)
    check(local.returncode == 0, "the local batch runs", local)
    workers = [cluster.worker(name, work, ["--models", CACHE]) for name in ("w1", "w2")]
    cluster_db = os.path.join(work, "cluster.db")
    result = batch(cluster, "detect", "faces", folder, "--db", cluster_db)
    check(result.returncode == 0, "batch --cluster runs", result)
    summary = summary_of(result)
    local_rows, cluster_rows = rows(local_db), rows(cluster_db)
    check(len(local_rows) == 12 and set(local_rows) == set(cluster_rows),
          f"the same (path, task) rows: {len(local_rows)} local, {len(cluster_rows)} cluster")
    for key, local_row in sorted(local_rows.items()):
        remote = cluster_rows.get(key, {})
        same = all(local_row[f] == remote.get(f) for f in
                   ("status", "error_kind", "content_hash", "model", "model_version"))
        same = same and (json.loads(local_row["result"] or "null") ==
                         json.loads(remote.get("result") or "null"))
        check(same, f"{os.path.basename(key[0])} {key[1]}: the cluster's row is the local one")
    by_worker = [r for r in cluster_rows.values() if r["node"] is not None]
    check(len(by_worker) == 10 and all(r["node"] in ("w1", "w2") for r in by_worker),
          f"the 10 rows computed remotely name their worker: {[r['node'] for r in by_worker]}")
    check(sum(1 for r in cluster_rows.values() if r["error_kind"] == "damaged") == 2,
          "the cut JPEG is recorded as damaged by the worker, for both tasks")
    check(summary.get("cluster", {}).get("published") == 10, "10 items published", result)
    check(sum(summary.get("cluster", {}).get("nodes", {}).values()) == 10,
          "the summary counts 10 results by node")
    again = batch(cluster, "detect", "faces", folder, "--db", cluster_db)
    again_summary = summary_of(again)
    check(again.returncode == 0 and again_summary.get("cluster", {}).get("published") == 0 and
          again_summary.get("unchanged") == 6, "a rerun publishes nothing", again)
    status = wait_for(lambda: (lambda s: s if s and len(s["nodes"]) == 2 and
                               sum(n["done"] for n in s["nodes"]) == 10 else None)(
        cluster.status()), "both heartbeats to count 10 items")
    check(sorted(n["name"] for n in status["nodes"]) == ["w1", "w2"] and
          status["queue"]["pending"] == 0 and status["queue"]["ack_pending"] == 0,
          "cluster status: nodes w1 and w2, 10 items done between them, queue empty")
    # OCR: the same text lines, read on a worker.
    text_dir = os.path.join(work, "text")
    os.makedirs(text_dir)
    shutil.copy(TEXT, text_dir)
    local_text = os.path.join(work, "local-text.db")
    local = subprocess.run([CORUN, "batch", "ocr", text_dir, "--db", local_text, "--models",
                            CACHE, "--json", "--no-progress"], capture_output=True, text=True,
                           timeout=300)
    cluster_text = os.path.join(work, "cluster-text.db")
    remote = batch(cluster, "ocr", text_dir, "--db", cluster_text)
    key = (os.path.join(text_dir, os.path.basename(TEXT)), "ocr")
    local_ocr, remote_ocr = rows(local_text).get(key, {}), rows(cluster_text).get(key, {})
    lines = [line["text"] for line in json.loads(local_ocr.get("result") or "{}").get("lines", [])]
    check(local.returncode == 0 and remote.returncode == 0 and local_ocr.get("status") == "ok" and
          lines and json.loads(local_ocr["result"]) == json.loads(remote_ocr.get("result") or "0")
          and remote_ocr.get("node") in ("w1", "w2"),
          f"ocr: the worker reads the same {len(lines)} lines with the same boxes: {lines[:3]}",
          remote)
    for process, name in zip(workers, ("w1", "w2")):
        stop_worker(process, name)


def long_items_keep_their_lease(cluster, work):
    """Items longer than the AckWait (3 s here), and an item waiting behind one in the same
    fetch (--prefetch 2): the worker renews their leases, so an idle worker that joins while
    they run gets neither."""
    folder = os.path.join(work, "slow")
    many_inputs(folder, 2)
    db = os.path.join(work, "slow.db")
    submitter = cluster.processes.start(
        [CORUN, "batch", "detect", folder, "--db", db, *cluster.auth(), "--models", CACHE,
         "--json", "--no-progress"], os.path.join(work, "slow-submitter.log"))
    # Both items queued before the worker starts, so its first fetch takes both (a worker that
    # started first could fetch the first item alone, and then never hold two at once).
    wait_for(lambda: (lambda s: s and s["queue"]["pending"] == 2)(cluster.status()),
             "both items queued")
    slow = cluster.worker("s1", work, ["--models", CACHE, "--device", "npu-sim", "--timing-only",
                                       "--npu-sim-frame-ms", "4500", "--prefetch", "2"])
    wait_for(lambda: (lambda s: s and s["queue"]["pending"] == 0 and
                      s["queue"]["ack_pending"] == 2)(cluster.status()),
             "s1 to hold both items")
    idle = cluster.worker("s2", work, ["--models", CACHE, *SIMULATED])
    code = submitter.wait(timeout=120)
    with open(os.path.join(work, "slow-submitter.log")) as log:
        text = log.read()
    info = json.loads(text[text.index("{"):]).get("cluster", {}) if "{" in text else {}
    # Without the renewal the idle worker gets both after 3 s, and its results come first.
    check(code == 0 and result_count(db) == 2 and info.get("nodes") == {"s1": 2},
          f"two items of 4.5 s each with a 3 s AckWait: both done by the worker that took "
          f"them, none by the idle one: {info}")
    stop_worker(slow, "s1")
    stop_worker(idle, "s2")


def kill_worker_and_late_join(cluster, work):
    folder = os.path.join(work, "many")
    count = 300
    many_inputs(folder, count)
    w1 = cluster.worker("k1", work, ["--models", CACHE, *SIMULATED])
    w2 = cluster.worker("k2", work, ["--models", CACHE, *SIMULATED])
    db = os.path.join(work, "kill.db")
    submitter = cluster.processes.start(
        [CORUN, "batch", "detect", folder, "--db", db, *cluster.auth(), "--models", CACHE,
         "--json", "--no-progress"], os.path.join(work, "kill-submitter.log"))
    wait_for(lambda: result_count(db) >= 60, "60 results before the kill")
    os.kill(w1.pid, signal.SIGKILL)
    w1.wait(timeout=30)
    late = cluster.worker("k3", work, ["--models", CACHE, *SIMULATED])
    code = submitter.wait(timeout=300)
    with open(os.path.join(work, "kill-submitter.log")) as log:
        text = log.read()
    check(code == 0, f"the batch finishes after a worker's SIGKILL (exit {code})")
    summary = json.loads(text[text.index("{"):]) if "{" in text else {}
    info = summary.get("cluster", {})
    check_exactly_once(db, folder, count, "kill -9 of a worker")
    check(info.get("published") == count and info.get("results_received") == count and
          info.get("duplicates_dropped") == 0,
          f"{count} items published, {count} results received, none twice: {info}")
    nodes = info.get("nodes", {})
    check(nodes.get("k3", 0) > 0, f"the worker that joined late took work: {nodes}")
    check(sum(nodes.values()) == count, f"the results by node add up to {count}: {nodes}")
    stop_worker(w2, "k2")
    stop_worker(late, "k3")


def stop_and_resume_submitter(cluster, work):
    folder = os.path.join(work, "resume")
    count = 200
    many_inputs(folder, count)
    db = os.path.join(work, "resume.db")
    first = cluster.processes.start(
        [CORUN, "batch", "detect", folder, "--db", db, *cluster.auth(), "--models", CACHE,
         "--no-progress"], os.path.join(work, "resume-first.log"))
    # Every item queued before the worker starts (so that the kill below cannot come before the
    # last publish, which would leave the worker's queue short of 200), then 40 results stored.
    wait_for(lambda: (lambda s: s and s["queue"]["pending"] == count)(cluster.status()),
             "every item queued")
    worker = cluster.worker("r1", work, ["--models", CACHE, *SIMULATED])
    wait_for(lambda: result_count(db) >= 40, "40 results before the submitter's kill")
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    stored = result_count(db)
    # The worker goes on: every item is done while no submitter runs.
    wait_for(lambda: (lambda s: s and any(n["name"] == "r1" and n["done"] == count
                                          for n in s["nodes"]))(cluster.status()),
             "the worker to finish the queue")
    second = batch(cluster, "detect", folder, "--db", db)
    summary = summary_of(second)
    info = summary.get("cluster", {})
    check(second.returncode == 0, "the resumed batch finishes", second)
    # (A result that comes in before its item is reached is not republished at all.)
    check(0 < info.get("published", 0) <= count - stored and
          info.get("already_queued") == info.get("published"),
          f"it republished only items without a result (at most {count - stored}), and the "
          f"server knew them all: {info}")
    check(info.get("results_received") == count - stored,
          f"and found their {count - stored} results waiting: {info}")
    check_exactly_once(db, folder, count, "stop and resume")
    status = cluster.status()
    done = [n["done"] for n in status["nodes"] if n["name"] == "r1"] if status else []
    check(done == [count], f"no item ran twice: the worker did {done} items for {count}")
    stop_worker(worker, "r1")


def hostile_messages(cluster, work):
    root = os.path.join(work, "allowed")
    os.makedirs(root)
    inside = os.path.join(root, "dog.jpg")
    shutil.copy(IMAGES[0], inside)
    os.symlink("/etc/passwd", os.path.join(root, "escape.jpg"))
    worker = cluster.worker("h1", work, ["--models", CACHE, "--allowed-root", root])
    host, port = cluster.listen.rsplit(":", 1)
    raw = RawNats(host, int(port), cluster.token)
    raw.subscribe("corun.results.>")

    def header(index, **fields):
        fake_hash = hashlib.sha256(b"hostile %d" % index).hexdigest()
        value = {"v": 1, "batch": "hostile1", "task": "detect", "content_hash": fake_hash,
                 "path": inside, "size": 0, "kind": "image", "bytes": "path"}
        value.update(fields)
        return json.dumps(value).encode() + b"\n"

    with open(inside, "rb") as source:
        dog = source.read()
    dog_hash = hashlib.sha256(dog).hexdigest()
    cases = [
        (b"\x00\xff\xfe binary, no header line", "_rejected", "no header line"),
        (b"{not json\n", "_rejected", "not JSON"),
        (b'{"v": 1, "batch": "HOSTILE ../>", "task": "detect"}\n', "_rejected",
         "batch id is missing or malformed"),
        (header(1, path="x" * 9000), "_rejected", "no header line within"),
        (header(2, task="rm -rf /"), "hostile1", "not a task it knows"),
        (header(3, task="sh -c reboot"), "hostile1", "not a task it knows"),
        (header(4, path="/etc/passwd"), "hostile1", "not inside the allowed roots"),
        (header(5, path=root + "/../../etc/passwd"), "hostile1", "holds '..'"),
        (header(6, path=os.path.join(root, "escape.jpg")), "hostile1", "resolves to"),
        (header(7, path="relative/dog.jpg"), "hostile1", "not an absolute path"),
        (header(8, bytes="inline", size=4) + b"abcd", "hostile1",
         "do not have the content hash"),
        (header(9, bytes="inline", size=100) + b"short", "hostile1",
         "not the 100 its header announces"),
        (header(10, v=2), "hostile1", "another version"),
        (header(11, content_hash=dog_hash, size=len(dog)), "hostile1", None),  # a real item
    ]
    for payload, _, _ in cases:
        raw.publish("corun.work.hostile1", payload)
    raw.flush()
    received = []
    deadline = time.time() + 120
    while len(received) < len(cases) and time.time() < deadline:
        message = raw.next_message(timeout=5)
        if message:
            received.append((message[0], json.loads(message[1])))
    raw.close()
    check(len(received) == len(cases),
          f"every hostile message got an answer: {len(received)} of {len(cases)}")
    for payload, subject, expected in cases:
        if expected is None:
            good = [r for s, r in received if r.get("content_hash") == dog_hash]
            check(len(good) == 1 and good[0]["status"] == "ok" and
                  any(d["label"] == "dog" for d in good[0]["result"]["detections"]),
                  "after them, a real by-path item inside the allowed root runs (a dog found)")
            continue
        answers = [r for s, r in received if s == "corun.results." + subject and
                   expected in r.get("error", "")]
        # (Messages that share a cause share its words; the count above says each got one.)
        check(len(answers) >= 1 and (subject == "_rejected" or
                                         all(a.get("error_kind") == "refused" for a in answers)),
              f"{payload[:40]!r}... answered on corun.results.{subject}: '{expected}'")
    check(worker.poll() is None, "the worker is still running after the hostile messages")
    stop_worker(worker, "h1")
    passwd_leak = [r for _, r in received if "root:" in json.dumps(r)]
    check(not passwd_leak, "no answer carries a byte of /etc/passwd")


def large_inputs(cluster, work):
    shared = os.path.join(work, "shared")
    os.makedirs(shared)
    big = os.path.join(shared, "dog.jpg")
    shutil.copy(IMAGES[0], big)
    db = os.path.join(work, "large.db")
    refused = batch(cluster, "detect", big, "--db", db, "--max-message-bytes", "20KiB")
    found = rows(db).get((big, "detect"), {})
    check(refused.returncode == 0 and found.get("error_kind") == "too_large",
          "an input above --max-message-bytes without --shared-root is recorded too_large", refused)
    connection = sqlite3.connect(db)
    connection_error = connection.execute("SELECT error FROM results").fetchone()[0]
    connection.close()
    check("--max-message-bytes" in connection_error and "--shared-root" in connection_error,
          f"its error names --max-message-bytes and --shared-root: {connection_error.strip()}")
    worker = cluster.worker("p1", work, ["--models", CACHE, "--allowed-root", shared])
    by_path = batch(cluster, "detect", big, "--db", db, "--max-message-bytes", "20KiB",
                    "--shared-root", shared)
    info = summary_of(by_path).get("cluster", {})
    found = rows(db).get((big, "detect"), {})
    check(by_path.returncode == 0 and info.get("by_path") == 1 and found.get("status") == "ok" and
          found.get("node") == "p1",
          f"with --shared-root it goes by path and the worker runs it: {info}", by_path)
    stop_worker(worker, "p1")


def wrong_token(cluster, work):
    worker = subprocess.run([CORUN, "worker", "--cluster", cluster.url, "--token", "wrong",
                             "--models", CACHE], capture_output=True, text=True, timeout=60)
    check(worker.returncode == 1 and "refused this client's credentials" in worker.stderr,
          "a worker with a wrong token exits 1 naming the credentials", worker)
    submit = subprocess.run([CORUN, "batch", "detect", IMAGES[0], "--db",
                             os.path.join(work, "token.db"), "--cluster", cluster.url],
                            capture_output=True, text=True, timeout=60)
    check(submit.returncode == 1 and "--token" in submit.stderr,
          "batch --cluster without the token exits 1 naming --token", submit)
    named = subprocess.run([CORUN, "worker", *cluster.auth(), "--name", "two words",
                            "--models", CACHE], capture_output=True, text=True, timeout=60)
    check(named.returncode == 1 and "give --name" in named.stderr,
          "a node name the nodes bucket cannot key is refused naming --name", named)


def an_item_its_workers_die_on_is_abandoned(cluster, work):
    """An item whose holders keep dying is given up after --max-deliveries with an 'abandoned'
    row instead of being handed out forever. The dying holder is a real consumer of the shared
    work queue (the test's raw NATS client) that takes the item and never acknowledges it, so
    the server gives it out again after the AckWait, as it does after a worker's kill -9."""
    root = os.path.join(work, "allowed")
    os.makedirs(root)
    inside = os.path.join(root, "dog.jpg")
    shutil.copy(IMAGES[0], inside)
    with open(inside, "rb") as source:
        dog_hash = hashlib.sha256(source.read()).hexdigest()
    host, port = cluster.listen.rsplit(":", 1)
    raw = RawNats(host, int(port), cluster.token)
    raw.subscribe("corun.results.>", sid=1)
    raw.subscribe("_INBOX.dying", sid=2)
    header = {"v": 1, "batch": "abandon1", "task": "detect", "content_hash": dog_hash,
              "path": inside, "size": os.path.getsize(inside), "kind": "image", "bytes": "path"}
    raw.publish("corun.work.abandon1", json.dumps(header).encode() + b"\n")
    raw.flush()
    next_request = b"$JS.API.CONSUMER.MSG.NEXT.CORUN_WORK.corun-workers"
    for holder in range(2):  # two holders die with it: given out a third time next
        raw.sock.sendall(b"PUB %s _INBOX.dying 1\r\n1\r\n" % next_request)
        taken = raw.next_message(timeout=30)
        check(taken is not None and taken[0] == "corun.work.abandon1",
              f"holder {holder + 1} takes the item and dies with it", taken)
    worker = cluster.worker("a1", work, ["--models", CACHE, "--allowed-root", root,
                                         "--max-deliveries", "2"])
    answer = raw.next_message(timeout=60)
    raw.close()
    result = json.loads(answer[1]) if answer else {}
    check(answer is not None and answer[0] == "corun.results.abandon1" and
          result.get("error_kind") == "abandoned" and "given out 3 times" in result.get("error", "")
          and result.get("node") == "a1",
          "given out a third time, past --max-deliveries 2: recorded as abandoned, not run", answer)
    stop_worker(worker, "a1")


def worker_through_corund(cluster, work):
    """A worker whose models run on corund (`--service-socket`, implying
    --multi-process-service): the same rows as the local batch, and corund served the frames."""
    folder = os.path.join(work, "photos")
    os.makedirs(folder)
    for image in IMAGES:
        shutil.copy(image, folder)
    local_db = os.path.join(work, "local.db")
    local = subprocess.run([CORUN, "batch", "detect", folder, "--db", local_db, "--models", CACHE,
                            "--json", "--no-progress"], capture_output=True, text=True,
                           timeout=300)
    check(local.returncode == 0, "the local batch runs", local)
    socket_dir = os.path.join(work, "corund")
    os.mkdir(socket_dir, 0o700)
    socket = os.path.join(socket_dir, "corund.sock")
    corund = cluster.processes.start(
        [os.path.join(os.path.dirname(CORUN), "corund"), "--socket", socket, "--log-level",
         "warn"], os.path.join(work, "corund.log"))

    def daemon_models():
        if corund.poll() is not None:
            raise RuntimeError("corund exited: " + open(os.path.join(work, "corund.log")).read())
        up = subprocess.run([CORUN, "monitor", "--socket", socket, "--json", "--once"],
                            capture_output=True, text=True, timeout=30)
        return json.loads(up.stdout) if up.returncode == 0 else None

    wait_for(daemon_models, "corund to answer")
    worker = cluster.worker("svc", work, ["--models", CACHE, "--service-socket", socket])
    result = batch(cluster, "detect", folder, "--db", os.path.join(work, "cluster.db"))
    check(result.returncode == 0, "batch --cluster with a worker on corund runs", result)
    local_rows, cluster_rows = rows(local_db), rows(os.path.join(work, "cluster.db"))
    check(len(local_rows) == 4 and set(local_rows) == set(cluster_rows) and all(
        json.loads(row["result"]) == json.loads(cluster_rows[key]["result"] or "null") and
        cluster_rows[key]["node"] == "svc" for key, row in local_rows.items()),
        "the worker on corund finds what the local batch finds, for every image")
    served = daemon_models()
    frames = sum(int(model["frames_done"]) for model in (served or {}).get("models", [])
                 if model.get("name") == "nanodet" and model.get("pid") == worker.pid)
    check(frames >= 4, f"corund ran the detector's frames for the worker's process ({frames})",
          served)
    stop_worker(worker, "svc")
    corund.send_signal(signal.SIGTERM)
    corund.wait(timeout=60)


def main():
    work = tempfile.mkdtemp(prefix="corun-cluster-test.")
    keep = os.environ.get("CORUN_TEST_KEEP") == "1"  # keep the logs to debug
    processes = Processes()
    try:
        cluster = Cluster(CORUN, work, processes)
        sections = (wrong_token, same_rows_as_local, large_inputs, hostile_messages,
                    long_items_keep_their_lease, kill_worker_and_late_join,
                    stop_and_resume_submitter, worker_through_corund,
                    an_item_its_workers_die_on_is_abandoned)
        chosen = sys.argv[3:]
        for section in sections:
            if chosen and section.__name__ not in chosen:
                continue
            print(f"--- {section.__name__}")
            os.makedirs(os.path.join(work, section.__name__))
            section(cluster, os.path.join(work, section.__name__))
    finally:
        processes.stop_all()
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("kept", work)
    finish()


main()
