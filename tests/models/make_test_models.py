#!/usr/bin/python3
"""Writes the small ONNX models corun's tests use into OUTDIR.

Run with Debian's interpreter, which has python3-onnx and numpy:
    /usr/bin/python3 make_test_models.py OUTDIR

Every model is deterministic (fixed seed), uses IR version 8 so ONNX Runtime 1.29 loads it,
and, except unsupported_op.onnx, passes onnx.checker with full shape inference.
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

IR_VERSION = 8
OPSET = 17
SEED = 20240601


def tensor_info(name, elem_type, shape):
    return helper.make_tensor_value_info(name, elem_type, shape)


def make_model(nodes, inputs, outputs, name, initializers=(), opsets=None, metadata=None):
    graph = helper.make_graph(list(nodes), name, inputs, outputs, initializer=list(initializers))
    model = helper.make_model(
        graph,
        producer_name="corun-test-models",
        producer_version="1",
        ir_version=IR_VERSION,
        opset_imports=opsets or [helper.make_opsetid("", OPSET)],
    )
    if metadata:
        helper.set_model_props(model, metadata)
    return model


def add_one():
    one = numpy_helper.from_array(np.array([1.0], dtype=np.float32), "one")
    return make_model(
        [helper.make_node("Add", ["x", "one"], ["y"], name="add")],
        [tensor_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
        [tensor_info("y", TensorProto.FLOAT, [1, 3, 4, 4])],
        "add_one",
        [one],
    )


def quantized():
    # Scales in raw_data and zero points in int32_data, so the reader sees both encodings.
    initializers = [
        numpy_helper.from_array(np.array(0.5, dtype=np.float32), "q_in_scale"),
        helper.make_tensor("q_in_zero_point", TensorProto.UINT8, [], [10]),
        numpy_helper.from_array(np.array(0.25, dtype=np.float32), "q_out_scale"),
        helper.make_tensor("q_out_zero_point", TensorProto.UINT8, [], [3]),
    ]
    nodes = [
        helper.make_node(
            "DequantizeLinear", ["q_in", "q_in_scale", "q_in_zero_point"], ["dequantized"],
            name="dequantize"),
        # A Constant with value_float, the short form the reader also understands.
        helper.make_node("Constant", [], ["two"], name="two", value_float=2.0),
        helper.make_node("Mul", ["dequantized", "two"], ["doubled"], name="double"),
        helper.make_node(
            "QuantizeLinear", ["doubled", "q_out_scale", "q_out_zero_point"], ["q_out"],
            name="quantize"),
    ]
    return make_model(
        nodes,
        [tensor_info("q_in", TensorProto.UINT8, [1, 4])],
        [tensor_info("q_out", TensorProto.UINT8, [1, 4])],
        "quantized",
        initializers,
    )


def two_in_two_out():
    return make_model(
        [
            helper.make_node("Add", ["a", "b"], ["sum"], name="add"),
            helper.make_node("Mul", ["a", "b"], ["product"], name="mul"),
        ],
        [tensor_info("a", TensorProto.FLOAT, [1, 8]), tensor_info("b", TensorProto.FLOAT, [1, 8])],
        [
            tensor_info("sum", TensorProto.FLOAT, [1, 8]),
            tensor_info("product", TensorProto.FLOAT, [1, 8]),
        ],
        "two_in_two_out",
    )


def dynamic_dims():
    shape = ["batch", 3, "height", "width"]
    return make_model(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")],
        [tensor_info("x", TensorProto.FLOAT, shape)],
        [tensor_info("y", TensorProto.FLOAT, shape)],
        "dynamic_dims",
    )


def unsupported_op():
    domain = "com.example.corun"
    return make_model(
        [helper.make_node("NoSuchOperator", ["x"], ["y"], name="nothing", domain=domain)],
        [tensor_info("x", TensorProto.FLOAT, [1, 4])],
        [tensor_info("y", TensorProto.FLOAT, [1, 4])],
        "unsupported_op",
        opsets=[helper.make_opsetid("", OPSET), helper.make_opsetid(domain, 1)],
    )


def slow_matmul(rng):
    size, layers = 512, 24
    nodes, initializers = [], []
    previous = "x"
    for i in range(layers):
        weight = (rng.standard_normal((size, size)) / np.sqrt(size)).astype(np.float32)
        initializers.append(numpy_helper.from_array(weight, f"w{i}"))
        product = f"matmul{i}"
        activation = "y" if i == layers - 1 else f"tanh{i}"
        nodes.append(helper.make_node("MatMul", [previous, f"w{i}"], [product], name=product))
        nodes.append(helper.make_node("Tanh", [product], [activation], name=f"tanh{i}"))
        previous = activation
    return make_model(
        nodes,
        [tensor_info("x", TensorProto.FLOAT, [1, size])],
        [tensor_info("y", TensorProto.FLOAT, [1, size])],
        "slow_matmul",
        initializers,
    )


def nhwc_image():
    two = numpy_helper.from_array(np.array(2.0, dtype=np.float32), "two")
    return make_model(
        [helper.make_node("Mul", ["image", "two"], ["doubled"], name="double")],
        [tensor_info("image", TensorProto.FLOAT, [1, 8, 8, 3])],
        [tensor_info("doubled", TensorProto.FLOAT, [1, 8, 8, 3])],
        "nhwc_image",
        [two],
    )


def batch_dynamic():
    # A Constant with a "value" tensor, the long form.
    two = helper.make_tensor("two_value", TensorProto.FLOAT, [], [2.0])
    return make_model(
        [
            helper.make_node("Constant", [], ["two"], name="two", value=two),
            helper.make_node("Mul", ["x", "two"], ["y"], name="double"),
        ],
        [tensor_info("x", TensorProto.FLOAT, ["N", 4])],
        [tensor_info("y", TensorProto.FLOAT, ["N", 4])],
        "batch_dynamic",
    )


def metadata_quant():
    return make_model(
        [helper.make_node("Identity", ["raw_in"], ["raw_out"], name="identity")],
        [tensor_info("raw_in", TensorProto.UINT8, [1, 6])],
        [tensor_info("raw_out", TensorProto.UINT8, [1, 6])],
        "metadata_quant",
        metadata={"corun.quant.raw_in": "0.1,128", "corun.quant.raw_out": "0.1,128"},
    )


def int64_tokens():
    return make_model(
        [helper.make_node("Cast", ["ids"], ["as_float"], name="cast", to=TensorProto.FLOAT)],
        [tensor_info("ids", TensorProto.INT64, [1, 5])],
        [tensor_info("as_float", TensorProto.FLOAT, [1, 5])],
        "int64_tokens",
    )


def conv_nchw(rng):
    weight = (rng.standard_normal((8, 3, 3, 3)) / np.sqrt(27)).astype(np.float32)
    bias = (rng.standard_normal(8) * 0.1).astype(np.float32)
    nodes = [
        helper.make_node(
            "Conv", ["image", "conv_weight", "conv_bias"], ["conv"], name="conv",
            kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv"], ["features"], name="relu"),
    ]
    return make_model(
        nodes,
        [tensor_info("image", TensorProto.FLOAT, [1, 3, 32, 32])],
        [tensor_info("features", TensorProto.FLOAT, [1, 8, 32, 32])],
        "conv_nchw",
        [
            numpy_helper.from_array(weight, "conv_weight"),
            numpy_helper.from_array(bias, "conv_bias"),
        ],
    )


def absurd_dims():
    # An input of [1, 1000000, 1000000, 1000] floats: 4 PB a frame. Loading costs nothing (the
    # shape is only metadata); a tool that allocates its frame buffers must refuse it cleanly.
    shape = [1, 1000000, 1000000, 1000]
    return make_model(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")],
        [tensor_info("x", TensorProto.FLOAT, shape)],
        [tensor_info("y", TensorProto.FLOAT, shape)],
        "absurd_dims",
    )


def main(argv):
    if len(argv) != 2:
        print(f"usage: {argv[0]} OUTDIR", file=sys.stderr)
        return 2
    outdir = argv[1]
    os.makedirs(outdir, exist_ok=True)
    rng = np.random.default_rng(SEED)
    models = {
        "add_one.onnx": add_one(),
        "quantized.onnx": quantized(),
        "two_in_two_out.onnx": two_in_two_out(),
        "dynamic_dims.onnx": dynamic_dims(),
        "unsupported_op.onnx": unsupported_op(),
        "slow_matmul.onnx": slow_matmul(rng),
        "nhwc_image.onnx": nhwc_image(),
        "batch_dynamic.onnx": batch_dynamic(),
        "metadata_quant.onnx": metadata_quant(),
        "int64_tokens.onnx": int64_tokens(),
        "conv_nchw.onnx": conv_nchw(rng),
        "absurd_dims.onnx": absurd_dims(),
    }
    for filename, model in models.items():
        # The custom domain's operator has no schema, so the checker would reject it; that is
        # the point of the model (ONNX Runtime must refuse it at session creation).
        if filename != "unsupported_op.onnx":
            onnx.checker.check_model(model, full_check=True)
        path = os.path.join(outdir, filename)
        # Write to a temporary name and rename, so an interrupted run leaves no half file.
        with open(path + ".tmp", "wb") as out:
            out.write(model.SerializeToString())
        os.replace(path + ".tmp", path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
