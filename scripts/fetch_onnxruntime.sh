#!/usr/bin/env bash
# Fetches ONNX Runtime 1.29 (headers + Linux shared library) from the npm registry into
# .cache/onnxruntime. The registry package is the only source of ORT binaries reachable here.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$repo/.cache/onnxruntime"
[ -f "$dest/.complete" ] && exit 0

arch="$(uname -m)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$dest/include" "$dest/lib"

headers='package/Plugins/iOS~/onnxruntime.xcframework/ios-arm64/onnxruntime.framework/Headers'
(cd "$work" && npm pack --silent com.github.asus4.onnxruntime@0.4.9 >/dev/null 2>&1)
tar -xzf "$work"/com.github.asus4.onnxruntime-0.4.9.tgz -C "$work" \
    "$headers" package/Plugins/Linux package/LICENSE package/ThirdPartyNotices.txt
cp "$work/$headers"/*.h "$dest/include/"
cp "$work/package/LICENSE" "$dest/LICENSE"
cp "$work/package/ThirdPartyNotices.txt" "$dest/ThirdPartyNotices.txt"
case "$arch" in
    x86_64)
        cp "$work/package/Plugins/Linux/x64/libonnxruntime.so" "$dest/lib/libonnxruntime.so.1"
        ;;
    aarch64)
        (cd "$work" && npm pack --silent onnxruntime-node@1.30.0 >/dev/null 2>&1)
        tar -xzf "$work"/onnxruntime-node-1.30.0.tgz -C "$work" \
            package/bin/napi-v6/linux/arm64/libonnxruntime.so.1
        cp "$work/package/bin/napi-v6/linux/arm64/libonnxruntime.so.1" "$dest/lib/"
        ;;
    *)
        echo "fetch_onnxruntime: no ONNX Runtime build for $arch in the npm registry" >&2
        exit 1
        ;;
esac
ln -sf libonnxruntime.so.1 "$dest/lib/libonnxruntime.so"
touch "$dest/.complete"
