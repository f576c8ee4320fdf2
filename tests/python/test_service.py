"""A VDevice shared by group_id across two Python processes through corund (the real daemon,
started here on a socket in a private temporary directory and stopped by its PID)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest

import corun
from corun import VDevice
from conftest import CORUN_BINARY, CORUND_BINARY, model_file

# The second process: configures add_one in the shared group, runs five frames, says so, and
# keeps its model configured until its stdin closes.
CHILD = r"""
import sys
import numpy as np
import corun
params = corun.VDevice.create_params()
params.multi_process_service = True
params.service_socket = sys.argv[1]
params.group_id = sys.argv[2]
with corun.VDevice(params) as vdevice:
    with vdevice.create_infer_model(sys.argv[3]).configure() as configured:
        frame = np.full((3, 4, 4), 41, np.float32)
        bindings = configured.create_bindings(input_buffers={"x": frame})
        for _ in range(5):
            configured.run([bindings], 30000)
        assert bindings.output().get_buffer()[0, 0, 0] == 42.0
        print("ran", configured.scheduler_model_id, flush=True)
        sys.stdin.read()
"""


@pytest.fixture
def corund():
    directory = tempfile.mkdtemp(prefix="corun-pytest-")  # mode 0700, as corund requires
    socket = os.path.join(directory, "corund.sock")
    daemon = subprocess.Popen([CORUND_BINARY, "--socket", socket, "--log-level", "warn"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(600):
            if os.path.exists(socket) or daemon.poll() is not None:
                break
            time.sleep(0.05)
        assert daemon.poll() is None, daemon.stderr.read().decode()
        yield socket
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
        shutil.rmtree(directory, ignore_errors=True)


def service_params(socket, group_id):
    params = VDevice.create_params()
    params.multi_process_service = True
    params.service_socket = socket
    params.group_id = group_id
    return params


def test_two_python_processes_share_a_group_through_corund(corund, group_id):
    model = model_file("add_one.onnx")
    child = subprocess.Popen([sys.executable, "-c", CHILD, corund, group_id, model],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ))
    try:
        line = child.stdout.readline()
        assert line.startswith("ran "), child.stderr.read()
        child_model_id = int(line.split()[1])
        with VDevice(service_params(corund, group_id)) as vdevice:
            with vdevice.create_infer_model(model).configure() as configured:
                bindings = configured.create_bindings(
                    input_buffers={"x": np.zeros((3, 4, 4), np.float32)})
                for _ in range(3):
                    configured.run([bindings], 30000)
                assert bindings.output().get_buffer()[0, 0, 0] == 1.0
                # One group in corund holds both processes' models (`corun monitor` lists them).
                snapshot = json.loads(subprocess.run(
                    [CORUN_BINARY, "monitor", "--socket", corund, "--json", "--once"],
                    check=True, capture_output=True, text=True).stdout)
                in_group = sorted((int(m["pid"]), int(m["model_id"])) for m in snapshot["models"]
                                  if m["group_id"] == group_id)
                assert in_group == sorted([(child.pid, child_model_id),
                                           (os.getpid(), configured.scheduler_model_id)])
    finally:
        child.stdin.close()
        assert child.wait(timeout=60) == 0, child.stderr.read()


def test_an_unreachable_service_raises_with_the_status(tmp_path, group_id):
    with pytest.raises(corun.CorunServiceException) as raised:
        VDevice(service_params(str(tmp_path / "nobody.sock"), group_id))
    assert raised.value.status == "RPC_FAILED"
    assert "nobody.sock" in raised.value.message
