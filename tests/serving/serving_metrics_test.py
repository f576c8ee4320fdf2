#!/usr/bin/python3
"""`corun serve` metrics scraped by a real Prometheus (issue 15): the server runs with
--metrics-port, Debian's prometheus scrapes that port every second (its own temp config and
storage, loopback only), the test sends a known number of requests, and a PromQL query through
Prometheus's HTTP API returns exactly that count. The page itself is checked for Triton's metric
names, the failure reasons, the histogram and corun's scheduler metrics.

Exits 77 (skipped) when prometheus is not installed (scripts/setup.sh installs it). Every wait
is bounded.

usage: serving_metrics_test.py CORUN TEST_MODEL_DIR
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from cli_checks import check, finish  # noqa: E402

CORUN, TEST_MODELS = sys.argv[1], sys.argv[2]
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
WAIT_LIMIT = 120  # seconds
REQUESTS = 7
if not os.path.exists(PROMETHEUS):
    print("skipped: prometheus is not installed (scripts/setup.sh installs it)")
    sys.exit(77)


def get(port, path, body=None, method="GET"):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT_LIMIT)
    try:
        connection.request(method, path, body=body)
        response = connection.getresponse()
        return response.status, response.read()
    except OSError:
        return None, b""
    finally:
        connection.close()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, what):
    deadline = time.time() + WAIT_LIMIT
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    check(False, "waited for " + what)
    return None


def start_prometheus(work, metrics_port):
    """Prometheus scraping the metrics port every second, and the port it answers on. A port
    free_port() found free can be taken by another test before Prometheus binds it: then
    another port, three times at most."""
    config = os.path.join(work, "prometheus.yml")
    with open(config, "w") as out:
        out.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                  "scrape_configs:\n  - job_name: corun\n    static_configs:\n"
                  f"      - targets: ['127.0.0.1:{metrics_port}']\n")
    log_path = os.path.join(work, "prometheus.log")
    for attempt in range(3):
        port = free_port()
        with open(log_path, "w") as log:
            prometheus = subprocess.Popen(
                [PROMETHEUS, f"--config.file={config}",
                 f"--storage.tsdb.path={os.path.join(work, 'tsdb')}",
                 f"--web.listen-address=127.0.0.1:{port}"],
                stdout=subprocess.DEVNULL, stderr=log)
        wait_for(lambda: prometheus.poll() is not None or get(port, "/-/ready")[0] == 200,
                 "Prometheus to start")
        with open(log_path) as log:
            port_taken = prometheus.poll() is not None and "address already in use" in log.read()
        if not port_taken or attempt == 2:
            return prometheus, port  # one that exited otherwise fails the queries below


def stop(process):
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def main():
    work = tempfile.mkdtemp(prefix="corun_metrics_")
    repository = os.path.join(work, "repository")
    os.makedirs(os.path.join(repository, "add_one", "1"))
    shutil.copy(os.path.join(TEST_MODELS, "add_one.onnx"),
                os.path.join(repository, "add_one", "1", "model.onnx"))
    log_path = os.path.join(work, "serve.log")
    log = open(log_path, "w")
    server = subprocess.Popen(
        [CORUN, "serve", "--socket", os.path.join(work, "corund.sock"), "--http", "0",
         "--metrics-port", "0", "--model-repository", repository],
        stdout=log, stderr=subprocess.STDOUT)
    prometheus = None
    try:
        found = wait_for(lambda: re.search(r"REST on http://127\.0\.0\.1:(\d+)/v2, metrics on port "
                                           r"(\d+)", open(log_path).read()), "the server's ports")
        if not found:
            print(open(log_path).read())
            return
        port, metrics_port = int(found.group(1)), int(found.group(2))
        wait_for(lambda: get(port, "/v2/health/ready")[0] == 200, "the server to be ready")

        body = json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 3, 4, 4],
                                       "data": [1.0] * 48}]})
        statuses = [get(port, "/v2/models/add_one/infer", body, "POST")[0]
                    for _ in range(REQUESTS)]
        check(statuses == [200] * REQUESTS, f"{REQUESTS} requests succeed")
        bad = json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1],
                                      "data": [1.0]}]})
        check(get(port, "/v2/models/add_one/infer", bad, "POST")[0] == 400, "one bad request")

        status, page = get(metrics_port, "/metrics")
        page = page.decode()
        check(status == 200, "--metrics-port serves /metrics")
        check(get(metrics_port, "/v2/health/live")[0] == 404, "the metrics port serves only /metrics")
        labels = 'model="add_one",version="1"'
        for line in (f"nv_inference_request_success{{{labels}}} {REQUESTS}",
                     f'nv_inference_request_failure{{{labels},reason="OTHER"}} 1',
                     f'nv_inference_request_failure{{{labels},reason="REJECTED"}} 0',
                     f"nv_inference_count{{{labels}}} {REQUESTS}",
                     f"nv_inference_exec_count{{{labels}}} {REQUESTS}",
                     f"nv_inference_pending_request_count{{{labels}}} 0",
                     f'nv_inference_request_duration_us_bucket{{{labels},le="+Inf"}} {REQUESTS + 1}',
                     f"nv_inference_request_duration_us_count{{{labels}}} {REQUESTS + 1}",
                     "# TYPE nv_inference_request_duration_us histogram",
                     "# TYPE corun_device_utilisation gauge"):
            check(line in page.splitlines(), f"the page has `{line}`")
        for name in ("nv_inference_queue_duration_us", "nv_inference_compute_infer_duration_us",
                     "corun_scheduler_max_overtaken_by", "corun_scheduler_switches_total",
                     "corun_scheduler_device_seconds_total", "corun_model_device_share",
                     "corun_device_busy_seconds_total"):
            check(re.search(rf"^{name}(\{{[^}}]*\}})? \d", page, re.M) is not None,
                  f"the page has {name}")
        frames = re.search(rf'corun_scheduler_frames_total\{{{labels},priority="16",'
                           r'instance="\d+"\} (\d+)', page)
        check(frames is not None and frames.group(1) == str(REQUESTS),
              f"the scheduler counted {REQUESTS} frames at priority 16")
        share = re.search(rf"corun_model_device_share\{{{labels}\}} ([0-9.e-]+)", page)
        check(share is not None and float(share.group(1)) == 1.0,
              "add_one, the only model, has all the device time")

        # A real Prometheus scraping the metrics port every second.
        prometheus, prometheus_port = start_prometheus(work, metrics_port)
        query = urllib.parse.quote(f'nv_inference_request_success{{{labels}}}')

        def queried_count():
            status, reply = get(prometheus_port, f"/api/v1/query?query={query}")
            if status != 200:
                return None
            result = json.loads(reply)["data"]["result"]
            return result[0]["value"][1] if result else None

        value = wait_for(queried_count, "Prometheus to scrape the server")
        check(value == str(REQUESTS), f"PromQL returns the {REQUESTS} requests sent ({value})")
    finally:
        if prometheus:
            stop(prometheus)
        code = stop(server)
        log.close()
        check(code == 0, "the server stops cleanly")
        shutil.rmtree(work, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
