"""The diffusion actor: an N-step stochastic denoising chain (TRUDI.md, "The policy: a denoising chain").

    x_0 ~ N(0, σ_p² I)
    η_n      = dt_n / φ                                               dt_n > 0 per step, φ > 0 per action dim
    μ_θ,n    = x_n + η_n ⊙ ( −x_n / σ_p² + f_θ(x_n, s, n) )
    x_{n+1}  = μ_θ,n + sqrt(2 η_n) ⊙ ε_n
    a        = tanh(x_N)                                              then the task's action scale

Deployment runs the probability-flow ODE: the same recursion without noise, control scaled by c,
from x_0 = 0 (fully deterministic, exportable — our choice) or x_0 ~ prior (the authors').
"""

from __future__ import annotations

import copy
import math

import torch
from rsl_rl.utils import resolve_nn_activation
from torch import nn

from trudi_isaac.modules.chain_policy import ChainPolicy, ChainSample, gaussian_log_density
from trudi_isaac.modules.policy_export import ExportedPolicy
from trudi_isaac.utils.config_checks import DIFFUSION_ACTOR_RULES


def cosine_dt_schedule(num_steps: int, dt_start: float) -> torch.Tensor:
    """dt_n = dt_start · cos²(π n / 2N): 0.125, 0.120, 0.106, 0.086, 0.062, 0.038, 0.018, 0.005 for N = 8."""
    n = torch.arange(num_steps, dtype=torch.float32)
    return dt_start * torch.cos(0.5 * math.pi * n / num_steps).square()


def inverse_softplus(y: torch.Tensor) -> torch.Tensor:
    """x with softplus(x) = y (y > 0)."""
    return y + torch.log(-torch.expm1(-y))


class FourierTimeEmbedding(nn.Module):
    """Step index → Fourier features (log-spaced frequencies, learnable phase) → small embedding."""

    def __init__(self, num_features: int, embed_dim: int, freq_min: float, freq_max: float, activation: str) -> None:
        super().__init__()
        self.register_buffer("freqs", torch.logspace(math.log10(freq_min), math.log10(freq_max), num_features))
        self.phase = nn.Parameter(torch.zeros(num_features))
        self.proj = nn.Sequential(nn.Linear(num_features, embed_dim), resolve_nn_activation(activation))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """``t [N]`` in [0, 1) → ``[N, embed_dim]``."""
        return self.proj(torch.cos(t[:, None] * self.freqs + self.phase))


class DenoisingControl(nn.Module):
    """The learned control f_θ(x_n, s, n): an MLP of (x_n, normalized observation, time embedding of n).

    Its first layer is split by input — W_s s + W_x x_n + W_t e_n — which equals one linear layer on the
    concatenation, but lets the observation part be computed once per chain instead of once per step.
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        hidden_dims: list[int],
        activation: str,
        time_embed_dim: int,
        output_init_scale: float,
        output_clip: float,
    ) -> None:
        super().__init__()
        width = hidden_dims[0]
        self.obs_proj = nn.Linear(obs_dim, width)
        self.x_proj = nn.Linear(action_dim, width, bias=False)
        self.time_proj = nn.Linear(time_embed_dim, width, bias=False)
        layers: list[nn.Module] = [resolve_nn_activation(activation)]
        for d_in, d_out in zip(hidden_dims[:-1], hidden_dims[1:]):
            layers += [nn.Linear(d_in, d_out), resolve_nn_activation(activation)]
        out = nn.Linear(hidden_dims[-1], action_dim)
        with torch.no_grad():  # the untrained chain samples the prior
            out.weight.mul_(output_init_scale)
            out.bias.zero_()
        self.tail = nn.Sequential(*layers, out)
        self.output_clip = output_clip

    def obs_features(self, obs: torch.Tensor) -> torch.Tensor:
        """``[..., O]`` → ``[..., H]``: the observation's share of the first layer."""
        return self.obs_proj(obs)

    def forward(self, obs_features: torch.Tensor, x: torch.Tensor, time_features: torch.Tensor) -> torch.Tensor:
        """f_θ from ``obs_features [..., H]``, ``x [..., A]`` and ``time_features [..., H]`` (broadcasting), in x's
        dtype: under mixed precision the network runs in bfloat16 and the chain's recursion stays float32."""
        f = self.tail(obs_features + self.x_proj(x) + time_features).to(x.dtype)
        # clamp's values; its backward is one kernel (clamp's is five) and passes no gradient at exactly ±clip
        return nn.functional.hardtanh(f, -self.output_clip, self.output_clip)


