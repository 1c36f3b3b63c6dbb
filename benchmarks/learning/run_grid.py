#!/usr/bin/env python
"""Benchmark grid: task × algorithm × seed at an equal env-step budget, on one device.

    python benchmarks/learning/run_grid.py --tasks Isaac-Cartpole --algos ppo trudi reppo --seeds 0 1 2 \\
        --env_steps 600000 --num_envs 256 --eval_every 10

Each run trains through ``scripts/train.py`` (the user's path: Isaac Lab's trainer, rsl-rl's
``OnPolicyRunner``; PPO with the task's stock config), then evaluates its checkpoints on fresh
envs (``evaluate_checkpoints.py``). One JSON per run lands in ``benchmarks/results/<task>/``:
the learning curve (deterministic return vs env steps; ``--eval_policy average`` evaluates the
weight average a run with ``policy_ema`` keeps), wall-clock per iteration split into
collection and update, env-steps per second, the rollout buffer's memory, and the command.
Finished runs are skipped, and a run cut off in training resumes from its last checkpoint (``--eval_every``
iterations apart) in a later sitting, so a grid longer than one sitting goes on where it stopped (a run stopped
before its last iteration is never evaluated: the grid exits there); ``summarize.py`` turns the JSONs into
``RESULTS.md`` and plots.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]
REPO = BENCH.parent
SCRATCH = BENCH / ".runs"
ITERATION_LINE = re.compile(r"Learning iteration (\d+)/(\d+)")
ITERATION_TAG = "Perf/collection_time"
"""A TensorBoard scalar rsl-rl logs at every iteration."""


def run_logged(cmd: list[str], log_path: Path, label: str, on_iteration: Callable[[int], None] | None = None) -> None:
    """Run ``cmd`` (cwd = scratch), its output to ``log_path``; print one progress line per training iteration (and
    call ``on_iteration`` there with the iteration's number)."""
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    with log_path.open("a") as log:
        proc = subprocess.Popen(cmd, cwd=SCRATCH, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            log.write(line)
            if match := ITERATION_LINE.search(line):
                print(f"\r{label}: iteration {int(match[1]) + 1}/{match[2]}", end="", flush=True)
                if on_iteration is not None:
                    on_iteration(int(match[1]))
            elif line.startswith("[eval]"):
                print(f"\r{label}: {line.strip()}", end="", flush=True)
        if proc.wait() != 0:
            print()
            raise RuntimeError(f"{label} failed (exit {proc.returncode}); see {log_path}")
    print()


def run_dirs(experiment: str) -> list[Path]:
    """The run folders of a benchmark run, one per sitting, in launch order (Isaac Lab names them by start time)."""
    root = SCRATCH / "logs" / "rsl_rl" / experiment
    return sorted(path for path in root.iterdir() if path.is_dir()) if root.is_dir() else []


def logged_scalars(dirs: list[Path]) -> dict[str, dict[int, float]]:
    """Each TensorBoard scalar over the sittings' run folders, by iteration. A resumed sitting starts after its
    checkpoint's iteration; the iterations a cut-off sitting ran past it are run again, and their values replace the
    earlier sitting's."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: PLC0415

    merged: dict[str, dict[int, float]] = {}
    for run_dir in dirs:
        acc = EventAccumulator(str(run_dir))
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            merged.setdefault(tag, {}).update({e.step: e.value for e in acc.Scalars(tag)})
    return merged


def logged_through(scalars: dict[str, dict[int, float]]) -> int:
    """The last iteration n with every iteration 0 … n in the logs (−1: none). A sitting killed outright loses what
    its TensorBoard writer had not flushed yet (rsl-rl's flushes every 10 s): its last iterations."""
    steps = scalars.get(ITERATION_TAG, {})
    return next(n for n in range(len(steps) + 1) if n not in steps) - 1


def last_checkpoint(dirs: list[Path], through: int) -> tuple[int, Path] | None:
    """The latest ``model_<it>.pt`` over the sittings' run folders with ``it <= through`` (None: there is none)."""
    found = [(int(m[1]), p) for d in dirs for p in d.glob("model_*.pt") if (m := re.fullmatch(r"model_(\d+)\.pt", p.name))]
    return max((c for c in found if c[0] <= through), default=None)


def steps_per_env(run_dir: Path) -> int:
    text = (run_dir / "params" / "agent.yaml").read_text()
    return int(re.search(r"^num_steps_per_env: (\d+)", text, re.M)[1])


def evaluate_run(task: str, algo: str, dirs: list[Path], args: argparse.Namespace, label: str) -> dict:
    """The learning curve of a finished run: its checkpoints (over its sittings' folders) evaluated on fresh envs
    (another process)."""
    curve_path = SCRATCH / f"{dirs[0].parent.name}.curve.json"
    eval_cmd = [
        sys.executable, str(BENCH / "learning" / "evaluate_checkpoints.py"), "--task", task, "--agent", algo,
        "--run_dir", *map(str, dirs), "--every", str(args.eval_every), "--out", str(curve_path), "--num_envs", str(args.eval_envs),
        "--episodes", str(args.eval_episodes), "--device", args.device, "--policy", args.eval_policy,
        *(o for o in args.overrides if o.startswith("agent.")),  # the actor's fields shape the policy evaluated
    ]  # fmt: skip
    run_logged(eval_cmd, SCRATCH / f"{dirs[0].parent.name}.eval.log", label + " eval")
    evaluation = json.loads(curve_path.read_text())
    curve_path.unlink()
    return evaluation


def reevaluate(out: Path, args: argparse.Namespace) -> None:
    """Recompute the learning curve of a finished run whose checkpoints are still in the scratch folder."""
    result = json.loads(out.read_text())
    experiment = f"bench_{result['task']}_{result['algo']}_s{result['seed']}{args.tag}".replace("-", "_")
    label = f"{result['task']} {result['algo']} seed {result['seed']}"
    evaluation = evaluate_run(result["task"], result["algo"], run_dirs(experiment), args, label)
    transitions = result["num_envs"] * result["num_steps_per_env"]
    result["curve"] = [{**p, "env_steps": (p["iteration"] + 1) * transitions} for p in evaluation["curve"]]
    result["eval_policy"] = args.eval_policy
    out.write_text(json.dumps(result))


def planned_iterations(args: argparse.Namespace) -> int:
    """The iterations of every run of the grid: ``--iterations`` (with or without ``--steps_per_env``), or the env-step
    budget over one iteration's steps."""
    return args.iterations if args.env_steps is None else args.env_steps // (args.num_envs * args.steps_per_env)


def train_in_sittings(task: str, algo: str, seed: int, args: argparse.Namespace, experiment: str) -> list[float]:
    """Train the run to its last iteration, resuming after the last checkpoint of an earlier sitting of the same run
    (same command) that was cut off (train.py's resume: at the iteration after the saved one; a checkpoint past the
    logged iterations is passed over); anything else in its folder is cleared first. Returns each sitting's wall-clock
    seconds, kept in ``<experiment>.sittings.json`` as it goes (to the last checkpoint of a sitting cut off, whose
    later iterations the next sitting runs again)."""
    label = f"{task} {algo} seed {seed}"
    iterations = planned_iterations(args)
    train_cmd = [
        sys.executable, str(REPO / "scripts" / "train.py"), "--task", task, "--agent", algo,
        "--num_envs", str(args.num_envs), "--seed", str(seed), "--device", args.device,
        "--update_threads", str(args.update_threads),
        f"agent.save_interval={args.eval_every}", f"agent.experiment_name={experiment}",
        *(f"agent.num_steps_per_env={args.steps_per_env}",) * bool(args.steps_per_env), *args.overrides,
    ]  # fmt: skip
    signature = {"command": train_cmd, "iterations": iterations}
    sittings_path = SCRATCH / f"{experiment}.sittings.json"
    record = json.loads(sittings_path.read_text()) if sittings_path.exists() else {}
    dirs = run_dirs(experiment)
    resume_from = last_checkpoint(dirs, logged_through(logged_scalars(dirs))) if record.get("signature") == signature else None
    if resume_from is None:  # nothing of this run to resume: start afresh
        shutil.rmtree(SCRATCH / "logs" / "rsl_rl" / experiment, ignore_errors=True)
        for log in ("train", "eval"):
            (SCRATCH / f"{experiment}.{log}.log").unlink(missing_ok=True)
        record = {"signature": signature, "walls": []}
    walls = record["walls"]
    if resume_from is not None and resume_from[0] >= iterations - 1:  # trained to the end before the evaluation
        return walls
    start_iteration = 0 if resume_from is None else resume_from[0] + 1
    if resume_from is not None:
        print(f"{label}: resuming from {resume_from[1].name} (sitting {len(walls) + 1})")
        train_cmd += ["--checkpoint", str(resume_from[1])]
    start = time.time()
    walls.append(0.0)

    def record_wall(iteration: int) -> None:
        if iteration % args.eval_every == 0 or iteration == iterations - 1:  # a checkpoint: the work a resume keeps
            walls[-1] = time.time() - start
            sittings_path.write_text(json.dumps(record))

    sittings_path.write_text(json.dumps(record))
    run_logged([*train_cmd, "--max_iterations", str(iterations - start_iteration)],
               SCRATCH / f"{experiment}.train.log", label, on_iteration=record_wall)  # fmt: skip
    return walls


def one_run(task: str, algo: str, seed: int, args: argparse.Namespace, out: Path) -> None:
    label = f"{task} {algo} seed {seed}"
    experiment = f"bench_{task}_{algo}_s{seed}{args.tag}".replace("-", "_")
    sittings = train_in_sittings(task, algo, seed, args, experiment)
    train_wall = sum(sittings)
    dirs = run_dirs(experiment)
    logged = logged_scalars(dirs)
    if logged_through(logged) < max(logged.get(ITERATION_TAG, {0: 0})):
        raise RuntimeError(f"{label}: iterations {logged_through(logged) + 1}… are missing from its logs; delete "
                           f"{SCRATCH / 'logs' / 'rsl_rl' / experiment} to train it afresh")  # fmt: skip
    if (done := logged_through(logged) + 1) < (iterations := planned_iterations(args)):
        # train.py stopped by Ctrl-C saves a checkpoint and exits 0: the run is cut off, not finished
        raise SystemExit(f"{label}: training stopped after {done} of {iterations} iterations; the same command resumes "
                         "it from its last checkpoint")  # fmt: skip
    scalars = {tag: [value for _, value in sorted(steps.items())] for tag, steps in logged.items()}
    n_steps = steps_per_env(dirs[0])
    evaluation = evaluate_run(task, algo, dirs, args, label)
    transitions = args.num_envs * n_steps
    result = {
        "task": task, "algo": algo, "seed": seed, "device": args.device, "num_envs": args.num_envs,
        "num_steps_per_env": n_steps, "iterations": len(scalars["Perf/collection_time"]),
        "curve": [{**p, "env_steps": (p["iteration"] + 1) * transitions} for p in evaluation["curve"]],
        "eval_policy": args.eval_policy,
        "collection_time_per_iter": scalars["Perf/collection_time"],
        "update_time_per_iter": scalars["Perf/learning_time"],
        "env_steps_per_s": scalars["Perf/total_fps"],
        "train_mean_reward": scalars.get("Train/mean_reward", []),
        "buffer_bytes": evaluation["buffer_bytes_eval_envs"] * args.num_envs // args.eval_envs,
        "train_wall_s": train_wall,
        "sittings": len(sittings),
        "command": shlex.join(["python", "benchmarks/learning/run_grid.py", *sys.argv[1:]]),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "trust_region": {k.split("/")[-1]: v for k, v in scalars.items() if k.startswith("TruDi/trust_region/")},
        "diagnostics": {k.removeprefix("TruDi/"): v for k, v in scalars.items()
                        if k.startswith(("TruDi/soft_reward/", "TruDi/critic_target/", "TruDi/update_size/"))},
        "train_episode_length": scalars.get("Train/mean_episode_length", []),
    }  # fmt: skip
    out.write_text(json.dumps(result))
    print(f"{label}: done in {train_wall:.0f} s, final return {result['curve'][-1]['return']:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", required=True)
    parser.add_argument("--algos", nargs="+", default=["ppo", "trudi", "reppo"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--env_steps", type=int, default=None, help="Env-step budget per run (needs --steps_per_env).")
    parser.add_argument("--iterations", type=int, default=None, help="Iterations per run (instead of a budget).")
    parser.add_argument("--steps_per_env", type=int, default=None, help="Override num_steps_per_env for all algos.")
    parser.add_argument("--num_envs", type=int, default=256)
    parser.add_argument("--eval_every", type=int, default=10, help="Checkpoint (and evaluate) every K iterations.")
    parser.add_argument("--eval_envs", type=int, default=32)
    parser.add_argument("--eval_episodes", type=int, default=32)
    parser.add_argument("--eval_policy", choices=("deterministic", "average"), default="deterministic",
                        help="The policy the curve evaluates: the actor's last weights, or (runs with "
                             "agent.algorithm.policy_ema > 0) their weight average, which play.py and export then use")  # fmt: skip
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    parser.add_argument("--tag", default="", help="Suffix of the result files (separates grids of one task).")
    parser.add_argument("--reevaluate", action="store_true", help="Re-run the evaluation of finished runs.")
    parser.add_argument("--update_threads", type=int, default=1,
                        help="Torch threads in the update (train.py's default follows the free cores; grids run "
                             "two runs at a time, one core each, so 1 here)")  # fmt: skip
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every run, e.g. agent.algorithm.gamma=0.98")
    args = parser.parse_args()
    if (args.env_steps is None) == (args.iterations is None) or (args.env_steps and not args.steps_per_env):
        parser.error("give either --iterations, or --env_steps with --steps_per_env")
    SCRATCH.mkdir(exist_ok=True)
    grid = [(t, a, s) for t in args.tasks for s in args.seeds for a in args.algos]
    for k, (task, algo, seed) in enumerate(grid, 1):
        out = args.out / task / f"{algo}_s{seed}{args.tag}.json"
        if out.exists() and args.reevaluate:
            print(f"[{k}/{len(grid)}] {task} {algo} seed {seed}: re-evaluating")
            reevaluate(out, args)
            continue
        if out.exists():
            print(f"[{k}/{len(grid)}] {task} {algo} seed {seed}: finished before, skipped")
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        print(f"[{k}/{len(grid)}] {task} {algo} seed {seed}")
        one_run(task, algo, seed, args, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
