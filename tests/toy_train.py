"""A small TruDi training run on the toy env with the safe runner: a subprocess for the kill test, and the
shared pieces (config, runner, NaN-injecting env) of tests/test_reliability.py.

    python tests/toy_train.py LOG_DIR --iterations 1000 [--resume] [--die_in_save K]

Saves ``model_<it>.pt`` every iteration. ``--resume`` continues from LOG_DIR's latest checkpoint;
``--die_in_save K`` kills the process with SIGKILL halfway through writing its K-th checkpoint.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import signal
import sys
from collections.abc import Callable
from typing import TypeVar

import torch
from isaaclab.utils import class_to_dict
from rsl_rl.runners import OnPolicyRunner
from tensordict import TensorDict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from toy_envs import PointReach  # noqa: E402
from trudi_isaac.agents.trudi_cfg import TruDiRunnerCfg  # noqa: E402
from trudi_isaac.runners import safe_runner  # noqa: E402

T = TypeVar("T")
NUM_ENVS = 16
CHECKPOINT_PATTERN = re.compile(r"model_(\d+)\.pt$")


def small_runner_cfg(cfg_class: type = TruDiRunnerCfg, **runner: object):
    """A small TruDi (or REPPO) runner config; saves every iteration unless ``save_interval`` is given."""
    cfg = cfg_class(device="cpu", num_steps_per_env=8, save_interval=1)
    cfg.actor.hidden_dims = [32, 32]
    cfg.critic.hidden_dim, cfg.critic.num_atoms, cfg.critic.v_min, cfg.critic.v_max = 64, 51, -60.0, 5.0
    cfg.algorithm.num_mini_batches, cfg.algorithm.num_learning_epochs = 2, 1
    for key, value in runner.items():
        setattr(cfg, key, value)
    return cfg


def as_runner_dict(cfg) -> dict:
    """The dict ``OnPolicyRunner`` takes, of a runner config (single process)."""
    cfg_dict = class_to_dict(cfg)
    cfg_dict["multi_gpu"] = None
    return cfg_dict


def small_cfg(cfg_class: type = TruDiRunnerCfg, **runner: object) -> dict:
    """:func:`small_runner_cfg` as the dict ``OnPolicyRunner`` takes."""
    return as_runner_dict(small_runner_cfg(cfg_class, **runner))


def make_runner(env, log_dir: str | None = None, cfg_class: type = TruDiRunnerCfg, **runner: object) -> OnPolicyRunner:
    with contextlib.redirect_stdout(io.StringIO()):
        return OnPolicyRunner(env, small_cfg(cfg_class, **runner), log_dir=log_dir, device="cpu")


def quiet(fn: Callable[..., T], *args: object) -> T:
    """``fn(*args)`` without its progress printout."""
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args)


class NaNRewards(PointReach):
    """PointReach whose reward of env 0 is NaN at env step ``bad_step`` (counted from 0 over the whole run)."""

    def __init__(self, bad_step: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.bad_step, self.steps = bad_step, 0

    def step(self, actions: torch.Tensor) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        obs, reward, dones, extras = super().step(actions)
        if self.steps == self.bad_step:
            reward[0] = float("nan")
        self.steps += 1
        return obs, reward, dones, extras


def checkpoint_files(log_dir: str) -> list[str]:
    """The ``model_<it>.pt`` files of ``log_dir``, by iteration."""
    found = [(int(m[1]), name) for name in os.listdir(log_dir) if (m := CHECKPOINT_PATTERN.match(name))]
    return [os.path.join(log_dir, name) for _, name in sorted(found)]


def die_in_save(k: int) -> None:
    """Make the ``k``-th checkpoint write stop halfway with SIGKILL (simulates a kill during the write)."""
    real_save, calls = torch.save, [0]

    def half_save(obj: object, f: io.BufferedWriter, *args: object, **kwargs: object) -> None:
        calls[0] += 1
        if calls[0] < k:
            return real_save(obj, f, *args, **kwargs)
        buffer = io.BytesIO()
        real_save(obj, buffer, *args, **kwargs)
        f.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    torch.save = half_save  # this process only: it dies in the write


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("log_dir")
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--die_in_save", type=int, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    safe_runner.install()
    torch.manual_seed(0)
    runner = make_runner(PointReach(num_envs=NUM_ENVS), log_dir=args.log_dir)
    if args.resume:
        latest = checkpoint_files(args.log_dir)[-1]
        runner.load(latest)
        print(f"resumed from {os.path.basename(latest)} at iteration {runner.current_learning_iteration}", flush=True)
    if args.die_in_save is not None:
        die_in_save(args.die_in_save)
    quiet(runner.learn, args.iterations)
    print(f"finished at iteration {runner.current_learning_iteration}", flush=True)


if __name__ == "__main__":
    main()
