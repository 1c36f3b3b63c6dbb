"""tanh-Gaussian actor: the one-step chain x_1 = μ_θ(s) + σ_θ ε, a = tanh(x_1).

With it the TruDi update *is* REPPO (TRUDI.md, "One paragraph"): the project's baseline.
σ is a learned state-independent vector, so the step variance is one ``[1, A]`` tensor per rollout,
as for the diffusion chain, and the trust-region KL is the exact Gaussian KL.
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
    """Deterministic tanh-Gaussian policy on normalized observations: ``tanh(μ(s))``."""

    def __init__(self, mlp: nn.Module, action_clip: float) -> None:
        super().__init__()
        self.mlp = mlp
        self.action_clip = action_clip

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.mlp(obs)).clamp(-self.action_clip, self.action_clip)


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
        obs_normalization: bool = True,
        action_scale: float = 1.0,
        action_clip: float = 0.999,
        spread_num_samples: int = 8,
    ) -> None:
        super().__init__(
            obs_groups, obs_dim, action_dim, 1, obs_normalization, action_scale, action_clip, spread_num_samples
        )
        self.mean_net = MLP(obs_dim, action_dim, list(hidden_dims), activation)
        self.log_std = nn.Parameter(torch.full((action_dim,), math.log(init_std)))

    def step_variance(self) -> torch.Tensor:
        return torch.exp(2.0 * self.log_std)[None, :]  # [1, A]

    def step_means(self, obs: torch.Tensor, chain: torch.Tensor) -> torch.Tensor:
        return self.mean_net(obs)[:, None, :]  # [B, 1, A]

    def sample(self, obs: torch.Tensor, noise: torch.Tensor | None = None) -> ChainSample:
        """``noise [B, 2, A]``: slot 0 is unused (x_0 = 0), slot 1 drives x_1."""
        mean = self.mean_net(obs)  # [B, A]
        eps = torch.randn_like(mean) if noise is None else noise[:, 1]
        x1 = mean + torch.exp(self.log_std) * eps
        chain = torch.stack([torch.zeros_like(x1), x1], dim=1)  # [B, 2, A]
        means = mean[:, None, :]  # [B, 1, A]
        return ChainSample(
            actions=self.squash(x1),
            chain=chain,
            means=means,
            log_prob=self.chain_log_prob(chain, means, self.step_variance()),
            prior_log_prob=self.prior_log_prob(chain),
        )

    def reference_log_prob(self, chain: torch.Tensor) -> torch.Tensor:
        return torch.zeros(chain.shape[0], device=chain.device)

    def prior_log_prob(self, chain: torch.Tensor) -> torch.Tensor:
        return torch.zeros(chain.shape[0], device=chain.device)

    def deterministic(self, obs: torch.Tensor) -> torch.Tensor:
        return SquashedMean(self.mean_net, self.action_clip)(obs)

    def export_module(self) -> nn.Module:
        core = SquashedMean(copy.deepcopy(self.mean_net), self.action_clip)
        return ExportedPolicy(copy.deepcopy(self.obs_normalizer), core, self.action_scale)
