#!/usr/bin/python3
"""`corun serve --http PORT --model-repository DIR` end to end (issue 15): the real server process
on a free loopback port, real zoo models (mobilefacenet, blazeface) and a generated one, a broken
model beside them, and clients speaking KServe v2 REST with http.client.

Checks: health and metadata; infer with JSON tensors and with the binary-data extension, outputs
equal (bit for bit) to what the C++ API computes for the same input (`corun run
--multi-process-service` against this server's socket, in corund's process); a corund client of
the default group sharing the served models' scheduler; N frames in one request; the repository
extension (index with the broken model's reason, unload, load); the wire's priority reaching the
scheduler (max_overtaken_by 0 at priority 31 while another model floods the device); timeouts as
deadlines (504); malformed, oversized and hostile requests get 4xx with a reason and the server
stays up; bearer-token auth; SIGTERM ends the server cleanly.

Exits 77 (skipped) when scripts/fetch_models.sh has not filled the cache. Every wait is bounded.

usage: serving_http_test.py CORUN MODEL_CACHE_DIR TEST_MODEL_DIR SHARED_GROUP_CLIENT
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from cli_checks import check, finish, wait_until  # noqa: E402
from server_process import http_json, http_request, stop_server  # noqa: E402

CORUN, CACHE, TEST_MODELS, SHARED_GROUP_CLIENT = sys.argv[1:5]
WAIT_LIMIT = 120  # seconds; far beyond what a passing run needs

ZOO = {
    "mobilefacenet": os.path.join(CACHE, "models/mobilefacenet/mobilefacenet.onnx"),
    "blazeface": os.path.join(CACHE, "models/blazeface-128/face_detection_front_128x128_barracuda.onnx"),
}
if not all(os.path.exists(path) for path in ZOO.values()):
    print("skipped: no zoo models in", CACHE, "; run scripts/fetch_models.sh")
    sys.exit(77)


class Server:
    """A `corun serve` process with its own socket and a REST port it picked itself."""

    def __init__(self, work, repository, *extra):
        self.work = work
        self.socket = os.path.join(work, "corund.sock")
        self.log_path = os.path.join(work, "serve.log")
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [CORUN, "serve", "--socket", self.socket, "--http", "0",
             "--model-repository", repository, *extra],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.port = None
        self.metrics_port = None
        deadline = time.time() + WAIT_LIMIT
        while time.time() < deadline and self.port is None and self.process.poll() is None:
            found = re.search(r"REST on http://127\.0\.0\.1:(\d+)/v2(, metrics on port (\d+))?",
                              self.read_log())
            if found:
                self.port = int(found.group(1))
                self.metrics_port = int(found.group(3)) if found.group(3) else None
            else:
                time.sleep(0.05)
        if self.port is None:
            raise RuntimeError("corun serve did not start:\n" + self.read_log())
        while time.time() < deadline:
            if self.request("GET", "/v2/health/ready")[0] == 200:
                break
            time.sleep(0.05)

    def read_log(self):
        with open(self.log_path) as log:
            return log.read()

    def request(self, method, path, body=None, headers=None, port=None):
        return http_request(port or self.port, method, path, body, headers, WAIT_LIMIT)

    def json(self, method, path, payload=None, headers=None):
        return http_json(self.port, method, path, payload, headers, WAIT_LIMIT)

    def stop(self):
        return stop_server(self.process, self.log)


def make_repository(root):
    for name, path in ZOO.items():
        os.makedirs(os.path.join(root, name, "1"))
        shutil.copy(path, os.path.join(root, name, "1", "model.onnx"))
    os.makedirs(os.path.join(root, "add_one", "1"))
    os.makedirs(os.path.join(root, "add_one", "2"))
    for version in ("1", "2"):
        shutil.copy(os.path.join(TEST_MODELS, "add_one.onnx"),
                    os.path.join(root, "add_one", version, "model.onnx"))
    os.makedirs(os.path.join(root, "broken", "1"))
    with open(os.path.join(root, "broken", "1", "model.onnx"), "wb") as broken:
        broken.write(b"this is not an ONNX model")


def binary_request(inputs, binary_outputs=True, parameters=None):
    """Body and headers of a request whose inputs travel as binary data."""
    header = {"inputs": [{"name": name, "datatype": "FP32", "shape": list(array.shape),
                          "parameters": {"binary_data_size": array.nbytes}}
                         for name, array in inputs],
              "parameters": {"binary_data_output": binary_outputs, **(parameters or {})}}
    text = json.dumps(header).encode()
    body = text + b"".join(array.tobytes() for _, array in inputs)
    return body, {"Inference-Header-Content-Length": str(len(text)),
                  "Content-Type": "application/octet-stream"}


def binary_outputs(headers, body):
    """{name: (datatype, shape, raw bytes)} of a binary response."""
    length = int(headers["Inference-Header-Content-Length"])
    header = json.loads(body[:length])
    offset, outputs = length, {}
    for output in header["outputs"]:
        size = output["parameters"]["binary_data_size"]
        outputs[output["name"]] = (output["datatype"], output["shape"], body[offset:offset + size])
        offset += size
    return header, outputs


def cpp_api_outputs(server, model_path, input_name, array, work):
    """Each output's raw bytes as the C++ API computes them on the server's own device."""
    npy = os.path.join(work, "input.npy")
    np.save(npy, array)
    out = os.path.join(work, "cpp_outputs")
    shutil.rmtree(out, ignore_errors=True)
    result = subprocess.run(
        [CORUN, "run", model_path, "--input", f"{input_name}={npy}", "--output-dir", out,
         "--multi-process-service", "--service-socket", server.socket],
        capture_output=True, text=True, timeout=WAIT_LIMIT)
    check(result.returncode == 0, "corun run --multi-process-service on the server's socket", result)
    if result.returncode != 0:
        return {}
    listed = json.load(open(os.path.join(out, "outputs.json")))
    entries = listed["outputs"] if isinstance(listed, dict) else listed
    return {entry["name"]: open(os.path.join(out, entry["bin"]), "rb").read() for entry in entries}


def main():
    work = tempfile.mkdtemp(prefix="corun_serving_")
    repository = os.path.join(work, "repository")
    make_repository(repository)
    server = Server(work, repository, "--http-max-request-bytes", str(4 << 20))
    try:
        run_checks(server, work)
        run_hostile_checks(server)
        check_start_errors(server, work, repository)
    finally:
        code = server.stop()
    check(code == 0, "SIGTERM ends corun serve with exit code 0")
    check("model 'broken' failed to load" in server.read_log(),
          "the broken model's failure is in the log")
    run_token_checks(work)
    shutil.rmtree(work, ignore_errors=True)
    finish()


def run_checks(server, work):
    status, _, _ = server.request("GET", "/v2/health/live")
    check(status == 200, "v2/health/live is 200")
    status, _, _ = server.request("GET", "/v2/health/ready")
    check(status == 200, "v2/health/ready is 200 once the repository loaded")
    status, metadata = server.json("GET", "/v2")
    check(status == 200 and metadata["name"] == "corun" and
          "binary_tensor_data" in metadata["extensions"], "GET v2: server metadata", None)

    status, metadata = server.json("GET", "/v2/models/mobilefacenet")
    check(status == 200 and metadata["name"] == "mobilefacenet" and metadata["versions"] == ["1"]
          and metadata["platform"] == "onnxruntime_onnx", f"model metadata: {metadata}")
    model_input = metadata["inputs"][0]
    check(model_input["datatype"] == "FP32", "mobilefacenet takes FP32")
    shape = model_input["shape"]
    status, _ = server.json("GET", "/v2/models/add_one/versions/2")
    check(status == 200, "the highest version (2) serves")
    status, error = server.json("GET", "/v2/models/add_one/versions/1")
    check(status == 404 and "serves 2" in error["error"], f"version 1 does not serve: {error}")
    status, _, _ = server.request("GET", "/v2/models/mobilefacenet/ready")
    check(status == 200, "model ready is 200")

    # The same input through REST (JSON and binary) and through the C++ API.
    rng = np.random.default_rng(15)
    array = rng.random(shape, dtype=np.float32)
    expected = cpp_api_outputs(server, ZOO["mobilefacenet"], model_input["name"], array, work)
    request = {"id": "json-1", "inputs": [{"name": model_input["name"], "datatype": "FP32",
                                           "shape": shape, "data": array.flatten().tolist()}]}
    status, reply = server.json("POST", "/v2/models/mobilefacenet/infer", request)
    check(status == 200 and reply["id"] == "json-1" and reply["model_name"] == "mobilefacenet"
          and reply["model_version"] == "1", "JSON infer succeeds")
    if status == 200:
        for output in reply["outputs"]:
            values = np.array(output["data"], dtype=np.float64).astype(np.float32)
            check(output["name"] in expected and values.tobytes() == expected[output["name"]],
                  f"JSON output '{output['name']}' equals the C++ API's exactly")
    body, headers = binary_request([(model_input["name"], array)])
    status, reply_headers, reply_body = server.request(
        "POST", "/v2/models/mobilefacenet/infer", body, headers)
    check(status == 200 and reply_headers.get("Content-Type") == "application/octet-stream",
          "binary infer succeeds")
    if status == 200:
        _, outputs = binary_outputs(reply_headers, reply_body)
        check(len(outputs) == len(expected) and len(expected) > 0, "every output came back")
        for name, (datatype, _, raw) in outputs.items():
            check(datatype == "FP32" and raw == expected.get(name),
                  f"binary output '{name}' equals the C++ API's bit for bit")

    # Two frames in one request: each frame's outputs as if sent alone.
    pair = np.stack([array[0], array[0]])
    body, headers = binary_request([(model_input["name"], pair)])
    status, reply_headers, reply_body = server.request(
        "POST", "/v2/models/mobilefacenet/infer", body, headers)
    check(status == 200, "a request of 2 frames succeeds")
    if status == 200:
        _, outputs = binary_outputs(reply_headers, reply_body)
        for name, (_, out_shape, raw) in outputs.items():
            single = expected.get(name, b"")
            check(out_shape[0] == 2 and raw == single + single,
                  f"2 frames: '{name}' holds each frame's output")

    # The repository extension: the broken model listed with its reason, unload and load.
    status, index = server.json("POST", "/v2/repository/index", {})
    states = {entry["name"]: entry for entry in index or []}
    check(status == 200 and states.get("mobilefacenet", {}).get("state") == "READY" and
          states.get("add_one", {}).get("version") == "2", f"index lists the models: {index}")
    broken = states.get("broken", {})
    check(broken.get("state") == "UNAVAILABLE" and "broken" in broken.get("reason", "")
          and "ONNX" in broken.get("reason", "").upper(),
          f"the broken model is UNAVAILABLE with its reason: {broken}")
    add_one = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 3, 4, 4],
                           "data": [0.5] * 48}]}
    status, reply = server.json("POST", "/v2/models/add_one/infer", add_one)
    check(status == 200 and reply["outputs"][0]["data"] == [1.5] * 48, "add_one computes x + 1")
    status, _ = server.json("POST", "/v2/repository/models/add_one/unload", {})
    check(status == 200, "unload add_one")
    status, error = server.json("POST", "/v2/models/add_one/infer", add_one)
    check(status == 503 and "not loaded" in error["error"], f"an unloaded model is 503: {error}")
    status, _, _ = server.request("GET", "/v2/models/add_one/ready")
    check(status == 400, "an unloaded model is not ready (400)")
    status, _ = server.json("POST", "/v2/repository/models/add_one/load", {})
    check(status == 200, "load add_one again")
    status, reply = server.json("POST", "/v2/models/add_one/infer", add_one)
    check(status == 200 and reply["model_version"] == "2", "add_one serves again")
    status, error = server.json("POST", "/v2/repository/models/nothing/load", {})
    check(status == 404 and "no model 'nothing'" in error["error"], f"load of no model: {error}")
    status, error = server.json("POST", "/v2/repository/models/broken/load", {})
    check(status == 400 and "error" in error, f"loading the broken model fails with 400: {error}")
    status, _, _ = server.request("GET", "/v2/models/mobilefacenet/ready")
    check(status == 200, "the other models kept serving")

    # A timeout that cannot be met: refused at admission, 504 naming the deadline.
    timed = dict(add_one, parameters={"timeout": 0})
    status, error = server.json("POST", "/v2/models/add_one/infer", timed)
    check(status == 504 and "deadline" in error["error"], f"timeout 0 is 504: {error}")

    check_priority(server, shape, model_input["name"])
    check_shared_scheduler(server)


def check_priority(server, shape, input_name):
    """mobilefacenet at wire priority 1 (corun 31) while blazeface floods the device: its frames
    are never overtaken, and the scheduler lists them at priority 31."""
    status, metadata = server.json("GET", "/v2/models/blazeface")
    blaze_input = metadata["inputs"][0]
    flood_body, flood_headers = binary_request(
        [(blaze_input["name"], np.zeros(blaze_input["shape"], dtype=np.float32))])
    urgent_body, urgent_headers = binary_request(
        [(input_name, np.zeros(shape, dtype=np.float32))], parameters={"priority": 1})
    stop = threading.Event()
    flood_statuses = []

    def flood():
        while not stop.is_set() and len(flood_statuses) < 2000:
            flood_statuses.append(server.request("POST", "/v2/models/blazeface/infer",
                                                 flood_body, flood_headers)[0])

    threads = [threading.Thread(target=flood) for _ in range(4)]
    for thread in threads:
        thread.start()
    # Each urgent request is sent once the scheduler has booked the one before: the reply leaves
    # before its burst is charged, and a frame sent in that gap waits for the booking (one burst
    # of a model at a time) while a blazeface burst may start, which the metric would count.
    urgent_statuses = []
    for sent in range(20):
        expected = [str(sent)] if sent else []  # before the first, no instance at 31 yet
        booked = wait_until(lambda: urgent_frames(server) == expected, WAIT_LIMIT)
        check(booked, f"the scheduler booked the {sent} urgent frames sent before")
        urgent_statuses.append(server.request("POST", "/v2/models/mobilefacenet/infer",
                                              urgent_body, urgent_headers)[0])
    stop.set()
    for thread in threads:
        thread.join(timeout=WAIT_LIMIT)
    wait_until(lambda: urgent_frames(server) == ["20"], WAIT_LIMIT)
    check(all(s == 200 for s in urgent_statuses), "every urgent request succeeded")
    check(len(flood_statuses) > 0 and all(s == 200 for s in flood_statuses),
          f"every flooding request succeeded ({len(flood_statuses)})")
    _, _, page = server.request("GET", "/metrics")
    page = page.decode()
    urgent = re.findall(r'corun_scheduler_max_overtaken_by\{model="mobilefacenet",version="1",'
                        r'priority="31",instance="\d+"\} (\d+)', page)
    frames = urgent_frames_in(page)
    check(len(urgent) == 1 and urgent[0] == "0",
          f"priority 1 on the wire: scheduled at 31, never overtaken ({urgent})")
    check(frames == ["20"], f"the scheduler ran the 20 urgent frames at priority 31 ({frames})")


def urgent_frames_in(page):
    """The frames the scheduler booked for mobilefacenet at priority 31, as the page lists them."""
    return re.findall(r'corun_scheduler_frames_total\{model="mobilefacenet",version="1",'
                      r'priority="31",instance="\d+"\} (\d+)', page)


def urgent_frames(server):
    _, _, page = server.request("GET", "/metrics")
    return urgent_frames_in(page.decode())


def scheduled_models(server):
    _, _, page = server.request("GET", "/metrics")
    found = re.search(r"^corun_scheduled_models (\d+)$", page.decode(), re.M)
    return int(found.group(1)) if found else None


def check_shared_scheduler(server):
    """A corund client of the default group (tests/serving/shared_group_client.cpp, through the
    server's Unix socket) lands in the scheduler the HTTP front's models are in: the metrics
    count its model while it holds it."""
    before = scheduled_models(server)
    client = subprocess.Popen(
        [SHARED_GROUP_CLIENT, server.socket, os.path.join(TEST_MODELS, "add_one.onnx")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = client.stdout.readline().strip()
        check(line == "configured", f"the corund client configured its model ({line!r})")
        during = scheduled_models(server)
        check(before is not None and during == before + 1,
              f"a corund client's model joins the served models' scheduler ({before} -> {during})")
    finally:
        client.stdin.close()
        client.wait(timeout=WAIT_LIMIT)


def run_hostile_checks(server):
    def expect(status, error, code, fragment, what):
        message = (error or {}).get("error", "") if isinstance(error, dict) else ""
        check(status == code and fragment in message, f"{what}: {code} ({status}: {message[:200]})")

    path = "/v2/models/add_one/infer"
    status, _, body = server.request("POST", path, b"{not json")
    expect(status, json.loads(body), 400, "not valid JSON", "malformed JSON")
    status, _, body = server.request("POST", path, json.dumps(
        {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 3, 4], "data": [0.0] * 12}]}))
    expect(status, json.loads(body), 400, "model 'add_one' input 'x' takes FP32 of shape [1,3,4,4]",
           "a wrong shape names model, input, expected and given")
    status, _, body = server.request("POST", path, json.dumps(
        {"inputs": [{"name": "x", "datatype": "INT64", "shape": [1, 3, 4, 4], "data": [0] * 48}]}))
    expect(status, json.loads(body), 400, "the request gives INT64", "a wrong datatype")
    status, _, body = server.request("POST", path, json.dumps(
        {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 3, 4, 4],
                     "parameters": {"binary_data_size": 1 << 40}}]}),
        {"Inference-Header-Content-Length": "130"})
    check(status == 400, f"a huge binary_data_size is 400 ({status})")
    status, _, body = server.request("POST", path, b'{"inputs":[]}',
                                     {"Inference-Header-Content-Length": "999999"})
    expect(status, json.loads(body), 400, "Inference-Header-Content-Length",
           "a header length beyond the body")
    status, _, body = server.request("POST", path, b"[" * 200000 + b"]" * 200000)
    check(status == 400, f"JSON nested 200,000 deep is 400 ({status})")
    status, _, body = server.request("POST", "/v2/models/nothing/infer", b'{"inputs":[]}')
    expect(status, json.loads(body), 404, "unknown model 'nothing'", "an unknown model")
    status, _, body = server.request("POST", "/v2/models/add_one/versions/7/infer", b'{"inputs":[]}')
    expect(status, json.loads(body), 404, "no version '7'", "an unknown version")
    status, _, body = server.request("GET", "/v2/nowhere")
    expect(status, json.loads(body), 404, "no endpoint", "an unknown endpoint")
    status, _, body = server.request("POST", path, b"x" * (5 << 20))
    expect(status, json.loads(body) if body else None, 413, "--http-max-request-bytes",
           "a body over the limit")
    # A declared size far beyond the limit, with little sent: refused before it is read.
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_LIMIT)
    raw.sendall(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                b"Content-Length: 100000000000\r\n\r\n{")
    reply = raw.recv(4096)
    raw.close()
    check(reply.startswith(b"HTTP/1.1 413"), f"a declared 100 GB body is 413 ({reply[:40]})")
    # Garbage on the socket, and a connection closed half way through a request.
    for garbage in (b"\x00\xff" * 1000 + b"\r\n\r\n", b"GET /v2 HTTP/1.1\r\nHost: x\r\nContent-Le"):
        raw = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_LIMIT)
        raw.sendall(garbage)
        raw.close()
    status, _, _ = server.request("GET", "/v2/health/live")
    check(status == 200 and server.process.poll() is None, "the server is up after all of it")


def check_start_errors(server, work, repository):
    """A port in use, and flags that need each other, stop `corun serve` with the reason."""
    result = subprocess.run([CORUN, "serve", "--socket", os.path.join(work, "second.sock"),
                             "--http", str(server.port), "--model-repository", repository],
                            capture_output=True, text=True, timeout=WAIT_LIMIT)
    check(result.returncode == 1 and f"cannot listen on 127.0.0.1:{server.port}" in result.stderr,
          "a second server on the same port exits 1 naming the port", result)
    result = subprocess.run([CORUN, "serve", "--socket", os.path.join(work, "third.sock"),
                             "--http", "0"], capture_output=True, text=True, timeout=WAIT_LIMIT)
    check(result.returncode == 2 and "--model-repository" in result.stderr,
          "--http without --model-repository is refused", result)
    result = subprocess.run([CORUN, "serve", "--socket", os.path.join(work, "fourth.sock"),
                             "--http", "0", "--model-repository", os.path.join(work, "none")],
                            capture_output=True, text=True, timeout=WAIT_LIMIT)
    check(result.returncode == 1 and "cannot read the model repository" in result.stderr,
          "a repository folder that does not exist stops the server with the reason", result)
    status, _, _ = server.request("GET", "/v2/health/live")
    check(status == 200, "the first server is unaffected")


def run_token_checks(work):
    token_dir = os.path.join(work, "token")
    os.makedirs(token_dir)
    repository = os.path.join(token_dir, "repository")
    os.makedirs(os.path.join(repository, "add_one", "1"))
    shutil.copy(os.path.join(TEST_MODELS, "add_one.onnx"),
                os.path.join(repository, "add_one", "1", "model.onnx"))
    token = "s3cret-token-0123456789abcdef"
    token_file = os.path.join(token_dir, "token")
    with open(token_file, "w") as out:
        out.write(token + "\n")
    server = Server(token_dir, repository, "--http-token-file", token_file)
    try:
        status, headers, _ = server.request("GET", "/v2/models/add_one")
        check(status == 401 and headers.get("WWW-Authenticate") == "Bearer", "no token: 401")
        status, _, _ = server.request("GET", "/v2/models/add_one",
                                      headers={"Authorization": "Bearer wrong"})
        check(status == 401, "a wrong token: 401")
        status, _, _ = server.request("GET", "/metrics")
        check(status == 401, "metrics need the token too")
        status, _, _ = server.request("GET", "/v2/models/add_one",
                                      headers={"Authorization": "Bearer " + token})
        check(status == 200, "the right token: 200")
        status, _, _ = server.request("GET", "/v2/health/ready")
        check(status == 200, "health needs no token")
    finally:
        server.stop()
    result = subprocess.run([CORUN, "serve", "--socket", os.path.join(token_dir, "s2"), "--http",
                             "0", "--model-repository", repository, "--http-token-file",
                             os.path.join(token_dir, "none")],
                            capture_output=True, text=True, timeout=WAIT_LIMIT)
    check(result.returncode == 2 and "cannot read" in result.stderr,
          "a missing token file is refused at start", result)


if __name__ == "__main__":
    main()
