#!/usr/bin/env python
"""Cost of collection and update for TruDi, REPPO and rsl-rl PPO on a batched torch env (no simulator).

    python benchmarks/cost/update_cost.py --num_envs 64 --steps 24 --obs 87 --actions 21 --device cpu

The env produces random observations and rewards at almost no cost, so the numbers are the
algorithms' own: policy time per env step during collection, and the time of one ``update()``.
Runs on CUDA too (``--device cuda --num_envs 4096``), eagerly or with TruDi's and REPPO's minibatch step and
collection chain in CUDA graphs (``--cuda_graphs``). ``--count_ops`` adds the ops each dispatches (:mod:`op_count`,
a proxy for GPU kernel launches that the CPU can measure). Prints a JSON line; ``--out`` appends it to a file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
from rsl_rl.env import VecEnv  # noqa: E402
from tensordict import TensorDict  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: harness.py and the job folders
from harness import agent_cfg, apply_override, parse_override, timed_iteration  # noqa: E402
from cost.op_count import OpCount  # noqa: E402

EPISODE_LENGTH = 1000


class RandomEnv(VecEnv):
    """Random observations and rewards of given sizes; time-outs every ``EPISODE_LENGTH`` steps."""

    def __init__(self, num_envs: int, obs_dim: int, action_dim: int, device: str) -> None:
        self.num_envs, self.num_actions, self.device, self.cfg = num_envs, action_dim, device, {}
        self.obs_dim = obs_dim
        self.max_episode_length = EPISODE_LENGTH
        self.episode_length_buf = torch.zeros(num_envs, dtype=torch.long, device=device)

    def get_observations(self) -> TensorDict:
        obs = torch.randn(self.num_envs, self.obs_dim, device=self.device)
        return TensorDict({"policy": obs}, batch_size=[self.num_envs], device=self.device)

    def step(self, actions: torch.Tensor) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        self.episode_length_buf += 1
        time_outs = self.episode_length_buf >= self.max_episode_length
        self.episode_length_buf[time_outs] = 0
        rewards = -actions.square().mean(-1)
        return self.get_observations(), rewards, time_outs, {"time_outs": time_outs}


def runner_cfg(algo: str, args: argparse.Namespace) -> dict:
    cfg = agent_cfg(args.task, algo, args.device, args.agent_cfgs)
    if args.cuda_graphs and algo != "ppo":  # rsl-rl's PPO has no graphed mode: it runs eagerly beside them
        cfg["algorithm"] |= {"cuda_graphs": True}
    for key, value in args.overrides:
        apply_override(cfg, key, value)
    return cfg | {"num_steps_per_env": args.steps, "save_interval": 10**9}


def measure(algo: str, args: argparse.Namespace) -> dict:
    from rsl_rl.runners import OnPolicyRunner  # noqa: PLC0415

    torch.manual_seed(0)
    env = RandomEnv(args.num_envs, args.obs, args.actions, args.device)
    runner = OnPolicyRunner(env, runner_cfg(algo, args), log_dir=None, device=args.device)
    alg = runner.alg
    if args.update_threads:  # the update with its own thread count, as train.py --update_threads
        from trudi_isaac.runners.update_threads import with_threads  # noqa: PLC0415

        alg.update = with_threads(alg.update, args.update_threads)
    alg.train_mode()
    obs = env.get_observations()
    collect, update = [], []
    for _ in range(args.repeats + 1):  # the first iteration is warm-up
        obs, collect_s, update_s = timed_iteration(alg, env, obs, args.steps, args.device)
        collect.append(collect_s)
        update.append(update_s)
    collect, update = collect[1:], update[1:]
    storage = alg.storage
    buffer_bytes = storage.memory_bytes() if hasattr(storage, "memory_bytes") else None
    extra = {"profile": profile_iteration(alg, env, obs, args)} if args.profile else {}
    if args.count_ops and mode_of(alg) == "eager":  # a graph's replays and compiled kernels dispatch no ops
        extra["ops"] = count_iteration_ops(alg, env, obs, args.steps)
    return extra | {
        "algo": algo,
        "mode": mode_of(alg),
        "collect_s_per_iter": min(collect),
        "update_s_per_iter": min(update),
        "policy_us_per_env_step": 1e6 * min(collect) / (args.steps * args.num_envs),
        "buffer_bytes_per_transition": buffer_bytes / (args.steps * args.num_envs) if buffer_bytes else None,
    }


def mode_of(alg) -> str:
    """How the algorithm runs its update and collection chain: "eager", "graphed", "compiled" or "graphed+compiled"."""
    modes = {"graphed": getattr(alg, "_graphed_step", None) is not None, "compiled": getattr(alg, "torch_compile", False)}
    return "+".join(name for name, on in modes.items() if on) or "eager"


def profile_iteration(alg, env, obs, args: argparse.Namespace) -> dict:
    """One more iteration under the torch profiler: the update's labelled phases (``trudi/*``), its kernel
    launches, its reads of device values on the host (``.item()``, boolean masks: each waits for the
    device on CUDA) and the ops with the most self time on the device (CPU time on the CPU)."""
    from torch.profiler import ProfilerActivity, profile  # noqa: PLC0415

    on_cuda = args.device.startswith("cuda")
    activities = [ProfilerActivity.CPU] + [ProfilerActivity.CUDA] * on_cuda
    with profile(activities=activities) as prof:
        timed_iteration(alg, env, obs, args.steps, args.device)
    events = prof.key_averages()
    self_time = "self_device_time_total" if on_cuda else "self_cpu_time_total"
    top = sorted((e for e in events if getattr(e, self_time) > 0), key=lambda e: -getattr(e, self_time))
    return {
        "phases_cpu_ms": {e.key: e.cpu_time_total / 1e3 for e in events if e.key.startswith("trudi/")},
        "kernel_launches": sum(e.count for e in events if e.key in ("cudaLaunchKernel", "cuLaunchKernel", "cudaLaunchKernelExC")),
        "graph_launches": sum(e.count for e in events if e.key == "cudaGraphLaunch"),  # each replays a whole step
        "host_reads": sum(e.count for e in events if e.key in ("aten::_local_scalar_dense", "aten::nonzero")),
        "top_self_ms": {e.key: getattr(e, self_time) / 1e3 for e in top[: args.profile]},
    }


def count_iteration_ops(alg, env, obs, steps: int) -> dict:
    """One more iteration with the algorithm's dispatched ops counted (:mod:`op_count`, a proxy for GPU kernels;
    the env's own ops left out): per env step of collection, per update, per minibatch step of the update."""
    collect, update = OpCount(), OpCount()
    with torch.inference_mode():
        for _ in range(steps):
            with collect:
                actions = alg.act(obs)
            obs, rewards, dones, extras = env.step(actions)
            with collect:
                alg.process_env_step(obs, rewards, dones, extras)
        with collect:
            alg.compute_returns(obs)
    with update:
        alg.update()
    minibatch_steps = alg.num_learning_epochs * alg.num_mini_batches  # the same fields in rsl-rl's PPO and ours
    return {
        "per_env_step": collect.total / steps,
        "per_update": update.total,
        "per_minibatch_step": update.total / minibatch_steps,
        "minibatch_steps": minibatch_steps,
        "update_top": dict(update.by_name.most_common(10)),
    }


