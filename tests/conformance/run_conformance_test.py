#!/usr/bin/python3
"""The conformance driver's own behaviour (run_conformance.py), with a stand-in worker that
answers the worker protocol for test folders made here: a side that crashes its worker fails
with the signal and the worker's stderr, and the other tests still run (ONNX Runtime's side of
a test whose corun side crashed gets a fresh worker); a side that hangs is killed after the
timeout; a failure that ONNX Runtime shares never fails the suite; a known difference does not
fail it but is reported; a list entry without a reason, with a pattern, or naming no test fails.
No model runs here: the real worker is exercised by the onnx_conformance test itself.
"""
import json
import os
import subprocess
import sys
import tempfile

DRIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "run_conformance.py")

WORKER = r'''#!/usr/bin/python3
import json, os, signal, sys, time
def send(line): print(json.dumps(line), flush=True)
for command in sys.stdin:
    sides, folder = command.strip().split(" ", 1)
    name = os.path.basename(folder)
    send({"event": "case", "tensor_only": name != "test_sequence", "reason": "a sequence", "data_sets": 1})
    if name != "test_sequence":
        for side in sides.split(","):
            if name == f"test_{side}_crash":
                print(f"{side} crashing", file=sys.stderr, flush=True)
                os.kill(os.getpid(), signal.SIGSEGV)
            if name == f"test_{side}_hang":
                time.sleep(600)
            passed = not name.startswith(f"test_{side}_fails") and not name.startswith("test_both_fail")
            send({"event": "result", "side": side, "passed": passed, "stage": "" if passed else "compare",
                  "code": "", "message": "" if passed else "output 'y': 1 of 1 values differ", "note": ""})
    send({"event": "done"})
'''

TESTS = ["test_fine", "test_ort_crash", "test_corun_crash", "test_corun_hang", "test_both_fail",
         "test_corun_fails_known", "test_sequence", "test_fine_2"]


def run(folder, known, extra=()):
    with open(os.path.join(folder, "known.txt"), "w") as file:
        file.write(known)
    with open(os.path.join(folder, "ort.txt"), "w") as file:
        file.write("# ONNX Runtime's own\ntest_both_fail  the reference itself differs\n")
    result = subprocess.run(
        [sys.executable, DRIVER, "--worker", os.path.join(folder, "worker.py"),
         "--tests", os.path.join(folder, "node"), "--known-differences",
         os.path.join(folder, "known.txt"), "--ort-failures", os.path.join(folder, "ort.txt"),
         "--report-dir", os.path.join(folder, "report"), "--jobs", "2", "--timeout", "2", *extra],
        capture_output=True, text=True, timeout=120)
    with open(os.path.join(folder, "report", "conformance_results.json")) as file:
        results = json.load(file)["results"]
    return result, results


def expect(condition, what, result=None):
    if not condition:
        print(f"FAILED: {what}")
        if result is not None:
            print(result.stdout, result.stderr)
        sys.exit(1)


def main():
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "worker.py"), "w") as file:
            file.write(WORKER)
        os.chmod(os.path.join(folder, "worker.py"), 0o755)
        for name in TESTS:
            os.makedirs(os.path.join(folder, "node", name))
            open(os.path.join(folder, "node", name, "model.onnx"), "w").close()

        known = "# why\ntest_corun_fails_known  corun differs here on purpose\n"
        result, results = run(folder, known)
        expect(result.returncode == 1, "a crash and a hang of corun's side fail the suite", result)
        expect(results["test_ort_crash"]["ort"]["stage"] == "crash", "ONNX Runtime's crash recorded")
        expect("SIGSEGV" in results["test_ort_crash"]["ort"]["message"] and
               "ort crashing" in results["test_ort_crash"]["ort"]["message"],
               "the crash names the signal and the worker's stderr", result)
        expect(results["test_ort_crash"]["corun"]["passed"], "the side before the crash kept")
        expect(results["test_corun_crash"]["corun"]["stage"] == "crash", "corun's crash recorded")
        expect(results["test_corun_crash"]["ort"]["passed"],
               "ONNX Runtime's side of a test whose corun side crashed runs in a fresh worker")
        expect(results["test_corun_hang"]["ort"]["passed"], "and after a hang")
        expect(results["test_corun_hang"]["corun"]["stage"] == "hang", "corun's hang recorded")
        expect(results["test_fine"]["corun"]["passed"] and results["test_fine_2"]["corun"]["passed"],
               "the other tests run after crashes and hangs")
        expect(results["test_sequence"]["tensor_only"] is False, "not tensor-only counted apart")
        expect("test_corun_crash" in result.stdout and "test_corun_hang" in result.stdout and
               "test_both_fail [" not in result.stdout and
               "test_corun_fails_known [" not in result.stdout,
               "only corun-only failures not listed fail the suite", result)

        # Without crashing tests, the known difference and the shared failure pass the suite.
        names = ["--only", "test_fine", "--only", "test_both_fail", "--only", "test_corun_fails_known",
                 "--only", "test_sequence"]
        result, _ = run(folder, known, names)
        expect(result.returncode == 0, "listed differences and ONNX Runtime's failures pass", result)
        report = open(os.path.join(folder, "report", "conformance_report.txt")).read()
        expect("test_corun_fails_known (still differs): corun differs here on purpose" in report,
               "the report lists known differences with their reasons", result)

        for bad, why in [("test_corun_fails_known\n", "has no reason"),
                         ("test_corun_*  pattern\n", "is a pattern"),
                         ("test_missing  gone\n", "is not a test")]:
            result, _ = run(folder, bad, names)
            expect(result.returncode == 1 and why in result.stdout,
                   f"a list entry that {why} fails the suite", result)
    print("run_conformance.py: crash, hang, lists and gate behave")


if __name__ == "__main__":
    main()
