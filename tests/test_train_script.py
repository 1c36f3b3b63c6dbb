"""scripts/train.py end to end on real Isaac Lab tasks (CPU, Newton backend, offline assets)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import tensorboard_scalars

TRUST_REGION_TAGS = (
    "Loss/trust_region/kl_mean",
    "Loss/trust_region/kl_max",
    "Loss/trust_region/over_bound_frac",
    "Loss/trust_region/alpha",
    "Loss/trust_region/beta",
    "Loss/trust_region/entropy",
)


def _single_run_dir(root: Path, experiment: str) -> Path:
    runs = list((root / "logs" / "rsl_rl" / experiment).iterdir())
    assert len(runs) == 1, runs
    return runs[0]


def test_ppo_on_cartpole_writes_checkpoint_and_events(run_script, tmp_path: Path) -> None:
    result = run_script(
        "scripts/train.py", "--task", "Isaac-Cartpole-v0", "--agent", "ppo",
        "--num_envs", "64", "--max_iterations", "3", "--device", "cpu",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    run = _single_run_dir(tmp_path, "cartpole")
    assert (run / "model_2.pt").is_file()
    assert list(run.glob("events.out.tfevents.*"))
    assert "Learning iteration 2/3" in result.stdout


@pytest.mark.parametrize(("task", "experiment"), [("Isaac-Cartpole", "cartpole_trudi"), ("Isaac-Humanoid-v0", "humanoid_trudi")])
def test_trudi_trains_with_trust_region_scalars(run_script, tmp_path: Path, task: str, experiment: str) -> None:
    result = run_script(
        "scripts/train.py", "--task", task, "--agent", "trudi",
        "--num_envs", "32", "--max_iterations", "2", "--device", "cpu",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    run = _single_run_dir(tmp_path, experiment)
    assert (run / "model_1.pt").is_file()
    scalars = tensorboard_scalars(run)
    for tag in TRUST_REGION_TAGS:
        assert len(scalars.get(tag, [])) == 2, (tag, sorted(scalars))
    assert all(a > 0 for a in scalars["Loss/trust_region/alpha"])


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--task", "Isaac-Humanoidd-v0"], ["unknown task 'Isaac-Humanoidd-v0'", "Isaac-Humanoid"]),
        (["--task", "Isaac-Cartpole", "--agent", "sac"], ["unknown agent 'sac'", "trudi", "ppo"]),
        (["--task", "Isaac-Cartpole", "--num_envs", "0"], ["--num_envs must be >= 1"]),
    ],
)
def test_bad_input_is_a_clear_error(run_script, args: list[str], expected: list[str]) -> None:
    result = run_script("scripts/train.py", *args, "--device", "cpu", timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr
