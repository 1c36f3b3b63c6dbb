"""TruDi's value targets and dual steps against TRUDI.md, written out independently of the package:

* ``compute_returns``: the soft λ-return over a rollout with terminations, time-outs (also on the last
  step) and plain last steps, with a critic that is a known function of the stored row;
* ``update``: the direction in which α and β move, for an entropy estimate above or below H* = −k·A
  and a mean path KL above or below ε.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math

import pytest
import torch
from test_trudi_core import SMALL, collect_rollout, runner_cfg
from torch import nn
from toy_envs import PointReach
from trudi_isaac.algorithms.trudi import TruDi

torch.set_num_threads(1)


def small_trudi(num_envs: int, num_steps: int, **algorithm: object) -> tuple[TruDi, PointReach]:
    """TruDi on PointReach through ``construct_algorithm``, with SMALL networks and ``algorithm`` overrides."""
    sections = copy.deepcopy(SMALL)
    sections["runner"]["num_steps_per_env"] = num_steps
    sections["algorithm"].update(algorithm)
    env = PointReach(num_envs=num_envs, seed=0)
    with contextlib.redirect_stdout(io.StringIO()):
        alg = TruDi.construct_algorithm(env.get_observations(), env, runner_cfg("trudi", **sections), "cpu")
    return alg, env


# --- soft λ-return ----------------------------------------------------------------------------------------------------


class KnownCritic(nn.Module):
    """Q(s, a) = s_0 + 2 a_0 − s_1 a_1: a known, row-specific function of the stored (critic obs, action)."""

    def q_value(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return obs[..., 0] + 2.0 * actions[..., 0] - obs[..., 1] * actions[..., 1]


def soft_lambda_returns(
    rewards: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    q: torch.Tensor,
    log_probs: torch.Tensor,
    alpha: float,
    gamma: float,
    lam: float,
) -> torch.Tensor:
    """TRUDI.md's soft λ-return, one env and one step at a time (float64)::

        r̃_t = r_t − γ (1 − d_t) α log π̂(a'_t | s'_t)
        G_t = r̃_t + γ · { Q(s'_t, a'_t)                                   if truncated
                         (1 − d_t) [ λ G_{t+1} + (1 − λ) Q(s'_t, a'_t) ]  otherwise },    G_T = Q(s'_T, a'_T)

    ``rewards, terminated, truncated [T, E]``; ``q, log_probs [T+1, E]`` per stored row. (s'_t, a'_t) is row
    t+1, except on a time-out, where row t+1 holds the post-reset state and the fallback is row t itself.
    """
    num_steps, num_envs = rewards.shape
    returns = torch.zeros(num_steps, num_envs, dtype=torch.float64)
    for e in range(num_envs):
        g_next = float(q[num_steps, e])
        for t in reversed(range(num_steps)):
            successor = t if truncated[t, e] else t + 1
            alive = 0.0 if terminated[t, e] else 1.0
            soft_reward = float(rewards[t, e]) - gamma * alive * alpha * float(log_probs[successor, e])
            if truncated[t, e]:
                g = soft_reward + gamma * float(q[successor, e])
            else:
                g = soft_reward + gamma * alive * (lam * g_next + (1.0 - lam) * float(q[successor, e]))
            returns[t, e] = g
            g_next = g
    return returns


def test_compute_returns_matches_soft_lambda_return() -> None:
    """4 envs × 5 steps: env 0 terminates at t=1 and times out at t=3, env 1 never ends (plain last step),
    env 2 times out at t=0 and terminates on the last step (no bootstrap through it), env 3 terminates at t=2
    and times out on the last step (fallback to its own row, not to the bootstrap row T). γ = 0.9, λ = 0.8,
    α = 0.3 and a reward scale of 2 are all distinct from 1 so that a misplaced factor shows."""
    T, E, gamma, lam, alpha, scale = 5, 4, 0.9, 0.8, 0.3, 2.0
    alg, _ = small_trudi(E, T, gamma=gamma, lam=lam)
    alg.eval_mode()  # not recording: compute_returns samples no bootstrap chain, row T is the one filled below
    alg.critic = KnownCritic()
    with torch.no_grad():
        alg.duals.log_alpha.fill_(math.log(alpha))
        alg.reward_normalizer.mean_square.fill_(scale**2)  # scale() = sqrt(mean R² + 1e-8) ≈ 2
        alg.reward_normalizer.count.fill_(100.0)
    assert alg.reward_normalizer.scale() == pytest.approx(scale)

    st = alg.storage
    gen = torch.Generator().manual_seed(0)
    st.critic_obs.copy_(torch.randn(st.critic_obs.shape, generator=gen))  # [T+1, E, 4]
    st.actions.copy_(torch.rand(st.actions.shape, generator=gen) * 2 - 1)  # [T+1, E, 2]
    st.log_probs.copy_(torch.randn(T + 1, E, generator=gen) + 1.0)  # [T+1, E]
    st.rewards.copy_(torch.randn(T, E, generator=gen))  # [T, E]
    st.terminated.zero_()
    st.truncated.zero_()
    for t, e in ((1, 0), (4, 2), (2, 3)):
        st.terminated[t, e] = True
    for t, e in ((3, 0), (0, 2), (4, 3)):
        st.truncated[t, e] = True

    alg.compute_returns(obs=None)

    q = KnownCritic().q_value(st.critic_obs, st.actions).double()  # [T+1, E]
    expected = soft_lambda_returns(
        st.rewards.double() / scale, st.terminated, st.truncated, q, st.log_probs.double(), alpha, gamma, lam
    )
    torch.testing.assert_close(st.returns.double(), expected, rtol=1e-5, atol=1e-5)
    # two cases by hand: a terminal last step is its scaled reward; a time-out on the last step bootstraps
    # from its own row (the soft bonus too), not from row T
    assert st.returns[4, 2].item() == pytest.approx(st.rewards[4, 2].item() / scale, rel=1e-5)
    own_row = st.rewards[4, 3] / scale + gamma * (q[4, 3] - alpha * st.log_probs[4, 3])
    assert st.returns[4, 3].item() == pytest.approx(own_row.item(), rel=1e-5)


# --- dual steps -------------------------------------------------------------------------------------------------------

HUGE = 1e3
"""|k| and ε far beyond any entropy estimate or path KL of the small actor: the sign of H̄ − H* and c̄ − ε is known."""


@pytest.mark.parametrize(
    ("entropy_target_k", "trust_region_eps", "alpha_should", "beta_should"),
    [
        (HUGE, 1e-6, "decrease", "increase"),  # H̄ > H* = −k·A, c̄ > ε
        (-HUGE, HUGE, "increase", "decrease"),  # H̄ < H*,        c̄ < ε
    ],
)
def test_dual_steps_move_alpha_and_beta_the_right_way(
    entropy_target_k: float, trust_region_eps: float, alpha_should: str, beta_should: str
) -> None:
    """L_α = α (H̄ − H*) and L_β = −β (c̄ − ε), stepped by gradient descent through ``update()``: an entropy above
    its target lowers α (less entropy bonus), below raises it; a path KL over the bound raises β (a stronger
    restoring force), under it lowers β. The actor is moved off the behaviour policy first, so that c̄ > 0 from
    the first minibatch on."""
    torch.manual_seed(0)
    alg, env = small_trudi(16, 8, entropy_target_k=entropy_target_k, trust_region_eps=trust_region_eps)
    alg.train_mode()
    obs = collect_rollout(alg, env, env.get_observations(), alg.storage.num_steps)
    with torch.inference_mode():
        alg.compute_returns(obs)
    with torch.no_grad():
        for p in alg.actor.parameters():
            p.add_(0.05 * torch.randn_like(p))
    alpha_before, beta_before = alg.duals.alpha.item(), alg.duals.beta.item()

    stats = alg.update()

    # the premises, from the update's own statistics
    target = -entropy_target_k * alg.actor.action_dim
    assert (stats["trust_region/entropy"] > target) == (alpha_should == "decrease")
    assert (stats["trust_region/kl_mean"] > trust_region_eps) == (beta_should == "increase")
    alpha_after, beta_after = alg.duals.alpha.item(), alg.duals.beta.item()
    assert (alpha_after < alpha_before) == (alpha_should == "decrease"), (alpha_before, alpha_after)
    assert (beta_after > beta_before) == (beta_should == "increase"), (beta_before, beta_after)
    assert alpha_after != alpha_before and beta_after != beta_before
