#!/usr/bin/env bash
# One setup step for a fresh machine: a Python 3.12 venv with Isaac Lab 3.0 and this project.
#
#   bash scripts/setup.sh
#
# The heavy venv (~7.8 GB) lives once per dependency spec under $TRUDI_VENV_CACHE
# (default ~/.cache/trudi-isaac/venvs/<hash of requirements/*.txt>) and .venv links to it,
# so clean clones (CI) reuse it instead of building a fresh copy. Idempotent: with nothing
# changed a second run only checks and finishes in seconds. pip's cache is reused.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache_root=${TRUDI_VENV_CACHE:-$HOME/.cache/trudi-isaac/venvs}

find_python312() {
    local candidates=()
    [ -n "${TRUDI_PYTHON:-}" ] && candidates+=("$TRUDI_PYTHON")
    candidates+=(python3.12)
    if command -v pyenv >/dev/null 2>&1; then
        local root
        root=$(pyenv root)
        candidates+=("$root"/versions/3.12*/bin/python3.12)
    fi
    local c
    for c in "${candidates[@]}"; do
        if "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' >/dev/null 2>&1; then
            command -v "$c" 2>/dev/null || echo "$c"
            return 0
        fi
    done
    return 1
}

if ! python=$(find_python312); then
    echo "error: Isaac Lab 3.0 needs Python 3.12, and none was found (tried \$TRUDI_PYTHON," >&2
    echo "       python3.12 on PATH and pyenv's versions). Install it (e.g. 'pyenv install 3.12')" >&2
    echo "       or point TRUDI_PYTHON at a python3.12 executable." >&2
    exit 2
fi

spec_hash=$(cat "$repo"/requirements/runtime.txt "$repo"/requirements/test.txt \
    <("$python" -c 'import sys; print(sys.version)') | sha256sum | cut -c1-16)
venv="$cache_root/$spec_hash"
mkdir -p "$cache_root"

# One builder at a time per spec; others wait and then reuse.
exec 9>"$venv.lock"
flock 9
if [ ! -f "$venv/.complete" ]; then
    echo "[setup] building venv $venv with $python (first time for this dependency spec: ~5 min, ~7.8 GB)"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    log="$venv.install.log"
    if ! { "$venv/bin/python" -m pip install --upgrade pip &&
           "$venv/bin/python" -m pip install -r "$repo/requirements/runtime.txt" -r "$repo/requirements/test.txt"; } >"$log" 2>&1; then
        grep -v "WARNING: Location" "$log" | tail -30 >&2
        echo "error: installing the venv failed (full log: $log)" >&2
        exit 1
    fi
    touch "$venv/.complete"
else
    echo "[setup] reusing venv $venv"
fi
flock -u 9

# .venv in the checkout points at the shared venv (a real directory there is left alone).
if [ -L "$repo/.venv" ] || [ ! -e "$repo/.venv" ]; then
    ln -sfn "$venv" "$repo/.venv"
fi

# The project itself, editable; skipped when it already resolves into this checkout.
if ! "$repo/.venv/bin/python" - "$repo" <<'PY' >/dev/null 2>&1
import os, sys
import trudi_isaac, trudi_isaac.agents, trudi_isaac.tasks
repo = os.path.realpath(sys.argv[1])
for mod in (trudi_isaac, trudi_isaac.agents, trudi_isaac.tasks):
    assert os.path.realpath(mod.__file__).startswith(repo + os.sep), mod.__file__
PY
then
    echo "[setup] installing trudi-isaac (editable) from $repo"
    if ! out=$("$repo/.venv/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e "$repo" 2>&1); then
        echo "$out" | grep -v "WARNING: Location" >&2
        echo "error: installing trudi-isaac into the venv failed" >&2
        exit 1
    fi
fi
echo "[setup] ready: $repo/.venv/bin/python ($("$repo/.venv/bin/python" -c 'import isaaclab, torch, rsl_rl; print("isaaclab", isaaclab.__version__ if hasattr(isaaclab, "__version__") else "3", "torch", torch.__version__)' 2>/dev/null || echo '?'))"
