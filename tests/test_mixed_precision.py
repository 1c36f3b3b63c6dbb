"""``use_mixed_precision``: bfloat16 autocast over the forward passes and losses (rsl-rl PPO's field), with the float32
islands of ``algorithm.use_mixed_precision``'s docstring. On any CPU: autocast runs bfloat16 matmuls with or without
native bfloat16 (slower without), so the numerics checked here are those of every machine."""

from __future__ import annotations

import warnings

import pytest
import torch
from test_static_update import rollout_alg, with_plain_sgd
from trudi_isaac.utils import precision
from trudi_isaac.utils.config_checks import ConfigError

KINDS = [("trudi", {}), ("reppo", {}), ("reppo", {"state_dependent_sigma": True})]
KIND_IDS = ["trudi", "reppo", "reppo_state_dependent_sigma"]

BF16_RTOL = 2.0**-8
"""bfloat16 keeps 8 significant bits: each matmul input is rounded by up to 2^-9 of its value, so a forward pass
through a few layers is off by a few 2^-9 of its output's scale. The comparisons below allow 2^-8 × a small factor
(named at each, with what was measured): they catch a wrong mixed-precision path, not the rounding itself; which
values stay float32 is asserted by dtype (test_float32_islands_under_mixed_precision)."""
UPDATE_FACTOR = 6
"""Mixed against float32 updates, per module, in units of BF16_RTOL of the update's norm: measured ≤ 6.6e-3 (1.7
BF16_RTOL; actor, critic; TruDi, REPPO, REPPO with σ(s); duals ≤ 1e-4), the rounding of every matmul input summed
over four minibatch steps; 6 leaves room for another rollout or another CPU's summation order."""


class DtypeLog:
    """The output dtype of every call of the named modules, by forward hooks."""

    def __init__(self, modules: dict[str, torch.nn.Module]) -> None:
        self.seen: dict[str, set[torch.dtype]] = {name: set() for name in modules}
        self.handles = [m.register_forward_hook(self._hook(name)) for name, m in modules.items()]

    def _hook(self, name: str):
        def hook(module, inputs, output) -> None:
            self.seen[name].add(output.dtype)

        return hook

    def close(self) -> None:
        for handle in self.handles:
            handle.remove()


