#!/usr/bin/env python
"""The final checkpoint of finished benchmark runs, evaluated with every kind of policy it has.

    python benchmarks/learning/final_policies.py --tasks Isaac-Ant --algos ppo trudi reppo --seeds 0 1

The learning curves of ``run_grid.py`` use the deterministic policy that play.py runs and exports
(for TruDi: the ODE from x_0 = 0). TRUDI.md warns that this start can land between the modes of
a multimodal policy, so this script also evaluates the last checkpoint with the ODE started from
a prior sample (the authors' evaluation; TruDi only) and with sampled actions (all algorithms).
Same envs and episodes as the grid. One JSON line per (run, policy) is appended to
``benchmarks/results/final_policies.jsonl`` (``--results``); entries already there are skipped.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: harness.py and the job folders
from learning.run_grid import BENCH, SCRATCH, run_dirs, run_logged  # noqa: E402

EXTRA_POLICIES = {"trudi": ("ode_from_prior", "stochastic"), "reppo": ("stochastic",), "ppo": ("stochastic",)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", required=True)
    parser.add_argument("--algos", nargs="+", default=list(EXTRA_POLICIES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--tag", default="", help="The grid's file tag (as given to run_grid.py).")
    parser.add_argument("--eval_envs", type=int, default=32)
    parser.add_argument("--eval_episodes", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--results", type=Path, default=BENCH / "results", help="run_grid.py's --out.")
    args = parser.parse_args()
    out = args.results / "final_policies.jsonl"
    done = {(r["task"], r["algo"], r["seed"], r["policy"]) for r in map(json.loads, out.read_text().splitlines())} \
        if out.exists() else set()  # fmt: skip
    for task in args.tasks:
        for algo in args.algos:
            for seed in args.seeds:
                run_json = args.results / task / f"{algo}_s{seed}{args.tag}.json"
                if not run_json.exists():
                    print(f"{task} {algo} seed {seed}: no finished run, skipped")
                    continue
                run = json.loads(run_json.read_text())
                experiment = f"bench_{task}_{algo}_s{seed}{args.tag}".replace("-", "_")
                dirs = run_dirs(experiment)
                for policy in EXTRA_POLICIES[algo]:
                    if (task, algo, seed, policy) in done:
                        continue
                    curve_path = SCRATCH / f"{experiment}.{policy}.json"
                    cmd = [
                        sys.executable, str(BENCH / "learning" / "evaluate_checkpoints.py"), "--task", task, "--agent", algo,
                        "--run_dir", *map(str, dirs), "--out", str(curve_path), "--num_envs", str(args.eval_envs),
                        "--episodes", str(args.eval_episodes), "--device", args.device, "--policy", policy, "--last_only",
                    ]  # fmt: skip
                    run_logged(cmd, SCRATCH / f"{experiment}.{policy}.log", f"{task} {algo} seed {seed} {policy}")
                    (point,) = json.loads(curve_path.read_text())["curve"]
                    curve_path.unlink()
                    record = {"task": task, "algo": algo, "seed": seed, "policy": policy, "iteration": point["iteration"],
                              "env_steps": run["curve"][-1]["env_steps"], "return": point["return"],
                              "length": point["length"], "tag": args.tag,
                              "command": shlex.join(["python", "benchmarks/learning/final_policies.py", *sys.argv[1:]])}  # fmt: skip
                    with out.open("a") as f:
                        f.write(json.dumps(record) + "\n")
                    print(f"{task} {algo} seed {seed} {policy}: return {point['return']:.2f} length {point['length']:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
