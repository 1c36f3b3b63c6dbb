"""Tests of the HL-Gauss encoding and the distributional Q critic (TRUDI.md, "Critic")."""

from __future__ import annotations

import math

import pytest
import torch
from trudi_isaac.modules.hl_gauss import HLGauss
from trudi_isaac.modules.q_critic import DistributionalQCritic, initial_logits

torch.set_num_threads(1)

# (num_atoms, v_min, v_max): symmetric, the DMC-like asymmetric range of TRUDI.md, and ranges
# where 0 is not an atom (so the initial-logit tilt is exercised).
RANGES = [(151, -10.0, 10.0), (301, -100.0, 200.0), (11, -1.0, 2.0), (51, -3.0, 7.3)]

# Round-trip tolerance for values at least EDGE_MARGIN_BINS bin widths inside [v_min, v_max]:
#  * truncation at the outer edge (v_end + w/2) biases the mean by <= sigma * pdf(z) with
#    z >= (3 + 0.5) / 0.75 = 4.67, i.e. <= 0.75 * 7e-6 * w ~ 5e-6 w;
#  * discretising a Gaussian of sigma = 0.75 w onto bins of width w moves its mean by at most
#    ~ (w / pi) * exp(-2 pi^2 sigma^2 / w^2) ~ 5e-6 w;
#  * float32 rounding of sum(p * atoms) is ~1e-7 * max|atom| * sqrt(num_atoms) <= ~4e-4 abs.
# 1e-3 w + 1e-5 * max|v| is a loose bound over all three that still catches any real bias
# (e.g. a sigma or edge off by half a bin moves the decoded value by >= 1e-2 w).
EDGE_MARGIN_BINS = 3
ROUNDTRIP_REL_TOL = 1e-3
ROUNDTRIP_ABS_PER_SCALE = 1e-5


@pytest.mark.parametrize("num_atoms,v_min,v_max", RANGES)
def test_hl_gauss_roundtrip_inside_range(num_atoms: int, v_min: float, v_max: float) -> None:
    hl = HLGauss(num_atoms, v_min, v_max)
    w = hl.bin_width
    assert math.isclose(w, (v_max - v_min) / (num_atoms - 1))
    # float32 atoms: each rounded once (≤ ½ ulp of the largest |atom| each) from a float32 step whose rounding
    # accumulates over the atoms (≤ ½ ulp of the span); twice that bound, 4 eps · max|v| (the rounding pattern
    # differs with the SIMD path); a wrong width (e.g. span / num_atoms) is off by w / num_atoms, ≥ 30x more
    spacing_atol = 4 * torch.finfo(torch.float32).eps * max(abs(v_min), abs(v_max))
    assert torch.allclose(hl.atoms[1:] - hl.atoms[:-1], torch.full((num_atoms - 1,), w), rtol=0.0, atol=spacing_atol)
    assert hl.edges[0].item() == pytest.approx(v_min - w / 2, abs=1e-5)  # linspace's ends: one float32 rounding
    assert hl.edges[-1].item() == pytest.approx(v_max + w / 2, abs=1e-5)

    lo, hi = v_min + EDGE_MARGIN_BINS * w, v_max - EDGE_MARGIN_BINS * w
    x = torch.cat([torch.linspace(lo, hi, 997), lo + (hi - lo) * torch.rand(1000, generator=torch.Generator().manual_seed(0))])
    probs = hl.encode(x)  # [N, num_atoms]
    assert probs.shape == (x.numel(), num_atoms)
    assert (probs >= 0).all()
    assert torch.allclose(probs.sum(-1), torch.ones(x.numel()), atol=1e-5)
    decoded = hl.decode_probs(probs)
    tol = ROUNDTRIP_REL_TOL * w + ROUNDTRIP_ABS_PER_SCALE * max(abs(v_min), abs(v_max))
    assert (decoded - x).abs().max().item() < tol
    # decode(logits) == decode_probs(softmax(logits)): log-probs are logits of the same distribution.
    assert torch.allclose(hl.decode(probs.clamp_min(1e-30).log()), decoded, atol=tol)
    # The smear has the specified width: variance of the histogram ~ sigma^2 + w^2/12 (Sheppard).
    var = (probs * (hl.atoms - decoded.unsqueeze(-1)) ** 2).sum(-1)
    expected_var = (0.75 * w) ** 2 + w**2 / 12
    assert torch.allclose(var, torch.full_like(var, expected_var), rtol=2e-2)


