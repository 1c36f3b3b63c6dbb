"""``scripts/train.py``: a thin layer over Isaac Lab's rsl-rl training entry point.

It adds what a user of the old scripts expects and Isaac Lab 3 does not do by itself:
legacy ``-v0`` task names, short agent names (``ppo``, ``trudi``, ``reppo``), a device default
that follows the machine (and reaches the agent config: ``agent.device``), CPU thread settings,
and offline assets. Everything else — config resolution, Hydra overrides, logging under
``logs/rsl_rl/<experiment>/<run>/``, checkpoints, resume, ``OnPolicyRunner`` — is Isaac Lab's.
"""

from __future__ import annotations

import argparse
import sys

from . import multi_process
from .cli_common import UsageError, add_common_args, check_positive, prepare

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
    args, passthrough = parser.parse_known_args(argv)
    check_positive(args, "max_iterations")
    return args, passthrough


def build_isaaclab_argv(args: argparse.Namespace, task: str, agent_key: str, passthrough: list[str]) -> list[str]:
    """Arguments for Isaac Lab's ``train_rsl_rl.run``; the agent config follows the env device.

    Multi-process on the CPU bypasses Isaac Lab's ``--distributed`` (which refuses the CPU) and does what it
    would do: one run folder for all ranks, seed + rank per rank (see :mod:`trudi_isaac.multi_process`).
    """
    argv = ["--task", task, "--agent", agent_key, "--device", args.device]
    if args.distributed and args.device == "cpu":
        argv += ["--run_timestamp", multi_process.init_cpu_group()]
        args.seed = (DEFAULT_SEED if args.seed is None else args.seed) + multi_process.rank()
    elif args.distributed:
        argv.append("--distributed")
    for flag in ("num_envs", "max_iterations", "seed"):
        if getattr(args, flag) is not None:
            argv += [f"--{flag}", str(getattr(args, flag))]
    return argv + passthrough + [f"agent.device={args.device}"]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args, passthrough = parse_args(argv)
        task, agent_key = prepare(args)
    except UsageError as err:
        print(f"train.py: error: {err}", file=sys.stderr)
        return 2

    from isaaclab_rl.entrypoints.backends import train_rsl_rl  # noqa: PLC0415

    multi_process.install()
    if args.distributed and multi_process.world_size() < 2:
        print("train.py: warning: --distributed without torchrun (WORLD_SIZE < 2) trains one process", file=sys.stderr)
    train_rsl_rl.run(build_isaaclab_argv(args, task, agent_key, passthrough))
    return 0
