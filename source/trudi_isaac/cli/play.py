"""``scripts/play.py``: evaluate a checkpoint for some episodes and export the policy.

Loads the checkpoint (the latest run's latest by default) through rsl-rl's ``OnPolicyRunner``,
runs the deterministic policy (default) or the stochastic one (sampled from the same weights: a run's
weight average where it keeps one) until ``--episodes`` episodes have ended, prints their mean return
and length and the share that ended by time-out, and exports ``policy.pt`` (TorchScript) and ``policy.onnx`` to ``<run>/exported/`` as
Isaac Lab's play does. The ONNX model is checked
against the torch module it was exported from, on the observations of the evaluation. The actor and critic are
built with the fields the checkpoint's run trained with (its ``agent.actor.*`` / ``agent.critic.*`` overrides, which
the checkpoint records: ``prior_std``, say, changes the policy the same weights compute), and play names them. That export
is always the fully deterministic policy: for the diffusion actor the ODE from x_0 = 0, whatever
its ``deterministic_start`` (with ``"prior"`` the evaluated policy draws x_0 from the prior, a
different policy, and play says so). A missing, corrupt or mismatched checkpoint ends in one line
and exit code 2 (:mod:`trudi_isaac.runners.safe_runner`).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
from collections.abc import Callable, Iterator
from typing import NamedTuple

import torch
from tensordict import TensorDict

from trudi_isaac.cli.common import UsageError, add_common_args, check_positive, prepare, run_reporting_errors
from trudi_isaac.runners import safe_runner
from trudi_isaac.runners.checkpoints import MODEL_SECTIONS, SIGNATURE_KEY, CheckpointError, read_checkpoint
from trudi_isaac.utils.config_fields import RSL_RL_DISTRIBUTION_FIELDS, flat_fields, set_field

DEFAULT_EVAL_ENVS = 16
ONNX_ATOL = 1e-5
ONNX_CHECK_STEPS = 2
"""The last steps' observations of all envs are fed to the exported ONNX model, one row at a time (rsl-rl
exports a fixed batch size of 1)."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Evaluate and export an rsl-rl checkpoint on an Isaac Lab task.")
    add_common_args(parser)
    parser.add_argument("--checkpoint", default=None, help="Checkpoint file or run folder (default: latest run).")
    parser.add_argument("--episodes", type=int, default=32, help="Episodes to evaluate.")
    parser.add_argument("--stochastic", action="store_true",
                        help="Sample actions from the policy's distribution instead of the deterministic policy.")
    parser.add_argument("--no_export", action="store_true", help="Skip the TorchScript/ONNX export.")
    args = parser.parse_args(argv)
    check_positive(args, "episodes")
    return args


def sampling_policy(alg) -> Callable[[TensorDict], torch.Tensor]:
    """The stochastic form of the policy that play evaluates and exports: actions sampled from ``alg.get_policy()``
    (a TruDi/REPPO run's weight average where it keeps one, else its actor; PPO's actor), nothing recorded."""
    model = alg.get_policy()
    return lambda obs: model(obs, stochastic_output=True)


def resolve_checkpoint(checkpoint: str | None, experiment: str) -> str:
    """A checkpoint file: the one given, the latest ``model_*.pt`` of a given run folder, or of the latest run (not
    read here: :func:`play` reads it once, before the simulator starts)."""
    from isaaclab_tasks.utils import get_checkpoint_path  # noqa: PLC0415

    if checkpoint and os.path.isfile(checkpoint):
        return checkpoint
    if checkpoint and not os.path.isdir(checkpoint):
        raise UsageError(f"checkpoint '{checkpoint}' does not exist")
    if checkpoint:
        root, run = os.path.dirname(os.path.abspath(checkpoint)), os.path.basename(os.path.normpath(checkpoint))
    else:
        root, run = os.path.abspath(os.path.join("logs", "rsl_rl", experiment)), ".*"
    try:
        return get_checkpoint_path(root, run, r"model_.*\.pt")
    except (ValueError, FileNotFoundError) as err:
        raise UsageError(f"no checkpoint found under {root}: {err}") from None