class DeterministicChain(nn.Module):
    """Probability-flow ODE: μ-recursion without noise, control scaled by c. Returns squashed actions.

    Shared by the eager deterministic policy and the TorchScript/ONNX export (the loop unrolls there).
    """

    def __init__(
        self,
        control: DenoisingControl,
        eta: torch.Tensor,
        time_features: torch.Tensor,
        prior_var: float,
        control_scale: float,
        prior_std_start: float,
        action_clip: float,
    ) -> None:
        super().__init__()
        self.control = control
        self.register_buffer("eta", eta)  # [N, A]
        self.register_buffer("time_features", time_features)  # [N, H]
        self.prior_var = prior_var
        self.control_scale = control_scale
        self.prior_std_start = prior_std_start  # 0: start at x_0 = 0
        self.action_clip = action_clip
        self.num_steps = int(eta.shape[0])

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        h = self.control.obs_features(obs)  # [B, H]
        x = torch.zeros(obs.shape[0], self.eta.shape[1], device=obs.device, dtype=obs.dtype)  # [B, A]
        if self.prior_std_start > 0.0:
            x = x + self.prior_std_start * torch.randn_like(x)
        for n in range(self.num_steps):
            f = self.control(h, x, self.time_features[n])
            x = x + self.eta[n] * (-x / self.prior_var + self.control_scale * f)
        return torch.tanh(x).clamp(-self.action_clip, self.action_clip)


