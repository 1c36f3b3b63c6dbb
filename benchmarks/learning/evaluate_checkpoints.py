#!/usr/bin/env python
"""Evaluate a run's checkpoints on fresh envs (one process, one env): the learning curve of a benchmark run.

    python benchmarks/learning/evaluate_checkpoints.py --task Isaac-Cartpole --agent trudi --run_dir DIR --out curve.json

For every ``model_<it>.pt`` in DIR (in iteration order; only the last with ``--last_only``; several DIRs: the run
folders of a run resumed in sittings, a later folder's checkpoint taking an iteration's place) it runs
a policy for ``--episodes`` episodes and records the mean return, the mean episode length and the share of
episodes ended by time-out (a task whose robot cannot stand shows itself there); it also records the rollout
buffer's memory. ``--policy`` picks the policy: ``deterministic`` (what play.py runs and exports:
for TruDi the ODE from x_0 = 0), ``ode_from_prior`` (TruDi's ODE from a prior sample x_0 ~ N(0, σ_p²),
the authors' evaluation), ``stochastic`` (sampled actions) or ``average`` (the deterministic policy of the
moving average of the actor's weights that a run with ``agent.algorithm.policy_ema > 0`` saves; play.py's policy
then, while ``deterministic`` stays the actor's last weights). A run's actor and critic are built with the fields its
checkpoints record (as play.py does: its ``agent.actor.*`` overrides, e.g. ``prior_std``, shape the policy its weights
compute); a run whose checkpoints predate that record is evaluated with its ``agent.*`` overrides given as trailing
``key=value`` arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
from tensordict import TensorDict  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import apply_override, parse_override  # noqa: E402


def storage_bytes(storage: object) -> int:
    """Bytes of the tensors a rollout buffer holds (rsl-rl's RolloutStorage or TruDi's TrajectoryStorage)."""
    total = 0
    for value in vars(storage).values():
        if isinstance(value, torch.Tensor):
            total += value.numel() * value.element_size()
        elif isinstance(value, TensorDict):
            total += sum(t.numel() * t.element_size() for t in value.values(include_nested=True, leaves_only=True))
    return total


def checkpoints(run_dirs: list[Path], every: int = 1) -> list[tuple[int, Path]]:
    """``(iteration, path)`` of each checkpoint over ``run_dirs`` in iteration order (a later folder's wins a tie), at
    the iterations that are multiples of ``every`` and at the last: a run stopped by Ctrl-C and resumed has a
    checkpoint in between, which the other seeds' curves do not."""
    found = {int(m[1]): p for d in run_dirs for p in sorted(d.glob("model_*.pt")) if (m := re.fullmatch(r"model_(\d+)\.pt", p.name))}
    last = max(found, default=None)
    return sorted((it, p) for it, p in found.items() if it % every == 0 or it == last)


POLICIES = ("deterministic", "ode_from_prior", "stochastic", "average")


def override_agent_cfg(cfg: object, key: str, value: object) -> None:
    """Set the field ``key`` (train.py's Hydra form, ``agent.actor.prior_std``) of the agent config ``cfg``; an
    unknown field, or one outside ``agent.``, is an error."""
    if not key.startswith("agent."):
        raise SystemExit(f"only agent.* overrides apply to an evaluation, got '{key}'")
    apply_override(cfg, key.removeprefix("agent."), value, shown_key=key)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", required=True)
    parser.add_argument("--agent", required=True)
    parser.add_argument("--run_dir", type=Path, nargs="+", required=True, help="A run folder, or a resumed run's, in order.")
    parser.add_argument("--every", type=int, default=1, help="Only checkpoints at multiples of this (and the last).")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--num_envs", type=int, default=32)
    parser.add_argument("--episodes", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=10_000)
    parser.add_argument("--policy", choices=POLICIES, default="deterministic")
    parser.add_argument("--last_only", action="store_true", help="Evaluate only the last checkpoint.")
    parser.add_argument("overrides", nargs="*", type=parse_override,
                        help="The run's agent.* overrides, as train.py got them (e.g. agent.actor.prior_std=1.0)")  # fmt: skip
    args = parser.parse_args()
    args.assets = None

    from trudi_isaac.cli.common import prepare  # noqa: PLC0415
    from trudi_isaac.cli.play import adopt_checkpoint_models, evaluate, evaluation_runner, load_agent_cfg  # noqa: PLC0415
    from trudi_isaac.runners.checkpoints import read_checkpoint  # noqa: PLC0415

    task, agent_key = prepare(args)
    agent_cfg = load_agent_cfg(task, agent_key, args.device)
    for key, value in args.overrides:
        override_agent_cfg(agent_cfg, key, value)
    selected = checkpoints(args.run_dir, args.every)[-1 if args.last_only else 0 :]
    if not selected:
        parser.error(f"no model_*.pt under {', '.join(map(str, args.run_dir))}")
    adopted = adopt_checkpoint_models(agent_cfg, read_checkpoint(str(selected[-1][1]), map_location="cpu"))
    if adopted:
        print(f"[eval] the run's own model fields, from its checkpoint: {' '.join(adopted)}", flush=True)
    curve = []
    with evaluation_runner(task, agent_cfg, args.num_envs, args.device, args.seed) as (env, runner):
        memory = storage_bytes(runner.alg.storage)
        for iteration, path in selected:
            runner.load(str(path), map_location=args.device)
            policy = runner.get_inference_policy(device=args.device)  # play.py's: a checkpoint's weight average if any
            average = getattr(runner.alg, "average_actor", None)  # TruDi/REPPO checkpoints with a weight average
            if args.policy == "average" and average is None:
                parser.error(f"--policy average: {path} holds no weight average (train with agent.algorithm.policy_ema > 0)")
            if args.policy != "average" and average is not None:
                policy = runner.alg.actor  # the last weights, not the average play.py runs
            if args.policy == "ode_from_prior":
                if not hasattr(policy, "deterministic_start"):
                    parser.error(f"--policy ode_from_prior needs a diffusion actor; {args.agent} has none")
                policy.deterministic_start = "prior"
            elif args.policy == "stochastic":
                policy = runner.alg.act
            result = evaluate(env, policy, args.episodes)
            curve.append({"iteration": iteration, "return": result.mean_return, "length": result.mean_length,
                          "timeout_share": result.timeout_share})  # fmt: skip
            print(f"[eval] {path.parent.name} it {iteration}: return {result.mean_return:.2f} length"
                  f" {result.mean_length:.1f} time-outs {result.timeout_share:.0%}", flush=True)  # fmt: skip
    args.out.write_text(json.dumps({"curve": curve, "policy": args.policy, "eval_num_envs": args.num_envs, "buffer_bytes_eval_envs": memory}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
