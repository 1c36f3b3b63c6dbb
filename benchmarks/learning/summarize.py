#!/usr/bin/env python
"""Benchmark results → ``benchmarks/RESULTS.md`` (the headline), ``benchmarks/RESULTS_GRIDS.md`` (the rest) and plots.

    python benchmarks/learning/summarize.py

Reads every run JSON under ``benchmarks/results/<task>/`` written by ``run_grid.py`` or ``torch_grid.py``, and the
cost records beside them. RESULTS.md is the headline (each algorithm as registered now, the runs ``headline.py``
names); RESULTS_GRIDS.md has one table per grid, the targets, the study and the cost tables. The lab notebook,
``benchmarks/NOTES.md``, is hand-written and linked from both.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: harness.py and the job folders
from learning.headline import HEADLINE, HeadlineSetting  # noqa: E402

BENCH = Path(__file__).resolve().parents[1]
RESULTS = BENCH / "results"
ALGO_ORDER = ("ppo", "reppo", "trudi")
HEADLINE_PNG = "headline.png"
GRIDS_PAGE = "RESULTS_GRIDS.md"
"""The second generated page, beside RESULTS.md: every grid and measurement."""
WARMUP_ITERATIONS = 1
"""Iterations left out of the timing means (the first one compiles warp kernels and allocates)."""


TRAIN_REWARD_WINDOW = 10
"""Iterations at the end of training over which rsl-rl's ``Train/mean_reward`` (stochastic policy) is averaged."""


def load_runs(results: Path) -> dict[tuple[str, str], list[dict]]:
    """(task/grid, algo) → runs; a grid is the task folder plus the file tag after the seed."""
    runs: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for path in sorted(results.glob("*/*.json")):
        if path.name == "multimodal.json":  # multimodal.py's reports (results/multimodal_*/) are no grid runs
            continue
        run = json.loads(path.read_text())
        tag = path.stem.split(f"_s{run['seed']}", 1)[1]
        runs[(f"{run['task']}{tag}", run["algo"])].append(run)
    return runs


def read_jsonl(path: Path) -> list[dict]:
    """The records of a JSON-lines file; none if it does not exist."""
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def table_head(title: str, columns: list[str], intro: list[str] | None = None) -> list[str]:
    """A section's title, its intro lines and the head of its markdown table."""
    return [f"## {title}", "", *(intro or []), *([""] if intro else []), "| " + " | ".join(columns) + " |",
            "|" + "---|" * len(columns)]  # fmt: skip


def record_results(records: list[dict]) -> Iterator[tuple[dict, dict, dict]]:
    """``(record, its config, one of its results)`` over the records of a cost measurement."""
    for record in records:
        for result in record["results"]:
            yield record, record["config"], result


def commands_list(commands: Iterable[str]) -> list[str]:
    """The distinct ``commands``, in order, as a list under "Command:" (or "Commands:")."""
    distinct = list(dict.fromkeys(commands))
    return ["Commands:" if len(distinct) > 1 else "Command:", "", *(f"- `{c}`" for c in distinct), ""]


def algo_rank(algo: str) -> int:
    """Where an algorithm's row goes in a table: ``ALGO_ORDER``, then any other."""
    return ALGO_ORDER.index(algo) if algo in ALGO_ORDER else len(ALGO_ORDER)