class DiffusionActor(ChainPolicy):
    """DIME-style diffusion policy with learned per-step dt and per-dimension friction φ."""

    config_rules = DIFFUSION_ACTOR_RULES

    def __init__(
        self,
        obs_groups: list[str],
        obs_dim: int,
        action_dim: int,
        num_steps: int = 8,
        prior_std: float = 2.5,
        hidden_dims: list[int] = (256, 256, 256, 256),
        activation: str = "gelu",
        num_time_features: int = 32,
        time_embed_dim: int = 16,
        time_freq_min: float = 0.1,
        time_freq_max: float = 100.0,
        output_init_scale: float = 1e-8,
        control_clip: float = 100.0,
        friction_init: float = 1.0,
        dt_start: float = 0.125,
        learn_dt: bool = True,
        ode_control_scale: float = 1.0,
        deterministic_start: str = "zero",
        obs_normalization: bool = True,
        action_scale: float = 1.0,
        action_clip: float = 0.999,
        spread_num_samples: int = 8,
    ) -> None:
        super().__init__(
            obs_groups, obs_dim, action_dim, num_steps, obs_normalization, action_scale, action_clip, spread_num_samples
        )
        self.prior_std = prior_std
        self.prior_var = prior_std**2
        self.ode_control_scale = ode_control_scale
        self.deterministic_start = deterministic_start
        self.time_embedding = FourierTimeEmbedding(
            num_time_features, time_embed_dim, time_freq_min, time_freq_max, activation
        )
        self.control = DenoisingControl(
            obs_dim, action_dim, list(hidden_dims), activation, time_embed_dim, output_init_scale, control_clip
        )
        self.register_buffer("step_times", torch.arange(num_steps, dtype=torch.float32) / num_steps)  # [N]
        raw_dt = inverse_softplus(cosine_dt_schedule(num_steps, dt_start))  # [N]
        if learn_dt:
            self.raw_dt = nn.Parameter(raw_dt)
        else:
            self.register_buffer("raw_dt", raw_dt)
        self.raw_friction = nn.Parameter(inverse_softplus(torch.full((action_dim,), friction_init)))

    # --- chain coefficients ---------------------------------------------------------------------------------------

    def eta(self) -> torch.Tensor:
        """η_n = dt_n / φ: ``[N, A]``."""
        dt = nn.functional.softplus(self.raw_dt)  # [N]
        friction = nn.functional.softplus(self.raw_friction)  # [A]
        return dt[:, None] / friction[None, :]

    def drift_coefficients(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(1 − η_n / σ_p², η_n)``, ``[N, A]`` each, for the drift in the form the chain computes (two kernels a step
        instead of five): μ_θ,n = x_n + η_n ⊙ (−x_n / σ_p² + f) = (1 − η_n / σ_p²) ⊙ x_n + η_n ⊙ f."""
        eta = self.eta()
        return 1.0 - eta / self.prior_var, eta

    def step_variance(self, obs: torch.Tensor) -> torch.Tensor:
        """S_n = 2η_n: ``[N, A]``, the same at every state."""
        return 2.0 * self.eta()

    def time_features(self) -> torch.Tensor:
        """The time embedding's share of the control's first layer: ``[N, H]``."""
        return self.control.time_proj(self.time_embedding(self.step_times))

    # --- the chain ------------------------------------------------------------------------------------------------

    def step_means(self, obs: torch.Tensor, chain: torch.Tensor) -> torch.Tensor:
        """μ_θ,n at the stored x_0 … x_{N-1} for all n in one batched forward: ``[B, N, A]``."""
        x = chain[:, :-1]  # [B, N, A]
        h = self.control.obs_features(obs)[:, None, :]  # [B, 1, H]
        f = self.control(h, x, self.time_features())  # [B, N, A]
        decay, eta = self.drift_coefficients()  # [N, A]
        return torch.addcmul(x * decay, eta, f)

    def means_at_variance(
        self, chain: torch.Tensor, means: torch.Tensor, var: torch.Tensor, new_var: torch.Tensor
    ) -> torch.Tensor:
        """μ_n − x_n = η_n ⊙ (−x_n / σ_p² + f(x_n, s, n)) is proportional to η_n = S_n / 2: rescale it."""
        x = chain[:, :-1]  # [B, N, A]
        return x + (means - x) * (new_var / var)

    def sample(self, obs: torch.Tensor, noise: torch.Tensor | None = None) -> ChainSample:
        """SDE chain for ``obs [B, O]``; ``noise [B, N+1, A]`` (x_0's standard noise, then ε_0 … ε_{N-1})."""
        batch = obs.shape[0]
        if noise is None:
            noise = torch.randn(batch, self.num_steps + 1, self.action_dim, device=obs.device)
        decay, eta = self.drift_coefficients()  # [N, A] each
        var = 2.0 * eta  # [N, A]
        h = self.control.obs_features(obs)  # [B, H]
        kicks = noise[:, 1:] * var.sqrt()  # [B, N, A]  sqrt(2η_n) ⊙ ε_n, all steps at once
        x = self.prior_std * noise[:, 0]  # [B, A]
        xs, means = [x], []
        # per-step rows by unbind: its backward is one stack, where indexing [n] costs a zero-fill and a copy per step
        steps = zip(self.time_features().unbind(0), decay.unbind(0), eta.unbind(0), kicks.unbind(1))
        for time_features, decay_n, eta_n, kick in steps:
            mean = torch.addcmul(x * decay_n, eta_n, self.control(h, x, time_features))  # μ_θ,n  [B, A]
            x = mean + kick
            xs.append(x)
            means.append(mean)
        chain, means = torch.stack(xs, dim=1), torch.stack(means, dim=1)  # [B, N+1, A], [B, N, A]
        return self.chain_sample(x, chain, means, var)

    def prior_log_prob(self, chain: torch.Tensor) -> torch.Tensor:
        x0 = chain[:, 0]
        return gaussian_log_density(x0, torch.zeros_like(x0), torch.full_like(x0, self.prior_var))

    def reference_log_prob(self, chain: torch.Tensor) -> torch.Tensor:
        """log N(x_0; 0, σ_p²) − Σ_n log N(x_n; ν_n, 2η_n), with ν_n = x_{n+1} + η_n ⊙ (−x_{n+1} / σ_p²)."""
        eta = self.eta()  # [N, A]
        x_next = chain[:, 1:]  # [B, N, A]
        backward_mean = x_next + eta * (-x_next / self.prior_var)
        backward = gaussian_log_density(chain[:, :-1], backward_mean, 2.0 * eta).sum(-1)  # [B]
        return self.prior_log_prob(chain) - backward

    # --- deployment -----------------------------------------------------------------------------------------------

    def deterministic_chain(self, detach: bool = False) -> DeterministicChain:
        """The ODE sampler over this actor's current parameters (copied when ``detach``, for export)."""
        control = copy.deepcopy(self.control) if detach else self.control
        start_std = self.prior_std if self.deterministic_start == "prior" and not detach else 0.0
        return DeterministicChain(
            control,
            self.eta().detach(),
            self.time_features().detach(),
            self.prior_var,
            self.ode_control_scale,
            start_std,
            self.action_clip,
        )

    def deterministic(self, obs: torch.Tensor) -> torch.Tensor:
        return self.deterministic_chain()(obs)

    def export_module(self) -> nn.Module:
        """Deterministic ODE policy from x_0 = 0, whatever ``deterministic_start`` says (an export must be a function)."""
        return ExportedPolicy(copy.deepcopy(self.obs_normalizer), self.deterministic_chain(detach=True), self.action_scale)
