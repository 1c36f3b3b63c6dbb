"""Count the tensor operations an algorithm dispatches: a device-free proxy for its GPU kernel launches.

On a GPU, TruDi's update is bound by kernel launches (benchmarks/NOTES.md, "GPU"), and even in a CUDA graph
every kernel still costs a few microseconds. Each compute op PyTorch dispatches (``mm``, ``add``, a fused
optimizer step …) runs roughly one kernel there; views and allocations run none and are not counted. The count
is the same on any device, so a change that cuts kernels can be measured on the CPU:

    with OpCount() as ops:
        alg.update()
    ops.total, ops.by_name.most_common(10)

It is a proxy: on CUDA some ops run two kernels (a reduction), some fuse (``rms_norm``), and the ops replayed
from a CUDA graph are not dispatched at all (count eager runs only).
"""

from __future__ import annotations

import collections

from torch.utils._python_dispatch import TorchDispatchMode

NO_KERNEL = frozenset({
    "_record_function_enter_new", "_record_function_exit", "_reshape_alias", "_unsafe_view", "alias", "as_strided",
    "chunk", "detach", "diagonal", "empty", "empty_like", "empty_strided", "expand", "expand_as", "flatten",
    "lift_fresh", "movedim", "narrow", "new_empty", "new_empty_strided", "permute", "reshape", "select", "slice",
    "split", "split_with_sizes", "squeeze", "t", "transpose", "unbind", "unflatten", "unsqueeze", "view", "view_as",
})  # fmt: skip
"""Ops that only re-describe or allocate memory, or mark a profiler range: no kernel runs."""


class OpCount(TorchDispatchMode):
    """Counts the compute ops dispatched inside ``with`` blocks (re-enterable: counts add up)."""

    def __init__(self) -> None:
        super().__init__()
        self.by_name: collections.Counter[str] = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if name not in NO_KERNEL:
            self.by_name[name] += 1
        return func(*args, **(kwargs or {}))

    @property
    def total(self) -> int:
        return sum(self.by_name.values())