@pytest.mark.parametrize("num_atoms,v_min,v_max", RANGES)
def test_hl_gauss_clips_out_of_range(num_atoms: int, v_min: float, v_max: float) -> None:
    hl = HLGauss(num_atoms, v_min, v_max)
    span = v_max - v_min
    above = hl.encode(torch.tensor([v_max + 0.01 * span, v_max + 10 * span, float("inf")]))
    below = hl.encode(torch.tensor([v_min - 0.01 * span, v_min - 10 * span, float("-inf")]))
    at_max = hl.encode(torch.tensor(v_max))
    at_min = hl.encode(torch.tensor(v_min))
    assert torch.allclose(above, at_max.expand_as(above), atol=1e-7)
    assert torch.allclose(below, at_min.expand_as(below), atol=1e-7)
    assert torch.allclose(above.sum(-1), torch.ones(3), atol=1e-5)
    assert torch.allclose(below.sum(-1), torch.ones(3), atol=1e-5)
    assert (above.argmax(-1) == num_atoms - 1).all()
    assert (below.argmax(-1) == 0).all()
    # Clipped values decode inside the range, within half a bin of the end they were clipped to.
    assert v_max - 0.5 * hl.bin_width < hl.decode_probs(at_max).item() <= v_max
    assert v_min <= hl.decode_probs(at_min).item() < v_min + 0.5 * hl.bin_width


def test_hl_gauss_buffers_move_and_save() -> None:
    hl = HLGauss(21, -1.0, 1.0)
    keys = set(hl.state_dict())
    assert {"atoms", "edges"} <= keys
    hl64 = hl.to(torch.float64)
    assert hl64.atoms.dtype == torch.float64
    assert hl64.encode(torch.tensor([0.3], dtype=torch.float64)).dtype == torch.float64


@pytest.mark.parametrize("num_atoms,v_min,v_max", RANGES)
def test_initial_q_is_zero(num_atoms: int, v_min: float, v_max: float) -> None:
    torch.manual_seed(0)
    critic = DistributionalQCritic(obs_dim=7, action_dim=3, num_atoms=num_atoms, v_min=v_min, v_max=v_max)
    obs, act = 10 * torch.randn(128, 7), torch.randn(128, 3)
    q = critic.q_value(obs, act)
    assert q.shape == (128,)
    assert q.abs().max().item() < 1e-5
    # The initial distribution is the HL-Gauss encoding of 0 (up to the floor/tilt).
    probs = torch.softmax(critic.logits(obs, act), dim=-1)
    assert torch.allclose(probs, critic.hl_gauss.encode(torch.zeros(128)), atol=1e-4)
    # The tilted offset decodes exactly to 0 in float64.
    assert abs(critic.hl_gauss.decode(initial_logits(critic.hl_gauss).double()).item()) < 1e-6


def _make_regression(n: int = 256, obs_dim: int = 4, action_dim: int = 2) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    obs = torch.randn(n, obs_dim, generator=g)
    act = 2 * torch.rand(n, action_dim, generator=g) - 1
    return obs, act, 3.0 * act.sum(-1)


