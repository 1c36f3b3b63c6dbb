"""REPPO's own σ (REPPO's recipe): the Gaussian actor's state-dependent standard deviation, stored per transition.

σ(s) = exp(log σ̃(s)) + σ_min from the mean's network (``GaussianActorCfg.state_dependent_sigma``, ``min_std``).
The density, the path KL, the rollout's per-transition variance and the update are checked against the
textbook tanh-Gaussian, written out here with ``torch.distributions``.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math

import pytest
import torch
from test_static_update import rollout_alg
from test_trudi_core import ACT_DIM, OBS_DIM, SMALL, perturbed, runner_cfg
from toy_envs import PointReach
from trudi_isaac.agents.trudi_cfg import GaussianActorCfg
from trudi_isaac.algorithms.trajectory_kl import trajectory_kl
from trudi_isaac.algorithms.trudi import TruDi
from trudi_isaac.modules.gaussian_actor import GaussianActor
from trudi_isaac.storage.trajectory_storage import TrajectoryStorage
from trudi_isaac.utils.config_checks import ConfigError

torch.set_num_threads(1)

MIN_STD = 0.1
RECIPE = {"actor": {"state_dependent_sigma": True, "min_std": MIN_STD}, "algorithm": {"entropy_target_k": 0.5}}


def sd_actor(seed: int = 0) -> GaussianActor:
    torch.manual_seed(seed)
    return GaussianActor(["policy"], OBS_DIM, ACT_DIM, hidden_dims=[32, 32], state_dependent_sigma=True, min_std=MIN_STD)


def normal_at(actor: GaussianActor, obs: torch.Tensor) -> torch.distributions.Normal:
    """The pre-tanh Gaussian, read off the network's two output halves (float64)."""
    out = actor.mean_net(obs).double()  # [B, 2A]
    return torch.distributions.Normal(out[:, :ACT_DIM], out[:, ACT_DIM:].exp() + MIN_STD)


@torch.no_grad()
def test_sample_is_the_tanh_gaussian_with_a_state_dependent_sigma() -> None:
    actor = sd_actor()
    assert actor.state_dependent_variance and actor.log_std is None
    # σ starts at init_std: the log-std half's bias is log(init_std − σ_min)
    torch.testing.assert_close(actor.mean_net[-1].bias[ACT_DIM:], torch.full((ACT_DIM,), math.log(1.0 - MIN_STD)))
    obs = torch.randn(256, OBS_DIM)
    sample = actor.sample(obs)
    pi = normal_at(actor, obs)
    x1 = sample.chain[:, 1].double()  # [B, A]
    assert pi.stddev.std(dim=0).min() > 1e-3  # σ differs across states
    torch.testing.assert_close(sample.var.double(), pi.variance[:, None, :], rtol=1e-5, atol=1e-7)  # [B, 1, A]
    torch.testing.assert_close(actor.step_variance(obs), sample.var)
    expected = (pi.log_prob(x1) - torch.log1p(-torch.tanh(x1).square())).sum(-1)  # change of variables a = tanh(x)
    torch.testing.assert_close(sample.log_prob.double(), expected, rtol=1e-5, atol=1e-4)
    # the same float32 mean, squashed in float32 against float64: |a| < 1, so a few float32 ulps (1.2e-7 at 1) apart
    # (float64's default tolerance, 1e-7, is below one such ulp); a wrong mean or clip is off by far more
    torch.testing.assert_close(actor.deterministic(obs).double(), torch.tanh(pi.mean).clamp(-0.999, 0.999),
                               rtol=0.0, atol=4 * torch.finfo(torch.float32).eps)  # fmt: skip


@torch.no_grad()
def test_path_kl_is_the_per_state_gaussian_kl() -> None:
    """The one-step path KL with a state-dependent σ is the exact KL of the two pre-tanh Gaussians at each state,
    variance change included."""
    old = sd_actor()
    new = perturbed(old, 0.1, seed=2)
    obs = torch.randn(64, OBS_DIM)
    sample = old.sample(obs)
    kl = trajectory_kl(sample.means, sample.var, new.step_means(obs, sample.chain), new.step_variance(obs))  # [B]
    exact = torch.distributions.kl_divergence(normal_at(old, obs), normal_at(new, obs)).sum(-1)
    assert exact.min() > 1e-3
    torch.testing.assert_close(kl.double(), exact, rtol=1e-4, atol=1e-6)
    # the variance's share alone: the KL at equal means is not zero, and differs across states
    same = torch.zeros_like(sample.means)
    var_only = trajectory_kl(same, sample.var, same, new.step_variance(obs))
    assert var_only.min() > 0 and var_only.std() > 1e-4


