#!/bin/sh
# Issue 4 acceptance: "`corun benchmark` writes a profile; npu-sim loaded with it reproduces the
# solo figures within 5%". Measures MODELs alone on the cpu device with `corun benchmark
# --profile`, runs the same benchmark on npu-sim with that profile (timing only, so the CPU does
# not compete with the simulated device), and compares each model's solo figures: device
# latency p50, device-only FPS, full-pipeline FPS and latency p50.
#
#   bench/profile_roundtrip.sh CORUN_BINARY MODEL... [-- BENCHMARK OPTIONS]
#   e.g. bench/profile_roundtrip.sh build-bench/tools/corun .cache/models/nanodet/nanodet.onnx \
#          .cache/models/mobilefacenet/mobilefacenet.onnx -- -t 3
set -eu
if [ $# -lt 2 ]; then
    echo "usage: $0 CORUN_BINARY MODEL... [-- BENCHMARK OPTIONS]" >&2
    exit 2
fi
corun=$1
shift
models=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    models="$models $1"
    shift
done
[ $# -gt 0 ] && shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck disable=SC2086
"$corun" benchmark $models --profile "$work/profile.json" --json "$@" >"$work/cpu.json"
# shellcheck disable=SC2086
"$corun" benchmark $models --device npu-sim --sim-profile "$work/profile.json" --timing-only \
    --json "$@" >"$work/sim.json"
/usr/bin/python3 - "$work/cpu.json" "$work/sim.json" "$work/profile.json" <<'EOF'
import json
import sys

cpu, sim, profile = (json.load(open(path)) for path in sys.argv[1:4])
print("profile:", json.dumps(profile["models"]))
worst = 0.0
print(f"{'model':40} {'figure':18} {'cpu':>10} {'npu-sim':>10} {'sim/cpu':>8}")
for measured, simulated in zip(cpu["models"], sim["models"]):
    figures = [
        ("device p50 ms", measured["solo"]["device_latency"]["p50_ms"],
         simulated["solo"]["device_latency"]["p50_ms"]),
        ("device-only FPS", measured["solo"]["device_fps"], simulated["solo"]["device_fps"]),
        ("pipeline FPS", measured["solo"]["fps"], simulated["solo"]["fps"]),
        ("latency p50 ms", measured["solo"]["latency"]["p50_ms"],
         simulated["solo"]["latency"]["p50_ms"]),
    ]
    for name, a, b in figures:
        ratio = b / a if a else float("nan")
        worst = max(worst, abs(ratio - 1))
        print(f"{measured['name']:40} {name:18} {a:10.3f} {b:10.3f} {ratio:8.3f}")
print(f"largest difference: {100 * worst:.1f}% ({'within' if worst <= 0.05 else 'OUTSIDE'} 5%)")
sys.exit(0 if worst <= 0.05 else 1)
EOF