def mean_sd(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def timing(run: dict, key: str) -> float:
    values = run[key][WARMUP_ITERATIONS:] or run[key]
    return statistics.mean(values)


def episode_cells(runs: list[dict]) -> str:
    """Two table cells of the runs' last checkpoints: mean episode length (policy steps) and the share of the evaluated
    episodes that ended by time-out, means over the runs (``–``: evaluated before the share was recorded). A task
    whose robot cannot stay up shows itself here, whatever the returns say."""
    shares = [r["curve"][-1].get("timeout_share") for r in runs]
    share = f"{statistics.mean(shares):.0%}" if None not in shares else "–"
    return f"{statistics.mean(r['curve'][-1]['length'] for r in runs):.0f} | {share}"


def table(grid: str, by_algo: dict[str, list[dict]]) -> list[str]:
    lines = [
        f"### {grid}",
        "",
        "| algo | seeds | env steps | final det. return | best det. return | final episode length | ended by time-out "
        "| final train reward | collection s/it | update s/it | env-steps/s | buffer MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for algo in sorted(by_algo, key=algo_rank):
        rs = by_algo[algo]
        finals = [r["curve"][-1]["return"] for r in rs]
        bests = [max(p["return"] for p in r["curve"]) for r in rs]
        lines.append(
            f"| {algo} | {len(rs)} | {rs[0]['curve'][-1]['env_steps']:,} | {mean_sd(finals)} | {mean_sd(bests)} "
            f"| {episode_cells(rs)} | {mean_sd([statistics.mean(r['train_mean_reward'][-TRAIN_REWARD_WINDOW:]) for r in rs])} "
            f"| {statistics.mean(timing(r, 'collection_time_per_iter') for r in rs):.2f} "
            f"| {statistics.mean(timing(r, 'update_time_per_iter') for r in rs):.2f} "
            f"| {statistics.mean(timing(r, 'env_steps_per_s') for r in rs):,.0f} "
            f"| {statistics.mean(r['buffer_bytes'] for r in rs) / 2**20:.1f} |"
        )
    first = next(iter(by_algo.values()))[0]
    lines += ["", f"{first['num_envs']} envs × {first['num_steps_per_env']} steps per iteration on `{first['device']}`"
              f" ({first['machine']['cpus']} CPUs, {first['machine']['platform']}, Python {first['machine']['python']})."]  # fmt: skip
    return lines + commands_list(r["command"] for rs in by_algo.values() for r in rs)


def train_seconds_at(run: dict, iteration: int) -> float:
    """Training wall-clock (collection + update, evaluation left out) up to and including ``iteration``."""
    upto = iteration + 1
    return sum(run["collection_time_per_iter"][:upto]) + sum(run["update_time_per_iter"][:upto])


def draw_curves(by_steps: plt.Axes, by_wall: plt.Axes, by_algo: dict[str, list[dict]], key: str = "return") -> None:
    """Each algorithm's mean curve of ``key`` (a curve point's field; band: min to max over seeds) against env steps and
    against training seconds."""
    for algo, rs in sorted(by_algo.items()):
        points = rs[0]["curve"]
        same = [r for r in rs if len(r["curve"]) == len(points)]
        curves = [[p[key] for p in r["curve"]] for r in same]
        mean = [statistics.mean(c) for c in zip(*curves)]
        low, high = [min(c) for c in zip(*curves)], [max(c) for c in zip(*curves)]
        wall = [statistics.mean(train_seconds_at(r, p["iteration"]) for r in same) for p in points]
        color = f"C{ALGO_ORDER.index(algo)}" if algo in ALGO_ORDER else None  # one colour per algorithm in every plot
        for ax, x in ((by_steps, [p["env_steps"] for p in points]), (by_wall, wall)):
            (line,) = ax.plot(x, mean, color=color, label=f"{algo} ({len(curves)} seeds)")
            ax.fill_between(x, low, high, alpha=0.2, color=line.get_color())


def plot(grid: str, by_algo: dict[str, list[dict]], results: Path) -> tuple[str, str]:
    """Mean curves of the return and the episode length (band: min to max over seeds) against env steps and against
    training wall-clock seconds; the cost per iteration."""
    fig, ((by_steps, by_wall), (length_by_steps, length_by_wall)) = plt.subplots(2, 2, figsize=(11, 7), sharey="row")
    draw_curves(by_steps, by_wall, by_algo)
    draw_curves(length_by_steps, length_by_wall, by_algo, key="length")
    by_steps.set(ylabel="deterministic return", title=grid)
    by_wall.set(title=f"{grid}: against time")
    length_by_steps.set(xlabel="env steps", ylabel="episode length (policy steps)")
    length_by_wall.set(xlabel="training wall-clock s (mean over seeds)")
    by_steps.legend()
    curve_png = f"{grid}_curves.png"
    fig.tight_layout()
    fig.savefig(results / curve_png, dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    algos = sorted(by_algo)
    collect = [statistics.mean(timing(r, "collection_time_per_iter") for r in by_algo[a]) for a in algos]
    update = [statistics.mean(timing(r, "update_time_per_iter") for r in by_algo[a]) for a in algos]
    ax.bar(algos, collect, label="collection")
    ax.bar(algos, update, bottom=collect, label="update")
    ax.set(ylabel="seconds per iteration", title=f"{grid}: cost per iteration")
    ax.legend()
    cost_png = f"{grid}_cost.png"
    fig.tight_layout()
    fig.savefig(results / cost_png, dpi=100)
    plt.close(fig)
    return curve_png, cost_png


MODE_SHARE_TARGET = 0.1
"""The two-mode target: at least this share of the samples near each peak, for every seed's policy (seeds that
each keep one peak, a different one, are no two-mode policy even if their mean is) …"""
MODE_REWARD_TARGET = 0.5
"""… and a mean reward above this (half the peak's)."""


def multimodal_section(results: Path) -> list[str]:
    """``multimodal.py``'s tables: ``results/multimodal.json`` and one subsection per ``results/multimodal_*/``."""
    reports = [results / "multimodal.json"] + sorted(results.glob("multimodal_*/multimodal.json"))
    lines = []
    for path in filter(Path.exists, reports):
        heading = f"### {path.parent.name}" if path.parent != results else ""
        lines += multimodal_table(json.loads(path.read_text()), path.parent.relative_to(results.parent), heading)
    return ["## Multimodality (TwoPeaks: two equally good actions)", ""] + lines if lines else []


def multimodal_table(report: dict, folder: Path, heading: str) -> list[str]:
    """One ``multimodal.json``'s table, with the target per TruDi row and its plot (``folder``: beside RESULTS.md)."""
    lines = [heading, ""] if heading else []
    lines += ["| policy | seeds | mode entropy per state (0 = one mode, 1 = both) | modes covered per state "
              "| samples near a peak | near each peak (−0.6 / +0.6) | action entropy (nats) | mean reward (peak 1) "
              "| near the lesser peak, per seed | best reward at that entropy | target |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in report["results"]:
        shares = " / ".join(f"{v:.2f}" for v in r["fraction_near_peak"].values())
        lesser = [min(s["fraction_near_peak"].values()) for s in r.get("per_seed", [r])]  # [seeds]
        lesser_text = " / ".join(f"{v:.2f}" for v in lesser)
        reward = f"{r['mean_reward']:.2f}" if "mean_reward" in r else "–"
        action_entropy = f"{r['action_entropy']:.2f}" if "action_entropy" in r else "–"
        best = f"{r['best_reward']:.2f}" if "best_reward" in r else "–"
        target = "–"
        if r["algo"].startswith("trudi") and "mean_reward" in r:
            met = min(lesser) >= MODE_SHARE_TARGET and r["mean_reward"] > MODE_REWARD_TARGET
            target = status(met)
        lines.append(f"| {r['algo']} | {len(r.get('seeds', [0]))} | {r['mode_entropy']:.2f} | {r['modes_covered']:.2f} "
                     f"| {r['near_any']:.2f} | {shares} | {action_entropy} | {reward} | {lesser_text} | {best} | {target} |")  # fmt: skip
    lines += ["", f"{report['iterations']} iterations × {report['num_envs']} envs; means over the seeds. Target (TruDi, "
              f"the learning targets): ≥ {MODE_SHARE_TARGET:.0%} of the samples near each peak for every seed and a mean reward above "
              f"{MODE_REWARD_TARGET}. `[task]`: that task's registered config. Best reward at that entropy: what the best "
              f"policy with each state's action entropy, p(a) ∝ exp(λ r(a)), would earn. Command: `{report['command']}`", "",
              f"![]({folder}/multimodal.png)", ""]  # fmt: skip
    return lines


GEMM_OPS = ("aten::mm", "aten::addmm")


def update_cost_section(results: Path) -> list[str]:
    """``update_cost.py`` records; those taken with ``--profile`` add what one more, profiled iteration did."""
    records = read_jsonl(results / "update_cost.jsonl")
    if not records:
        return []
    lines = table_head("Cost on a batched torch env (no simulator)", [
        "code", "device", "envs × steps", "obs / actions", "algo", "collection s/it", "policy µs per env step", "update s/it",
        "buffer B per transition", "kernel launches", "host reads", "matmul ms", "ops per env step", "ops per minibatch step"])  # fmt: skip
    for _, c, r in record_results(records):
        per_transition = r["buffer_bytes_per_transition"]
        prof = r.get("profile")
        profiled = (f"{prof['kernel_launches']:,} | {prof['host_reads']:,} "
                    f"| {sum(prof['top_self_ms'].get(op, 0.0) for op in GEMM_OPS):.0f}") if prof else "– | – | –"  # fmt: skip
        ops = r.get("ops")
        counted = f"{ops['per_env_step']:.0f} | {ops['per_minibatch_step']:.0f}" if ops else "– | –"
        lines.append(
            f"| {c.get('label') or '–'} | {c['device']} | {c['num_envs']} × {c['steps']} | {c['obs']} / {c['actions']} | {r['algo']} "
            f"| {r['collect_s_per_iter']:.3f} | {r['policy_us_per_env_step']:.1f} | {r['update_s_per_iter']:.3f} "
            f"| {f'{per_transition:.0f}' if per_transition else '–'} | {profiled} | {counted} |"
        )
    lines += ["", "Command: `python benchmarks/cost/update_cost.py --num_envs N --steps T --label L --out benchmarks/results/update_cost.jsonl`"
              " (best of 3 iterations after a warm-up). On the GPU machine (no Isaac Lab): `PYTHONPATH=source:benchmarks/.device/site"
              " python benchmarks/cost/update_cost.py --device cuda --agent_cfgs benchmarks/.device/agent_cfgs.json ...`"
              " after `python benchmarks/device/device_bundle.py` here. The last three columns come from `--profile N`: the kernel"
              " launches, host reads of device values (`.item()`, boolean masks; each waits for the GPU) and matmul time"
              " (device time on CUDA) of one more, profiled iteration. The ops columns come from `--count_ops`: the compute ops"
              " the algorithm dispatches (`benchmarks/cost/op_count.py`: about one GPU kernel each, countable on any device) per env"
              " step of collection and per minibatch step of the update, in one more, eager iteration; trailing"
              " `algorithm.gate_form=masked` counts the CUDA step on the CPU.", ""]  # fmt: skip
    return lines


COST_TARGETS = {"collection": 1.2, "wall per env step": 1.5}
"""The first cost targets: TruDi / PPO on Isaac-Humanoid, 256 envs, CPU, in the same grid."""
LEARNING_TARGET_TASKS = ("Isaac-Cartpole", "Isaac-Cartpole-Direct", "Isaac-Ant")
"""The first learning target: TruDi's final deterministic return >= PPO's (mean over seeds) at equal env steps; the later targets add
:func:`study_targets` (Isaac-Cartpole-Direct, a held-out check of classic control's config, gets Isaac-Cartpole's)."""


def status(met: bool) -> str:
    return "**met**" if met else "**missed**"


def seconds_per_env_step(runs: list[dict], keys: tuple[str, ...]) -> float:
    """Mean over runs of the per-iteration seconds in ``keys`` (summed), per env step."""
    return statistics.mean(sum(timing(r, k) for k in keys) / (r["num_envs"] * r["num_steps_per_env"]) for r in runs)


def same_seeds(pool: list[dict], runs: list[dict]) -> list[dict]:
    """The runs of ``pool`` with the seeds of ``runs`` (a paired comparison), or all of ``pool`` if it lacks one."""
    paired = [r for r in pool if r["seed"] in {run["seed"] for run in runs}]
    return paired if len({r["seed"] for r in paired}) == len({r["seed"] for r in runs}) else pool


def stock_ppo(grids: dict[str, dict[str, list[dict]]], trudi: list[dict]) -> tuple[str, list[dict]] | None:
    """For a grid with TruDi runs only: the PPO runs of the other grids of the same task, env count and env-step budget,
    trained with the task's stock config (no Hydra override on their command), pooled over those grids and paired
    with TruDi's seeds where the pool has them all (:func:`same_seeds`). Returns the grids' names and the runs."""
    first = trudi[0]
    candidates = [
        (grid, by_algo["ppo"]) for grid, by_algo in sorted(grids.items())
        if by_algo.get("ppo") and all(
            r["task"] == first["task"] and r["num_envs"] == first["num_envs"]
            and r["curve"][-1]["env_steps"] == first["curve"][-1]["env_steps"]
            and not any("=" in word for word in r["command"].split()) for r in by_algo["ppo"])
    ]  # fmt: skip
    if not candidates:
        return None
    chosen = same_seeds([r for _, runs in candidates for r in runs], trudi)
    chosen_ids = {id(r) for r in chosen}
    names = [grid for grid, runs in candidates if any(id(r) in chosen_ids for r in runs)]
    return " + ".join(names), chosen


def targets_section(grids: dict[str, dict[str, list[dict]]]) -> list[str]:
    """The issue's targets, computed from the run JSONs: cost ratios and learning comparisons. A grid of TruDi runs
    alone is compared with the stock PPO runs of its task at the same env count and budget (:func:`stock_ppo`)."""
    lines = ["## Targets (computed from the runs above)", "", "| target | grid | measured | status |", "|---|---|---|---|"]
    cost_keys = {"collection": ("collection_time_per_iter",),
                 "wall per env step": ("collection_time_per_iter", "update_time_per_iter")}  # fmt: skip
    for grid, by_algo in sorted(grids.items()):
        if "trudi" not in by_algo:
            continue
        trudi, ppo = by_algo["trudi"], by_algo.get("ppo")
        if ppo is None:  # learning targets only: timings of runs from different grids ran under different loads
            if (borrowed := stock_ppo(grids, trudi)) is None:
                continue
            grid, ppo = f"{grid} (PPO: {borrowed[0]})", borrowed[1]
        elif ppo[0]["task"] == "Isaac-Humanoid" and ppo[0]["num_envs"] == 256 and ppo[0]["device"] == "cpu":
            for name, keys in cost_keys.items():
                ratio = seconds_per_env_step(trudi, keys) / seconds_per_env_step(ppo, keys)
                bound = COST_TARGETS[name]
                lines.append(f"| TruDi {name} ≤ {bound}× PPO's | {grid} | {ratio:.2f}× | {status(ratio <= bound)} |")
        if ppo[0]["task"] in LEARNING_TARGET_TASKS:
            finals = {a: statistics.mean(r["curve"][-1]["return"] for r in runs)
                      for a, runs in (("ppo", ppo), ("trudi", trudi))}  # fmt: skip
            steps = {r["curve"][-1]["env_steps"] for r in ppo + trudi}
            met = finals["trudi"] >= finals["ppo"] and len(steps) == 1  # equal env steps, or not comparable
            lines.append(
                f"| TruDi final det. return ≥ PPO's ({len(trudi)} vs {len(ppo)} seeds, {max(steps):,} env steps) "
                f"| {grid} | {finals['trudi']:.2f} vs {finals['ppo']:.2f} | {status(met)} |"
            )
            lines += study_targets(grid, ppo, trudi)
    return lines + [""]


def mean_return_at(runs: list[dict], env_steps: float) -> float:
    return statistics.mean(return_at(r, env_steps) for r in runs)


def area_under_curve(run: dict) -> float:
    """Trapezoid area under the deterministic-return curve over env steps, per env step (the curve's mean height)."""
    steps = [p["env_steps"] for p in run["curve"]]
    returns = [p["return"] for p in run["curve"]]
    if len(steps) == 1:
        return returns[0]
    area = sum((s1 - s0) * (r0 + r1) / 2 for s0, s1, r0, r1 in zip(steps, steps[1:], returns, returns[1:]))
    return area / (steps[-1] - steps[0])


def interpolated_return(run: dict, env_steps: float) -> float:
    """The run's return at ``env_steps``, linear between its neighbouring checkpoints (runs whose rollouts differ in
    length have checkpoints at different env steps)."""
    return float(np.interp(env_steps, [p["env_steps"] for p in run["curve"]], [p["return"] for p in run["curve"]]))


def gaps_from_half_budget(trudi: list[dict], ppo: list[dict], budget: float) -> dict[int, float]:
    """TruDi's mean return minus PPO's (interpolated there) at each of TruDi's checkpoints from half the budget on."""
    checkpoints = sorted({p["env_steps"] for p in trudi[0]["curve"] if budget / 2 <= p["env_steps"] <= budget})
    return {s: mean_return_at(trudi, s) - statistics.mean(interpolated_return(r, s) for r in ppo) for s in checkpoints}


def study_targets(grid: str, ppo: list[dict], trudi: list[dict]) -> list[str]:
    """The later learning targets: on Isaac-Cartpole(-Direct) TruDi's mean ≥ PPO's at every checkpoint from half the budget on; on
    Isaac-Ant its mean area under the curve ≥ PPO's (the final return is the line above)."""
    budget = min(r["curve"][-1]["env_steps"] for r in ppo + trudi)
    seeds = f"{len(trudi)} vs {len(ppo)} seeds"
    if ppo[0]["task"].startswith("Isaac-Cartpole"):
        gaps = gaps_from_half_budget(trudi, ppo, budget)
        checkpoints, worst = sorted(gaps), min(gaps, key=gaps.get)
        ppo_worst = mean_return_at(trudi, worst) - gaps[worst]
        return [f"| TruDi mean det. return ≥ PPO's at every checkpoint from half the budget on ({seeds}, "
                f"{len(checkpoints)} checkpoints; PPO's interpolated there) | {grid} | worst at {worst:,} steps: "
                f"{mean_return_at(trudi, worst):.2f} vs {ppo_worst:.2f} | {status(gaps[worst] >= 0)} |"]  # fmt: skip
    aucs = {name: statistics.mean(area_under_curve(r) for r in runs) for name, runs in (("ppo", ppo), ("trudi", trudi))}
    return [f"| TruDi area under the curve ≥ PPO's ({seeds}, mean return over training) | {grid} "
            f"| {aucs['trudi']:.2f} vs {aucs['ppo']:.2f} | {status(aucs['trudi'] >= aucs['ppo'])} |"]


def final_policies_section(results: Path, grids: dict[str, dict[str, list[dict]]]) -> list[str]:
    """The last checkpoints under each kind of policy (``final_policies.py``; deterministic: the run's curve), mean over seeds."""
    records = read_jsonl(results / "final_policies.jsonl")
    if not records:
        return []
    cells: dict[tuple[str, str], dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    for r in records:
        cells[(r["task"], r["algo"])][r["policy"]][r["seed"]] = r["return"]
        runs = grids.get(r["task"] + r.get("tag", ""), {}).get(r["algo"], [])
        for run in (run for run in runs if run["seed"] == r["seed"]):
            cells[(r["task"], r["algo"])]["deterministic"][r["seed"]] = run["curve"][-1]["return"]
    lines = ["## The final checkpoints under each kind of policy", "",
             "`deterministic` is the learning curves' policy (play.py's and the export's; for TruDi the ODE from",
             "x_0 = 0), `ode_from_prior` TruDi's ODE from a prior sample (the authors' evaluation), `stochastic`",
             "sampled actions. Mean ± sd over seeds; same envs and episodes as the curves.", "",
             "| task | algo | seeds | deterministic | ode_from_prior | stochastic |", "|---|---|---|---|---|---|"]  # fmt: skip
    for (task, algo), by_policy in sorted(cells.items()):
        row = [mean_sd(list(by_policy[p].values())) if by_policy.get(p) else "–"
               for p in ("deterministic", "ode_from_prior", "stochastic")]  # fmt: skip
        seeds = len(set().union(*(by_seed.keys() for by_seed in by_policy.values())))
        lines.append(f"| {task} | {algo} | {seeds} | " + " | ".join(row) + " |")
    return lines + ["", *commands_list(r["command"] for r in records)]


def compile_section(results: Path) -> list[str]:
    records = read_jsonl(results / "compile_probe.jsonl")
    if not records:
        return []
    lines = ["## torch.compile of the diffusion actor's control network (one actor step: loss + backward)", "",
             "| device | states | obs / actions | over the bound | eager s | compiled s | speedup | compile + warm-up s |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in records:
        c = r["config"]
        lines.append(
            f"| {c['device']} | {c['batch']} | {c['obs']} / {c['actions']} | {r['over_bound_frac']:.2f} "
            f"| {r['eager_s_per_actor_step']:.3f} | {r['compiled_s_per_actor_step']:.3f} | {r['speedup']:.2f}x "
            f"| {r['compile_and_warmup_s']:.0f} |"
        )
    lines += ["", "Command: `python benchmarks/cost/compile_probe.py --out benchmarks/results/compile_probe.jsonl`", ""]
    return lines


def precision_cost_section(results: Path) -> list[str]:
    """``precision_cost.py`` records: each algorithm's collection and update under mixed precision against float32."""
    records = read_jsonl(results / "precision_cost.jsonl")
    if not records:
        return []
    lines = table_head("Mixed precision against float32 (batched torch env)", [
        "code", "processor", "native bf16", "envs × steps", "obs / actions", "algo", "precision", "collection s/it",
        "update s/it", "update / float32", "collection / float32"])  # fmt: skip
    for record, c, r in record_results(records):
        machine = record["machine"]
        lines.append(
            f"| {c.get('label') or '–'} | {machine['processor']} | {'yes' if machine['native_bf16'] else 'no'} "
            f"| {c['num_envs']} × {c['steps']} | {c['obs']} / {c['actions']} | {r['algo']} | {r['precision']} "
            f"| {r['collect_s_per_iter']:.3f} | {r['update_s_per_iter']:.3f} | {r['update_ratio']:.2f}× "
            f"| {r['collect_ratio']:.2f}× |"
        )
    lines += ["", "`algorithm.use_mixed_precision` False and True in alternation (rsl-rl's own field for PPO), medians over the"
              " rounds, in one process: each ratio is measured on one machine at one time. Without native bfloat16 the CPU"
              " converts bfloat16 matmuls to float32: `use_mixed_precision=None` then keeps float32.", ""]  # fmt: skip
    return lines + commands_list(r["command"] for r in records)


def side_by_side_section(results: Path) -> list[str]:
    """``side_by_side.py`` records: each run's update and collection beside another training, against alone."""
    records = read_jsonl(results / "side_by_side.jsonl")
    if not records:
        return []
    intro = ["Each algorithm's `scripts/train.py` run alone, then beside a second run started with it (the faster run given",
             "more iterations, so that both train for as long); medians over the iterations after the first, and beside",
             "another run over those that ran entirely while it trained. `threads`: the update's torch threads `train.py`",
             "reported (alone → beside)."]  # fmt: skip
    lines = table_head("Two trainings on one machine", [
        "setting", "task", "pair", "algo", "update alone s", "update beside s", "update slowdown", "collection alone s",
        "collection beside s", "collection slowdown", "threads"], intro)  # fmt: skip
    for _, c, r in record_results(records):
        threads = f"{r['alone']['update_threads'] or '–'} → {r['paired']['update_threads'] or '–'}"
        lines.append(
            f"| {c['label'] or '–'} | {c['task']} ({c['num_envs']} envs) | {r['pair']} | {r['algo']} "
            f"| {r['alone']['update_s']:.2f} | {r['paired']['update_s']:.2f} | {r['update_slowdown']:.2f}x "
            f"| {r['alone']['collection_s']:.2f} | {r['paired']['collection_s']:.2f} | {r['collection_slowdown']:.2f}x "
            f"| {threads} |"
        )
    return lines + ["", *commands_list(r["config"]["command"] for r in records)]


def step_kernels_section(results: Path) -> list[str]:
    records = read_jsonl(results / "step_kernels.jsonl")
    if not records:
        return []
    lines = ["## Kernels in one masked minibatch step, eager against torch_compile (counted on the CPU)", "",
             "| code | task's sizes | eager ops | of them in the compiled regions | their compiled kernels "
             "| step with torch_compile | fewer |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for record in records:
        c, n = record["config"], record["counts"]
        compiled = (f"{n['compiled_region_eager_ops']:,} | {n['compiled_region_kernels']:,} | {n['compiled_step_kernels']:,} "
                    f"| {n['eager_ops'] / n['compiled_step_kernels']:.1f}x") if "compiled_step_kernels" in n else "– | – | – | –"  # fmt: skip
        lines.append(f"| {c.get('label') or '–'} | {c['task']} | {n['eager_ops']:,} | {compiled} |")
    lines += ["", "Command: `python benchmarks/cost/step_kernels.py --label L --out benchmarks/results/step_kernels.jsonl`."
              " Eager ops are the compute ops the step dispatches (about one GPU kernel each); the compiled regions"
              " (the critic's and the masked actor's losses, forward and backward, and the η-only KL statistic) are counted by the kernel launches"
              " in Inductor's generated code (C++ kernels on this CPU, a proxy for the GPU's Triton kernels).", ""]  # fmt: skip
    return lines


MAIN_ROW = "main grid"
"""The study's reference row: the main grid's TruDi runs, the registered config of 23db601 (actor and critic lr 3e-4
in every family; classic control has had 1e-3 since, from this study)."""
REGISTERED_ROW = "registered"
"""The study's row of TruDi as registered today: the headline's runs at the study's env count."""
UPDATE_SIZE_KEYS = ("update_size/path_kl", "update_size/action_kl")
"""The update-size diagnostic's logged pair (the path KL's excess over the action KL): path KL, then moment-matched action KL."""
LATE_FRACTION = 0.1
"""Share of a run's last iterations (within the study budget) over which the study's statistics are averaged."""


def checkpoint_at(run: dict, env_steps: float) -> dict:
    """The curve point of the last checkpoint at or before ``env_steps`` (the first one if none is)."""
    points = [p for p in run["curve"] if p["env_steps"] <= env_steps] or run["curve"][:1]
    return points[-1]


def return_at(run: dict, env_steps: float) -> float:
    """The deterministic return of :func:`checkpoint_at`."""
    return checkpoint_at(run, env_steps)["return"]


def late_mean(values: list[float], upto: int) -> float:
    """Mean of the last ``LATE_FRACTION`` of the first ``upto`` values (the end of a run within the budget)."""
    values = values[:upto]
    return statistics.mean(values[-max(1, int(LATE_FRACTION * len(values))) :])


def ablation_row(name: str, whose: str, runs: list[dict], budget: int, ppo: list[dict]) -> str:
    """Return at 25/50/100 % of the budget, checkpoints from half the budget at or above the mean of PPO's runs of the
    same seeds (``ppo`` empty: no such column), final episode length, and (TruDi) α, over-bound fraction, entropy cost."""
    cells = [mean_sd([return_at(r, f * budget) for r in runs]) for f in (0.25, 0.5, 1.0)]
    gaps = gaps_from_half_budget(runs, same_seeds(ppo, runs), budget) if ppo else {}
    cells.append(f"{sum(g >= 0 for g in gaps.values())}/{len(gaps)}" if gaps else "–")
    cells.append(f"{statistics.mean(checkpoint_at(r, budget)['length'] for r in runs):.0f}")
    iters = [budget // (r["num_envs"] * r["num_steps_per_env"]) for r in runs]
    region = [(r.get("trust_region"), n) for r, n in zip(runs, iters)]
    if all(tr for tr, _ in region):
        cells.append(f"{statistics.mean(tr['alpha'][:n][-1] for tr, n in region):.2g}")  # at the budget or the end
        cells.append(f"{statistics.mean(late_mean(tr['over_bound_frac'], n) for tr, n in region):.2f}")
    else:
        cells += ["–", "–"]
    costs = [late_mean(r["diagnostics"]["soft_reward/entropy_cost"], n) for r, n in zip(runs, iters) if r.get("diagnostics")]
    cells.append(f"{statistics.mean(costs):.2g}" if len(costs) == len(runs) else "–")
    if all(k in r.get("diagnostics", {}) for r in runs for k in UPDATE_SIZE_KEYS):  # means over the budget's updates
        path, action = (statistics.mean(statistics.mean(r["diagnostics"][k][:n]) for r, n in zip(runs, iters))
                        for k in UPDATE_SIZE_KEYS)  # fmt: skip
        cells.append(f"{path:.3f} / {action:.3f}")
    else:
        cells.append("–")
    return f"| {name} | {whose} | {len(runs)} | " + " | ".join(cells) + " |"


def update_size_section(grids: dict[str, dict[str, list[dict]]]) -> list[str]:
    """How far each update moved the policy (the path KL's excess over the action KL), for the runs that log it: the path KL the trust region
    bounds beside the moment-matched action KL (``trudi_isaac.algorithms.update_size``), means over the updates and
    over the last ``LATE_FRACTION`` of them, then over the seeds; the ratio is path over action."""
    rows = []
    for grid in sorted(grids):
        for algo in sorted(grids[grid], key=algo_rank):
            runs = [r for r in grids[grid][algo] if all(k in r.get("diagnostics", {}) for k in UPDATE_SIZE_KEYS)]
            if not runs:
                continue
            cells = []
            for upto_end in (statistics.mean, lambda v: late_mean(v, len(v))):
                path, action = (statistics.mean(upto_end(r["diagnostics"][k]) for r in runs) for k in UPDATE_SIZE_KEYS)
                cells += [f"{path:.3f}", f"{action:.3f}", f"{path / action:.1f}" if action > 0 else "–"]
            rows.append(f"| {grid} | {algo} | {len(runs)} | " + " | ".join(cells) + " |")
    if not rows:
        return []
    late = f"last {LATE_FRACTION:.0%}"
    return [
        "## How far an update moves the policy: path KL against action KL",
        "",
        "The trust region bounds the path KL of the denoising chain, an upper bound of the action KL; REPPO's one",
        "Gaussian step bounds the action KL itself. After each update both are measured between the actor before",
        "and after it (by default 16 rollout states × 32 fresh chains; the action KL is that of the moment-matched Gaussians",
        "of the chain's last state). Means per update, then over the seeds.",
        "",
        f"| grid | algo | seeds | path KL | action KL | ratio | path KL ({late}) | action KL ({late}) | ratio ({late}) |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]


def ablation_section(results: Path, grids: dict[str, dict[str, list[dict]]]) -> list[str]:
    """The learning study (``ablation.py``): each variant beside the main grid's TruDi and PPO runs."""
    from learning.ablation import BUDGETS, NUM_ENVS, VARIANTS, grid_command  # noqa: PLC0415

    lines = ["## Learning study: one switch at a time (`benchmarks/learning/ablation.py`)", "",
             "Deterministic return at 25/50/100 % of the budget (mean ± sd over seeds), the checkpoints from half the budget",
             "on at which the variant's mean is at or above PPO's (`k/n`; the Cartpole target is n/n), the final",
             "checkpoint's episode length,",
             f"and, over the last {LATE_FRACTION:.0%} of iterations, α, the fraction of states over the trust region's bound and",
             "the soft reward's entropy cost per step (γ(1−d)α log π̂; `–`: not logged by that run's code), and how far an",
             "update moved the policy (the path KL and the moment-matched action KL between the actor before and after it,",
             "means over the updates; see the section on path and action KL below). `ppo` is every",
             "stock PPO run of the headline at 256 envs, and each row's `k/n` compares it with PPO's runs of the same seeds;",
             "`registered` is the headline's TruDi (the config registered today), `main grid` the main grid's TruDi",
             "(`benchmarks/results/<task>/`, as registered at 23db601: lr 3e-4), all cut at the study budget.",
             "Every variant is the config registered when it ran with its overrides: that of",
             "23db601 for the first Cartpole variants and every Ant one; classic control's lr 1e-3 (2026-12-02) under the",
             "later Cartpole variants of 2026-12-02 (`lr_linear` on; compare them with `lr_1e-3`, which is that config).", ""]  # fmt: skip
    for task, budget in BUDGETS.items():
        runs = {name: [json.loads(p.read_text()) for p in sorted((results / "ablation" / task).glob(f"trudi_s*_{name}.json"))]
                for name in VARIANTS}  # fmt: skip
        runs = {name: rs for name, rs in runs.items() if rs}
        if not runs:
            continue
        main = grids.get(task, {})
        lines += [f"### {task}: {budget.env_steps:,} env steps, 256 envs", "",
                  "| variant | whose | seeds | return @25 % | @50 % | @100 % | ≥ PPO from 50 % | final ep. length | α "
                  "| over-bound | entropy cost | path / action KL per update |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        references = study_references(results, task, NUM_ENVS, main)
        ppo = references["ppo"]
        for name, reference in references.items():
            if reference:
                whose = "stock" if name == "ppo" else "ours"
                lines.append(ablation_row(name, whose, reference, budget.env_steps, [] if name == "ppo" else ppo))
        for name, rs in runs.items():
            lines.append(ablation_row(name, VARIANTS[name].whose, rs, budget.env_steps, ppo))
        lines += ["", "Variants: " + "; ".join(f"`{n}`: {VARIANTS[n].hypothesis} (`{' '.join(VARIANTS[n].overrides)}`)"
                                             for n in runs), ""]  # fmt: skip
        example = " ".join(grid_command(task, next(iter(runs)), budget.seeds[0])[1:]).replace(str(BENCH.parent) + "/", "")
        lines += [f"Command: `python benchmarks/learning/ablation.py --tasks {task} --variants {' '.join(runs)}` (each run is "
                  f"e.g. `python {example}`).", ""]  # fmt: skip
        lines.append(f"![]({results.name}/ablation/{ablation_plot(task, budget.env_steps, runs, references, results)})")
        lines.append("")
    return lines


def study_references(results: Path, task: str, num_envs: int, main: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """The study's reference rows: PPO (the headline's stock runs at the study's env count, else the main grid's), TruDi
    as registered today (the headline's) and the main grid's TruDi."""
    setting = next((s for s in HEADLINE if s.task == task and s.num_envs == num_envs), None)
    headline = {algo: headline_runs(results, patterns) for algo, patterns in setting.runs.items()} if setting else {}
    return {"ppo": headline.get("ppo") or main.get("ppo", []), REGISTERED_ROW: headline.get("trudi", []),
            MAIN_ROW: main.get("trudi", [])}  # fmt: skip


def ablation_plot(task: str, budget: int, runs: dict[str, list[dict]], references: dict[str, list[dict]],
                  results: Path) -> str:  # fmt: skip
    """Mean curves of the study's variants beside its reference rows (PPO, TruDi registered, main grid), within the
    budget."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    styles = {"ppo": "k--", REGISTERED_ROW: "k-", MAIN_ROW: "k:"}
    for name, rs in {**references, **runs}.items():
        if not rs:
            continue
        steps = [p["env_steps"] for p in rs[0]["curve"] if p["env_steps"] <= budget]
        mean = [mean_return_at(rs, s) for s in steps]
        ax.plot(steps, mean, styles.get(name, "-"), label=f"{name} ({len(rs)})", linewidth=2 if name in styles else 1)
    ax.set(xlabel="env steps", ylabel="deterministic return (mean over seeds)", title=f"{task}: learning study")
    ax.legend(fontsize=7, ncol=2)
    name = f"{task}_ablation.png"
    fig.tight_layout()
    fig.savefig(results / "ablation" / name, dpi=100)
    plt.close(fig)
    return name


def minutes_to_reach(run: dict, target: float) -> float | None:
    """Training minutes (collection + update) until the run's first checkpoint at or above ``target`` (None: never)."""
    first = next((p for p in run["curve"] if p["return"] >= target), None)
    return None if first is None else train_seconds_at(run, first["iteration"]) / 60


def time_to_target(runs: list[dict], target: float) -> str:
    """A table cell: mean training minutes to reach ``target`` over the runs that reach it (with their count where
    some do not), or "not reached"."""
    reached = [m for m in (minutes_to_reach(r, target) for r in runs) if m is not None]
    if not reached:
        return "not reached"
    return f"{statistics.mean(reached):.1f}" + ("" if len(reached) == len(runs) else f" ({len(reached)}/{len(runs)} seeds)")


def compare(values: list[float], others: list[float]) -> str:
    """"ahead", "on par" or "behind": the mean of ``values`` against that of ``others``, on par within the seeds'
    spread (the larger of the two standard deviations); "–" with fewer than 2 seeds on either side."""
    if len(values) < 2 or len(others) < 2:
        return "–"
    spread = max(statistics.stdev(values), statistics.stdev(others))
    difference = statistics.mean(values) - statistics.mean(others)
    return "ahead" if difference > spread else "behind" if difference < -spread else "on par"


VERDICT_AGAINST = {"trudi": ("ppo", "reppo"), "reppo": ("ppo",)}
"""Whom each algorithm's headline row is judged against."""


def verdict(algo: str, ran: dict[str, list[dict]]) -> str:
    """A headline cell: against each algorithm of ``VERDICT_AGAINST`` that ran, final return / mean over the curve,
    e.g. "PPO: ahead / on par; REPPO: behind / behind"."""
    parts = []
    for other in VERDICT_AGAINST.get(algo, ()):
        if ran.get(other):
            finals = compare([r["curve"][-1]["return"] for r in ran[algo]], [r["curve"][-1]["return"] for r in ran[other]])
            curves = compare([area_under_curve(r) for r in ran[algo]], [area_under_curve(r) for r in ran[other]])
            parts.append(f"{other.upper()}: {finals} / {curves}")
    return "; ".join(parts) or "–"


def headline_runs(results: Path, patterns: tuple[str, ...]) -> list[dict]:
    """The runs a headline entry names: its globs under ``results``, in order."""
    return [json.loads(p.read_text()) for pattern in patterns for p in sorted(results.glob(pattern))]


def headline_section(results: Path, settings: tuple[HeadlineSetting, ...] = HEADLINE) -> list[str]:
    """Each algorithm as registered now, side by side per task and env count (``headline.py`` names the runs): a table
    and one plot, against env steps and against training seconds."""
    lines = ["## Headline: each algorithm as registered now, side by side", "",
             "PPO with the task's stock config; TruDi and REPPO with the configs registered today (`benchmarks/learning/headline.py`",
             "names the runs; their commands are under their grids' tables in RESULTS_GRIDS.md). Deterministic return, mean",
             "± sd over seeds; `mean over the curve`: the area under the return-vs-env-steps curve per env step;",
             "`≥ PPO from 50 %`: the checkpoints from half the budget at which the mean is at or above PPO's (interpolated);",
             "`train min`: minutes of training per run (collection + update) on the machine and load it ran under;",
             "`min to PPO's final`: training minutes until a run's first checkpoint at or above PPO's mean final return",
             "(mean over the seeds that reach it); `verdict`: final return / mean over the curve against each baseline,",
             "ahead or behind where the means differ by more than the seeds' spread (the larger sd), on par within it.", "",
             "| task | envs | algo | seeds | env steps | final det. return | mean over the curve | ≥ PPO from 50 % "
             "| final episode length | ended by time-out | train min | min to PPO's final | verdict | runs |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    panels: list[tuple[HeadlineSetting, dict[str, list[dict]]]] = []
    for setting in settings:
        by_algo = {algo: headline_runs(results, patterns) for algo, patterns in setting.runs.items()}
        ran = {algo: rs for algo, rs in by_algo.items() if rs}
        ppo = ran.get("ppo", [])
        budget = min((r["curve"][-1]["env_steps"] for rs in ran.values() for r in rs), default=0)
        for algo in sorted(setting.runs, key=algo_rank):
            head, names = f"| {setting.task} | {setting.num_envs} | {algo} |", ", ".join(f"`{p}`" for p in setting.runs[algo])
            rs = ran.get(algo)
            if not rs:
                lines.append(f"{head} 0 | – | not run yet | – | – | – | – | – | – | – | {names} |")
                continue
            gaps = gaps_from_half_budget(rs, ppo, budget) if ppo and algo != "ppo" else {}
            minutes = statistics.mean(train_seconds_at(r, r["curve"][-1]["iteration"]) for r in rs) / 60
            to_ppo = time_to_target(rs, statistics.mean(r["curve"][-1]["return"] for r in ppo)) if ppo else "–"
            lines.append(
                f"{head} {len(rs)} | {rs[0]['curve'][-1]['env_steps']:,} | {mean_sd([r['curve'][-1]['return'] for r in rs])} "
                f"| {mean_sd([area_under_curve(r) for r in rs])} "
                f"| {f'{sum(g >= 0 for g in gaps.values())}/{len(gaps)}' if gaps else '–'} | {episode_cells(rs)} | {minutes:.1f} "
                f"| {to_ppo} | {verdict(algo, ran)} | {names} |"
            )
        if ran:
            panels.append((setting, ran))
    if not panels:
        return lines + [""]
    fig, axes = plt.subplots(len(panels), 2, figsize=(11, 3.2 * len(panels)), squeeze=False)
    for (setting, ran), (by_steps, by_wall) in zip(panels, axes):
        draw_curves(by_steps, by_wall, ran)
        by_steps.set(ylabel="deterministic return", title=f"{setting.task}, {setting.num_envs} envs")
        by_wall.set(title=f"{setting.task}, {setting.num_envs} envs: against training time")
        by_steps.legend(fontsize=7)
    axes[-1][0].set(xlabel="env steps")
    axes[-1][1].set(xlabel="training wall-clock s (mean over seeds)")
    fig.tight_layout()
    fig.savefig(results / HEADLINE_PNG, dpi=90)
    plt.close(fig)
    return lines + ["", f"![]({results.name}/{HEADLINE_PNG})", ""]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS, help="Folder of <task>/<run>.json (plots go there).")
    parser.add_argument("--out", type=Path, default=BENCH / "RESULTS.md",
                        help="The headline page; the grids go to RESULTS_GRIDS.md beside it.")  # fmt: skip
    args = parser.parse_args()
    runs = load_runs(args.results)
    grids: dict[str, dict[str, list[dict]]] = defaultdict(dict)
    for (grid, algo), rs in runs.items():
        grids[grid][algo] = rs
    grids_out = args.out.with_name(GRIDS_PAGE)
    source = f"Generated by `python benchmarks/learning/summarize.py` from `benchmarks/{args.results.name}/*/*.json`"
    headline = ["# Benchmark results", "", f"{source}. Returns are deterministic-policy returns on fresh envs.", ""]
    headline += headline_section(args.results)
    headline += ["## Everything else", "",
                 f"- [{GRIDS_PAGE}]({GRIDS_PAGE}): every grid (learning curves, episode lengths, cost per iteration, "
                 "command), the targets computed from them, the final policies, the learning study, the update size, "
                 "multimodality, and the cost tables (batched torch env, mixed precision, two trainings on one machine, kernels, "
                 "compile).",
                 "- [NOTES.md](NOTES.md): the lab notebook, the experiments behind these numbers by question.", ""]  # fmt: skip
    lines = ["# Benchmark results: every grid and measurement", "",
             f"{source}; each grid's command is under its table. The headline is in [RESULTS.md](RESULTS.md).",
             "Returns are deterministic-policy returns on fresh envs; `final train reward` is rsl-rl's mean episode reward",
             "of the sampling policy over the last 10 iterations.", ""]  # fmt: skip
    for grid in sorted(grids):
        curve_png, cost_png = plot(grid, grids[grid], args.results)
        lines += table(grid, grids[grid]) + [f"![]({args.results.name}/{curve_png}) ![]({args.results.name}/{cost_png})", ""]
    lines += targets_section(grids) + final_policies_section(args.results, grids)
    lines += ablation_section(args.results, grids) + update_size_section(grids)
    lines += multimodal_section(args.results) + update_cost_section(args.results) + precision_cost_section(args.results)
    lines += side_by_side_section(args.results)
    lines += step_kernels_section(args.results) + compile_section(args.results)
    args.out.write_text("\n".join(headline))
    grids_out.write_text("\n".join(lines))
    print(f"wrote {args.out} and {grids_out} ({len(grids)} grids)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
