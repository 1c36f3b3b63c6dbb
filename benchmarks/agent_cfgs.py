"""Runner configs of the benchmarked algorithms as plain dicts, from Isaac Lab's registry or a JSON bundle.

The benchmark scripts that run on a batched torch env (no simulator) need only the agent configs
of the real tasks. Where Isaac Lab is installed they are read from its registry; on a machine
without it (a GPU machine with only PyTorch) they are read from the JSON that
``device_bundle.py`` wrote.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ALGOS = ("ppo", "trudi", "reppo")


def from_registry(task: str, algo: str, device: str) -> dict:
    """The task's registered config for ``algo`` (PPO: the task's stock rsl-rl config), as a dict."""
    from isaaclab.utils import class_to_dict  # noqa: PLC0415
    from trudi_isaac.cli.common import prepare  # noqa: PLC0415
    from trudi_isaac.cli.play import load_agent_cfg  # noqa: PLC0415

    args = argparse.Namespace(task=task, agent=algo, device=device, num_envs=1, assets=None)
    task_id, agent_key = prepare(args)
    return class_to_dict(load_agent_cfg(task_id, agent_key, device))


def agent_cfg(task: str, algo: str, device: str, bundle: Path | None = None) -> dict:
    """``algo``'s runner config for ``task`` on ``device``: from ``bundle`` (a JSON file) if given, else the registry."""
    if bundle is None:
        return from_registry(task, algo, device)
    cfgs = json.loads(bundle.read_text())
    if task not in cfgs or algo not in cfgs[task]:
        raise SystemExit(f"{bundle} has no config for {task} / {algo}; rebuild it with benchmarks/device_bundle.py")
    return cfgs[task][algo] | {"device": device}


def parse_override(text: str) -> tuple[str, object]:
    """``algorithm.num_mini_batches=32`` → ("algorithm.num_mini_batches", 32); values are JSON, else strings."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got '{text}'")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def apply_override(cfg: dict, key: str, value: object) -> None:
    """Set the dotted ``key`` of the nested ``cfg``; the key must exist (a typo is an error, not a new field)."""
    *parents, leaf = key.split(".")
    node = cfg
    for name in parents:
        node = node.get(name) if isinstance(node, dict) else None
    if not isinstance(node, dict) or leaf not in node:
        raise SystemExit(f"unknown config field '{key}'")
    node[leaf] = value
