#!/usr/bin/env python
"""Two trainings on one machine: each algorithm's collection and update per iteration alone and beside another run.

    python benchmarks/cost/side_by_side.py --task Isaac-Ant-Direct --num_envs 256 --iterations 6 \\
        --pairs ppo+trudi ppo+reppo trudi+trudi --label adaptive --out benchmarks/results/side_by_side.jsonl

Each run is ``scripts/train.py`` as a user starts it (its thread defaults, unless ``--update_threads`` is given):
first every algorithm of the pairs alone, then each pair started together. Per run it reads rsl-rl's
``Perf/collection_time`` and ``Perf/learning_time`` and takes their median over the iterations after the first
(which compiles and allocates), and the update thread counts ``train.py`` reported. The slowdown of a run beside
another is its update (and collection) time over the same algorithm's alone. Prints a JSON line; ``--out`` appends it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]
REPO = BENCH.parent
THREADS_LINE = re.compile(r"\[trudi\] update threads: (\d+)")
WARMUP_ITERATIONS = 1
"""Iterations left out of the medians (the first one compiles warp kernels and allocates)."""


def train_command(algo: str, seed: int, args: argparse.Namespace) -> list[str]:
    return [
        sys.executable, str(REPO / "scripts" / "train.py"), "--task", args.task, "--agent", algo,
        "--num_envs", str(args.num_envs), "--max_iterations", str(args.iterations), "--seed", str(seed),
        "--device", "cpu", f"agent.experiment_name=side_by_side_{algo}_s{seed}", "agent.save_interval=100000",
        *(("--update_threads", str(args.update_threads)) if args.update_threads else ()),
    ]  # fmt: skip


def start(algo: str, seed: int, args: argparse.Namespace, scratch: Path) -> tuple[subprocess.Popen, Path]:
    log = scratch / f"{algo}_s{seed}_{time.monotonic_ns()}.log"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with log.open("w") as out:
        proc = subprocess.Popen(train_command(algo, seed, args), cwd=scratch, env=env, stdout=out, stderr=subprocess.STDOUT)
    return proc, log


def timings(proc: subprocess.Popen, log: Path, algo: str, seed: int, scratch: Path) -> dict:
    """Wait for a run; its median collection and update seconds per iteration and the thread counts it reported."""
    if proc.wait() != 0:
        raise RuntimeError(f"{algo} seed {seed} failed (exit {proc.returncode}); see {log}")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: PLC0415

    run_dir = max((scratch / "logs" / "rsl_rl" / f"side_by_side_{algo}_s{seed}").iterdir(), key=lambda p: p.stat().st_mtime)
    acc = EventAccumulator(str(run_dir))
    acc.Reload()
    series = {key: [e.value for e in acc.Scalars(tag)][WARMUP_ITERATIONS:]
              for key, tag in (("collection_s", "Perf/collection_time"), ("update_s", "Perf/learning_time"))}  # fmt: skip
    threads = [int(m[1]) for m in THREADS_LINE.finditer(log.read_text())]
    return {key: statistics.median(values) for key, values in series.items()} | {"update_threads": threads}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="Isaac-Ant-Direct")
    parser.add_argument("--num_envs", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=6)
    parser.add_argument("--pairs", nargs="+", default=["ppo+trudi", "ppo+reppo", "trudi+trudi"],
                        help="Pairs of agents to run side by side, e.g. ppo+trudi.")  # fmt: skip
    parser.add_argument("--update_threads", type=int, default=None,
                        help="Passed to train.py (a fixed count); default: train.py's own choice.")  # fmt: skip
    parser.add_argument("--label", default="", help="Names the record (e.g. the code or setting measured).")
    parser.add_argument("--out", type=Path, default=None, help="Append the JSON record to this file.")
    args = parser.parse_args()
    pairs = [tuple(p.split("+")) for p in args.pairs]
    if any(len(p) != 2 for p in pairs):
        parser.error("each pair is two agents joined by '+', e.g. ppo+trudi")

    results = []
    with tempfile.TemporaryDirectory(prefix="side_by_side_") as tmp:
        scratch = Path(tmp)
        alone = {}
        for algo in dict.fromkeys(a for pair in pairs for a in pair):
            print(f"[side_by_side] {algo} alone", flush=True)
            alone[algo] = timings(*start(algo, 0, args, scratch), algo, 0, scratch)
        for first, second in pairs:
            print(f"[side_by_side] {first} beside {second}", flush=True)
            runs = [(first, 0, start(first, 0, args, scratch)), (second, 1, start(second, 1, args, scratch))]
            for (algo, seed, started), (other, _, _) in zip(runs, runs[::-1]):
                beside = timings(*started, algo, seed, scratch)
                results.append({
                    "pair": f"{first}+{second}", "algo": algo, "beside": other, "alone": alone[algo], "paired": beside,
                    "update_slowdown": beside["update_s"] / alone[algo]["update_s"],
                    "collection_slowdown": beside["collection_s"] / alone[algo]["collection_s"],
                })  # fmt: skip
                print(f"[side_by_side] {algo} beside {other}: update {beside['update_s']:.2f} s"
                      f" ({results[-1]['update_slowdown']:.2f}x alone), collection {beside['collection_s']:.2f} s"
                      f" ({results[-1]['collection_slowdown']:.2f}x)", flush=True)  # fmt: skip
    record = {
        "config": {"label": args.label, "task": args.task, "num_envs": args.num_envs, "iterations": args.iterations,
                   "update_threads": args.update_threads, "cpus": len(os.sched_getaffinity(0)),
                   "platform": platform.platform(),
                   "command": shlex.join(["python", "benchmarks/cost/side_by_side.py", *sys.argv[1:]])},
        "results": results,
    }  # fmt: skip
    line = json.dumps(record)
    print(line)
    if args.out:
        with args.out.open("a") as f:
            f.write(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
