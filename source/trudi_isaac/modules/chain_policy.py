"""What TruDi needs from a policy: a chain of Gaussian steps x_0 → … → x_N, then a = scale · tanh(x_N).

Both actors are such chains (TRUDI.md, "The policy"): the diffusion actor has N denoising steps,
the tanh-Gaussian actor is the one-step case (x_1 = μ(s) + σ ε, which makes TruDi REPPO).
Every step is Gaussian given x_n, so a stored chain has an exact density and the trust-region KL is
read off it (:mod:`trudi_isaac.algorithms.trajectory_kl`). The step variances ``[N, A]`` do not depend on
the state (one copy per rollout), except for REPPO's state-dependent σ (``[B, N, A]``, one per transition).

This base class holds what both share: observation selection and normalization (frozen during a
rollout), squashing and scaling, the log-likelihood read off a chain, the rsl-rl model interface
(``forward``, ``output_std``, ``as_jit``/``as_onnx``) and the action spread it logs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from tensordict import TensorDict
from torch import nn

from trudi_isaac.modules.obs_normalizer import ObservationNormalizer

LOG_2PI = math.log(2.0 * math.pi)


@dataclass
class ChainSample:
    """One sampled chain per state."""

    actions: torch.Tensor  # [B, A] squashed actions tanh(x_N) in (-1, 1), before the task's action scale
    chain: torch.Tensor  # [B, N+1, A] x_0 … x_N
    means: torch.Tensor  # [B, N, A] per-step means μ_n
    var: torch.Tensor  # [N, A] per-step variances S_n, or [B, N, A] where they depend on the state
    log_prob: torch.Tensor  # [B] log π̂(a|s)
    prior_log_prob: torch.Tensor  # [B] the part of log π̂ that does not depend on θ (0 for the Gaussian actor)


def gaussian_log_density(x: torch.Tensor, mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    """log N(x; mean, var) summed over the last dim (diagonal)."""
    return -0.5 * ((x - mean).square() / var + torch.log(var) + LOG_2PI).sum(-1)


def tanh_log_det(x: torch.Tensor) -> torch.Tensor:
    """log|det ∂tanh(x)/∂x| summed over the last dim, in a numerically stable form."""
    return (2.0 * (math.log(2.0) - x - nn.functional.softplus(-2.0 * x))).sum(-1)


class ChainPolicy(nn.Module):
    """Base of :class:`DiffusionActor` and :class:`GaussianActor`."""

    is_recurrent: bool = False
    state_dependent_variance: bool = False
    """Whether :meth:`step_variance` depends on the state (the rollout then stores it per transition)."""

    def __init__(
        self,
        obs_groups: list[str],
        obs_dim: int,
        action_dim: int,
        num_steps: int,
        obs_normalization: bool,
        action_scale: float,
        action_clip: float,
        spread_num_samples: int,
    ) -> None:
        super().__init__()
        self.obs_groups = list(obs_groups)
        self.obs_dim = obs_dim
        self.action_dim = action_dim
        self.num_steps = num_steps
        self.action_scale = action_scale
        self.action_clip = action_clip
        self.spread_num_samples = spread_num_samples
        self.obs_normalizer = ObservationNormalizer(obs_dim, enabled=obs_normalization)
        self.register_buffer("_output_std", torch.zeros(action_dim))

    # --- what each actor defines ---------------------------------------------------------------------------------

    def step_variance(self, obs: torch.Tensor) -> torch.Tensor:
        """Per-step variances of the chain at normalized observations ``obs [B, O]``: ``[N, A]``, or ``[B, N, A]``
        where :attr:`state_dependent_variance`."""
        raise NotImplementedError

    def step_means(self, obs: torch.Tensor, chain: torch.Tensor) -> torch.Tensor:
        """Per-step means ``[B, N, A]`` at a given chain ``[B, N+1, A]``: ONE batched forward over all steps."""
        raise NotImplementedError

    def step_moments(self, obs: torch.Tensor, chain: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`step_means` and :meth:`step_variance` together (overridden where one network gives both)."""
        return self.step_means(obs, chain), self.step_variance(obs)

    def sample(self, obs: torch.Tensor, noise: torch.Tensor | None = None) -> ChainSample:
        """Sample a chain (reparameterized: gradients flow through it) for normalized observations ``[B, O]``."""
        raise NotImplementedError

    def deterministic(self, obs: torch.Tensor) -> torch.Tensor:
        """Deterministic squashed actions ``[B, A]`` for normalized observations."""
        raise NotImplementedError

    def reference_log_prob(self, chain: torch.Tensor) -> torch.Tensor:
        """The terms of log π̂ beyond the forward transitions and the squashing (prior, backward kernel); [B]."""
        raise NotImplementedError

    def prior_log_prob(self, chain: torch.Tensor) -> torch.Tensor:
        """The θ-free prior term log N(x_0; 0, σ_p²), left out of the entropy estimate for the α dual; [B]."""
        raise NotImplementedError

    def export_module(self) -> nn.Module:
        """A copy of the deterministic policy (raw concatenated observations → scaled actions) for TorchScript/ONNX."""
        raise NotImplementedError

    def means_at_variance(
        self, chain: torch.Tensor, means: torch.Tensor, var: torch.Tensor, new_var: torch.Tensor
    ) -> torch.Tensor:
        """The per-step means ``[B, N, A]`` that the policy which produced ``means`` at step variances ``var``
        would have with ``new_var`` instead (for the authors' form of the path KL). Default: unchanged."""
        return means

    # --- shared ---------------------------------------------------------------------------------------------------

    def chain_log_prob(self, chain: torch.Tensor, means: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
        """Pseudo log-likelihood read off a chain (TRUDI.md, DIME; exact for the Gaussian actor)::

            log π̂(a|s) = log N(x_0; 0, σ_p²) + Σ_n [ log N(x_{n+1}; μ_n, 2η_n) − log N(x_n; ν_n, 2η_n) ]
                         − log|det ∂tanh(x_N)/∂x_N|
        """
        forward = gaussian_log_density(chain[:, 1:], means, var).sum(-1)  # [B]
        return forward + self.reference_log_prob(chain) - tanh_log_det(chain[:, -1])

    def chain_sample(
        self, x_last: torch.Tensor, chain: torch.Tensor, means: torch.Tensor, var: torch.Tensor
    ) -> ChainSample:
        """A sampled chain ``[B, N+1, A]`` (ending in ``x_last [B, A]``) with its step means and variances, squashed and
        scored."""
        return ChainSample(
            actions=self.squash(x_last),
            chain=chain,
            means=means,
            var=var,
            log_prob=self.chain_log_prob(chain, means, var),
            prior_log_prob=self.prior_log_prob(chain),
        )

    def squash(self, x_last: torch.Tensor) -> torch.Tensor:
        """tanh, clipped to ±action_clip (keeps the critic's input and the env action off ±1)."""
        return torch.tanh(x_last).clamp(-self.action_clip, self.action_clip)

    def select_obs(self, obs: TensorDict) -> torch.Tensor:
        """Concatenate this actor's observation groups: ``[B, O]`` raw observations."""
        return torch.cat([obs[group] for group in self.obs_groups], dim=-1)

    def forward(self, obs: TensorDict, stochastic_output: bool = False, **_: object) -> torch.Tensor:
        """rsl-rl model interface: env-scaled actions, deterministic unless ``stochastic_output``."""
        x = self.obs_normalizer(self.select_obs(obs))
        unit = self.sample(x).actions if stochastic_output else self.deterministic(x)
        return self.action_scale * unit

    def reset(self, dones: torch.Tensor | None = None, hidden_state: object = None) -> None:
        """No recurrent state."""

    def get_hidden_state(self) -> None:
        return None

    @torch.no_grad()
    def update_action_spread(self, obs: torch.Tensor) -> None:
        """Per-dimension spread of the action distribution, for rsl-rl's ``Policy/mean_std``.

        The std of several sampled actions *at the same state* (env-scaled), averaged over ``obs [B, O]``.
        """
        k = self.spread_num_samples
        repeated = obs.repeat_interleave(k, dim=0)  # [B*k, O]
        actions = self.action_scale * self.sample(repeated).actions.view(obs.shape[0], k, self.action_dim)
        self._output_std.copy_(actions.std(dim=1).mean(0))

    @property
    def output_std(self) -> torch.Tensor:
        """Spread of the action distribution per action dim ``[A]`` (see :meth:`update_action_spread`)."""
        return self._output_std

    def as_jit(self) -> nn.Module:
        return self.export_module()

    def as_onnx(self, verbose: bool = False) -> nn.Module:
        return self.export_module()
