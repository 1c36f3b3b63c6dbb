"""Exportable deterministic policy for rsl-rl's ``export_policy_to_jit`` / ``export_policy_to_onnx``."""

from __future__ import annotations

import torch
from torch import nn

from trudi_isaac.modules.obs_normalizer import ObservationNormalizer


class ExportedPolicy(nn.Module):
    """raw concatenated observations ``[B, O]`` → normalizer → deterministic core → action scale ``[B, A]``."""

    is_recurrent: bool = False

    def __init__(self, normalizer: ObservationNormalizer, core: nn.Module, action_scale: float) -> None:
        super().__init__()
        self.normalizer = normalizer
        self.core = core
        self.action_scale = action_scale
        self.input_size = int(normalizer.mean.shape[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.action_scale * self.core(self.normalizer(x))

    @torch.jit.export
    def reset(self) -> None:
        """No recurrent state."""

    def get_dummy_inputs(self) -> tuple[torch.Tensor]:
        return (torch.zeros(1, self.input_size),)

    @property
    @torch.jit.unused
    def input_names(self) -> list[str]:
        return ["obs"]

    @property
    @torch.jit.unused
    def output_names(self) -> list[str]:
        return ["actions"]