def test_regression_converges() -> None:
    torch.manual_seed(0)
    obs, act, target = _make_regression()
    critic = DistributionalQCritic(obs_dim=4, action_dim=2, num_atoms=101, v_min=-10.0, v_max=10.0, hidden_dim=128)
    opt = torch.optim.Adam(critic.parameters(), lr=3e-3)
    mask = torch.ones(obs.shape[0], dtype=torch.bool)
    start_err = (critic.q_value(obs, act) - target).abs().mean().item()
    for _ in range(300):
        critic_loss, aux_loss = critic.loss(obs, act, target, obs.roll(1, 0), act.roll(1, 0), mask)
        opt.zero_grad()
        (critic_loss + aux_loss).backward()
        opt.step()
    with torch.no_grad():
        err = (critic.q_value(obs, act) - target).abs().mean().item()
    assert start_err > 2.0  # targets span [-6, 6]
    assert err < 0.05, err  # a quarter of a bin (w = 0.2); reaches ~0.01 in practice


def _loss_and_grads(critic: DistributionalQCritic, *args: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    critic.zero_grad(set_to_none=True)
    critic_loss, aux_loss = critic.loss(*args)
    (critic_loss + aux_loss).backward()
    grads = [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in critic.parameters()]
    return critic_loss.detach(), aux_loss.detach(), grads


def test_mask_excludes_rows() -> None:
    torch.manual_seed(0)
    B = 32
    critic = DistributionalQCritic(obs_dim=5, action_dim=2, num_atoms=41, v_min=-5.0, v_max=5.0, hidden_dim=64)
    # Move away from the init so the gradients are generic.
    with torch.no_grad():
        for p in critic.parameters():
            p.add_(0.05 * torch.randn_like(p))
    obs, act = torch.randn(B, 5), torch.randn(B, 2)
    nobs, nact = torch.randn(B, 5), torch.randn(B, 2)
    target = 4 * torch.rand(B) - 2
    mask = torch.rand(B) < 0.5
    mask[0], mask[1] = True, False
    out = ~mask

    base = _loss_and_grads(critic, obs, act, target, nobs, nact, mask)

    # Masked-out rows: arbitrary (even non-finite) targets and next inputs change nothing.
    target2 = target.clone()
    target2[out] = torch.where(torch.rand(int(out.sum())) < 0.5, torch.tensor(1e6), torch.tensor(float("nan")))
    nobs2, nact2 = nobs.clone(), nact.clone()
    nobs2[out] = float("nan")
    nact2[out] = 100.0
    changed = _loss_and_grads(critic, obs, act, target2, nobs2, nact2, mask.float())  # float mask works too
    assert torch.equal(base[0], changed[0]) and torch.equal(base[1], changed[1])
    for g0, g1 in zip(base[2], changed[2]):
        assert torch.isfinite(g1).all()
        assert torch.allclose(g0, g1, atol=1e-7, rtol=0)

    # Losses are means over the kept rows only: equal to the loss of the kept sub-batch.
    sub = _loss_and_grads(critic, obs[mask], act[mask], target[mask], nobs[mask], nact[mask], torch.ones(int(mask.sum())))
    assert torch.allclose(base[0], sub[0], atol=1e-6) and torch.allclose(base[1], sub[1], atol=1e-6)

    # Sanity (so the test can fail): changing a kept row does change loss and gradients.
    target3 = target.clone()
    target3[0] += 1.0
    kept_changed = _loss_and_grads(critic, obs, act, target3, nobs, nact, mask)
    assert not torch.equal(base[0], kept_changed[0])
    assert any(not torch.allclose(g0, g1) for g0, g1 in zip(base[2], kept_changed[2]))

    # Everything masked out: zero, finite losses.
    c0, a0 = critic.loss(obs, act, target, nobs, nact, torch.zeros(B, dtype=torch.bool))
    assert c0.item() == 0.0 and a0.item() == 0.0


def test_aux_loss_stops_gradient_into_next_features() -> None:
    torch.manual_seed(0)
    B = 16
    critic = DistributionalQCritic(obs_dim=5, action_dim=2, num_atoms=41, v_min=-5.0, v_max=5.0, hidden_dim=64)
    obs, act = torch.randn(B, 5), torch.randn(B, 2)
    nobs = torch.randn(B, 5, requires_grad=True)
    nact = torch.randn(B, 2, requires_grad=True)
    mask = torch.ones(B, dtype=torch.bool)
    _, aux = critic.loss(obs, act, torch.zeros(B), nobs, nact, mask)
    critic.zero_grad(set_to_none=True)
    aux.backward()
    assert nobs.grad is None and nact.grad is None
    enc_grads = [p.grad.clone() for p in critic.encoder.parameters()]
    assert any(g.abs().sum() > 0 for g in enc_grads)  # the (s, a) branch does train the encoder
    # The head receives no gradient from the aux loss.
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in critic.head.parameters())

    # Reference: MSE to explicitly detached next features gives identical encoder gradients.
    critic.zero_grad(set_to_none=True)
    with torch.no_grad():
        target_feats = critic.features(nobs, nact)
    ref = (critic.predict_next_features(critic.features(obs, act)) - target_feats).pow(2).mean()
    assert torch.allclose(ref, aux.detach(), atol=1e-6)
    ref.backward()
    for g_aux, p in zip(enc_grads, critic.encoder.parameters()):
        assert torch.allclose(g_aux, p.grad, atol=1e-7)

    # And the gradient-through version would differ (so the check above can fail).
    critic.zero_grad(set_to_none=True)
    through = (critic.predict_next_features(critic.features(obs, act)) - critic.features(nobs, nact)).pow(2).mean()
    through.backward()
    assert any(not torch.allclose(g_aux, p.grad, atol=1e-7) for g_aux, p in zip(enc_grads, critic.encoder.parameters()))


