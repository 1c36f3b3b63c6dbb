"""Checkpoint files: written atomically, never with non-finite values, checked against the run on load.

* **Atomic write** — a checkpoint goes to a hidden temporary file in the same folder (``.model_7.pt.tmp``,
  which rsl-rl's and Isaac Lab's ``model_.*\\.pt`` patterns do not match), is flushed and fsync'ed, and
  then renamed over the target with :func:`os.replace`. A process killed at any moment leaves either the
  old file or the complete new one, never a truncated ``model_*.pt``.
* **No code from a file** — a checkpoint is read with ``torch.load(..., weights_only=True)``: tensors, numbers,
  strings and plain containers only. A file whose pickle names any other Python object (which unpickling would
  call: ``os.system``, say) is refused before anything in it runs. Our checkpoints and stock rsl-rl's (TruDi, REPPO,
  PPO, with weight averages, optimizer states and run signatures) need nothing more.
* **Signature** — each checkpoint also records the run it belongs to (algorithm, actor class, observation
  sizes per group, action size, and the fields of the runner config's ``actor`` and ``critic`` sections: a field
  such as ``prior_std`` changes the policy the same weights compute). Loading compares it with the current run and
  names what differs, instead of failing deep inside ``load_state_dict`` or running another policy than the one
  trained. Checkpoints without a signature (stock rsl-rl) are compared tensor by tensor; a signature without the
  model fields (written before they were recorded) is compared on the rest.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
from collections.abc import Mapping
from typing import Any

import torch

from trudi_isaac.runners.finite import NonFiniteError, describe, non_finite_names
from trudi_isaac.utils.config_fields import flat_fields

SIGNATURE_KEY = "run_signature"
TEMP_SUFFIX = ".tmp"
STATE_DICT_KEYS = ("actor_state_dict", "critic_state_dict")
MODEL_SECTIONS = ("actor", "critic")
"""The runner config's sections whose fields a checkpoint records (signature entry ``"models"``)."""
MAX_ERROR_CHARS = 200
"""Length of the loader's own error text quoted in a corrupt-file message."""
UNSAFE_GLOBAL = re.compile(r"GLOBAL (\S+)")
"""The Python object a refused pickle names, in ``torch.load``'s weights-only error text."""


class CheckpointError(ValueError):
    """A checkpoint file that is missing, unreadable, or from another task or algorithm."""


def temp_path(path: str) -> str:
    """The hidden temporary file next to ``path`` that :func:`atomic_save` writes first."""
    directory, name = os.path.split(os.path.abspath(path))
    return os.path.join(directory, f".{name}{TEMP_SUFFIX}")


