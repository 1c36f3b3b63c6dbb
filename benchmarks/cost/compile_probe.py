#!/usr/bin/env python
"""Does ``torch.compile`` speed up TruDi's update? A short measurement before anyone turns it on.

    python benchmarks/cost/compile_probe.py --obs 60 --actions 8 --batch 1024 --device cpu

Times one actor step of TruDi (``TruDi.actor_loss`` + backward, the update's dominant part) on a
rollout of the batched random env from ``update_cost.py``: eagerly, then with the diffusion actor's
control network compiled (``dynamic=True``: the gate gives each branch a different number of states
every minibatch). The actor takes one update on the rollout first; ε is then set to the minibatch's
median path KL, so half the states take each branch of the gate (Isaac-Ant runs have 40-60 % over
the bound). Prints a JSON line; ``--out`` appends it to a file.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: harness.py and the job folders
from harness import agent_cfg, collect_rollout, sync  # noqa: E402
from cost.update_cost import RandomEnv, emit  # noqa: E402


def time_actor_steps(alg, batch, repeats: int, device: str) -> float:
    """Seconds per actor step (loss + backward), the best of ``repeats`` after two warm-up steps."""
    alpha, beta = alg.duals.alpha.detach(), alg.duals.beta.detach()
    times = []
    for k in range(repeats + 2):
        sync(device)
        start = time.perf_counter()
        alg.actor.zero_grad()
        alg.actor_loss(batch, alpha, beta).loss.backward()
        sync(device)
        if k >= 2:
            times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="Isaac-Ant", help="Whose registered TruDi config to use.")
    parser.add_argument("--agent_cfgs", type=Path, default=None, help="JSON from device_bundle.py (no Isaac Lab needed).")
    parser.add_argument("--obs", type=int, default=60)
    parser.add_argument("--actions", type=int, default=8)
    parser.add_argument("--batch", type=int, default=1024, help="States per minibatch.")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    from rsl_rl.runners import OnPolicyRunner  # noqa: PLC0415

    torch.manual_seed(0)
    steps = 8
    env = RandomEnv(args.batch // steps, args.obs, args.actions, args.device)
    cfg = agent_cfg(args.task, "trudi", args.device, args.agent_cfgs) | {"num_steps_per_env": steps}
    runner = OnPolicyRunner(env, cfg, log_dir=None, device=args.device)
    alg = runner.alg
    alg.train_mode()
    collect_rollout(alg, env, env.get_observations(), steps)
    batch = next(alg.storage.mini_batches(1, 1))  # a shuffled copy of the rollout
    alg.update()  # the actor moves off the policy that collected the batch
    with torch.no_grad():
        alg.trust_region_eps = alg.actor_loss(batch, alg.duals.alpha, alg.duals.beta).kl.median().item()
    eager = time_actor_steps(alg, batch, args.repeats, args.device)
    start = time.perf_counter()
    alg.actor.control.compile(dynamic=True)
    compiled = time_actor_steps(alg, batch, args.repeats, args.device)
    first_call = time.perf_counter() - start  # includes compilation and the warm-up steps
    record = {
        "config": {k: str(v) for k, v in vars(args).items()},
        "torch": torch.__version__,
        "over_bound_frac": 1.0 - alg.actor_loss(batch, alg.duals.alpha, alg.duals.beta).inside.float().mean().item(),
        "eager_s_per_actor_step": eager,
        "compiled_s_per_actor_step": compiled,
        "speedup": eager / compiled,
        "compile_and_warmup_s": first_call,
    }
    emit(record, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
