#!/usr/bin/python3
"""The installed corun, used as a user would (issue 11): `cmake --install` into a temporary
prefix, then tests/install/app (CMakeLists of find_package(corun) + corun::corun, and main.cpp)
built against that prefix alone, with CMake and with pkg-config.

  - the layout: headers, libcorun.so.MAJOR (its SONAME), the plug-in and ONNX Runtime in
    lib/corun/, the CMake package with its version file, corun.pc, corun and corund;
  - libcorun exports namespace corun only (no standard-library or third-party symbol), and
    needs neither gRPC nor protobuf;
  - find_package(corun 0.1) finds it, a version it is not compatible with does not;
  - the program runs add_one.onnx in-process: every output is its input + 1, exactly; the
    pkg-config build prints the same; `ldd` of both shows libcorun from the prefix and no
    libgrpc*/libprotobuf*;
  - a program written for HailoRT's hailo/hailort.hpp, built with corun::hailort, runs add_one.onnx
    with the same result;
  - a zoo model (emotion, when scripts/fetch_models.sh fetched it): 7 probabilities summing to 1;
  - the installed `corun scan` runs from the prefix.

usage: install_tree_test.py BUILD_DIR CXX TEST_MODEL_DIR MODEL_CACHE_DIR VERSION LIBDIR
(LIBDIR: CMAKE_INSTALL_LIBDIR, relative to the prefix)
"""
import os
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "service"))
from installed_corun import (app_input, app_outputs, build_with_cmake,  # noqa: E402
                             build_with_pkg_config, install, loaded_libraries, rpc_libraries, run)
from process_checks import check, exit_code  # noqa: E402

BUILD, CXX, TEST_MODELS, CACHE, VERSION, LIBDIR = sys.argv[1:7]
MAJOR = VERSION.split(".")[0]
ADD_ONE = os.path.join(TEST_MODELS, "add_one.onnx")
EMOTION = os.path.join(CACHE, "models", "emotion", "emotion.onnx")

# What libcorun may export: namespace corun, its vtables and type information.
EXPORTED_PREFIXES = ("corun::", "typeinfo for corun::", "typeinfo name for corun::",
                     "vtable for corun::", "VTT for corun::", "guard variable for corun::")


def check_layout(prefix):
    expected = ["include/corun/corun.hpp", "include/corun/vdevice.hpp",
                "bin/corun", "bin/corund", "etc/corun/corund.conf",
                "lib/systemd/system/corund.service"]
    expected += [os.path.join(LIBDIR, path) for path in [
        "libcorun.so", "libcorun.so.%s" % MAJOR, "libcorun.so.%s" % VERSION,
        "corun/libcorun_remote.so", "corun/libonnxruntime.so.1",
        "cmake/corun/corunConfig.cmake", "cmake/corun/corunConfigVersion.cmake",
        "cmake/corun/corunTargets.cmake", "pkgconfig/corun.pc"]]
    missing = [path for path in expected if not os.path.exists(os.path.join(prefix, path))]
    check(not missing, "installed layout complete", "missing: %s" % missing)
    library = os.path.join(prefix, LIBDIR, "libcorun.so." + VERSION)
    _, dynamic, _ = run(["readelf", "-d", library])
    check("Library soname: [libcorun.so.%s]" % MAJOR in dynamic, "SONAME libcorun.so.%s" % MAJOR,
          dynamic)
    needed = [line for line in dynamic.splitlines() if "(NEEDED)" in line]
    check(needed and not any("grpc" in line or "protobuf" in line for line in needed),
          "libcorun needs neither gRPC nor protobuf", "\n".join(needed))
    _, symbols, _ = run(["nm", "-D", "--defined-only", "-C", library])
    names = [line.split(" ", 2)[2] for line in symbols.splitlines() if line.count(" ") >= 2]
    foreign = [name for name in names if not name.startswith(EXPORTED_PREFIXES)]
    check(any(name.startswith("corun::VDevice::create(") for name in names) and not foreign,
          "libcorun exports namespace corun only (%d symbols)" % len(names),
          "not in namespace corun: %s" % foreign[:20])
    unit = open(os.path.join(prefix, "lib/systemd/system/corund.service")).read()
    check("ExecStart=%s/bin/corund " % prefix in unit and
          "--config %s/etc/corun/corund.conf" % prefix in unit,
          "corund.service starts this install's corund with its configuration",
          [line for line in unit.splitlines() if line.startswith("ExecStart")])


