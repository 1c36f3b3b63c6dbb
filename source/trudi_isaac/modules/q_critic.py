"""Distributional Q critic over HL-Gauss atoms with a self-predictive auxiliary loss.

See TRUDI.md, "The update" -> "Critic": Q(s, a) is a categorical
distribution over `num_atoms` atoms evenly spaced on [v_min, v_max] (HL-Gauss); input
(s, a); cross-entropy to the HL-Gauss encoding of the scalar target G_t. As in the
authors' critic: encoder, head and predictor of 2 layers each, width 512, RMSNorm,
swish; the logits start as the HL-Gauss encoding of 0 (a learnable offset) so the initial
Q is 0; the predictor maps the features of (s, a) to the stop-gradient features of the
next (s', a') (MSE, weight applied by the caller). No target networks.

This module is only the critic: the soft lambda-return targets, loss weights and the
actor/KL machinery live elsewhere.
"""

from __future__ import annotations

import torch
from rsl_rl.utils import resolve_nn_activation
from torch import Tensor, nn

from trudi_isaac.modules.hl_gauss import DEFAULT_SIGMA_RATIO, HLGauss
from trudi_isaac.modules.obs_normalizer import ObservationNormalizer

#: Floor on the HL-Gauss probabilities of 0 before taking their log for the initial logits
#: (far atoms have probability ~0; log(0) = -inf would break softmax/gradients).
INIT_PROB_FLOOR = 1e-12
#: Newton iterations of the exponential tilt that makes the initial decoded Q exactly the
#: (clipped) initial value; each converges quadratically, a handful is plenty.
INIT_TILT_NEWTON_STEPS = 20
#: Smallest denominator of a masked mean (all rows masked out -> loss 0, not NaN).
MIN_MASK_COUNT = 1.0
#: Scalar the critic's output distribution encodes at initialisation (TRUDI.md: "initial Q is 0").
INITIAL_Q_VALUE = 0.0

class RMSNorm(nn.RMSNorm):
    """``nn.RMSNorm`` with its weight in the input's dtype: under mixed precision (bfloat16 input, float32 weight)
    torch's fused kernel needs both in one dtype, and falls back to a slower composite with a warning otherwise."""

    def forward(self, x: Tensor) -> Tensor:
        weight = None if self.weight is None else self.weight.to(x.dtype)
        return nn.functional.rms_norm(x, self.normalized_shape, weight, self.eps)


def _mlp_block(in_dim: int, out_dim: int, activation: str) -> nn.Sequential:
    """Linear -> RMSNorm -> activation (one layer of the authors' critic MLPs)."""
    return nn.Sequential(nn.Linear(in_dim, out_dim), RMSNorm(out_dim), resolve_nn_activation(activation))


def _hidden_stack(in_dim: int, hidden_dim: int, num_blocks: int, activation: str) -> tuple[nn.Sequential, int]:
    """`num_blocks` normalized blocks of width `hidden_dim`; returns (stack, output dim)."""
    layers: list[nn.Module] = []
    dim = in_dim
    for _ in range(num_blocks):
        layers.append(_mlp_block(dim, hidden_dim, activation))
        dim = hidden_dim
    return nn.Sequential(*layers), dim


