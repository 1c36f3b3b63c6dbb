#!/usr/bin/env python
"""Multimodality: a batched task whose best actions form two separated modes.

    python benchmarks/learning/multimodal.py --iterations 60

TwoPeaks: one-step episodes, observation = a random context c ∈ [-1, 1]; the 1-D action earns
reward exp(−(a − m)² / 2w²) for the nearest of two peaks m = ±0.6 (width w = 0.1): both are
equally good. After training TruDi (diffusion actor), REPPO (tanh-Gaussian) and rsl-rl PPO
(Gaussian), it samples their *stochastic* policies at fixed contexts and reports, per algorithm,
per context, the fraction of actions near each peak and the mode entropy (0 = one mode, 1 = both
equally), averaged over contexts: a policy that picks one peak per state has entropy 0, even if it
picks different peaks at different states.
``--bases`` adds runs with tasks' registered TruDi/REPPO configs (e.g. every classic-control task's) instead of this
benchmark's own, and ``--entropy_k`` the entropy targets (``registered``: keep the config's own); the mean reward of
the sampled actions (1 at a peak) and their entropy are reported beside the mode shares. ``--seeds`` trains each config
once per seed; a config's row is the mean over its seeds (each seed's statistics are kept under ``per_seed``).
Trailing ``key=value`` overrides (e.g. ``algorithm.min_beta=0.01``) set fields of every TruDi/REPPO runner config and
appear in the rows' names.
Writes ``benchmarks/results/multimodal.json`` and ``benchmarks/results/multimodal.png``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
from rsl_rl.env import VecEnv  # noqa: E402
from tensordict import TensorDict  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: harness.py and the job folders
from harness import apply_override, from_registry, parse_override  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "results"
RUN_CACHE = Path(__file__).resolve().parents[1] / ".runs" / "multimodal"  # one file per finished run and seed
PEAKS = (-0.6, 0.6)
PEAK_WIDTH = 0.1
NEAR_PEAK = 0.2
"""An action counts for a peak when it lies within this distance of it."""
MODE_SHARE = 0.1
"""A peak counts as covered at a state when at least this fraction of the samples there are near it."""
ENTROPY_BIN = 0.02
"""Bin width of the histogram that estimates the sampled actions' entropy (nats) on [-1, 1]."""
REGISTERED_K = "registered"
"""``--entropy_k`` entry that keeps the config's own entropy target."""
CFG_HASH_CHARS = 10
"""Hex digits of the runner config's hash in a cached run's file name."""
DEFAULT_BASE = "own"
"""``--bases`` entry for this benchmark's own TruDi/REPPO config (the others name tasks whose registered config is used)."""


class TwoPeaks(VecEnv):
    """One-step episodes (terminations) with two equally rewarding actions."""

    def __init__(self, num_envs: int, device: str = "cpu", seed: int = 0) -> None:
        self.num_envs, self.num_actions, self.device, self.cfg = num_envs, 1, device, {}
        self.max_episode_length = 1
        self.episode_length_buf = torch.zeros(num_envs, dtype=torch.long, device=device)
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self.context = self._sample_context()

    def _sample_context(self) -> torch.Tensor:
        return torch.rand(self.num_envs, 1, generator=self.generator, device=self.device) * 2 - 1

    def get_observations(self) -> TensorDict:
        return TensorDict({"policy": self.context}, batch_size=[self.num_envs], device=self.device)

    def step(self, actions: torch.Tensor) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        reward = peak_reward(actions[:, 0].clamp(-1, 1))
        self.context = self._sample_context()
        dones = torch.ones(self.num_envs, dtype=torch.bool, device=self.device)
        return self.get_observations(), reward, dones, {"time_outs": torch.zeros_like(dones)}


def registered_cfg(task: str, algo: str, steps: int, k: float | None) -> dict:
    """``task``'s registered TruDi/REPPO runner config, on TwoPeaks' observation group, with entropy target −k·A
    (``k`` None: the registered target)."""
    cfg = from_registry(task, algo, "cpu")
    cfg |= {"num_steps_per_env": steps, "save_interval": 10**9, "obs_groups": {"actor": ["policy"], "critic": ["policy"]}}
    if k is not None:
        cfg["algorithm"]["entropy_target_k"] = k
    return cfg


