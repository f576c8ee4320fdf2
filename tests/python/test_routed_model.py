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
