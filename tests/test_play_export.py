"""The exported policy and play's ONNX check, for a diffusion actor whose deterministic chain starts at the prior.

The export is always the fully deterministic ODE from x_0 = 0 (an exported policy must be a function); with
``deterministic_start="prior"`` the actor's own deterministic policy draws x_0 ~ N(0, σ_p²) and is another
policy. ``scripts/play.py`` must compare the ONNX model with the module that was exported, not with that one.
"""

from __future__ import annotations

import contextlib
import copy
import io

import pytest
import torch
from test_trudi_core import SMALL, make_runner, quiet_learn, runner_cfg
from toy_envs import PointReach
from trudi_isaac.cli.play import ONNX_ATOL, check_onnx
from trudi_isaac.modules.diffusion_actor import DiffusionActor

torch.set_num_threads(1)

OBS_DIM, ACT_DIM = 4, 2


def prior_start_actor() -> DiffusionActor:
    """A prior-start actor whose control, normalizer, action scale and ODE control scale all matter."""
    torch.manual_seed(0)
    actor = DiffusionActor(
        ["policy"], OBS_DIM, ACT_DIM, num_steps=4, hidden_dims=[32, 32], output_init_scale=1.0,
        deterministic_start="prior", action_scale=2.0, ode_control_scale=0.7,
    )  # fmt: skip
    with torch.no_grad():
        actor.obs_normalizer.mean.copy_(torch.tensor([0.3, -0.2, 0.1, 0.5]))
        actor.obs_normalizer.var.copy_(torch.tensor([0.5, 2.0, 0.3, 1.5]))
    return actor.eval()


@torch.no_grad()
def zero_start_ode(actor: DiffusionActor, raw_obs: torch.Tensor) -> torch.Tensor:
    """The probability-flow ODE from x_0 = 0, written out (TRUDI.md, "Deployment"): ``[B, O]`` → env actions ``[B, A]``.

    s = (o − mean) / sqrt(var + eps);  x_{n+1} = x_n + η_n ⊙ (−x_n / σ_p² + c · f_θ(x_n, s, n));  a = scale · tanh(x_N)
    """
    norm = actor.obs_normalizer
    s = (raw_obs - norm.mean) / torch.sqrt(norm.var + norm.eps)
    h, eta, time_features = actor.control.obs_features(s), actor.eta(), actor.time_features()
    x = torch.zeros(raw_obs.shape[0], actor.action_dim)
    for n in range(actor.num_steps):
        x = x + eta[n] * (-x / actor.prior_var + actor.ode_control_scale * actor.control(h, x, time_features[n]))
    return actor.action_scale * torch.tanh(x).clamp(-actor.action_clip, actor.action_clip)


@torch.no_grad()
def test_export_is_the_zero_start_ode_whatever_the_start() -> None:
    """``export_module()`` of a prior-start actor is the x_0 = 0 ODE (written out independently), the same as the
    deterministic policy of the same actor with ``deterministic_start="zero"``; the prior-start policy itself is
    random and clearly different (so the distinction matters)."""
    actor = prior_start_actor()
    obs = PointReach(num_envs=32, seed=9).get_observations()
    raw = obs["policy"]
    expected = zero_start_ode(actor, raw)  # [32, A]
    torch.testing.assert_close(actor.export_module()(raw), expected, rtol=0.0, atol=1e-6)

    zero_start = copy.deepcopy(actor)
    zero_start.deterministic_start = "zero"
    torch.testing.assert_close(zero_start(obs), expected, rtol=0.0, atol=1e-6)

    prior_a, prior_b = actor(obs), actor(obs)
    assert not torch.allclose(prior_a, prior_b)  # x_0 ~ prior: a deterministic map of random noise
    assert (prior_a - expected).abs().max() > 0.1


def test_play_onnx_check_compares_like_with_like(tmp_path) -> None:
    """play's ``check_onnx`` on a prior-start actor exported through rsl-rl's runner: the ONNX model equals the
    exported torch module (error within play's tolerance), although it is far from the prior-start policy
    that play evaluates; the check leaves the policy as it was."""
    pytest.importorskip("onnxruntime")
    sections = copy.deepcopy(SMALL)
    sections["actor"] |= {"output_init_scale": 1.0, "deterministic_start": "prior"}
    torch.manual_seed(0)
    runner = make_runner(PointReach(num_envs=16, seed=0), runner_cfg("trudi", **sections))
    quiet_learn(runner, 1)  # normalizer statistics committed
    policy = runner.get_inference_policy(device="cpu")
    assert policy.deterministic_start == "prior"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        runner.export_policy_to_onnx(str(tmp_path), "policy.onnx")
    obs = PointReach(num_envs=32, seed=9).get_observations()
    state = copy.deepcopy(policy.state_dict())

    error = check_onnx(str(tmp_path / "policy.onnx"), policy, obs)

    assert error <= ONNX_ATOL, error
    with torch.no_grad():
        assert (policy(obs) - zero_start_ode(policy, obs["policy"])).abs().max() > 0.1  # play's evaluated policy
    for key, value in policy.state_dict().items():
        assert torch.equal(value, state[key]), key
