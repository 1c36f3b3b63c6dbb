#!/usr/bin/env python
"""Kernels in one minibatch step of TruDi's masked update, eager against ``torch_compile``, counted on the CPU.

    python benchmarks/cost/step_kernels.py --out benchmarks/results/step_kernels.jsonl

On a GPU the step is bound by kernel launches, and inside a CUDA graph each kernel still costs a few microseconds,
so the number of kernels is what the compiled step can save. This counts, in one minibatch step (no GPU needed):

* ``eager_ops``: the compute ops the eager step dispatches (:mod:`op_count`, about one kernel each on a GPU);
* ``compiled_region_eager_ops``: those of them inside what ``torch_compile`` compiles: the critic's and the masked
  actor's loss functions, forward and backward, and the η-only KL statistic;
* ``compiled_region_kernels``: the kernels the compiled code of those regions runs (Inductor's fused kernels and its
  calls to external matmul kernels; on the CPU here, C++ kernels: a proxy for the GPU's Triton ones);
* ``compiled_step_kernels``: the step's kernels with ``torch_compile``, ``eager_ops`` − region ops + region kernels.

The algorithm runs on a random env of a task's sizes (``update_cost.py``'s) with the registered config.
Prints a JSON line; ``--out`` appends it to a file.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
import torch._inductor.config  # noqa: E402
from torch._inductor.utils import run_and_get_code  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: harness.py and the job folders
from harness import agent_cfg, collect_rollout, timed_iteration  # noqa: E402
from cost.op_count import OpCount  # noqa: E402
from cost.update_cost import RandomEnv, add_random_env_arguments, emit  # noqa: E402

COMPILED_REGIONS = ("_critic_losses", "_masked_actor_terms", "_eta_only_kl")
"""The methods ``torch_compile`` compiles in the update (TruDi's ``__init__``); their backward is compiled with them."""
KERNEL_CALL = re.compile(r"\b(?:cpp_fused_\w+|triton_\w+\.run|extern_kernels\.\w+|torch\.ops\.\w+\.\w+(?:\.\w+)?)\(")
"""A kernel launch in Inductor's generated wrapper code: a fused C++ or Triton kernel, an external (matmul) one, or a
fallback to an ATen op."""


def step_ready(args: argparse.Namespace, torch_compile: bool):
    """TruDi with the masked gate after one iteration and one more rollout, its step inputs sized and filled."""
    from rsl_rl.runners import OnPolicyRunner  # noqa: PLC0415

    torch.manual_seed(0)
    env = RandomEnv(args.num_envs, args.obs, args.actions, "cpu")
    cfg = agent_cfg(args.task, "trudi", "cpu", args.agent_cfgs) | {"num_steps_per_env": args.steps}
    cfg["algorithm"] |= {"gate_form": "masked"} | ({"torch_compile": True} if torch_compile else {})  # older code: no field
    alg = OnPolicyRunner(env, cfg, log_dir=None, device="cpu").alg
    alg.train_mode()
    obs, _, _ = timed_iteration(alg, env, env.get_observations(), args.steps, "cpu")
    timed_iteration(alg, env, obs, args.steps, "cpu")  # a second update: the duals and the gate have moved
    collect_rollout(alg, env, obs, args.steps)
    alg._size_step_inputs(alg.storage.num_envs * alg.storage.num_steps // alg.num_mini_batches)
    alg._idx.copy_(next(iter(alg.storage.mini_batch_indices(alg.num_mini_batches, 1))))
    alg._noise.normal_()
    return alg


def eager_counts(args: argparse.Namespace) -> dict:
    """The eager step's ops, and (unless ``--eager_only``: older code has no such regions) those inside the compiled
    regions: their forward calls and the first two backward passes, the critic's and the actor's (the duals' is the
    third)."""
    alg = step_ready(args, torch_compile=False)
    total, region = OpCount(), OpCount()
    if args.eager_only:
        with total:
            alg._minibatch_step()
        return {"eager_ops": total.total, "eager_top": dict(total.by_name.most_common(10))}

    def counted(fn):
        def call(*inputs):
            with region:
                return fn(*inputs)

        return call

    for name in COMPILED_REGIONS:
        setattr(alg, name, counted(getattr(alg, name)))
    backward, passes = torch.Tensor.backward, []

    def counted_backward(tensor, *rest, **kw):
        passes.append(tensor)
        if len(passes) > 2:
            return backward(tensor, *rest, **kw)
        with region:
            return backward(tensor, *rest, **kw)

    torch.Tensor.backward = counted_backward
    try:
        with total:
            alg._minibatch_step()
    finally:
        torch.Tensor.backward = backward
    return {"eager_ops": total.total, "compiled_region_eager_ops": region.total,
            "eager_top": dict(total.by_name.most_common(10))}  # fmt: skip


def compiled_kernels(args: argparse.Namespace) -> dict:
    """The kernel launches in the compiled regions' generated code (forward and backward graphs)."""
    alg = step_ready(args, torch_compile=True)  # the collection chain compiled during the rollout
    _, codes = run_and_get_code(alg._minibatch_step)  # resets Dynamo first: the step's regions compile here
    calls = [len(KERNEL_CALL.findall(code.split("def call(", 1)[-1])) for code in codes]
    return {"compiled_region_kernels": sum(calls), "compiled_graphs": len(codes), "kernels_per_graph": calls}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_random_env_arguments(parser, num_envs=64, steps=24)
    parser.add_argument("--eager_only", action="store_true", help="Only the eager count (e.g. of code before torch_compile).")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    torch._inductor.config.fx_graph_cache = False  # generate the code (a cache hit would skip it)
    counts = eager_counts(args)
    if not args.eager_only:
        counts |= compiled_kernels(args)
        counts["compiled_step_kernels"] = (
            counts["eager_ops"] - counts["compiled_region_eager_ops"] + counts["compiled_region_kernels"]
        )
    record = {"config": vars(args) | {"out": None, "agent_cfgs": None}, "torch": torch.__version__, "counts": counts}
    emit(record, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
