"""The static, sync-free minibatch step (the form a CUDA graph captures) against the split gate, on the CPU.

* masked gate vs split gate: the same loss, gradient, path KL, gate and entropy in float64, with every state
  inside the bound, every state over it, a mix, and an empty minibatch;
* a whole ``update()`` with the masked gate equals one with the split gate from the same state and RNG;
* the preallocated minibatch order is ``torch.randperm``'s, as before;
* ``cuda_graphs=True`` without CUDA is a clear error (the capture itself is checked on a GPU by
  ``benchmarks/gpu_check.sh``).
"""

from __future__ import annotations

import contextlib
import copy
import io

import pytest
import torch
from test_trudi_core import SMALL, collect_rollout, runner_cfg
from toy_envs import PointReach
from trudi_isaac.algorithms.trudi import TruDi
from trudi_isaac.utils.config_checks import ConfigError

torch.set_num_threads(1)


def rollout_alg(
    gate_form: str,
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
    perturb: bool = True,
    kind: str = "trudi",
    actor: dict | None = None,
    runner: dict | None = None,
    **algorithm: object,
) -> TruDi:
    """TruDi (``kind`` "reppo": the Gaussian actor) on PointReach after one rollout and its returns, its actor moved
    off the behaviour policy (``perturb``); ``actor``, ``runner``, ``algorithm``: further fields of those sections."""
    torch.manual_seed(seed)
    env = PointReach(num_envs=16, seed=seed)
    cfg = runner_cfg(kind, **SMALL) | (runner or {})
    cfg["actor"] |= actor or {}
    cfg["algorithm"] |= {"gate_form": gate_form, "init_beta": 0.5, "num_learning_epochs": 2} | algorithm
    with contextlib.redirect_stdout(io.StringIO()):
        alg = TruDi.construct_algorithm(env.get_observations(), env, cfg, "cpu")
    alg.train_mode()
    obs = collect_rollout(alg, env, env.get_observations(), cfg["num_steps_per_env"])
    with torch.inference_mode():
        alg.compute_returns(obs)
    with torch.no_grad():
        for p in alg.actor.parameters() if perturb else ():
            p.add_(0.05 * torch.randn_like(p))
    if dtype != torch.float32:  # (a cast also casts the normalizers' float64 statistics)
        alg.actor.to(dtype)
        alg.critic.to(dtype)
    return alg


def as_dtype(batch, dtype: torch.dtype):
    return type(batch)(**{k: v.to(dtype) if v.is_floating_point() else v for k, v in vars(batch).items()})


