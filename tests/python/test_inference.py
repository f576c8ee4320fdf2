"""ConfiguredInferModel, Bindings and AsyncInferJob: outputs equal the C++ API's bit for bit,
run_async callbacks in order and out of order, completion_info.exception, exceptions inside
callbacks, wait_for_async_ready, the scheduler setters and statistics, shutdown, several threads,
and the GIL released during inference (proven by a counter, not by time)."""
import json
import subprocess
import sys
import threading

import numpy as np
import pytest

import corun
from corun import HailoSchedulingAlgorithm, VDevice
from conftest import CORUN_BINARY, model_file, zoo


def add_one_frames(count):
    return [np.full((3, 4, 4), i, np.float32) for i in range(count)]


def test_outputs_equal_the_cpp_api_bit_for_bit(vdevice, tmp_path):
    path = zoo("models/nanodet/nanodet.onnx")
    model = vdevice.create_infer_model(path)
    frame = np.random.default_rng(14).standard_normal((1, 3, 416, 416)).astype(np.float32)
    np.save(tmp_path / "in.npy", frame)
    out_dir = tmp_path / "cpp"
    subprocess.run([CORUN_BINARY, "run", path, "--input", f"{model.input_names[0]}={tmp_path}/in.npy",
                    "--output-dir", str(out_dir)], check=True, capture_output=True)
    listed = json.loads((out_dir / "outputs.json").read_text())
    with model.configure() as configured:
        bindings = configured.create_bindings(input_buffers={model.input_names[0]: frame[0]})
        configured.run([bindings], 30000)
        for entry in listed["outputs"] if isinstance(listed, dict) else listed:
            expected = np.load(out_dir / entry["npy"]) if "npy" in entry else None
            if expected is None:
                expected = np.load(out_dir / (entry["file"] if "file" in entry else entry["name"] + ".npy"))
            ours = bindings.output(entry["name"]).get_buffer()
            assert ours.dtype == expected.dtype
            assert ours.tobytes() == expected.tobytes(), entry["name"]


def test_run_async_callbacks_come_in_order_for_one_model(vdevice):
    model = vdevice.create_infer_model(model_file("add_one.onnx"))
    completed = []
    with model.configure() as configured:
        jobs, all_bindings = [], []
        for index, frame in enumerate(add_one_frames(12)):
            configured.wait_for_async_ready(10000)
            bindings = configured.create_bindings(input_buffers={"x": frame})
            all_bindings.append(bindings)

            def done(completion_info, index=index):
                assert completion_info.exception is None
                assert completion_info.status == "SUCCESS"
                completed.append(index)

            jobs.append(configured.run_async([bindings], done))
        jobs[-1].wait(10000)
        for job in jobs:
            job.wait(10000)
    assert completed == list(range(12))
    for index, bindings in enumerate(all_bindings):
        assert np.array_equal(bindings.output().get_buffer(), np.full((3, 4, 4), index + 1, np.float32))


def test_completion_info_carries_the_prediction_a_latency_slo_was_checked_against(vdevice):
    model = vdevice.create_infer_model(model_file("slow_matmul.onnx"))
    infos = []
    with model.configure() as configured:
        bindings = configured.create_bindings(input_buffers={"x": np.ones((512,), np.float32)})
        configured.run_async([bindings], lambda completion_info: infos.append(completion_info)).wait(60000)
        # The scheduler books a frame's time just after completing it: wait for the booking.
        for _ in range(10000):
            if any(stats.predicted_latency_ms > 0 for stats in vdevice.get_scheduler_stats()):
                break
            threading.Event().wait(0.001)
        configured.set_latency_slo(3600 * 1000)
        configured.run_async([bindings], lambda completion_info: infos.append(completion_info)).wait(60000)
    assert [info.status for info in infos] == ["SUCCESS", "SUCCESS"]
    assert infos[0].predicted_ns == 0  # no SLO, no deadline: nothing was predicted
    assert infos[1].predicted_ns > 0


