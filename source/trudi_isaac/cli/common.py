"""What the project's command-line scripts share: task and agent names, device, threads, assets, registration."""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from collections.abc import Callable

AGENT_ENTRY_POINTS = {
    "ppo": "rsl_rl_cfg_entry_point",
    "trudi": "trudi_cfg_entry_point",
    "reppo": "reppo_cfg_entry_point",
}
LEGACY_TASK_SUFFIX = "-v0"
NUM_CLOSE_MATCHES = 5
CHECKPOINT_SELECTORS = ("latest", "best")
"""``--checkpoint`` values Isaac Lab's trainer resolves itself (besides folders, wandb runs and URLs)."""

EXIT_BAD_INPUT = 2
EXIT_RUN_FAILED = 1
EXIT_INTERRUPTED = 130


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


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """--task, --agent, --num_envs, --device, --seed, --assets."""
    parser.add_argument("--task", required=True, help="Isaac Lab task, e.g. Isaac-Humanoid (legacy -v0 names work).")
    parser.add_argument("--agent", default="trudi", help="ppo | trudi | reppo, or a full *_cfg_entry_point key.")
    parser.add_argument("--num_envs", type=int, default=None, help="Number of parallel environments.")
    parser.add_argument("--device", default=None, help="cpu or cuda:N (default: cuda:0 if available, else cpu).")
    parser.add_argument("--seed", type=int, default=None, help="Seed of env and agent.")
    parser.add_argument(
        "--assets", choices=("auto", "offline", "online"), default=None,
        help="Where robot assets come from (default auto: local stand-ins when NVIDIA's server is unreachable).",
    )  # fmt: skip


def check_positive(args: argparse.Namespace, *names: str) -> None:
    for name in names:
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UsageError(f"--{name} must be >= 1, got {value}")


def prepare(args: argparse.Namespace) -> tuple[str, str]:
    """Device default and check, CPU threads, asset root, TruDi registration; returns (task id, agent key).

    Raises :class:`UsageError` on bad input.
    """
    check_positive(args, "num_envs")
    args.device = args.device or default_device()
    check_device(args.device)
    if args.device == "cpu":
        import torch  # noqa: PLC0415

        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))

    from trudi_isaac.assets.offline_assets import configure_assets  # noqa: PLC0415

    configure_assets(args.assets)  # before Isaac Lab reads its asset root
    import gymnasium as gym  # noqa: PLC0415

    from trudi_isaac.tasks import registration  # noqa: PLC0415  (the import registers Isaac Lab's tasks and ours)

    isaaclab_task_ids = [t for t, spec in gym.registry.items() if "env_cfg_entry_point" in spec.kwargs]
    task = resolve_task(args.task, isaaclab_task_ids)
    agent_key = resolve_agent(args.agent, task, gym.spec(task).kwargs)
    if agent_key in registration.AGENTS:
        try:
            registration.check_derivable(task, registration.task_ppo_cfg(task))
        except registration.NotDerivable as err:
            raise UsageError(str(err)) from None
    return task, agent_key


def check_checkpoint_file(value: str) -> None:
    """Fail fast (before the simulator starts) on a ``--checkpoint`` file that is missing or unreadable.

    Selectors (``latest``, ``best``), run folders, wandb runs and URLs are left to Isaac Lab to resolve.
    """
    from isaaclab_rl.utils.wandb import is_wandb_checkpoint  # noqa: PLC0415

    from trudi_isaac.runners.checkpoints import read_checkpoint  # noqa: PLC0415

    if value in CHECKPOINT_SELECTORS or os.path.isdir(value) or is_wandb_checkpoint(value) or "://" in value:
        return
    read_checkpoint(value, map_location="cpu")


def exit_code_for(err: BaseException) -> int | None:
    """The exit code of an error reported as one line (bad input 2, NaN/Inf in a run 1), else None."""
    from trudi_isaac.runners.checkpoints import CheckpointError  # noqa: PLC0415
    from trudi_isaac.runners.finite import NonFiniteError  # noqa: PLC0415
    from trudi_isaac.utils.config_checks import ConfigError  # noqa: PLC0415

    if isinstance(err, (UsageError, ConfigError, CheckpointError)):
        return EXIT_BAD_INPUT
    if isinstance(err, NonFiniteError):
        return EXIT_RUN_FAILED
    return None


def run_reporting_errors(prog: str, body: Callable[[], int]) -> int:
    """``body()``, with bad input and failed runs reported as one line on stderr and an exit code, not a traceback.

    Bad input (usage, config ranges, checkpoints) exits 2; a run stopped by NaN/Inf exits 1; Ctrl-C outside
    training (where no checkpoint is due) exits 130.
    """
    try:
        return body()
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:
        code = exit_code_for(err)
        if code is None:
            raise
        print(f"{prog}: error: {err}", file=sys.stderr)
        return code