def _fsync_dir(directory: str) -> None:
    """Make a rename in ``directory`` durable (POSIX; a no-op where folders cannot be opened)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_save(state: dict, path: str) -> None:
    """``torch.save(state, path)`` via temporary file + flush + fsync + :func:`os.replace`.

    Raises :class:`NonFiniteError` (and writes nothing) if ``state`` holds NaN or Inf.
    """
    bad = non_finite_names(state)
    if bad:
        raise NonFiniteError(f"refusing to write checkpoint {path}: non-finite values in {describe(bad)}")
    tmp = temp_path(path)
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    _fsync_dir(os.path.dirname(os.path.abspath(path)))


def read_checkpoint(path: str, map_location: str | None = None) -> dict:
    """Load a checkpoint file without running code from it; :class:`CheckpointError` if it is missing, corrupt,
    not an rsl-rl checkpoint, holds non-finite values, or holds an object other than tensors and plain data."""
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint file '{path}' does not exist")
    try:
        state = torch.load(path, weights_only=True, map_location=map_location)
    except pickle.UnpicklingError as err:  # the weights-only unpickler refused the file, or could not parse it
        if found := UNSAFE_GLOBAL.search(str(err)):
            raise CheckpointError(
                f"checkpoint file '{path}' holds a Python object ({found[1]}) that loading would run; refused"
                " without running it (checkpoints are read with weights_only=True: tensors and plain data only)"
            ) from None
        raise CheckpointError(f"checkpoint file '{path}' is corrupt or not a checkpoint (not a valid pickle)") from None
    except Exception as err:  # noqa: BLE001  (zip and EOF errors all mean the same here)
        reason = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"[:MAX_ERROR_CHARS]
        raise CheckpointError(f"checkpoint file '{path}' is corrupt or not a checkpoint ({reason})") from None
    if not isinstance(state, dict) or "iter" not in state:
        raise CheckpointError(f"checkpoint file '{path}' is not an rsl-rl checkpoint (no 'iter' entry)")
    bad = non_finite_names(state)
    if bad:
        raise CheckpointError(f"checkpoint file '{path}' holds non-finite values in {describe(bad)}")
    return state


def run_signature(algorithm: Any, observations: Any, num_actions: int, runner_cfg: Mapping[str, Any]) -> dict:
    """What a checkpoint must agree on with the run that loads it; ``"models"``: the fields of the runner config's
    model sections by dotted key (``{"actor": {"prior_std": 1.0, ...}, "critic": {...}}``)."""
    return {
        "algorithm": type(algorithm).__name__,
        "actor": type(algorithm.get_policy()).__name__,
        "observation sizes": {str(group): list(observations[group].shape[1:]) for group in observations.keys()},
        "action size": int(num_actions),
        "models": {s: flat_fields(runner_cfg[s]) for s in MODEL_SECTIONS if isinstance(runner_cfg.get(s), Mapping)},
    }


def model_field_mismatches(saved: dict, current: dict) -> list[str]:
    """``agent.<section>.<field>: checkpoint <value>, this run <value>`` for each model field both signatures record
    and disagree on."""
    out = []
    saved_models, current_models = saved.get("models", {}), current.get("models", {})
    for section in MODEL_SECTIONS:
        theirs, mine = saved_models.get(section, {}), current_models.get(section, {})
        for key in sorted(set(theirs) & set(mine)):
            if theirs[key] != mine[key]:
                out.append(f"agent.{section}.{key}: checkpoint {theirs[key]!r}, this run {mine[key]!r}")
    return out


def _signature_mismatches(saved: dict, current: dict) -> list[str]:
    out = []
    for key in ("algorithm", "actor", "action size"):
        if saved.get(key) != current[key]:
            out.append(f"{key}: checkpoint {saved.get(key)}, this run {current[key]}")
    saved_obs, current_obs = saved.get("observation sizes", {}), current["observation sizes"]
    for group in sorted(set(saved_obs) | set(current_obs)):
        if saved_obs.get(group) != current_obs.get(group):
            out.append(
                f"observation size of group '{group}': checkpoint {saved_obs.get(group, 'none')},"
                f" this run {current_obs.get(group, 'none')}"
            )
    return out + model_field_mismatches(saved, current)


def _shape(tensor: Any) -> str:
    return "absent" if tensor is None else str(tuple(getattr(tensor, "shape", ())))


def _tensor_mismatches(saved: dict, current: dict) -> list[str]:
    """For checkpoints without a signature: algorithm tag and the shapes of the model state dicts."""
    out = []
    if "algorithm" in current and saved.get("algorithm") != current["algorithm"]:
        out.append(f"algorithm: checkpoint {saved.get('algorithm', 'not recorded')}, this run {current['algorithm']}")
    for section in STATE_DICT_KEYS:
        mine, theirs = current.get(section, {}), saved.get(section)
        if theirs is None:
            out.append(f"{section}: missing in the checkpoint")
            continue
        for name in sorted(set(mine) | set(theirs)):
            a, b = theirs.get(name), mine.get(name)
            if a is None or b is None or getattr(a, "shape", None) != getattr(b, "shape", None):
                out.append(f"{section}['{name}']: checkpoint {_shape(a)}, this run {_shape(b)}")
    return out


def check_matches(saved: dict, path: str, signature: dict, current_state: dict) -> None:
    """Raise :class:`CheckpointError` naming every difference between checkpoint ``saved`` and this run."""
    if SIGNATURE_KEY in saved:
        mismatches = _signature_mismatches(saved[SIGNATURE_KEY], signature)
    else:
        mismatches = _tensor_mismatches(saved, current_state)
    if mismatches:
        fields_differ = any(m.startswith("agent.") for m in mismatches)
        hint = "; load it with the agent.* overrides it was trained with" if fields_differ else ""
        raise CheckpointError(f"checkpoint '{path}' does not match this run: {describe(mismatches)}{hint}")
