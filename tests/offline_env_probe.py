"""Create one Isaac Lab task with make_env, step it, print a JSON report.

Run as a script (one env per process: Isaac Lab's simulation context is a singleton)::

    python tests/offline_env_probe.py Isaac-Humanoid --num-envs 16 --steps 10 --still-steps 60

Two phases, each after a reset:

* ``--steps`` steps with random actions: observation and action shapes, whether every observation and reward
  was finite;
* ``--still-steps`` steps with zero actions (the robot under its joint drives only): per env, the lowest point
  of any body and the root's drop from its start height, up to the env's first reset (a reset puts the robot
  back at its start), and how far free fall would have taken the root by then.

The last stdout line is the report.
"""

from __future__ import annotations

import argparse
import json
import time

REPORT_PREFIX = "PROBE_REPORT "
"""Marks the report line among Isaac Lab's own output."""

ACTION_LIMIT = 1.0
"""Random actions are drawn uniformly from [-ACTION_LIMIT, ACTION_LIMIT]."""

def random_phase(env, steps: int, generator) -> dict:
    """Step with uniform random actions; shapes and finiteness."""
    import torch  # noqa: PLC0415

    num_envs = env.unwrapped.num_envs
    obs, _ = env.reset()
    finite = bool(torch.isfinite(obs["policy"]).all())
    action_dim = env.unwrapped.single_action_space.shape[0]
    reward = torch.zeros(num_envs)
    for _ in range(steps):
        actions = (torch.rand(num_envs, action_dim, generator=generator) * 2 - 1) * ACTION_LIMIT
        obs, reward, _, _, _ = env.step(actions)
        finite &= bool(torch.isfinite(obs["policy"]).all()) and bool(torch.isfinite(reward).all())
    return {
        "obs_shape": list(obs["policy"].shape),
        "action_shape": [num_envs, action_dim],
        "reward_shape": list(reward.shape),
        "single_observation_space": list(env.unwrapped.single_observation_space["policy"].shape),
        "finite": finite,
        "steps": steps,
    }


def still_phase(env, steps: int) -> dict:
    """Step with zero actions; per env the lowest body point and the root's drop until its first reset."""
    import torch  # noqa: PLC0415

    unwrapped = env.unwrapped
    (robot,) = unwrapped.scene.articulations.values()  # the classic tasks' one robot ("robot", "cartpole")
    gravity = abs(float(unwrapped.sim.cfg.gravity[2]))
    env.reset()
    num_envs = unwrapped.num_envs
    start_root_z = robot.data.root_pos_w[:, 2].clone()  # [E]
    lowest_body_z = robot.data.body_pos_w[..., 2].min(dim=1).values.clone()  # [E]
    root_drop = torch.zeros(num_envs)
    steps_before_reset = torch.zeros(num_envs, dtype=torch.long)
    running = torch.ones(num_envs, dtype=torch.bool)
    actions = torch.zeros(num_envs, unwrapped.single_action_space.shape[0])
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(actions)
        running &= ~(terminated | truncated)  # a reset env shows its start state again: stop watching it
        body_z = robot.data.body_pos_w[..., 2].min(dim=1).values  # [E]
        lowest_body_z = torch.where(running, torch.minimum(lowest_body_z, body_z), lowest_body_z)
        root_drop = torch.where(running, start_root_z - robot.data.root_pos_w[:, 2], root_drop)
        steps_before_reset += running.long()
    elapsed_s = steps_before_reset.double() * unwrapped.step_dt
    return {
        "still_steps": steps,
        "step_dt": unwrapped.step_dt,
        "body_names": list(robot.data.body_names),
        "start_root_z": start_root_z.tolist(),
        "lowest_body_z": lowest_body_z.tolist(),
        "root_drop": root_drop.tolist(),
        "steps_before_reset": steps_before_reset.tolist(),
        "free_fall_drop": (0.5 * gravity * elapsed_s**2).tolist(),
    }


def probe(task: str, num_envs: int, steps: int, still_steps: int, seed: int) -> dict:
    """Create ``task`` and run both phases on it."""
    start = time.perf_counter()
    import torch  # noqa: PLC0415
    from trudi_isaac.cli.isaaclab_env import make_env  # noqa: PLC0415

    with make_env(task, num_envs=num_envs, device="cpu", seed=seed) as env:
        created = time.perf_counter()
        env.reset(seed=seed)
        report = {"task": task, "num_envs": env.unwrapped.num_envs, "device": str(env.unwrapped.device)}
        report |= random_phase(env, steps, torch.Generator().manual_seed(seed))
        stepped = time.perf_counter()
        report |= still_phase(env, still_steps)
        report |= {
            "create_s": round(created - start, 2),
            "step_s": round(stepped - created, 2),
            "still_s": round(time.perf_counter() - stepped, 2),
        }
        return report


def main() -> None:
    """Parse the command line and print the report line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task")
    parser.add_argument("--num-envs", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--still-steps", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    report = probe(args.task, args.num_envs, args.steps, args.still_steps, args.seed)
    print(REPORT_PREFIX + json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
