"""Crash-safe, NaN-safe checkpoints and exact resume for rsl-rl's ``OnPolicyRunner``.

:func:`install` (called by ``scripts/train.py`` and ``scripts/play.py`` before the runner is built, like
:func:`trudi_isaac.runners.multi_process.install`) replaces three ``OnPolicyRunner`` methods; the training loop
itself stays rsl-rl's:

* ``save`` writes the same dict as rsl-rl plus the run's signature, atomically, and refuses NaN/Inf
  (:mod:`trudi_isaac.runners.checkpoints`).
* ``load`` reports a missing, corrupt or mismatched checkpoint as :class:`~trudi_isaac.runners.checkpoints.CheckpointError`,
  and resumes at the iteration *after* the saved one (rsl-rl would run the saved iteration number again, so
  a resumed run would overwrite ``model_<N>.pt`` with a different state).
* ``learn`` runs rsl-rl's loop with two guards on the algorithm instance:

  - every environment step: observations and rewards must be finite (NaN *and* Inf; this replaces rsl-rl's
    NaN-only ``check_for_nan``), and a first Ctrl-C stops the run there; the state is then the one after
    the last completed update, which is saved as ``model_<iteration>.pt`` before ``learn`` returns;
  - every update: the losses it reports and all saved state (parameters, duals, normalizers, optimizers)
    must be finite.

  A non-finite value stops the run with :class:`~trudi_isaac.runners.finite.NonFiniteError` naming the iteration
  and the quantity; the last checkpoint written stays the latest, and no non-finite one is ever written.

  The log of each iteration keeps TruDi's losses under ``Loss/`` and its other statistics under ``TruDi/``
  (:mod:`trudi_isaac.runners.statistics_log`).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from rsl_rl.runners import OnPolicyRunner

from trudi_isaac.runners.checkpoints import SIGNATURE_KEY, atomic_save, check_matches, read_checkpoint, run_signature
from trudi_isaac.runners.finite import NonFiniteError, describe, non_finite_names
from trudi_isaac.runners.graceful_stop import GracefulStop, StopRequested, graceful_stop
from trudi_isaac.runners.statistics_log import split_statistics
from trudi_isaac.utils.patching import patched_attribute

_ORIGINAL: dict[str, Callable] = {name: getattr(OnPolicyRunner, name) for name in ("learn", "save", "load")}
LAST_CHECKPOINT_ATTR = "trudi_last_checkpoint"
"""Runner attribute holding the path of the last checkpoint this process wrote."""


@dataclass
class _Progress:
    """The iteration being collected and updated, and the last one completed in this ``learn`` call."""

    current: int
    completed: int | None = None


def _signature(runner: OnPolicyRunner) -> dict:
    return run_signature(runner.alg, runner.env.get_observations(), runner.env.num_actions, runner.cfg)


def save(self: OnPolicyRunner, path: str, infos: dict | None = None) -> None:
    """rsl-rl's checkpoint dict plus the run signature, written atomically; never with NaN/Inf."""
    state = self.alg.save()
    state["iter"] = self.current_learning_iteration
    state["infos"] = infos
    state[SIGNATURE_KEY] = _signature(self)
    atomic_save(state, path)
    setattr(self, LAST_CHECKPOINT_ATTR, path)
    self.logger.save_model(path, self.current_learning_iteration)


def load(
    self: OnPolicyRunner, path: str, load_cfg: dict | None = None, strict: bool = True, map_location: str | None = None
) -> dict | None:
    """Check the checkpoint against this run, load it, and continue at the iteration after the saved one."""
    saved = read_checkpoint(path, map_location)
    check_matches(saved, path, _signature(self), self.alg.save())
    if self.alg.load(saved, load_cfg, strict):
        self.current_learning_iteration = saved["iter"] + 1
    return saved.get("infos")


def _check(tree: Any, what: str, progress: _Progress) -> None:
    bad = non_finite_names(tree)
    if bad:
        raise NonFiniteError(f"iteration {progress.current}: non-finite {what}: {describe(bad)}")


@contextlib.contextmanager
def _guards(runner: OnPolicyRunner, progress: _Progress, stop: GracefulStop) -> Iterator[None]:
    """Finiteness and stop checks around ``alg.process_env_step`` and ``alg.update`` for one ``learn`` call."""
    alg = runner.alg
    process_env_step, update = alg.process_env_step, alg.update
    check_env = runner.cfg.get("check_for_nan", True)

    def guarded_env_step(obs: Any, rewards: Any, dones: Any, extras: dict) -> None:
        stop.check()
        if check_env:
            _check({"observations": obs, "rewards": rewards}, "environment output", progress)
        process_env_step(obs, rewards, dones, extras)

    def guarded_update() -> dict:
        stats = update()
        _check(stats, "losses", progress)
        _check(alg.save(), "parameters or optimizer state", progress)
        progress.completed, progress.current = progress.current, progress.current + 1
        return stats

    previous_check = runner.cfg.get("check_for_nan")
    runner.cfg["check_for_nan"] = False  # ours covers it (and Inf), with the iteration in the message
    try:
        with patched_attribute(alg, "process_env_step", guarded_env_step), patched_attribute(alg, "update", guarded_update):
            yield
    finally:
        if previous_check is None:
            runner.cfg.pop("check_for_nan", None)
        else:
            runner.cfg["check_for_nan"] = previous_check


def _save_after_stop(runner: OnPolicyRunner, progress: _Progress) -> None:
    if progress.completed is None:
        print("[trudi] stopped before the first update of this run: nothing new to save", file=sys.stderr)
    elif runner.logger.writer is not None:  # the process that logs (rank 0 with a log dir)
        runner.current_learning_iteration = progress.completed
        path = os.path.join(runner.logger.log_dir, f"model_{progress.completed}.pt")
        runner.save(path)
        print(f"[trudi] stopped after iteration {progress.completed}; saved {path}", file=sys.stderr)
    if runner.logger.writer is not None:
        runner.logger.stop_logging_writer()


def learn(self: OnPolicyRunner, num_learning_iterations: int, init_at_random_ep_len: bool = False) -> None:
    """rsl-rl's ``learn`` with finiteness guards and a graceful first Ctrl-C (see the module docstring)."""
    progress = _Progress(current=self.current_learning_iteration)
    try:
        with graceful_stop() as stop, _guards(self, progress, stop), split_statistics(self):
            _ORIGINAL["learn"](self, num_learning_iterations, init_at_random_ep_len)
    except StopRequested:
        _save_after_stop(self, progress)
    except NonFiniteError as err:
        last = getattr(self, LAST_CHECKPOINT_ATTR, None)
        kept = f"the last good checkpoint is {last}" if last else "no checkpoint was written by this run"
        if self.logger.writer is not None:
            with contextlib.suppress(Exception):
                self.logger.stop_logging_writer()
        raise NonFiniteError(f"{err}; training stopped, {kept}") from None


def install() -> None:
    """Use the safe ``learn``, ``save`` and ``load`` on every ``OnPolicyRunner`` (idempotent)."""
    OnPolicyRunner.learn, OnPolicyRunner.save, OnPolicyRunner.load = learn, save, load


def uninstall() -> None:
    """Restore rsl-rl's own methods."""
    for name, method in _ORIGINAL.items():
        setattr(OnPolicyRunner, name, method)