def runner_cfg(algo: str, steps: int, k: float | None, base: str = DEFAULT_BASE,
               overrides: tuple[tuple[str, object], ...] = ()) -> dict:
    """The runner config of one run: PPO's, or TruDi's/REPPO's: this benchmark's own (``base`` = "own") or a task's
    registered one; ``k`` None keeps the config's entropy target; ``overrides`` (dotted key, value) set its fields."""
    if algo == "ppo":
        return ppo_cfg(steps)
    cfg = registered_cfg(base, algo, steps, k) if base != DEFAULT_BASE else own_cfg(algo, steps, k)
    for key, value in overrides:
        apply_override(cfg, key, value)
    return cfg


def ppo_cfg(steps: int) -> dict:
    """This benchmark's rsl-rl PPO runner config (Gaussian policy)."""
    from isaaclab.utils import class_to_dict  # noqa: PLC0415
    from isaaclab_rl.rsl_rl import (  # noqa: PLC0415
        RslRlMLPModelCfg,
        RslRlOnPolicyRunnerCfg,
        RslRlPpoAlgorithmCfg,
        check_rsl_rl_version,
        handle_deprecated_rsl_rl_cfg,
    )

    gaussian = RslRlMLPModelCfg.GaussianDistributionCfg(init_std=1.0)
    cfg = RslRlOnPolicyRunnerCfg(
        num_steps_per_env=steps, max_iterations=1, save_interval=10**9, experiment_name="twopeaks",
        obs_groups={"actor": ["policy"], "critic": ["policy"]},
        actor=RslRlMLPModelCfg(hidden_dims=[128, 128], activation="elu", obs_normalization=True,
                               distribution_cfg=gaussian),
        critic=RslRlMLPModelCfg(hidden_dims=[128, 128], activation="elu", obs_normalization=True),
        algorithm=RslRlPpoAlgorithmCfg(
            num_learning_epochs=5, num_mini_batches=4, learning_rate=1e-3, schedule="adaptive", gamma=0.99,
            lam=0.95, entropy_coef=0.005, desired_kl=0.01, max_grad_norm=1.0, value_loss_coef=1.0,
            use_clipped_value_loss=True, clip_param=0.2,
        ),
    )  # fmt: skip
    cfg.empirical_normalization = False
    cfg = handle_deprecated_rsl_rl_cfg(cfg, check_rsl_rl_version())
    cfg.device = "cpu"
    return without_policy(class_to_dict(cfg))


def without_policy(cfg: dict) -> dict:
    """A runner config dict without rsl-rl's deprecated ``policy`` entry (the ``actor``/``critic`` entries replace it)."""
    cfg.pop("policy", None)
    return cfg


def own_cfg(algo: str, steps: int, k: float | None) -> dict:
    """This benchmark's own TruDi/REPPO runner config; ``k`` None keeps the class's entropy target."""
    from isaaclab.utils import class_to_dict  # noqa: PLC0415
    from trudi_isaac.agents.trudi_cfg import ReppoRunnerCfg, TruDiRunnerCfg  # noqa: PLC0415

    cfg = (TruDiRunnerCfg if algo == "trudi" else ReppoRunnerCfg)(num_steps_per_env=steps, save_interval=10**9)
    if k is not None:
        cfg.algorithm.entropy_target_k = k
    cfg.algorithm.critic_learning_rate = 1e-3
    cfg.device = "cpu"
    return without_policy(class_to_dict(cfg))


@torch.no_grad()
def sample_actions(runner, contexts: torch.Tensor, samples_per_context: int) -> torch.Tensor:
    """Stochastic actions ``[C, S]`` of the trained policy at each context: ``play.py --stochastic``'s (the weight
    average where a config keeps one)."""
    from trudi_isaac.cli.play import sampling_policy  # noqa: PLC0415

    runner.alg.eval_mode()
    obs = TensorDict({"policy": contexts.repeat_interleave(samples_per_context, 0)}, batch_size=[len(contexts) * samples_per_context])
    actions = sampling_policy(runner.alg)(obs)
    return actions[:, 0].clamp(-1, 1).view(len(contexts), samples_per_context)


def peak_reward(actions: torch.Tensor) -> torch.Tensor:
    """TwoPeaks' reward of each action (1 at either peak)."""
    distance = torch.stack([(actions - m).abs() for m in PEAKS]).min(0).values
    return torch.exp(-distance.square() / (2 * PEAK_WIDTH**2))


