#!/usr/bin/env bash
# Client-compatibility suite: official Python SDKs against a freshly built ferrogw.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"

venv="${FERRO_COMPAT_VENV:-/tmp/ferro-compat-venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r tests/compat/requirements.txt

cargo build -p ferrogw -p ferro-mock-upstream

target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$repo/$target" ;; esac
export FERRO_BIN_DIR="${FERRO_BIN_DIR:-$target/debug}"
export PYTHONDONTWRITEBYTECODE=1

exec "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/compat "$@"
