#!/usr/bin/env python3
"""Fails when a file includes a header of a layer above its own (docs/ARCHITECTURE.md).

The layer order is written once, here, from the bottom up: a file may include headers of its
own layer and of the layers listed before it. Usage: check_layering.py [ROOT] (default: the
repository this script is in). Prints each offending include as FILE:LINE and exits 1.
"""
import os
import re
import sys

# Bottom first. A path belongs to the layer whose prefix is its longest match.
LAYERS = [
    ("public API", ["include/corun/"]),
    ("common", ["src/common/"]),
    ("onnx", ["src/onnx/"]),
    ("devices", ["src/devices/"]),
    ("scheduler", ["src/scheduler/"]),
    ("runtime", ["src/runtime/"]),
    # Above the runtime core: only the remote backend and corund speak the protocol, so an
    # in-process program links neither gRPC nor protobuf.
    ("protocol", ["src/protocol/"]),
    ("remote backend", ["src/runtime/remote/"]),
    ("router", ["src/router/"]),
    ("tasks", ["src/tasks/"]),
    ("service", ["src/service/"]),
    ("serving", ["src/serving/"]),
    ("cluster", ["src/cluster/", "src/library/"]),
    # The Python bindings: the public API and the tasks, nothing of the layers' insides.
    ("python", ["python/"]),
    ("tools", ["tools/", "bench/", "tests/"]),
]
# Headers generated at build time, and the layer that owns them.
GENERATED = {"corun_service.pb.h": "protocol", "corun_service.grpc.pb.h": "protocol"}
SOURCE_SUFFIXES = (".cpp", ".hpp", ".cc", ".h")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
RANK = {name: rank for rank, (name, _) in enumerate(LAYERS)}


def layer_of(path):
    """The layer of a repository-relative path, or None outside every layer."""
    best = None
    for name, prefixes in LAYERS:
        for prefix in prefixes:
            if path.startswith(prefix) and (best is None or len(prefix) > best[1]):
                best = (name, len(prefix))
    return best[0] if best else None


def included_path(root, including, target):
    """Repository-relative path of an include, looked up as the compiler would."""
    for base in (os.path.dirname(including), "src", "include"):
        candidate = os.path.normpath(os.path.join(base, target))
        if os.path.exists(os.path.join(root, candidate)):
            return candidate
    return None


def violations(root):
    found = []
    for top in ("include", "src", "python", "tools", "bench", "tests"):
        for folder, _, files in os.walk(os.path.join(root, top)):
            for name in sorted(files):
                if not name.endswith(SOURCE_SUFFIXES):
                    continue
                path = os.path.relpath(os.path.join(folder, name), root)
                own = layer_of(path)
                if own is None:
                    continue
                with open(os.path.join(root, path), encoding="utf-8", errors="replace") as source:
                    for number, line in enumerate(source, 1):
                        match = INCLUDE.match(line)
                        if not match:
                            continue
                        target = match.group(1)
                        if target in GENERATED:
                            other = GENERATED[target]
                        else:
                            resolved = included_path(root, path, target)
                            other = layer_of(resolved) if resolved else None
                        if other is not None and RANK[other] > RANK[own]:
                            found.append("%s:%d: layer %s includes \"%s\" of layer %s, above it"
                                         % (path, number, own, target, other))
    return found


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))
    found = violations(root)
    for violation in found:
        print(violation)
    if found:
        print("check_layering: %d include(s) run back up; layers from the bottom: %s" %
              (len(found), ", ".join(name for name, _ in LAYERS)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
