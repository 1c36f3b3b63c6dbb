"""torch.compile's on-disk caches, keyed by the CPU vector instruction set that Inductor writes C++ kernels for."""

from __future__ import annotations

import torch

CPU_VEC_ISA_TAG = "cpu_vec_isa="
"""The prefix of this module's part of ``torch.compiler.config.cache_key_tag`` (comma-separated parts)."""


def key_compile_caches_by_cpu_vec_isa() -> str:
    """Add the CPU vector ISA that Inductor generates code for (e.g. ``avx512``, ``avx2``; ``ATEN_CPU_CAPABILITY``
    selects it) to ``torch.compiler.config.cache_key_tag``, which every torch.compile cache key includes. Returns
    the tag; other parts of it (a user's own tag) are kept.

    Inductor's FX graph and AOTAutograd cache keys leave the ISA out, yet the C++ source they cache is written for
    it (loops over 16-float vectors for AVX-512). A run under another ISA that shares ``TORCHINDUCTOR_CACHE_DIR``
    (by default ``/tmp/torchinductor_<user>``; e.g. ``ATEN_CPU_CAPABILITY=avx2`` after a default run on an AVX-512
    CPU) hits that entry and builds its source with its own flags: AVX2's 8-float ``Vectorized<float>::loadu(ptr,
    16)`` copies 16 floats into an 8-float stack buffer (the process dies of SIGSEGV or SIGBUS) and ``store`` writes
    half of each vector; without a vector ISA (``ATEN_CPU_CAPABILITY=default``) the source does not compile.
    """
    from torch._inductor.cpu_vec_isa import pick_vec_isa  # noqa: PLC0415  (Inductor: imported when compiling only)

    own = CPU_VEC_ISA_TAG + str(pick_vec_isa()).replace(" ", "+")
    tag = torch.compiler.config.cache_key_tag
    others = [part for part in tag.split(",") if part and not part.startswith(CPU_VEC_ISA_TAG)]
    torch.compiler.config.cache_key_tag = ",".join([*others, own])
    return torch.compiler.config.cache_key_tag
