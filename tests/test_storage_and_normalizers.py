"""The rollout buffer's minibatches and the two normalizers' statistics, against direct computations.

* ``TrajectoryStorage.mini_batches``: every yielded row is the stored row it claims to be, its successor
  fields are row (t+1, same env), its masks follow the stored flags, and an epoch holds distinct rows;
* ``ObservationNormalizer``: mean and variance after several rollouts of several chunks are ``torch``'s of
  all data seen, and they stay frozen within a rollout;
* ``RewardNormalizer``: its scale is the RMS of the per-env discounted returns it should have seen, with
  dones restarting them and rollouts not.
"""

from __future__ import annotations

import math

import pytest
import torch
from trudi_isaac.algorithms.reward_normalizer import RewardNormalizer
from trudi_isaac.modules.obs_normalizer import ObservationNormalizer
from trudi_isaac.storage.trajectory_storage import TrajectoryStorage

torch.set_num_threads(1)

# --- minibatch rows and their successors ------------------------------------------------------------------------------

STEP_CODE = 1000
"""A stored row (t, e) holds the value STEP_CODE·t + e, plus a per-field offset (so fields cannot be swapped)."""

OFFSETS = {"actor_obs": 0.0, "chains": 0.125, "chain_means": 0.25, "critic_obs": 0.375, "actions": 0.5, "returns": 0.625}


def encoded_storage(num_envs: int, num_steps: int, seed: int) -> TrajectoryStorage:
    """A buffer filled through its fields: every entry of row (t, e) encodes (t, e); random exclusive
    termination/time-out flags (both present, both on the last step somewhere)."""
    st = TrajectoryStorage(num_envs, num_steps, 3, 5, 2, 4, "cpu")
    for name, offset in OFFSETS.items():
        field = getattr(st, name)  # [T(+1), E, …]
        rows = torch.arange(field.shape[0])[:, None] * STEP_CODE + torch.arange(num_envs)[None, :]  # [T(+1), E]
        field.copy_((rows.float() + offset).reshape(*rows.shape, *(1,) * (field.dim() - 2)).expand_as(field))
    st.step_var.copy_(torch.rand(st.step_var.shape))
    gen = torch.Generator().manual_seed(seed)
    u = torch.rand(num_steps, num_envs, generator=gen)  # [T, E]
    st.terminated.copy_(u < 0.2)
    st.truncated.copy_(u > 0.8)
    st.terminated[-1, 0], st.truncated[-1, 0] = True, False
    st.terminated[-1, 1], st.truncated[-1, 1] = False, True
    st.step = num_steps
    return st


