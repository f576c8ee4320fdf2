#!/usr/bin/python3
"""The installed corun through corund (issue 11): the user's program (tests/install/app), built
against a temporary prefix with find_package(corun) and linked to libcorun alone, asks for
multi_process_service; libcorun must load its remote backend plug-in (lib/corun/
libcorun_remote.so, which brings gRPC) and reach the installed corund this test starts.

  - add_one through corund: every output is its input + 1, exactly, and the device is the one
    corund shares (only the remote backend says "shared through corund at SOCKET"); corund's log
    shows the program's session;
  - a zoo model (emotion, when fetched): the same outputs through corund as in-process, exactly;
  - the program's own `ldd` still shows no gRPC: the plug-in brought it at run time;
  - the plug-in moved away: VDevice creation fails with NOT_SUPPORTED naming the missing file
    and how to install it;
  - gRPC unloadable (an empty libgrpc++ first on LD_LIBRARY_PATH): NOT_SUPPORTED naming the
    library and the Debian packages.

corund is stopped by the PID this test started it with. No step waits for a time: corund is
ready when the installed `corun monitor --once` answers, bounded by a give-up limit only.

usage: install_service_test.py BUILD_DIR CXX TEST_MODEL_DIR MODEL_CACHE_DIR VERSION LIBDIR
"""
import os
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "service"))
from installed_corun import (app_input, app_outputs, build_with_cmake, install,  # noqa: E402
                             rpc_libraries, run)
from process_checks import check, exit_code, finish, start, stop_started  # noqa: E402

BUILD, CXX, TEST_MODELS, CACHE, VERSION, LIBDIR = sys.argv[1:7]
ADD_ONE = os.path.join(TEST_MODELS, "add_one.onnx")
EMOTION = os.path.join(CACHE, "models", "emotion", "emotion.onnx")
GIVE_UP_SECONDS = 60


def start_corund(prefix, socket):
    """The installed corund on SOCKET, once `corun monitor --once` answers; None if it never
    does."""
    daemon = start([os.path.join(prefix, "bin", "corund"), "--socket", socket,
                    "--log-level", "info"])
    corun = os.path.join(prefix, "bin", "corun")
    give_up = time.monotonic() + GIVE_UP_SECONDS
    while time.monotonic() < give_up and daemon.poll() is None:
        if os.path.exists(socket):
            code, _, _ = run([corun, "monitor", "--socket", socket, "--json", "--once"])
            if code == 0:
                return daemon
        time.sleep(0.05)
    _, out, err = finish(daemon, 5)
    print("corund did not come up:", out[-1000:], err[-2000:])
    return None


def stop_corund(daemon):
    daemon.send_signal(signal.SIGTERM)
    code, _, log = finish(daemon, GIVE_UP_SECONDS)
    check(code == 0, "corund stops cleanly on SIGTERM", "exit %s" % code)
    return log


def check_service_runs(app, socket):
    code, out, err = run([app, ADD_ONE, socket])
    check(code == 0, "add_one through corund", err)
    outputs, devices = app_outputs(out)
    check(outputs.get("y") == [x + 1.0 for x in app_input(48)],
          "through corund: y == x + 1 for all 48 elements, exactly", out[:500])
    check(devices and all("shared through corund at %s" % socket in d for d in devices),
          "the devices are corund's (the remote backend from the plug-in)", devices)
    if os.path.exists(EMOTION):
        code_here, here, err_here = run([app, EMOTION])
        code_there, there, err_there = run([app, EMOTION, socket])
        outputs_here, _ = app_outputs(here)
        outputs_there, _ = app_outputs(there)
        check(code_here == 0 and code_there == 0 and outputs_here and
              outputs_here == outputs_there,
              "emotion: the same outputs through corund as in-process, exactly",
              err_here + err_there + here[:300] + there[:300])
    else:
        print("note: %s not fetched (scripts/fetch_models.sh); zoo model part left out"
              % EMOTION)


def check_missing_plugin(app, prefix, socket):
    plugin = os.path.join(prefix, LIBDIR, "corun", "libcorun_remote.so")
    shutil.move(plugin, plugin + ".away")
    try:
        code, out, err = run([app, ADD_ONE, socket])
    finally:
        shutil.move(plugin + ".away", plugin)
    check(code == 2 and "VDevice: NOT_SUPPORTED" in err and plugin + ", which is missing" in err
          and "install corun completely" in err,
          "no plug-in: NOT_SUPPORTED naming %s and the fix" % plugin, out + err)


def check_unloadable_grpc(app, prefix, work, socket):
    """The plug-in's gRPC cannot be loaded: an empty file stands in for it."""
    _, listing, _ = run(["ldd", os.path.join(prefix, LIBDIR, "corun", "libcorun_remote.so")])
    grpc = next((line.split()[0] for line in listing.splitlines()
                 if line.strip().startswith("libgrpc++.so")), None)
    check(grpc is not None, "the plug-in links libgrpc++", listing)
    if grpc is None:
        return
    broken = os.path.join(work, "broken-grpc")
    os.makedirs(broken)
    open(os.path.join(broken, grpc), "w").close()
    code, out, err = run([app, ADD_ONE, socket], env=dict(os.environ, LD_LIBRARY_PATH=broken))
    check(code == 2 and "VDevice: NOT_SUPPORTED" in err and "cannot be loaded" in err and
          grpc in err and "apt-get install libgrpc++" in err,
          "gRPC unloadable: NOT_SUPPORTED naming %s and the Debian packages" % grpc, out + err)


def main():
    work = tempfile.mkdtemp(prefix="corun-install-service-")
    try:
        prefix = os.path.join(work, "prefix")
        install(BUILD, prefix)
        app = build_with_cmake(prefix, work, CXX)
        check(not rpc_libraries(app), "the program links neither gRPC nor protobuf",
              rpc_libraries(app))

        socket = os.path.join(work, "corund.sock")
        daemon = start_corund(prefix, socket)
        check(daemon is not None, "the installed corund comes up")
        if daemon is not None:
            check_service_runs(app, socket)
            check_missing_plugin(app, prefix, socket)
            check_unloadable_grpc(app, prefix, work, socket)
            log = stop_corund(daemon)
            check("opened by 'app'" in log, "corund's log shows the program's session", log[-1500:])
    finally:
        stop_started()
        shutil.rmtree(work, ignore_errors=True)

    return exit_code()


if __name__ == "__main__":
    sys.exit(main())
