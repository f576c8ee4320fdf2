"""What the command-line tests written in Python share: running the corun binary and recording
each check (printed as it runs, the failures summed up at the end by finish())."""
import subprocess
import sys
import time

failures = []


def run(binary, *args, timeout=120):
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout)


def wait_until(condition, limit_s):
    """Asks condition() until it holds; whether it did before limit_s seconds passed."""
    deadline = time.time() + limit_s
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def check(condition, what, result=None):
    if not condition:
        detail = ""
        if result is not None:
            detail = (f"\n  rc {result.returncode}\n  stdout {result.stdout[-2000:]}"
                      f"\n  stderr {result.stderr[-2000:]}")
        failures.append(what + detail)
        print("FAIL:", what + detail)
    else:
        print("ok:", what)


def finish():
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("all checks passed")
