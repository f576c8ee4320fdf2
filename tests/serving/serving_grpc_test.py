#!/usr/bin/python3
"""`corun serve --grpc PORT --http PORT --model-repository DIR` end to end (issue 15): the real
server process on free loopback ports, a real zoo model (mobilefacenet) and a generated one
(add_one), and a client speaking KServe v2 gRPC with Debian's python3-grpcio, its stubs
generated from our src/serving/grpc_service.proto at test time (python3-grpc-tools).

Checks: health, server and model metadata, model config; ModelInfer on mobilefacenet with outputs
equal bit for bit to the REST front's and to the C++ API's (`corun run --multi-process-service`
on the server's socket); typed `contents` as well as raw_input_contents; ModelStreamInfer with
several requests (one bad among them), each answered once with its id; ModelStatistics counting
exactly what the test sent; system shared memory (inputs read from and outputs written to a
POSIX shm object, status, unregister); the repository calls (index, unload: UNAVAILABLE,
load); wire priority 1 scheduled at corun's 31; bad requests (unknown model, wrong datatype, shape and
size, bad shared-memory offset, missing region, timeout 0, queue full, a frame stopped at its
time limit) get the right gRPC codes with the
reason and the server stays up; a message over the size limit; the bearer token.

Exits 77 (skipped) when the zoo models are not in the cache. Every wait is bounded.

usage: serving_grpc_test.py CORUN MODEL_CACHE_DIR TEST_MODEL_DIR PROTO_DIR
"""
import json
import mmap
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from cli_checks import check, finish  # noqa: E402
from server_process import stop_server  # noqa: E402

CORUN, CACHE, TEST_MODELS, PROTO_DIR = sys.argv[1:5]
TINY_LLM = os.path.join(TEST_MODELS, "genai", "tiny_qwen2.gguf")  # absent without the engines
SERVED = ["add_one", "endless", "mobilefacenet", "routed"] + (["tiny"] if os.path.exists(TINY_LLM)
                                                              else [])
WAIT_LIMIT = 120  # seconds; far beyond what a passing run needs
MOBILEFACENET = os.path.join(CACHE, "models/mobilefacenet/mobilefacenet.onnx")
if not os.path.exists(MOBILEFACENET):
    print("skipped: no zoo models in", CACHE, "; run scripts/fetch_models.sh")
    sys.exit(77)

try:
    import grpc
except ImportError:
    print("skipped: python3-grpcio is not installed (scripts/setup.sh installs it)")
    sys.exit(77)

STUBS = tempfile.mkdtemp(prefix="corun_grpc_stubs_")
generated = subprocess.run(
    ["/usr/bin/python3", "-m", "grpc_tools.protoc", "-I", PROTO_DIR, f"--python_out={STUBS}",
     f"--grpc_python_out={STUBS}", os.path.join(PROTO_DIR, "grpc_service.proto")],
    capture_output=True, text=True, timeout=WAIT_LIMIT)
if generated.returncode != 0:
    print("FAIL: python3 -m grpc_tools.protoc on grpc_service.proto:", generated.stderr)
    sys.exit(1)
sys.path.insert(0, STUBS)
import grpc_service_pb2 as pb  # noqa: E402
import grpc_service_pb2_grpc as pb_grpc  # noqa: E402


class Server:
    """A `corun serve` process with its own socket, REST and gRPC ports it picked itself."""

    def __init__(self, work, repository, *extra):
        self.socket = os.path.join(work, "corund.sock")
        self.log_path = os.path.join(work, "serve.log")
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [CORUN, "serve", "--socket", self.socket, "--http", "0", "--grpc", "0",
             "--model-repository", repository, *extra],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.port = self.grpc_port = None
        deadline = time.time() + WAIT_LIMIT
        while time.time() < deadline and self.process.poll() is None:
            log = self.read_log()
            rest = re.search(r"REST on http://127\.0\.0\.1:(\d+)/v2", log)
            grpc_found = re.search(r"gRPC on 127\.0\.0\.1:(\d+)", log)
            if rest and grpc_found and "KServe" in log:
                self.port, self.grpc_port = int(rest.group(1)), int(grpc_found.group(1))
                break
            time.sleep(0.05)
        if self.grpc_port is None:
            raise RuntimeError("corun serve did not start:\n" + self.read_log())
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.grpc_port}")
        self.stub = pb_grpc.GRPCInferenceServiceStub(self.channel)
        while time.time() < deadline:
            try:
                if self.stub.ServerReady(pb.ServerReadyRequest(), timeout=WAIT_LIMIT).ready:
                    break
            except grpc.RpcError:
                pass
            time.sleep(0.05)

    def read_log(self):
        with open(self.log_path) as log:
            return log.read()

    def stop(self):
        self.channel.close()
        return stop_server(self.process, self.log)


