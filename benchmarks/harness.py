"""What the benchmark scripts share: the agent configs they run, and one timed iteration outside the runner.

* Runner configs of the benchmarked algorithms as plain dicts (:func:`agent_cfg`). The scripts that run on a batched
  torch env (no simulator) need only the agent configs of the real tasks. Where Isaac Lab is installed they are read
  from its registry; on a machine without it (a GPU machine with only PyTorch) from the JSON that
  ``device/device_bundle.py`` wrote. ``key=value`` overrides edit them (:func:`parse_override`, :func:`apply_override`).
* One rsl-rl iteration (collect a rollout, then update), timed in two parts, outside ``OnPolicyRunner.learn``
  (:func:`collect_rollout`, :func:`timed_iteration`).

Scripts in ``learning/``, ``cost/`` and ``device/`` put ``benchmarks/`` on ``sys.path`` and import this module and
each other by folder (``from cost.update_cost import RandomEnv``).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import torch
from tensordict import TensorDict
from trudi_isaac.utils.config_fields import set_field

ALGOS = ("ppo", "trudi", "reppo")


def from_registry(task: str, algo: str, device: str) -> dict:
    """The task's registered config for ``algo`` (PPO: the task's stock rsl-rl config), as a dict."""
    from isaaclab.utils import class_to_dict  # noqa: PLC0415
    from trudi_isaac.cli.common import prepare  # noqa: PLC0415
    from trudi_isaac.cli.play import load_agent_cfg  # noqa: PLC0415

    args = argparse.Namespace(task=task, agent=algo, device=device, num_envs=1, assets=None)
    task_id, agent_key = prepare(args)
    return class_to_dict(load_agent_cfg(task_id, agent_key, device))


def agent_cfg(task: str, algo: str, device: str, bundle: Path | None = None) -> dict:
    """``algo``'s runner config for ``task`` on ``device``: from ``bundle`` (a JSON file) if given, else the registry."""
    if bundle is None:
        return from_registry(task, algo, device)
    cfgs = json.loads(bundle.read_text())
    if task not in cfgs or algo not in cfgs[task]:
        raise SystemExit(f"{bundle} has no config for {task} / {algo}; rebuild it with benchmarks/device/device_bundle.py")
    return cfgs[task][algo] | {"device": device}


def parse_override(text: str) -> tuple[str, object]:
    """``algorithm.num_mini_batches=32`` → ("algorithm.num_mini_batches", 32); values are JSON, else strings."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got '{text}'")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def apply_override(cfg: object, key: str, value: object, shown_key: str | None = None) -> None:
    """Set the dotted ``key`` of ``cfg`` (a runner config dict or an agent ``@configclass``); the key must exist (a typo
    is an error, not a new field; the error names ``shown_key``, by default ``key``)."""
    try:
        set_field(cfg, key, value)
    except KeyError:
        raise SystemExit(f"unknown config field '{shown_key or key}'") from None


def sync(device: str) -> None:
    """Wait for the device's queued work, so that wall-clock times are the work's."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def collect_rollout(
    alg, env, obs: TensorDict, steps: int, on_step: Callable[[torch.Tensor, torch.Tensor], None] | None = None
) -> TensorDict:
    """Collect ``steps`` transitions per env and compute their returns, as the runner does; the last observations.

    ``on_step(rewards, dones)`` sees every env step (e.g. to track training episode returns).
    """
    with torch.inference_mode():
        for _ in range(steps):
            obs, rewards, dones, extras = env.step(alg.act(obs))
            alg.process_env_step(obs, rewards, dones, extras)
            if on_step is not None:
                on_step(rewards, dones)
        alg.compute_returns(obs)
    return obs


def timed_iteration(
    alg, env, obs: TensorDict, steps: int, device: str, on_step: Callable[[torch.Tensor, torch.Tensor], None] | None = None
) -> tuple[TensorDict, float, float]:
    """:func:`collect_rollout`, then update, as the runner does.

    Returns the last observations and the collection and update wall times (s).
    """
    sync(device)
    start = time.perf_counter()
    obs = collect_rollout(alg, env, obs, steps, on_step)
    sync(device)
    middle = time.perf_counter()
    alg.update()
    sync(device)
    return obs, middle - start, time.perf_counter() - middle
