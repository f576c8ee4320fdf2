"""HailoRT's "Python Async Inference Tutorial - Single Model" (HailoRT user guide 5.3), for corun.

Changed from the HailoRT tutorial: the import line (corun for hailo_platform) and the model path
(an ONNX file for the HEF). The model here is corun's quantized test model, whose input and
output are uint8 as a HEF's usually are (tests/models/make_test_models.py, `quantized`).
Run: PYTHONPATH=build/python /usr/bin/python3 examples/python/async_inference_single_model.py
"""
import sys

import numpy as np
from corun import VDevice, HailoSchedulingAlgorithm

model_path = sys.argv[1] if len(sys.argv) > 1 else "build/test_models/quantized.onnx"
timeout_ms = 1000

params = VDevice.create_params()
params.scheduling_algorithm = HailoSchedulingAlgorithm.ROUND_ROBIN

# The vdevice is used as a context manager ("with" statement) to ensure it's released on time.
with VDevice(params) as vdevice:

    # Create an infer model from an ONNX file:
    infer_model = vdevice.create_infer_model(model_path)

    # Configure the infer model and create bindings for it
    with infer_model.configure() as configured_infer_model:
        bindings = configured_infer_model.create_bindings()

        # Set input and output buffers
        buffer = np.empty(infer_model.input().shape).astype(np.uint8)
        bindings.input().set_buffer(buffer)

        buffer = np.empty(infer_model.output().shape).astype(np.uint8)
        bindings.output().set_buffer(buffer)

        # Run synchronous inference and access the output buffers
        configured_infer_model.run([bindings], timeout_ms)
        buffer = bindings.output().get_buffer()

        # Run asynchronous inference
        job = configured_infer_model.run_async([bindings])
        job.wait(timeout_ms)

print("async single model: done, output shape", list(buffer.shape))
