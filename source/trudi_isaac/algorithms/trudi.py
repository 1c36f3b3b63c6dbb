"""TruDi: Trust-Region Diffusion Policies, on rsl-rl's algorithm interface.

Reads like TRUDI.md; each loss sits next to its equation. ``OnPolicyRunner`` drives it through
``algorithm.class_name = "trudi_isaac.algorithms.trudi:TruDi"``:

    construct_algorithm → [act → env.step → process_env_step] × T → compute_returns → update

Per minibatch, critic first, then actor, then the two duals. With :class:`GaussianActor` the
same code is REPPO.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from rsl_rl.env import VecEnv
from rsl_rl.utils import reduce_gradients_in_buckets, resolve_class, resolve_obs_groups
from tensordict import TensorDict
from torch import nn
from torch.profiler import record_function

from trudi_isaac.algorithms.reward_normalizer import RewardNormalizer
from trudi_isaac.algorithms.trajectory_kl import trajectory_kl
from trudi_isaac.algorithms.update_size import update_size
from trudi_isaac.modules.chain_policy import ChainPolicy, ChainSample
from trudi_isaac.modules.q_critic import DistributionalQCritic
from trudi_isaac.storage.trajectory_storage import TrajectoryBatch, TrajectoryStorage
from trudi_isaac.utils.compile_cache import key_compile_caches_by_cpu_vec_isa
from trudi_isaac.utils.config_checks import ALGORITHM_RULES, CRITIC_RULES, ConfigError, check_known_keys, check_section
from trudi_isaac.utils.config_fields import model_class_and_kwargs
from trudi_isaac.utils.cuda_graph import GraphedCall, check_cuda_graphs
from trudi_isaac.utils.precision import mixed_precision, resolve_mixed_precision

OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
STEP_STATS = (
    "critic",
    "critic_aux",
    "actor",
    "q_policy",
    "trust_region/kl_mean",
    "trust_region/kl_eta_only",
    "trust_region/over_bound_frac",
    "trust_region/entropy",
)
"""What each minibatch step adds to the update's statistics (means over the steps; the losses among them are logged
as ``Loss/<key>``, the rest as ``TruDi/<key>``)."""
ADAPTIVE_LR_FACTOR = 1.5
"""lr_schedule "adaptive": the factor a step's rate moves by (rsl-rl PPO's adaptive schedule)."""
ADAPTIVE_MIN_LR = 1e-5
"""lr_schedule "adaptive": the lowest rate the brake goes to (rsl-rl PPO's)."""
MAX_PATH_TO_ACTION_RATIO = 10.0
"""trust_region_units "action": the largest factor from ε to the path-KL bound, against a path/action KL ratio blown up
by a near-zero action KL (measured ratios: 1.3–3.9 at Ant's 4096 envs, 1.5 on Cartpole)."""


class Duals(nn.Module):
    """Entropy temperature α and trust-region multiplier β, both learned in log space."""

    def __init__(self, init_alpha: float, init_beta: float) -> None:
        super().__init__()
        self.log_alpha = nn.Parameter(torch.tensor(float(init_alpha)).log())
        self.log_beta = nn.Parameter(torch.tensor(float(init_beta)).log())

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.exp()

    @property
    def beta(self) -> torch.Tensor:
        return self.log_beta.exp()


@dataclass
class ActorStep:
    """The actor's loss on one minibatch and its detached statistics."""

    loss: torch.Tensor  # [] L_actor, differentiable
    kl: torch.Tensor  # [B] path KL c(s)
    inside: torch.Tensor  # [B] c(s) < ε
    entropy: torch.Tensor  # [] H̄ for the α dual (prior term left out)
    q_mean: torch.Tensor  # [] mean Q(s, a_θ) of the fresh actions


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Parameters of ``module`` take no gradient inside the block (the critic during the actor step)."""
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags):
            p.requires_grad_(flag)


def mini_batch_count(requested: int, rollout_size: int, max_size: int | None) -> int:
    """``requested``, raised until a minibatch of the ``rollout_size`` transitions holds at most ``max_size``."""
    return requested if max_size is None else max(requested, math.ceil(rollout_size / max_size))


class TruDi:
    """On-policy actor-critic with a chain policy, a distributional Q critic and a path-KL trust region."""

    LOSS_KEYS = ("critic", "critic_aux", "actor")
    """The entries of :meth:`update`'s statistics that are losses (logged as ``Loss/<key>``); the others (duals, path
    KL, entropy, reward scale, diagnostics) are logged as ``TruDi/<key>`` (:mod:`trudi_isaac.runners.statistics_log`)."""

    def __init__(
        self,
        actor: ChainPolicy,
        critic: DistributionalQCritic,
        storage: TrajectoryStorage,
        critic_obs_groups: list[str],
        num_learning_epochs: int = 4,
        num_mini_batches: int = 8,
        max_mini_batch_size: int | None = 2048,
        learning_rate: float = 3e-4,
        critic_learning_rate: float = 3e-4,
        dual_learning_rate: float = 3e-3,
        max_grad_norm: float = 0.5,
        optimizer: str = "adamw",
        gamma: float = 0.99,
        lam: float = 0.95,
        trust_region_eps: float = 0.1,
        trust_region_units: str = "path",
        kl_form: str = "exact",
        init_alpha: float = 0.01,
        init_beta: float = 0.01,
        min_beta: float | None = None,
        entropy_target_k: float = 4.0,
        aux_loss_coef: float = 1.0,
        spread_num_states: int = 256,
        update_size_states: int = 16,
        update_size_samples: int = 32,
        reward_normalization: bool = True,
        alpha_units: str = "normalized",
        dual_optimizer: str = "adam",
        aux_target: str = "minibatch",
        gate_form: str = "auto",
        cuda_graphs: bool = False,
        torch_compile: bool = False,
        use_mixed_precision: bool | None = False,
        policy_ema: float = 0.0,
        lr_schedule: str = "constant",
        lr_schedule_networks: str = "actor_and_critic",
        max_iterations: int | None = None,
        device: str = "cpu",
        multi_gpu_cfg: dict | None = None,
        grad_reduce_bucket_mb: float = 25.0,
    ) -> None:
        self.device = device
        self.actor = actor.to(device)
        self.critic = critic.to(device)
        self.duals = Duals(init_alpha, init_beta).to(device)
        # β's floor (ours, the floor under β; None: the authors' free β): log β is clamped after each dual step
        self._min_log_beta = None if min_beta is None else torch.tensor(math.log(min_beta), device=device)
        self.reward_normalizer = RewardNormalizer(storage.num_envs, gamma, enabled=reward_normalization).to(device)
        self.storage = storage
        self.critic_obs_groups = list(critic_obs_groups)

        self.num_learning_epochs = num_learning_epochs
        self.num_mini_batches = mini_batch_count(num_mini_batches, storage.num_envs * storage.num_steps, max_mini_batch_size)
        if self.num_mini_batches != num_mini_batches:
            print(f"[TruDi] {self.num_mini_batches} minibatches per epoch (num_mini_batches {num_mini_batches}, "
                  f"raised to keep them within max_mini_batch_size {max_mini_batch_size})")  # fmt: skip
        self.learning_rate = learning_rate
        self.max_grad_norm = max_grad_norm
        self.gamma = gamma
        self.lam = lam
        self.kl_form = kl_form
        self.alpha_units = alpha_units
        self.aux_target = aux_target
        self.spread_num_states = spread_num_states
        self.update_size_states, self.update_size_samples = update_size_states, update_size_samples
        # Scalars the minibatch step reads live on the device (a captured step sees later changes to them):
        self._trust_region_eps = torch.tensor(float(trust_region_eps), device=device)
        # ε's units: "path" (the bound is on c(s)) or "action" (ours: ε on the action KL, carried over to the path KL
        # by the path/action KL ratio of the last update, which the update-size diagnostic measures)
        self.trust_region_units = trust_region_units
        self.action_eps = float(trust_region_eps)
        if trust_region_units == "action" and update_size_states < 1:
            raise ConfigError("trust_region_units 'action' needs update_size_states >= 1 (it reads each update's path "
                              f"and action KL), got update_size_states {update_size_states}")  # fmt: skip
        self.aux_loss_coef = torch.tensor(float(aux_loss_coef), device=device)
        # H* = −k · action_dim; the estimate it is compared with leaves out the prior term (TRUDI.md, "Duals")
        self.entropy_target = torch.tensor(-entropy_target_k * actor.action_dim, device=device)

        on_cuda = torch.device(device).type == "cuda"
        # bfloat16 autocast over the forward passes and losses of collection and update (rsl-rl PPO's
        # use_mixed_precision); float32 islands: the chain's state and recursion, log-densities, log π̂ and the path
        # KL (the actor's outputs are cast back: DenoisingControl, GaussianActor), the critic's logits with its
        # softmax, log-softmax and HL-Gauss terms, the aux loss; returns, duals, normalizers, backward, clipping and
        # optimizer steps run outside the autocast regions; parameters stay float32
        self.use_mixed_precision = resolve_mixed_precision(use_mixed_precision, device)
        self._autocast = functools.partial(mixed_precision, device, self.use_mixed_precision)
        # masked gate on CUDA (static shapes, no host sync), split gate elsewhere (less work: FLOPs are the cost)
        self.masked_gate = gate_form == "masked" or (gate_form == "auto" and on_cuda)
        self.is_multi_gpu = multi_gpu_cfg is not None
        self.gpu_world_size = multi_gpu_cfg["world_size"] if multi_gpu_cfg else 1
        self.gpu_global_rank = multi_gpu_cfg["global_rank"] if multi_gpu_cfg else 0
        self.grad_reduce_bucket_mb = grad_reduce_bucket_mb
        if cuda_graphs:
            check_cuda_graphs(device, self.is_multi_gpu)
            if not self.masked_gate:
                raise ConfigError(
                    "TruDiAlgorithmCfg.cuda_graphs = True needs gate_form 'masked' or 'auto' (the split gate syncs)"
                )
        # torch.compile of the step's losses (forward and backward) and of act()'s chain: static shapes, so the masked
        # gate; the elementwise ops between the matmuls fuse (the chain's kernels fall about 3x)
        self.torch_compile = torch_compile
        if torch_compile:
            if not self.masked_gate:
                raise ConfigError(
                    f"TruDiAlgorithmCfg.torch_compile = True needs the masked gate (gate_form 'masked', or 'auto' on "
                    f"CUDA; the split gate's shapes change every minibatch), got gate_form '{gate_form}' on '{device}'"
                )
            key_compile_caches_by_cpu_vec_isa()  # a kernel cached under another ATEN_CPU_CAPABILITY is not reused
            # Each TruDi compiles its own code (Dynamo's guards hold its modules): more instances in one process
            # than torch._dynamo.config.recompile_limit (8) is an error with fullgraph
            compiled = functools.partial(torch.compile, fullgraph=True, dynamic=False)
            self._critic_losses = compiled(self._critic_losses)
            self._masked_actor_terms = compiled(self._masked_actor_terms)
            self._eta_only_kl = compiled(self._eta_only_kl)
            self._sample_static = compiled(self._sample_static)

        # fused: one kernel per step instead of one per tensor (7x faster on a CPU thread for the critic);
        # capturable on CUDA, with learning rates as device tensors, so that a CUDA graph can hold the steps (the
        # adaptive schedule also keeps the actor's rate in a tensor on the CPU: the step changes it in place)
        adaptive = lr_schedule == "adaptive"

        def optimizer_for(cls: type[torch.optim.Optimizer], params, lr: float, tensor_lr: bool = False):
            if on_cuda:
                return cls(params, lr=torch.tensor(lr, device=device), fused=True, capturable=True)
            return cls(params, lr=torch.tensor(lr) if tensor_lr else lr, fused=True)

        optim = OPTIMIZERS[optimizer]
        self.actor_optimizer = optimizer_for(optim, self.actor.parameters(), learning_rate, adaptive)
        self.critic_optimizer = optimizer_for(optim, self.critic.parameters(), critic_learning_rate)
        # the duals get their own, larger step (TRUDI.md, "Pitfalls": at the actor's lr they barely move), or the
        # authors' step: the actor's optimizer, learning rate and clip (no weight decay: it would pull log α to 0)
        self.clip_duals = dual_optimizer == "actor"
        if self.clip_duals:
            self.dual_optimizer = optimizer_for(optim, self.duals.parameters(), learning_rate, adaptive)
            self.dual_optimizer.param_groups[0]["weight_decay"] = 0.0
        else:
            self.dual_optimizer = optimizer_for(torch.optim.Adam, self.duals.parameters(), dual_learning_rate)
        # the step sizes over the run (each rate with its configured value; the duals' only where they share the
        # actor's step, dual_optimizer "actor"):
        # * "constant" (the authors' TruDi);
        # * "linear": actor and critic from the configured rates to 0 over the runner's max_iterations updates (REPPO's
        #   anneal_lr, cvoelcker/reppo), or only one of them (lr_schedule_networks "actor" or "critic", ours: the
        #   one-network anneal, which network's anneal steadies a long run and which one stalls a short one);
        # * "adaptive" (ours): rsl-rl PPO's adaptive schedule on the path KL, as a brake on the actor's step (see
        #   _brake_actor_rate): Adam's step has the same size whatever the loss, so the gate alone does not stop a
        #   policy that the primary gradient on the states inside the bound drags past it (benchmarks/NOTES.md)
        self.lr_schedule = lr_schedule
        # the updates of this training: max_iterations from here (a resumed run's schedule ends with them, see load)
        self.run_iterations = max_iterations
        self.schedule_iterations = max_iterations
        if lr_schedule == "linear" and not (isinstance(max_iterations, int) and max_iterations >= 1):
            raise ConfigError(f"lr_schedule '{lr_schedule}' needs the run's max_iterations >= 1, got {max_iterations!r}")
        if lr_schedule_networks != "actor_and_critic" and lr_schedule != "linear":
            raise ConfigError(f"lr_schedule_networks '{lr_schedule_networks}' applies to lr_schedule 'linear' only, "
                              f"got lr_schedule '{lr_schedule}'")  # fmt: skip
        self._actor_rates = [(self.actor_optimizer, learning_rate)]
        if self.clip_duals:
            self._actor_rates.append((self.dual_optimizer, learning_rate))
        critic_rates = [(self.critic_optimizer, critic_learning_rate)]
        self._scheduled_rates = {"actor_and_critic": self._actor_rates + critic_rates, "actor": self._actor_rates,
                                 "critic": critic_rates}[lr_schedule_networks]  # fmt: skip
        self.num_updates = 0  # updates done (saved in checkpoints: a resumed run continues its schedule)
        # α's unit: 1 (α multiplies log π̂ in the normalized rewards' units) or 1 / reward scale ("raw": the units
        # of the task's rewards, for which the authors' α_0 = 0.01 is set); updated with the scale per rollout
        self._alpha_unit = torch.ones((), device=device)

        # statistics of an update, accumulated on the device by each minibatch step and read once at the end
        self._stats = torch.zeros(len(STEP_STATS), device=device)  # [S] sums over the minibatch steps
        self._kl_max = torch.zeros((), device=device)
        # the minibatch step's inputs, at fixed addresses (copied in before each step; see _size_step_inputs)
        self._idx = torch.zeros(0, dtype=torch.long, device=device)  # [B]
        self._noise = torch.zeros(0, actor.num_steps + 1, actor.action_dim, device=device)  # [B, N+1, A]
        self._rollout_features = torch.zeros(0, 0, 0, device=device)  # [T+1, E, F] aux targets (aux_target "rollout")
        self._graphed_step = GraphedCall(self._minibatch_step, "minibatch step") if cuda_graphs else None
        self._graphed_sample: GraphedCall | None = None  # act()'s chain at the rollout's env count (captured on use)
        self._sample_obs = torch.zeros(storage.num_envs, actor.obs_dim, device=device)  # [E, Oa]
        self._sample_noise = torch.zeros(storage.num_envs, actor.num_steps + 1, actor.action_dim, device=device)

        zero = torch.zeros((), device=device)
        self._soft_reward_parts, self._q_mean = (zero, zero), zero  # set by compute_returns

        # the evaluated and exported policy: the actor, or an average of its weights over updates (policy_ema)
        self.policy_ema = policy_ema
        self.average_actor = copy.deepcopy(self.actor).requires_grad_(False) if policy_ema > 0 else None
        # the actor before an update, for the update's size (diagnostic; update_size_states 0: off)
        self.behaviour_actor = copy.deepcopy(self.actor).requires_grad_(False) if update_size_states > 0 else None
        self._update_size_rng = torch.Generator(device).manual_seed(0)  # its own stream: training stays as without

        self.recording = True  # act() writes the rollout only in train mode

    @property
    def trust_region_eps(self) -> torch.Tensor:
        """ε of the trust region: a 0-dim device tensor; assigning a number fills it in place."""
        return self._trust_region_eps

    @trust_region_eps.setter
    def trust_region_eps(self, value: float) -> None:
        self._trust_region_eps.fill_(value)

    # --- collection ---------------------------------------------------------------------------------------------------

    def _critic_input(self, obs: TensorDict) -> torch.Tensor:
        return torch.cat([obs[group] for group in self.critic_obs_groups], dim=-1)

    def _sample_and_record(self, obs: TensorDict) -> torch.Tensor:
        """Sample one chain per env; in train mode record it (and the raw inputs' statistics) in the buffer."""
        actor_raw, critic_raw = self.actor.select_obs(obs), self._critic_input(obs)
        actor_in = self.actor.obs_normalizer(actor_raw)  # [E, Oa]  statistics frozen during the rollout
        with self._autocast():
            sample = self._sample(actor_in)
        if self.recording:
            if not self.storage.is_full:
                self.actor.obs_normalizer.accumulate(actor_raw)
                self.critic.obs_normalizer.accumulate(critic_raw)
            self.storage.add_policy_step(actor_in, self.critic.obs_normalizer(critic_raw), sample)
        return sample.actions

    def _sample(self, actor_in: torch.Tensor) -> ChainSample:
        """One chain per row of ``actor_in [E, Oa]``. At the rollout's env count, with ``torch_compile`` compiled and
        with ``cuda_graphs`` replayed from a graph (outputs valid until the next call: the storage copies them)."""
        static = self._graphed_step is not None or self.torch_compile
        if not static or actor_in.shape != self._sample_obs.shape:
            return self.actor.sample(actor_in)
        self._sample_obs.copy_(actor_in)
        self._sample_noise.normal_()
        if self._graphed_step is None:
            return self._sample_static()
        if self._graphed_sample is None:
            self._graphed_sample = GraphedCall(self._sample_static, "act")
        return self._graphed_sample()

    @torch.no_grad()
    def _sample_static(self) -> ChainSample:
        return self.actor.sample(self._sample_obs, self._sample_noise)

    def act(self, obs: TensorDict) -> torch.Tensor:
        """Stochastic env actions ``[E, A]``. Outside train mode it only samples: the buffer is untouched."""
        return self.actor.action_scale * self._sample_and_record(obs)

    def process_env_step(
        self, obs: TensorDict, rewards: torch.Tensor, dones: torch.Tensor, extras: dict[str, torch.Tensor]
    ) -> None:
        """Split the env's ``dones`` into terminations and time-outs and record the step."""
        if not self.recording:
            return
        dones = dones.to(self.device).bool()
        time_outs = extras.get("time_outs")
        time_outs = torch.zeros_like(dones) if time_outs is None else time_outs.to(self.device).bool()
        rewards = rewards.to(self.device)
        self.reward_normalizer.observe(rewards, dones)
        self.storage.add_env_step(rewards, dones & ~time_outs, dones & time_outs)

    @torch.no_grad()
    def compute_returns(self, obs: TensorDict) -> None:
        """Soft λ-returns, backwards over the rollout (TRUDI.md, "The update")::

            r̃_t = r_t − γ (1 − d_t) α log π̂(a'_t | s'_t)
            G_t = r̃_t + γ · { Q(s'_t, a'_t)                                    if truncated
                             (1 − d_t) [ λ G_{t+1} + (1 − λ) Q(s'_t, a'_t) ]   otherwise }

        (s'_t, a'_t) is the next row's chain; the last step bootstraps from a chain sampled at the final
        observation. Isaac Lab returns the *post-reset* observation on a time-out, so a truncated step falls
        back to Q and log π̂ at its own (last pre-reset) state and is left out of the critic loss.
        Rewards are divided by the running return scale (:mod:`trudi_isaac.algorithms.reward_normalizer`), which takes in
        this rollout first.
        """
        st = self.storage
        if self.recording:
            self._sample_and_record(obs)  # row T: the bootstrap chain
            self.reward_normalizer.commit()
        scale = self.reward_normalizer.scale()
        rewards = st.rewards / scale  # [T, E]
        if self.alpha_units == "raw":
            self._alpha_unit.fill_(1.0 / scale)
        with self._autocast():
            q = self._per_step(self.critic.q_value)  # [T+1, E]  (float32: the critic's logits are)
        logp, alpha = st.log_probs, self.duals.alpha * self._alpha_unit
        trunc, not_term = st.truncated, (~st.terminated).float()  # [T, E]
        next_q = torch.where(trunc, q[:-1], q[1:])  # [T, E]
        next_logp = torch.where(trunc, logp[:-1], logp[1:])  # [T, E]
        entropy_cost = self.gamma * not_term * alpha * next_logp  # [T, E]
        g_next = q[-1]  # G_T := Q(s'_T, a'_T)
        for t in reversed(range(st.num_steps)):
            soft_reward = rewards[t] - entropy_cost[t]
            lam_target = not_term[t] * (self.lam * g_next + (1.0 - self.lam) * next_q[t])
            g_next = soft_reward + self.gamma * torch.where(trunc[t], next_q[t], lam_target)
            st.returns[t] = g_next
        self._soft_reward_parts = (rewards.mean(), entropy_cost.mean())  # diagnostics, read in update()
        self._q_mean = q[:-1].mean()

    def _per_step(self, critic_fn) -> torch.Tensor:
        """``critic_fn(obs, actions)`` over the stored ``[T+1, E, …]`` rows, one step at a time to bound memory."""
        return torch.stack([critic_fn(o, a) for o, a in zip(self.storage.critic_obs, self.storage.actions)])

    # --- update -------------------------------------------------------------------------------------------------------

    def update(self) -> dict[str, float]:
        """Critic, actor and duals per minibatch; then the normalizers take in the rollout.

        Each minibatch step has fixed shapes and no host sync (with the masked gate): its rows and chain noise
        are copied into fixed buffers, its statistics summed on the device and read once, here at the end.
        With ``cuda_graphs`` the step is captured once and replayed.
        """
        self._stats.zero_()
        self._kl_max.zero_()
        self._schedule_learning_rates()
        if self.behaviour_actor is not None:
            self.behaviour_actor.load_state_dict(self.actor.state_dict())
        self._size_step_inputs(self.storage.num_envs * self.storage.num_steps // self.num_mini_batches)
        if self.aux_target == "rollout":  # the self-predictive targets of this rollout, once (the authors' choice)
            with torch.no_grad():
                features = self._per_step(self.critic.features)  # [T+1, E, F]
            if self._rollout_features.numel() == 0:  # the rollout's shape is fixed: allocate once, then copy in
                self._rollout_features = features
            else:
                self._rollout_features.copy_(features)
        for idx in self.storage.mini_batch_indices(self.num_mini_batches, self.num_learning_epochs):
            self._idx.copy_(idx)
            self._noise.normal_()  # the actor's fresh chains
            if self._graphed_step is None:
                self._minibatch_step()
            else:
                self._graphed_step()

        num_updates = self.num_learning_epochs * self.num_mini_batches
        stats = dict(zip(STEP_STATS, (self._stats / num_updates).tolist()))  # the update's one read of the device
        stats |= self._rollout_stats()
        stats["trust_region/kl_max"] = self._kl_max.item()
        stats["trust_region/alpha"] = self.duals.alpha.item()
        stats["trust_region/beta"] = self.duals.beta.item()
        stats["reward_scale"] = self.reward_normalizer.scale()
        if self.lr_schedule == "adaptive":  # the rate the last step ended at (rsl-rl logs it as Loss/learning_rate)
            self.learning_rate = float(self.actor_optimizer.param_groups[0]["lr"])

        if self.behaviour_actor is not None:
            states = self.storage.actor_obs.flatten(0, 1)  # [T·E, Oa]
            count = min(self.update_size_states, states.shape[0])
            rows = torch.linspace(0, states.shape[0] - 1, count, device=self.device).long()  # spread over steps, envs
            path_kl, action_kl = update_size(
                self.behaviour_actor, self.actor, states[rows], self.update_size_samples, self._update_size_rng
            )
            stats["update_size/path_kl"], stats["update_size/action_kl"] = path_kl.item(), action_kl.item()
            if self.trust_region_units == "action":
                self._rescale_trust_region(stats["update_size/path_kl"], stats["update_size/action_kl"])
        stats["trust_region/eps"] = self.trust_region_eps.item()  # the bound the next update's gate uses
        spread_states = self.storage.actor_obs.flatten(0, 1)[: self.spread_num_states]
        self.actor.update_action_spread(spread_states)
        if self.is_multi_gpu:  # a logged statistic, but a buffer of the actor: keep it equal on all ranks
            torch.distributed.all_reduce(self.actor.output_std)
            self.actor.output_std.div_(self.gpu_world_size)
        self.actor.obs_normalizer.commit()
        self.critic.obs_normalizer.commit()
        if self.average_actor is not None:
            self._average_weights()
        self.storage.clear()
        self.num_updates += 1
        return stats

    def _schedule_learning_rates(self) -> None:
        """Set this update's step sizes: with ``lr_schedule`` "linear", rate · (1 − u / max_iterations) after u updates
        (0 past the schedule's end) for the networks ``lr_schedule_networks`` names; the others keep their rates.
        Device-tensor rates (capturable optimizers) are filled in place."""
        if self.lr_schedule != "linear":
            return
        fraction = max(0.0, 1.0 - self.num_updates / self.schedule_iterations)
        for optimizer, rate in self._scheduled_rates:
            for group in optimizer.param_groups:
                if isinstance(group["lr"], torch.Tensor):
                    group["lr"].fill_(rate * fraction)
                else:
                    group["lr"] = rate * fraction
        self.learning_rate = float(self.actor_optimizer.param_groups[0]["lr"])

    def _rescale_trust_region(self, path_kl: float, action_kl: float) -> None:
        """``trust_region_units`` "action": the next update's bound on the path KL is ε · r, r = path KL / action KL of
        this update (clamped to [1, MAX_PATH_TO_ACTION_RATIO]), so that it moves the action distribution by about ε,
        as REPPO's Gaussian step does: the path KL upper-bounds the action KL, by 1.3–3.9× at Ant's 4096 envs
        (benchmarks/NOTES.md, "Path KL against action KL")."""
        ratio = path_kl / action_kl if action_kl > 0.0 else MAX_PATH_TO_ACTION_RATIO
        self.trust_region_eps = self.action_eps * min(max(ratio, 1.0), MAX_PATH_TO_ACTION_RATIO)

    @torch.no_grad()
    def _average_weights(self) -> None:
        """θ̄ ← θ̄ + w_t·(θ − θ̄) after the t-th update, w_t = (1 − d) / (1 − dᵗ) (d = policy_ema): the moving average
        with Adam's bias correction, a weighted mean of θ_1 … θ_t alone (θ̄ = θ_1 after the first update; the random
        θ_0 carries no weight), tending to d·θ̄ + (1 − d)·θ. Buffers (the observation normalizer's statistics, the
        action spread) are the actor's own, copied."""
        weight = (1.0 - self.policy_ema) / (1.0 - self.policy_ema ** (self.num_updates + 1))
        for average, current in zip(self.average_actor.parameters(), self.actor.parameters()):
            average.lerp_(current, weight)
        for average, current in zip(self.average_actor.buffers(), self.actor.buffers()):
            average.copy_(current)

    def _brake_actor_rate(self, kl_mean: torch.Tensor) -> None:
        """rsl-rl PPO's adaptive schedule on the path KL c̄ of this minibatch (before its step), as a brake: the actor's
        rate (and the shared duals') ÷ 1.5 when c̄ > 2ε, × 1.5 when c̄ < ε/2, within [ADAPTIVE_MIN_LR, its configured
        rate]. On the device, in place: no host sync, and a captured step holds it."""
        eps = self.trust_region_eps
        for optimizer, rate in self._actor_rates:
            lr = optimizer.param_groups[0]["lr"]  # [] tensor
            slower = (lr / ADAPTIVE_LR_FACTOR).clamp_min(min(ADAPTIVE_MIN_LR, rate))
            faster = (lr * ADAPTIVE_LR_FACTOR).clamp_max(rate)
            lr.copy_(torch.where(kl_mean > 2 * eps, slower, torch.where(kl_mean < 0.5 * eps, faster, lr)))

    def _size_step_inputs(self, rows: int) -> None:
        """Minibatches of ``rows`` transitions: (re)allocate the step's input buffers if their size differs."""
        if self._idx.shape[0] != rows:
            self._idx = torch.zeros(rows, dtype=torch.long, device=self.device)
            self._noise = torch.zeros(rows, *self._noise.shape[1:], device=self.device)
            if self._graphed_step is not None:  # captured with the old buffers
                self._graphed_step.reset()

    def _minibatch_step(self) -> None:
        """One minibatch at rows ``self._idx`` with chain noise ``self._noise``: critic, actor, duals (static)."""
        batch = self.storage.batch(self._idx)
        next_features = None  # the aux target: computed now, from the current critic, or taken from the rollout's
        if self.aux_target == "rollout":
            next_features = self._rollout_features.flatten(0, 1)[self._idx + self.storage.num_envs]  # [B, F]
        # Critic: cross-entropy to HL-Gauss(G_t) + self-predictive auxiliary loss (no target networks)
        with record_function("trudi/critic"):
            with self._autocast():
                critic_loss, aux_loss = self._critic_losses(
                    batch.critic_obs,
                    batch.actions,
                    batch.returns,
                    batch.next_critic_obs,
                    batch.next_actions,
                    batch.critic_mask,
                    batch.next_mask,
                    next_features,
                )
            self._step(self.critic_optimizer, self.critic, critic_loss + self.aux_loss_coef * aux_loss)

        # Actor: L_actor = mean_s [ 1{c(s) < ε} primary(s) + 1{c(s) ≥ ε} β c(s) ]  (see actor_loss)
        alpha = self.duals.alpha.detach() * self._alpha_unit
        with self._autocast():
            actor_step = self.actor_loss(batch, alpha, self.duals.beta.detach(), self._noise)
        if self.lr_schedule == "adaptive":
            self._brake_actor_rate(actor_step.kl.mean())
        with record_function("trudi/actor_backward"):
            self._step(self.actor_optimizer, self.actor, actor_step.loss)

        # Duals, on detached statistics:  L_α = α (H̄ − H*),  L_β = −β (c̄ − ε)
        kl_mean = actor_step.kl.mean()
        dual_loss = self.duals.alpha * (actor_step.entropy - self.entropy_target) - self.duals.beta * (
            kl_mean - self.trust_region_eps
        )
        self._step(self.dual_optimizer, self.duals, dual_loss, clip=self.clip_duals)
        if self._min_log_beta is not None:  # β ≥ min_beta: a slack bound cannot wear the restoring term down to nil
            with torch.no_grad():
                torch.maximum(self.duals.log_beta, self._min_log_beta, out=self.duals.log_beta)

        with self._autocast():
            eta_only_kl = self._eta_only_kl(batch.actor_obs, batch.old_var)
        step_stats = (
            critic_loss,
            aux_loss,
            actor_step.loss,
            actor_step.q_mean,
            kl_mean,
            eta_only_kl,
            1.0 - actor_step.inside.float().mean(),
            actor_step.entropy,
        )  # in the order of STEP_STATS
        self._stats.add_(torch.stack([s.detach() for s in step_stats]))
        torch.maximum(self._kl_max, actor_step.kl.max(), out=self._kl_max)

    @torch.no_grad()
    def _eta_only_kl(self, obs: torch.Tensor, old_var: torch.Tensor) -> torch.Tensor:
        """The η-only part of the path KL, a diagnostic: its mean value at μ_θ = μ_old over the states ``obs [B, Oa]``,
        i.e. what a change of dt and φ alone costs (``torch_compile`` compiles this function)."""
        same_means = old_var.new_zeros(1, *old_var.shape[-2:])  # [1, N, A]
        new_var = self.actor.step_variance(obs)  # [N, A] or [B, N, A]
        return trajectory_kl(same_means, old_var, same_means, new_var).mean()

    def _critic_losses(self, *inputs: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """``critic.loss(*inputs)``: the critic's two losses on a minibatch (``torch_compile`` compiles this function)."""
        return self.critic.loss(*inputs)

    @torch.no_grad()
    def _rollout_stats(self) -> dict[str, float]:
        """Diagnostics of the rollout's targets (TRUDI.md: α's scale, the critic's support), read once per update.

        * ``soft_reward/reward`` and ``soft_reward/entropy_cost``: the two parts of r̃_t per step,
          mean r_t / scale and mean γ (1 − d_t) α log π̂(a'_t|s'_t) — the bonus is a cost when log π̂ > 0;
        * ``critic_target/min``, ``/max`` and ``/atom_share``: the range of G_t and the share of the critic's
          atoms whose bins hold at least one target.
        """
        returns = self.storage.returns.flatten()  # [T·E]
        atoms = self.critic.hl_gauss.atoms  # [K]
        half_bin = 0.5 * (atoms[1] - atoms[0])
        bins = torch.bucketize(returns.clamp(atoms[0], atoms[-1]), atoms - half_bin).clamp(1, len(atoms)) - 1  # [T·E]
        used = torch.zeros_like(atoms).index_fill_(0, bins, 1.0)  # [K]
        values = torch.stack([
            self._soft_reward_parts[0],
            self._soft_reward_parts[1],
            self._q_mean,
            returns.mean(),
            returns.min(),
            returns.max(),
            used.mean(),
        ]).tolist()  # fmt: skip
        keys = ("soft_reward/reward", "soft_reward/entropy_cost", "q_rollout", "return_rollout")
        keys += ("critic_target/min", "critic_target/max", "critic_target/atom_share")
        return dict(zip(keys, values))

    def actor_loss(
        self, batch: TrajectoryBatch, alpha: torch.Tensor, beta: torch.Tensor, noise: torch.Tensor | None = None
    ) -> ActorStep:
        """The actor's loss on one minibatch, with the critic frozen and a fresh reparameterized chain a_θ ~ π_θ(·|s):

            primary(s) = α log π̂_θ(a_θ|s) − Q(s, a_θ)
            c(s)       = Σ_n KL(N(μ_old,n, S_old,n) ‖ N(μ_θ,n, S_θ,n))   at the stored chain (one batched forward)
            L_actor    = mean_s [ 1{c(s) < ε} primary(s) + 1{c(s) ≥ ε} β c(s) ]

        A state contributes through one branch only, and the gate 1{c(s) < ε} is detached. Two ways to compute
        it, with the same loss and gradient:

        * split (the CPU default): read the gate first (c(s) without gradient), then run the differentiable
          chain only on the states inside the bound and the differentiable KL only on those over it — no work
          thrown away, but the row selection (``nonzero``) syncs with the host and gives varying shapes;
        * masked (the CUDA default, and what a CUDA graph needs): both branches on all states, combined with
          ``torch.where`` on the detached gate — static shapes, no sync.

        States over the bound still sample a chain (without gradient in the split form), for the entropy
        statistic of the α dual. ``noise [B, N+1, A]`` drives the chains (drawn if None).
        """
        obs, num_states = batch.actor_obs, batch.actor_obs.shape[0]
        if noise is None:
            noise = torch.randn(num_states, self.actor.num_steps + 1, self.actor.action_dim, device=obs.device)
        if self.masked_gate:
            with frozen(self.critic):
                loss, kl, inside, log_prob, prior_log_prob, q = self._masked_actor_terms(
                    obs, batch.chain, batch.old_means, batch.old_var, batch.critic_obs, noise, alpha, beta
                )
        else:
            per_row_var = batch.old_var.dim() == 3  # [B, N, A], else [N, A] shared by all rows

            def path_kl(rows: torch.Tensor) -> torch.Tensor:
                old_var = batch.old_var[rows] if per_row_var else batch.old_var
                return self._path_kl(obs[rows], batch.chain[rows], batch.old_means[rows], old_var)  # [b]

            def primary(rows: torch.Tensor) -> tuple[torch.Tensor, ChainSample, torch.Tensor]:
                return self._primary(obs[rows], batch.critic_obs[rows], noise[rows], alpha)  # [b], chains, [b]

            with record_function("trudi/trust_region_kl"):
                with torch.no_grad():
                    kl = self._path_kl(obs, batch.chain, batch.old_means, batch.old_var)  # [B]
                inside = kl < self.trust_region_eps  # [B]
                rows_in, rows_over = inside.nonzero().squeeze(-1), (~inside).nonzero().squeeze(-1)
                kl_over = path_kl(rows_over)  # [B_over]
            with record_function("trudi/actor_chain"), frozen(self.critic):
                primary_in, sample_in, q_in = primary(rows_in)  # [B_in]
                with torch.no_grad():
                    _, sample_over, q_over = primary(rows_over)  # [B_over]
            loss = (primary_in.sum() + (beta * kl_over).sum()) / max(num_states, 1)  # an empty minibatch has loss 0
            log_prob = torch.cat([sample_in.log_prob.detach(), sample_over.log_prob])  # [B] (rows regrouped)
            prior_log_prob = torch.cat([sample_in.prior_log_prob.detach(), sample_over.prior_log_prob])  # [B]
            q = torch.cat([q_in.detach(), q_over])  # [B]
        # H̄ leaves out the prior term: H̄ = −mean(log π̂ − log N(x_0; 0, σ_p²))
        return ActorStep(loss=loss, kl=kl, inside=inside, entropy=-(log_prob - prior_log_prob).mean(), q_mean=q.mean())

    def _path_kl(
        self, obs: torch.Tensor, chain: torch.Tensor, old_means: torch.Tensor, old_var: torch.Tensor
    ) -> torch.Tensor:
        """c(s) ``[b]`` at the stored chains ``[b, N+1, A]`` of the states ``obs [b, Oa]`` (one batched forward)."""
        new_means, new_var = self.actor.step_moments(obs, chain)  # [b, N, A], [(b,) N, A]
        if self.kl_form == "current_eta":  # the authors' quantity: old means rebuilt with the current η
            old_means = self.actor.means_at_variance(chain, old_means, old_var, new_var)
        return trajectory_kl(old_means, old_var, new_means, new_var, mean_only=self.kl_form != "exact")  # [b]

    def _primary(
        self, obs: torch.Tensor, critic_obs: torch.Tensor, noise: torch.Tensor, alpha: torch.Tensor
    ) -> tuple[torch.Tensor, ChainSample, torch.Tensor]:
        """primary(s) = α log π̂_θ(a_θ|s) − Q(s, a_θ) ``[b]``, the fresh chain and Q(s, a_θ) ``[b]``."""
        sample = self.actor.sample(obs, noise)
        q = self.critic.q_value(critic_obs, sample.actions)  # [b]
        return alpha * sample.log_prob - q, sample, q

    def _masked_actor_terms(
        self,
        obs: torch.Tensor,
        chain: torch.Tensor,
        old_means: torch.Tensor,
        old_var: torch.Tensor,
        critic_obs: torch.Tensor,
        noise: torch.Tensor,
        alpha: torch.Tensor,
        beta: torch.Tensor,
    ) -> tuple[torch.Tensor, ...]:
        """The masked gate on all ``B`` states (static shapes; ``torch_compile`` compiles this function): L_actor ``[]``,
        then c(s), the gate and the detached log π̂, prior term and Q of the fresh chains (each ``[B]``)."""
        with record_function("trudi/trust_region_kl"):
            kl_grad = self._path_kl(obs, chain, old_means, old_var)  # [B]
            kl = kl_grad.detach()
            inside = kl < self.trust_region_eps  # [B]
        with record_function("trudi/actor_chain"):
            primary, sample, q = self._primary(obs, critic_obs, noise, alpha)  # [B]
        loss = torch.where(inside, primary, beta * kl_grad).sum() / max(obs.shape[0], 1)  # empty minibatch: loss 0
        return loss, kl, inside, sample.log_prob.detach(), sample.prior_log_prob.detach(), q.detach()

    def _step(self, optimizer: torch.optim.Optimizer, module: nn.Module, loss: torch.Tensor, clip: bool = True) -> None:
        """zero_grad → backward → (all-reduce across ranks) → clip → step."""
        optimizer.zero_grad()
        loss.backward()
        if self.is_multi_gpu:
            reduce_gradients_in_buckets(module.parameters(), self.gpu_world_size, self.grad_reduce_bucket_mb)
        if clip:
            nn.utils.clip_grad_norm_(module.parameters(), self.max_grad_norm)
        optimizer.step()

    # --- modes, checkpoints, policy -----------------------------------------------------------------------------------

    def train_mode(self) -> None:
        self.actor.train()
        self.critic.train()
        self.recording = True

    def eval_mode(self) -> None:
        self.actor.eval()
        self.critic.eval()
        self.recording = False
        if self.average_actor is not None:
            self.average_actor.eval()

    def save(self) -> dict:
        average = {} if self.average_actor is None else {"average_actor_state_dict": self.average_actor.state_dict()}
        return average | {
            "algorithm": type(self).__name__,
            "actor_class": type(self.actor).__name__,
            "actor_state_dict": self.actor.state_dict(),
            "critic_state_dict": self.critic.state_dict(),
            "duals_state_dict": self.duals.state_dict(),
            "reward_normalizer_state_dict": self.reward_normalizer.state_dict(),
            "num_updates": self.num_updates,
            "trust_region_eps": self.trust_region_eps.item(),  # the next update's bound (trust_region_units "action")
            "optimizer_state_dict": {
                "actor": self.actor_optimizer.state_dict(),
                "critic": self.critic_optimizer.state_dict(),
                "duals": self.dual_optimizer.state_dict(),
            },
        }

    def load(self, loaded_dict: dict, load_cfg: dict | None, strict: bool) -> bool:
        """Load what ``load_cfg`` selects (rsl-rl keys; default all). α and β travel with the actor."""
        found = (loaded_dict.get("algorithm"), loaded_dict.get("actor_class"))
        expected = (type(self).__name__, type(self.actor).__name__)
        if found != expected:
            raise ValueError(f"checkpoint holds algorithm/actor {found}, this run is {expected}")
        load_cfg = load_cfg or {"actor": True, "critic": True, "optimizer": True, "iteration": True}
        if load_cfg.get("actor"):
            self.actor.load_state_dict(loaded_dict["actor_state_dict"], strict=strict)
            self.duals.load_state_dict(loaded_dict["duals_state_dict"], strict=strict)
            average = loaded_dict.get("average_actor_state_dict")
            if average is not None and self.average_actor is None:  # play/export a run trained with policy_ema
                self.average_actor = copy.deepcopy(self.actor).requires_grad_(False)
            if self.average_actor is not None:  # a checkpoint saved without the average starts it at the actor
                self.average_actor.load_state_dict(loaded_dict["actor_state_dict"] if average is None else average, strict=strict)
        if load_cfg.get("critic"):  # the critic predicts returns in the normalizer's scale
            self.critic.load_state_dict(loaded_dict["critic_state_dict"], strict=strict)
            self.reward_normalizer.load_state_dict(loaded_dict["reward_normalizer_state_dict"], strict=strict)
        if load_cfg.get("optimizer"):
            optimizers = loaded_dict["optimizer_state_dict"]
            self.actor_optimizer.load_state_dict(optimizers["actor"])
            self.critic_optimizer.load_state_dict(optimizers["critic"])
            self.dual_optimizer.load_state_dict(optimizers["duals"])
            self.learning_rate = float(self.actor_optimizer.param_groups[0]["lr"])
            self.num_updates = int(loaded_dict.get("num_updates", 0))  # older checkpoints: the schedule restarts
            if self.run_iterations is not None:  # rsl-rl runs max_iterations more: the schedule ends with them
                self.schedule_iterations = self.num_updates + self.run_iterations
            if self.trust_region_units == "action" and "trust_region_eps" in loaded_dict:
                self.trust_region_eps = float(loaded_dict["trust_region_eps"])  # rescaled by the last update
        if self._graphed_step is not None:  # the graph holds the optimizers' old state tensors: capture anew
            self._graphed_step.reset()
        return bool(load_cfg.get("iteration", False))

    def get_policy(self) -> ChainPolicy:
        """The policy play, export and evaluation use: the weight average with ``policy_ema``, else the actor."""
        return self.actor if self.average_actor is None else self.average_actor

    def broadcast_parameters(self) -> None:
        """Rank 0's parameters and buffers (incl. normalizer statistics) to every rank."""
        for module in (self.actor, self.critic, self.duals, self.reward_normalizer, self.average_actor):
            for tensor in () if module is None else module.state_dict().values():
                torch.distributed.broadcast(tensor, src=0)

    @staticmethod
    def construct_algorithm(obs: TensorDict, env: VecEnv, cfg: dict, device: str) -> TruDi:
        """Build actor, critic, storage and algorithm from the runner's config dict (validated here too:
        Hydra overrides edit a config after its own checks ran)."""
        alg_class, alg_cfg = resolve_class(cfg["algorithm"])
        actor_class, actor_cfg = model_class_and_kwargs(cfg["actor"])
        critic_class, critic_cfg = model_class_and_kwargs(cfg["critic"])
        sections = (("algorithm", alg_class, alg_cfg), ("actor", actor_class, actor_cfg), ("critic", critic_class, critic_cfg))
        for section, target, values in sections:  # a misspelled override names the closest valid fields
            check_known_keys(f"agent.{section}", values, target)
        check_section("algorithm", alg_cfg, ALGORITHM_RULES)
        check_section("actor", actor_cfg, actor_class.config_rules)
        check_section("critic", critic_cfg, CRITIC_RULES)
        cfg["obs_groups"] = resolve_obs_groups(obs, cfg["obs_groups"], ["actor", "critic"])
        groups = cfg["obs_groups"]
        actor_dim = sum(obs[g].shape[-1] for g in groups["actor"])
        critic_dim = sum(obs[g].shape[-1] for g in groups["critic"])
        actor: ChainPolicy = actor_class(groups["actor"], actor_dim, env.num_actions, **actor_cfg)
        critic = critic_class(critic_dim, env.num_actions, **critic_cfg)
        storage = TrajectoryStorage(
            env.num_envs, cfg["num_steps_per_env"], actor_dim, critic_dim, env.num_actions, actor.num_steps, device,
            per_transition_variance=actor.state_dependent_variance,
        )
        print(f"[TruDi] actor: {actor}\n[TruDi] critic: {critic}")
        print(f"[TruDi] rollout buffer: {storage.memory_bytes() / 2**20:.1f} MiB, {storage.bytes_per_transition():.0f} B per transition")
        return alg_class(
            actor, critic, storage, groups["critic"], max_iterations=cfg.get("max_iterations"), device=device,
            multi_gpu_cfg=cfg["multi_gpu"], **alg_cfg,
        )  # fmt: skip