class Evaluation(NamedTuple):
    """What :func:`evaluate` measured over the counted episodes."""

    mean_return: float
    mean_length: float
    """Mean episode length in policy steps."""
    timeout_share: float
    """Share of the episodes that ended by time-out (the rest by a termination: a fall, a pole past its limit)."""
    last_obs: TensorDict
    """The observations of the last ``ONNX_CHECK_STEPS`` steps, all envs (for the ONNX check)."""


@torch.no_grad()
def evaluate(env, act, episodes: int) -> Evaluation:
    """Mean return and length of the first ``k = ceil(episodes / num_envs)`` episodes of *every* env, after a reset,
    and the share of them that ended by time-out.

    Taking the first ``episodes`` episodes to end, whichever env they come from, would over-represent
    short (failed) episodes; a fixed number per env does not. The reset makes every counted episode a
    whole one: an env left mid-episode (by training, or by an earlier evaluation whose other envs were
    still running) would otherwise count the rest of that episode as one.
    """
    per_env = math.ceil(episodes / env.num_envs)
    obs, _ = env.reset()
    returns = torch.zeros(env.num_envs, device=env.device)
    lengths = torch.zeros(env.num_envs, device=env.device)
    completed = torch.zeros(env.num_envs, dtype=torch.long, device=env.device)
    total_return, total_length, timeouts, seen = 0.0, 0.0, 0, []
    max_steps = int(env.max_episode_length) * (per_env + 1)
    for _ in range(max_steps):
        seen.append(obs.clone())
        obs, rewards, dones, extras = env.step(act(obs))
        counting = (completed < per_env).float()  # envs still within their first k episodes
        returns += rewards * counting
        lengths += counting
        ended = dones.bool() & (completed < per_env)
        total_return += returns[ended].sum().item()
        total_length += lengths[ended].sum().item()
        timeouts += int((ended & extras["time_outs"].bool()).sum())
        returns[ended], lengths[ended] = 0.0, 0.0
        completed += ended.long()
        if bool((completed >= per_env).all()):
            break
    else:
        raise RuntimeError(f"not every env finished {per_env} episode(s) within {max_steps} steps")
    n = per_env * env.num_envs
    return Evaluation(total_return / n, total_length / n, timeouts / n, torch.cat(seen[-ONNX_CHECK_STEPS:]))


@torch.no_grad()
def check_onnx(path: str, policy: torch.nn.Module, obs) -> float:
    """Max |ONNX − torch| on the observations ``obs`` (a TensorDict batch), torch being the module rsl-rl's runner
    exported (``policy.as_onnx()``, a copy: the policy itself stays where it is), for TruDi's and REPPO's actors and
    PPO's ``MLPModel`` alike. For a diffusion actor that starts its deterministic chain from the prior, the policy's
    own ``forward`` is another policy."""
    import onnxruntime  # noqa: PLC0415

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    x = torch.cat([obs[group] for group in policy.obs_groups], dim=-1).cpu().float()  # [B, O] the actor's raw input
    expected = policy.as_onnx(verbose=False).cpu().eval()(x)  # [B, A]
    input_name = session.get_inputs()[0].name
    got = torch.cat([torch.from_numpy(session.run(None, {input_name: row[None].numpy()})[0]) for row in x])
    return float((got - expected).abs().max())


def load_agent_cfg(task: str, agent_key: str, device: str):
    """The task's agent config under ``agent_key``, migrated to the installed rsl-rl, on ``device``."""
    from isaaclab_rl.rsl_rl import check_rsl_rl_version, handle_deprecated_rsl_rl_cfg  # noqa: PLC0415
    from isaaclab_tasks.utils.parse_cfg import load_cfg_from_registry  # noqa: PLC0415

    agent_cfg = handle_deprecated_rsl_rl_cfg(load_cfg_from_registry(task, agent_key), check_rsl_rl_version())
    agent_cfg.device = device
    return agent_cfg