def make_repository(root):
    os.makedirs(os.path.join(root, "mobilefacenet", "1"))
    shutil.copy(MOBILEFACENET, os.path.join(root, "mobilefacenet", "1", "model.onnx"))
    os.makedirs(os.path.join(root, "add_one", "1"))
    shutil.copy(os.path.join(TEST_MODELS, "add_one.onnx"),
                os.path.join(root, "add_one", "1", "model.onnx"))
    # A frame of endless_loop runs until its 5 s limit: a second request sent meanwhile finds the
    # queue full (5 s: far longer than seeing the first inside and sending it take, even on a
    # loaded machine).
    os.makedirs(os.path.join(root, "endless", "1"))
    shutil.copy(os.path.join(TEST_MODELS, "endless_loop.onnx"),
                os.path.join(root, "endless", "1", "model.onnx"))
    with open(os.path.join(root, "endless", "config.json"), "w") as config:
        config.write('{"max_queued_requests": 1, "frame_time_limit_ms": 5000}')
    # A routed model on the shared cpu device alone, and the tiny LLM when this build has it.
    os.makedirs(os.path.join(root, "routed", "1"))
    shutil.copy(os.path.join(TEST_MODELS, "add_one.onnx"),
                os.path.join(root, "routed", "1", "model.onnx"))
    with open(os.path.join(root, "routed", "config.json"), "w") as config:
        config.write('{"placements": ["cpu"]}')
    if os.path.exists(TINY_LLM):
        os.makedirs(os.path.join(root, "tiny", "1"))
        shutil.copy(TINY_LLM, os.path.join(root, "tiny", "1", "model.gguf"))
        with open(os.path.join(root, "tiny", "config.json"), "w") as config:
            config.write('{"context_size": 256, "threads": 1}')


def check_routed_and_generative(stub, x):
    """A routed model's answer names its placement; an LLM has metadata and refuses ModelInfer
    naming the generate extension."""
    reply = stub.ModelInfer(raw_request("routed", "x", x), timeout=WAIT_LIMIT)
    check(reply.parameters["placement"].string_param == "cpu" and
          np.frombuffer(reply.raw_output_contents[0], np.float32).tobytes() == (x + 1).tobytes(),
          f"ModelInfer on a routed model: outputs, and parameters['placement'] 'cpu' "
          f"({reply.parameters})")
    plain = stub.ModelInfer(raw_request("add_one", "x", x), timeout=WAIT_LIMIT)
    check("placement" not in plain.parameters, "a model that is not routed names no placement")
    if not os.path.exists(TINY_LLM):
        print("(no tiny GGUF in this build: the LLM checks are skipped)")
        return
    metadata = stub.ModelMetadata(pb.ModelMetadataRequest(name="tiny"), timeout=WAIT_LIMIT)
    check(metadata.platform == "llama.cpp_gguf" and metadata.inputs[0].name == "text_input" and
          metadata.inputs[0].datatype == "BYTES" and metadata.outputs[0].name == "text_output",
          f"ModelMetadata of the LLM ({metadata})")
    ready = stub.ModelReady(pb.ModelReadyRequest(name="tiny"), timeout=WAIT_LIMIT)
    check(ready.ready, "ModelReady of the LLM")
    request = pb.ModelInferRequest(model_name="tiny")
    tensor = request.inputs.add(name="text_input", datatype="BYTES")
    tensor.shape.append(1)
    tensor.contents.bytes_contents.append(b"hello")
    code, details = call_error(stub.ModelInfer, request)
    check(code == grpc.StatusCode.INVALID_ARGUMENT and "generate" in (details or ""),
          f"ModelInfer on the LLM: INVALID_ARGUMENT naming generate ({code}, {details})")


