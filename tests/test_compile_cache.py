"""torch.compile's on-disk caches are keyed by the CPU vector ISA (``trudi_isaac.utils.compile_cache``): a kernel that
Inductor wrote and cached for one ``ATEN_CPU_CAPABILITY`` is never built or run under another."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import torch
from test_trudi_core import SMALL, runner_cfg
from toy_envs import PointReach
from trudi_isaac.algorithms.trudi import TruDi
from trudi_isaac.utils.compile_cache import CPU_VEC_ISA_TAG

COMPILE_TIMEOUT_S = 120

COMPILE_AND_CHECK = """
import torch
from trudi_isaac.utils.compile_cache import key_compile_caches_by_cpu_vec_isa

torch.set_num_threads(1)
print(key_compile_caches_by_cpu_vec_isa())
x, w, b = torch.randn(8, 1), torch.randn(32), torch.randn(32)
compiled = torch.compile(lambda x, w, b: torch.cos(x * w + b), fullgraph=True, dynamic=False)
# |cos| <= 1: the two differ by float32 ulps (~1e-7), far inside the default atol 1e-5; a kernel built for
# another vector width writes half of each vector (garbage) or overruns its stack buffers
torch.testing.assert_close(compiled(x, w, b), torch.cos(x * w + b))
"""
"""A fused elementwise kernel over rows of 32 floats, Inductor's C++ vectorized along them; prints the cache tag."""


def test_torch_compile_adds_the_cpu_vec_isa_to_the_cache_key_tag() -> None:
    """TruDi with ``torch_compile`` names Inductor's CPU vector ISA in the tag of every torch.compile cache key,
    beside a tag of the user's own. The tag is set through torch's own ``config.patch``, which restores the unset
    default on exit (pytest's ``monkeypatch`` deletes an attribute it did not find in the module's ``__dict__``, and a
    deleted torch config entry then reads as missing for every later test)."""
    from torch._inductor.cpu_vec_isa import pick_vec_isa  # noqa: PLC0415

    env = PointReach(num_envs=4)
    cfg = runner_cfg("trudi", **SMALL)
    cfg["algorithm"] |= {"gate_form": "masked", "torch_compile": True}
    with torch.compiler.config.patch(cache_key_tag="user_tag"), contextlib.redirect_stdout(io.StringIO()):
        TruDi.construct_algorithm(env.get_observations(), env, cfg, "cpu")
        tag = torch.compiler.config.cache_key_tag
    isa = str(pick_vec_isa()).replace(" ", "+")
    assert tag == f"user_tag,{CPU_VEC_ISA_TAG}{isa}"
    assert torch.compiler.config.cache_key_tag is not None  # still readable after the patch (later tests compile)


def test_a_kernel_cached_under_one_cpu_capability_runs_under_another(tmp_path: Path) -> None:
    """One function compiled in processes that share a TORCHINDUCTOR_CACHE_DIR: with the CPU's best vector ISA,
    with ``ATEN_CPU_CAPABILITY=avx2`` where the best is wider (AVX-512), and with ``default`` (none). Without the ISA
    in the cache keys the later runs find the first one's C++ source: AVX-512 source built for AVX2 dies of SIGSEGV
    or SIGBUS, vectorized source built without a vector ISA does not compile. Each run exits 0 with the eager
    result."""
    env = {key: value for key, value in os.environ.items() if key != "ATEN_CPU_CAPABILITY"}
    env |= {"TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "inductor"), "OMP_NUM_THREADS": "1"}
    capabilities = [None, *(["avx2"] if torch.cpu._is_avx512_supported() else []), "default"]  # the CPU's, not the env's
    tags = []
    for capability in capabilities:
        run_env = env if capability is None else env | {"ATEN_CPU_CAPABILITY": capability}
        run = subprocess.run([sys.executable, "-c", COMPILE_AND_CHECK], env=run_env, capture_output=True, text=True,
                             timeout=COMPILE_TIMEOUT_S)  # fmt: skip
        assert run.returncode == 0, (capability, run.returncode, run.stderr[-3000:])
        tags.append(run.stdout.strip())
    assert tags[0] != tags[-1], tags  # the CPU has a vector ISA: the runs did share a cache across ISAs
