"""Fields of a nested configuration by dotted key, in a runner config dict and an ``@configclass`` alike.

:func:`flat_fields` lists a nested dict's leaves as ``{"hidden_dims": [256, 256], "distribution_cfg.std": 1.0}``;
:func:`set_field` sets one field by its dotted key and refuses a key the config does not have (a misspelled key is
an error, not a new field); :func:`model_class_and_kwargs` turns a model section of a runner config into the class
and the keyword arguments our models take.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from rsl_rl.utils import resolve_class

RSL_RL_DISTRIBUTION_FIELDS = ("distribution_cfg", "stochastic")
"""rsl-rl's model fields for its own output distributions; TruDi's models have their own (agents/trudi_cfg.py)."""
PLAIN_TYPES = (str, int, float, bool, type(None))


def _plain(value: Any) -> Any:
    """``value`` as data a weights-only checkpoint can hold and ``==`` can compare: tuples as lists, and an object
    that is none of numbers, strings, lists or None as its ``repr``."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value if isinstance(value, PLAIN_TYPES) else repr(value)


def flat_fields(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """The leaves of the nested mapping ``tree`` by dotted key, as plain data (an empty mapping is a leaf)."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flat_fields(value, f"{name}."))
        else:
            out[name] = {} if isinstance(value, Mapping) else _plain(value)
    return out


def _has_field(node: Any, name: str) -> bool:
    if isinstance(node, Mapping):
        return name in node
    if dataclasses.is_dataclass(node):  # a configclass: its fields, not its methods
        return name in {f.name for f in dataclasses.fields(node)}
    return hasattr(node, name)


def set_field(cfg: Any, key: str, value: Any) -> None:
    """Set the dotted ``key`` of ``cfg``, walking dict keys and attributes; :class:`KeyError` if a part is missing."""
    *parents, leaf = key.split(".")
    node = cfg
    for name in parents:
        if node is None or not _has_field(node, name):
            raise KeyError(key)
        node = node[name] if isinstance(node, Mapping) else getattr(node, name)
    if node is None or not _has_field(node, leaf):
        raise KeyError(key)
    if isinstance(node, MutableMapping):
        node[leaf] = value
    else:
        setattr(node, leaf, value)


def model_class_and_kwargs(section: Mapping[str, Any]) -> tuple[Callable, dict[str, Any]]:
    """The class named by a runner config's model section (``actor``, ``critic``) and its constructor keywords, without
    rsl-rl's distribution fields (a copy: the section stays as it is)."""
    model_class, kwargs = resolve_class(dict(section))
    for name in RSL_RL_DISTRIBUTION_FIELDS:
        kwargs.pop(name, None)
    return model_class, kwargs
