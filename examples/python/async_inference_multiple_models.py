"""HailoRT's "Python Async Inference Tutorial - Multiple Models" (HailoRT user guide 5.4 and
5.4.1), for corun: several models on one VDevice shared by group_id, from threads, and from
processes through the multi-process service (corund; its socket from $CORUN_SERVICE_SOCKET).

Changed from the HailoRT tutorial: the import line, the model path, and the input's name (the
HEF's "resnet_v1_18/input_layer1" is this model's input name).
Run: PYTHONPATH=build/python /usr/bin/python3 examples/python/async_inference_multiple_models.py
     [MODEL INPUT_NAME] [--processes]
"""
import sys

# Optional: define a callback function that will run after the inference job is done
# The callback must have a keyword argument called "completion_info".
# That argument will be passed by the framework.
def example_callback(completion_info, bindings):
    if completion_info.exception:
        # handle exception
        pass

    _ = bindings.output().get_buffer()


import numpy as np
from functools import partial
from corun import VDevice, HailoSchedulingAlgorithm, FormatType

arguments = [a for a in sys.argv[1:] if not a.startswith("--")]
model_path = arguments[0] if arguments else ".cache/models/emotion/emotion.onnx"
input_name = arguments[1] if len(arguments) > 1 else "input_1"

number_of_frames = 4
timeout_ms = 10000

def infer(should_use_multi_process_service):
    # Create a VDevice
    params = VDevice.create_params()
    params.scheduling_algorithm = HailoSchedulingAlgorithm.ROUND_ROBIN
    params.group_id = "SHARED"
    if should_use_multi_process_service:
        params.multi_process_service = should_use_multi_process_service

    with VDevice(params) as vdevice:

        # Create an infer model from an ONNX file:
        infer_model = vdevice.create_infer_model(model_path)

        # Set optional infer model parameters
        infer_model.set_batch_size(2)

        # For a single input / output model, the input / output object
        # can be accessed with a name parameter ...
        infer_model.input(input_name).set_format_type(FormatType.FLOAT32)
        # ... or without
        infer_model.output().set_format_type(FormatType.FLOAT32)

        # Once the infer model is set, configure the infer model
        with infer_model.configure() as configured_infer_model:
            for _ in range(number_of_frames):
                # Create bindings for it and set buffers
                bindings = configured_infer_model.create_bindings()
                bindings.input().set_buffer(np.empty(infer_model.input().shape).astype(np.float32))
                bindings.output().set_buffer(np.empty(infer_model.output().shape).astype(np.float32))

                # Wait for the async pipeline to be ready, and start an async inference job
                configured_infer_model.wait_for_async_ready(timeout_ms=10000)

                # Any callable can be passed as callback (lambda, function, functools.partial), as long
                # as it has a keyword argument "completion_info"
                job = configured_infer_model.run_async([bindings], partial(example_callback, bindings=bindings))

            # Wait for the last job
            job.wait(timeout_ms)


if __name__ == "__main__":
    from threading import Thread

    pool = [
        Thread(target=infer, args=(False,)),
        Thread(target=infer, args=(False,))
    ]

    print('Starting async inference on multiple models using threads')

    for job in pool:
        job.start()
    for job in pool:
        job.join()

    print('Done inference')

    if "--processes" in sys.argv:
        from multiprocessing import Process

        pool = [
            Process(target=infer, args=(True,)),
            Process(target=infer, args=(True,))
        ]

        print('Starting async inference on multiple models using processes')

        job_failed = False
        for job in pool:
            job.start()
        for job in pool:
            job.join()
            # Using Process instead of Thread allows accessing the exitcode of the job
            if job.exitcode:
                job_failed = True
        if job_failed:
            raise Exception("job failed")

        print('Done inference')
