"""Torch threads for the algorithm's update only, on the CPU, chosen from the cores other processes leave free.

While the runner updates, the simulator idles: the update can use more threads than collection, where the
simulator and the policy share the cores. But a second training on the same machine (two seeds, or PPO beside
TruDi) keeps a core busy all the time, and an update whose threads outnumber the free cores slows down 4-15x (4-5x
on the 2-core machine of benchmarks/RESULTS_GRIDS.md, "Two trainings on one machine"): each parallel region waits for
a thread that is not running. So before each update the thread count is chosen
again from the cores this process may use and the work other processes did on them during the last collection
(:class:`CoreLoad`), up to a cap. :func:`install` makes every CPU ``OnPolicyRunner`` built afterwards do that,
for PPO, TruDi and REPPO alike; a fixed count can be asked for instead.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Callable

import torch
from rsl_rl.runners import OnPolicyRunner

_MARK = "_trudi_update_threads"
PROC_STAT = "/proc/stat"
CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
"""Unit of the CPU times in ``/proc/stat``."""
IDLE_FIELDS = (3, 4)
"""Fields of a ``/proc/stat`` CPU line that count idle time: idle, iowait."""


class CoreLoad:
    """How many cores' worth of work *other* processes did on the cores this process may use, between two readings:
    the busy time of those cores in ``/proc/stat`` minus this process's own CPU time, per second of wall-clock."""

    def __init__(self, cpus: set[int] | None = None) -> None:
        self.cpus = sorted(cpus if cpus is not None else os.sched_getaffinity(0))
        self._last = self._read()

    def _read(self) -> tuple[float, float, float] | None:
        """(wall s, busy s of ``self.cpus``, this process's CPU s); None where ``/proc/stat`` cannot be read."""
        names = {f"cpu{i}" for i in self.cpus}
        try:
            with open(PROC_STAT) as f:
                lines = [line.split() for line in f if line.startswith("cpu")]
        except OSError:
            return None
        busy = 0
        for fields in lines:
            if fields[0] in names:
                ticks = [int(v) for v in fields[1:]]
                busy += sum(ticks) - sum(ticks[i] for i in IDLE_FIELDS)
        return time.monotonic(), busy / CLOCK_TICKS_PER_S, time.process_time()

    def others_busy(self) -> float | None:
        """Cores kept busy by other processes since the last call (0 to ``len(self.cpus)``), or None where unknown."""
        now, last = self._read(), self._last
        self._last = now
        if now is None or last is None or now[0] - last[0] <= 0:
            return None
        others = (now[1] - last[1]) - (now[2] - last[2])
        return min(max(others / (now[0] - last[0]), 0.0), float(len(self.cpus)))


def free_core_threads(load: CoreLoad, cap: int) -> int:
    """Threads for the next update: the cores ``load`` saw left free by other processes, rounded, in [1, cap]."""
    others = load.others_busy()
    free = len(load.cpus) if others is None else round(len(load.cpus) - others)
    return max(1, min(cap, free))


def with_threads(update: Callable[[], dict], num_threads: int | Callable[[], int]) -> Callable[[], dict]:
    """``update`` run with ``num_threads`` torch threads (a count, or a function giving it at each call); the previous
    count is restored afterwards."""

    @functools.wraps(update)
    def wrapper(*args, **kwargs) -> dict:
        previous = torch.get_num_threads()
        torch.set_num_threads(num_threads() if callable(num_threads) else num_threads)
        try:
            return update(*args, **kwargs)
        finally:
            torch.set_num_threads(previous)

    return wrapper


class AdaptiveThreads:
    """The update's thread count, chosen before each update by :func:`free_core_threads`; says so when it changes."""

    def __init__(self, cap: int) -> None:
        self.cap, self.load, self.current = cap, CoreLoad(), None

    def __call__(self) -> int:
        threads = free_core_threads(self.load, self.cap)
        if threads != self.current:
            print(f"[trudi] update threads: {threads} (cores left free by other processes; up to {self.cap})",
                  file=sys.stderr)  # fmt: skip
            self.current = threads
        return threads


_fixed: int | None = None
_cap: int | None = None


def is_installed() -> bool:
    """Whether :func:`install` has patched ``OnPolicyRunner`` in this process."""
    return getattr(OnPolicyRunner.__init__, _MARK, False)


def install(num_threads: int | None = None, cap: int | None = None) -> None:
    """Every CPU ``OnPolicyRunner`` constructed from now on runs ``alg.update()`` with its own thread count:
    ``num_threads`` if given, else the free cores before each update (:class:`AdaptiveThreads`) up to ``cap``
    (default: torch's thread count when the runner is built, so it never adds threads). A later call changes the
    policy for runners built after it."""
    global _fixed, _cap
    _fixed, _cap = num_threads, cap
    if is_installed():
        return
    init = OnPolicyRunner.__init__

    @functools.wraps(init)
    def wrapper(self: OnPolicyRunner, *args, **kwargs) -> None:
        init(self, *args, **kwargs)
        if torch.device(self.device).type == "cpu":
            count = _fixed or AdaptiveThreads(_cap or torch.get_num_threads())
            self.alg.update = with_threads(self.alg.update, count)

    setattr(wrapper, _MARK, True)
    OnPolicyRunner.__init__ = wrapper
