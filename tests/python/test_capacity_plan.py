"""corun.CapacityPlanner from Python: on a profile written here its predictions are exact, as
`corun plan`'s are (tests/tools/cli_plan_test.py): a periodic model on an idle device takes its
frame time, and its share of the device is rate x frame time."""
import json

import pytest

import corun

PROFILE = {
    "device": {"context_switch_us": 0},
    "models": {"cam": {"frame_us": 4000}, "ocr": {"frame_us": 12000}},
}


def test_a_camera_on_an_idle_device_takes_its_frame_time():
    planner = corun.CapacityPlanner.from_json(json.dumps(PROFILE))
    assert sorted(planner.model_names("npu-sim")) == ["cam", "ocr"]
    camera = corun.PlannedModel("cam", 50.0)
    camera.slo_ms = 5.0
    assert camera.arrivals == corun.ArrivalKind.FIXED_RATE and camera.slo_ms == 5.0
    prediction = planner.predict(corun.CapacityWorkload("npu-sim", [camera], horizon_s=20))
    assert prediction.device == "npu-sim" and prediction.slots == 1
    (cam,) = prediction.models
    assert (cam.latency_p50_ms, cam.latency_p95_ms, cam.latency_p99_ms) == (4.0, 4.0, 4.0)
    assert cam.utilisation == pytest.approx(0.2)
    assert cam.slo_holds and prediction.all_slos_hold
    assert cam.headroom == 5.0 and prediction.headroom == 5.0


def test_bad_profiles_and_workloads_raise_with_the_status(tmp_path):
    with pytest.raises(corun.HailoRTNotFoundException):
        corun.CapacityPlanner.from_file(str(tmp_path / "absent.json"))
    with pytest.raises(corun.HailoRTInvalidArgumentException):
        corun.CapacityPlanner.from_json("{ not json")
    planner = corun.CapacityPlanner.from_json(json.dumps(PROFILE))
    with pytest.raises(corun.HailoRTNotFoundException) as raised:
        planner.predict(corun.CapacityWorkload("npu-sim", [corun.PlannedModel("nope", 10.0)]))
    assert "'nope'" in raised.value.message and "corun benchmark" in raised.value.message
    negative = corun.PlannedModel("cam", 10.0)
    negative.rate = -1.0
    with pytest.raises(corun.HailoRTInvalidArgumentException):
        planner.predict(corun.CapacityWorkload("npu-sim", [negative]))
