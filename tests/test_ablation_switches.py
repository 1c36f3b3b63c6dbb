"""The config switches of the learning study (``benchmarks/learning/ablation.py``): each does what its field says."""

from __future__ import annotations

import pytest
import torch
from test_static_update import rollout_alg
from test_trudi_core import SMALL, runner_cfg
from toy_envs import PointReach
from trudi_isaac.algorithms.trudi import ADAPTIVE_MIN_LR, MAX_PATH_TO_ACTION_RATIO, TruDi
from trudi_isaac.cli.play import sampling_policy
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
    env = PointReach(num_envs=4)
    cfg = runner_cfg("trudi", **SMALL)
    cfg["algorithm"]["dual_optimizer"] = "actor"
    authors = TruDi.construct_algorithm(env.get_observations(), env, cfg, "cpu")
    group = authors.dual_optimizer.param_groups[0]
    assert type(authors.dual_optimizer) is type(authors.actor_optimizer) and authors.clip_duals
    assert group["lr"] == pytest.approx(authors.learning_rate) and group["weight_decay"] == 0.0


@pytest.mark.parametrize(("field", "bad"), [("kl_form", "authors"), ("alpha_units", "raw_rewards"),
                                            ("dual_optimizer", "sgd"), ("aux_target", "stored"),
                                            ("lr_schedule", "cosine"), ("lr_schedule_networks", "duals")])  # fmt: skip
def test_switch_values_are_range_checked(field: str, bad: str) -> None:
    with pytest.raises(ConfigError, match=f"TruDiAlgorithmCfg.{field} = '{bad}' is out of range"):
        TruDiAlgorithmCfg(**{field: bad})


def test_min_beta_holds_beta_at_its_floor_while_the_bound_is_slack() -> None:
    """With the actor at the behaviour policy the path KL is ~0 < ε, so L_β = −β (c̄ − ε) lowers β at every step;
    ``min_beta`` stops it there (α is left alone), and without it β falls below the floor."""
    betas, alphas = {}, {}
    for floor in (None, 0.5):
        alg = rollout_alg("split", perturb=False, min_beta=floor)  # init_beta 0.5
        torch.manual_seed(1)
        alg.update()
        betas[floor], alphas[floor] = alg.duals.beta.item(), alg.duals.alpha.item()
    assert betas[None] < 0.5 * (1 - 1e-3)
    assert betas[0.5] == pytest.approx(0.5, rel=1e-6)
    assert alphas[0.5] == pytest.approx(alphas[None], rel=1e-6)


@pytest.mark.parametrize("bad", [0.0, -0.01, "0.01"])
def test_min_beta_is_range_checked(bad: object) -> None:
    with pytest.raises(ConfigError, match="TruDiAlgorithmCfg.min_beta = .* is out of range: must be None or > 0"):
        TruDiAlgorithmCfg(min_beta=bad)


def ema_alg(policy_ema: float) -> TruDi:
    """TruDi on PointReach with ``policy_ema``, after one rollout and its returns (seeded: runs are comparable)."""
    return rollout_alg("split", perturb=False, policy_ema=policy_ema, num_learning_epochs=1)


@pytest.mark.parametrize(("done", "weight"), [(0, 1.0), (1, 1 / 1.75), (200, 0.25)])
def test_policy_ema_averages_the_weights_once_per_update_and_leaves_training_alone(done: int, weight: float) -> None:
    """After the t-th update θ̄ ← θ̄ + w·(θ − θ̄), w = (1 − d) / (1 − dᵗ) (d = 0.75: the first update's weights
    alone, then 1/(1 + d), tending to 1 − d); buffers copied; play/export's policy is θ̄; the actor trains as
    without."""
    plain, averaged = ema_alg(0.0), ema_alg(0.75)
    averaged.num_updates = done  # updates before this one (the lr schedule is constant: nothing else reads it)
    assert plain.average_actor is None and plain.get_policy() is plain.actor
    before = [p.detach().clone() for p in averaged.average_actor.parameters()]
    torch.manual_seed(1)
    plain.update()
    torch.manual_seed(1)
    averaged.update()
    for p, q in zip(plain.actor.parameters(), averaged.actor.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)  # the same training
    moved = 0
    for old, new, mean in zip(before, averaged.actor.parameters(), averaged.get_policy().parameters()):
        torch.testing.assert_close(mean, old + weight * (new - old))
        moved += int(not torch.equal(old, new))
    assert moved > 0 and averaged.get_policy() is averaged.average_actor
    for b, c in zip(averaged.actor.buffers(), averaged.average_actor.buffers()):
        torch.testing.assert_close(b, c, rtol=0, atol=0)  # normalizer statistics, action spread


