#!/usr/bin/python3
"""The .deb (issue 11): `cpack` in the build folder makes corun_<version>_<arch>.deb; this test
builds it into a temporary folder and looks inside without installing it on the machine.

  - its metadata: Package corun, the version, this machine's architecture, and Depends with the
    Debian runtime packages of what the binaries link (dpkg-shlibdeps: gRPC, protobuf, OpenCV,
    spdlog, the C and C++ runtimes) plus adduser, and not ONNX Runtime, which ships inside;
  - its control files: /etc/corun/corund.conf a conffile, a shlibs line for libcorun only, the
    postinst that adds the corun user;
  - its files: corun, corund, libcorun, the plug-in and ONNX Runtime, headers, the CMake package,
    corun.pc (prefix /usr), the configuration and the systemd unit (ExecStart /usr/bin/corund);
  - unpacked with dpkg -x: `corun scan` and `corund --version` run from it, finding ONNX Runtime
    inside the unpacked tree through their RPATH; and libcorun from it loads no gRPC.

usage: deb_package_test.py BUILD_DIR VERSION
"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "service"))
from installed_corun import loaded_libraries, rpc_libraries, run  # noqa: E402
from process_checks import check, exit_code  # noqa: E402

BUILD, VERSION = sys.argv[1:3]
MAJOR = VERSION.split(".")[0]
# Debian package names (without their version suffixes) Depends must name.
DEPENDS_ON = ("adduser", "libc6", "libstdc++6", "libgrpc++", "libprotobuf", "libopencv-core",
              "libopencv-imgcodecs", "libopencv-imgproc", "libspdlog", "libfmt")


def field(deb, name):
    code, out, err = run(["dpkg-deb", "-f", deb, name])
    return out.strip() if code == 0 else None


def check_metadata(deb, arch):
    check(field(deb, "Package") == "corun", "Package: corun", field(deb, "Package"))
    check(field(deb, "Version") == VERSION, "Version: %s" % VERSION, field(deb, "Version"))
    check(field(deb, "Architecture") == arch, "Architecture: %s" % arch,
          field(deb, "Architecture"))
    depends = field(deb, "Depends") or ""
    print("Depends:", depends)
    names = [entry.strip().split()[0] for entry in depends.split(",") if entry.strip()]
    missing = [wanted for wanted in DEPENDS_ON
               if not any(name.startswith(wanted) for name in names)]
    check(not missing, "Depends names the runtime packages", "missing: %s" % missing)
    check(not any("onnxruntime" in name for name in names),
          "Depends does not ask for ONNX Runtime (it ships inside)", depends)


def check_control(deb, work):
    control = os.path.join(work, "control")
    code, _, err = run(["dpkg-deb", "-e", deb, control])
    check(code == 0, "dpkg-deb -e", err)
    read = lambda name: open(os.path.join(control, name)).read() \
        if os.path.exists(os.path.join(control, name)) else ""  # noqa: E731
    check(read("conffiles").split() == ["/etc/corun/corund.conf"],
          "conffiles: /etc/corun/corund.conf", read("conffiles"))
    check(read("shlibs").strip() == "libcorun %s corun (>= %s)" % (MAJOR, VERSION),
          "shlibs: libcorun only", read("shlibs"))
    check("adduser --system" in read("postinst") and "ldconfig" in read("postinst"),
          "postinst adds the corun user and runs ldconfig", read("postinst"))


def check_files(root):
    usr_lib = os.path.join(root, "usr", "lib")
    libcorun = [os.path.join(folder, name) for folder, _, names in os.walk(usr_lib)
                for name in names if name == "libcorun.so." + VERSION]
    check(len(libcorun) == 1, "one libcorun.so.%s" % VERSION, libcorun)
    if len(libcorun) != 1:
        return None
    libdir = os.path.dirname(libcorun[0])
    expected = [os.path.join(root, path) for path in (
        "usr/bin/corun", "usr/bin/corund", "usr/include/corun/corun.hpp",
        "etc/corun/corund.conf", "usr/lib/systemd/system/corund.service")]
    expected += [os.path.join(libdir, path) for path in (
        "libcorun.so", "libcorun.so." + MAJOR, "corun/libcorun_remote.so",
        "corun/libonnxruntime.so.1", "cmake/corun/corunConfig.cmake",
        "cmake/corun/corunConfigVersion.cmake", "pkgconfig/corun.pc")]
    missing = [path for path in expected if not os.path.lexists(path)]
    check(not missing, "the package holds every installed file", "missing: %s" % missing)
    if missing:
        return None
    unit = open(os.path.join(root, "usr/lib/systemd/system/corund.service")).read()
    check("ExecStart=/usr/bin/corund " in unit and "--config /etc/corun/corund.conf" in unit,
          "corund.service starts /usr/bin/corund with /etc/corun/corund.conf",
          [line for line in unit.splitlines() if line.startswith("ExecStart")])
    pc = open(os.path.join(libdir, "pkgconfig", "corun.pc")).read()
    check("prefix=/usr\n" in pc and "-lcorun" in pc, "corun.pc: prefix /usr, -lcorun", pc)
    return libdir


def check_runs(root, libdir):
    corun = os.path.join(root, "usr", "bin", "corun")
    code, out, err = run([corun, "scan"])
    check(code == 0 and "cpu:0" in out, "corun scan runs from the unpacked package", out + err)
    # "libonnxruntime.so.1 => PATH (0x...)"
    ort = loaded_libraries(corun).get("libonnxruntime.so.1", "=> ?").split("=>")[1].split()[0]
    check(os.path.realpath(ort) ==
          os.path.realpath(os.path.join(libdir, "corun", "libonnxruntime.so.1")),
          "corun finds ONNX Runtime inside the unpacked package (RPATH)", ort)
    code, out, err = run([os.path.join(root, "usr", "bin", "corund"), "--version"])
    check(code == 0 and VERSION in out, "corund --version runs from the unpacked package",
          out + err)
    library = os.path.join(libdir, "libcorun.so." + MAJOR)
    check(not rpc_libraries(library), "the packaged libcorun loads no gRPC/protobuf",
          rpc_libraries(library))


def main():
    code, arch, err = run(["dpkg", "--print-architecture"])
    arch = arch.strip()
    work = tempfile.mkdtemp(prefix="corun-deb-")
    try:
        out_dir = os.path.join(work, "out")
        code, out, err = run(["cpack", "--config", os.path.join(BUILD, "CPackConfig.cmake"),
                              "-B", out_dir], timeout=240)
        deb = os.path.join(out_dir, "corun_%s_%s.deb" % (VERSION, arch))
        check(code == 0 and os.path.exists(deb), "cpack makes %s" % os.path.basename(deb),
              out[-2000:] + err[-2000:])
        if os.path.exists(deb):
            print("package: %s, %d bytes" % (os.path.basename(deb), os.path.getsize(deb)))
            check_metadata(deb, arch)
            check_control(deb, work)
            root = os.path.join(work, "root")
            code, _, err = run(["dpkg", "-x", deb, root])
            check(code == 0, "dpkg -x", err)
            libdir = check_files(root)
            if libdir:
                check_runs(root, libdir)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    return exit_code()


if __name__ == "__main__":
    sys.exit(main())
