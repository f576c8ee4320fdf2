#!/usr/bin/python3
"""The wheel of the Python package `corun` (issue 14), built and used as a user with their own
environment would: `pip wheel` offline with Debian's setuptools (setup.py, from the existing
build tree through CORUN_BUILD_DIR), then installed into a fresh venv and imported from a folder
outside the source tree.

  - the wheel is platform-specific for this Python (cp311-cp311-linux_x86_64) and holds the
    module, ONNX Runtime's library beside it, the pure-Python files and the stubs;
  - the module finds ONNX Runtime through RUNPATH $ORIGIN only: no path of the build machine;
  - in the venv, `import corun` is the installed package (not the build tree's, which the
    build's corun.pth also offers), and the ONNX Runtime it loads is the wheel's;
  - add_one.onnx runs: every output is its input + 1, exactly; a missing model raises
    HailoRTNotFoundException naming the file;
  - the detector finds the dog in dog.jpg (when scripts/fetch_models.sh fetched the zoo);
  - pip uninstall removes every file the wheel installed.

usage: python_wheel_test.py SOURCE_DIR BUILD_DIR TEST_MODEL_DIR MODEL_CACHE_DIR
"""
import os
import sys
import sysconfig
import tempfile
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "service"))
from installed_corun import run  # noqa: E402
from process_checks import check, exit_code  # noqa: E402

SOURCE, BUILD, TEST_MODELS, CACHE = sys.argv[1:5]
MODULE = "_corun" + sysconfig.get_config_var("EXT_SUFFIX")
WHEEL_NAME = "corun-0.1.0-cp%d%d-cp%d%d-linux_%s.whl" % (
    sys.version_info[0], sys.version_info[1], sys.version_info[0], sys.version_info[1],
    os.uname().machine)

# Runs inside the venv, from a folder outside the source tree; prints "key value" lines.
USER_PROGRAM = r'''
import os, sys
import numpy as np
import corun
print("package", os.path.dirname(corun.__file__))
with corun.VDevice() as vdevice:
    model = vdevice.create_infer_model(sys.argv[1])
    with model.configure() as configured:
        bindings = configured.create_bindings()
        frame = (np.arange(model.input().shape[-1] if model.input().shape else 1) * 0.25 - 1)
        frame = np.resize(frame, model.input().shape).astype(np.float32)
        bindings.input().set_buffer(frame)
        configured.run([bindings], 5000)
        output = bindings.output().get_buffer()
        print("add_one_exact", bool(np.array_equal(output.reshape(-1), frame.reshape(-1) + 1)))
    try:
        vdevice.create_infer_model("/nonexistent/absent.onnx")
        print("missing_model_raises False")
    except corun.HailoRTNotFoundException as error:
        print("missing_model_raises", "absent.onnx" in str(error))
    if len(sys.argv) > 2:
        import corun.tasks
        labels = [d.label for d in corun.tasks.detect(sys.argv[2], vdevice=vdevice)]
        print("detect_labels", ",".join(sorted(set(labels))))
with open("/proc/self/maps") as maps:
    onnxruntime = sorted({line.split()[-1] for line in maps if "libonnxruntime" in line})
print("onnxruntime", ";".join(onnxruntime))
'''


def build_wheel(out_dir):
    environment = dict(os.environ, CORUN_BUILD_DIR=BUILD)
    code, out, err = run(["/usr/bin/python3", "-m", "pip", "wheel", SOURCE, "--no-build-isolation",
                          "--no-deps", "--no-index", "-w", out_dir], timeout=600, env=environment)
    check(code == 0, "pip wheel builds offline with Debian's setuptools", out[-3000:] + err)
    return os.path.join(out_dir, WHEEL_NAME)


def check_wheel_contents(wheel):
    check(os.path.exists(wheel), "the wheel is %s" % WHEEL_NAME, str(os.listdir(
        os.path.dirname(wheel))))
    if not os.path.exists(wheel):
        return
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        expected = {"corun/" + MODULE, "corun/libonnxruntime.so.1", "corun/__init__.py",
                    "corun/errors.py", "corun/genai.py", "corun/tasks.py", "corun/_corun.pyi",
                    "corun/py.typed"}
        check(expected <= names, "the wheel holds the module, ONNX Runtime and the Python files",
              str(sorted(expected - names)))
        with tempfile.TemporaryDirectory() as unpacked:
            archive.extract("corun/" + MODULE, unpacked)
            _, dynamic, _ = run(["readelf", "-d", os.path.join(unpacked, "corun", MODULE)])
    paths = [line for line in dynamic.splitlines() if "RUNPATH" in line or "RPATH" in line]
    check(len(paths) == 1 and paths[0].rstrip().endswith("[$ORIGIN]"),
          "the module's RUNPATH is $ORIGIN alone", "\n".join(paths))


def check_in_venv(wheel, work):
    venv = os.path.join(work, "venv")
    # --system-site-packages: numpy comes from Debian (no package index here).
    code, out, err = run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", venv])
    check(code == 0, "a venv is created", out + err)
    python = os.path.join(venv, "bin", "python")
    code, out, err = run([python, "-m", "pip", "install", "--no-index", "--no-deps", wheel],
                         timeout=300)
    check(code == 0, "pip installs the wheel into the venv", out + err)
    program = os.path.join(work, "user_program.py")
    with open(program, "w") as file:
        file.write(USER_PROGRAM)
    arguments = [python, program, os.path.join(TEST_MODELS, "add_one.onnx")]
    dog = os.path.join(CACHE, "data", "darknet", "dog.jpg")
    with_zoo = os.path.exists(dog) and os.path.exists(
        os.path.join(CACHE, "models", "nanodet", "nanodet.onnx"))
    if with_zoo:
        arguments.append(dog)
    else:
        print("note: the zoo is not fetched (scripts/fetch_models.sh); the detect part is left out")
    user_dir = os.path.join(work, "elsewhere")
    os.makedirs(user_dir)
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    code, out, err = run(arguments, cwd=user_dir, env=environment)
    check(code == 0, "the user's program runs in the venv", out + err)
    facts = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
    site = os.path.realpath(os.path.join(venv, "lib"))
    package = os.path.realpath(facts.get("package", ""))
    check(package.startswith(site), "import corun is the installed wheel", package)
    check(facts.get("add_one_exact") == "True", "add_one: every output is its input + 1", out)
    check(facts.get("missing_model_raises") == "True",
          "a missing model raises HailoRTNotFoundException naming the file", out)
    loaded = [os.path.realpath(path) for path in facts.get("onnxruntime", "").split(";") if path]
    check(len(loaded) == 1 and loaded[0].startswith(package + os.sep),
          "ONNX Runtime is loaded from the wheel's folder", str(loaded))
    if with_zoo:
        labels = facts.get("detect_labels", "").split(",")
        check("dog" in labels and "bicycle" in labels, "the detector finds the dog and the bicycle",
              out)
    code, out, err = run([python, "-m", "pip", "uninstall", "-y", "corun"])
    check(code == 0 and not os.path.exists(package), "pip uninstall removes the package",
          out + err)


def main():
    with tempfile.TemporaryDirectory(prefix="corun-wheel-") as work:
        wheel = build_wheel(os.path.join(work, "dist"))
        check_wheel_contents(wheel)
        if os.path.exists(wheel):
            check_in_venv(wheel, work)
    return exit_code()


if __name__ == "__main__":
    sys.exit(main())
