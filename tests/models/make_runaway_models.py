#!/usr/bin/python3
"""Writes the ONNX models of corun's bounded-execution tests into OUTDIR.

Run with Debian's interpreter, which has python3-onnx and numpy:
    /usr/bin/python3 make_runaway_models.py OUTDIR

- endless_loop.onnx: a Loop whose trip count is INT64_MAX and whose condition stays true, so a
  frame runs until it is stopped (the hostile client's 271-byte model of issue 9, in spirit).
- endless_loop_dynamic.onnx: the same with an output of dynamic shape, so that configure() runs
  a frame to find it.
- huge_frame.onnx: an input of 1 x 100000 x 100000 x 3 floats (120 GB per frame), which
  configure() must refuse rather than accept.
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

IR_VERSION = 8
OPSET = 17


def make_model(graph):
    return helper.make_model(
        graph,
        producer_name="corun-test-models",
        producer_version="1",
        ir_version=IR_VERSION,
        opset_imports=[helper.make_opsetid("", OPSET)],
    )


def endless_loop(output_shape=(1,)):
    # The body adds one to a loop-carried value and passes the condition on unchanged. The trip
    # count and condition are initializers; x is a graph input, so ONNX Runtime cannot fold the
    # Loop away at load time.
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"], name="keep_going"),
            helper.make_node("Add", ["value_in", "one"], ["value_out"], name="add_one"),
        ],
        "body",
        [
            helper.make_tensor_value_info("iteration", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("value_in", TensorProto.FLOAT, [1]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("value_out", TensorProto.FLOAT, [1]),
        ],
        [numpy_helper.from_array(np.array([1.0], dtype=np.float32), "one")],
    )
    graph = helper.make_graph(
        [helper.make_node("Loop", ["trip_count", "keep_going", "x"], ["y"], name="forever",
                          body=body)],
        "endless_loop",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(output_shape))],
        [
            numpy_helper.from_array(np.array(np.iinfo(np.int64).max, dtype=np.int64),
                                    "trip_count"),
            numpy_helper.from_array(np.array(True), "keep_going"),
        ],
    )
    return make_model(graph)


def huge_frame():
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")],
        "huge_frame",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 100000, 100000, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 100000, 100000, 3])],
    )
    return make_model(graph)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_runaway_models.py OUTDIR")
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    builds = (
        ("endless_loop", endless_loop),
        ("endless_loop_dynamic", lambda: endless_loop(output_shape=("n",))),
        ("huge_frame", huge_frame),
    )
    for name, build in builds:
        model = build()
        onnx.checker.check_model(model, full_check=True)
        onnx.save(model, os.path.join(out_dir, name + ".onnx"))


if __name__ == "__main__":
    main()
