"""``scripts/train.py``: a thin layer over Isaac Lab's rsl-rl training entry point.

It adds what a user of the old scripts expects and Isaac Lab 3 does not do by itself:
legacy ``-v0`` task names, short agent names (``ppo``, ``trudi``, ``reppo``), a device default
that follows the machine (and reaches the agent config: ``agent.device``), CPU thread settings,
offline assets, and safe checkpoints (:mod:`trudi_isaac.runners.safe_runner`: atomic, never NaN, checked
on resume, saved on Ctrl-C). Bad input ends in one line and exit code 2 (:mod:`trudi_isaac.cli.launcher_errors`
inside Isaac Lab's simulation block). Everything else — config resolution, Hydra overrides, logging under
``logs/rsl_rl/<experiment>/<run>/``, checkpoints, resume, ``OnPolicyRunner`` — is Isaac Lab's.
"""

from __future__ import annotations

import argparse
import os
import sys

from trudi_isaac.cli import launcher_errors
from trudi_isaac.cli.common import add_common_args, check_checkpoint_file, check_positive, prepare, run_reporting_errors
from trudi_isaac.runners import multi_process, safe_runner, update_threads

CPU_DEFAULT_NUM_ENVS = 256
"""Tasks' own defaults (often 4096) are sized for GPUs; on the CPU each batched step costs a fixed overhead, so a
few hundred envs give most of the throughput (../shared/ISAACLAB.md)."""
CPU_UPDATE_THREADS = 2
"""Most torch threads of the update on the CPU (collection keeps one), fewer where other processes keep cores busy
(:mod:`trudi_isaac.runners.update_threads`): alone on 2 cores, at Humanoid's sizes (256 envs × 32 steps), PPO's
update took 0.60 s instead of 1.03 s and TruDi's 7.3 s instead of 11.4 s (benchmarks/NOTES.md)."""
DEFAULT_SEED = 42
"""Base seed of a multi-process CPU run without --seed (rank r uses DEFAULT_SEED + r)."""


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        description="Train an rsl-rl agent (TruDi, REPPO or the task's stock PPO) on an Isaac Lab task.",
        epilog="Other arguments (e.g. Hydra overrides such as agent.algorithm.trust_region_eps=0.2, or"
        " --checkpoint to resume) are passed on to Isaac Lab's rsl-rl trainer.",
    )
    add_common_args(parser)
    parser.add_argument("--max_iterations", type=int, default=None, help="Training iterations.")
    parser.add_argument(
        "--distributed", action="store_true",
        help="Multi-process training under torchrun: NCCL on GPUs (Isaac Lab's path), gloo on the CPU.",
    )  # fmt: skip
    parser.add_argument(
        "--checkpoint", default=None,
        help="Resume from a checkpoint file, a run folder, or 'latest' (Isaac Lab's selectors).",
    )  # fmt: skip
    parser.add_argument(
        "--update_threads", type=int, default=None,
        help=f"CPU: torch threads for the update only (the simulator idles then); default: the cores other processes"
             f" leave free, chosen before each update, up to {CPU_UPDATE_THREADS}.",
    )  # fmt: skip
    args, passthrough = parser.parse_known_args(argv)
    check_positive(args, "max_iterations", "update_threads")
    if args.checkpoint is not None:
        passthrough = ["--checkpoint", args.checkpoint, *passthrough]
    return args, passthrough


def build_isaaclab_argv(args: argparse.Namespace, task: str, agent_key: str, passthrough: list[str]) -> list[str]:
    """Arguments for Isaac Lab's ``train_rsl_rl.run``; the agent config follows the env device.

    Multi-process on the CPU bypasses Isaac Lab's ``--distributed`` (which refuses the CPU) and does what it
    would do: one run folder for all ranks, seed + rank per rank (see :mod:`trudi_isaac.runners.multi_process`).
    """
    argv = ["--task", task, "--agent", agent_key, "--device", args.device]
    if args.num_envs is None and args.device == "cpu":
        args.num_envs = CPU_DEFAULT_NUM_ENVS
        print(f"[trudi] on the CPU: {CPU_DEFAULT_NUM_ENVS} envs unless --num_envs says otherwise", file=sys.stderr)
    if args.distributed and args.device == "cpu":
        argv += ["--run_timestamp", multi_process.init_cpu_group()]
        args.seed = (DEFAULT_SEED if args.seed is None else args.seed) + multi_process.rank()
    elif args.distributed:
        argv.append("--distributed")
    for flag in ("num_envs", "max_iterations", "seed"):
        if getattr(args, flag) is not None:
            argv += [f"--{flag}", str(getattr(args, flag))]
    return argv + passthrough + [f"agent.device={args.device}"]


def train(argv: list[str]) -> int:
    args, passthrough = parse_args(argv)
    task, agent_key = prepare(args)
    if args.checkpoint is not None:
        check_checkpoint_file(args.checkpoint)  # a missing or corrupt file: fail before the simulator starts

    from isaaclab_rl.entrypoints.backends import train_rsl_rl  # noqa: PLC0415

    multi_process.install()
    safe_runner.install()
    launcher_errors.install("train.py")  # after safe_runner: wraps its load and learn
    if args.device == "cpu":
        update_threads.install(args.update_threads, cap=min(CPU_UPDATE_THREADS, len(os.sched_getaffinity(0))))
    if args.distributed and multi_process.world_size() < 2:
        print("train.py: warning: --distributed without torchrun (WORLD_SIZE < 2) trains one process", file=sys.stderr)
    train_rsl_rl.run(build_isaaclab_argv(args, task, agent_key, passthrough))
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_reporting_errors("train.py", lambda: train(sys.argv[1:] if argv is None else argv))