def _small_critic() -> DistributionalQCritic:
    return DistributionalQCritic(obs_dim=3, action_dim=2, num_atoms=17, v_min=-1.0, v_max=1.0, hidden_dim=32, feature_dim=24)


def test_shapes_and_state_dict() -> None:
    """Shapes, and a state-dict round trip that restores a *trained* critic exactly. Two fresh critics agree
    anyway (zero-initialised head: Q ≡ 0), so the critic is first moved off its init — every parameter and the
    observation normalizer's statistics — and the fresh clone is checked to differ before the load."""
    torch.manual_seed(0)
    critic = _small_critic()
    obs, act = torch.randn(6, 3), torch.randn(6, 2)
    assert critic.features(obs, act).shape == (6, 24)
    assert critic.logits(obs, act).shape == (6, 17)
    assert critic.q_value(obs, act).shape == (6,)
    assert critic.predict_next_features(critic.features(obs, act)).shape == (6, 24)
    norms = [m for m in critic.modules() if isinstance(m, torch.nn.RMSNorm)]
    assert len(norms) == 4  # encoder 2 + head 1 + predictor 1 (num_layers = 2)
    with torch.no_grad():
        for p in critic.parameters():
            p.add_(0.1 * torch.randn_like(p))
    critic.obs_normalizer.accumulate(3.0 + 2.0 * torch.randn(50, 3))
    critic.obs_normalizer.commit()
    sd = critic.state_dict()
    assert "hl_gauss.atoms" in sd and "hl_gauss.edges" in sd
    assert {"obs_normalizer.mean", "obs_normalizer.var", "obs_normalizer.count"} <= sd.keys()
    clone = _small_critic()
    normalized = critic.obs_normalizer(obs)
    assert not torch.allclose(clone.q_value(obs, act), critic.q_value(obs, act), atol=1e-3)
    assert not torch.allclose(clone.obs_normalizer(obs), normalized, atol=1e-3)
    clone.load_state_dict(sd)
    for key, value in clone.state_dict().items():
        assert torch.equal(value, sd[key]), key
    assert torch.equal(clone.q_value(obs, act), critic.q_value(obs, act))
    assert torch.equal(clone.obs_normalizer(obs), normalized)