def test_policy_ema_travels_with_the_checkpoint() -> None:
    averaged = ema_alg(0.75)
    torch.manual_seed(1)
    averaged.update()
    saved = averaged.save()
    restored = ema_alg(0.75)
    restored.load(saved, None, strict=True)
    for p, q in zip(averaged.average_actor.parameters(), restored.average_actor.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    plain = ema_alg(0.0)  # play.py's config need not repeat the field: the checkpoint's average is the policy
    plain.load(saved, None, strict=True)
    assert plain.get_policy() is plain.average_actor
    for p, q in zip(averaged.average_actor.parameters(), plain.get_policy().parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    without = {k: v for k, v in saved.items() if k != "average_actor_state_dict"}  # saved with policy_ema = 0
    restored.load(without, None, strict=True)  # the average starts at the actor
    for p, q in zip(averaged.actor.parameters(), restored.average_actor.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_play_samples_the_weight_average() -> None:
    """``play.py --stochastic`` samples the policy it exports: the weight average (with the same noise, the same
    actions as sampling the average directly, not those of the last weights), and nothing is recorded."""
    averaged = ema_alg(0.75)
    averaged.num_updates = 1  # a second update: the average is no longer the actor
    torch.manual_seed(1)
    averaged.update()
    averaged.eval_mode()
    obs = PointReach(num_envs=16, seed=5).get_observations()
    stored = averaged.storage.step

    def sampled(act) -> torch.Tensor:
        torch.manual_seed(2)
        with torch.no_grad():
            return act(obs)

    played = sampled(sampling_policy(averaged))
    torch.testing.assert_close(played, sampled(lambda o: averaged.average_actor(o, stochastic_output=True)), rtol=0, atol=0)
    assert (played - sampled(averaged.act)).abs().max() > 1e-4  # act() samples the last weights
    assert averaged.storage.step == stored


@pytest.mark.parametrize("bad", [1.0, -0.1, "0.9"])
def test_policy_ema_is_range_checked(bad: object) -> None:
    with pytest.raises(ConfigError, match="TruDiAlgorithmCfg.policy_ema = .* is out of range: must be in \\[0, 1\\)"):
        TruDiAlgorithmCfg(policy_ema=bad)


def schedule_alg(**algorithm: object) -> TruDi:
    """TruDi on PointReach after one rollout, in a run of 4 iterations (the linear schedule's length)."""
    return rollout_alg("split", perturb=False, runner={"max_iterations": 4}, num_learning_epochs=1, **algorithm)


def rates(alg: TruDi) -> tuple[float, float, float]:
    return tuple(float(o.param_groups[0]["lr"]) for o in (alg.actor_optimizer, alg.critic_optimizer, alg.dual_optimizer))


@pytest.mark.parametrize("dual_optimizer", ["adam", "actor"])
def test_linear_lr_schedule_anneals_to_zero_over_max_iterations(dual_optimizer: str) -> None:
    """Update u (0-based) steps at rate · (1 − u/4): actor, critic, and the duals only where they share the actor's
    step; past the schedule's end the rate is 0 and the actor does not move."""
    alg = schedule_alg(lr_schedule="linear", learning_rate=1e-3, critic_learning_rate=2e-3, dual_learning_rate=5e-3,
                       dual_optimizer=dual_optimizer)  # fmt: skip
    seen = []
    for _ in range(4):
        alg.update()
        seen.append(rates(alg))
    for u, (actor, critic, duals) in enumerate(seen):
        fraction = 1 - u / 4
        assert actor == pytest.approx(1e-3 * fraction) and critic == pytest.approx(2e-3 * fraction)
        assert duals == pytest.approx(1e-3 * fraction if dual_optimizer == "actor" else 5e-3)
    assert alg.learning_rate == pytest.approx(0.25e-3)  # what rsl-rl logs as Loss/learning_rate
    before = [p.detach().clone() for p in alg.actor.parameters()]
    alg.update()
    assert rates(alg)[:2] == (0.0, 0.0)
    for old, new in zip(before, alg.actor.parameters()):
        torch.testing.assert_close(old, new, rtol=0, atol=0)


@pytest.mark.parametrize("dual_optimizer", ["adam", "actor"])
@pytest.mark.parametrize("networks", ["actor", "critic"])
def test_linear_lr_schedule_anneals_only_the_named_network(networks: str, dual_optimizer: str) -> None:
    """``lr_schedule_networks``: the named network's rate (the duals' with the actor's where they share its step) goes
    as rate · (1 − u/4), the other one's stays at its configured rate."""
    alg = schedule_alg(lr_schedule="linear", lr_schedule_networks=networks, learning_rate=1e-3,
                       critic_learning_rate=2e-3, dual_learning_rate=5e-3, dual_optimizer=dual_optimizer)  # fmt: skip
    for u in range(4):
        alg.update()
        fraction = 1 - u / 4
        actor, critic, duals = rates(alg)
        actor_fraction, critic_fraction = (fraction, 1.0) if networks == "actor" else (1.0, fraction)
        assert actor == pytest.approx(1e-3 * actor_fraction) and critic == pytest.approx(2e-3 * critic_fraction)
        assert duals == pytest.approx(1e-3 * actor_fraction if dual_optimizer == "actor" else 5e-3)


def test_lr_schedule_networks_needs_the_linear_schedule() -> None:
    with pytest.raises(ConfigError, match="lr_schedule_networks 'critic' applies to lr_schedule 'linear' only"):
        schedule_alg(lr_schedule="constant", lr_schedule_networks="critic")


@pytest.mark.parametrize("more_iterations", [2, 4])
def test_lr_schedule_resumes_from_the_checkpoint_and_constant_keeps_the_rates(more_iterations: int) -> None:
    """A run resumed after 2 of its updates for max_iterations more (rsl-rl's meaning on resume) anneals from where
    it was to 0 at their end: resumed for the 2 it had left, update 2 steps at 1 − 2/4 as without the break; resumed
    for 4 more, the schedule stretches to 6 updates (1 − 2/6)."""
    trained = schedule_alg(lr_schedule="linear")
    trained.update()
    trained.update()
    resumed = rollout_alg("split", perturb=False, runner={"max_iterations": more_iterations}, num_learning_epochs=1,
                          lr_schedule="linear")  # fmt: skip
    resumed.load(trained.save(), None, strict=True)
    assert resumed.num_updates == 2
    resumed.update()
    assert rates(resumed)[0] == pytest.approx((1 - 2 / (2 + more_iterations)) * 3e-4)
    constant = schedule_alg()
    for _ in range(3):
        constant.update()
    assert rates(constant) == pytest.approx((3e-4, 3e-4, 3e-3))


def test_lr_schedule_needs_the_runs_length_and_max_iterations_is_the_runners() -> None:
    with pytest.raises(ConfigError, match="lr_schedule 'linear' needs the run's max_iterations >= 1"):
        rollout_alg("split", runner={"max_iterations": None}, lr_schedule="linear")
    with pytest.raises(ConfigError, match="'max_iterations' is supplied by the runner.*set agent.max_iterations"):
        schedule_alg(max_iterations=10)


def test_adaptive_lr_schedule_brakes_the_actor_on_the_path_kl() -> None:
    """rsl-rl PPO's rule on each minibatch's path KL c̄ (before its step): ÷ 1.5 over 2ε, × 1.5 under ε/2 up to the
    configured rate, never below ADAPTIVE_MIN_LR; the critic keeps its rate; the rate travels with the checkpoint."""
    alg = schedule_alg(lr_schedule="adaptive", learning_rate=1e-3, dual_optimizer="actor")
    actor_lr = alg.actor_optimizer.param_groups[0]["lr"]
    assert isinstance(actor_lr, torch.Tensor)
    eps = alg.trust_region_eps.item()
    alg._brake_actor_rate(torch.tensor(3 * eps))
    assert rates(alg) == pytest.approx((1e-3 / 1.5, 3e-4, 1e-3 / 1.5))
    alg._brake_actor_rate(torch.tensor(eps))  # inside [ε/2, 2ε]: unchanged
    assert rates(alg)[0] == pytest.approx(1e-3 / 1.5)
    alg._brake_actor_rate(torch.tensor(0.1 * eps))
    alg._brake_actor_rate(torch.tensor(0.1 * eps))
    assert rates(alg)[0] == pytest.approx(1e-3)  # back up, capped at the configured rate
    for _ in range(40):
        alg._brake_actor_rate(torch.tensor(10 * eps))
    assert rates(alg)[0] == pytest.approx(ADAPTIVE_MIN_LR)
    alg = rollout_alg("split", lr_schedule="adaptive", learning_rate=1e-3, dual_optimizer="actor")  # actor moved off
    alg.trust_region_eps = 1e-6  # every minibatch far over 2ε: the update brakes once per minibatch step
    alg.update()
    steps = alg.num_learning_epochs * alg.num_mini_batches
    assert rates(alg)[:2] == pytest.approx((1e-3 / 1.5**steps, 3e-4))
    assert alg.learning_rate == pytest.approx(1e-3 / 1.5**steps)
    resumed = rollout_alg("split", lr_schedule="adaptive", learning_rate=1e-3, dual_optimizer="actor")
    resumed.load(alg.save(), None, strict=True)
    assert rates(resumed)[0] == pytest.approx(1e-3 / 1.5**steps)
    resumed._brake_actor_rate(torch.tensor(0.0))  # still a tensor the step changes in place
    assert rates(resumed)[0] == pytest.approx(1e-3 / 1.5 ** (steps - 1))


def test_trust_region_in_action_units_follows_the_path_to_action_kl_ratio() -> None:
    """``trust_region_units="action"``: after each update the bound on the path KL becomes ε times that update's
    path/action KL ratio (clamped to [1, MAX_PATH_TO_ACTION_RATIO]), logged as ``trust_region/eps`` and carried by the
    checkpoint; with "path" ε stays as configured."""
    alg = rollout_alg("split", trust_region_units="action", trust_region_eps=0.05)
    stats = alg.update()
    ratio = stats["update_size/path_kl"] / stats["update_size/action_kl"]
    expected = 0.05 * min(max(ratio, 1.0), MAX_PATH_TO_ACTION_RATIO)
    assert stats["trust_region/eps"] == pytest.approx(expected, rel=1e-6) and expected != pytest.approx(0.05)
    assert alg.trust_region_eps.item() == pytest.approx(expected, rel=1e-6)
    resumed = rollout_alg("split", trust_region_units="action", trust_region_eps=0.05)
    resumed.load(alg.save(), None, strict=True)
    assert resumed.trust_region_eps.item() == pytest.approx(expected, rel=1e-6)
    alg._rescale_trust_region(path_kl=1.0, action_kl=0.0)  # no measurable action change: the largest bound
    assert alg.trust_region_eps.item() == pytest.approx(0.05 * MAX_PATH_TO_ACTION_RATIO)
    alg._rescale_trust_region(path_kl=0.5, action_kl=1.0)  # a path KL below the action KL it bounds: noise, ratio 1
    assert alg.trust_region_eps.item() == pytest.approx(0.05)
    path = rollout_alg("split", trust_region_eps=0.05)
    assert path.update()["trust_region/eps"] == pytest.approx(0.05)
    path.load(alg.save(), None, strict=True)  # a checkpoint's rescaled bound does not change a run in path units
    assert path.trust_region_eps.item() == pytest.approx(0.05)


def test_trust_region_in_action_units_needs_the_update_size_diagnostic() -> None:
    with pytest.raises(ConfigError, match="trust_region_units 'action' needs update_size_states >= 1"):
        rollout_alg("split", trust_region_units="action", update_size_states=0)
