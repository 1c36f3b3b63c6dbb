"""``scripts/train.py``: a thin layer over Isaac Lab's rsl-rl training entry point.

It adds what a user of the old scripts expects and Isaac Lab 3 does not do by itself:
legacy ``-v0`` task names, short agent names (``ppo``, ``trudi``, ``reppo``), a device default
that follows the machine (and reaches the agent config: ``agent.device``), CPU thread settings,
and offline assets. Everything else — config resolution, Hydra overrides, logging under
``logs/rsl_rl/<experiment>/<run>/``, checkpoints, resume, ``OnPolicyRunner`` — is Isaac Lab's.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys

AGENT_ENTRY_POINTS = {
    "ppo": "rsl_rl_cfg_entry_point",
    "trudi": "trudi_cfg_entry_point",
    "reppo": "reppo_cfg_entry_point",
}
LEGACY_TASK_SUFFIX = "-v0"
NUM_CLOSE_MATCHES = 5


class UsageError(Exception):
    """Bad command-line input: printed as one message, exit code 2, no traceback."""


def resolve_task(name: str, registered: list[str]) -> str:
    """The Isaac Lab 3 id for ``name`` (legacy ``-v0`` names map to the id without suffix)."""
    name = name.split(":")[-1]
    for candidate in (name, name.removesuffix(LEGACY_TASK_SUFFIX)):
        if candidate in registered:
            return candidate
    close = difflib.get_close_matches(name.removesuffix(LEGACY_TASK_SUFFIX), registered, n=NUM_CLOSE_MATCHES)
    hint = f" Closest registered tasks: {', '.join(close)}." if close else ""
    raise UsageError(f"unknown task '{name}'.{hint} List them all with: isaaclab list_envs")


def resolve_agent(agent: str, task: str, spec_kwargs: dict) -> str:
    """The gym-spec kwarg that holds the agent config: a short name or a full ``*_cfg_entry_point`` key."""
    key = AGENT_ENTRY_POINTS.get(agent, agent)
    if key not in spec_kwargs:
        available = sorted(k for k in spec_kwargs if k.endswith("_cfg_entry_point") and k != "env_cfg_entry_point")
        short = [name for name, k in AGENT_ENTRY_POINTS.items() if k in spec_kwargs]
        raise UsageError(
            f"unknown agent '{agent}' for task '{task}'. Short names here: {', '.join(short) or 'none'};"
            f" entry points: {', '.join(available) or 'none'}."
        )
    return key


def default_device() -> str:
    import torch  # noqa: PLC0415

    return "cuda:0" if torch.cuda.is_available() else "cpu"


def check_device(device: str) -> None:
    import torch  # noqa: PLC0415

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"--device {device} asked for CUDA, but torch finds no CUDA device here; use --device cpu")


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        description="Train an rsl-rl agent (TruDi, REPPO or the task's stock PPO) on an Isaac Lab task.",
        epilog="Other arguments (e.g. Hydra overrides such as agent.algorithm.trust_region_eps=0.2, or"
        " --checkpoint to resume) are passed on to Isaac Lab's rsl-rl trainer.",
    )
    parser.add_argument("--task", required=True, help="Isaac Lab task, e.g. Isaac-Humanoid (legacy -v0 names work).")
    parser.add_argument("--agent", default="trudi", help="ppo | trudi | reppo, or a full *_cfg_entry_point key.")
    parser.add_argument("--num_envs", type=int, default=None, help="Number of parallel environments.")
    parser.add_argument("--device", default=None, help="cpu or cuda:N (default: cuda:0 if available, else cpu).")
    parser.add_argument("--max_iterations", type=int, default=None, help="Training iterations.")
    parser.add_argument("--seed", type=int, default=None, help="Seed of env and agent.")
    parser.add_argument(
        "--assets", choices=("auto", "offline", "online"), default=None,
        help="Where robot assets come from (default auto: local stand-ins when NVIDIA's server is unreachable).",
    )
    args, passthrough = parser.parse_known_args(argv)
    if args.num_envs is not None and args.num_envs < 1:
        raise UsageError(f"--num_envs must be >= 1, got {args.num_envs}")
    if args.max_iterations is not None and args.max_iterations < 1:
        raise UsageError(f"--max_iterations must be >= 1, got {args.max_iterations}")
    return args, passthrough


def build_isaaclab_argv(args: argparse.Namespace, task: str, agent_key: str, passthrough: list[str]) -> list[str]:
    """Arguments for Isaac Lab's ``train_rsl_rl.run``; the agent config follows the env device."""
    argv = ["--task", task, "--agent", agent_key, "--device", args.device]
    for flag in ("num_envs", "max_iterations", "seed"):
        if getattr(args, flag) is not None:
            argv += [f"--{flag}", str(getattr(args, flag))]
    return argv + passthrough + [f"agent.device={args.device}"]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args, passthrough = parse_args(argv)
        args.device = args.device or default_device()
        check_device(args.device)
        if args.device == "cpu":
            import torch  # noqa: PLC0415

            torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))

        from trudi_isaac.tasks.offline_assets import configure_assets  # noqa: PLC0415

        configure_assets(args.assets)  # before Isaac Lab reads its asset root
        import gymnasium as gym  # noqa: PLC0415
        import isaaclab_tasks  # noqa: F401, PLC0415

        from trudi_isaac.tasks.registration import register_trudi_agents  # noqa: PLC0415

        register_trudi_agents()
        isaaclab_tasks_ids = [t for t, spec in gym.registry.items() if "env_cfg_entry_point" in spec.kwargs]
        task = resolve_task(args.task, isaaclab_tasks_ids)
        agent_key = resolve_agent(args.agent, task, gym.spec(task).kwargs)
    except UsageError as err:
        print(f"train.py: error: {err}", file=sys.stderr)
        return 2

    from isaaclab_rl.entrypoints.backends import train_rsl_rl  # noqa: PLC0415

    train_rsl_rl.run(build_isaaclab_argv(args, task, agent_key, passthrough))
    return 0
