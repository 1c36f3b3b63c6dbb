"""tanh-Gaussian actor: the one-step chain x_1 = μ_θ(s) + σ_θ ε, a = tanh(x_1).

With it the TruDi update *is* REPPO (TRUDI.md, "One paragraph"): the project's baseline, and the
trust-region KL is the exact Gaussian KL. σ is either a learned state-independent vector (ours: the
step variance is then one ``[1, A]`` tensor per rollout, as for the diffusion chain) or, as in REPPO
proper, state-dependent: one network outputs μ(s) and log σ̃(s), σ(s) = exp(log σ̃(s)) + σ_min, and
the rollout stores one ``[1, A]`` variance per transition.
"""

from __future__ import annotations

import copy
import math

import torch
from rsl_rl.modules import MLP
from torch import nn

from trudi_isaac.modules.chain_policy import ChainPolicy, ChainSample
from trudi_isaac.modules.policy_export import ExportedPolicy
from trudi_isaac.utils.config_checks import GAUSSIAN_ACTOR_RULES


class SquashedMean(nn.Module):
    """Deterministic tanh-Gaussian policy on normalized observations: ``tanh(μ(s))``, μ the first A outputs."""

    def __init__(self, mlp: nn.Module, action_dim: int, action_clip: float) -> None:
        super().__init__()
        self.mlp = mlp
        self.action_dim = action_dim
        self.action_clip = action_clip

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.mlp(obs)[..., : self.action_dim]).clamp(-self.action_clip, self.action_clip)


class GaussianActor(ChainPolicy):
    """Same interface as :class:`DiffusionActor` with N = 1 and no prior or backward terms."""

    config_rules = GAUSSIAN_ACTOR_RULES

    def __init__(
        self,
        obs_groups: list[str],
        obs_dim: int,
        action_dim: int,
        hidden_dims: list[int] = (256, 256, 256),
        activation: str = "elu",
        init_std: float = 1.0,
        state_dependent_sigma: bool = False,
        min_std: float = 0.0,
        obs_normalization: bool = True,
        action_scale: float = 1.0,
        action_clip: float = 0.999,
        spread_num_samples: int = 8,
    ) -> None:
        super().__init__(
            obs_groups, obs_dim, action_dim, 1, obs_normalization, action_scale, action_clip, spread_num_samples
        )
        self.state_dependent_variance = state_dependent_sigma
        self.min_std = min_std
        # μ(s), and with a state-dependent σ also log σ̃(s) in the last A outputs
        outputs = 2 * action_dim if state_dependent_sigma else action_dim
        self.mean_net = MLP(obs_dim, outputs, list(hidden_dims), activation)
        start = math.log(init_std - min_std)  # σ starts at init_std either way
        if state_dependent_sigma:
            nn.init.constant_(self.mean_net[-1].bias[action_dim:], start)
            self.log_std = None
        else:
            self.log_std = nn.Parameter(torch.full((action_dim,), start))

    def _std(self, log_std: torch.Tensor) -> torch.Tensor:
        return torch.exp(log_std) + self.min_std

    def mean_and_std(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """μ(s) ``[B, A]`` and σ = exp(log σ̃) + σ_min: ``[B, A]`` (state-dependent) or ``[A]``."""
        out = self.mean_net(obs).to(obs.dtype)  # [B, A] or [B, 2A]  (float32 under mixed precision: x_1, log σ)
        if self.log_std is not None:
            return out, self._std(self.log_std)
        return out[:, : self.action_dim], self._std(out[:, self.action_dim :])

    def step_variance(self, obs: torch.Tensor) -> torch.Tensor:
        """σ²: ``[1, A]``, or ``[B, 1, A]`` with a state-dependent σ."""
        if self.log_std is not None:
            return self._std(self.log_std).square()[None, :]  # [1, A]
        return self.mean_and_std(obs)[1].square()[:, None, :]  # [B, 1, A]

    def step_means(self, obs: torch.Tensor, chain: torch.Tensor) -> torch.Tensor:
        return self.mean_and_std(obs)[0][:, None, :]  # [B, 1, A]

    def step_moments(self, obs: torch.Tensor, chain: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Means ``[B, 1, A]`` and variance ``[1, A]`` or ``[B, 1, A]`` from one forward of the network."""
        mean, std = self.mean_and_std(obs)
        return mean[:, None, :], std.square()[..., None, :]

    def sample(self, obs: torch.Tensor, noise: torch.Tensor | None = None) -> ChainSample:
        """``noise [B, 2, A]``: slot 0 is unused (x_0 = 0), slot 1 drives x_1."""
        mean, std = self.mean_and_std(obs)  # [B, A], [B, A] or [A]
        eps = torch.randn_like(mean) if noise is None else noise[:, 1]
        x1 = mean + std * eps
        chain = torch.stack([torch.zeros_like(x1), x1], dim=1)  # [B, 2, A]
        means = mean[:, None, :]  # [B, 1, A]
        var = std.square()[..., None, :]  # [B, 1, A] or [1, A]
        return self.chain_sample(x1, chain, means, var)

    def reference_log_prob(self, chain: torch.Tensor) -> torch.Tensor:
        return torch.zeros(chain.shape[0], device=chain.device)

    def prior_log_prob(self, chain: torch.Tensor) -> torch.Tensor:
        return torch.zeros(chain.shape[0], device=chain.device)

    def deterministic(self, obs: torch.Tensor) -> torch.Tensor:
        return SquashedMean(self.mean_net, self.action_dim, self.action_clip)(obs)

    def export_module(self) -> nn.Module:
        core = SquashedMean(copy.deepcopy(self.mean_net), self.action_dim, self.action_clip)
        return ExportedPolicy(copy.deepcopy(self.obs_normalizer), core, self.action_scale)