@pytest.mark.parametrize(("kind", "actor"), KINDS, ids=KIND_IDS)
def test_float32_islands_under_mixed_precision(kind: str, actor: dict) -> None:
    """The networks' matmuls run in bfloat16; what TruDi keeps, compares or steps is float32: the chain collection
    samples (x_n, means, variances, log π̂), Q for the returns, the control's and the critic's outputs, the path KL,
    the losses, parameters, gradients and optimizer state. No dtype warning (RMSNorm's fused kernel gets one dtype)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        alg = rollout_alg("split", kind=kind, actor=actor, use_mixed_precision=True)
        st = alg.storage
        with alg._autocast():  # what collection computes (the storage's float32 buffers would hide a bfloat16 value)
            sample = alg._sample(st.actor_obs[0])
            q = alg.critic.q_value(st.critic_obs[0], st.actions[0])
        for name in ("actions", "chain", "means", "var", "log_prob", "prior_log_prob"):
            assert getattr(sample, name).dtype == torch.float32, name
        assert q.dtype == torch.float32
        net = alg.actor.control if kind == "trudi" else alg.actor.mean_net
        first_linear = next(m for m in net.modules() if isinstance(m, torch.nn.Linear))
        log = DtypeLog({"actor_linear": first_linear, "actor_out": net, "critic_linear": alg.critic.encoder[0][0],
                        "critic_norm": alg.critic.encoder[0][1], "critic_head": alg.critic.head})  # fmt: skip
        batch = next(st.mini_batches(1, 1))
        with alg._autocast():
            step = alg.actor_loss(batch, alg.duals.alpha.detach(), alg.duals.beta.detach())
            critic_loss, aux_loss = alg.critic.loss(batch.critic_obs, batch.actions, batch.returns,
                                                    batch.next_critic_obs, batch.next_actions, batch.critic_mask)  # fmt: skip
        log.close()
        assert log.seen["actor_linear"] == {torch.bfloat16} and log.seen["critic_linear"] == {torch.bfloat16}
        assert log.seen["critic_norm"] == {torch.bfloat16}  # the autocast region reaches the networks
        assert log.seen["critic_head"] == {torch.bfloat16}  # the head's matmul; its logits are cast back (below)
        if kind == "trudi":
            assert log.seen["actor_out"] == {torch.float32}  # f_θ in the chain state's dtype
        for name, value in (("loss", step.loss), ("kl", step.kl), ("entropy", step.entropy), ("q", step.q_mean),
                            ("critic", critic_loss), ("aux", aux_loss)):  # fmt: skip
            assert value.dtype == torch.float32, name
        assert alg.critic.logits(batch.critic_obs, batch.actions).dtype == torch.float32
        alg.update()
    for module in (alg.actor, alg.critic, alg.duals):
        for p in module.parameters():
            assert p.dtype == torch.float32 and (p.grad is None or p.grad.dtype == torch.float32)
    for optimizer in (alg.actor_optimizer, alg.critic_optimizer, alg.dual_optimizer):
        for state in optimizer.state.values():
            assert all(v.dtype == torch.float32 for v in state.values() if v.is_floating_point())


@pytest.mark.parametrize(("kind", "actor"), KINDS, ids=KIND_IDS)
def test_mixed_update_follows_the_float32_update(kind: str, actor: dict) -> None:
    """From the same rollout and state, one update (2 epochs × 2 minibatches, plain SGD: the comparison is one of
    gradients) under mixed precision moves each module as the float32 update does, within UPDATE_FACTOR × 2^-8 of
    the update."""
    reference = with_plain_sgd(rollout_alg("split", kind=kind, actor=actor))
    mixed = with_plain_sgd(rollout_alg("split", kind=kind, actor=actor, use_mixed_precision=True))
    with torch.no_grad():  # the float32 run's rollout and state (collection is compared in the next test)
        for name in ("actor", "critic", "duals", "reward_normalizer"):
            getattr(mixed, name).load_state_dict(getattr(reference, name).state_dict())
        for name, value in vars(reference.storage).items():
            if isinstance(value, torch.Tensor):
                getattr(mixed.storage, name).copy_(value)
    before = {name: [p.detach().clone() for p in getattr(reference, name).parameters()] for name in ("actor", "critic", "duals")}
    for alg in (reference, mixed):
        torch.manual_seed(1)
        alg.update()
    for name, start in before.items():
        moved = torch.cat([(p.detach() - s).flatten() for p, s in zip(getattr(reference, name).parameters(), start)])
        error = torch.cat([(p.detach() - q.detach()).flatten() for p, q in
                           zip(getattr(mixed, name).parameters(), getattr(reference, name).parameters())])  # fmt: skip
        assert moved.norm() > 0, name
        assert error.norm() <= UPDATE_FACTOR * BF16_RTOL * moved.norm(), (name, (error.norm() / moved.norm()).item())


def test_mixed_chain_follows_the_float32_chain() -> None:
    """The same noise through the chain (the actor moved off its initial, near-zero control) under mixed precision:
    x_n within 2^-8 of the chain's scale (8 steps of a control rounded to bfloat16, the recursion itself float32;
    measured 1.7e-4 of it), log π̂ within 2^-8 of its own scale (measured 4.2e-4)."""
    alg = rollout_alg("split")
    obs = alg.storage.actor_obs[0]  # [E, Oa]
    noise = torch.randn(obs.shape[0], alg.actor.num_steps + 1, alg.actor.action_dim)
    with torch.no_grad():
        reference = alg.actor.sample(obs, noise)
        with precision.mixed_precision("cpu", enabled=True):
            mixed = alg.actor.sample(obs, noise)
    assert mixed.chain.dtype == torch.float32 and mixed.log_prob.dtype == torch.float32
    scale = reference.chain.abs().max()
    torch.testing.assert_close(mixed.chain, reference.chain, rtol=0.0, atol=BF16_RTOL * scale.item())
    torch.testing.assert_close(mixed.log_prob, reference.log_prob, rtol=0.0,
                               atol=BF16_RTOL * reference.log_prob.abs().max().item())  # fmt: skip


def test_mixed_precision_composes_with_torch_compile() -> None:
    """An update through the compiled losses under mixed precision follows the eager mixed update (the tolerance of
    mixed against float32: both round the same matmul inputs to bfloat16, fused in other orders)."""
    eager = with_plain_sgd(rollout_alg("masked", use_mixed_precision=True))
    compiled = with_plain_sgd(rollout_alg("masked", use_mixed_precision=True, torch_compile=True))
    with torch.no_grad():
        for name in ("actor", "critic", "duals", "reward_normalizer"):
            getattr(compiled, name).load_state_dict(getattr(eager, name).state_dict())
        for name, value in vars(eager.storage).items():
            if isinstance(value, torch.Tensor):
                getattr(compiled.storage, name).copy_(value)
    start = [p.detach().clone() for p in eager.critic.parameters()]
    for alg in (eager, compiled):
        torch.manual_seed(1)
        alg.update()
    moved = torch.cat([(p.detach() - s).flatten() for p, s in zip(eager.critic.parameters(), start)])
    error = torch.cat([(p.detach() - q.detach()).flatten() for p, q in zip(compiled.critic.parameters(), eager.critic.parameters())])
    assert error.norm() <= UPDATE_FACTOR * BF16_RTOL * moved.norm(), (error.norm() / moved.norm()).item()


@pytest.mark.parametrize(("amx", "avx512_bf16", "expected"), [(False, False, False), (True, False, True), (False, True, True)])
def test_none_picks_bf16_where_the_cpu_has_it_and_says_why(monkeypatch, capsys, amx: bool, avx512_bf16: bool,
                                                          expected: bool) -> None:  # fmt: skip
    """``use_mixed_precision=None``: bfloat16 on a CPU with AMX or AVX-512 BF16, float32 without; True and False are
    kept whatever the CPU; one line says which and why."""
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    assert precision.resolve_mixed_precision(None, "cpu") is expected
    line = capsys.readouterr().out.strip()
    assert line.startswith("[TruDi] precision: " + ("bfloat16" if expected else "float32")) and "chosen by the hardware" in line
    assert ("native bf16: yes" in line) == expected
    assert precision.resolve_mixed_precision(True, "cpu") is True
    assert precision.resolve_mixed_precision(False, "cpu") is False
    assert "use_mixed_precision=False" in capsys.readouterr().out


def test_use_mixed_precision_must_be_a_bool_or_none() -> None:
    with pytest.raises(ConfigError, match="use_mixed_precision"):
        rollout_alg("split", use_mixed_precision="yes")