def call_error(function, request, metadata=None):
    """(grpc.StatusCode, details) of a call expected to fail; (OK, None) if it did not."""
    try:
        function(request, timeout=WAIT_LIMIT, metadata=metadata)
    except grpc.RpcError as error:
        return error.code(), error.details()
    return grpc.StatusCode.OK, None


def raw_request(model, name, array, request_id="", datatype="FP32", shape=None):
    request = pb.ModelInferRequest(model_name=model, id=request_id)
    tensor = request.inputs.add(name=name, datatype=datatype)
    tensor.shape.extend(array.shape if shape is None else shape)
    request.raw_input_contents.append(array.tobytes())
    return request


def cpp_api_outputs(server, input_name, array, work):
    """Each output's raw bytes as the C++ API computes them on the server's own device."""
    npy = os.path.join(work, "input.npy")
    np.save(npy, array)
    out = os.path.join(work, "cpp_outputs")
    result = subprocess.run(
        [CORUN, "run", MOBILEFACENET, "--input", f"{input_name}={npy}", "--output-dir", out,
         "--multi-process-service", "--service-socket", server.socket],
        capture_output=True, text=True, timeout=WAIT_LIMIT)
    check(result.returncode == 0, "corun run --multi-process-service on the server's socket", result)
    if result.returncode != 0:
        return {}
    listed = json.load(open(os.path.join(out, "outputs.json")))
    entries = listed["outputs"] if isinstance(listed, dict) else listed
    return {entry["name"]: open(os.path.join(out, entry["bin"]), "rb").read() for entry in entries}


def rest_binary_outputs(server, input_name, array):
    """{name: raw bytes} of the same request through the REST front's binary-data extension."""
    header = json.dumps({"inputs": [{"name": input_name, "datatype": "FP32",
                                     "shape": list(array.shape),
                                     "parameters": {"binary_data_size": array.nbytes}}],
                         "parameters": {"binary_data_output": True}}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/v2/models/mobilefacenet/infer",
        data=header + array.tobytes(),
        headers={"Inference-Header-Content-Length": str(len(header)),
                 "Content-Type": "application/octet-stream"}, method="POST")
    with urllib.request.urlopen(request, timeout=WAIT_LIMIT) as response:
        length = int(response.headers["Inference-Header-Content-Length"])
        body = response.read()
    reply = json.loads(body[:length])
    outputs, offset = {}, length
    for output in reply["outputs"]:
        size = output["parameters"]["binary_data_size"]
        outputs[output["name"]] = body[offset:offset + size]
        offset += size
    return outputs


def check_health_and_metadata(stub):
    check(stub.ServerLive(pb.ServerLiveRequest(), timeout=WAIT_LIMIT).live, "ServerLive")
    check(stub.ServerReady(pb.ServerReadyRequest(), timeout=WAIT_LIMIT).ready, "ServerReady")
    metadata = stub.ServerMetadata(pb.ServerMetadataRequest(), timeout=WAIT_LIMIT)
    check(metadata.name == "corun" and "system_shared_memory" in metadata.extensions,
          f"ServerMetadata: {metadata}")
    check(stub.ModelReady(pb.ModelReadyRequest(name="mobilefacenet"), timeout=WAIT_LIMIT).ready,
          "ModelReady mobilefacenet")
    code, details = call_error(stub.ModelReady, pb.ModelReadyRequest(name="nothing"))
    check(code == grpc.StatusCode.NOT_FOUND and "nothing" in details,
          f"ModelReady of an unknown model is NOT_FOUND ({code}, {details})")
    model = stub.ModelMetadata(pb.ModelMetadataRequest(name="mobilefacenet"), timeout=WAIT_LIMIT)
    check(model.name == "mobilefacenet" and list(model.versions) == ["1"] and
          model.platform == "onnxruntime_onnx" and model.inputs[0].datatype == "FP32",
          f"ModelMetadata: {model}")
    config = stub.ModelConfig(pb.ModelConfigRequest(name="add_one"), timeout=WAIT_LIMIT).config
    check(config.name == "add_one" and config.platform == "onnxruntime_onnx" and
          config.max_batch_size == 0 and config.input[0].name == "x" and
          config.input[0].data_type == pb.TYPE_FP32 and list(config.input[0].dims) == [1, 3, 4, 4]
          and config.output[0].data_type == pb.TYPE_FP32, f"ModelConfig: {config}")
    code, _ = call_error(stub.ModelConfig, pb.ModelConfigRequest(name="nothing"))
    check(code == grpc.StatusCode.NOT_FOUND, f"ModelConfig of an unknown model ({code})")
    return list(model.inputs[0].shape), model.inputs[0].name


