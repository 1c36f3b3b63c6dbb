"""Shared fixtures: run the project's scripts as a user would, in a fresh process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT_TIMEOUT_S = 600


@pytest.fixture
def run_script(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run_script("scripts/train.py", "--task", …)`` runs it with cwd=tmp_path (logs land there)."""

    def run(script: str, *args: str, timeout: float = SCRIPT_TIMEOUT_S, **env: str) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "OMP_NUM_THREADS": "1", **env}
        return subprocess.run(
            [sys.executable, str(REPO / script), *args],
            cwd=tmp_path,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


def tensorboard_scalars(run_dir: Path) -> dict[str, list[float]]:
    """All scalar series of the event file(s) in ``run_dir``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: PLC0415

    acc = EventAccumulator(str(run_dir))
    acc.Reload()
    return {tag: [e.value for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
