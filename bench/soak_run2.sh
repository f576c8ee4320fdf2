#!/usr/bin/env bash
# Soak test of `corun run2` (issue 9): five zoo models share one device for an hour while the
# process's resident memory (VmRSS from /proc/PID/status) is sampled every 30 s into a CSV.
# Memory that grows with the number of frames (per-frame latency records, say) shows as RSS at
# the end above RSS at the 5-minute mark, when allocators and ONNX Runtime's arenas have
# settled. Target: the end within 5% of the 5-minute value. A benchmark, not a test.
#
#   bench/soak_run2.sh [SECONDS] [options]      (SECONDS default 3600)
#     --mark S         the reference sample, seconds after start (default 300)
#     --interval S     seconds between samples (default 30)
#     --csv FILE       where the samples go (default build/soak_run2_rss.csv)
#     --corun PATH     the corun binary (default build/tools/corun)
#     --models DIR     the zoo cache scripts/fetch_models.sh fills (default .cache/models)
#     --framerate FPS  frames per second per model (default: keep every queue full)
#     --threads N      cpu: intra-op threads per inference (default: corun's)
#     --tolerance P    allowed growth in percent (default 5)
# Exit status 0 when the end is within the tolerance, 1 when not, 2 on a usage or run error.
# A short check: bench/soak_run2.sh 120 --mark 30 --interval 10
set -euo pipefail

cd "$(dirname "$0")/.."
duration=3600
mark=300
interval=30
csv=build/soak_run2_rss.csv
corun=build/tools/corun
models=.cache/models
framerate=""
threads=""
tolerance=5

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        --mark) mark=$2; shift 2 ;;
        --interval) interval=$2; shift 2 ;;
        --csv) csv=$2; shift 2 ;;
        --corun) corun=$2; shift 2 ;;
        --models) models=$2; shift 2 ;;
        --framerate) framerate=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --tolerance) tolerance=$2; shift 2 ;;
        -h|--help) usage ;;
        [0-9]*) duration=$1; shift ;;
        *) echo "soak_run2: unknown argument '$1'" >&2; usage ;;
    esac
done
if (( mark >= duration )); then
    echo "soak_run2: the mark ($mark s) must come before the end ($duration s); use --mark" >&2
    exit 2
fi
if [[ ! -x $corun ]]; then
    echo "soak_run2: $corun is missing; build it (make build) or give --corun" >&2
    exit 2
fi

# The five models: small and large detectors, an embedder and a classifier, as a camera
# pipeline would run them side by side.
nets=()
for name in blazeface-128 blazeface-256 mobilefacenet emotion nanodet; do
    model=$(find "$models/$name" -maxdepth 1 -name '*.onnx' 2>/dev/null | sort | head -n 1)
    if [[ -z $model ]]; then
        echo "soak_run2: no $name model under $models; run scripts/fetch_models.sh $name" >&2
        exit 2
    fi
    nets+=(set-net "$model")
    [[ -n $framerate ]] && nets+=(--framerate "$framerate")
done
run2_options=(-t "$duration" --json)
[[ -n $threads ]] && run2_options+=(--threads "$threads")

mkdir -p "$(dirname "$csv")"
summary="${csv%.csv}_summary.json"
"$corun" run2 "${run2_options[@]}" "${nets[@]}" >"$summary" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' INT TERM

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true; }

echo "elapsed_s,rss_kb" >"$csv"
echo "soak_run2: corun run2 (pid $pid), ${duration} s, 5 models; RSS every ${interval} s into $csv"
start=$(date +%s)
mark_rss=""
end_rss=""
next=$interval
while kill -0 "$pid" 2>/dev/null; do
    # Sleep to the next multiple of the interval after start (no drift over an hour).
    now=$(date +%s)
    (( next > now - start )) && sleep $(( next - (now - start) ))
    rss=$(rss_kb)
    [[ -z $rss ]] && break  # the process ended while we slept
    elapsed=$(( $(date +%s) - start ))
    echo "$elapsed,$rss" >>"$csv"
    if [[ -z $mark_rss ]] && (( elapsed >= mark )); then
        mark_rss=$rss
        echo "soak_run2: RSS at ${elapsed} s (the mark): ${rss} kB"
    fi
    end_rss=$rss
    next=$(( next + interval ))
done
status=0
wait "$pid" || status=$?
if (( status != 0 )); then
    echo "soak_run2: corun run2 failed with exit status $status (see $summary)" >&2
    exit 2
fi
if [[ -z $mark_rss || -z $end_rss ]]; then
    echo "soak_run2: no sample at or after the mark; run longer or lower --mark" >&2
    exit 2
fi
last=$(tail -n 1 "$csv" | cut -d, -f1)
ratio=$(awk -v e="$end_rss" -v m="$mark_rss" 'BEGIN { printf "%.4f", e / m }')
echo "soak_run2: RSS at the mark ${mark_rss} kB, at the end (${last} s) ${end_rss} kB, ratio ${ratio}"
frames=$(python3 -c 'import json,sys; print(sum(m["frames"] for m in json.load(open(sys.argv[1]))["models"]))' "$summary" 2>/dev/null || echo "?")
echo "soak_run2: ${frames} frames in all; summary in $summary"
if awk -v r="$ratio" -v t="$tolerance" 'BEGIN { exit !(r <= 1 + t / 100) }'; then
    echo "soak_run2: PASS (end within ${tolerance}% of the mark)"
else
    echo "soak_run2: FAIL (end more than ${tolerance}% above the mark)"
    exit 1
fi