def check_infer(server, work, shape, input_name):
    rng = np.random.default_rng(15)
    array = rng.random(shape, dtype=np.float32)
    expected = cpp_api_outputs(server, input_name, array, work)
    rest = rest_binary_outputs(server, input_name, array)
    reply = server.stub.ModelInfer(raw_request("mobilefacenet", input_name, array, "g-1"),
                                   timeout=WAIT_LIMIT)
    check(reply.id == "g-1" and reply.model_name == "mobilefacenet" and reply.model_version == "1"
          and len(reply.outputs) == len(expected) > 0 and
          len(reply.raw_output_contents) == len(reply.outputs), "ModelInfer answers every output")
    for output, raw in zip(reply.outputs, reply.raw_output_contents):
        check(output.datatype == "FP32" and raw == expected.get(output.name) and
              raw == rest.get(output.name),
              f"gRPC output '{output.name}' equals the C++ API's and REST's bit for bit")

    # Typed contents instead of raw bytes: the same result.
    request = pb.ModelInferRequest(model_name="mobilefacenet")
    tensor = request.inputs.add(name=input_name, datatype="FP32")
    tensor.shape.extend(shape)
    tensor.contents.fp32_contents.extend(array.flatten().tolist())
    typed = server.stub.ModelInfer(request, timeout=WAIT_LIMIT)
    check(list(typed.raw_output_contents) == list(reply.raw_output_contents),
          "fp32_contents give the same outputs as raw_input_contents")


def check_add_one_and_statistics(stub):
    """Requests to add_one over gRPC only, then ModelStatistics counts exactly them."""
    x = np.arange(48, dtype=np.float32).reshape(1, 3, 4, 4)
    sent = 0
    for _ in range(3):
        reply = stub.ModelInfer(raw_request("add_one", "x", x), timeout=WAIT_LIMIT)
        sent += 1
        check(np.frombuffer(reply.raw_output_contents[0], np.float32).tobytes() ==
              (x + 1).tobytes(), "add_one over gRPC gives x + 1")

    # Streaming: several requests, one bad among them; each answered once with its id.
    def requests():
        for i in range(5):
            yield raw_request("add_one", "x", x + i, f"s{i}")
            if i == 2:
                yield raw_request("nothing", "x", x, "bad")
    answers = list(stub.ModelStreamInfer(requests(), timeout=WAIT_LIMIT))
    ids = [answer.infer_response.id for answer in answers]
    check(ids == ["s0", "s1", "s2", "bad", "s3", "s4"], f"every stream request answered once, in "
          f"order, with its id ({ids})")
    for answer in answers:
        if answer.infer_response.id == "bad":
            check("nothing" in answer.error_message,
                  f"the bad stream request has its error_message ({answer.error_message})")
        else:
            i = int(answer.infer_response.id[1:])
            check(answer.error_message == "" and
                  answer.infer_response.raw_output_contents[0] == (x + i + 1).tobytes(),
                  f"stream answer {answer.infer_response.id} is x + {i} + 1")
    sent += 5

    stats = stub.ModelStatistics(pb.ModelStatisticsRequest(name="add_one"), timeout=WAIT_LIMIT)
    check(len(stats.model_stats) == 1, "ModelStatistics lists add_one once")
    model = stats.model_stats[0]
    check(model.name == "add_one" and model.version == "1" and
          model.inference_stats.success.count == sent and model.inference_count == sent and
          model.execution_count >= 1 and model.inference_stats.fail.count == 0,
          f"ModelStatistics counts the {sent} requests sent: {model}")
    everything = stub.ModelStatistics(pb.ModelStatisticsRequest(), timeout=WAIT_LIMIT)
    check(sorted(m.name for m in everything.model_stats) == SERVED,
          "ModelStatistics without a name lists every model (LLMs included)")
    return x


