#!/usr/bin/env bash
# Per-model latency of the zoo through corun: `corun run` for FRAMES frames (default 60) on
# each model, one at a time, default threads; prints a Markdown table for docs/PERFORMANCE.md.
#   bench/zoo_latency.sh [BUILD_DIR] [FRAMES]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$repo/build}"
frames="${2:-60}"
models="$repo/.cache/models"
corun="$build/tools/corun"

# name | file | extra corun run options (fixed shapes for dynamic inputs)
zoo=(
    "nanodet|nanodet/nanodet.onnx|"
    "blazeface-128|blazeface-128/face_detection_front_128x128_barracuda.onnx|"
    "blazeface-256|blazeface-256/face_detection_back_256x256_barracuda.onnx|"
    "ppocr-det 640x640|ppocr-det/ch_PP-OCRv4_det_infer.onnx|--shape x=1,3,640,640"
    "ppocr-rec 48x320|ppocr-rec/ch_PP-OCRv4_rec_infer.onnx|--shape x=1,3,48,320"
    "ppocr-cls 48x192|ppocr-cls/ch_ppocr_mobile_v2.0_cls_infer.onnx|--shape x=1,3,48,192"
    "faceres|faceres/faceres.onnx|"
    "mobilefacenet|mobilefacenet/mobilefacenet.onnx|"
    "emotion|emotion/emotion.onnx|"
)
echo "| model | frames | device p50 ms | overall p50 ms | overall p95 ms | FPS |"
echo "|---|---|---|---|---|---|"
for entry in "${zoo[@]}"; do
    IFS='|' read -r name file options <<<"$entry"
    if [ ! -f "$models/$file" ]; then
        echo "| $name | missing: run scripts/fetch_models.sh | | | | |"
        continue
    fi
    # shellcheck disable=SC2086
    "$corun" run "$models/$file" -c "$frames" $options --json |
        python3 -c 'import json, sys
name = sys.argv[1]
r = json.load(sys.stdin)
print("| %s | %d | %.2f | %.2f | %.2f | %.1f |" % (name, r["frames"], r["device_latency"]["p50_ms"],
      r["latency"]["p50_ms"], r["latency"]["p95_ms"], r["fps"]))' "$name"
done
