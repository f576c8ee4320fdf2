"""Builds the wheel of the Python package `corun` with the project's own CMake build.

setuptools only packs: the build_ext step below configures and builds the CMake target
`corun_python_package` (in CORUN_BUILD_DIR when it names an existing build, else in build-wheel/),
installs its `python` component into a staging folder (the module with INSTALL_RPATH $ORIGIN and
ONNX Runtime's library beside it, the pure-Python files, stripped) and copies that folder into the
wheel. See docs/PYTHON.md, "A wheel for another environment".
"""

import os
import shutil
import subprocess
import sys
import sysconfig

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

SOURCE_DIR = os.path.dirname(os.path.abspath(__file__))


def run(command):
    print("+ " + " ".join(command), flush=True)
    subprocess.run(command, check=True)


class CMakePackage(build_ext):
    """Replaces compiling the one declared extension by the CMake build of the whole package."""

    def build_extension(self, extension):
        build_dir = os.environ.get("CORUN_BUILD_DIR") or os.path.join(SOURCE_DIR, "build-wheel")
        build_dir = os.path.abspath(build_dir)
        if not os.path.exists(os.path.join(build_dir, "CMakeCache.txt")):
            if not os.path.isdir(os.path.join(SOURCE_DIR, ".cache", "onnxruntime")):
                sys.exit("corun wheel: ONNX Runtime is not fetched yet; run `bash scripts/setup.sh` "
                         "(as root, it installs the Debian packages the build needs) and retry")
            run(["cmake", "-S", SOURCE_DIR, "-B", build_dir, "-G", "Ninja",
                 "-DCMAKE_BUILD_TYPE=Release", "-DCORUN_PYTHON=ON",
                 "-DPython3_EXECUTABLE=" + sys.executable])
        run(["cmake", "--build", build_dir, "--target", "corun_python_package"])
        staging = os.path.join(self.build_temp, "corun-staging")
        shutil.rmtree(staging, ignore_errors=True)
        run(["cmake", "--install", build_dir, "--component", "python", "--prefix", staging,
             "--strip"])
        module_name = "_corun" + sysconfig.get_config_var("EXT_SUFFIX")
        built_module = os.path.join(staging, "corun", module_name)
        if not os.path.exists(built_module):
            sys.exit(f"corun wheel: the build made no {module_name}: it was built for another "
                     f"Python than {sys.executable}; set CORUN_BUILD_DIR to a build for this one "
                     "or leave it unset")
        package_dir = os.path.dirname(self.get_ext_fullpath(extension.name))
        shutil.rmtree(package_dir, ignore_errors=True)
        shutil.copytree(os.path.join(staging, "corun"), package_dir)


# setuptools' own scratch folders go under build-wheel/ too, not into build/ (the CMake build
# of `make build`) or the source tree.
SCRATCH_DIR = os.path.join(SOURCE_DIR, "build-wheel", "setuptools")
os.makedirs(SCRATCH_DIR, exist_ok=True)

setup(
    options={"build": {"build_base": SCRATCH_DIR}, "egg_info": {"egg_base": SCRATCH_DIR}},
    # One declared extension makes the wheel platform-specific (cp311-cp311-linux_x86_64);
    # CMakePackage builds it and the rest of the package.
    ext_modules=[Extension("corun._corun", sources=[])],
    cmdclass={"build_ext": CMakePackage},
)