def check_shared_memory(stub, x):
    key = f"/corun_grpc_test_{os.getpid()}"
    path = "/dev/shm" + key
    size = 4096
    with open(path, "w+b") as shm_file:
        shm_file.truncate(size)
    try:
        with open(path, "r+b") as shm_file:
            view = mmap.mmap(shm_file.fileno(), size)
        # The region is bytes [256, 256 + 1024) of the object; input at 0, output at 512.
        stub.SystemSharedMemoryRegister(pb.SystemSharedMemoryRegisterRequest(
            name="region", key=key, offset=256, byte_size=1024), timeout=WAIT_LIMIT)
        status = stub.SystemSharedMemoryStatus(pb.SystemSharedMemoryStatusRequest(),
                                               timeout=WAIT_LIMIT)
        check("region" in status.regions and status.regions["region"].key == key and
              status.regions["region"].byte_size == 1024, f"SystemSharedMemoryStatus: {status}")
        view[256:256 + x.nbytes] = x.tobytes()

        def shm_request(input_offset, output_offset, region="region", input_size=x.nbytes):
            request = pb.ModelInferRequest(model_name="add_one", id="shm")
            tensor = request.inputs.add(name="x", datatype="FP32")
            tensor.shape.extend(x.shape)
            tensor.parameters["shared_memory_region"].string_param = region
            tensor.parameters["shared_memory_offset"].int64_param = input_offset
            tensor.parameters["shared_memory_byte_size"].int64_param = input_size
            output = request.outputs.add(name="y")
            output.parameters["shared_memory_region"].string_param = "region"
            output.parameters["shared_memory_offset"].int64_param = output_offset
            output.parameters["shared_memory_byte_size"].int64_param = x.nbytes
            return request

        reply = stub.ModelInfer(shm_request(0, 512), timeout=WAIT_LIMIT)
        check(reply.outputs[0].name == "y" and
              reply.outputs[0].parameters["shared_memory_region"].string_param == "region" and
              reply.raw_output_contents[0] == b"",
              "a shared-memory output comes back as parameters, not bytes")
        check(view[768:768 + x.nbytes] == (x + 1).tobytes(),
              "the output was written into shared memory at the region's offset 512")

        code, details = call_error(stub.ModelInfer, shm_request(1000, 512))
        check(code == grpc.StatusCode.INVALID_ARGUMENT and "outside the region" in details,
              f"an input offset past the region is INVALID_ARGUMENT ({code}, {details})")
        code, details = call_error(stub.ModelInfer, shm_request(0, 900))
        check(code == grpc.StatusCode.INVALID_ARGUMENT and "outside the region" in details,
              f"an output offset past the region is INVALID_ARGUMENT ({code}, {details})")
        code, details = call_error(stub.ModelInfer, shm_request(0, 512, input_size=100))
        check(code == grpc.StatusCode.INVALID_ARGUMENT and "192 bytes" in details,
              f"a shared-memory input of the wrong size is INVALID_ARGUMENT ({details})")
        code, details = call_error(stub.ModelInfer, shm_request(0, 512, region="missing"))
        check(code == grpc.StatusCode.INVALID_ARGUMENT and "'missing' is not registered" in details,
              f"a missing region is INVALID_ARGUMENT ({code}, {details})")
        code, details = call_error(stub.SystemSharedMemoryRegister,
                                   pb.SystemSharedMemoryRegisterRequest(
                                       name="r2", key="/corun_no_such_shm", byte_size=16))
        check(code == grpc.StatusCode.NOT_FOUND, f"registering a missing object ({code})")
        code, details = call_error(stub.SystemSharedMemoryRegister,
                                   pb.SystemSharedMemoryRegisterRequest(
                                       name="r3", key=key, offset=4000, byte_size=1024))
        check(code == grpc.StatusCode.INVALID_ARGUMENT and "run past the end" in details,
              f"a region past the object's end ({code}, {details})")
        stub.SystemSharedMemoryUnregister(pb.SystemSharedMemoryUnregisterRequest(name="region"),
                                          timeout=WAIT_LIMIT)
        status = stub.SystemSharedMemoryStatus(pb.SystemSharedMemoryStatusRequest(),
                                               timeout=WAIT_LIMIT)
        check(len(status.regions) == 0, "unregistered: no region left")
        view.close()
    finally:
        os.unlink(path)


