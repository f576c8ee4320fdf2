"""What the process-level tests (service_integration_test.py, service_security_test.py) share:
checks that print ok/FAIL and collect failures, and processes that are bounded and stopped by
the PID the test started them with."""
import subprocess

failures = []
started = []  # every process a test started, stopped at the end by stop_started()


def check(condition, what, detail=""):
    if condition:
        print("ok:", what)
    else:
        failures.append(what)
        print("FAIL:", what, detail)


def start(args, **kwargs):
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               **kwargs)
    started.append(process)
    return process


def finish(process, timeout=60):
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        err += "\n(killed by the test after %d s)" % timeout
    return process.returncode, out, err


def stop_started():
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def exit_code():
    """The test's exit status: 0, or 1 after naming every failed check."""
    if failures:
        print("%d failure(s): %s" % (len(failures), "; ".join(failures)))
        return 1
    return 0