@pytest.mark.parametrize("case", ["mixed", "all_inside", "all_over", "empty"])
def test_masked_gate_equals_split_gate_in_float64(case: str) -> None:
    alg = rollout_alg("split", torch.float64)
    batch = as_dtype(next(alg.storage.mini_batches(1, 1)), torch.float64)
    if case == "empty":
        batch = type(batch)(**{k: v if k == "old_var" else v[:0] for k, v in vars(batch).items()})
    num_states = batch.actor_obs.shape[0]
    noise = torch.randn(num_states, alg.actor.num_steps + 1, alg.actor.action_dim, dtype=torch.float64)
    alpha, beta = alg.duals.alpha.detach().double(), alg.duals.beta.detach().double()
    with torch.no_grad():
        kl = alg.actor_loss(batch, alpha, beta, noise).kl
    eps = {"mixed": kl.median().item() if num_states else 1.0, "all_inside": float("inf"), "all_over": 0.0}
    alg.trust_region_eps = eps.get(case, 1.0)
    params = [p for p in alg.actor.parameters() if p.requires_grad]

    def run(masked: bool):
        alg.masked_gate = masked
        step = alg.actor_loss(batch, alpha, beta, noise)
        grads = torch.autograd.grad(step.loss, params, allow_unused=True) if num_states else [None] * len(params)
        grads = torch.cat([(torch.zeros(p.numel(), dtype=p.dtype) if g is None else g.flatten()) for p, g in zip(params, grads)])
        return step, grads

    split, g_split = run(masked=False)
    masked, g_masked = run(masked=True)
    if case == "mixed":
        assert 0 < int(split.inside.sum()) < num_states
    elif case != "empty":
        assert bool(split.inside.all()) == (case == "all_inside") and bool(split.inside.any()) == (case == "all_inside")
    torch.testing.assert_close(masked.loss.detach(), split.loss.detach(), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(g_masked, g_split, rtol=1e-9, atol=1e-12)
    assert torch.equal(masked.inside, split.inside)
    torch.testing.assert_close(masked.kl, split.kl, rtol=0.0, atol=0.0)
    torch.testing.assert_close(masked.entropy, split.entropy, rtol=1e-10, atol=1e-12, equal_nan=True)
    torch.testing.assert_close(masked.q_mean, split.q_mean, rtol=1e-10, atol=1e-12, equal_nan=True)
    if case != "empty":
        assert g_split.norm() > 0  # the comparison is not between two zeros


def test_masked_update_equals_split_update() -> None:
    """Two epochs × two minibatches from the same state and RNG: the same parameters, duals and statistics."""
    results = {}
    for gate_form in ("split", "masked"):
        alg = rollout_alg(gate_form)
        batch = next(alg.storage.mini_batches(1, 1))
        with torch.no_grad():  # ε at the median path KL: about half the states over the bound
            alg.trust_region_eps = alg.actor_loss(batch, alg.duals.alpha, alg.duals.beta).kl.median().item()
        torch.manual_seed(1)
        stats = alg.update()
        state = {f"actor.{k}": v for k, v in alg.actor.state_dict().items()}
        state |= {f"critic.{k}": v for k, v in alg.critic.state_dict().items()}
        state |= {f"duals.{k}": v for k, v in alg.duals.state_dict().items()}
        results[gate_form] = (copy.deepcopy(state), stats)
    (split_state, split_stats), (masked_state, masked_stats) = results["split"], results["masked"]
    assert 0.0 < split_stats["trust_region/over_bound_frac"] < 1.0  # both branches ran
    for key, value in split_state.items():
        torch.testing.assert_close(masked_state[key], value, rtol=1e-5, atol=1e-6, msg=key)
    assert split_stats.keys() == masked_stats.keys()
    for key, value in split_stats.items():
        assert masked_stats[key] == pytest.approx(value, rel=1e-4, abs=1e-6), key


def trained_state(alg: TruDi) -> dict[str, torch.Tensor]:
    """The actor's, critic's and duals' parameters and buffers, copied."""
    modules = {"actor": alg.actor, "critic": alg.critic, "duals": alg.duals}
    return {f"{name}.{k}": v.clone() for name, m in modules.items() for k, v in m.state_dict().items()}


@pytest.mark.parametrize("kind", ["trudi", "reppo"])
def test_compiled_step_equals_eager_step(kind: str) -> None:
    """``torch_compile``: an update through the compiled losses, from the eager run's rollout and state, gives its
    parameters, duals and statistics (float32). TruDi's rollout itself, collected through the compiled chain, is the
    eager one (REPPO's draws its noise in another shape there: a different rollout, not a different chain)."""
    eager = rollout_alg("masked", kind=kind)
    compiled = rollout_alg("masked", kind=kind, torch_compile=True)
    if kind == "trudi":
        torch.testing.assert_close(compiled.storage.chains, eager.storage.chains, rtol=1e-5, atol=1e-5)
    with torch.no_grad():  # the eager run's state, the normalizers' statistics of this rollout included
        for name in ("actor", "critic", "duals", "reward_normalizer"):
            source, target = getattr(eager, name), getattr(compiled, name)
            for mine, theirs in zip([*target.parameters(), *target.buffers()], [*source.parameters(), *source.buffers()]):
                mine.copy_(theirs)
    for name, value in vars(eager.storage).items():
        if isinstance(value, torch.Tensor):
            getattr(compiled.storage, name).copy_(value)
    compiled._soft_reward_parts, compiled._q_mean = eager._soft_reward_parts, eager._q_mean  # the rollout's diagnostics
    with torch.no_grad():  # ε at the median path KL: about half the states over the bound
        eps = eager.actor_loss(next(eager.storage.mini_batches(1, 1)), eager.duals.alpha, eager.duals.beta).kl.median()
    results = {}
    for alg in (eager, compiled):
        alg.trust_region_eps = eps.item()
        torch.manual_seed(1)
        stats = alg.update()
        results[alg.torch_compile] = (trained_state(alg), stats)
    (eager_state, eager_stats), (state, stats) = results[False], results[True]
    assert 0.0 < eager_stats["trust_region/over_bound_frac"] < 1.0  # both branches of the gate ran
    for key, value in eager_state.items():
        torch.testing.assert_close(state[key], value, rtol=1e-4, atol=1e-5, msg=key)
    for key, value in eager_stats.items():
        assert stats[key] == pytest.approx(value, rel=1e-3, abs=1e-5), key


def test_torch_compile_with_the_split_gate_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="torch_compile = True needs the masked gate"):
        rollout_alg("split", torch_compile=True)


def test_minibatch_order_is_randperm() -> None:
    alg = rollout_alg("split")
    total = alg.storage.num_envs * alg.storage.num_steps
    torch.manual_seed(3)
    expected = [torch.randperm(total) for _ in range(2)]
    torch.manual_seed(3)
    rows = [idx.clone() for idx in alg.storage.mini_batch_indices(2, 2)]
    size = total // 2
    assert all(len(r) == size for r in rows)
    for epoch in range(2):
        torch.testing.assert_close(torch.cat(rows[2 * epoch : 2 * epoch + 2]), expected[epoch][: 2 * size])


def test_update_statistics_include_diagnostics() -> None:
    """The soft-reward split, the η-only KL and the critic targets' range and atom share are logged and sane."""
    alg = rollout_alg("split")
    returns = alg.storage.returns.clone()
    stats = alg.update()
    assert stats["critic_target/min"] == pytest.approx(returns.min().item())
    assert stats["critic_target/max"] == pytest.approx(returns.max().item())
    atoms = alg.critic.hl_gauss.atoms
    width = (atoms[1] - atoms[0]).item()
    span_atoms = (returns.max() - returns.min()).item() / width
    assert 0.0 < stats["critic_target/atom_share"] <= min(1.0, (span_atoms + 2) / len(atoms))
    assert stats["soft_reward/entropy_cost"] != 0.0  # α log π̂ of the untrained chain is not zero
    assert stats["trust_region/kl_eta_only"] >= 0.0
    assert stats["trust_region/kl_eta_only"] <= stats["trust_region/kl_mean"] + 1e-6


def test_cuda_graphs_without_cuda_is_a_clear_error() -> None:
    env = PointReach(num_envs=4)
    cfg = runner_cfg("trudi", **SMALL)
    cfg["algorithm"]["cuda_graphs"] = True
    with pytest.raises(ConfigError, match="cuda_graphs=True needs a CUDA device"):
        with contextlib.redirect_stdout(io.StringIO()):
            TruDi.construct_algorithm(env.get_observations(), env, cfg, "cpu")
    cfg["algorithm"]["cuda_graphs"] = "yes"
    with pytest.raises(ConfigError, match="cuda_graphs = 'yes' is out of range"):
        TruDi.construct_algorithm(env.get_observations(), env, cfg, "cpu")
