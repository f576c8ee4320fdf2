#!/usr/bin/python3
"""Writes grpc_request_fuzz's seeds: a few valid KServe v2 ModelInferRequests (raw FP32, typed
contents of several datatypes, BYTES, shared-memory parameters, priority and timeout).
Usage: make_grpc_request_corpus.py OUT_DIR"""
import os
import struct
import subprocess
import sys
import tempfile

root = os.path.dirname(os.path.abspath(__file__)) + "/../.."
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
with tempfile.TemporaryDirectory() as generated:
    subprocess.check_call(["protoc", "--python_out=" + generated, "-I", root + "/src/serving",
                           "grpc_service.proto"])
    sys.path.insert(0, generated)
    import grpc_service_pb2 as pb


def request(name, *tensors, raw=(), **parameters):
    m = pb.ModelInferRequest(model_name="m", id=name)
    for key, value in parameters.items():
        m.parameters[key].int64_param = value
    for tensor_name, datatype, shape, fill in tensors:
        tensor = m.inputs.add(name=tensor_name, datatype=datatype)
        tensor.shape.extend(shape)
        fill(tensor)
    m.raw_input_contents.extend(raw)
    m.outputs.add(name="y")
    with open(os.path.join(out, name), "wb") as seed:
        seed.write(m.SerializeToString())


request("raw_fp32", ("x", "FP32", [1, 3], lambda t: None), raw=[struct.pack("<3f", 1, 2, 3)],
        priority=1, timeout=1000)
request("typed", ("a", "INT32", [2], lambda t: t.contents.int_contents.extend([1, -2])),
        ("b", "UINT8", [2], lambda t: t.contents.uint_contents.extend([1, 255])),
        ("c", "BOOL", [1], lambda t: t.contents.bool_contents.append(True)),
        ("d", "FP64", [1], lambda t: t.contents.fp64_contents.append(0.5)))
request("bytes", ("s", "BYTES", [2], lambda t: t.contents.bytes_contents.extend([b"ab", b""])))
request("raw_bytes", ("s", "BYTES", [1], lambda t: None), raw=[struct.pack("<I", 2) + b"hi"])


def shared(tensor):
    tensor.parameters["shared_memory_region"].string_param = "r"
    tensor.parameters["shared_memory_offset"].int64_param = 0
    tensor.parameters["shared_memory_byte_size"].int64_param = 12


request("shared_memory", ("x", "FP32", [3], shared))