@torch.no_grad()
def initial_logits(hl_gauss: HLGauss, value: float = INITIAL_Q_VALUE) -> Tensor:
    """Logits [num_atoms] = log HL-Gauss probs of `value`, decoding to exactly clip(`value`).

    The log of the floored HL-Gauss encoding decodes to `value` only up to discretisation
    error (tiny, but not 0 when `value` is not an atom); an exponential tilt
    logits + lam * atoms, with lam found by Newton's method in float64, removes that error.
    The tilt is ~0 when `value` sits on an atom of a symmetric neighbourhood.
    """
    atoms = hl_gauss.atoms.detach().to(torch.float64).cpu()  # [num_atoms]
    target = min(max(float(value), hl_gauss.v_min), hl_gauss.v_max)
    probs = hl_gauss.encode(torch.tensor(target, dtype=hl_gauss.atoms.dtype)).detach()
    base = probs.to(torch.float64).cpu().clamp_min(INIT_PROB_FLOOR).log()  # [num_atoms]
    lam = torch.zeros((), dtype=torch.float64)
    for _ in range(INIT_TILT_NEWTON_STEPS):
        p = torch.softmax(base + lam * atoms, dim=-1)  # [num_atoms]
        mean = (p * atoms).sum()
        var = (p * (atoms - mean) ** 2).sum()
        if var <= 0.0:
            break
        lam = lam - (mean - target) / var
    return (base + lam * atoms).to(hl_gauss.atoms.dtype)  # [num_atoms]


