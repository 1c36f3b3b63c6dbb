#!/usr/bin/env python
"""How wide a run's stochastic policy is at each checkpoint: the spread of x_N before the squash, and the share of
saturated actions.

    python benchmarks/learning/action_width.py --run_dir benchmarks/.runs/logs/rsl_rl/<experiment>/<run> --every 4

For each ``model_<it>.pt`` it samples ``--samples`` chains at each of ``--states`` states and prints the std of x_N
over the samples at one state (averaged over states and action dims: the width before a = tanh(x_N)), the share of
actions with |a| > 0.9 (TruDi's untrained chain keeps its prior N(0, σ_p²), σ_p = 2.5, so about half its actions
start there), and the mean |a| of the deterministic policy. No simulator: the states are drawn per dimension from
the actor's observation normalizer (mean ± half its std), a stand-in for the visited states that needs no env.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import yaml
from trudi_isaac.utils.config_fields import model_class_and_kwargs

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluate_checkpoints import checkpoints  # noqa: E402

SATURATED = 0.9
"""|a| above which an action counts as saturated (tanh(1.47))."""


def load_actor(path: Path) -> torch.nn.Module:
    """The actor of checkpoint ``path`` (class and fields from its run's ``params/agent.yaml``) with its weights."""
    actor_class, kwargs = model_class_and_kwargs(yaml.safe_load((path.parent / "params" / "agent.yaml").read_text())["actor"])
    state = torch.load(path, map_location="cpu", weights_only=True)["actor_state_dict"]
    obs_dim, action_dim = state["obs_normalizer.mean"].numel(), state["_output_std"].numel()
    actor = actor_class(["policy"], obs_dim, action_dim, **kwargs)
    actor.load_state_dict(state)
    return actor.eval()


@torch.no_grad()
def width(actor: torch.nn.Module, states: int, samples: int, generator: torch.Generator) -> dict[str, float]:
    mean, var = actor.obs_normalizer.mean, actor.obs_normalizer.var
    raw = mean + 0.5 * var.sqrt() * torch.randn(states, mean.numel(), generator=generator)  # [S, O]
    obs = actor.obs_normalizer(raw)
    chain = actor.sample(obs.repeat_interleave(samples, dim=0))
    x = chain.chain[:, -1].view(states, samples, -1)  # [S, K, A]
    actions = chain.actions.view(states, samples, -1)  # [S, K, A]
    return {
        "pre_squash_std": x.std(dim=1).mean().item(),
        "saturated_share": (actions.abs() > SATURATED).float().mean().item(),
        "deterministic_abs_action": actor.deterministic(obs).abs().mean().item(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run_dir", type=Path, nargs="+", required=True, help="A run folder, or a resumed run's, in order.")
    parser.add_argument("--every", type=int, default=1, help="Only checkpoints at multiples of this (and the last).")
    parser.add_argument("--states", type=int, default=64)
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--out", type=Path, default=None, help="Also write the rows as JSON here.")
    args = parser.parse_args()
    rows = []
    for iteration, path in checkpoints(args.run_dir, args.every):
        generator = torch.Generator().manual_seed(0)  # the same states and noise at every checkpoint
        torch.manual_seed(0)
        rows.append({"iteration": iteration, **width(load_actor(path), args.states, args.samples, generator)})
        row = rows[-1]
        print(f"it {iteration:4d}: std of x_N at a state {row['pre_squash_std']:.2f}, |a| > {SATURATED} "
              f"{row['saturated_share']:.0%}, deterministic |a| {row['deterministic_abs_action']:.2f}")  # fmt: skip
    if args.out is not None:
        args.out.write_text(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
