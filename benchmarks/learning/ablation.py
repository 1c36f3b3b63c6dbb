#!/usr/bin/env python
"""The learning study: each hypothesis of why TruDi trails PPO at 256 envs, as a config switch on the registered config.

    python benchmarks/learning/ablation.py --tasks Isaac-Cartpole --variants alpha_raw duals_actor kl_current_eta
    python benchmarks/learning/ablation.py --list

Every variant is TruDi with one change (or, for ``authors``, the authors' choices together), trained and evaluated
through ``run_grid.py`` at the task's study budget (Isaac-Cartpole: 3 seeds, 614k env steps; Isaac-Ant: 2 seeds,
1M env steps; 256 envs). Results go to ``benchmarks/results/ablation/<task>/trudi_s<seed>_<variant>.json``;
finished runs are skipped, so an interrupted study resumes where it stopped. ``summarize.py`` tables them
(return at 25/50/100 % of the budget, final episode length, α, over-bound fraction) beside the main grid's
TruDi runs (``benchmarks/results/<task>/trudi_s*.json``). Two variants at a time, one per core: ``--jobs 2``.
A variant is its overrides on the config registered when it runs: the first Cartpole and Ant runs were made on
that of 23db601 (lr 3e-4); classic control's registered lr is 1e-3 since 2026-12-02 (the ``lr_1e-3`` finding), so the
later Cartpole variants (``lr_linear`` … ``steps_8_k2``) stack on it; since then classic control's TruDi
also has 8-step rollouts and k = 2 (the ``steps_8_k2`` finding), and a Cartpole variant run today stacks on those.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]
OUT = BENCH / "results" / "ablation"


@dataclass(frozen=True)
class Variant:
    """One switch of the study: Hydra overrides for TruDi's runs, the hypothesis it tests and whose choice it is."""

    overrides: tuple[str, ...]
    hypothesis: str
    whose: str


VARIANTS: dict[str, Variant] = {
    "alpha_raw": Variant(("agent.algorithm.alpha_units=raw",), "soft-reward scale: α in raw reward units", "authors'"),
    "alpha_1e-4": Variant(("agent.algorithm.init_alpha=0.0001",), "soft-reward scale: α₀ = 1e-4", "ours"),
    "duals_actor": Variant(("agent.algorithm.dual_optimizer=actor",), "duals on the actor's optimizer, lr, clip", "authors'"),
    "kl_current_eta": Variant(("agent.algorithm.kl_form=current_eta",), "the authors' path KL with the current η", "authors'"),
    "steps_64": Variant(("agent.num_steps_per_env=64",), "rollout size: 4× longer rollouts, same budget", "ours"),
    "support_5": Variant(("agent.critic.v_min=-5.0", "agent.critic.v_max=5.0"), "critic support ±5", "ours"),
    "lr_1e-3": Variant(
        ("agent.algorithm.learning_rate=0.001", "agent.algorithm.critic_learning_rate=0.001"),
        "step size: actor and critic lr 1e-3 (the stock Cartpole PPO's)", "ours",
    ),
    "eps_0.3": Variant(("agent.algorithm.trust_region_eps=0.3",), "trust region per rollout: ε = 0.3", "ours"),
    "steps_8": Variant(("agent.num_steps_per_env=8",), "rollout size: 2× shorter rollouts, same budget", "ours"),
    "lr_linear": Variant(
        ("agent.algorithm.lr_schedule=linear",), "late drop: lr linear to 0 over the run (REPPO's anneal_lr)",
        "authors'",
    ),
    "actor_lr_3e-4": Variant(
        ("agent.algorithm.learning_rate=0.0003",), "step size: the actor's lr back to 3e-4 (the critic's stays)", "authors'",
    ),
    "lr_adaptive": Variant(
        ("agent.algorithm.lr_schedule=adaptive",),
        "trust-region escape: the actor's rate braked on the path KL (rsl-rl PPO's adaptive rule)", "ours",
    ),
    "steps_8_adaptive": Variant(
        ("agent.num_steps_per_env=8", "agent.algorithm.lr_schedule=adaptive"), "rollout size + trust-region escape: steps_8 and lr_adaptive", "ours",
    ),
    "steps_8_k2": Variant(
        ("agent.num_steps_per_env=8", "agent.algorithm.entropy_target_k=2"),
        "rollout size + entropy: steps_8 with the entropy target H* = −2·A (k = 2)", "ours",
    ),
    "aux_rollout": Variant(("agent.algorithm.aux_target=rollout",), "aux target once per rollout", "authors'"),
    "min_beta_0.01": Variant(
        ("agent.algorithm.min_beta=0.01",), "trust-region escape: β held at or above its start β₀ = 0.01", "ours",
    ),
    "beta_0.1": Variant(
        ("agent.algorithm.init_beta=0.1", "agent.algorithm.min_beta=0.1"),
        "trust-region escape: β starts at 0.1 and is held at or above it", "ours",
    ),
    "authors": Variant(
        ("agent.algorithm.alpha_units=raw", "agent.algorithm.dual_optimizer=actor",
         "agent.algorithm.kl_form=current_eta", "agent.algorithm.aux_target=rollout"),
        "the authors' choices together (α units, duals, path KL, aux target)", "authors'",
    ),  # fmt: skip
}


