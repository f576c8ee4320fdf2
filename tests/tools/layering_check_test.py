#!/usr/bin/env python3
"""The layering check (scripts/check_layering.py): the repository passes, and a tree with an
include that runs back up fails, naming the file, the line and both layers."""
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECKER = os.path.join(ROOT, "scripts", "check_layering.py")


def run_checker(root):
    return subprocess.run([sys.executable, CHECKER, root], capture_output=True, text=True)


def write(root, path, text):
    full = os.path.join(root, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as source:
        source.write(text)


class LayeringCheckTest(unittest.TestCase):
    def test_the_repository_keeps_its_layers(self):
        result = run_checker(ROOT)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def test_an_include_of_a_higher_layer_fails(self):
        with tempfile.TemporaryDirectory() as root:
            write(root, "src/runtime/device_group.hpp", "#pragma once\n")
            write(root, "src/devices/cpu/cpu_device.cpp",
                  '#include <vector>\n\n#include "runtime/device_group.hpp"\n')
            result = run_checker(root)
            self.assertEqual(result.returncode, 1)
            self.assertIn('src/devices/cpu/cpu_device.cpp:3: layer devices includes '
                          '"runtime/device_group.hpp" of layer runtime, above it', result.stdout)

    def test_the_runtime_core_may_not_speak_the_protocol(self):
        with tempfile.TemporaryDirectory() as root:
            write(root, "src/protocol/fast_lane.hpp", "#pragma once\n")
            write(root, "src/runtime/remote/fast_lane_client.cpp",
                  '#include "protocol/fast_lane.hpp"\n#include "corun_service.pb.h"\n')
            write(root, "src/runtime/vdevice.cpp", '#include "corun_service.pb.h"\n')
            result = run_checker(root)
            self.assertEqual(result.returncode, 1)
            # The remote backend may; the core may not, generated headers included.
            self.assertNotIn("fast_lane_client", result.stdout)
            self.assertIn('src/runtime/vdevice.cpp:1: layer runtime includes '
                          '"corun_service.pb.h" of layer protocol', result.stdout)

    def test_includes_down_and_within_a_layer_pass(self):
        with tempfile.TemporaryDirectory() as root:
            write(root, "include/corun/status.hpp", "#pragma once\n")
            write(root, "src/devices/device.hpp", '#include "corun/status.hpp"\n')
            write(root, "src/devices/cpu/cpu_device.cpp", '#include "devices/device.hpp"\n')
            write(root, "tools/main.cpp", '#include "devices/device.hpp"\n#include "local.hpp"\n')
            write(root, "tools/local.hpp", "#pragma once\n")
            result = run_checker(root)
            self.assertEqual(result.returncode, 0, result.stdout)


if __name__ == "__main__":
    unittest.main()
