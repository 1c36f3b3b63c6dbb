"""Observation normalizer that stays frozen while a rollout is collected (TRUDI.md, "trust region").

The rollout stores *normalized* inputs; if the statistics moved during collection the stored
inputs of early and late steps would disagree, and the trust region would be charged for input
drift. So statistics accumulate in pending sums during the rollout and are merged by
:meth:`commit` after the update. Under ``torch.distributed`` the pending sums are all-reduced,
so every rank keeps identical statistics.
"""

from __future__ import annotations

import torch
from torch import nn


class ObservationNormalizer(nn.Module):
    """``(x - mean) / sqrt(var + eps)`` with statistics merged from whole rollouts."""

    def __init__(self, dim: int, eps: float = 1e-2, enabled: bool = True) -> None:
        super().__init__()
        self.eps = eps
        self.enabled = enabled
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("var", torch.ones(dim))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        # pending sums of the current rollout (not saved: a checkpoint is written between rollouts)
        self.register_buffer("_sum", torch.zeros(dim, dtype=torch.float64), persistent=False)
        self.register_buffer("_sum_sq", torch.zeros(dim, dtype=torch.float64), persistent=False)
        self.register_buffer("_n", torch.zeros((), dtype=torch.float64), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return x
        return (x - self.mean) / torch.sqrt(self.var + self.eps)

    @torch.jit.unused
    def accumulate(self, x: torch.Tensor) -> None:
        """Add a batch ``[B, dim]`` of raw observations to the pending statistics."""
        if not self.enabled:
            return
        x = x.detach().to(torch.float64)
        self._sum += x.sum(0)
        self._sum_sq += x.square().sum(0)
        self._n += x.shape[0]

    @torch.jit.unused
    @torch.no_grad()
    def commit(self) -> None:
        """Merge the pending statistics into mean/var (parallel-variance formula) and clear them."""
        if not self.enabled:
            return
        pending = torch.cat([self._sum, self._sum_sq, self._n.reshape(1)])
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(pending)
        dim = self.mean.shape[0]
        total, total_sq, n = pending[:dim], pending[dim : 2 * dim], pending[-1]
        if n > 0:
            batch_mean = total / n
            batch_var = (total_sq / n - batch_mean.square()).clamp_min(0.0)
            count = self.count + n
            delta = batch_mean - self.mean.double()
            mean = self.mean.double() + delta * (n / count)
            m2 = self.var.double() * self.count + batch_var * n + delta.square() * self.count * n / count
            self.mean.copy_(mean)
            self.var.copy_(m2 / count)
            self.count.copy_(count)
        self._sum.zero_()
        self._sum_sq.zero_()
        self._n.zero_()