def best_reward(entropy: torch.Tensor, grid_points: int = 20001, bisections: int = 60) -> torch.Tensor:
    """The highest mean reward any action distribution on [-1, 1] of the given entropy (nats) can earn.

    It is the Boltzmann policy p(a) ∝ exp(λ r(a)) whose entropy equals it (λ ≥ 0 by bisection; the entropy falls
    as λ grows); at log 2 nats or more, the uniform policy's reward.
    """
    a = torch.linspace(-1, 1, grid_points, dtype=torch.float64)
    da = 2 / (grid_points - 1)
    r = peak_reward(a)  # [G]
    low = torch.zeros_like(entropy, dtype=torch.float64)
    high = torch.full_like(low, 1e4)
    for _ in range(bisections):
        lam = (low + high) / 2
        logp = lam[:, None] * r  # [E, G]
        logp = logp - torch.logsumexp(logp, 1, keepdim=True) - math.log(da)
        h = -(logp.exp() * logp).sum(1) * da
        too_spread = h > entropy
        low, high = torch.where(too_spread, lam, low), torch.where(too_spread, high, lam)
    logp = low[:, None] * r
    weights = torch.softmax(logp, 1)  # [E, G]
    return (weights * r).sum(1).float()


def mode_stats(actions: torch.Tensor) -> dict:
    """Per context (row of ``actions [C, S]``): which peak each sample is near; averaged over contexts.

    ``mode_entropy``: entropy of the peak choice among near-peak samples, in units of log 2
    (0 = one mode at that state, 1 = both equally); ``modes_covered``: peaks holding ≥ 10 % of the
    samples; ``near_any``: the fraction of samples near some peak (how concentrated the policy is); ``action_entropy``:
    the samples' differential entropy in nats, from a histogram of ``ENTROPY_BIN``-wide bins (what the entropy target
    leaves: two Gaussian modes of width σ have log 2 + ½ log(2πe σ²)); ``best_reward``: what the best policy of each
    state's entropy would earn (:func:`best_reward`), the ceiling that the entropy target sets to ``mean_reward``.
    """
    near = torch.stack([((actions - m).abs() < NEAR_PEAK).float().mean(1) for m in PEAKS], dim=1)  # [C, peaks]
    probs = near / near.sum(1, keepdim=True).clamp_min(1e-12)  # [C, peaks]
    entropy = -(probs * probs.clamp_min(1e-12).log()).sum(1) / math.log(len(PEAKS))  # [C]
    bins = torch.stack([torch.histc(row, bins=round(2 / ENTROPY_BIN), min=-1, max=1) for row in actions])  # [C, bins]
    p = bins / actions.shape[1]
    action_entropy = -(p * p.clamp_min(1e-12).log()).sum(1) + math.log(ENTROPY_BIN)  # [C]
    return {
        "mode_entropy": entropy.mean().item(),
        "modes_covered": (near >= MODE_SHARE).float().sum(1).mean().item(),
        "near_any": near.sum(1).mean().item(),
        "fraction_near_peak": dict(zip(map(str, PEAKS), near.mean(0).tolist())),
        "mean_reward": peak_reward(actions).mean().item(),
        "action_entropy": action_entropy.mean().item(),
        "best_reward": best_reward(action_entropy).mean().item(),
    }


def mean_stats(per_seed: list[dict]) -> dict:
    """The seeds' mean of each statistic of :func:`mode_stats` (per peak for the shares near each peak)."""
    keys = ("mode_entropy", "modes_covered", "near_any", "mean_reward", "action_entropy", "best_reward")
    mean = {key: sum(s[key] for s in per_seed) / len(per_seed) for key in keys}
    peaks = per_seed[0]["fraction_near_peak"]
    mean["fraction_near_peak"] = {m: sum(s["fraction_near_peak"][m] for s in per_seed) / len(per_seed) for m in peaks}
    return mean


def entropy_k(text: str) -> float | None:
    """``--entropy_k`` entry: a positive k, or ``registered`` (None: the config's own target)."""
    if text == REGISTERED_K:
        return None
    k = float(text)
    if not k > 0:
        raise argparse.ArgumentTypeError(f"entropy_k must be > 0 or '{REGISTERED_K}', got {text}")
    return k


def k_label(k: float | None) -> str:
    """A run's entropy target as its name shows it."""
    return "registered k" if k is None else f"k={k:g}"