def add_random_env_arguments(parser: argparse.ArgumentParser, num_envs: int, steps: int) -> None:
    """The options of a benchmark on :class:`RandomEnv` with a task's registered configs: whose configs, from where,
    the rollout's size, the env's sizes; and where the JSON line goes and what code it names."""
    parser.add_argument("--task", default="Isaac-Humanoid", help="Whose registered agent configs to use.")
    parser.add_argument("--agent_cfgs", type=Path, default=None, help="JSON from device_bundle.py (no Isaac Lab needed).")
    parser.add_argument("--num_envs", type=int, default=num_envs)
    parser.add_argument("--steps", type=int, default=steps)
    parser.add_argument("--obs", type=int, default=87)
    parser.add_argument("--actions", type=int, default=21)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--label", default="", help="What the code is (e.g. a commit), kept with the numbers.")


def emit(record: dict, out: Path | None) -> None:
    """Print ``record`` as one JSON line; append it to ``out`` if given."""
    line = json.dumps(record)
    print(line)
    if out:
        with out.open("a") as f:
            f.write(line + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algos", nargs="+", default=["ppo", "reppo", "trudi"])
    add_random_env_arguments(parser, num_envs=64, steps=24)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--profile", type=int, default=0, help="Profile one more iteration; keep the top N ops.")
    parser.add_argument("--count_ops", action="store_true", help="Count dispatched ops (a GPU-kernel proxy; eager).")
    parser.add_argument("--cuda_graphs", action="store_true", help="TruDi/REPPO with algorithm.cuda_graphs=True.")
    parser.add_argument("--update_threads", type=int, default=None, help="CPU: torch threads inside update() only.")
    parser.add_argument("overrides", nargs="*", type=parse_override,
                        help="key=value fields of every runner config, e.g. algorithm.gate_form=masked (the CUDA step); "
                             "TruDi's fields are not PPO's: leave ppo out of --algos then")
    args = parser.parse_args()
    if args.device == "cpu":
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    results = [measure(algo, args) for algo in args.algos]
    record = {"config": vars(args) | {"out": None, "agent_cfgs": None}, "torch": torch.__version__, "results": results}
    emit(record, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
