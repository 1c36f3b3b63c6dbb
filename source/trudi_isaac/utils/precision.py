"""Mixed precision as rsl-rl's PPO has it (``use_mixed_precision``): bfloat16 autocast over the forward passes and
losses; backward, gradient clipping and optimizer steps in float32; parameters stay float32; no GradScaler (bfloat16
has float32's exponent range)."""

from __future__ import annotations

import contextlib

import torch

MIXED_DTYPE = torch.bfloat16
"""The reduced precision: bfloat16 (float32's range, 8 bits of mantissa), as rsl-rl's PPO."""

CUDA_NATIVE_BF16 = (8, 0)
"""The first CUDA compute capability with bfloat16 tensor cores (Ampere)."""


def native_bf16(device: str) -> tuple[bool, str]:
    """Whether ``device`` multiplies bfloat16 matrices in hardware, and what says so (for the log line): CUDA compute
    capability >= 8.0; a CPU with AMX tiles or AVX-512 BF16 (elsewhere bfloat16 matmuls are converted to float32 and
    run slower than float32 itself)."""
    dev = torch.device(device)
    if dev.type == "cuda":
        capability = torch.cuda.get_device_capability(dev)
        return capability >= CUDA_NATIVE_BF16, f"CUDA compute capability {capability[0]}.{capability[1]}"
    if dev.type == "cpu":
        features = [name for name, has in (("AMX", torch.cpu._is_amx_tile_supported()),
                                           ("AVX-512 BF16", torch.cpu._is_avx512_bf16_supported())) if has]  # fmt: skip
        return bool(features), "this CPU has " + (" and ".join(features) if features else "neither AMX nor AVX-512 BF16")
    return False, f"device type '{dev.type}'"


def resolve_mixed_precision(setting: bool | None, device: str) -> bool:
    """``use_mixed_precision``: True or False as given; None picks bfloat16 where :func:`native_bf16` holds. Prints one
    line saying which precision the run uses and why."""
    native, evidence = native_bf16(device)
    enabled = native if setting is None else bool(setting)
    why = "chosen by the hardware" if setting is None else f"use_mixed_precision={setting}"
    precision = "bfloat16 autocast over forward passes and losses" if enabled else "float32"
    print(f"[TruDi] precision: {precision} ({why}; {evidence}, native bf16: {'yes' if native else 'no'})")
    return enabled


def mixed_precision(device: str, enabled: bool) -> contextlib.AbstractContextManager:
    """The autocast region of a forward pass: bfloat16 matmuls where ``enabled``, else nothing changes. Without
    autocast's cache of cast weights: a CUDA graph captured in the region where its warm-up ran would replay the
    warm-up's cached copies of weights that the optimizer has since changed (a cast costs one pass over a weight, little
    beside the matmuls that use it)."""
    return torch.autocast(torch.device(device).type, dtype=MIXED_DTYPE, enabled=enabled, cache_enabled=False)
