#!/usr/bin/python3
"""Writes the models of corun's element-type and stream-shape tests into OUTDIR.

Run with Debian's interpreter (python3-onnx, numpy):
    /usr/bin/python3 make_type_models.py OUTDIR

half_dense.onnx takes and gives float16 and computes in float32 inside (ONNX Runtime's CPU
provider has few float16 kernels); dense_reference.onnx is the same layer in float32 with the
same (float16-rounded) weights, the reference a float16 run is compared against.
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

IR_VERSION = 8
SEED = 20261202


def make_model(nodes, inputs, outputs, name, initializers=(), opset=17):
    graph = helper.make_graph(list(nodes), name, inputs, outputs, initializer=list(initializers))
    return helper.make_model(
        graph,
        producer_name="corun-test-models",
        producer_version="1",
        ir_version=IR_VERSION,
        opset_imports=[helper.make_opsetid("", opset)],
    )


def dense_weights(rng):
    weight = (rng.standard_normal((64, 32)) / 8).astype(np.float16)
    bias = (rng.standard_normal(32) / 4).astype(np.float16)
    return weight, bias


def half_dense(weight, bias):
    nodes = [
        helper.make_node("Cast", ["x"], ["x32"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["w16"], ["w32"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["b16"], ["b32"], to=TensorProto.FLOAT),
        helper.make_node("MatMul", ["x32", "w32"], ["mm"]),
        helper.make_node("Add", ["mm", "b32"], ["y32"]),
        helper.make_node("Cast", ["y32"], ["y"], to=TensorProto.FLOAT16),
    ]
    return make_model(
        nodes,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT16, [1, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT16, [1, 32])],
        "half_dense",
        [numpy_helper.from_array(weight, "w16"), numpy_helper.from_array(bias, "b16")],
    )


def dense_reference(weight, bias):
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["mm"]),
        helper.make_node("Add", ["mm", "b"], ["y"]),
    ]
    return make_model(
        nodes,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 32])],
        "dense_reference",
        [numpy_helper.from_array(weight.astype(np.float32), "w"),
         numpy_helper.from_array(bias.astype(np.float32), "b")],
    )


def bool_mask():
    # kept = mask ? x : 0, and the inverted mask: a bool input and a bool output.
    zero = helper.make_tensor("zero_value", TensorProto.FLOAT, [], [0.0])
    nodes = [
        helper.make_node("Constant", [], ["zero"], value=zero),
        helper.make_node("Where", ["mask", "x", "zero"], ["kept"]),
        helper.make_node("Not", ["mask"], ["inverted"]),
    ]
    return make_model(
        nodes,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6]),
         helper.make_tensor_value_info("mask", TensorProto.BOOL, [1, 6])],
        [helper.make_tensor_value_info("kept", TensorProto.FLOAT, [1, 6]),
         helper.make_tensor_value_info("inverted", TensorProto.BOOL, [1, 6])],
        "bool_mask",
    )


def double_and_wide_ints():
    # One stream per type corun gained: each is doubled (or negated, for bool) in its own type.
    inputs, outputs, nodes = [], [], []
    for name, onnx_type in [("f64", TensorProto.DOUBLE), ("i16", TensorProto.INT16),
                            ("u32", TensorProto.UINT32), ("u64", TensorProto.UINT64),
                            ("bf16", TensorProto.BFLOAT16)]:
        inputs.append(helper.make_tensor_value_info(name, onnx_type, [4]))
        outputs.append(helper.make_tensor_value_info(name + "_out", onnx_type, [4]))
        if onnx_type == TensorProto.BFLOAT16:
            # Identity: ORT's CPU provider has no bfloat16 arithmetic.
            nodes.append(helper.make_node("Identity", [name], [name + "_out"]))
        else:
            nodes.append(helper.make_node("Add", [name, name], [name + "_out"]))
    return make_model(nodes, inputs, outputs, "double_and_wide_ints")


def optional_bias():
    # y = x + bias when bias is given, else x: an optional(tensor) input a caller may omit.
    bias_type = helper.make_optional_type_proto(
        helper.make_tensor_type_proto(TensorProto.FLOAT, [3]))
    then_graph = helper.make_graph(
        [helper.make_node("OptionalGetElement", ["bias"], ["bias_value"]),
         helper.make_node("Add", ["x", "bias_value"], ["with_bias"])],
        "with_bias", [], [helper.make_tensor_value_info("with_bias", TensorProto.FLOAT, [3])])
    else_graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["without_bias"])],
        "without_bias", [], [helper.make_tensor_value_info("without_bias", TensorProto.FLOAT, [3])])
    nodes = [
        helper.make_node("OptionalHasElement", ["bias"], ["has_bias"]),
        helper.make_node("If", ["has_bias"], ["y"], then_branch=then_graph,
                         else_branch=else_graph),
    ]
    return make_model(
        nodes,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3]),
         helper.make_value_info("bias", bias_type)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])],
        "optional_bias",
        opset=18,
    )


def concat_rows():
    # rows [N, 3] above fixed [2, 3]: with N = 0 the input is an empty tensor.
    return make_model(
        [helper.make_node("Concat", ["rows", "fixed"], ["all_rows"], axis=0)],
        [helper.make_tensor_value_info("rows", TensorProto.FLOAT, ["N", 3]),
         helper.make_tensor_value_info("fixed", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("all_rows", TensorProto.FLOAT, ["M", 3])],
        "concat_rows",
    )


def int16_max():
    # Max is a standard operator; ONNX Runtime's CPU provider has no kernel for it in int16.
    return make_model(
        [helper.make_node("Max", ["a", "b"], ["larger"], name="max_int16")],
        [helper.make_tensor_value_info("a", TensorProto.INT16, [4]),
         helper.make_tensor_value_info("b", TensorProto.INT16, [4])],
        [helper.make_tensor_value_info("larger", TensorProto.INT16, [4])],
        "int16_max",
    )


def string_upper():
    # Strings in, strings out: StringNormalizer upper-cases (a locale-free case change).
    return make_model(
        [helper.make_node("StringNormalizer", ["words"], ["upper"], case_change_action="UPPER",
                          locale="C")],
        [helper.make_tensor_value_info("words", TensorProto.STRING, [3])],
        [helper.make_tensor_value_info("upper", TensorProto.STRING, [3])],
        "string_upper",
    )


def sequence_input():
    return make_model(
        [helper.make_node("SequenceLength", ["items"], ["count"])],
        [helper.make_value_info("items", helper.make_sequence_type_proto(
            helper.make_tensor_type_proto(TensorProto.FLOAT, [2])))],
        [helper.make_tensor_value_info("count", TensorProto.INT64, [])],
        "sequence_input",
    )


def main(argv):
    if len(argv) != 2:
        print(f"usage: {argv[0]} OUTDIR", file=sys.stderr)
        return 2
    outdir = argv[1]
    os.makedirs(outdir, exist_ok=True)
    weight, bias = dense_weights(np.random.default_rng(SEED))
    models = {
        "half_dense.onnx": half_dense(weight, bias),
        "dense_reference.onnx": dense_reference(weight, bias),
        "bool_mask.onnx": bool_mask(),
        "double_and_wide_ints.onnx": double_and_wide_ints(),
        "optional_bias.onnx": optional_bias(),
        "concat_rows.onnx": concat_rows(),
        "int16_max.onnx": int16_max(),
        "sequence_input.onnx": sequence_input(),
        "string_upper.onnx": string_upper(),
    }
    for filename, model in models.items():
        onnx.checker.check_model(model, full_check=True)
        onnx.save(model, os.path.join(outdir, filename))
    with open(os.path.join(outdir, ".types_complete"), "w") as stamp:
        stamp.write("ok\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
