"""HL-Gauss categorical encoding of scalar values (Farebrother et al., 2024).

See /work/shared/TRUDI.md, "The update" -> "Critic": `num_atoms` atoms evenly spaced on
[v_min, v_max]; a scalar target is clipped to that range, smeared by a Gaussian of width
sigma = sigma_ratio x bin width over bins whose edges extend half a bin past both ends,
and renormalized. Decoding takes the expected value of the atoms under softmax(logits).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

#: sigma = DEFAULT_SIGMA_RATIO x bin width (TRUDI.md, "Critic").
DEFAULT_SIGMA_RATIO = 0.75
#: Smallest total probability mass accepted when renormalizing (guards a division by 0;
#: a clipped value always lies inside the edges, so the real mass is >= ~0.5).
MIN_TOTAL_MASS = 1e-12


class HLGauss(nn.Module):
    """HL-Gauss histogram encoder/decoder over evenly spaced atoms.

    Buffers (move with `.to(device)`, saved in the state dict):
        atoms: [num_atoms] bin centres, evenly spaced on [v_min, v_max].
        edges: [num_atoms + 1] bin edges, from v_min - w/2 to v_max + w/2 (w = bin width).
    """

    atoms: Tensor
    edges: Tensor

    def __init__(
        self,
        num_atoms: int,
        v_min: float,
        v_max: float,
        sigma_ratio: float = DEFAULT_SIGMA_RATIO,
    ) -> None:
        super().__init__()
        if num_atoms < 2:
            raise ValueError(f"num_atoms must be >= 2, got {num_atoms}")
        if not v_max > v_min:
            raise ValueError(f"need v_max > v_min, got [{v_min}, {v_max}]")
        if not sigma_ratio > 0.0:
            raise ValueError(f"sigma_ratio must be > 0, got {sigma_ratio}")
        self.num_atoms = int(num_atoms)
        self.v_min = float(v_min)
        self.v_max = float(v_max)
        self.sigma_ratio = float(sigma_ratio)
        self.bin_width = (self.v_max - self.v_min) / (self.num_atoms - 1)
        self.sigma = self.sigma_ratio * self.bin_width
        half = 0.5 * self.bin_width
        self.register_buffer("atoms", torch.linspace(self.v_min, self.v_max, self.num_atoms))
        self.register_buffer(
            "edges", torch.linspace(self.v_min - half, self.v_max + half, self.num_atoms + 1)
        )

    def encode(self, values: Tensor) -> Tensor:
        """Target probabilities of scalar `values` [...] -> [..., num_atoms] (rows sum to 1)."""
        x = values.to(self.edges.dtype).clamp(self.v_min, self.v_max).unsqueeze(-1)  # [..., 1]
        # Gaussian CDF at every edge, up to the constant 1/2 that cancels in differences.
        cdf = torch.erf((self.edges - x) / (self.sigma * math.sqrt(2.0)))  # [..., num_atoms + 1]
        mass = cdf[..., 1:] - cdf[..., :-1]  # [..., num_atoms]
        total = (cdf[..., -1:] - cdf[..., :1]).clamp_min(MIN_TOTAL_MASS)  # [..., 1]
        return mass / total  # [..., num_atoms]

    def decode_probs(self, probs: Tensor) -> Tensor:
        """Expected value of the atoms under `probs` [..., num_atoms] -> [...]."""
        return (probs * self.atoms).sum(-1)

    def decode(self, logits: Tensor) -> Tensor:
        """Expected value of the atoms under softmax(`logits`) [..., num_atoms] -> [...]."""
        return self.decode_probs(torch.softmax(logits, dim=-1))

    def extra_repr(self) -> str:
        return (
            f"num_atoms={self.num_atoms}, v_min={self.v_min}, v_max={self.v_max}, "
            f"sigma_ratio={self.sigma_ratio}"
        )