class DistributionalQCritic(nn.Module):
    """Categorical Q(s, a) over HL-Gauss atoms (TRUDI.md, "Critic").

    encoder:   concat(obs, action) -> `num_layers` x (Linear, RMSNorm, act) -> features [B, F]
    head:      features -> (num_layers - 1) x (Linear, RMSNorm, act) -> Linear -> logits [B, num_atoms]
               (last Linear zero-initialised, bias = logits of the HL-Gauss encoding of 0)
    predictor: features -> (num_layers - 1) x (Linear, RMSNorm, act) -> Linear -> [B, F]
               (regresses the stop-gradient features of the next (s', a'))
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        num_atoms: int,
        v_min: float,
        v_max: float,
        hidden_dim: int = 512,
        num_layers: int = 2,
        feature_dim: int | None = None,
        activation: str = "swish",
        sigma_ratio: float = DEFAULT_SIGMA_RATIO,
        obs_normalization: bool = True,
    ) -> None:
        super().__init__()
        # normalizes raw critic observations at collection time (the rollout stores normalized inputs)
        self.obs_normalizer = ObservationNormalizer(obs_dim, enabled=obs_normalization)
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        self.obs_dim = int(obs_dim)
        self.action_dim = int(action_dim)
        self.num_atoms = int(num_atoms)
        self.feature_dim = int(feature_dim) if feature_dim is not None else int(hidden_dim)
        self.hl_gauss = HLGauss(num_atoms, v_min, v_max, sigma_ratio)

        # Encoder: num_layers normalized layers, the last one of width feature_dim.
        enc_hidden, enc_dim = _hidden_stack(self.obs_dim + self.action_dim, hidden_dim, num_layers - 1, activation)
        self.encoder = nn.Sequential(*enc_hidden, _mlp_block(enc_dim, self.feature_dim, activation))

        # Head: (num_layers - 1) normalized layers + linear output to the atom logits.
        head_hidden, head_dim = _hidden_stack(self.feature_dim, hidden_dim, num_layers - 1, activation)
        head_out = nn.Linear(head_dim, self.num_atoms)
        self.head = nn.Sequential(*head_hidden, head_out)
        # Learnable offset: zero weights + bias = HL-Gauss logits of 0, so initially Q == 0
        # for every input while the weights still receive gradients.
        nn.init.zeros_(head_out.weight)
        with torch.no_grad():
            head_out.bias.copy_(initial_logits(self.hl_gauss, INITIAL_Q_VALUE))

        # Predictor: (num_layers - 1) normalized layers + linear output to feature space.
        pred_hidden, pred_dim = _hidden_stack(self.feature_dim, hidden_dim, num_layers - 1, activation)
        self.predictor = nn.Sequential(*pred_hidden, nn.Linear(pred_dim, self.feature_dim))

    # ------------------------------------------------------------------ forward parts
    def features(self, obs: Tensor, actions: Tensor) -> Tensor:
        """Encoder features of (s, a): obs [B, obs_dim], actions [B, action_dim] -> [B, F]."""
        x = torch.cat((obs, actions), dim=-1)  # [B, obs_dim + action_dim]
        return self.encoder(x)  # [B, F]

    def logits_from_features(self, features: Tensor) -> Tensor:
        """Atom logits from features [B, F] -> [B, num_atoms], in the atoms' dtype: under mixed precision the head
        runs in bfloat16 and the softmax, log-softmax and HL-Gauss terms that use the logits stay float32."""
        return self.head(features).to(self.hl_gauss.atoms.dtype)

    def logits(self, obs: Tensor, actions: Tensor) -> Tensor:
        """Atom logits of Q(s, a): -> [B, num_atoms]."""
        return self.logits_from_features(self.features(obs, actions))

    def predict_next_features(self, features: Tensor) -> Tensor:
        """Predictor output for the next features: [B, F] -> [B, F]."""
        return self.predictor(features)

    def q_value(self, obs: Tensor, actions: Tensor) -> Tensor:
        """Expected Q(s, a) under the categorical distribution: -> [B]."""
        return self.hl_gauss.decode(self.logits(obs, actions))  # [B]

    def forward(self, obs: Tensor, actions: Tensor) -> Tensor:
        """Same as `q_value`: -> [B]."""
        return self.q_value(obs, actions)

    # ------------------------------------------------------------------ losses
    def loss(
        self,
        obs: Tensor,
        actions: Tensor,
        target_returns: Tensor,
        next_obs: Tensor,
        next_actions: Tensor,
        mask: Tensor,
        next_mask: Tensor | None = None,
        next_features: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """(critic_loss, aux_loss), each a masked mean over rows where `mask` is True/1.

        critic_loss: cross-entropy between HL-Gauss(detached, clipped `target_returns` [B])
            and the predicted logits of (obs, actions).
        aux_loss: MSE between predictor(features(obs, actions)) and features(next_obs,
            next_actions), the latter computed under no_grad (stop-gradient target).
        Rows with mask False/0 (e.g. truncated transitions, TRUDI.md) contribute neither
        value nor gradient, even when their targets or next observations are non-finite.
        ``next_mask`` (default: ``mask``) selects the rows of the aux loss: those whose next
        (s', a') is their true successor (not across an episode reset). ``next_features [B, F]``, if
        given, is the aux target computed earlier (e.g. once per rollout) instead of now.
        """
        valid = mask.reshape(-1).to(torch.bool)  # [B]
        weight = valid.to(obs.dtype)  # [B]
        count = weight.sum().clamp_min(MIN_MASK_COUNT)
        next_valid = valid if next_mask is None else next_mask.reshape(-1).to(torch.bool)  # [B]
        next_weight = next_valid.to(obs.dtype)  # [B]

        feats = self.features(obs, actions)  # [B, F]
        logits = self.logits_from_features(feats)  # [B, num_atoms]
        log_probs = torch.log_softmax(logits, dim=-1)  # [B, num_atoms]

        # Excluded rows get a harmless target so NaN/inf there cannot leak into gradients.
        target = torch.where(valid, target_returns.detach().reshape(-1).to(obs.dtype), INITIAL_Q_VALUE)  # [B]
        target_probs = self.hl_gauss.encode(target)  # [B, num_atoms]
        ce = -(target_probs * log_probs).sum(-1)  # [B]
        critic_loss = (ce * weight).sum() / count

        with torch.no_grad():
            next_feats = self.features(next_obs, next_actions) if next_features is None else next_features  # [B, F]
            next_feats = torch.where(next_valid.unsqueeze(-1), next_feats, torch.zeros_like(next_feats))  # [B, F]
        pred = self.predict_next_features(feats)  # [B, F]
        sq_err = (pred.to(obs.dtype) - next_feats.to(obs.dtype)).pow(2).mean(-1)  # [B]  (float32 under mixed precision)
        aux_loss = (sq_err * next_weight).sum() / next_weight.sum().clamp_min(MIN_MASK_COUNT)
        return critic_loss, aux_loss
