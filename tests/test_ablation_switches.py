"""The config switches of the learning study (``benchmarks/ablation.py``): each does what its field says."""

from __future__ import annotations

import pytest
import torch
from test_static_update import rollout_alg
from trudi_isaac.agents.trudi_cfg import TruDiAlgorithmCfg
from trudi_isaac.utils.config_checks import ConfigError

torch.set_num_threads(1)


def test_current_eta_kl_never_charges_a_change_of_eta() -> None:
    """Only φ (hence η) moves away from the behaviour policy: the exact path KL charges it, the authors' quantity
    (old means rebuilt with the current η) is zero; a change of the control is charged by both."""
    alg = rollout_alg("split", perturb=False)
    batch = next(alg.storage.mini_batches(1, 1))
    alpha, beta = alg.duals.alpha.detach(), alg.duals.beta.detach()

    def kl(form: str) -> torch.Tensor:
        alg.kl_form = form
        with torch.no_grad():
            return alg.actor_loss(batch, alpha, beta).kl  # [B]

    assert kl("exact").max() < 1e-4 and kl("current_eta").max() < 1e-4  # still the behaviour policy
    with torch.no_grad():
        alg.actor.raw_friction.add_(0.3)
    assert kl("exact").min() > 1e-2
    assert kl("current_eta").max() < 1e-4
    assert kl("mean_only").mean() > 1e-4  # the stored old means were built with the old η
    with torch.no_grad():
        for p in alg.actor.control.parameters():
            p.add_(0.05 * torch.randn_like(p))
    assert kl("current_eta").min() > 1e-4


def test_alpha_in_raw_units_divides_by_the_reward_scale() -> None:
    """``alpha_units="raw"``: the soft reward's entropy cost is α / scale · γ(1−d) log π̂, i.e. scale times smaller."""
    costs = {}
    for units in ("normalized", "raw"):
        alg = rollout_alg("split")
        alg.alpha_units = units
        alg.storage.step = alg.storage.num_steps  # the rollout stays; recompute its returns
        alg.recording = False
        with torch.inference_mode():
            alg.compute_returns(None)
        costs[units] = alg._soft_reward_parts[1].item()
        scale = alg.reward_normalizer.scale()
    assert scale != pytest.approx(1.0)
    assert costs["raw"] == pytest.approx(costs["normalized"] / scale, rel=1e-5)


def test_rollout_aux_target_equals_minibatch_target_before_the_critic_moves() -> None:
    """One minibatch step: the rollout's aux targets (computed before the update) equal the per-minibatch ones."""
    stats = {}
    for target in ("minibatch", "rollout"):
        alg = rollout_alg("split")
        alg.aux_target = target
        alg.num_mini_batches, alg.num_learning_epochs = 1, 1
        torch.manual_seed(1)
        stats[target] = alg.update()
    assert stats["rollout"]["critic_aux"] == pytest.approx(stats["minibatch"]["critic_aux"], rel=1e-6)
    assert stats["rollout"]["critic_aux"] > 0


def test_duals_with_the_actor_optimizer() -> None:
    """``dual_optimizer="actor"``: the actor's optimizer class and learning rate, no weight decay, clipped."""
    alg = rollout_alg("split")
    assert not alg.clip_duals and alg.dual_optimizer.param_groups[0]["lr"] == pytest.approx(3e-3)
    from test_trudi_core import SMALL, runner_cfg  # noqa: PLC0415
    from toy_envs import PointReach  # noqa: PLC0415
    from trudi_isaac.algorithms.trudi import TruDi  # noqa: PLC0415

    env = PointReach(num_envs=4)
    cfg = runner_cfg("trudi", **SMALL)
    cfg["algorithm"]["dual_optimizer"] = "actor"
    authors = TruDi.construct_algorithm(env.get_observations(), env, cfg, "cpu")
    group = authors.dual_optimizer.param_groups[0]
    assert type(authors.dual_optimizer) is type(authors.actor_optimizer) and authors.clip_duals
    assert group["lr"] == pytest.approx(authors.learning_rate) and group["weight_decay"] == 0.0


@pytest.mark.parametrize(("field", "bad"), [("kl_form", "authors"), ("alpha_units", "raw_rewards"),
                                            ("dual_optimizer", "sgd"), ("aux_target", "stored")])  # fmt: skip
def test_switch_values_are_range_checked(field: str, bad: str) -> None:
    with pytest.raises(ConfigError, match=f"TruDiAlgorithmCfg.{field} = '{bad}' is out of range"):
        TruDiAlgorithmCfg(**{field: bad})
