"""Run under ``torchrun --nproc_per_node 2``: TruDi on PointReach with a gloo group on the CPU; rank 0 reports.

Each rank steps its own envs (different seeds, so their data differ); after the iterations the
parameters, buffers and normalizer statistics of every rank must equal rank 0's.
"""

from __future__ import annotations

import json
import sys

import torch
from isaaclab.utils import class_to_dict
from rsl_rl.runners import OnPolicyRunner
from toy_envs import PointReach
from trudi_isaac.agents.trudi_cfg import TruDiRunnerCfg
from trudi_isaac.runners import multi_process

ITERATIONS = 3


def main() -> None:
    multi_process.init_cpu_group()
    multi_process.install()
    rank = multi_process.rank()
    torch.manual_seed(rank)  # different initial weights per rank: the broadcast must align them
    cfg = TruDiRunnerCfg(device="cpu", num_steps_per_env=8)
    cfg.actor.hidden_dims, cfg.critic.hidden_dim = [64, 64], 64
    cfg.algorithm.num_mini_batches = 2
    env = PointReach(num_envs=16, seed=100 + rank)
    runner = OnPolicyRunner(env, class_to_dict(cfg), log_dir=None, device="cpu")
    runner.learn(ITERATIONS)
    alg = runner.alg
    divergence = multi_process.max_rank_divergence([alg.actor, alg.critic, alg.duals])
    if rank == 0:
        report = {
            "divergence": divergence,
            "world_size": multi_process.world_size(),
            "normalizer_count": float(alg.actor.obs_normalizer.count),
            "local_transitions": ITERATIONS * env.num_envs * cfg.num_steps_per_env,
        }
        print("DIST_REPORT " + json.dumps(report))
    sys.stdout.flush()
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