@dataclass(frozen=True)
class Budget:
    seeds: tuple[int, ...]
    env_steps: int
    steps_per_env: int
    eval_every: int


BUDGETS: dict[str, Budget] = {
    "Isaac-Cartpole": Budget(seeds=(0, 1, 2), env_steps=614_400, steps_per_env=8, eval_every=20),
    "Isaac-Ant": Budget(seeds=(0, 1), env_steps=1_048_576, steps_per_env=32, eval_every=16),
}
NUM_ENVS = 256


def steps_per_env(task: str, variant: Variant) -> int:
    """The variant's rollout length: its override of ``agent.num_steps_per_env``, else the task's."""
    for override in variant.overrides:
        key, _, value = override.partition("=")
        if key == "agent.num_steps_per_env":
            return int(value)
    return BUDGETS[task].steps_per_env


def grid_command(task: str, name: str, seed: int) -> list[str]:
    """The ``run_grid.py`` call of one run of the study."""
    variant, budget = VARIANTS[name], BUDGETS[task]
    steps = steps_per_env(task, variant)
    iterations = budget.env_steps // (NUM_ENVS * steps)
    eval_every = max(1, budget.eval_every * budget.steps_per_env // steps)  # the same env steps between checkpoints
    return [
        sys.executable, str(BENCH / "learning" / "run_grid.py"), "--tasks", task, "--algos", "trudi", "--seeds", str(seed),
        "--iterations", str(iterations), "--num_envs", str(NUM_ENVS), "--eval_every", str(eval_every),
        "--out", str(OUT), "--tag", f"_{name}", *variant.overrides,
    ]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(BUDGETS), choices=list(BUDGETS))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=None, help="Default: the task's study seeds.")
    parser.add_argument("--jobs", type=int, default=2, help="Runs at a time (one per core).")
    parser.add_argument("--list", action="store_true", help="Print the variants and exit.")
    args = parser.parse_args()
    if args.list:
        for name, variant in VARIANTS.items():
            print(f"{name:16s} {variant.whose:9s} {variant.hypothesis}: {' '.join(variant.overrides)}")
        return 0
    runs = [
        (task, name, seed)
        for name in args.variants
        for task in args.tasks
        for seed in (args.seeds if args.seeds is not None else BUDGETS[task].seeds)
    ]

    def one(run: tuple[str, str, int]) -> int:
        task, name, seed = run
        label = f"[ablation] {task} {name} seed {seed}"
        print(label, "start", flush=True)
        result = subprocess.run(grid_command(task, name, seed), capture_output=True, text=True)
        print(label, "done" if result.returncode == 0 else f"FAILED:\n{result.stdout[-1500:]}{result.stderr[-1500:]}", flush=True)
        return result.returncode

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        codes = list(pool.map(one, runs))
    return max(codes, default=0)


if __name__ == "__main__":
    sys.exit(main())
