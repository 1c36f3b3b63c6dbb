"""scripts/train.py end to end on real Isaac Lab tasks (CPU, Newton backend, offline assets)."""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import tensorboard_scalars
from trudi_isaac.runners.checkpoints import read_checkpoint

TRUST_REGION_TAGS = (
    "TruDi/trust_region/kl_mean",
    "TruDi/trust_region/kl_max",
    "TruDi/trust_region/over_bound_frac",
    "TruDi/trust_region/alpha",
    "TruDi/trust_region/beta",
    "TruDi/trust_region/entropy",
    "TruDi/trust_region/eps",
)


def _single_run_dir(root: Path, experiment: str) -> Path:
    runs = list((root / "logs" / "rsl_rl" / experiment).iterdir())
    assert len(runs) == 1, runs
    return runs[0]


def test_ppo_on_cartpole_writes_checkpoint_and_events_resumes_and_plays(run_script, tmp_path: Path) -> None:
    """Stock PPO through train.py; its checkpoint (read weights-only) resumes training and plays."""
    ppo = ("--task", "Isaac-Cartpole-v0", "--agent", "ppo", "--num_envs", "64", "--device", "cpu")
    result = run_script("scripts/train.py", *ppo, "--max_iterations", "3")
    assert result.returncode == 0, result.stderr[-3000:]
    run = _single_run_dir(tmp_path, "cartpole")
    assert (run / "model_2.pt").is_file()
    assert list(run.glob("events.out.tfevents.*"))
    assert "Learning iteration 2/3" in result.stdout

    resumed = run_script("scripts/train.py", *ppo, "--max_iterations", "1", "--checkpoint", str(run / "model_2.pt"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Learning iteration 3/4" in resumed.stdout
    play = run_script("scripts/play.py", *ppo, "--episodes", "4", "--checkpoint", str(run / "model_2.pt"))
    assert play.returncode == 0, play.stderr[-3000:]
    assert re.search(r"deterministic policy, 4 episodes: mean return \S+, mean length \S+, ended by time-out \d+%",
                     play.stdout), play.stdout[-2000:]  # fmt: skip


def check_trudi_scalars(scalars: dict[str, list[float]], init_alpha: float, init_beta: float,
                        min_beta: float | None = None) -> None:
    """What a working TruDi run of two or more iterations logs: every scalar finite; a path KL ≥ 0 whose max is at
    least its mean; an over-bound fraction in [0, 1]; a positive critic cross-entropy and a non-negative auxiliary
    loss; α and β positive, moved off their initial values by the first update's dual steps and moved again by
    the second's (a dual step of the wrong size, or none, or a NaN anywhere, fails here); with ``min_beta``, β never
    below it, and a β that did not move is held exactly there."""
    for tag, values in scalars.items():
        assert all(math.isfinite(v) for v in values), (tag, values)
    kl_mean, kl_max = scalars["TruDi/trust_region/kl_mean"], scalars["TruDi/trust_region/kl_max"]
    assert all(0.0 <= mean <= peak for mean, peak in zip(kl_mean, kl_max)), (kl_mean, kl_max)
    assert all(0.0 <= f <= 1.0 for f in scalars["TruDi/trust_region/over_bound_frac"])
    assert all(v > 0.0 for v in scalars["Loss/critic"]) and all(v >= 0.0 for v in scalars["Loss/critic_aux"])
    for tag, init, floor in (("TruDi/trust_region/alpha", init_alpha, None), ("TruDi/trust_region/beta", init_beta, min_beta)):
        values = scalars[tag]
        assert all(v > 0.0 for v in values), (tag, values)
        for before, after in ((init, values[0]), (values[0], values[1])):
            at_floor = floor is not None and abs(math.log(after / floor)) < 1e-6
            assert abs(math.log(after / before)) > 1e-3 or at_floor, (tag, init, values)
        assert floor is None or min(values) >= floor * (1 - 1e-6), (tag, floor, values)


def _train_trudi(run_script, tmp_path: Path, task: str, experiment: str, *overrides: str) -> Path:
    """2 TruDi iterations with 32 envs (and Hydra ``overrides``); checks the checkpoint and the logged scalars
    (:func:`check_trudi_scalars`, initial duals from the run's own ``params/agent.yaml``); returns the run dir."""
    result = run_script(
        "scripts/train.py", "--task", task, "--agent", "trudi",
        "--num_envs", "32", "--max_iterations", "2", "--device", "cpu", *overrides,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    run = _single_run_dir(tmp_path, experiment)
    assert (run / "model_1.pt").is_file()
    scalars = tensorboard_scalars(run)
    for tag in TRUST_REGION_TAGS:
        assert len(scalars.get(tag, [])) == 2, (tag, sorted(scalars))
    # losses under Loss/ (with rsl-rl's learning rate), every other statistic under TruDi/, in both logs
    assert {t for t in scalars if t.startswith("Loss/")} == {f"Loss/{k}" for k in ("critic", "critic_aux", "actor", "learning_rate")}
    assert "Mean critic loss:" in result.stdout and "trust_region/alpha loss" not in result.stdout
    assert re.search(r"-+ TruDi statistics -+\n(\s+\S+: \S+\n)*\s+trust_region/alpha: \S+", result.stdout), result.stdout[-3000:]
    algorithm = yaml.safe_load((run / "params" / "agent.yaml").read_text())["algorithm"]
    check_trudi_scalars(scalars, algorithm["init_alpha"], algorithm["init_beta"], algorithm.get("min_beta"))
    return run


def test_trudi_trains_on_humanoid(run_script, tmp_path: Path) -> None:
    _train_trudi(run_script, tmp_path, "Isaac-Humanoid-v0", "humanoid_trudi")


def test_trudi_cartpole_train_then_play_and_export(run_script, tmp_path: Path) -> None:
    # an actor field that changes the policy the weights compute: play builds the actor the run trained
    run = _train_trudi(run_script, tmp_path, "Isaac-Cartpole", "cartpole_trudi", "agent.actor.prior_std=1.0")
    play = run_script("scripts/play.py", "--task", "Isaac-Cartpole", "--agent", "trudi", "--episodes", "4", "--device", "cpu")
    assert play.returncode == 0, play.stderr[-3000:]
    assert f"checkpoint: {run / 'model_1.pt'}" in play.stdout  # the latest run's latest checkpoint by default
    assert "the run's own model fields, from the checkpoint: agent.actor.prior_std=1.0\n" in play.stdout
    match = re.search(r"deterministic policy, 4 episodes: mean return (\S+), mean length (\S+), ended by time-out (\d+)%",
                      play.stdout)  # fmt: skip
    assert match and math.isfinite(float(match[1])) and float(match[2]) > 0, play.stdout[-2000:]
    assert 0 <= int(match[3]) <= 100
    assert (run / "exported" / "policy.pt").is_file() and (run / "exported" / "policy.onnx").is_file()
    error = float(re.search(r"ONNX vs torch max \|diff\| = (\S+)", play.stdout)[1])
    assert error <= 1e-5

    stochastic = run_script(
        "scripts/play.py", "--task", "Isaac-Cartpole", "--agent", "trudi", "--episodes", "4",
        "--device", "cpu", "--stochastic", "--no_export", "--checkpoint", str(run / "model_0.pt"),
    )  # fmt: skip
    assert stochastic.returncode == 0, stochastic.stderr[-3000:]
    assert "stochastic policy, 4 episodes" in stochastic.stdout


PLAYBACK_RUNNING = "Policy playback is running"
PLAY_SECONDS = 5.0
CTRL_C_PRESSES = 3
"""Ctrl-C presses the play test sends, each followed by a wait of ``CTRL_C_WAIT_S`` seconds."""
CTRL_C_WAIT_S = 30


def _isaaclab(command: str, *args: str) -> list[str]:
    """``python -m isaaclab <command>`` for TruDi on the CPU, as the README gives it."""
    return [
        sys.executable, "-m", "isaaclab", command, "--rl_library", "rsl_rl", "--task", "Isaac-Cartpole",
        "--agent", "trudi_cfg_entry_point", "--external_callback", "trudi_isaac.tasks.registration.install_into_isaaclab",
        "--device", "cpu", *args, "agent.device=cpu",
    ]  # fmt: skip


def test_isaaclab_own_train_and_play_run_trudi(tmp_path: Path) -> None:
    """``isaaclab train`` and ``isaaclab play ... --checkpoint <TruDi model_N.pt>`` (the README's commands):
    train writes our safe checkpoint (with the run's signature) and chooses the CPU update's threads; play loads the
    checkpoint, exports ``policy.pt`` and ``policy.onnx`` (which agree) and plays until Ctrl-C."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    root = subprocess.run(
        [sys.executable, "-m", "trudi_isaac.assets.offline_assets"], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    env.setdefault("ISAACSIM_ASSET_ROOT", root)
    train = subprocess.run(
        _isaaclab("train", "--num_envs", "32", "--max_iterations", "1"),
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert train.returncode == 0, train.stderr[-3000:]
    run = _single_run_dir(tmp_path, "cartpole_trudi")
    assert "run_signature" in read_checkpoint(str(run / "model_0.pt"))  # the callback installed the safe runner
    assert "[trudi] update threads:" in train.stderr

    play = subprocess.Popen(
        _isaaclab("play", "--num_envs", "4", "--checkpoint", str(run / "model_0.pt")),
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a shell's background job ignores Ctrl-C
    )  # fmt: skip
    lines = []
    for line in play.stdout:  # until playback runs (the export comes before it)
        lines.append(line)
        if PLAYBACK_RUNNING in line:
            break
    time.sleep(PLAY_SECONDS)
    for _ in range(CTRL_C_PRESSES):  # Python drops a KeyboardInterrupt raised inside a __del__ (seen in warp's
        play.send_signal(signal.SIGINT)  # array.__del__): a user presses Ctrl-C again, and so does the test
        try:
            rest, _ = play.communicate(timeout=CTRL_C_WAIT_S)
            break
        except subprocess.TimeoutExpired:
            pass
    else:
        play.kill()
        rest = play.communicate()[0] + f"\n[test] play did not stop after {CTRL_C_PRESSES} Ctrl-C presses"
    lines.append(rest)
    assert play.returncode == 0, "".join(lines)[-3000:]
    assert any(PLAYBACK_RUNNING in line for line in lines), "".join(lines)[-3000:]
    exported = run / "exported"
    assert (exported / "policy.pt").is_file() and (exported / "policy.onnx").is_file()

    import onnxruntime  # noqa: PLC0415
    import torch  # noqa: PLC0415

    jit = torch.jit.load(str(exported / "policy.pt"))
    session = onnxruntime.InferenceSession(str(exported / "policy.onnx"))
    (onnx_input,) = session.get_inputs()
    obs = torch.randn(16, onnx_input.shape[-1])  # rsl-rl exports with a batch of 1: row by row
    onnx_actions = torch.cat([torch.from_numpy(session.run(None, {onnx_input.name: row[None].numpy()})[0]) for row in obs])
    assert torch.allclose(onnx_actions, jit(obs).detach(), atol=1e-5)


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


@pytest.mark.parametrize(
    ("agent", "override", "expected"),
    [
        ("trudi", "agent.algorithm.trust_region_epsilon=0.2", ["agent.algorithm", "'trust_region_epsilon'", "trust_region_eps"]),
        ("reppo", "agent.actor.init_stdd=0.5", ["agent.actor", "'init_stdd'", "init_std"]),
        ("ppo", "agent.algorithm.clip_params=0.1", ["agent.algorithm", "'clip_params'", "clip_param"]),
    ],
)
def test_misspelled_override_key_is_one_line(run_script, agent: str, override: str, expected: list[str]) -> None:
    """An unknown key in an ``agent.*`` section ends in one line naming section, key and closest fields; exit code 2."""
    result = run_script(
        "scripts/train.py", "--task", "Isaac-Cartpole", "--agent", agent, "--num_envs", "4",
        "--max_iterations", "1", "--device", "cpu", override, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    (line,) = [line for line in result.stderr.splitlines() if "unknown key" in line]
    for text in expected:
        assert text in line, line