def test_callbacks_of_a_higher_priority_model_overtake(vdevice):
    # The slow model's frames are queued first, in bursts of up to 3 that run one at a time
    # (one burst of a model at once); a frame of the fast model at top priority runs before the
    # slow model's last burst, so its callback comes out of submission order. That holds only
    # if the fast frame was queued before the slow model's first burst had completed: on a busy
    # machine Python can be descheduled for longer than the slow frames take, so an attempt
    # where a slow callback came before the fast frame was even submitted says nothing, and is
    # made again (at most 10 times; at least one must say something).
    slow = vdevice.create_infer_model(model_file("slow_matmul.onnx"))
    slow.set_batch_size(3)
    slow = slow.configure()
    fast = vdevice.create_infer_model(model_file("add_one.onnx")).configure()
    fast.set_scheduler_priority(31)
    count = min(6, slow.get_async_queue_size())
    slow_bindings = [slow.create_bindings(input_buffers={"x": np.ones((512,), np.float32)})
                     for _ in range(count)]
    fast_bindings = fast.create_bindings(input_buffers={"x": np.zeros((3, 4, 4), np.float32)})
    conclusive = 0
    for _ in range(10):
        order = []
        done_before = sum(stats.frames_done for stats in vdevice.get_scheduler_stats()
                          if "slow" in stats.name)
        jobs = [slow.run_async([b], lambda completion_info, i=i: order.append(f"slow{i}"))
                for i, b in enumerate(slow_bindings)]
        jobs.append(fast.run_async([fast_bindings], lambda completion_info: order.append("fast")))
        # The scheduler's own count, not the callbacks (which a busy machine delivers late):
        # no slow frame done yet, so its second burst had not started either.
        queued_in_time = sum(stats.frames_done for stats in vdevice.get_scheduler_stats()
                             if "slow" in stats.name) == done_before
        for job in jobs:
            job.wait(30000)
        assert sorted(order) == sorted(["fast"] + [f"slow{i}" for i in range(count)])
        if not queued_in_time:
            continue
        conclusive += 1
        assert order.index("fast") < order.index(f"slow{count - 1}")
        if conclusive == 3:
            break
    assert conclusive > 0, "the fast frame was never queued before a slow burst completed"
    slow.shutdown()
    fast.shutdown()


def test_a_job_held_by_the_threshold_times_out_then_ends_with_shutdown(vdevice):
    model = vdevice.create_infer_model(model_file("add_one.onnx"))
    model.set_batch_size(2)
    configured = model.configure()
    assert configured.get_async_queue_size() == 4
    configured.set_scheduler_threshold(4)  # no frame runs before four are queued
    infos = []
    bindings = configured.create_bindings(input_buffers={"x": np.zeros((3, 4, 4), np.float32)})
    job = configured.run_async([bindings], lambda completion_info: infos.append(completion_info))
    with pytest.raises(corun.HailoRTTimeout) as raised:
        job.wait(1)
    assert raised.value.status == "TIMEOUT"
    assert not job.is_done
    configured.wait_for_async_ready(0, 3)  # three more fit
    with pytest.raises(corun.HailoRTTimeout):
        configured.wait_for_async_ready(0, 4)
    with pytest.raises(corun.HailoRTInvalidArgumentException):
        configured.wait_for_async_ready(0, 5)  # more than the queue holds
    assert configured.get_frames_in_flight() == 1
    configured.shutdown()
    with pytest.raises(corun.HailoRTStreamAborted) as raised:
        job.wait(10000)
    assert raised.value.status == "SHUTDOWN"
    assert len(infos) == 1
    assert isinstance(infos[0].exception, corun.HailoRTStreamAborted)
    assert infos[0].exception.status == "SHUTDOWN" == infos[0].status
    with pytest.raises(corun.HailoRTStreamAborted):
        configured.run([bindings], 1000)


def test_an_exception_in_a_callback_is_reported_not_raised(vdevice):
    model = vdevice.create_infer_model(model_file("add_one.onnx"))
    reported = []
    previous = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: reported.append(unraisable.exc_type)
    try:
        with model.configure() as configured:
            bindings = configured.create_bindings(input_buffers={"x": np.zeros((3, 4, 4), np.float32)})

            def broken(completion_info):
                raise ValueError("a bug in the user's callback")

            configured.run_async([bindings], broken).wait(10000)
            assert reported == [ValueError]
            # The model goes on working.
            configured.run([bindings], 10000)
            assert bindings.output().get_buffer()[0, 0, 0] == 1.0
            with pytest.raises(corun.HailoRTInvalidArgumentException):
                configured.run_async([bindings], "not callable")
    finally:
        sys.unraisablehook = previous


def test_run_takes_several_bindings_as_one_job(vdevice):
    model = vdevice.create_infer_model(model_file("add_one.onnx"))
    model.set_batch_size(3)
    with model.configure() as configured:
        frames = add_one_frames(3)
        bindings = [configured.create_bindings(input_buffers={"x": f}) for f in frames]
        configured.run(bindings, 10000)
        for frame, b in zip(frames, bindings):
            assert np.array_equal(b.output().get_buffer(), frame + 1)
        with pytest.raises(corun.HailoRTInvalidArgumentException):
            configured.run([], 1000)


def test_scheduler_setters_and_stats(group_id):
    params = VDevice.create_params()
    params.group_id = group_id
    with VDevice(params) as vdevice:
        model = vdevice.create_infer_model(model_file("add_one.onnx"))
        with model.configure() as configured:
            configured.set_scheduler_priority(20)
            configured.set_scheduler_threshold(1)
            configured.set_scheduler_timeout(0)
            with pytest.raises(corun.HailoRTInvalidArgumentException):
                configured.set_scheduler_priority(32)
            bindings = configured.create_bindings(input_buffers={"x": np.zeros((3, 4, 4), np.float32)})
            for _ in range(5):
                configured.run([bindings], 10000)
            stats = [s for s in vdevice.get_scheduler_stats()
                     if s.model_id == configured.scheduler_model_id]
            assert len(stats) == 1
            assert (stats[0].name, stats[0].frames_done, stats[0].priority) == ("add_one", 5, 20)
    params.group_id = group_id + "-none"
    params.scheduling_algorithm = HailoSchedulingAlgorithm.NONE
    with VDevice(params) as vdevice:
        with vdevice.create_infer_model(model_file("add_one.onnx")).configure() as configured:
            with pytest.raises(corun.HailoRTInvalidOperationException):
                configured.set_scheduler_priority(20)


def test_several_python_threads_share_one_vdevice(vdevice):
    errors, frames_done = [], []

    def worker(seed):
        try:
            model = vdevice.create_infer_model(model_file("add_one.onnx"))
            with model.configure() as configured:
                for i in range(20):
                    frame = np.full((3, 4, 4), seed * 100 + i, np.float32)
                    bindings = configured.create_bindings(input_buffers={"x": frame})
                    configured.run([bindings], 10000)
                    if not np.array_equal(bindings.output().get_buffer(), frame + 1):
                        errors.append((seed, i))
                # Every thread's model is on the one scheduler the VDevice's group has.
                listed = {s.model_id for s in vdevice.get_scheduler_stats()}
                frames_done.append(configured.scheduler_model_id in listed)
        except Exception as error:  # reported below, with the thread it came from
            errors.append((seed, error))

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert frames_done == [True] * 4


def test_the_gil_is_released_while_run_blocks(vdevice):
    # run() waits for a frame the threshold holds back; only a second Python thread can release
    # it, after counting to 1000. Were the GIL held, that thread could not count and run() would
    # time out.
    model = vdevice.create_infer_model(model_file("add_one.onnx"))
    model.set_batch_size(2)  # both frames run as one burst once the second arrives
    configured = model.configure()
    configured.set_scheduler_threshold(2)
    first = configured.create_bindings(input_buffers={"x": np.zeros((3, 4, 4), np.float32)})
    second = configured.create_bindings(input_buffers={"x": np.ones((3, 4, 4), np.float32)})
    counter = {"count": 0, "job": None}

    def count_then_release():
        while configured.get_frames_in_flight() == 0:  # until run() has queued the first frame
            pass
        while counter["count"] < 1000:
            counter["count"] += 1
        counter["job"] = configured.run_async([second])

    helper = threading.Thread(target=count_then_release)
    helper.start()
    configured.run([first], 60000)
    helper.join()
    counter["job"].wait(10000)
    assert counter["count"] == 1000
    assert first.output().get_buffer()[0, 0, 0] == 1.0
    assert second.output().get_buffer()[0, 0, 0] == 2.0
    configured.shutdown()


def test_async_job_wait_releases_the_gil(vdevice):
    model = vdevice.create_infer_model(model_file("add_one.onnx"))
    model.set_batch_size(2)
    with model.configure() as configured:
        configured.set_scheduler_threshold(2)
        first = configured.create_bindings(input_buffers={"x": np.zeros((3, 4, 4), np.float32)})
        second = configured.create_bindings(input_buffers={"x": np.zeros((3, 4, 4), np.float32)})
        count = [0]
        job = None

        def count_then_release():
            while job is None or configured.get_frames_in_flight() == 0:
                pass
            while count[0] < 1000:
                count[0] += 1
            configured.run_async([second]).wait(10000)

        helper = threading.Thread(target=count_then_release)
        helper.start()
        job = configured.run_async([first])
        job.wait(60000)
        helper.join()
        assert count[0] == 1000


# A program that ends with jobs in flight, one configured model dropped while its frames run, and
# callbacks still to come: atexit shuts the models down and waits for the callbacks while Python
# can still run them.
EXIT_WITH_JOBS = r"""
import sys
import numpy as np
import corun
vdevice = corun.VDevice()
model = vdevice.create_infer_model(sys.argv[1])
model.set_batch_size(4)
configured = model.configure()
calls = []
for _ in range(8):
    bindings = configured.create_bindings(input_buffers={"x": np.ones(512, np.float32)})
    configured.wait_for_async_ready(10000)
    configured.run_async([bindings], lambda completion_info: calls.append(1))
dropped = vdevice.create_infer_model(sys.argv[1]).configure()
for _ in range(2):
    dropped.run_async(dropped.create_bindings(input_buffers={"x": np.ones(512, np.float32)}),
                      lambda completion_info: print("dropped model's callback", flush=True))
del dropped  # its frames still run, and call back, after the last handle is gone
vdevice.release()
print("exiting", flush=True)
"""


def test_a_program_may_exit_with_jobs_in_flight():
    result = subprocess.run([sys.executable, "-c", EXIT_WITH_JOBS, model_file("slow_matmul.onnx")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    # The dropped model's callbacks ran, at the latest at exit, before Python finalized.
    # (Counted, not split in lines: a callback's print may interleave with the main thread's.)
    assert result.stdout.count("dropped model's callback") == 2
    assert result.stdout.count("exiting") == 1