def decode(values: torch.Tensor, offset: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(t, e) ``[B]`` each from encoded values ``[B]``."""
    code = torch.round(values - offset).long()
    return code // STEP_CODE, code % STEP_CODE


@pytest.mark.parametrize("num_mini_batches", [1, 4, 7])
def test_mini_batches_pair_each_row_with_its_successor(num_mini_batches: int) -> None:
    """9 steps × 4 envs (36 rows; 7 minibatches do not divide them). For every yielded row: all its fields are
    those of one stored row (t, e), next_critic_obs/next_actions are row (t+1, e) — row T, the bootstrap
    chain, for t = T−1 — critic_mask is False exactly on time-outs, next_mask False exactly on terminations
    and time-outs. Within an epoch the rows are distinct (all of them when the minibatches divide the
    rollout), and epochs are reshuffled."""
    T, E, epochs = 9, 4, 3
    st = encoded_storage(E, T, seed=0)
    expected_size = T * E // num_mini_batches
    orders = []
    batches = list(st.mini_batches(num_mini_batches, epochs))
    assert len(batches) == num_mini_batches * epochs
    for epoch in range(epochs):
        rows = []
        for batch in batches[epoch * num_mini_batches : (epoch + 1) * num_mini_batches]:
            t, e = decode(batch.actor_obs[:, 0], OFFSETS["actor_obs"])  # [B]
            assert ((0 <= t) & (t < T) & (0 <= e) & (e < E)).all()
            for field, name in (
                (batch.actor_obs, "actor_obs"),
                (batch.chain, "chains"),
                (batch.old_means, "chain_means"),
                (batch.critic_obs, "critic_obs"),
                (batch.actions, "actions"),
            ):
                flat = field.flatten(1)  # [B, …]
                assert torch.equal(flat, flat[:, :1].expand_as(flat)), name  # one row's value throughout
                assert torch.equal(torch.stack(decode(flat[:, 0], OFFSETS[name])), torch.stack([t, e])), name
            assert torch.equal(torch.stack(decode(batch.returns, OFFSETS["returns"])), torch.stack([t, e]))
            for field, name in ((batch.next_critic_obs, "critic_obs"), (batch.next_actions, "actions")):
                assert torch.equal(torch.stack(decode(field[:, 0], OFFSETS[name])), torch.stack([t + 1, e])), name
            assert torch.equal(batch.critic_mask, ~st.truncated[t, e])
            assert torch.equal(batch.next_mask, ~(st.terminated[t, e] | st.truncated[t, e]))
            assert torch.equal(batch.old_var, st.step_var)
            assert batch.actor_obs.shape[0] == expected_size
            rows.append(t * E + e)
        rows = torch.cat(rows)
        assert rows.unique().numel() == rows.numel()  # distinct rows within an epoch
        if T * E % num_mini_batches == 0:
            assert rows.numel() == T * E
        orders.append(rows)
    assert all(not torch.equal(orders[0], other) for other in orders[1:])  # reshuffled every epoch
    # the masks above are exercised both ways
    assert st.terminated.any() and st.truncated.any() and not (st.terminated | st.truncated).all()


# --- observation normalizer -------------------------------------------------------------------------------------------


def test_observation_normalizer_matches_torch_statistics() -> None:
    """Three rollouts of 2, 1 and 3 chunks of varied sizes, offset and scale per dim (one dim far from 0, where
    E[x²] − E[x]² cancels badly in float32). After each commit: mean, population variance and count are those of
    all data seen so far, and the forward pass is (x − mean) / sqrt(var + eps). Within a rollout they stay frozen."""
    gen = torch.Generator().manual_seed(0)
    offset, scale = torch.tensor([0.0, -3.0, 200.0]), torch.tensor([1.0, 0.1, 5.0])
    rollouts = [[17, 5], [40], [3, 11, 29]]
    norm = ObservationNormalizer(3)
    seen = []
    for chunk_sizes in rollouts:
        frozen = (norm.mean.clone(), norm.var.clone())
        for n in chunk_sizes:
            chunk = offset + scale * torch.randn(n, 3, generator=gen)  # [n, 3]
            norm.accumulate(chunk)
            seen.append(chunk)
            assert torch.equal(norm.mean, frozen[0]) and torch.equal(norm.var, frozen[1])
        norm.commit()
        data = torch.cat(seen).double()  # [n_seen, 3]
        torch.testing.assert_close(norm.mean.double(), data.mean(0), rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(norm.var.double(), data.var(0, correction=0), rtol=1e-5, atol=1e-8)
        assert norm.count.item() == data.shape[0]
        x = seen[-1]
        expected = (x.double() - data.mean(0)) / torch.sqrt(data.var(0, correction=0) + norm.eps)
        # the float32 mean at ≈ 200 is rounded by ≤ 7.6e-6 (half its ulp; x − mean is then exact), ÷ std 5: ≤ 1.5e-6,
        # ISA-independent (the statistics are float64 sums, rounded once); a wrong statistic is off by ≥ 1e-3
        torch.testing.assert_close(norm(x).double(), expected, rtol=1e-5, atol=1e-5)


# --- reward normalizer ------------------------------------------------------------------------------------------------


def discounted_returns(rewards: torch.Tensor, dones: torch.Tensor, gamma: float) -> torch.Tensor:
    """R_{t,e} = Σ_{k=k0}^{t} γ^{t−k} r_{k,e}, k0 the first step of the episode holding step t: ``[S, E]`` (float64).

    A done at step t ends the episode *after* r_t: R_t includes r_t, the next episode starts at t+1.
    """
    num_steps, num_envs = rewards.shape
    returns = torch.zeros(num_steps, num_envs, dtype=torch.float64)
    for e in range(num_envs):
        start = 0
        for t in range(num_steps):
            returns[t, e] = sum(gamma ** (t - k) * float(rewards[k, e]) for k in range(start, t + 1))
            if dones[t, e]:
                start = t + 1
    return returns


def test_reward_normalizer_scale_is_rms_of_discounted_returns() -> None:
    """4 envs, three rollouts of 6, 9 and 5 steps (rewards with a non-zero mean, frequent dones). After each commit,
    scale() = sqrt(mean R² + eps) over every env step seen so far, R from :func:`discounted_returns` over the whole
    sequence (a rollout boundary does not restart an episode). Before any commit, and between commits, the scale
    is the previous one."""
    E, gamma, eps = 4, 0.9, 1e-8
    gen = torch.Generator().manual_seed(0)
    rollout_steps = [6, 9, 5]
    rewards = 1.0 + torch.randn(sum(rollout_steps), E, generator=gen)  # [S, E]
    dones = torch.rand(sum(rollout_steps), E, generator=gen) < 0.25  # [S, E]
    assert dones.any(0).all() and (~dones).any(0).all()
    expected_returns = discounted_returns(rewards, dones, gamma)  # [S, E]

    norm = RewardNormalizer(E, gamma, eps=eps)
    assert norm.scale() == 1.0
    end = 0
    for steps in rollout_steps:
        previous = norm.scale()
        for t in range(end, end + steps):
            norm.observe(rewards[t], dones[t])
            assert norm.scale() == previous  # pending until commit
        norm.commit()
        end += steps
        seen = expected_returns[:end]  # [end, E]
        assert norm.count.item() == seen.numel()
        # float64 statistics against float64: reordering noise ~1e-15 of the value
        assert norm.mean_square.item() == pytest.approx(seen.square().mean().item(), rel=1e-9)
        assert norm.scale() == pytest.approx(math.sqrt(seen.square().mean().item() + eps), rel=1e-9)
