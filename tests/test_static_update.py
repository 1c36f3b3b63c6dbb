"""The static, sync-free minibatch step (the form a CUDA graph captures) against the split gate, on the CPU.

* masked gate vs split gate: the same loss, gradient, path KL, gate and entropy in float64, with every state
  inside the bound, every state over it, a mix, and an empty minibatch;
* a whole ``update()`` with the masked gate moves the parameters as one with the split gate from the same state
  and RNG, and one through ``torch_compile``'s compiled losses as the eager one (float32, compared as gradients:
  see :func:`with_plain_sgd`);
* the preallocated minibatch order is ``torch.randperm``'s, as before;
* ``cuda_graphs=True`` without CUDA is a clear error (the capture itself is checked on a GPU by
  ``benchmarks/device/gpu_check.sh``).
"""

from __future__ import annotations

import contextlib
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


SGD_LR = 0.1
"""The step size of :func:`with_plain_sgd`: an update of ~0.02 (actor, duals) to ~0.4 (critic) in norm, ~1e-3 of the
parameters' norm: far above their float32 rounding, small enough that four steps stay close to linear."""
UPDATE_RTOL = 1e-4
"""Two float32 updates through different code paths (plain SGD) differ by at most UPDATE_RTOL of a module's update
in norm: their gradients sum the same terms in another order (SIMD width, kernel fusion, row subsets), ~1e-6 of the
update (measured ≤ 1.3e-6, compiled or eager, with AVX2 or without a vector ISA); a factor 1.01 on one term of one
loss moves it by 7e-4 to 1e-2 (measured: the critic's or its auxiliary loss, α, the path-KL term)."""
TENSOR_RTOL = 1e-3
"""The same per parameter tensor, against its own update: a small tensor whose gradient is mostly cancellation
(a bias) carries more relative noise (measured ≤ 4e-5)."""


def with_plain_sgd(alg: TruDi) -> TruDi:
    """``alg`` with plain SGD of rate SGD_LR and no gradient clipping in place of its optimizers, for comparing two
    updates: a parameter then moves by −SGD_LR · the sum of its gradients over the minibatch steps, so two updates
    differ as their gradients do. Adam would blur both sides of the comparison: its step m̂ / (√v̂ + ε) is the same
    for any scale of the loss (a factor on a loss term hardly shows), and an element whose gradient is near zero
    steps by up to ±lr on float32 summation noise alone."""
    alg.max_grad_norm = float("inf")
    alg.actor_optimizer, alg.critic_optimizer, alg.dual_optimizer = (
        torch.optim.SGD(module.parameters(), lr=SGD_LR) for module in (alg.actor, alg.critic, alg.duals)
    )
    return alg


