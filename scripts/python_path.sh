#!/usr/bin/env bash
# Makes `import corun` work for Debian's /usr/bin/python3 after `make build` (docs/PYTHON.md):
# as root, a corun.pth in its dist-packages folder names the built package's folder (the
# argument, e.g. /path/to/corun/build/python); otherwise prints the one line to add instead.
# Quiet when the file already says so.
set -euo pipefail
package_dir="$1"
[ -f "$package_dir/corun/__init__.py" ] || exit 0  # a build without the Python package
# Debian's python3 reads .pth files in /usr/local/lib/python3.X/dist-packages (its posix_local).
site_dir="$(/usr/bin/python3 -c 'import sysconfig; print(sysconfig.get_path("purelib", "posix_local"))' 2>/dev/null || true)"
pth="$site_dir/corun.pth"
if [ -n "$site_dir" ] && [ -f "$pth" ] && [ "$(cat "$pth")" = "$package_dir" ]; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ] && [ -n "$site_dir" ]; then
    mkdir -p "$site_dir"
    echo "$package_dir" > "$pth"
    echo "python: /usr/bin/python3 imports corun from $package_dir ($pth)"
else
    echo "python: to import corun from /usr/bin/python3, run: export PYTHONPATH=$package_dir"
fi
