#!/usr/bin/python3
"""Writes the models corun's hardening tests feed it (issue 9) into OUTDIR/hostile.

    /usr/bin/python3 make_hostile_models.py OUTDIR

- external_weights/model.onnx + weights.bin: y = x + w, w = 0..11 (float32, shape [1, 12]),
  kept in an external data file beside the model, as onnx.save(save_as_external_data=True)
  writes it. Loads from any working directory; through corund the client sends the file.
- external_escape_parent.onnx, external_escape_absolute.onnx: the same model whose weights
  name "../weights.bin" and "/etc/hostname": refused.
- external_weights/in_subgraph.onnx: an external-data tensor inside an If branch's Constant:
  found and checked like an initializer.
- external_weights/in_sparse_and_function.onnx: external data named by a sparse initializer's
  values and by a Constant inside a model-local function.
- folding_bomb_retained.onnx: four ConstantOfShape nodes of 64 MiB each (256 MiB in all) that
  constant folding materialises and keeps (Gather reads one element of each): a model of a few
  hundred bytes that takes 256 MiB at load.
- folding_bomb_single.onnx: one 1 GiB ConstantOfShape reduced to a scalar (the classic bomb).
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

IR_VERSION = 8
OPSET = 17


def model_of(graph):
    model = helper.make_model(graph, producer_name="corun-hostile-models", ir_version=IR_VERSION,
                              opset_imports=[helper.make_opsetid("", OPSET)])
    return model


def external_tensor(name, location, values):
    tensor = numpy_helper.from_array(values, name)
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"),
                       ("length", str(values.nbytes))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return tensor


def add_weights_model(location):
    weights = np.arange(12, dtype=np.float32).reshape(1, 12)
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"])], "external_weights",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 12])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 12])],
        [external_tensor("w", location, weights)])
    return model_of(graph), weights


def subgraph_model():
    weights = np.arange(12, dtype=np.float32).reshape(1, 12)
    branch = lambda name, location: helper.make_graph(
        [helper.make_node("Constant", [], [name + "_out"],
                          value=external_tensor(name + "_value", location, weights))],
        name, [], [helper.make_tensor_value_info(name + "_out", TensorProto.FLOAT, [1, 12])])
    graph = helper.make_graph(
        [helper.make_node("Constant", [], ["cond"],
                          value=numpy_helper.from_array(np.array(True), "cond_value")),
         helper.make_node("If", ["cond"], ["w"], then_branch=branch("then", "weights.bin"),
                          else_branch=branch("else", "../outside.bin")),
         helper.make_node("Add", ["x", "w"], ["y"])],
        "external_in_subgraph",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 12])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 12])])
    return model_of(graph)


def sparse_and_function_model():
    """External data where no initializer is: a sparse initializer's values name
    '../sparse.bin', and a model-local function's Constant names '../function.bin'."""
    values = external_tensor("sparse_values", "../sparse.bin", np.ones(2, dtype=np.float32))
    indices = numpy_helper.from_array(np.array([0, 5], dtype=np.int64), "sparse_indices")
    sparse = helper.make_sparse_tensor(values, indices, [1, 12])
    sparse.values.name = "s"
    function = helper.make_function(
        "corun.test", "AddConstant", ["x"], ["y"],
        [helper.make_node("Constant", [], ["c"],
                          value=external_tensor("c_value", "../function.bin",
                                                np.ones((1, 12), dtype=np.float32))),
         helper.make_node("Add", ["x", "c"], ["y"])],
        [helper.make_opsetid("", OPSET)])
    graph = helper.make_graph(
        [helper.make_node("AddConstant", ["x"], ["t"], domain="corun.test"),
         helper.make_node("Add", ["t", "s"], ["y"])],
        "external_elsewhere",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 12])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 12])],
        sparse_initializer=[sparse])
    model = helper.make_model(graph, producer_name="corun-hostile-models", ir_version=IR_VERSION,
                              opset_imports=[helper.make_opsetid("", OPSET),
                                             helper.make_opsetid("corun.test", 1)],
                              functions=[function])
    return model


def folding_bomb_retained(count, elements):
    nodes, outputs = [], []
    shape = numpy_helper.from_array(np.array([elements], dtype=np.int64), "shape")
    index = numpy_helper.from_array(np.array([0], dtype=np.int64), "index")
    for i in range(count):
        nodes.append(helper.make_node(
            "ConstantOfShape", ["shape"], ["big%d" % i],
            value=helper.make_tensor("v%d" % i, TensorProto.FLOAT, [1], [float(i + 1)])))
        nodes.append(helper.make_node("Gather", ["big%d" % i, "index"], ["one%d" % i]))
        outputs.append("one%d" % i)
    nodes.append(helper.make_node("Sum", ["x"] + outputs, ["y"]))
    graph = helper.make_graph(
        nodes, "folding_bomb_retained",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])], [shape, index])
    return model_of(graph)


def folding_bomb_single(elements):
    shape = numpy_helper.from_array(np.array([elements], dtype=np.int64), "shape")
    graph = helper.make_graph(
        [helper.make_node("ConstantOfShape", ["shape"], ["big"],
                          value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0])),
         helper.make_node("ReduceMax", ["big"], ["m"], keepdims=1),
         helper.make_node("Add", ["x", "m"], ["y"])],
        "folding_bomb_single",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])], [shape])
    return model_of(graph)


def main():
    out = os.path.join(sys.argv[1], "hostile")
    os.makedirs(os.path.join(out, "external_weights"), exist_ok=True)
    model, weights = add_weights_model("weights.bin")
    onnx.save(model, os.path.join(out, "external_weights", "model.onnx"))
    weights.tofile(os.path.join(out, "external_weights", "weights.bin"))
    onnx.save(subgraph_model(), os.path.join(out, "external_weights", "in_subgraph.onnx"))
    onnx.save(sparse_and_function_model(),
              os.path.join(out, "external_weights", "in_sparse_and_function.onnx"))
    onnx.save(add_weights_model("../weights.bin")[0],
              os.path.join(out, "external_weights", "escape_parent.onnx"))
    onnx.save(add_weights_model("/etc/hostname")[0],
              os.path.join(out, "external_weights", "escape_absolute.onnx"))
    onnx.save(folding_bomb_retained(4, 16 << 20), os.path.join(out, "folding_bomb_retained.onnx"))
    onnx.save(folding_bomb_single(1 << 28), os.path.join(out, "folding_bomb_single.onnx"))


if __name__ == "__main__":
    main()
