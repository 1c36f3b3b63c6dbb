"""Roll TruDi out on a real Isaac Lab task with short episodes and report what the env said and what TruDi stored.

Run as a script (one simulation per process: Isaac Lab's simulation context is a singleton)::

    python tests/timeout_probe.py Isaac-Cartpole --num-envs 16 --episode-length-s 0.25 --steps 40

The env is created as :func:`trudi_isaac.cli.isaaclab_env.make_env` creates it, with ``episode_length_s`` set
before creation, and wrapped for rsl-rl as the trainers do. TruDi's ``act`` → ``env.step`` →
``process_env_step`` run as rsl-rl's runner runs them. The last stdout line is the report: per step and env,
the env's ``dones`` and ``extras["time_outs"]`` and the buffer's ``terminated`` and ``truncated`` flags.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys

REPORT_PREFIX = "TIMEOUT_REPORT "
"""Marks the report line among Isaac Lab's own output."""


def probe(task: str, num_envs: int, episode_length_s: float, steps: int, action_scale: float, seed: int) -> dict:
    """Create ``task`` with ``episode_length_s``, collect ``steps`` TruDi steps with the actor's ``action_scale``,
    return the flags (lists [steps][E])."""
    import gymnasium as gym  # noqa: PLC0415
    import torch  # noqa: PLC0415

    from trudi_isaac.assets.offline_assets import configure_assets  # noqa: PLC0415

    configure_assets()  # before Isaac Lab reads its asset root
    import isaaclab_tasks  # noqa: F401, PLC0415
    from isaaclab.app import launch_simulation  # noqa: PLC0415
    from isaaclab_rl.rsl_rl import RslRlVecEnvWrapper  # noqa: PLC0415

    from trudi_isaac.algorithms.trudi import TruDi  # noqa: PLC0415
    from trudi_isaac.cli.isaaclab_env import LaunchedEnv, canonical_task_name, resolve_env_cfg  # noqa: PLC0415

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from toy_train import small_cfg  # noqa: PLC0415

    torch.manual_seed(seed)
    task = canonical_task_name(task)
    env_cfg = resolve_env_cfg(task, num_envs, "cpu", seed)
    env_cfg.episode_length_s = episode_length_s
    launch = contextlib.ExitStack()
    launch.enter_context(launch_simulation(env_cfg, {"device": "cpu"}))
    with LaunchedEnv(gym.make(task, cfg=env_cfg), launch) as gym_env:
        env = RslRlVecEnvWrapper(gym_env)
        cfg = small_cfg(num_steps_per_env=steps)
        cfg["actor"]["action_scale"] = action_scale
        with contextlib.redirect_stdout(io.StringIO()):
            alg = TruDi.construct_algorithm(env.get_observations(), env, cfg, "cpu")
        alg.train_mode()
        dones, time_outs = [], []
        obs = env.get_observations()
        with torch.inference_mode():
            for _ in range(steps):
                actions = alg.act(obs)
                obs, rewards, done, extras = env.step(actions)
                alg.process_env_step(obs, rewards, done, extras)
                dones.append(done.bool().tolist())
                time_outs.append(extras["time_outs"].bool().tolist())
        return {
            "max_episode_length": int(env.max_episode_length),
            "dones": dones,
            "time_outs": time_outs,
            "terminated": alg.storage.terminated.tolist(),
            "truncated": alg.storage.truncated.tolist(),
            "stored_steps": alg.storage.step,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task")
    parser.add_argument("--num-envs", type=int, default=16)
    parser.add_argument("--episode-length-s", type=float, default=0.25)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--action-scale", type=float, default=1.0, help="TruDi actor's action scale.")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    report = probe(args.task, args.num_envs, args.episode_length_s, args.steps, args.action_scale, args.seed)
    print(REPORT_PREFIX + json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
