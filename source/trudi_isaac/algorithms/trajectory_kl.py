"""KL between two denoising chains evaluated at one stored trajectory (TRUDI.md, "The trust region").

    c(s) = Σ_n KL( N(μ_old,n, S_old,n) ‖ N(μ_θ,n, S_θ,n) )          S = 2η, diagonal

By the chain rule of KL this upper-bounds KL(π_old(a|s) ‖ π_θ(a|s)). Computed in float32 at least (float64 stays).
"""

from __future__ import annotations

import torch


def gaussian_kl(mean_p: torch.Tensor, var_p: torch.Tensor, mean_q: torch.Tensor, var_q: torch.Tensor) -> torch.Tensor:
    """Element-wise KL(N(mean_p, var_p) ‖ N(mean_q, var_q)) of diagonal Gaussians (broadcasting)."""
    return 0.5 * (torch.log(var_q / var_p) + (var_p + (mean_p - mean_q).square()) / var_q - 1.0)


def trajectory_kl(
    old_means: torch.Tensor,
    old_var: torch.Tensor,
    new_means: torch.Tensor,
    new_var: torch.Tensor,
    mean_only: bool = False,
) -> torch.Tensor:
    """Path KL per state: sum over denoising steps and action dims.

    Args:
        old_means, new_means: per-step means ``[B, N, A]`` of the behaviour and current chain at the stored x_n.
        old_var, new_var: per-step variances ``[N, A]`` (state-independent) or ``[B, N, A]``.
        mean_only: variance terms left out, i.e. ``Σ (μ_old - μ_θ)² / (2 S_θ)``. With ``old_means`` rebuilt at the
            current variances (``ChainPolicy.means_at_variance``) this is the authors' quantity, which never
            charges a change of dt or friction.

    Returns:
        ``[B]`` the path KL c(s).
    """
    dtype = torch.promote_types(new_means.dtype, torch.float32)  # at least float32, whatever the network runs in
    old_means, new_means, old_var, new_var = (x.to(dtype) for x in (old_means, new_means, old_var, new_var))
    if mean_only:
        per_dim = 0.5 * (old_means - new_means).square() / new_var  # [B, N, A]
    else:
        per_dim = gaussian_kl(old_means, old_var, new_means, new_var)  # [B, N, A]
    return per_dim.sum(dim=(-2, -1))  # [B]