def assert_same_update(alg: TruDi, state: dict[str, torch.Tensor], reference: dict[str, torch.Tensor],
                       before: dict[str, torch.Tensor]) -> None:  # fmt: skip
    """``state`` and ``reference`` (:func:`trained_state` after an update of ``alg``'s from ``before``, plain SGD)
    moved the parameters the same way: per module within UPDATE_RTOL of the update's norm, per tensor within
    TENSOR_RTOL of its own. Buffers (the normalizers' statistics of the same rollout, the updated actor's action
    spread, a std of O(1) actions) agree to UPDATE_RTOL of their values."""
    parameters = set()
    for module in ("actor", "critic", "duals"):
        names = [f"{module}.{name}" for name, _ in getattr(alg, module).named_parameters()]
        parameters.update(names)
        moved = {name: (reference[name] - before[name]).double() for name in names}
        error = {name: (state[name] - reference[name]).double() for name in names}
        total_moved = torch.cat([m.flatten() for m in moved.values()]).norm()
        assert total_moved > 0, module  # the comparison is not between two unchanged modules
        total_error = torch.cat([e.flatten() for e in error.values()]).norm()
        assert total_error <= UPDATE_RTOL * total_moved, (module, (total_error / total_moved).item())
        for name in names:
            assert error[name].norm() <= TENSOR_RTOL * moved[name].norm(), (name, error[name].norm().item())
    for name in reference.keys() - parameters:
        torch.testing.assert_close(state[name], reference[name], rtol=UPDATE_RTOL, atol=0.0, msg=name)


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
    # float64: the two gates sum the same terms over other row subsets, reordering noise ~1e-15 of |loss| ~ 1e-2 and
    # of gradient terms ~1e-3; the gate's c(s) is the same call on the same rows in both, bitwise equal
    torch.testing.assert_close(masked.loss.detach(), split.loss.detach(), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(g_masked, g_split, rtol=1e-9, atol=1e-12)
    assert torch.equal(masked.inside, split.inside)
    torch.testing.assert_close(masked.kl, split.kl, rtol=0.0, atol=0.0)
    torch.testing.assert_close(masked.entropy, split.entropy, rtol=1e-10, atol=1e-12, equal_nan=True)
    torch.testing.assert_close(masked.q_mean, split.q_mean, rtol=1e-10, atol=1e-12, equal_nan=True)
    if case != "empty":
        assert g_split.norm() > 0  # the comparison is not between two zeros


def trained_state(alg: TruDi) -> dict[str, torch.Tensor]:
    """The actor's, critic's and duals' parameters and buffers, copied."""
    modules = {"actor": alg.actor, "critic": alg.critic, "duals": alg.duals}
    return {f"{name}.{k}": v.clone() for name, m in modules.items() for k, v in m.state_dict().items()}


def assert_same_statistics(stats: dict[str, float], reference: dict[str, float]) -> None:
    """An update's statistics against another's of the same rollout and RNG: means over the minibatch steps of
    losses, KLs, Q and entropy (float32 sums of the same terms in another order: ~1e-6 of their value, measured
    ≤ 3e-6), the fraction of states over the bound (the same gate), and diagnostics computed eagerly from parameters
    that agree to UPDATE_RTOL (the update-size KLs are quadratic in the update: twice its relative error)."""
    assert stats.keys() == reference.keys()
    for key, value in reference.items():
        assert stats[key] == pytest.approx(value, rel=2 * UPDATE_RTOL, abs=0.0), key


def test_masked_update_equals_split_update() -> None:
    """Two epochs × two minibatches from the same state and RNG: the same parameter changes, duals and statistics."""
    results = {}
    for gate_form in ("split", "masked"):
        alg = with_plain_sgd(rollout_alg(gate_form))
        batch = next(alg.storage.mini_batches(1, 1))
        with torch.no_grad():  # ε at the median path KL: about half the states over the bound
            alg.trust_region_eps = alg.actor_loss(batch, alg.duals.alpha, alg.duals.beta).kl.median().item()
        before = trained_state(alg)  # the same in both runs: same seeds
        torch.manual_seed(1)
        stats = alg.update()
        results[gate_form] = (trained_state(alg), stats)
    (split_state, split_stats), (masked_state, masked_stats) = results["split"], results["masked"]
    assert 0.0 < split_stats["trust_region/over_bound_frac"] < 1.0  # both branches ran
    assert_same_update(alg, masked_state, split_state, before)
    assert_same_statistics(masked_stats, split_stats)


@pytest.mark.parametrize("kind", ["trudi", "reppo"])
def test_compiled_step_equals_eager_step(kind: str) -> None:
    """``torch_compile``: an update through the compiled losses, from the eager run's rollout and state, moves the
    parameters and duals as the eager one does and logs its statistics (float32, plain SGD: the comparison is one of
    the gradients). TruDi's rollout itself, collected through the compiled chain, is the eager one (REPPO's draws its
    noise in another shape there: a different rollout, not a different chain)."""
    eager = with_plain_sgd(rollout_alg("masked", kind=kind))
    compiled = with_plain_sgd(rollout_alg("masked", kind=kind, torch_compile=True))
    if kind == "trudi":
        # x_n after 8 env steps of 8-step chains, |x| up to ~10: float32 noise in another summation order is ~1e-7 of
        # the largest |x| (measured ≤ 3e-7, compiled or eager, AVX2 or no vector ISA); a wrong chain step is ≥ 1e-3
        scale = eager.storage.chains.abs().max().item()
        torch.testing.assert_close(compiled.storage.chains, eager.storage.chains, rtol=0.0, atol=1e-5 * scale)
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
    before = trained_state(eager)
    results = {}
    for alg in (eager, compiled):
        alg.trust_region_eps = eps.item()
        torch.manual_seed(1)
        stats = alg.update()
        results[alg.torch_compile] = (trained_state(alg), stats)
    (eager_state, eager_stats), (state, stats) = results[False], results[True]
    assert 0.0 < eager_stats["trust_region/over_bound_frac"] < 1.0  # both branches of the gate ran
    assert_same_update(eager, state, eager_state, before)
    assert_same_statistics(stats, eager_stats)


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
