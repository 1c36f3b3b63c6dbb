#!/usr/bin/env python
"""Mixed precision against float32: collection and update of PPO, REPPO and TruDi on a batched torch env.

    python benchmarks/cost/precision_cost.py --num_envs 256 --steps 32 --rounds 3 --label L \\
        --out benchmarks/results/precision_cost.jsonl

Each algorithm runs with ``algorithm.use_mixed_precision`` False and True (rsl-rl's own field for PPO), the two in
alternation for ``--rounds`` rounds in one process: the ratio mixed / float32 shares the machine's noise. The record
names the CPU (or GPU) and whether it multiplies bfloat16 natively (``trudi_isaac.utils.precision.native_bf16``):
without, bfloat16 matmuls are converted to float32 and cost more than float32 itself. Prints a JSON line; ``--out``
appends it to a file, which ``summarize.py`` tabulates.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: harness.py and the job folders
from harness import parse_override  # noqa: E402
from cost.update_cost import add_random_env_arguments, emit, measure  # noqa: E402

PRECISIONS = {"float32": False, "mixed": True}


def processor(device: str) -> str:
    """The CPU's model name (or the GPU's), for the record."""
    if torch.device(device).type == "cuda":
        return torch.cuda.get_device_name(torch.device(device))
    model = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
             if line.startswith("model name")] if Path("/proc/cpuinfo").exists() else []  # fmt: skip
    return model[0] if model else platform.processor()


def main() -> int:
    from trudi_isaac.utils.precision import native_bf16  # noqa: PLC0415

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algos", nargs="+", default=["ppo", "reppo", "trudi"])
    add_random_env_arguments(parser, num_envs=256, steps=32)
    parser.add_argument("--rounds", type=int, default=3, help="Alternations of float32 and mixed per algorithm.")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--update_threads", type=int, default=None, help="CPU: torch threads inside update() only.")
    parser.add_argument("overrides", nargs="*", type=parse_override, help="key=value fields of every runner config.")
    args = parser.parse_args()
    if args.device == "cpu":
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    times: dict[tuple[str, str], dict[str, list[float]]] = {}
    for round_index in range(args.rounds):
        for algo in args.algos:
            for name, enabled in PRECISIONS.items():
                run_args = argparse.Namespace(**vars(args) | {
                    "overrides": [*args.overrides, ("algorithm.use_mixed_precision", enabled)],
                    "repeats": 1, "profile": 0, "count_ops": False, "cuda_graphs": False,
                })  # fmt: skip
                result = measure(algo, run_args)
                seen = times.setdefault((algo, name), {"collect": [], "update": []})
                seen["collect"].append(result["collect_s_per_iter"])
                seen["update"].append(result["update_s_per_iter"])
                print(f"[precision_cost] round {round_index + 1}/{args.rounds} {algo} {name}: update "
                      f"{result['update_s_per_iter']:.3f} s, collection {result['collect_s_per_iter']:.3f} s", flush=True)  # fmt: skip
    median = {key: {part: statistics.median(values) for part, values in parts.items()} for key, parts in times.items()}
    native, evidence = native_bf16(args.device)
    results = [{"algo": algo, "precision": name, **{f"{part}_s_per_iter": s for part, s in median[(algo, name)].items()},
                "update_ratio": median[(algo, name)]["update"] / median[(algo, "float32")]["update"],
                "collect_ratio": median[(algo, name)]["collect"] / median[(algo, "float32")]["collect"]}
               for algo in args.algos for name in PRECISIONS]  # fmt: skip
    record = {
        "config": vars(args) | {"out": None, "agent_cfgs": None, "overrides": [f"{k}={v}" for k, v in args.overrides]},
        "machine": {"processor": processor(args.device), "native_bf16": native, "evidence": evidence},
        "torch": torch.__version__,
        "command": shlex.join(["python", "benchmarks/cost/precision_cost.py", *sys.argv[1:]]),
        "results": results,
    }
    emit(record, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
