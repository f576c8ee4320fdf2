#!/usr/bin/python3
"""`corun serve` with a generative model and routed models in its repository (issue 15): the real
server process, the tiny qwen2 GGUF the genai tests write (real tokenizer, random weights) and the
generated add_one model, clients speaking KServe v2 REST with http.client.

Generative: `POST v2/models/M/generate` greedy equals what the C++ API (`corun generate`, a
genai::LLM in its own process) produces for the same prompt, to the byte; `generate_stream`
events (server-sent events) concatenate to the same text; a stop sequence ends it; bad requests
(not JSON, no text_input, unknown or out-of-range parameters) get 400 with the reason; infer on
the LLM and generate on an ONNX model get 400 naming the other endpoint; metadata and ready; the
client closing a stream aborts the generation (corun_generations_total{finish_reason="aborted"});
corun_generated_tokens_total counts exactly the tokens generated; the time-to-first-token
histogram counts every generation.

Routed: a model with "placements": ["npu-sim", "cpu"] whose npu-sim profile knows it runs there,
outputs equal to the C++ API's (`corun run` in-process), response parameter placement
"npu-sim"; a request whose timeout the npu-sim placement is predicted to miss falls back to cpu
(placement "cpu", corun_routed_fallbacks_total{placement="npu-sim"} 1); a routed model the
profile does not know runs on cpu with npu-sim out of service in the metrics.

Without the tiny GGUF (a build with -DCORUN_GENAI=OFF: the TSan build) only the routed checks
run. Every wait is bounded.

usage: serving_generate_test.py CORUN TEST_MODEL_DIR
"""
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from cli_checks import check, finish  # noqa: E402
from server_process import http_json, http_request, stop_server  # noqa: E402

CORUN, TEST_MODELS = sys.argv[1:3]
WAIT_LIMIT = 120  # seconds; far beyond what a passing run needs
GGUF = os.path.join(TEST_MODELS, "genai", "tiny_qwen2.gguf")
ADD_ONE = os.path.join(TEST_MODELS, "add_one.onnx")
PROMPT = "The quick brown fox jumps over the lazy dog. Once upon a time"
CONTEXT = 2048
HAVE_LLM = os.path.exists(GGUF)


class Server:
    """A `corun serve` process with its own socket and a REST port it picked itself."""

    def __init__(self, work, repository, *extra):
        self.log_path = os.path.join(work, "serve.log")
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [CORUN, "serve", "--socket", os.path.join(work, "corund.sock"), "--http", "0",
             "--model-repository", repository, *extra],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.port = None
        deadline = time.time() + WAIT_LIMIT
        while time.time() < deadline and self.port is None and self.process.poll() is None:
            found = re.search(r"REST on http://127\.0\.0\.1:(\d+)/v2", self.read_log())
            if found:
                self.port = int(found.group(1))
            else:
                time.sleep(0.05)
        if self.port is None:
            raise RuntimeError("corun serve did not start:\n" + self.read_log())
        while time.time() < deadline and self.request("GET", "/v2/health/ready")[0] != 200:
            time.sleep(0.05)

    def read_log(self):
        with open(self.log_path) as log:
            return log.read()

    def request(self, method, path, body=None, headers=None):
        return http_request(self.port, method, path, body, headers, WAIT_LIMIT)

    def json(self, method, path, payload=None):
        return http_json(self.port, method, path, payload, timeout=WAIT_LIMIT)

    def metrics(self):
        status, _, body = self.request("GET", "/metrics")
        check(status == 200, "GET /metrics")
        values = {}
        for line in body.decode().splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                values[name] = float(value)
        return values

    def stop(self):
        return stop_server(self.process, self.log)


def make_repository(root, work):
    def model(name, source, file_name, config):
        os.makedirs(os.path.join(root, name, "1"))
        shutil.copy(source, os.path.join(root, name, "1", file_name))
        if config is not None:
            with open(os.path.join(root, name, "config.json"), "w") as out:
                json.dump(config, out)

    if HAVE_LLM:
        model("tiny", GGUF, "model.gguf", {"context_size": CONTEXT, "threads": 1})
    model("add_one", ADD_ONE, "model.onnx", None)
    # npu-sim finds a model in its profile by the file's stem.
    model("routed", ADD_ONE, "add_one.onnx", {"file": "add_one.onnx",
                                               "placements": ["npu-sim", "cpu"]})
    model("routed_unknown", ADD_ONE, "model.onnx", {"placements": ["npu-sim", "cpu"]})
    profile = os.path.join(work, "npu_profile.json")
    with open(profile, "w") as out:
        json.dump({"device": {"context_switch_us": 0},
                   "models": {"add_one": {"frame_us": 200000, "burst_overhead_us": 0,
                                          "host_pre_us": 0, "host_post_us": 0,
                                          "max_in_flight": 2}}}, out)
    return profile


