"""How far one update moved the policy: its path KL beside the action KL it bounds (the path KL's excess over the action KL; a diagnostic).

The trust region bounds the path KL c(s) (TRUDI.md, "The trust region"), which by the chain rule of KL upper-bounds
the action KL, KL(π_old(a|s) ‖ π_θ(a|s)). Where the bound is loose, an update that reaches ε on the path moves the
actions by much less, and REPPO, whose "path" is its one Gaussian step, moves them by ε. Both are measured here on
fresh chains of the behaviour policy (the actor before the update), on a few states of the rollout:

    path KL     E_{x ~ π_old(·|s)} Σ_n KL(N(μ_old,n, S_old,n) ‖ N(μ_θ,n, S_θ,n))    (Monte Carlo over K chains)
    action KL   KL(N(m_old, v_old) ‖ N(m_θ, v_θ)) of x_N's moments per action dim     (moment-matched, diagonal)

x_N is the chain's last state, before the squash (the KL is invariant to an invertible squash; the moments are not).
The moment-matched KL is exact for a Gaussian actor and an approximation for the chain's non-Gaussian marginal,
neither a bound nor an estimate with a known bias. The old and new chains share their noise, so the difference of
the two moment sets is estimated from paired samples and stays small when the update is small.
"""

from __future__ import annotations

import torch

from trudi_isaac.algorithms.trajectory_kl import gaussian_kl, trajectory_kl
from trudi_isaac.modules.chain_policy import ChainPolicy


@torch.no_grad()
def update_size(
    old_actor: ChainPolicy,
    new_actor: ChainPolicy,
    obs: torch.Tensor,
    num_samples: int,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean path KL and mean moment-matched action KL over the states ``obs [M, Oa]`` (normalized actor inputs),
    from ``num_samples`` chains per state, their noise drawn from ``generator`` (a training run passes its own, so
    that the diagnostic leaves the run's random stream alone). Returns two 0-dim tensors."""
    num_states = obs.shape[0]
    rows = obs.repeat_interleave(num_samples, dim=0)  # [M·K, Oa]
    noise = torch.randn(rows.shape[0], old_actor.num_steps + 1, old_actor.action_dim, device=obs.device,
                        generator=generator)  # fmt: skip
    old = old_actor.sample(rows, noise)  # chains [M·K, N+1, A]
    new = new_actor.sample(rows, noise)
    new_means, new_var = new_actor.step_moments(rows, old.chain)  # [M·K, N, A], [(M·K,) N, A]
    path_kl = trajectory_kl(old.means, old.var, new_means, new_var)  # [M·K]

    def moments(chain: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        last = chain[:, -1].view(num_states, num_samples, -1).double()  # [M, K, A]
        return last.mean(dim=1), last.var(dim=1).clamp_min(torch.finfo(torch.float32).tiny)  # [M, A] each

    action_kl = gaussian_kl(*moments(old.chain), *moments(new.chain)).sum(dim=-1)  # [M]
    return path_kl.mean(), action_kl.mean().to(path_kl.dtype)
