#!/usr/bin/env python3
"""The in-process monitor (runtime/monitor): a program run with CORUN_MONITOR=1 answers
`corun monitor --pid PID` from its own socket, without gRPC, with its model, PID and frames;
its socket goes away when it exits. Usage: in_process_monitor_test.py CORUN MODEL"""
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

CORUN, MODEL = sys.argv[1], sys.argv[2]


def snapshot(pid, folder):
    """One snapshot, or None while the process does not answer yet."""
    environment = dict(os.environ, CORUN_MONITOR_DIR=folder)
    result = subprocess.run([CORUN, "monitor", "--pid", str(pid), "--json", "--once"],
                            capture_output=True, text=True, timeout=30, env=environment)
    if result.returncode != 0:
        return None
    return json.loads(result.stdout)


class InProcessMonitorTest(unittest.TestCase):
    def test_corun_monitor_pid_shows_the_running_model(self):
        with tempfile.TemporaryDirectory() as folder:
            environment = dict(os.environ, CORUN_MONITOR="1", CORUN_MONITOR_DIR=folder)
            runner = subprocess.Popen([CORUN, "run", MODEL, "-t", "6"], env=environment,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            self.addCleanup(runner.stderr.close)
            try:
                seen = None
                # Bounded: up to 60 tries, 0.25 s apart, while the program runs.
                for _ in range(60):
                    current = snapshot(runner.pid, folder)
                    models = [m for m in (current or {}).get("models", [])
                              if int(m.get("frames_done", 0)) > 0]
                    if models:
                        seen = current
                        break
                    if runner.poll() is not None:
                        break
                    time.sleep(0.25)
                self.assertIsNotNone(seen, "corun monitor --pid never showed a model with frames")
                self.assertEqual(seen["source"], "process %d" % runner.pid)
                model = seen["models"][0]
                self.assertEqual(model["name"], "add_one")
                self.assertEqual(model["pid"], runner.pid)
                self.assertEqual(model["group_id"], "corun-run")  # the group `corun run` opens
                self.assertTrue(any(d["id"] == "cpu:0" for d in seen["devices"]), seen["devices"])
                socket = os.path.join(folder, "corun-monitor-%d.sock" % runner.pid)
                self.assertTrue(os.path.exists(socket))
                self.assertEqual(os.stat(socket).st_mode & 0o777, 0o660)
            finally:
                # It ends by itself after -t seconds, through its exit handlers.
                runner.wait(timeout=300)
            self.assertEqual(runner.returncode, 0, runner.stderr.read())
            self.assertFalse(os.path.exists(socket), "the monitor socket outlived its process")

    def test_a_pid_without_a_monitor_is_named(self):
        with tempfile.TemporaryDirectory() as folder:
            environment = dict(os.environ, CORUN_MONITOR_DIR=folder)
            result = subprocess.run([CORUN, "monitor", "--pid", "999999", "--once"],
                                    capture_output=True, text=True, timeout=30, env=environment)
            self.assertNotEqual(result.returncode, 0)
            self.assertIn("no monitored process answers on %s/corun-monitor-999999.sock" % folder,
                          result.stderr)
            self.assertIn("CORUN_MONITOR=1", result.stderr)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