def adopt_checkpoint_models(agent_cfg, checkpoint: dict) -> list[str]:
    """Set the ``actor`` and ``critic`` fields of ``agent_cfg`` to those the checkpoint's run trained with (recorded in
    its signature); returns the changed ones as ``agent.actor.prior_std=1.0``. A section whose class differs from the
    checkpoint's is left as it is (loading then names the difference); a recorded field this config does not have is a
    :class:`CheckpointError`, except rsl-rl's distribution fields, which our models do not take."""
    changed = []
    recorded = checkpoint.get(SIGNATURE_KEY, {}).get("models", {})
    for section in MODEL_SECTIONS:
        saved, model_cfg = recorded.get(section), getattr(agent_cfg, section, None)
        if saved is None or model_cfg is None:
            continue
        current = flat_fields(model_cfg.to_dict())
        if saved.get("class_name") != current.get("class_name"):
            continue
        for key, value in saved.items():
            if key not in current and key.split(".")[0] in RSL_RL_DISTRIBUTION_FIELDS:
                continue  # rsl-rl's, which its config migration may drop; ours ignore them
            if key not in current:
                raise CheckpointError(f"the checkpoint's run set agent.{section}.{key}, a field this config does not have")
            if value != current[key]:
                set_field(model_cfg, key, value)
                changed.append(f"agent.{section}.{key}={value!r}")
    return changed


@contextlib.contextmanager
def evaluation_runner(task: str, agent_cfg, num_envs: int, device: str, seed: int | None) -> Iterator[tuple]:
    """``(env, runner)``: the task on fresh envs, wrapped for rsl-rl, and an ``OnPolicyRunner`` without logging whose
    ``load`` is the safe one (no code run from the file; the checkpoint checked against the run)."""
    from isaaclab_rl.rsl_rl import RslRlVecEnvWrapper, create_rsl_rl_runner  # noqa: PLC0415

    from trudi_isaac.cli.isaaclab_env import make_env  # noqa: PLC0415

    safe_runner.install()
    with make_env(task, num_envs, device, seed) as gym_env:
        env = RslRlVecEnvWrapper(gym_env, clip_actions=agent_cfg.clip_actions)
        yield env, create_rsl_rl_runner(env, agent_cfg)


def play(argv: list[str]) -> int:
    args = parse_args(argv)
    task, agent_key = prepare(args)
    agent_cfg = load_agent_cfg(task, agent_key, args.device)
    checkpoint = resolve_checkpoint(args.checkpoint, agent_cfg.experiment_name)
    # missing, corrupt or unsafe: fails here, before the simulator starts
    adopted = adopt_checkpoint_models(agent_cfg, read_checkpoint(checkpoint, map_location="cpu"))
    if adopted:
        print(f"[play] the run's own model fields, from the checkpoint: {' '.join(adopted)}")

    with evaluation_runner(task, agent_cfg, args.num_envs or DEFAULT_EVAL_ENVS, args.device, args.seed) as (env, runner):
        runner.load(checkpoint, map_location=args.device)
        print(f"[play] checkpoint: {checkpoint}")
        policy = runner.get_inference_policy(device=args.device)
        act = sampling_policy(runner.alg) if args.stochastic else policy
        result = evaluate(env, act, args.episodes)
        mode = "stochastic" if args.stochastic else "deterministic"
        print(f"[play] {mode} policy, {args.episodes} episodes: mean return {result.mean_return:.3f}, mean length"
              f" {result.mean_length:.1f}, ended by time-out {result.timeout_share:.0%}")  # fmt: skip
        if not args.stochastic and getattr(policy, "deterministic_start", "zero") == "prior":
            print("[play] the evaluated chain started from x_0 ~ prior (deterministic_start='prior'); the export is the ODE from x_0 = 0")
        if not args.no_export:
            export_dir = os.path.join(os.path.dirname(checkpoint), "exported")
            runner.export_policy_to_jit(export_dir, "policy.pt")
            runner.export_policy_to_onnx(export_dir, "policy.onnx")
            error = check_onnx(os.path.join(export_dir, "policy.onnx"), runner.alg.get_policy(), result.last_obs)
            print(f"[play] exported {export_dir}/policy.pt and policy.onnx; ONNX vs torch max |diff| = {error:.2e}")
            if error > ONNX_ATOL:
                print(f"play.py: error: ONNX output differs from the torch policy by {error:.2e} > {ONNX_ATOL}", file=sys.stderr)
                return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_reporting_errors("play.py", lambda: play(sys.argv[1:] if argv is None else argv))
