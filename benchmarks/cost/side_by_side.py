#!/usr/bin/env python
"""Two trainings on one machine: each algorithm's collection and update per iteration alone and beside another run.

    python benchmarks/cost/side_by_side.py --task Isaac-Ant-Direct --num_envs 256 --iterations 5 \\
        --pairs ppo+trudi ppo+reppo trudi+trudi --label default --out benchmarks/results/side_by_side.jsonl

Each run is ``scripts/train.py`` as a user starts it (its thread defaults, unless ``--update_threads`` is given):
first every algorithm of the pairs alone for ``--iterations`` iterations, then each pair started together, the faster
run given more iterations so that both run for about as long as the slower one's ``--iterations``. Per run it reads
rsl-rl's ``Perf/collection_time`` and ``Perf/learning_time`` and takes their median over the iterations after the
first (which compiles and allocates) and, beside another run, over those that ran entirely while the other one
trained; and it keeps the update thread counts ``train.py`` reported. The slowdown of a run beside another is its
update (and collection) time over the same algorithm's alone. Prints a JSON line; ``--out`` appends it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]
REPO = BENCH.parent
THREADS_LINE = re.compile(r"\[trudi\] update threads: (\d+)")
WARMUP_ITERATIONS = 1
"""Iterations left out of the medians (the first one compiles warp kernels and allocates)."""


@dataclass
class Run:
    """One finished training: per iteration its end (wall-clock s), collection and update seconds; its thread counts."""

    ends: list[float]
    collection_s: list[float]
    update_s: list[float]
    update_threads: list[int]

    def window(self) -> tuple[float, float]:
        """From the start of its first iteration to the end of its last (wall-clock s)."""
        return self.ends[0] - self.collection_s[0] - self.update_s[0], self.ends[-1]

    def iteration_s(self) -> float:
        return statistics.median(c + u for c, u in zip(self.collection_s[WARMUP_ITERATIONS:], self.update_s[WARMUP_ITERATIONS:]))

    def medians(self, within: tuple[float, float] | None = None) -> dict:
        """Median collection and update seconds over the iterations after the warm-up (``within``: only those that
        ran entirely inside that wall-clock window), with how many there were and the thread counts."""
        rows = list(zip(self.ends, self.collection_s, self.update_s))[WARMUP_ITERATIONS:]
        if within is not None:
            rows = [(e, c, u) for e, c, u in rows if within[0] <= e - c - u and e <= within[1]]
        if not rows:
            raise RuntimeError("no iteration ran while the other run trained: raise --iterations")
        return {"collection_s": statistics.median(c for _, c, _ in rows), "update_s": statistics.median(u for _, _, u in rows),
                "iterations": len(rows), "update_threads": self.update_threads}  # fmt: skip


def train_command(algo: str, seed: int, iterations: int, args: argparse.Namespace) -> list[str]:
    return [
        sys.executable, str(REPO / "scripts" / "train.py"), "--task", args.task, "--agent", algo,
        "--num_envs", str(args.num_envs), "--max_iterations", str(iterations), "--seed", str(seed),
        "--device", "cpu", f"agent.experiment_name=side_by_side_{algo}_s{seed}", "agent.save_interval=100000",
        *(("--update_threads", str(args.update_threads)) if args.update_threads else ()),
    ]  # fmt: skip


def start(algo: str, seed: int, iterations: int, args: argparse.Namespace, scratch: Path) -> tuple:
    log = scratch / f"{algo}_s{seed}_{time.monotonic_ns()}.log"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with log.open("w") as out:
        cmd = train_command(algo, seed, iterations, args)
        return subprocess.Popen(cmd, cwd=scratch, env=env, stdout=out, stderr=subprocess.STDOUT), log, algo, seed


def finish(proc: subprocess.Popen, log: Path, algo: str, seed: int, scratch: Path) -> Run:
    """Wait for a run and read its per-iteration times (with their wall-clock ends) and reported thread counts."""
    if proc.wait() != 0:
        raise RuntimeError(f"{algo} seed {seed} failed (exit {proc.returncode}); see {log}")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: PLC0415

    run_dir = max((scratch / "logs" / "rsl_rl" / f"side_by_side_{algo}_s{seed}").iterdir(), key=lambda p: p.stat().st_mtime)
    acc = EventAccumulator(str(run_dir))
    acc.Reload()
    collection, update = acc.Scalars("Perf/collection_time"), acc.Scalars("Perf/learning_time")
    threads = [int(m[1]) for m in THREADS_LINE.finditer(log.read_text())]
    return Run([e.wall_time for e in update], [e.value for e in collection], [e.value for e in update], threads)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="Isaac-Ant-Direct")
    parser.add_argument("--num_envs", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=5, help="Iterations of each run alone, and of the slower "
                        "run of a pair (the faster one runs for as long).")  # fmt: skip
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
    if args.iterations <= WARMUP_ITERATIONS:
        parser.error(f"--iterations must be more than the {WARMUP_ITERATIONS} warm-up iteration(s)")

    results = []
    with tempfile.TemporaryDirectory(prefix="side_by_side_") as tmp:
        scratch = Path(tmp)
        alone: dict[str, Run] = {}
        for algo in dict.fromkeys(a for pair in pairs for a in pair):
            print(f"[side_by_side] {algo} alone", flush=True)
            alone[algo] = finish(*start(algo, 0, args.iterations, args, scratch), scratch)
        for first, second in pairs:
            print(f"[side_by_side] {first} beside {second}", flush=True)
            span = args.iterations * max(alone[first].iteration_s(), alone[second].iteration_s())  # the slower's length
            started = [start(algo, seed, math.ceil(span / alone[algo].iteration_s()) + WARMUP_ITERATIONS, args, scratch)
                       for seed, algo in enumerate((first, second))]  # fmt: skip
            runs = [finish(*s, scratch) for s in started]
            for (algo, run), (other, other_run) in zip(zip((first, second), runs), zip((second, first), runs[::-1])):
                base, paired = alone[algo].medians(), run.medians(within=other_run.window())
                results.append({
                    "pair": f"{first}+{second}", "algo": algo, "beside": other, "alone": base, "paired": paired,
                    "update_slowdown": paired["update_s"] / base["update_s"],
                    "collection_slowdown": paired["collection_s"] / base["collection_s"],
                })  # fmt: skip
                print(f"[side_by_side] {algo} beside {other}: update {paired['update_s']:.2f} s"
                      f" ({results[-1]['update_slowdown']:.2f}x alone), collection {paired['collection_s']:.2f} s"
                      f" ({results[-1]['collection_slowdown']:.2f}x), {paired['iterations']} iterations", flush=True)  # fmt: skip
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
