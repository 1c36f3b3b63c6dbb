#!/usr/bin/env python
"""Prepare ``benchmarks/.device/`` for a GPU machine that has PyTorch but no Isaac Lab and no package index.

    python benchmarks/device/device_bundle.py

Writes ``benchmarks/.device/agent_cfgs.json`` (the registered PPO, TruDi and REPPO runner configs
of the benchmark tasks) and ``benchmarks/.device/commit`` (the code they come from), and copies the pure-Python packages the torch-env benchmarks import
(rsl-rl, tensordict and their small dependencies) into ``benchmarks/.device/site``. On the GPU
machine, with that folder carried over:

    PYTHONPATH=source:benchmarks/.device/site python benchmarks/cost/update_cost.py --device cuda \\
        --agent_cfgs benchmarks/.device/agent_cfgs.json ...
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: harness.py and the job folders
from harness import ALGOS, from_registry  # noqa: E402

DEVICE_DIR = Path(__file__).resolve().parents[1] / ".device"
TASKS = ("Isaac-Cartpole", "Isaac-Ant", "Isaac-Humanoid")
PACKAGES = ("rsl_rl", "tensordict", "pyvers", "cloudpickle", "git", "gitdb", "smmap")
"""Imported by rsl-rl's runner and tensordict (GitPython for rsl-rl's code-state logging); PyTorch, NumPy and
Matplotlib are expected on the GPU machine."""


def copy_packages(site: Path) -> None:
    """Copy each of ``PACKAGES`` (package folders, found next to tensordict) into ``site``."""
    source = Path(importlib.import_module("tensordict").__file__).parent.parent
    shutil.rmtree(site, ignore_errors=True)
    site.mkdir(parents=True)
    for name in PACKAGES:
        if not (source / name).is_dir():
            raise SystemExit(f"{name} is not installed in {source}")
        shutil.copytree(source / name, site / name, ignore=shutil.ignore_patterns("__pycache__", "tests"))


def code_label() -> str:
    """The commit the bundle was made from, ``+dirty`` if the work tree has uncommitted changes."""
    repo = Path(__file__).resolve().parents[2]

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEVICE_DIR)
    args = parser.parse_args()
    cfgs = {task: {algo: from_registry(task, algo, "cpu") for algo in ALGOS} for task in TASKS}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "agent_cfgs.json").write_text(json.dumps(cfgs, indent=1))
    (args.out / "commit").write_text(code_label() + "\n")  # names the code in the GPU machine's results
    copy_packages(args.out / "site")
    size = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    print(f"wrote {args.out} ({size / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
