"""Reward scale from the RMS of the running discounted return, so one critic support fits every task.

The critic's categorical support [v_min, v_max] must fit the return scale (TRUDI.md, "Pitfalls": a
wrong range silently clips targets), and Isaac Lab's returns range from ~1 (Cartpole, rewards × dt)
to hundreds. Dividing rewards by sqrt(E[R²]) of the per-env discounted return
R_t = γ R_{t-1} + r_t keeps the scaled returns of order one on every task. (RMS, not std: as a
policy converges its returns stop varying, and a std would shrink towards zero.)

Statistics accumulate during a rollout and are merged before its returns are computed; under
``torch.distributed`` the sums are all-reduced so every rank uses the same scale.
"""

from __future__ import annotations

import torch
from torch import nn


class RewardNormalizer(nn.Module):
    """``scale()`` = sqrt(mean R²) over all env steps seen (1 before any)."""

    def __init__(self, num_envs: int, gamma: float, eps: float = 1e-8, enabled: bool = True) -> None:
        super().__init__()
        self.gamma, self.eps, self.enabled = gamma, eps, enabled
        self.register_buffer("mean_square", torch.ones((), dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("_running_return", torch.zeros(num_envs, dtype=torch.float64), persistent=False)
        self.register_buffer("_pending", torch.zeros(2, dtype=torch.float64), persistent=False)  # Σ R², n

    @torch.no_grad()
    def observe(self, rewards: torch.Tensor, dones: torch.Tensor) -> None:
        """One env step: ``rewards``, ``dones`` of shape ``[E]``."""
        if not self.enabled:
            return
        self._running_return.mul_(self.gamma).add_(rewards.double())
        self._pending[0] += self._running_return.square().sum()
        self._pending[1] += rewards.numel()
        self._running_return[dones.bool()] = 0.0

    @torch.no_grad()
    def commit(self) -> None:
        """Merge the pending sums into the statistics (all ranks alike)."""
        if not self.enabled:
            return
        pending = self._pending.clone()
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(pending)
        total_sq, n = pending[0], pending[1]
        if n > 0:
            count = self.count + n
            self.mean_square.copy_((self.mean_square * self.count + total_sq) / count)
            self.count.copy_(count)
        self._pending.zero_()

    def scale(self) -> float:
        if not self.enabled or self.count == 0:
            return 1.0
        return float(torch.sqrt(self.mean_square + self.eps))
