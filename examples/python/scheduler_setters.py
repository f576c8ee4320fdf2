"""The model scheduler's knobs from Python, in the style of HailoRT's tutorials: two models on one
VDevice; the camera model gets a high priority, the batch model a threshold and a timeout (it
waits until four frames are queued, or until its oldest frame waited 50 ms).

Changed from hailo_platform code: the import line and the model paths.
Run: PYTHONPATH=build/python /usr/bin/python3 examples/python/scheduler_setters.py [FAST SLOW]
"""
import sys

import numpy as np
from corun import VDevice, HailoSchedulingAlgorithm

fast_model_path = sys.argv[1] if len(sys.argv) > 2 else "build/test_models/add_one.onnx"
slow_model_path = sys.argv[2] if len(sys.argv) > 2 else "build/test_models/slow_matmul.onnx"
timeout_ms = 10000

params = VDevice.create_params()
params.scheduling_algorithm = HailoSchedulingAlgorithm.ROUND_ROBIN
params.group_id = "SHARED"

with VDevice(params) as vdevice:
    camera_model = vdevice.create_infer_model(fast_model_path)
    batch_model = vdevice.create_infer_model(slow_model_path)
    batch_model.set_batch_size(2)

    with camera_model.configure() as camera, batch_model.configure() as batch:
        # Higher numbers win; the default priority is 16 (HAILO_SCHEDULER_PRIORITY_NORMAL)
        camera.set_scheduler_priority(24)
        # The batch model is ready once 4 frames are queued, or its oldest one waited 50 ms
        batch.set_scheduler_threshold(4)
        batch.set_scheduler_timeout(50)

        jobs, camera_frames = [], 0
        for _ in range(8):
            bindings = batch.create_bindings()
            bindings.input().set_buffer(np.empty(batch_model.input().shape).astype(np.float32))
            batch.wait_for_async_ready(timeout_ms=timeout_ms)
            jobs.append(batch.run_async([bindings]))

            frame = camera.create_bindings()
            frame.input().set_buffer(np.zeros(camera_model.input().shape, np.float32))
            camera.run([frame], timeout_ms)
            camera_frames += 1

        for job in jobs:
            job.wait(timeout_ms)

        print(f"camera model: {camera_frames} frames, batch model: {len(jobs)} frames")
        for stats in vdevice.get_scheduler_stats():
            print(f"{stats.name}: priority {stats.priority}")
