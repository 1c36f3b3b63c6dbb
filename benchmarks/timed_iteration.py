"""One rsl-rl iteration (collect a rollout, then update), timed in two parts, outside ``OnPolicyRunner.learn``."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from tensordict import TensorDict


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