def run_file_name(name: str, seed: int, iterations: int, num_envs: int, cfg: dict) -> str:
    """File caching one finished run's sampled actions, so an interrupted invocation resumes where it stopped; named
    by a hash of the runner config too, so a changed registered config trains anew instead of reading an old run."""
    slug = re.sub(r"[^A-Za-z0-9.=-]+", "_", name).strip("_")
    digest = hashlib.sha256(json.dumps(cfg, sort_keys=True, default=str).encode()).hexdigest()[:CFG_HASH_CHARS]
    return f"{slug}_s{seed}_it{iterations}_n{num_envs}_st{cfg['num_steps_per_env']}_{digest}.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algos", nargs="+", default=["ppo", "reppo", "trudi"])
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--num_envs", type=int, default=256)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--entropy_k", type=entropy_k, nargs="+", default=[4.0, 2.0, 1.0, 0.5],
                        help=f"TruDi/REPPO targets −k·A; '{REGISTERED_K}' keeps the config's own")
    parser.add_argument("--bases", nargs="+", default=[DEFAULT_BASE],
                        help=f"TruDi/REPPO configs: '{DEFAULT_BASE}' (this benchmark's) and/or tasks whose registered "
                             "config to use, e.g. Isaac-Cartpole Isaac-Cartpole-Direct")  # fmt: skip
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--cache", type=Path, default=RUN_CACHE,
                        help="finished runs' sampled actions; a rerun reads them instead of training (delete to retrain)")
    parser.add_argument("overrides", nargs="*", type=parse_override,
                        help="TruDi/REPPO runner-config fields, e.g. algorithm.min_beta=0.01")
    args = parser.parse_args()
    suffix = "".join(f" {key}={value}" for key, value in args.overrides)
    from rsl_rl.runners import OnPolicyRunner  # noqa: PLC0415

    torch.set_num_threads(1)
    contexts = torch.linspace(-1, 1, 8)[:, None]
    results, histograms = [], {}
    runs = [(algo, None, DEFAULT_BASE) if algo == "ppo" else (algo, k, base)
            for algo in args.algos for base in ([DEFAULT_BASE] if algo == "ppo" else args.bases)
            for k in ([None] if algo == "ppo" else args.entropy_k)]  # fmt: skip
    for algo, k, base in runs:
        name = algo if algo == "ppo" else (f"{algo} ({k_label(k)})" + ("" if base == DEFAULT_BASE else f" [{base}]")
                                           + suffix)
        per_seed, samples = [], []
        for seed in args.seeds:
            cfg = runner_cfg(algo, args.steps, k, base, tuple(args.overrides))
            cache = args.cache / run_file_name(name, seed, args.iterations, args.num_envs, cfg)
            if cache.exists():  # finished in an earlier, interrupted invocation
                actions = torch.tensor(json.loads(cache.read_text())["actions"])
            else:
                torch.manual_seed(seed)
                env = TwoPeaks(args.num_envs, seed=seed)
                runner = OnPolicyRunner(env, cfg, log_dir=None, device="cpu")
                runner.learn(args.iterations)
                actions = sample_actions(runner, contexts, 512)  # [C, S]
                cache.parent.mkdir(parents=True, exist_ok=True)
                cache.write_text(json.dumps({"algo": name, "seed": seed, "actions": actions.tolist()}))
            per_seed.append({"seed": seed, **mode_stats(actions)})
            samples.append(actions)
            print(json.dumps({"algo": name, **per_seed[-1]}), flush=True)
        stats = {"algo": name, "config": base, "entropy_k": k, "seeds": args.seeds, **mean_stats(per_seed),
                 "per_seed": per_seed, "actions": torch.cat(samples, 1).tolist()}  # fmt: skip
        results.append(stats)
        histograms[name] = torch.cat(samples, 1).flatten()
    args.out.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/learning/multimodal.py " + " ".join(sys.argv[1:])
    (args.out / "multimodal.json").write_text(json.dumps({"command": command, "iterations": args.iterations,
                                                          "num_envs": args.num_envs, "results": results}))  # fmt: skip
    plot(histograms, args.out / "multimodal.png")
    return 0


def plot(histograms: dict[str, torch.Tensor], path: Path) -> None:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, axes = plt.subplots(len(histograms), 1, figsize=(6, 1.6 * len(histograms)), sharex=True, squeeze=False)
    axes = axes[:, 0]  # [rows]
    for ax, (name, actions) in zip(axes, histograms.items()):
        ax.hist(actions.numpy(), bins=80, range=(-1, 1), color="tab:blue")
        for m in PEAKS:
            ax.axvline(m, color="tab:red", lw=0.8, ls="--")
        ax.set_ylabel(name, rotation=0, ha="right", va="center")
        ax.set_yticks([])
    axes[-1].set_xlabel("sampled action (dashed: the two optimal actions)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