def cpp_api_text(prompt, max_tokens, *extra):
    """What genai::LLM generates for the prompt in a process of its own (`corun generate`)."""
    result = subprocess.run(
        [CORUN, "generate", GGUF, prompt, "--json", "--max-tokens", str(max_tokens),
         "--context", str(CONTEXT), "--threads", "1", *extra],
        capture_output=True, text=True, timeout=WAIT_LIMIT)
    check(result.returncode == 0, "corun generate (the C++ API's text)", result)
    return json.loads(result.stdout) if result.returncode == 0 else {"text": None}


def stream_events(server, model, payload, stop_after=None):
    """The data of each server-sent event; with stop_after, closes the connection after that
    many events."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=WAIT_LIMIT)
    connection.request("POST", f"/v2/models/{model}/generate_stream",
                       body=json.dumps(payload).encode())
    response = connection.getresponse()
    check(response.status == 200, f"generate_stream answers 200 (got {response.status})")
    check(response.getheader("Content-Type", "").startswith("text/event-stream"),
          "generate_stream is text/event-stream")
    events = []
    buffer = b""
    malformed = 0
    while stop_after is None or len(events) < stop_after:
        chunk = response.read1(65536)
        if not chunk:
            break
        buffer += chunk
        while b"\n\n" in buffer:
            event, buffer = buffer.split(b"\n\n", 1)
            if not event.startswith(b"data: "):
                malformed += 1
                continue
            events.append(json.loads(event[len(b"data: "):]))
    connection.close()
    check(malformed == 0 and buffer == b"" or stop_after is not None,
          f"every event is one data: line ({malformed} not)")
    return events


def check_generate(server):
    max_tokens = 24
    reference = cpp_api_text(PROMPT, max_tokens)
    status, answer = server.json("POST", "/v2/models/tiny/generate",
                                 {"id": "g1", "text_input": PROMPT,
                                  "parameters": {"max_tokens": max_tokens, "temperature": 0}})
    check(status == 200, f"generate answers 200 ({status}: {answer})")
    check(answer["text_output"] == reference["text"],
          f"generate's greedy text equals the C++ API's, byte for byte "
          f"({answer['text_output']!r} vs {reference['text']!r})")
    check(answer["model_name"] == "tiny" and answer["model_version"] == "1" and answer["id"] == "g1",
          "generate names model, version and echoes the id")
    check(answer["generated_tokens"] == max_tokens and answer["finish_reason"] == "length",
          f"max_tokens tokens, finish_reason length ({answer['generated_tokens']}, "
          f"{answer['finish_reason']})")
    check(answer["prompt_tokens"] == reference["prompt_tokens"], "prompt tokens as the C++ API's")

    events = stream_events(server, "tiny", {"text_input": PROMPT,
                                            "parameters": {"max_tokens": max_tokens}})
    pieces = [event["text_output"] for event in events]
    check(len(events) >= 2 and "".join(pieces) == reference["text"],
          f"generate_stream's {len(events)} events concatenate to the same text")
    check(events[-1].get("finish_reason") == "length" and events[-1]["generated_tokens"] == max_tokens,
          "the last event says how the generation ended")
    check(all("finish_reason" not in event for event in events[:-1]),
          "only the last event carries finish_reason")

    # A stop sequence from the middle of the reference text ends the generation before it.
    text = reference["text"] or ""
    stop = text[len(text) // 2:len(text) // 2 + 4]
    if stop.strip():
        reference_stop = cpp_api_text(PROMPT, max_tokens, "--stop", stop)
        status, answer = server.json("POST", "/v2/models/tiny/generate",
                                     {"text_input": PROMPT,
                                      "parameters": {"max_tokens": max_tokens, "stop": [stop]}})
        check(status == 200 and answer["text_output"] == reference_stop["text"] and
              answer["finish_reason"] == "stop",
              f"a stop sequence ends it as the C++ API's does ({answer})")
    # Sampling with a seed: the same seed, the same text (each request has a fresh context).
    sampled = {"text_input": PROMPT,
               "parameters": {"max_tokens": 12, "temperature": 0.8, "seed": 7, "top_k": 40}}
    first = server.json("POST", "/v2/models/tiny/generate", sampled)
    second = server.json("POST", "/v2/models/tiny/generate", sampled)
    check(first[0] == 200 and first[1]["text_output"] == second[1]["text_output"],
          "the same seed gives the same text on a fresh context")


def check_generate_errors(server):
    for body, what in [(b"{", "not JSON"), (b"[]", "not an object"),
                       (b'{"parameters": {}}', "no text_input"),
                       (b'{"text_input": 5}', "text_input not a string"),
                       (b'{"text_input": "a", "parameters": {"max_token": 5}}', "unknown parameter"),
                       (b'{"text_input": "a", "parameters": {"max_tokens": 0}}', "max_tokens 0"),
                       (b'{"text_input": "a", "parameters": {"temperature": -1}}', "temperature -1"),
                       (b'{"text_input": "a", "parameters": {"stop": [1]}}', "stop not strings"),
                       (b'{"text_input": "a", "extra": 1}', "unknown field")]:
        for endpoint in ("generate", "generate_stream"):
            status, _, data = server.request("POST", f"/v2/models/tiny/{endpoint}", body)
            check(status == 400 and b"error" in data, f"{endpoint}: {what} -> 400 ({status} {data[:200]})")
    long_prompt = "word " * (CONTEXT + 100)
    status, answer = server.json("POST", "/v2/models/tiny/generate", {"text_input": long_prompt})
    check(status == 400 and "context" in answer["error"],
          f"a prompt longer than the context -> 400 naming the context ({status})")
    status, answer = server.json("POST", "/v2/models/add_one/generate", {"text_input": "a"})
    check(status == 400 and "infer" in answer["error"],
          f"generate on an ONNX model -> 400 naming infer ({status} {answer})")
    status, _, data = server.request("POST", "/v2/models/add_one/generate_stream",
                                     b'{"text_input": "a"}')
    check(status == 400 and b"infer" in data, "generate_stream on an ONNX model -> 400")
    status, answer = server.json("POST", "/v2/models/tiny/infer",
                                 {"inputs": [{"name": "text_input", "datatype": "BYTES",
                                              "shape": [1], "data": ["a"]}]})
    check(status == 400 and "generate" in answer["error"],
          f"infer on the LLM -> 400 naming generate ({status} {answer})")
    status, answer = server.json("POST", "/v2/models/nothing/generate", {"text_input": "a"})
    check(status == 404, "generate on an unknown model -> 404")
    status, metadata = server.json("GET", "/v2/models/tiny")
    check(status == 200 and metadata["platform"] == "llama.cpp_gguf" and
          metadata["inputs"] == [{"name": "text_input", "datatype": "BYTES", "shape": [1]}] and
          metadata["outputs"] == [{"name": "text_output", "datatype": "BYTES", "shape": [1]}],
          f"the LLM's metadata ({metadata})")
    check(server.request("GET", "/v2/models/tiny/ready")[0] == 200, "the LLM is ready")


def check_stream_abort(server):
    before = server.metrics()
    aborted_key = 'corun_generations_total{model="tiny",version="1",finish_reason="aborted"}'
    events = stream_events(server, "tiny", {"text_input": PROMPT,
                                            "parameters": {"max_tokens": CONTEXT - 100}},
                           stop_after=2)
    check(len(events) == 2, "two events read before closing the stream")
    deadline = time.time() + WAIT_LIMIT
    after = server.metrics()
    while time.time() < deadline and after.get(aborted_key, 0) == before.get(aborted_key, 0):
        time.sleep(0.05)
        after = server.metrics()
    check(after.get(aborted_key, 0) == before.get(aborted_key, 0) + 1,
          "closing the stream aborted the generation (finish_reason aborted)")
    tokens_key = 'corun_generated_tokens_total{model="tiny",version="1"}'
    check(after[tokens_key] - before[tokens_key] < CONTEXT - 100,
          f"the aborted generation stopped early ({after[tokens_key] - before[tokens_key]} tokens)")
    # The LLM serves the next request on a fresh context.
    status, answer = server.json("POST", "/v2/models/tiny/generate",
                                 {"text_input": PROMPT, "parameters": {"max_tokens": 4}})
    check(status == 200 and answer["generated_tokens"] == 4, "the next generate after an abort")


def check_generative_metrics(server):
    values = server.metrics()
    label = '{model="tiny",version="1"}'
    # Every generation above, with the tokens each answer reported: 24 (generate) + 24 (stream)
    # + the stop one + 12 + 12 (sampled) + the aborted one + 4; the counter is checked against
    # the sum of what the TTFT histogram and the answers say in check_counts below.
    check(values.get("corun_generated_tokens_total" + label, 0) > 0, "corun_generated_tokens_total")
    check(values.get("corun_generation_tokens_per_second" + label, 0) > 0,
          "corun_generation_tokens_per_second is measured")
    count = values.get("corun_time_to_first_token_us_count" + label, -1)
    finished = sum(values.get(f'corun_generations_total{{model="tiny",version="1",'
                              f'finish_reason="{reason}"}}', 0)
                   for reason in ("length", "stop", "aborted", "error"))
    check(count == finished and count > 0,
          f"the TTFT histogram counts every generation that produced a token ({count}, {finished})")
    check(values.get('nv_inference_request_success' + label, 0) >= 6,
          "generate requests count in nv_inference_request_success")


def check_exact_token_count(server):
    before = server.metrics()
    key = 'corun_generated_tokens_total{model="tiny",version="1"}'
    for tokens in (3, 5, 7):
        status, answer = server.json("POST", "/v2/models/tiny/generate",
                                     {"text_input": PROMPT, "parameters": {"max_tokens": tokens}})
        check(status == 200 and answer["generated_tokens"] == tokens, f"generate {tokens} tokens")
    after = server.metrics()
    check(after[key] - before[key] == 15,
          f"corun_generated_tokens_total grew by exactly 15 ({after[key] - before[key]})")


def cpp_api_outputs(array, work):
    npy = os.path.join(work, "input.npy")
    np.save(npy, array)
    out = os.path.join(work, "cpp_outputs")
    shutil.rmtree(out, ignore_errors=True)
    result = subprocess.run([CORUN, "run", ADD_ONE, "--input", f"x={npy}", "--output-dir", out],
                            capture_output=True, text=True, timeout=WAIT_LIMIT)
    check(result.returncode == 0, "corun run (the C++ API's outputs)", result)
    listed = json.load(open(os.path.join(out, "outputs.json")))
    entries = listed["outputs"] if isinstance(listed, dict) else listed
    return {entry["name"]: open(os.path.join(out, entry["bin"]), "rb").read() for entry in entries}


def routed_infer(server, model, array, parameters=None):
    payload = {"inputs": [{"name": "x", "datatype": "FP32", "shape": list(array.shape),
                           "data": array.flatten().tolist()}]}
    if parameters:
        payload["parameters"] = parameters
    return server.json("POST", f"/v2/models/{model}/infer", payload)


def check_routed(server, work):
    array = np.arange(48, dtype=np.float32).reshape(1, 3, 4, 4) / 7
    reference = cpp_api_outputs(array, work)
    status, answer = routed_infer(server, "routed", array)
    check(status == 200, f"infer on the routed model ({status} {answer})")
    if status != 200:
        return
    output = answer["outputs"][0]
    check(np.array(output["data"], np.float32).tobytes() == reference.get(output["name"]),
          "the routed model's outputs equal the C++ API's")
    check(answer.get("parameters", {}).get("placement") == "npu-sim",
          f"the response names the placement: npu-sim, the first ({answer.get('parameters')})")
    # 100 ms: the profile's 200 ms frame on npu-sim cannot make it; cpu can.
    status, answer = routed_infer(server, "routed", array, {"timeout": 100000})
    check(status == 200 and answer.get("parameters", {}).get("placement") == "cpu",
          f"a frame npu-sim would finish late runs on cpu ({status} {answer.get('parameters')})")
    status, answer = routed_infer(server, "routed_unknown", array)
    check(status == 200 and answer.get("parameters", {}).get("placement") == "cpu",
          f"a model the npu-sim profile does not know runs on cpu ({answer.get('parameters')})")
    values = server.metrics()

    def metric(name, model, placement):
        return values.get(f'{name}{{model="{model}",version="1",placement="{placement}"}}')
    check(metric("corun_routed_frames_total", "routed", "npu-sim") == 1 and
          metric("corun_routed_frames_total", "routed", "cpu") == 1,
          "corun_routed_frames_total: one frame on each placement")
    check(metric("corun_routed_fallbacks_total", "routed", "npu-sim") == 1 and
          metric("corun_routed_fallbacks_total", "routed", "cpu") == 0,
          "corun_routed_fallbacks_total: the late frame fell back from npu-sim")
    check(metric("corun_routed_placement_in_service", "routed_unknown", "npu-sim") == 0 and
          metric("corun_routed_placement_in_service", "routed_unknown", "cpu") == 1 and
          metric("corun_routed_frames_total", "routed_unknown", "cpu") == 1,
          "the model npu-sim cannot load: npu-sim out of service, its frame on cpu")


def main():
    work = tempfile.mkdtemp(prefix="corun_serving_generate_")
    repository = os.path.join(work, "repository")
    profile = make_repository(repository, work)
    server = Server(work, repository, "--npu-sim-profile", profile)
    try:
        if HAVE_LLM:
            check_generate(server)
            check_generate_errors(server)
            check_stream_abort(server)
            check_generative_metrics(server)
            check_exact_token_count(server)
        else:
            print("(no", GGUF, "in this build: the generative checks are skipped)")
        check_routed(server, work)
        check(server.process.poll() is None, "the server is still up")
    finally:
        code = server.stop()
        check(code == 0, f"SIGTERM ends the server cleanly (exit {code})")
        if code != 0:
            print(server.read_log()[-3000:])
    shutil.rmtree(work, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
