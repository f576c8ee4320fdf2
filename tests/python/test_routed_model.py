"""corun.RoutedModel from Python: one model on two VDevices in order of preference; a frame runs
on the first placement in service, falls back when it is removed, and the statistics count it."""
import numpy as np
import pytest

import corun
from corun import VDevice
from conftest import model_file


def vdevice_of_group(group_id):
    params = VDevice.create_params()
    params.group_id = group_id
    return VDevice(params)


def test_frames_fall_back_to_the_next_placement(group_id):
    first, second = vdevice_of_group(group_id + "-a"), vdevice_of_group(group_id + "-b")
    with corun.RoutedModel(model_file("add_one.onnx"), [first, second],
                           labels=["near", "far"]) as routed:
        assert routed.placement_labels == ["near", "far"]
        assert routed.name == "add_one" and routed.input_names == ["x"]
        assert routed.get_frame_size("x") == 3 * 4 * 4 * 4
        frame = np.full((3, 4, 4), 2, np.float32)
        out = np.empty((3, 4, 4), np.float32)
        info = routed.run({"x": frame}, {"y": out})
        assert (info.placement, info.placement_index, info.attempts) == ("near", 0, 1)
        assert np.array_equal(out, frame + 1)
        routed.remove_placement("near")
        info = routed.run({"x": frame}, {"y": out})
        assert (info.placement, info.attempts) == ("far", 1)
        stats = routed.get_stats()
        assert (stats.requests, stats.completed, stats.failed) == (2, 2, 0)
        assert [(p.label, p.condition, p.frames_run) for p in stats.placements] == [
            ("near", "REMOVED", 1), ("far", "IN_SERVICE", 1)]
        routed.restore_placement("near")
        assert routed.run({"x": frame}, {"y": out}).placement == "near"
        with pytest.raises(corun.HailoRTNotFoundException) as raised:
            routed.remove_placement("elsewhere")
        assert "near" in raised.value.message
        with pytest.raises(corun.HailoRTInvalidArgumentException):
            routed.run({"x": np.zeros(3, np.float32)}, {"y": out})
    # Shut down at the end of its `with` block.
    with pytest.raises(corun.HailoRTStreamAborted) as raised:
        routed.run({"x": frame}, {"y": out})
    assert raised.value.status == "SHUTDOWN"
    assert routed.get_stats().completed == 3


def test_run_async_calls_back_once_per_frame_with_where_it_ran(group_id):
    first, second = vdevice_of_group(group_id + "-a"), vdevice_of_group(group_id + "-b")
    with corun.RoutedModel(model_file("add_one.onnx"), [first, second],
                           labels=["near", "far"]) as routed:
        # Four frames: both placements' queues (2 each) hold them, whichever completes first.
        frames = [np.full((3, 4, 4), i, np.float32) for i in range(4)]
        outs = [np.empty((3, 4, 4), np.float32) for _ in frames]
        seen = []

        def remember(index):
            def callback(completion_info):
                seen.append((index, completion_info.placement, completion_info.status,
                             completion_info.exception))
            return callback

        jobs = [routed.run_async({"x": frame}, {"y": out}, remember(i))
                for i, (frame, out) in enumerate(zip(frames, outs))]
        for job in jobs:
            job.wait(10000)
        assert all(job.is_done() for job in jobs)
        assert sorted(index for index, _, _, _ in seen) == list(range(4))  # each exactly once
        assert all(status == "SUCCESS" and exception is None for _, _, status, exception in seen)
        for frame, out in zip(frames, outs):
            assert np.array_equal(out, frame + 1)
        placements = {index: placement for index, placement, _, _ in seen}
        assert set(placements.values()) <= {"near", "far"}
        assert [job.completion().placement for job in jobs] == [placements[i] for i in range(4)]
        stats = routed.get_stats()
        assert (stats.requests, stats.completed) == (4, 4)
        assert sum(p.frames_run for p in stats.placements) == 4
        # Removed: the next frame runs on "far", without a callback too.
        routed.remove_placement("near")
        job = routed.run_async({"x": frames[0]}, {"y": outs[0]})
        job.wait(10000)
        assert job.completion().placement == "far" and job.completion().attempts == 1
        with pytest.raises(corun.HailoRTInvalidArgumentException):
            routed.run_async({"x": frames[0]}, {"y": outs[0]}, callback=42)
    # After shutdown a frame is refused at once, with the status run() would raise.
    with pytest.raises(corun.HailoRTStreamAborted):
        routed.run_async({"x": frames[0]}, {"y": outs[0]})
