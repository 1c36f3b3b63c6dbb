"""Create one Isaac Lab task with make_env, step it with random actions, print a JSON report.

Run as a script (one env per process: Isaac Lab's simulation context is a singleton)::

    python tests/offline_env_probe.py Isaac-Humanoid --num-envs 16 --steps 10

The last stdout line is the report: observation and action shapes, whether every observation
and reward was finite, and timings.
"""

from __future__ import annotations

import argparse
import json
import time

REPORT_PREFIX = "PROBE_REPORT "
"""Marks the report line among Isaac Lab's own output."""

ACTION_LIMIT = 1.0
"""Random actions are drawn uniformly from [-ACTION_LIMIT, ACTION_LIMIT]."""


def probe(task: str, num_envs: int, steps: int, seed: int) -> dict:
    """Create ``task``, reset it, step it ``steps`` times with random actions, and describe it."""
    start = time.perf_counter()
    import torch  # noqa: PLC0415
    from trudi_isaac.cli.isaaclab_env import make_env  # noqa: PLC0415

    with make_env(task, num_envs=num_envs, device="cpu", seed=seed) as env:
        created = time.perf_counter()
        obs, _ = env.reset(seed=seed)
        policy_obs = obs["policy"]
        finite = bool(torch.isfinite(policy_obs).all())
        action_dim = env.unwrapped.single_action_space.shape[0]
        generator = torch.Generator().manual_seed(seed)
        for _ in range(steps):
            actions = (torch.rand(num_envs, action_dim, generator=generator) * 2 - 1) * ACTION_LIMIT
            obs, reward, terminated, truncated, _ = env.step(actions)
            policy_obs = obs["policy"]
            finite &= bool(torch.isfinite(policy_obs).all()) and bool(torch.isfinite(reward).all())
        stepped = time.perf_counter()
        return {
            "task": task,
            "num_envs": env.unwrapped.num_envs,
            "device": str(env.unwrapped.device),
            "obs_shape": list(policy_obs.shape),
            "action_shape": [num_envs, action_dim],
            "reward_shape": list(reward.shape),
            "single_observation_space": list(env.unwrapped.single_observation_space["policy"].shape),
            "finite": finite,
            "steps": steps,
            "create_s": round(created - start, 2),
            "step_s": round(stepped - created, 2),
        }


def main() -> None:
    """Parse the command line and print the report line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task")
    parser.add_argument("--num-envs", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    report = probe(args.task, args.num_envs, args.steps, args.seed)
    print(REPORT_PREFIX + json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
