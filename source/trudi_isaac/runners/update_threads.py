"""Torch threads for the algorithm's update only, on the CPU.

While the runner updates, the simulator idles: the update can use more threads than collection, where the
simulator and the policy share the cores. :func:`install` makes every ``OnPolicyRunner`` built afterwards run
``alg.update()`` with its own thread count and restore the collection's after it, for PPO, TruDi and REPPO alike.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from rsl_rl.runners import OnPolicyRunner

_MARK = "_trudi_update_threads"
_num_threads = 1


def with_threads(update: Callable[[], dict], num_threads: int) -> Callable[[], dict]:
    """``update`` run with ``num_threads`` torch threads; the previous count is restored afterwards."""

    @functools.wraps(update)
    def wrapper(*args, **kwargs) -> dict:
        previous = torch.get_num_threads()
        torch.set_num_threads(num_threads)
        try:
            return update(*args, **kwargs)
        finally:
            torch.set_num_threads(previous)

    return wrapper


def install(num_threads: int) -> None:
    """Every ``OnPolicyRunner`` constructed from now on updates with ``num_threads`` threads (a later call changes
    the count for runners built after it)."""
    global _num_threads
    _num_threads = num_threads
    if getattr(OnPolicyRunner.__init__, _MARK, False):
        return
    init = OnPolicyRunner.__init__

    @functools.wraps(init)
    def wrapper(self: OnPolicyRunner, *args, **kwargs) -> None:
        init(self, *args, **kwargs)
        self.alg.update = with_threads(self.alg.update, _num_threads)

    setattr(wrapper, _MARK, True)
    OnPolicyRunner.__init__ = wrapper