def check_bad_requests(server, x):
    stub = server.stub

    def expect(request, code, fragment, what):
        got, details = call_error(stub.ModelInfer, request)
        check(got == code and fragment in (details or ""), f"{what}: {got} {details}")

    expect(raw_request("nothing", "x", x), grpc.StatusCode.NOT_FOUND, "nothing",
           "an unknown model")
    expect(raw_request("add_one", "x", x.astype(np.int64), datatype="INT64"),
           grpc.StatusCode.INVALID_ARGUMENT, "INT64", "a wrong datatype")
    expect(raw_request("add_one", "x", x, shape=[1, 3, 16]),
           grpc.StatusCode.INVALID_ARGUMENT, "add_one", "a wrong shape")
    expect(raw_request("add_one", "x", x[:, :, :2], shape=[1, 3, 4, 4]),
           grpc.StatusCode.INVALID_ARGUMENT, "192 bytes, 96 were given", "a wrong raw size")
    expect(raw_request("add_one", "x", x, datatype="FP99"), grpc.StatusCode.INVALID_ARGUMENT,
           "FP99", "an unknown datatype")
    expect(raw_request("add_one", "x", x, shape=[-1, 48]), grpc.StatusCode.INVALID_ARGUMENT,
           "negative", "a negative dimension")
    expect(raw_request("add_one", "x", x, shape=[1 << 40, 1 << 40]),
           grpc.StatusCode.INVALID_ARGUMENT, "overflows", "a shape that overflows")
    no_data = pb.ModelInferRequest(model_name="add_one")
    no_data.inputs.add(name="x", datatype="FP32").shape.extend([1, 3, 4, 4])
    expect(no_data, grpc.StatusCode.INVALID_ARGUMENT, "no data", "an input without data")
    bad_priority = raw_request("add_one", "x", x)
    bad_priority.parameters["priority"].string_param = "high"
    expect(bad_priority, grpc.StatusCode.INVALID_ARGUMENT, "priority", "a string priority")
    timed = raw_request("add_one", "x", x)
    timed.parameters["timeout"].int64_param = 0
    expect(timed, grpc.StatusCode.DEADLINE_EXCEEDED, "deadline", "timeout 0")
    prioritised = raw_request("add_one", "x", x)
    prioritised.parameters["priority"].int64_param = 1
    reply = stub.ModelInfer(prioritised, timeout=WAIT_LIMIT)
    check(reply.raw_output_contents[0] == (x + 1).tobytes(), "priority 1 from the wire runs")
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics",
                                timeout=WAIT_LIMIT) as response:
        page = response.read().decode()
    frames = re.findall(r'corun_scheduler_frames_total\{model="add_one",version="1",'
                        r'priority="31",instance="\d+"\} (\d+)', page)
    check(frames == ["1"], f"gRPC priority 1 ran its frame at corun priority 31 ({frames})")
    # Over the size limit (4 MiB here): refused before it is parsed.
    big = np.zeros(5 << 18, dtype=np.float32)
    expect(raw_request("add_one", "x", big), grpc.StatusCode.RESOURCE_EXHAUSTED, "",
           "a message over --http-max-request-bytes")
    # Bytes that are no protobuf message at all, on the raw method.
    garbage = server.channel.unary_unary("/inference.GRPCInferenceService/ModelInfer",
                                         request_serializer=lambda raw: raw,
                                         response_deserializer=lambda raw: raw)
    code, _ = call_error(garbage, b"\xff" * 64)
    check(code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.INVALID_ARGUMENT),
          f"bytes that are not a message are refused ({code})")
    check_repository(stub, x)
    check_queue_full(server)
    check(stub.ServerLive(pb.ServerLiveRequest(), timeout=WAIT_LIMIT).live and
          server.process.poll() is None, "the server is up after all of it")


