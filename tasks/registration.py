"""Adds TruDi (and REPPO) agent entry points to every registered Isaac Lab task that has an rsl-rl one.

    import trudi_isaac.tasks  # registers on import; register_trudi_agents() again for tasks registered later

gives each such gym spec the kwargs ``trudi_cfg_entry_point`` and ``reppo_cfg_entry_point``, so
``--agent trudi_cfg_entry_point`` selects TruDi in Isaac Lab's own trainer
(``isaaclab train ... --external_callback trudi_isaac.tasks.registration.install_into_isaaclab``, which also
installs safe checkpoints and the CPU update's thread policy)
and ``scripts/train.py --agent trudi`` does the same. Each config is derived when it is asked for,
from the task's own PPO runner config (:func:`derive_runner_cfg`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import MISSING
from operator import attrgetter

import gymnasium as gym
from isaaclab_rl.rsl_rl import RslRlCNNModelCfg, RslRlOnPolicyRunnerCfg, RslRlRNNModelCfg
from trudi_isaac.agents.families import task_family
from trudi_isaac.agents.trudi_cfg import ReppoRunnerCfg, TruDiRunnerCfg
from trudi_isaac.runners import safe_runner, update_threads

PPO_ENTRY_POINT = "rsl_rl_cfg_entry_point"
AGENTS: dict[str, tuple[type[TruDiRunnerCfg], str]] = {
    "trudi_cfg_entry_point": (TruDiRunnerCfg, "_trudi"),
    "reppo_cfg_entry_point": (ReppoRunnerCfg, "_reppo"),
}
COPIED_RUNNER_FIELDS = ("seed", "num_steps_per_env", "max_iterations", "save_interval", "clip_actions", "obs_groups")

UNDERIVED: dict[str, str] = {}
"""Tasks with an rsl-rl entry point that got no TruDi config, with why (filled by :func:`register_trudi_agents`)."""


class NotDerivable(ValueError):
    """The task's PPO config cannot be carried over to TruDi (the message says why)."""


def task_ppo_cfg(task: str) -> RslRlOnPolicyRunnerCfg:
    """The task's stock rsl-rl PPO runner config, its presets resolved to their defaults."""
    from isaaclab_tasks.utils.hydra import resolve_presets  # noqa: PLC0415
    from isaaclab_tasks.utils.parse_cfg import load_cfg_from_registry  # noqa: PLC0415

    return resolve_presets(load_cfg_from_registry(task, PPO_ENTRY_POINT))


def check_derivable(task: str, ppo: RslRlOnPolicyRunnerCfg) -> None:
    """Raise :class:`NotDerivable` for what TruDi's MLP chain actors cannot take over from a PPO config."""
    if task_family(task) is None:
        raise NotDerivable(f"task '{task}' belongs to no TruDi task family (agents/families.py)")
    for model in ("actor", "critic"):
        model_cfg = getattr(ppo, model, None)
        if isinstance(model_cfg, RslRlCNNModelCfg):
            raise NotDerivable(f"task '{task}': its PPO {model} is a CNN (image observations); TruDi's models are MLPs")
        if isinstance(model_cfg, RslRlRNNModelCfg):
            raise NotDerivable(f"task '{task}': its PPO {model} is recurrent; TruDi's models are feed-forward")


def derive_runner_cfg(task: str, runner_cls: type[TruDiRunnerCfg], suffix: str) -> TruDiRunnerCfg:
    """The task's PPO runner config carried over to TruDi: observation groups, steps per env, iterations,
    save interval, clip actions, seed, experiment name + suffix; the rest from the task's family (its TruDi-only
    settings for the TruDi agent)."""
    ppo = task_ppo_cfg(task)
    check_derivable(task, ppo)
    family = task_family(task)
    cfg = runner_cls()
    for name in COPIED_RUNNER_FIELDS:
        value = getattr(ppo, name, MISSING)
        if not isinstance(value, type(MISSING)):  # e.g. obs_groups left to rsl-rl's defaults (MISSING is copied)
            setattr(cfg, name, copy.deepcopy(value))
    cfg.experiment_name = ppo.experiment_name + suffix
    cfg.algorithm.gamma = family.gamma
    overrides = family.overrides | ({} if issubclass(runner_cls, ReppoRunnerCfg) else family.trudi_overrides)
    for path, value in overrides.items():
        section, _, name = path.rpartition(".")  # "" for a runner field, e.g. "num_steps_per_env"
        setattr(attrgetter(section)(cfg) if section else cfg, name, copy.deepcopy(value))
    return cfg


def _entry_point(task: str, runner_cls: type[TruDiRunnerCfg], suffix: str) -> Callable[[], TruDiRunnerCfg]:
    def make_cfg() -> TruDiRunnerCfg:
        return derive_runner_cfg(task, runner_cls, suffix)

    make_cfg.__qualname__ = f"{runner_cls.__name__}[{task}]"
    return make_cfg


def register_trudi_agents() -> None:
    """Add the TruDi and REPPO entry points to every registered task with an rsl-rl PPO config (idempotent).

    Returns None: as an ``--external_callback`` it consumes no command-line arguments.
    """
    import isaaclab_tasks  # noqa: F401, PLC0415  (registers the stock tasks)

    for task, spec in gym.registry.items():
        if PPO_ENTRY_POINT not in spec.kwargs:
            continue
        if task_family(task) is None:
            UNDERIVED[task] = "no task family matches its name (agents/families.py)"
            continue
        for key, (runner_cls, suffix) in AGENTS.items():
            spec.kwargs.setdefault(key, _entry_point(task, runner_cls, suffix))


def install_into_isaaclab() -> None:
    """Isaac Lab's own trainer and player with this extension: ``isaaclab train/play ... --external_callback
    trudi_isaac.tasks.registration.install_into_isaaclab``.

    Registers the agents (:func:`register_trudi_agents`) and gives every ``OnPolicyRunner`` built afterwards what
    ``scripts/train.py`` and ``scripts/play.py`` give theirs: safe checkpoints (:mod:`trudi_isaac.runners.safe_runner`:
    read without running code from the file, checked against the run, written atomically, never with NaN) and, on
    the CPU, an update whose threads never outnumber the cores other processes leave free
    (:mod:`trudi_isaac.runners.update_threads`; never more than torch's own count). Returns None (no arguments).
    """
    register_trudi_agents()
    safe_runner.install()
    if not update_threads.is_installed():
        update_threads.install()


def derivation_report() -> dict[str, str]:
    """Every task with an rsl-rl config that gets no TruDi config, with why (loads each task's PPO config)."""
    report = dict(UNDERIVED)
    for task in registered_tasks():
        try:
            check_derivable(task, task_ppo_cfg(task))
        except NotDerivable as err:
            report[task] = str(err)
    return report


def registered_tasks() -> list[str]:
    """Tasks that have a TruDi entry point now."""
    return sorted(task for task, spec in gym.registry.items() if "trudi_cfg_entry_point" in spec.kwargs)
