"""What the tests of the installed corun share (tests/install): install a build tree into a
temporary prefix, build the user's program (tests/install/app) against it with find_package or
pkg-config, run it and read its output, and list the RPC libraries a binary loads.

The program prints "device ID | ARCHITECTURE" per device and "output NAME COUNT v0 v1 ..." per
output; its inputs are FLOAT32 with element i = (i % 17) * 0.125 - 1 (app/main.cpp)."""
import os
import subprocess

APP_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "app")
RPC_LIBRARIES = ("libgrpc", "libprotobuf")


def run(args, timeout=120, **kwargs):
    """Runs a command to completion; returns (exit code, stdout, stderr)."""
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired as expired:
        return 124, expired.stdout or "", "killed by the test after %d s" % timeout
    return done.returncode, done.stdout, done.stderr


def install(build_dir, prefix):
    """`cmake --install BUILD --prefix PREFIX`; raises with its output when it fails."""
    code, out, err = run(["cmake", "--install", build_dir, "--prefix", prefix])
    if code != 0:
        raise RuntimeError("cmake --install failed:\n" + out + err)


def build_with_cmake(prefix, work_dir, cxx):
    """Configures and builds app/ with -DCMAKE_PREFIX_PATH=PREFIX; returns the binary's path."""
    build = os.path.join(work_dir, "app-cmake")
    code, out, err = run(["cmake", "-S", APP_SOURCE, "-B", build, "-G", "Ninja",
                          "-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_CXX_COMPILER=" + cxx,
                          "-DCMAKE_PREFIX_PATH=" + prefix])
    if code == 0:
        code, out, err = run(["cmake", "--build", build])
    if code != 0:
        raise RuntimeError("building app/ with find_package(corun) failed:\n" + out + err)
    return os.path.join(build, "app")


def pkg_config(prefix, libdir, *args):
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(prefix, libdir, "pkgconfig"))
    code, out, err = run(["pkg-config"] + list(args) + ["corun"], env=env)
    if code != 0:
        raise RuntimeError("pkg-config %s corun failed: %s" % (" ".join(args), err))
    return out.split()


def build_with_pkg_config(prefix, libdir, work_dir, cxx):
    """Compiles app/main.cpp with `pkg-config --cflags --libs corun` (and an RPATH to its libdir,
    as a user of a non-system prefix would); returns the binary's path."""
    binary = os.path.join(work_dir, "app-pkg-config")
    library_dir = pkg_config(prefix, libdir, "--variable=libdir")[0]
    command = ([cxx, "-std=c++20", "-O1", os.path.join(APP_SOURCE, "main.cpp"), "-o", binary] +
               pkg_config(prefix, libdir, "--cflags", "--libs") + ["-Wl,-rpath," + library_dir])
    code, out, err = run(command)
    if code != 0:
        raise RuntimeError("%s failed:\n%s%s" % (" ".join(command), out, err))
    return binary


def app_outputs(stdout):
    """{output name: [values]} and [device lines] from the program's output."""
    outputs, devices = {}, []
    for line in stdout.splitlines():
        if line.startswith("output "):
            fields = line.split()
            values = [float(value) for value in fields[3:]]
            if len(values) != int(fields[2]):
                raise ValueError("output line with %s values announced, %d given: %s"
                                 % (fields[2], len(values), line[:200]))
            outputs[fields[1]] = values
        elif line.startswith("device "):
            devices.append(line[len("device "):])
    return outputs, devices


def app_input(count):
    return [(i % 17) * 0.125 - 1.0 for i in range(count)]


def rpc_libraries(binary):
    """The gRPC and protobuf libraries `ldd BINARY` lists."""
    code, out, err = run(["ldd", binary])
    if code != 0:
        raise RuntimeError("ldd %s failed: %s" % (binary, err))
    return sorted({line.split()[0] for line in out.splitlines()
                   if line.strip() and line.split()[0].startswith(RPC_LIBRARIES)})


def loaded_libraries(binary):
    """Every library `ldd BINARY` lists, by name."""
    code, out, err = run(["ldd", binary])
    if code != 0:
        raise RuntimeError("ldd %s failed: %s" % (binary, err))
    return {line.split()[0]: line for line in out.splitlines() if line.strip()}