def check_queue_full(server):
    """The first request to `endless` holds its only queue place (until its frame is stopped at
    the time limit: DEADLINE_EXCEEDED); a second one meanwhile is RESOURCE_EXHAUSTED."""
    request = raw_request("endless", "x", np.zeros(1, np.float32))
    first = server.stub.ModelInfer.future(request, timeout=WAIT_LIMIT)
    deadline, pending = time.time() + WAIT_LIMIT, None
    while time.time() < deadline and pending != "1":
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics",
                                    timeout=WAIT_LIMIT) as response:
            found = re.search(r'^nv_inference_pending_request_count\{model="endless",'
                              r'version="1"\} (\d+)$', response.read().decode(), re.M)
        pending = found.group(1) if found else None
        time.sleep(0.01)
    check(pending == "1", "the first request to endless is inside the service")
    code, details = call_error(server.stub.ModelInfer, request)
    check(code == grpc.StatusCode.RESOURCE_EXHAUSTED and "waiting or running" in details,
          f"a request beyond max_queued_requests is RESOURCE_EXHAUSTED ({code}, {details})")
    try:
        first.result()
        first_code = grpc.StatusCode.OK
    except grpc.RpcError as error:
        first_code = error.code()
    check(first_code == grpc.StatusCode.DEADLINE_EXCEEDED,
          f"the frame stopped at frame_time_limit_ms is DEADLINE_EXCEEDED ({first_code})")


def check_repository(stub, x):
    """RepositoryIndex, RepositoryModelUnload (requests then UNAVAILABLE), RepositoryModelLoad."""
    index = stub.RepositoryIndex(pb.RepositoryIndexRequest(), timeout=WAIT_LIMIT)
    check(sorted((m.name, m.state) for m in index.models) == [(name, "READY") for name in SERVED],
          f"RepositoryIndex: {index}")
    stub.RepositoryModelUnload(pb.RepositoryModelUnloadRequest(model_name="add_one"),
                               timeout=WAIT_LIMIT)
    code, details = call_error(stub.ModelInfer, raw_request("add_one", "x", x))
    check(code == grpc.StatusCode.UNAVAILABLE, f"an unloaded model is UNAVAILABLE ({code}, "
          f"{details})")
    check(not stub.ModelReady(pb.ModelReadyRequest(name="add_one"), timeout=WAIT_LIMIT).ready,
          "ModelReady of the unloaded model is false")
    stub.RepositoryModelLoad(pb.RepositoryModelLoadRequest(model_name="add_one"),
                             timeout=WAIT_LIMIT)
    reply = stub.ModelInfer(raw_request("add_one", "x", x), timeout=WAIT_LIMIT)
    check(reply.raw_output_contents[0] == (x + 1).tobytes(), "reloaded, add_one serves again")
    code, _ = call_error(stub.RepositoryModelLoad,
                         pb.RepositoryModelLoadRequest(model_name="nothing"))
    check(code == grpc.StatusCode.NOT_FOUND, f"loading a model the repository lacks ({code})")


def check_token(work, repository):
    token_file = os.path.join(work, "token")
    with open(token_file, "w") as out:
        out.write("0123456789abcdef0123\n")
    server = Server(work, repository, "--http-token-file", token_file)
    try:
        check(server.stub.ServerLive(pb.ServerLiveRequest(), timeout=WAIT_LIMIT).live,
              "ServerLive needs no token")
        request = pb.ModelMetadataRequest(name="add_one")
        code, details = call_error(server.stub.ModelMetadata, request)
        check(code == grpc.StatusCode.UNAUTHENTICATED and "authorization" in details,
              f"no token: UNAUTHENTICATED ({code})")
        code, _ = call_error(server.stub.ModelMetadata, request,
                             [("authorization", "Bearer wrong-token-0000000")])
        check(code == grpc.StatusCode.UNAUTHENTICATED, f"a wrong token: UNAUTHENTICATED ({code})")
        code, _ = call_error(server.stub.ModelMetadata, request,
                             [("authorization", "Bearer 0123456789abcdef0123")])
        check(code == grpc.StatusCode.OK, f"the right token: OK ({code})")
    finally:
        check(server.stop() == 0, "the token server stops cleanly")


def main():
    work = tempfile.mkdtemp(prefix="corun_serving_grpc_")
    repository = os.path.join(work, "repository")
    make_repository(repository)
    server = Server(work, repository, "--http-max-request-bytes", str(4 << 20))
    try:
        shape, input_name = check_health_and_metadata(server.stub)
        check_infer(server, work, shape, input_name)
        x = check_add_one_and_statistics(server.stub)
        check_shared_memory(server.stub, x)
        check_bad_requests(server, x)
        check_routed_and_generative(server.stub, x)
    finally:
        code = server.stop()
    check(code == 0, "SIGTERM ends corun serve with exit code 0")
    check_token(work, repository)
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(STUBS, ignore_errors=True)
    finish()


main()
