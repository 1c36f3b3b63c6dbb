#!/usr/bin/env python
"""The benchmark grid on a batched torch env, for a GPU machine where Isaac Lab cannot be installed.

    python benchmarks/device/torch_grid.py --device cuda --num_envs 4096 --iterations 150 --eval_every 10 --seeds 0 1 2

Trains rsl-rl PPO, TruDi and REPPO with Isaac-Cartpole's registered agent configs on
``torch_cartpole.TorchCartpole`` (Isaac-Cartpole's MDP on textbook dynamics) and writes one JSON
per run, in ``run_grid.py``'s format, to ``<results>/TorchCartpole/<algo>_s<seed>_<tag>.json``
(``summarize.py`` makes it a grid of its own). Each iteration is timed in two parts (collection,
update); the deterministic policy is evaluated on separate envs every ``--eval_every`` iterations.
A finished run is skipped, so a grid cut off by a time limit resumes where it stopped.
Without Isaac Lab, pass the configs that ``device_bundle.py`` wrote: ``--agent_cfgs FILE``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: harness.py and the job folders
from harness import ALGOS, agent_cfg, apply_override, parse_override, timed_iteration  # noqa: E402
from learning.evaluate_checkpoints import storage_bytes  # noqa: E402
from device.torch_cartpole import TorchCartpole  # noqa: E402

TASK = "TorchCartpole"
CFG_TASK = "Isaac-Cartpole"
"""Whose registered agent configs the runs use."""
EVAL_SEED_OFFSET = 10_000


class EpisodeReturns:
    """Mean return of the training episodes that ended (the sampling policy's, like rsl-rl's ``Train/mean_reward``)."""

    def __init__(self, num_envs: int, device: str) -> None:
        self.running = torch.zeros(num_envs, device=device)
        self.finished_sum = torch.zeros((), device=device)
        self.finished_count = torch.zeros((), device=device)

    def __call__(self, rewards: torch.Tensor, dones: torch.Tensor) -> None:
        self.running += rewards
        self.finished_sum += self.running[dones].sum()
        self.finished_count += dones.sum()
        self.running[dones] = 0.0

    def pop_mean(self) -> float:
        """The mean over the episodes ended since the last call (NaN if none)."""
        mean = (self.finished_sum / self.finished_count).item()
        self.finished_sum.zero_()
        self.finished_count.zero_()
        return mean


def train(algo: str, seed: int, args: argparse.Namespace) -> dict:
    from rsl_rl.runners import OnPolicyRunner  # noqa: PLC0415
    from trudi_isaac.cli.play import evaluate  # noqa: PLC0415

    torch.manual_seed(seed)
    env = TorchCartpole(args.num_envs, args.device, seed)
    eval_env = TorchCartpole(args.eval_envs, args.device, seed + EVAL_SEED_OFFSET)
    cfg = agent_cfg(CFG_TASK, algo, args.device, args.agent_cfgs) | {"save_interval": 10**9}
    for key, value in args.overrides:
        apply_override(cfg, key, value)
    steps = cfg["num_steps_per_env"]
    runner = OnPolicyRunner(env, cfg, log_dir=None, device=args.device)
    env.episode_length_buf = torch.randint_like(env.episode_length_buf, env.max_episode_length)  # desynchronized starts
    alg = runner.alg
    train_returns = EpisodeReturns(args.num_envs, args.device)
    obs = env.get_observations()
    run = {"task": TASK, "algo": algo, "seed": seed, "device": device_name(args.device), "num_envs": args.num_envs,
           "num_steps_per_env": steps, "iterations": args.iterations, "curve": [], "collection_time_per_iter": [],
           "update_time_per_iter": [], "env_steps_per_s": [], "train_mean_reward": []}  # fmt: skip
    start = time.time()
    for it in range(args.iterations):
        alg.train_mode()
        obs, collect_s, update_s = timed_iteration(alg, env, obs, steps, args.device, train_returns)
        run["collection_time_per_iter"].append(collect_s)
        run["update_time_per_iter"].append(update_s)
        run["env_steps_per_s"].append(steps * args.num_envs / (collect_s + update_s))
        run["train_mean_reward"].append(train_returns.pop_mean())
        if it % args.eval_every == 0 or it == args.iterations - 1:
            result = evaluate(eval_env, runner.get_inference_policy(args.device), args.eval_envs)
            env_steps = (it + 1) * steps * args.num_envs
            run["curve"].append({"iteration": it, "return": result.mean_return, "length": result.mean_length,
                                 "timeout_share": result.timeout_share, "env_steps": env_steps})  # fmt: skip
            print(f"{algo} s{seed} it {it}: return {result.mean_return:.2f} length {result.mean_length:.0f} "
                  f"collect {collect_s:.3f}s update {update_s:.3f}s", flush=True)  # fmt: skip
    run["buffer_bytes"] = storage_bytes(alg.storage)
    run["train_wall_s"] = time.time() - start
    return run


def device_name(device: str) -> str:
    return f"{device} ({torch.cuda.get_device_name(device)})" if device.startswith("cuda") else device


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algos", nargs="+", choices=ALGOS, default=list(ALGOS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--num_envs", type=int, default=4096)
    parser.add_argument("--eval_envs", type=int, default=512, help="Separate envs for the evaluation, one episode each.")
    parser.add_argument("--iterations", type=int, default=150)
    parser.add_argument("--eval_every", type=int, default=10)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--agent_cfgs", type=Path, default=None, help="JSON from device_bundle.py (no Isaac Lab needed).")
    parser.add_argument("--results", type=Path, default=Path(__file__).resolve().parents[1] / "results")
    parser.add_argument("--tag", default=None, help="File tag after the seed (default: <device><num_envs>).")
    parser.add_argument("overrides", nargs="*", type=parse_override,
                        help="Runner-config fields for every run, e.g. algorithm.num_mini_batches=32")  # fmt: skip
    args = parser.parse_args()
    if args.device == "cpu":
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    tag = args.tag or f"{args.device.split(':')[0]}{args.num_envs}"
    out_dir = args.results / TASK
    out_dir.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/device/torch_grid.py " + " ".join(a for a in sys.argv[1:])
    machine = {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
               "torch": torch.__version__}  # fmt: skip
    for seed in args.seeds:
        for algo in args.algos:
            path = out_dir / f"{algo}_s{seed}_{tag}.json"
            if path.exists():
                print(f"skip {path.name} (done)", flush=True)
                continue
            run = train(algo, seed, args) | {"command": command, "machine": machine}
            path.write_text(json.dumps(run))
            print(f"wrote {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
