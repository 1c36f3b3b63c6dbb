"""The headline comparison: which runs show each algorithm as it is registered now, per task and env count.

``RESULTS.md`` has one table per grid, from the first configs through every study variant. ``summarize.py`` puts a
headline section above them, built from the runs named here: PPO with the task's stock config, TruDi and REPPO with
the configs registered today. When a registered config changes, run its grids again and point its entry at them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HeadlineSetting:
    """One task at one env count; ``runs`` maps an algorithm to the globs of its run JSONs (under
    ``benchmarks/results/``)."""

    task: str
    num_envs: int
    runs: dict[str, tuple[str, ...]]


HEADLINE: tuple[HeadlineSetting, ...] = (
    HeadlineSetting("Isaac-Cartpole", 4096, {
        "ppo": ("Isaac-Cartpole/ppo_s?_envs4096_steps8_k2.json",),
        "trudi": ("Isaac-Cartpole/trudi_s?_envs4096_min_beta0.01_ema0.9bc.json",),
        "reppo": ("Isaac-Cartpole/reppo_s?_envs4096_reppo_recipe.json",),
    }),
    HeadlineSetting("Isaac-Cartpole", 256, {
        "ppo": ("Isaac-Cartpole/ppo_s?.json", "Isaac-Cartpole/ppo_s?_seeds3to5.json"),
        "trudi": ("Isaac-Cartpole/trudi_s?_min_beta0.01_ema0.9bc.json",),
        "reppo": ("Isaac-Cartpole/reppo_s?_reppo_recipe.json",),
    }),
    HeadlineSetting("Isaac-Cartpole-Direct", 4096, {
        "ppo": ("Isaac-Cartpole-Direct/ppo_s?_envs4096.json",),
        "trudi": ("Isaac-Cartpole-Direct/trudi_s?_envs4096_min_beta0.01_ema0.9bc.json",),
    }),
    HeadlineSetting("Isaac-Cartpole-Direct", 256, {
        "ppo": ("Isaac-Cartpole-Direct/ppo_s?.json",),
        "trudi": ("Isaac-Cartpole-Direct/trudi_s?_min_beta0.01_ema0.9bc.json",),
    }),
    HeadlineSetting("Isaac-Ant", 4096, {
        "ppo": ("Isaac-Ant/ppo_s?_envs4096.json",),
        "trudi": ("Isaac-Ant/trudi_s?_envs4096_lr_linear.json",),
        "reppo": ("Isaac-Ant/reppo_s?_envs4096_reppo_recipe.json",),
    }),
    HeadlineSetting("Isaac-Ant", 256, {
        "ppo": ("Isaac-Ant/ppo_s?_3M.json",),
        "trudi": ("Isaac-Ant/trudi_s?_3M_lr_linear.json",),
        "reppo": ("Isaac-Ant/reppo_s?_3M_reppo_recipe.json",),
    }),
    HeadlineSetting("Isaac-Humanoid", 4096, {
        "ppo": ("Isaac-Humanoid/ppo_s?_envs4096.json",),
        "trudi": ("Isaac-Humanoid/trudi_s?_envs4096.json",),
        "reppo": ("Isaac-Humanoid/reppo_s?_envs4096.json",),
    }),
    HeadlineSetting("Isaac-Humanoid", 256, {
        "ppo": ("Isaac-Humanoid/ppo_s?_3M.json",),
        "trudi": ("Isaac-Humanoid/trudi_s?_3M.json",),
        "reppo": ("Isaac-Humanoid/reppo_s?_3M.json",),
    }),
)  # fmt: skip
"""Isaac-Humanoid's rows name runs on the humanoid stand-in that stands (the earlier runs, in
``results/Isaac-Humanoid/fell_through_ground/``, trained a body falling through the ground plane): 256 envs to 3M env
steps (``--iterations 367 --num_envs 256 --eval_every 25 --tag _3M``), and 4096 envs (``--tag _envs4096``)."""
