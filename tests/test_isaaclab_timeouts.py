"""A real Isaac Lab task's time-outs and terminations reach TruDi's buffer as ``truncated`` and ``terminated``.

Isaac-Cartpole on the CPU (offline assets) with half-second episodes and a large action scale, so that within
70 steps episodes both end by time-out and by the cart leaving its bounds. The rollout runs in a fresh process
(tests/timeout_probe.py): Isaac Lab allows one simulation per process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from trudi_isaac.assets import offline_assets

PROBE_SCRIPT = Path(__file__).resolve().parent / "timeout_probe.py"
REPORT_PREFIX = "TIMEOUT_REPORT "
"""Marks the report line the probe prints (``timeout_probe.REPORT_PREFIX``)."""

NUM_ENVS, STEPS = 16, 70
EPISODE_LENGTH_S = 0.5  # 30 env steps at Cartpole's 1/120 s × decimation 2
ACTION_SCALE = 8.0  # the untrained chain's ±1 actions become ±800 N: carts leave [-3, 3] m within an episode
PROBE_TIMEOUT_S = 300
"""The first run on a machine compiles warp kernels (~35 s); later runs take ~15 s."""


def offline_env() -> dict[str, str]:
    """This process's environment with offline assets (and no user asset root), one thread."""
    env = {k: v for k, v in os.environ.items() if k != offline_assets.ASSET_ROOT_ENV_VAR}
    return env | {"OMP_NUM_THREADS": "1", offline_assets.MODE_ENV_VAR: "offline"}


def test_cartpole_time_outs_and_terminations_reach_the_buffer() -> None:
    """Per step and env: truncated = done ∧ time-out and terminated = done ∧ ¬time-out, both occur, and every
    time-out comes exactly when the episode (counted from the env's dones) reaches max_episode_length steps."""
    result = subprocess.run(
        [
            sys.executable, str(PROBE_SCRIPT), "Isaac-Cartpole", "--num-envs", str(NUM_ENVS), "--steps", str(STEPS),
            "--episode-length-s", str(EPISODE_LENGTH_S), "--action-scale", str(ACTION_SCALE),
        ],
        env=offline_env(),
        capture_output=True,
        text=True,
        timeout=PROBE_TIMEOUT_S,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = [line for line in result.stdout.splitlines() if line.startswith(REPORT_PREFIX)]
    assert lines, result.stdout[-3000:]
    report = json.loads(lines[-1].removeprefix(REPORT_PREFIX))
    dones, time_outs = torch.tensor(report["dones"]), torch.tensor(report["time_outs"])  # [T, E] from the env
    terminated, truncated = torch.tensor(report["terminated"]), torch.tensor(report["truncated"])  # [T, E] stored

    assert report["stored_steps"] == STEPS
    assert dones.shape == terminated.shape == truncated.shape == (STEPS, NUM_ENVS)
    wrong_truncated, wrong_terminated = truncated ^ (dones & time_outs), terminated ^ (dones & ~time_outs)
    assert not wrong_truncated.any(), f"truncated differs from done ∧ time-out at (t, env) {wrong_truncated.nonzero().tolist()}"
    assert not wrong_terminated.any(), f"terminated differs from done ∧ ¬time-out at (t, env) {wrong_terminated.nonzero().tolist()}"
    assert truncated.any() and terminated.any(), (int(truncated.sum()), int(terminated.sum()))

    max_length = report["max_episode_length"]
    assert max_length == round(EPISODE_LENGTH_S * 60)
    length = torch.zeros(NUM_ENVS, dtype=torch.long)
    for t in range(STEPS):
        length += 1
        assert (length <= max_length).all()
        assert (length[truncated[t]] == max_length).all()  # a time-out ends a whole episode
        assert (length[terminated[t]] < max_length).all()
        length[dones[t]] = 0
