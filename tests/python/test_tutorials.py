"""The tutorial scripts of examples/python, written as HailoRT's Python tutorials are (only the
import line and the model path differ), run as users run them: the single-model async one, the
multiple-models one from threads and from processes through corund, and the scheduler setters."""
import os
import subprocess
import sys

from conftest import SOURCE_DIR, model_file, zoo
from test_service import corund  # noqa: F401 (the fixture)

EXAMPLES = os.path.join(SOURCE_DIR, "examples", "python")


def run_example(name, *arguments, env=None):
    result = subprocess.run([sys.executable, os.path.join(EXAMPLES, name), *arguments],
                            capture_output=True, text=True, timeout=240,
                            env=dict(os.environ, **(env or {})))
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_async_inference_single_model():
    out = run_example("async_inference_single_model.py", model_file("quantized.onnx"))
    assert "done, output shape [4]" in out


def test_async_inference_multiple_models_from_threads_and_processes(corund):  # noqa: F811
    out = run_example("async_inference_multiple_models.py", zoo("models/emotion/emotion.onnx"),
                      "input_1", "--processes", env={"CORUN_SERVICE_SOCKET": corund})
    assert out.count("Done inference") == 2


def test_scheduler_setters():
    out = run_example("scheduler_setters.py", model_file("add_one.onnx"),
                      model_file("slow_matmul.onnx"))
    assert "camera model: 8 frames, batch model: 8 frames" in out
    assert "add_one: priority 24" in out and "slow_matmul: priority 16" in out