def check_version_file(prefix, work):
    source = os.path.join(work, "wants-1.0")
    os.makedirs(source)
    with open(os.path.join(source, "CMakeLists.txt"), "w") as out:
        out.write("cmake_minimum_required(VERSION 3.25)\nproject(p CXX)\n"
                  "find_package(corun 1.0 REQUIRED)\n")
    code, out, err = run(["cmake", "-S", source, "-B", os.path.join(source, "build"),
                          "-DCMAKE_PREFIX_PATH=" + prefix])
    check(code != 0 and "corunConfig.cmake, version: %s" % VERSION in out + err,
          "find_package(corun 1.0) refuses version %s, naming it" % VERSION, (out + err)[-800:])


def check_add_one(binary, label):
    code, out, err = run([binary, ADD_ONE])
    check(code == 0, "%s: one frame of add_one in-process" % label, err)
    outputs, devices = app_outputs(out)
    expected = [x + 1.0 for x in app_input(48)]
    check(outputs.get("y") == expected, "%s: y == x + 1 for all 48 elements, exactly" % label,
          out[:500])
    check(devices and devices[0].startswith("cpu:0 | ") and "corund" not in devices[0],
          "%s: ran on the in-process cpu device" % label, devices)
    return out


def check_links(binary, prefix, label):
    libraries = loaded_libraries(binary)
    corun_line = libraries.get("libcorun.so.%s" % MAJOR, "")
    ort_line = libraries.get("libonnxruntime.so.1", "")
    check(os.path.join(prefix, LIBDIR, "libcorun.so.%s" % MAJOR) in corun_line,
          "%s: ldd finds libcorun in the prefix" % label, corun_line)
    check(os.path.join(prefix, LIBDIR, "corun", "libonnxruntime.so.1") in ort_line,
          "%s: ldd finds ONNX Runtime in the prefix's LIBDIR/corun" % label, ort_line)
    found = rpc_libraries(binary)
    check(not found, "%s: ldd shows no libgrpc*/libprotobuf*" % label, found)


def check_hailort_app(binary, work):
    """tests/compat/async_infer_basic_example against the installed compatibility header."""
    values = app_input(48)
    input_path, output_path = os.path.join(work, "hailort_in.bin"), os.path.join(work, "hailort_out.bin")
    with open(input_path, "wb") as frame:
        frame.write(struct.pack("<48f", *values))
    code, out, err = run([binary, ADD_ONE, input_path, output_path])
    outputs = []
    if code == 0 and os.path.exists(output_path):
        with open(output_path, "rb") as frame:
            outputs = list(struct.unpack("<48f", frame.read()))
    check(outputs == [value + 1.0 for value in values],
          "corun::hailort: a HailoRT-style program runs add_one, outputs = inputs + 1", out + err)


def main():
    with tempfile.TemporaryDirectory(prefix="corun-install-") as work:
        prefix = os.path.join(work, "prefix")
        install(BUILD, prefix)
        check_layout(prefix)
        check_version_file(prefix, work)

        with_cmake = build_with_cmake(prefix, work, CXX)
        cmake_output = check_add_one(with_cmake, "find_package build")
        check_links(with_cmake, prefix, "find_package build")

        check_hailort_app(os.path.join(os.path.dirname(with_cmake), "hailort_app"), work)

        with_pkg_config = build_with_pkg_config(prefix, LIBDIR, work, CXX)
        pkg_config_output = check_add_one(with_pkg_config, "pkg-config build")
        check(pkg_config_output == cmake_output, "both builds print the same")
        check_links(with_pkg_config, prefix, "pkg-config build")

        if os.path.exists(EMOTION):
            code, out, err = run([with_cmake, EMOTION])
            outputs, _ = app_outputs(out)
            probabilities = next(iter(outputs.values()), [])
            check(code == 0 and len(probabilities) == 7 and
                  all(0.0 <= p <= 1.0 for p in probabilities) and
                  abs(sum(probabilities) - 1.0) < 1e-4,
                  "emotion: 7 class probabilities summing to 1", out + err)
        else:
            print("note: %s not fetched (scripts/fetch_models.sh); zoo model part left out"
                  % EMOTION)

        code, out, err = run([os.path.join(prefix, "bin", "corun"), "scan"])
        check(code == 0 and "cpu:0" in out, "the installed corun scan runs", out + err)

    return exit_code()


if __name__ == "__main__":
    sys.exit(main())
