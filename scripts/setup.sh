#!/usr/bin/env bash
# One setup step for a fresh machine: a Python 3.12 venv with Isaac Lab 3.0 and this project.
#
#   bash scripts/setup.sh
#
# The heavy venv (~7.8 GB) lives once per dependency spec under $TRUDI_VENV_CACHE
# (default ~/.cache/trudi-isaac/venvs/<hash of requirements/*.txt>); each checkout's .venv is a
# small venv layered on it, so clean clones (CI) reuse it instead of building a fresh copy. Idempotent: with nothing
# changed a second run only checks and finishes in seconds. pip's cache is reused.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache_root=${TRUDI_VENV_CACHE:-$HOME/.cache/trudi-isaac/venvs}

required=3.12

# The version of interpreter $1 as "X.Y" (nothing if it does not run).
python_version() {
    "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true
}

find_python312() {
    local candidates=(python3.12)
    if command -v pyenv >/dev/null 2>&1; then
        local root
        root=$(pyenv root)
        candidates+=("$root"/versions/3.12*/bin/python3.12)
    fi
    local c
    for c in "${candidates[@]}"; do
        if [ "$(python_version "$c")" = "$required" ]; then
            command -v "$c" 2>/dev/null || echo "$c"
            return 0
        fi
    done
    return 1
}

if [ -n "${TRUDI_PYTHON:-}" ]; then
    # An explicit choice is used as given, never silently replaced by another interpreter.
    found=$(python_version "$TRUDI_PYTHON")
    if [ "$found" != "$required" ]; then
        what=${found:+Python $found}
        echo "error: TRUDI_PYTHON=$TRUDI_PYTHON is ${what:-not a runnable Python};" \
             "Isaac Lab 3.0 needs Python $required. Point TRUDI_PYTHON at a python$required executable" \
             "(e.g. after 'pyenv install $required') or unset it." >&2
        exit 2
    fi
    python=$TRUDI_PYTHON
elif ! python=$(find_python312); then
    default_version=$(python_version python3)
    echo "error: Isaac Lab 3.0 needs Python $required, and none was found (tried python$required on PATH and" \
         "pyenv's versions; python3 here is ${default_version:-absent}). Install it (e.g. 'pyenv install $required')" \
         "or point TRUDI_PYTHON at a python$required executable." >&2
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

# .venv is this checkout's own small venv layered on the shared one: a .pth file puts the shared
# site-packages on its path. The project installs (editable) into .venv, so clones never re-point
# each other's install.
if [ -L "$repo/.venv" ]; then
    rm "$repo/.venv"  # the earlier layout: a link to the shared venv
fi
if [ ! -x "$repo/.venv/bin/python" ]; then
    "$python" -m venv --without-pip "$repo/.venv"
fi
shared_site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
local_site=$("$repo/.venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
echo "import site; site.addsitedir('$shared_site')" >"$local_site/trudi_shared_venv.pth"

# The project itself, editable; skipped when it already resolves into this checkout.
if ! "$repo/.venv/bin/python" - "$repo" <<'PY' >/dev/null 2>&1
import importlib.util, os, sys
repo = os.path.realpath(sys.argv[1])
for name in ("trudi_isaac", "trudi_isaac.algorithms", "trudi_isaac.agents", "trudi_isaac.tasks"):
    origin = importlib.util.find_spec(name).origin  # found, not imported (importing the tasks registers them)
    assert os.path.realpath(origin).startswith(repo + os.sep), origin
PY
then
    echo "[setup] installing trudi-isaac (editable) into $repo/.venv"
    if ! out=$("$repo/.venv/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e "$repo" 2>&1); then
        echo "$out" | grep -v "WARNING: Location" >&2
        echo "error: installing trudi-isaac into the venv failed" >&2
        exit 1
    fi
fi
echo "[setup] ready: $repo/.venv/bin/python ($("$repo/.venv/bin/python" -c 'import isaaclab, torch, rsl_rl; print("isaaclab", isaaclab.__version__ if hasattr(isaaclab, "__version__") else "3", "torch", torch.__version__)' 2>/dev/null || echo '?'))"