def test_rollout_stores_the_variance_per_transition() -> None:
    """``per_transition_variance``: step_var is ``[T, E, N, A]``, and a minibatch's old_var are its own rows'."""
    T, E = 3, 5
    actor = sd_actor()
    storage = TrajectoryStorage(E, T, OBS_DIM, OBS_DIM, ACT_DIM, 1, "cpu", per_transition_variance=True)
    assert tuple(storage.step_var.shape) == (T, E, 1, ACT_DIM)
    shared = TrajectoryStorage(E, T, OBS_DIM, OBS_DIM, ACT_DIM, 1, "cpu")
    assert storage.memory_bytes() - shared.memory_bytes() == 4 * (T * E - 1) * ACT_DIM
    stored = []
    with torch.inference_mode():
        for _ in range(T):
            obs = torch.randn(E, OBS_DIM)
            sample = actor.sample(obs)
            storage.add_policy_step(obs, obs, sample)
            storage.add_env_step(torch.zeros(E), torch.zeros(E, dtype=torch.bool), torch.zeros(E, dtype=torch.bool))
            stored.append(sample.var)
    expected = torch.stack(stored).flatten(0, 1)  # [T·E, 1, A] step-major, as the buffer's rows
    idx = torch.tensor([0, 7, 14, 3])
    batch = storage.batch(idx)
    torch.testing.assert_close(batch.old_var, expected[idx])
    torch.testing.assert_close(batch.old_var, actor.step_variance(batch.actor_obs))  # the behaviour policy's σ


def recipe_alg() -> TruDi:
    """REPPO's recipe on PointReach after one rollout and its returns; the actor is still the behaviour policy."""
    return rollout_alg("split", perturb=False, kind="reppo", actor=RECIPE["actor"], **RECIPE["algorithm"])


def test_trust_region_charges_a_change_of_sigma_alone() -> None:
    alg = recipe_alg()
    assert alg.storage.step_var.dim() == 4 and alg.entropy_target.item() == pytest.approx(-0.5 * ACT_DIM)
    batch = next(alg.storage.mini_batches(1, 1))
    alpha, beta = alg.duals.alpha.detach(), alg.duals.beta.detach()
    with torch.no_grad():
        assert alg.actor_loss(batch, alpha, beta).kl.max() < 1e-6  # still the behaviour policy
        alg.actor.mean_net[-1].bias[ACT_DIM:].add_(0.3)  # σ grows at every state, the means stay
        assert alg.actor_loss(batch, alpha, beta).kl.min() > 1e-2


def test_update_steps_the_log_std_head() -> None:
    alg = recipe_alg()
    head = alg.actor.mean_net[-1]
    before = head.weight.detach().clone()
    stats = alg.update()
    moved = (head.weight.detach() - before).abs().sum(dim=1)  # [2A] per output
    assert moved[ACT_DIM:].min() > 0  # the log-std outputs are trained, not only the means
    assert stats["trust_region/kl_eta_only"] > 0  # the σ-only part of the path KL (its η-only counterpart) is logged
    assert all(math.isfinite(v) for v in stats.values())


@pytest.mark.parametrize("bad", [{"min_std": -0.1}, {"min_std": 1.0, "init_std": 1.0}, {"state_dependent_sigma": 1}])
def test_bad_std_fields_are_refused(bad: dict) -> None:
    with pytest.raises(ConfigError):
        GaussianActorCfg(**bad)
    cfg = runner_cfg("reppo", **SMALL)
    cfg["actor"] |= bad
    env = PointReach(num_envs=4)
    with pytest.raises(ConfigError), contextlib.redirect_stdout(io.StringIO()):
        TruDi.construct_algorithm(env.get_observations(), env, cfg, "cpu")


def test_isaac_lab_config_migration_keeps_every_field_of_ours() -> None:
    """``scripts/train.py`` and ``play.py`` pass the agent config through Isaac Lab's migration for rsl-rl 5, which
    deletes the model fields it takes for rsl-rl's old ones (``state_dependent_std`` among them). None of ours may be
    one: σ(s) asked for in the config must reach the actor (``ModelCfg.stochastic`` exists for the migration alone)."""
    from isaaclab.utils import class_to_dict  # noqa: PLC0415
    from isaaclab_rl.rsl_rl import check_rsl_rl_version, handle_deprecated_rsl_rl_cfg  # noqa: PLC0415
    from trudi_isaac.agents.trudi_cfg import GaussianActorCfg, ReppoRunnerCfg, TruDiRunnerCfg  # noqa: PLC0415

    for cfg in (TruDiRunnerCfg(), ReppoRunnerCfg(actor=GaussianActorCfg(state_dependent_sigma=True, min_std=MIN_STD))):
        before = class_to_dict(copy.deepcopy(cfg))
        with contextlib.redirect_stdout(io.StringIO()):
            after = class_to_dict(handle_deprecated_rsl_rl_cfg(copy.deepcopy(cfg), check_rsl_rl_version()))
        for section in ("actor", "critic", "algorithm"):
            assert set(before[section]) - set(after[section]) <= {"stochastic"}, (section, set(before[section]) - set(after[section]))
            assert {k: v for k, v in after[section].items() if k in before[section]} == {
                k: v for k, v in before[section].items() if k in after[section]}, section  # fmt: skip
    assert after["actor"]["state_dependent_sigma"] is True
