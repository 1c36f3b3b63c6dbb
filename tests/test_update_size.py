"""The update-size diagnostic (the path KL's excess over the action KL): the path KL and the moment-matched action KL of one update.

For a Gaussian actor both are the textbook KL of the two pre-squash Gaussians (written out here with
``torch.distributions``); on a diffusion actor the diagnostic is logged after every update and leaves training alone.
"""

from __future__ import annotations

import copy

import pytest
import torch
from test_state_dependent_std import normal_at, sd_actor
from test_static_update import rollout_alg
from test_trudi_core import OBS_DIM
from trudi_isaac.agents.trudi_cfg import TruDiAlgorithmCfg
from trudi_isaac.algorithms.update_size import update_size
from trudi_isaac.utils.config_checks import ConfigError

torch.set_num_threads(1)


def moved(actor: torch.nn.Module, scale: float, seed: int = 1) -> torch.nn.Module:
    """A copy of ``actor`` with every parameter moved by ``scale`` · standard noise."""
    generator = torch.Generator().manual_seed(seed)
    other = copy.deepcopy(actor)
    with torch.no_grad():
        for p in other.parameters():
            p.add_(scale * torch.randn(p.shape, generator=generator))
    return other


def test_gaussian_actor_both_kls_are_the_gaussians_kl() -> None:
    """One Gaussian step from x_0 = 0: the path KL is the action KL (exactly, whatever the samples), and the
    moment-matched KL of paired samples approaches it."""
    old = sd_actor()
    new = moved(old, 0.05)
    obs = torch.randn(8, OBS_DIM, generator=torch.Generator().manual_seed(2))
    exact = torch.distributions.kl_divergence(normal_at(old, obs), normal_at(new, obs)).sum(-1).mean()  # float64
    path_kl, action_kl = update_size(old, new, obs, num_samples=4096, generator=torch.Generator().manual_seed(3))
    assert exact > 1e-3
    assert path_kl.item() == pytest.approx(exact.item(), rel=1e-4)
    assert action_kl.item() == pytest.approx(exact.item(), rel=0.1)


def test_an_unchanged_diffusion_actor_has_size_zero_and_a_moved_one_a_bounded_action_kl() -> None:
    alg = rollout_alg("split", perturb=False)
    actor = alg.actor
    obs = alg.storage.actor_obs.flatten(0, 1)[:16]  # [16, Oa]
    same = update_size(actor, copy.deepcopy(actor), obs, num_samples=64)
    assert max(kl.abs().item() for kl in same) < 1e-6
    path_kl, action_kl = update_size(actor, moved(actor, 0.02), obs, num_samples=1024)
    # the chain rule bounds the true action KL by the path KL; the moment-matched one is not bounded, but a small
    # move of a near-Gaussian chain keeps it below here (a flipped KL direction or a wrong chain end would not)
    assert 0 < action_kl < path_kl


def test_logged_after_each_update_without_changing_the_training() -> None:
    """The diagnostic draws from its own random stream: parameters after an update are those of a run without it."""
    runs = {}
    for states in (0, 8):
        alg = rollout_alg("split", update_size_states=states, update_size_samples=4)
        torch.manual_seed(1)
        runs[states] = (alg, alg.update())
    (plain, plain_stats), (measured, stats) = runs[0], runs[8]
    assert plain.behaviour_actor is None and "update_size/path_kl" not in plain_stats
    assert stats["update_size/path_kl"] > 0 and stats["update_size/action_kl"] > 0
    for p, q in zip(plain.actor.parameters(), measured.actor.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


@pytest.mark.parametrize(("field", "bad"), [("update_size_states", -1), ("update_size_states", 2.5),
                                            ("update_size_samples", 1)])  # fmt: skip
def test_update_size_fields_are_range_checked(field: str, bad: object) -> None:
    with pytest.raises(ConfigError, match=f"TruDiAlgorithmCfg.{field} = {bad!r} is out of range"):
        TruDiAlgorithmCfg(**{field: bad})
