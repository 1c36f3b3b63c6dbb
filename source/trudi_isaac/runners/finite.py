"""Finiteness checks for training quantities: environment outputs, losses, parameters and checkpoints."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from tensordict import TensorDict

MAX_NAMES_SHOWN = 5
"""At most this many offending names go into one message."""


class NonFiniteError(RuntimeError):
    """NaN or Inf in a training quantity; the message names the quantity (and the iteration)."""


def _leaves(tree: Any, prefix: str) -> list[tuple[str, Any]]:
    """(dotted name, leaf) pairs of a nested mapping / list / tuple."""
    if isinstance(tree, (Mapping, TensorDict)):
        return [leaf for key, value in tree.items() for leaf in _leaves(value, f"{prefix}.{key}".lstrip("."))]
    if isinstance(tree, (list, tuple)):
        return [leaf for i, value in enumerate(tree) for leaf in _leaves(value, f"{prefix}[{i}]")]
    return [(prefix, tree)]


def non_finite_names(tree: Any, prefix: str = "") -> list[str]:
    """Names of the floating-point tensors and floats in ``tree`` that hold NaN or Inf (one sync per device)."""
    flags: dict[torch.device, list[tuple[str, torch.Tensor]]] = {}
    bad = []
    for name, leaf in _leaves(tree, prefix):
        if isinstance(leaf, torch.Tensor) and (leaf.is_floating_point() or leaf.is_complex()):
            flags.setdefault(leaf.device, []).append((name, torch.isfinite(leaf.detach()).all()))
        elif isinstance(leaf, float) and not math.isfinite(leaf):
            bad.append(name)
    for entries in flags.values():
        finite = torch.stack([flag for _, flag in entries]).tolist()
        bad += [name for (name, _), ok in zip(entries, finite) if not ok]
    return bad


def describe(names: list[str]) -> str:
    """``a, b, c (and 4 more)``."""
    shown = ", ".join(names[:MAX_NAMES_SHOWN])
    rest = len(names) - MAX_NAMES_SHOWN
    return f"{shown} (and {rest} more)" if rest > 0 else shown

