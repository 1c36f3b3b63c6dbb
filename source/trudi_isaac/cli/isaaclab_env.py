"""Create an Isaac Lab task as a gym env, kitless, the way Isaac Lab's own trainers do.

Same path as ``isaaclab train``: resolve the task config (presets and Hydra applied), enter
``isaaclab.app.launch_simulation`` (a no-op launcher for kitless Newton physics, Isaac Sim Kit
otherwise), then ``gym.make``. The asset root is configured first, because Isaac Lab reads it
when its asset module is imported (see :mod:`trudi_isaac.assets.offline_assets`).
"""

from __future__ import annotations

import contextlib
from typing import Any

import gymnasium as gym

from trudi_isaac.assets.offline_assets import configure_assets
from trudi_isaac.cli.common import LEGACY_TASK_SUFFIX


def canonical_task_name(task: str) -> str:
    """Isaac Lab 3 id of a task: drops a gym namespace and the legacy ``-v0`` suffix."""
    task = task.split(":")[-1]
    return task.removesuffix(LEGACY_TASK_SUFFIX)


class LaunchedEnv(gym.Wrapper):
    """A gym env that also holds the simulation launch context, released by :meth:`close`.

    Use it like the env ``gym.make`` returns (``env.unwrapped`` is the Isaac Lab env), or as a
    context manager.
    """

    def __init__(self, env: gym.Env, launch: contextlib.ExitStack) -> None:
        super().__init__(env)
        self._launch = launch

    def close(self) -> None:
        """Close the env, then leave the simulation launch context."""
        try:
            super().close()
        finally:
            self._launch.close()

    def __enter__(self) -> LaunchedEnv:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def resolve_env_cfg(task: str, num_envs: int, device: str = "cpu", seed: int | None = None) -> Any:
    """The task's env config, with presets resolved and the given overrides applied.

    Hydra overrides are not read from ``sys.argv`` (that would pick up the caller's own
    command-line arguments, e.g. pytest's).
    """
    from isaaclab_tasks.utils import resolve_task_config  # noqa: PLC0415  (reads the asset root)

    env_cfg, _ = resolve_task_config(canonical_task_name(task), None, overrides=[])
    env_cfg.scene.num_envs = num_envs
    env_cfg.sim.device = device
    if seed is not None:
        env_cfg.seed = seed
    return env_cfg


def make_env(task: str, num_envs: int, device: str = "cpu", seed: int | None = None) -> LaunchedEnv:
    """Create an Isaac Lab task as a gym env.

    Configures the asset root first (``TRUDI_ASSETS`` / ``ISAACSIM_ASSET_ROOT``, see
    :func:`~trudi_isaac.assets.offline_assets.configure_assets`). Only one env can live in a
    process at a time: Isaac Lab's simulation context is a singleton, so close one env before
    making the next.

    Args:
        task: Task id, e.g. ``Isaac-Humanoid`` (``-v0`` and gym namespaces are accepted).
        num_envs: Number of parallel environments.
        device: Torch/warp device of the simulation, e.g. ``cpu`` or ``cuda:0``.
        seed: Env seed; ``None`` keeps the task's default.

    Returns:
        The env; its ``close()`` also releases the simulation launch context.
    """
    configure_assets()
    import isaaclab_tasks  # noqa: F401, PLC0415  (registers the tasks with gym)
    from isaaclab.app import launch_simulation  # noqa: PLC0415

    task = canonical_task_name(task)
    env_cfg = resolve_env_cfg(task, num_envs, device, seed)
    launch = contextlib.ExitStack()
    try:
        launch.enter_context(launch_simulation(env_cfg, {"device": device}))
        env = gym.make(task, cfg=env_cfg)
    except BaseException:
        launch.close()
        raise
    return LaunchedEnv(env, launch)
