"""Multi-process training on the CPU (gloo), beside rsl-rl's multi-GPU path (NCCL).

rsl-rl's ``OnPolicyRunner`` starts a NCCL process group and insists on ``cuda:<local_rank>`` as
soon as ``WORLD_SIZE > 1``; Isaac Lab's trainer refuses ``--distributed`` on the CPU. So for CPU
runs under ``torchrun`` this module starts a gloo group itself, before the runner exists, and
:func:`install` makes the runner use that group instead of starting NCCL (the CUDA path is left
as it is). Everything else is the same code path as on GPUs: rank 0 broadcasts the parameters,
TruDi all-reduces its gradients, the observation normalizers all-reduce their statistics, and only
rank 0 logs and saves (rsl-rl's logger).
"""

from __future__ import annotations

import os
from datetime import datetime

import torch
import torch.distributed as dist
from rsl_rl.runners import OnPolicyRunner

_configure_multi_gpu = OnPolicyRunner._configure_multi_gpu


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def init_cpu_group() -> str:
    """Start the gloo process group of a ``torchrun`` job; returns rank 0's run timestamp, shared by all ranks."""
    if not dist.is_initialized():
        dist.init_process_group(backend="gloo", rank=rank(), world_size=world_size())
    stamp = [datetime.now().strftime("%Y-%m-%d_%H-%M-%S")]
    dist.broadcast_object_list(stamp, src=0)
    return stamp[0]


def _configure_multi_process(runner: OnPolicyRunner) -> None:
    """``OnPolicyRunner._configure_multi_gpu`` that accepts a CPU device with an already started gloo group."""
    if not (runner.device == "cpu" and world_size() > 1):
        _configure_multi_gpu(runner)
        return
    if not dist.is_initialized():
        raise RuntimeError("multi-process training on the CPU needs the gloo group started by init_cpu_group()")
    runner.gpu_world_size = world_size()
    runner.is_distributed = True
    runner.gpu_local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    runner.gpu_global_rank = rank()
    runner.cfg["multi_gpu"] = {
        "global_rank": runner.gpu_global_rank,
        "local_rank": runner.gpu_local_rank,
        "world_size": runner.gpu_world_size,
    }


def install() -> None:
    """Let ``OnPolicyRunner`` run multi-process on the CPU (idempotent)."""
    OnPolicyRunner._configure_multi_gpu = _configure_multi_process


@torch.no_grad()
def max_rank_divergence(modules: list[torch.nn.Module]) -> float:
    """Max |x − x_rank0| over all parameters and buffers of ``modules`` (0.0 when the ranks agree)."""
    flat = torch.cat([t.detach().float().flatten().cpu() for m in modules for t in m.state_dict().values()])
    reference = flat.clone()
    dist.broadcast(reference, src=0)
    divergence = (flat - reference).abs().max()
    dist.all_reduce(divergence, op=dist.ReduceOp.MAX)
    return float(divergence)
