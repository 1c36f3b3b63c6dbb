"""TruDi: Trust-Region Diffusion Policies, on rsl-rl's algorithm interface.

Reads like TRUDI.md; each loss sits next to its equation. ``OnPolicyRunner`` drives it through
``algorithm.class_name = "trudi_isaac.algorithms.trudi:TruDi"``:

    construct_algorithm → [act → env.step → process_env_step] × T → compute_returns → update

Per minibatch, critic first, then actor, then the two duals. With :class:`GaussianActor` the
same code is REPPO.
"""

from __future__ import annotations

import contextlib
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
from trudi_isaac.modules.chain_policy import ChainPolicy
from trudi_isaac.modules.q_critic import DistributionalQCritic
from trudi_isaac.storage.trajectory_storage import TrajectoryBatch, TrajectoryStorage
from trudi_isaac.utils.config_checks import ALGORITHM_RULES, CRITIC_RULES, check_known_keys, check_section

OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}


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
        kl_form: str = "exact",
        init_alpha: float = 0.01,
        init_beta: float = 0.01,
        entropy_target_k: float = 4.0,
        aux_loss_coef: float = 1.0,
        spread_num_states: int = 256,
        reward_normalization: bool = True,
        device: str = "cpu",
        multi_gpu_cfg: dict | None = None,
        grad_reduce_bucket_mb: float = 25.0,
    ) -> None:
        self.device = device
        self.actor = actor.to(device)
        self.critic = critic.to(device)
        self.duals = Duals(init_alpha, init_beta).to(device)
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
        self.trust_region_eps = trust_region_eps
        self.kl_mean_only = kl_form == "mean_only"
        self.aux_loss_coef = aux_loss_coef
        self.spread_num_states = spread_num_states
        # H* = −k · action_dim; the estimate it is compared with leaves out the prior term (TRUDI.md, "Duals")
        self.entropy_target = -entropy_target_k * actor.action_dim

        # fused: one kernel per step instead of one per tensor (7x faster on a CPU thread for the critic)
        optim = OPTIMIZERS[optimizer]
        self.actor_optimizer = optim(self.actor.parameters(), lr=learning_rate, fused=True)
        self.critic_optimizer = optim(self.critic.parameters(), lr=critic_learning_rate, fused=True)
        # the duals get their own, larger step (TRUDI.md, "Pitfalls": at the actor's lr they barely move)
        self.dual_optimizer = torch.optim.Adam(self.duals.parameters(), lr=dual_learning_rate)

        self.is_multi_gpu = multi_gpu_cfg is not None
        self.gpu_world_size = multi_gpu_cfg["world_size"] if multi_gpu_cfg else 1
        self.gpu_global_rank = multi_gpu_cfg["global_rank"] if multi_gpu_cfg else 0
        self.grad_reduce_bucket_mb = grad_reduce_bucket_mb

        self.recording = True  # act() writes the rollout only in train mode

    # --- collection ---------------------------------------------------------------------------------------------------

    def _critic_input(self, obs: TensorDict) -> torch.Tensor:
        return torch.cat([obs[group] for group in self.critic_obs_groups], dim=-1)

    def _sample_and_record(self, obs: TensorDict) -> torch.Tensor:
        """Sample one chain per env; in train mode record it (and the raw inputs' statistics) in the buffer."""
        actor_raw, critic_raw = self.actor.select_obs(obs), self._critic_input(obs)
        actor_in = self.actor.obs_normalizer(actor_raw)  # [E, Oa]  statistics frozen during the rollout
        sample = self.actor.sample(actor_in)
        if self.recording:
            if self.storage.step == 0:
                self.storage.step_var.copy_(self.actor.step_variance())  # [N, A] one copy per rollout
            if not self.storage.is_full:
                self.actor.obs_normalizer.accumulate(actor_raw)
                self.critic.obs_normalizer.accumulate(critic_raw)
            self.storage.add_policy_step(actor_in, self.critic.obs_normalizer(critic_raw), sample)
        return sample.actions

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
        rewards = st.rewards / self.reward_normalizer.scale()  # [T, E]
        q = self._q_values(st.critic_obs, st.actions)  # [T+1, E]
        logp, alpha = st.log_probs, self.duals.alpha
        trunc, not_term = st.truncated, (~st.terminated).float()  # [T, E]
        next_q = torch.where(trunc, q[:-1], q[1:])  # [T, E]
        next_logp = torch.where(trunc, logp[:-1], logp[1:])  # [T, E]
        g_next = q[-1]  # G_T := Q(s'_T, a'_T)
        for t in reversed(range(st.num_steps)):
            soft_reward = rewards[t] - self.gamma * not_term[t] * alpha * next_logp[t]
            lam_target = not_term[t] * (self.lam * g_next + (1.0 - self.lam) * next_q[t])
            g_next = soft_reward + self.gamma * torch.where(trunc[t], next_q[t], lam_target)
            st.returns[t] = g_next
        self._q_mean = q[:-1].mean().item()

    def _q_values(self, critic_obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Q over ``[T+1, E, …]`` rows, one step at a time to bound memory: ``[T+1, E]``."""
        return torch.stack([self.critic.q_value(o, a) for o, a in zip(critic_obs, actions)])

    # --- update -------------------------------------------------------------------------------------------------------

    def update(self) -> dict[str, float]:
        """Critic, actor and duals per minibatch; then the normalizers take in the rollout."""
        sums: dict[str, torch.Tensor] = {}  # detached; read once at the end (no per-minibatch GPU sync)
        kl_max = torch.zeros((), device=self.device)
        for batch in self.storage.mini_batches(self.num_mini_batches, self.num_learning_epochs):
            # Critic: cross-entropy to HL-Gauss(G_t) + self-predictive auxiliary loss (no target networks)
            with record_function("trudi/critic"):
                critic_loss, aux_loss = self.critic.loss(
                    batch.critic_obs,
                    batch.actions,
                    batch.returns,
                    batch.next_critic_obs,
                    batch.next_actions,
                    batch.critic_mask,
                    batch.next_mask,
                )
                self._step(self.critic_optimizer, self.critic, critic_loss + self.aux_loss_coef * aux_loss)

            # Actor: L_actor = mean_s [ 1{c(s) < ε} primary(s) + 1{c(s) ≥ ε} β c(s) ]  (see actor_loss)
            actor_step = self.actor_loss(batch, self.duals.alpha.detach(), self.duals.beta.detach())
            with record_function("trudi/actor_backward"):
                self._step(self.actor_optimizer, self.actor, actor_step.loss)

            # Duals, on detached statistics:  L_α = α (H̄ − H*),  L_β = −β (c̄ − ε)
            kl, inside, entropy = actor_step.kl, actor_step.inside, actor_step.entropy
            kl_mean = kl.mean()
            dual_loss = self.duals.alpha * (entropy - self.entropy_target) - self.duals.beta * (
                kl_mean - self.trust_region_eps
            )
            self._step(self.dual_optimizer, self.duals, dual_loss, clip=False)

            kl_max = torch.maximum(kl_max, kl.max())
            for key, value in (
                ("critic", critic_loss),
                ("critic_aux", aux_loss),
                ("actor", actor_step.loss),
                ("q_policy", actor_step.q_mean),
                ("trust_region/kl_mean", kl_mean),
                ("trust_region/over_bound_frac", 1.0 - inside.float().mean()),
                ("trust_region/entropy", entropy),
            ):
                sums[key] = sums.get(key, 0.0) + value.detach()

        num_updates = self.num_learning_epochs * self.num_mini_batches
        stats = {key: value.item() / num_updates for key, value in sums.items()}
        stats["trust_region/kl_max"] = kl_max.item()
        stats["trust_region/alpha"] = self.duals.alpha.item()
        stats["trust_region/beta"] = self.duals.beta.item()
        stats["q_rollout"] = self._q_mean
        stats["return_rollout"] = self.storage.returns.mean().item()
        stats["reward_scale"] = self.reward_normalizer.scale()

        spread_states = self.storage.actor_obs.flatten(0, 1)[: self.spread_num_states]
        self.actor.update_action_spread(spread_states)
        if self.is_multi_gpu:  # a logged statistic, but a buffer of the actor: keep it equal on all ranks
            torch.distributed.all_reduce(self.actor.output_std)
            self.actor.output_std.div_(self.gpu_world_size)
        self.actor.obs_normalizer.commit()
        self.critic.obs_normalizer.commit()
        self.storage.clear()
        return stats

    def actor_loss(
        self, batch: TrajectoryBatch, alpha: torch.Tensor, beta: torch.Tensor, noise: torch.Tensor | None = None
    ) -> ActorStep:
        """The actor's loss on one minibatch, with the critic frozen and a fresh reparameterized chain a_θ ~ π_θ(·|s):

            primary(s) = α log π̂_θ(a_θ|s) − Q(s, a_θ)
            c(s)       = Σ_n KL(N(μ_old,n, S_old,n) ‖ N(μ_θ,n, S_θ,n))   at the stored chain (one batched forward)
            L_actor    = mean_s [ 1{c(s) < ε} primary(s) + 1{c(s) ≥ ε} β c(s) ]

        A state contributes through one branch only. So the gate is read first (c(s) without gradient) and
        each branch runs on its own states: the differentiable chain on the states inside the bound, the
        differentiable KL on those over it. The gradient is that of the masked sum over all states, without
        the work the mask would throw away. States over the bound still sample a chain (without gradient),
        for the entropy statistic of the α dual. ``noise [B, N+1, A]`` drives the chains (drawn if None).
        """
        obs, num_states = batch.actor_obs, batch.actor_obs.shape[0]
        if noise is None:
            noise = torch.randn(num_states, self.actor.num_steps + 1, self.actor.action_dim, device=obs.device)
        step_var = self.actor.step_variance()  # [N, A]

        def path_kl(rows: torch.Tensor | slice) -> torch.Tensor:
            new_means = self.actor.step_means(obs[rows], batch.chain[rows])  # [b, N, A]
            return trajectory_kl(batch.old_means[rows], batch.old_var, new_means, step_var, self.kl_mean_only)  # [b]

        with record_function("trudi/trust_region_kl"):
            with torch.no_grad():
                kl = path_kl(slice(None))  # [B]
            inside = kl < self.trust_region_eps  # [B]
            rows_in, rows_over = inside.nonzero().squeeze(-1), (~inside).nonzero().squeeze(-1)
            kl_over = path_kl(rows_over)  # [B_over]
        with record_function("trudi/actor_chain"), frozen(self.critic):
            sample_in = self.actor.sample(obs[rows_in], noise[rows_in])
            q_in = self.critic.q_value(batch.critic_obs[rows_in], sample_in.actions)  # [B_in]
            with torch.no_grad():
                sample_over = self.actor.sample(obs[rows_over], noise[rows_over])
                q_over = self.critic.q_value(batch.critic_obs[rows_over], sample_over.actions)  # [B_over]
        loss = ((alpha * sample_in.log_prob - q_in).sum() + (beta * kl_over).sum()) / num_states
        # H̄ leaves out the prior term: H̄ = −mean(log π̂ − log N(x_0; 0, σ_p²))
        log_prob = torch.cat([sample_in.log_prob.detach(), sample_over.log_prob])  # [B]
        prior_log_prob = torch.cat([sample_in.prior_log_prob.detach(), sample_over.prior_log_prob])  # [B]
        return ActorStep(
            loss=loss,
            kl=kl,
            inside=inside,
            entropy=-(log_prob - prior_log_prob).mean(),
            q_mean=torch.cat([q_in.detach(), q_over]).mean(),
        )

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

    def save(self) -> dict:
        return {
            "algorithm": type(self).__name__,
            "actor_class": type(self.actor).__name__,
            "actor_state_dict": self.actor.state_dict(),
            "critic_state_dict": self.critic.state_dict(),
            "duals_state_dict": self.duals.state_dict(),
            "reward_normalizer_state_dict": self.reward_normalizer.state_dict(),
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
        if load_cfg.get("critic"):  # the critic predicts returns in the normalizer's scale
            self.critic.load_state_dict(loaded_dict["critic_state_dict"], strict=strict)
            self.reward_normalizer.load_state_dict(loaded_dict["reward_normalizer_state_dict"], strict=strict)
        if load_cfg.get("optimizer"):
            optimizers = loaded_dict["optimizer_state_dict"]
            self.actor_optimizer.load_state_dict(optimizers["actor"])
            self.critic_optimizer.load_state_dict(optimizers["critic"])
            self.dual_optimizer.load_state_dict(optimizers["duals"])
            self.learning_rate = self.actor_optimizer.param_groups[0]["lr"]
        return bool(load_cfg.get("iteration", False))

    def get_policy(self) -> ChainPolicy:
        return self.actor

    def broadcast_parameters(self) -> None:
        """Rank 0's parameters and buffers (incl. normalizer statistics) to every rank."""
        for module in (self.actor, self.critic, self.duals, self.reward_normalizer):
            for tensor in module.state_dict().values():
                torch.distributed.broadcast(tensor, src=0)

    @staticmethod
    def construct_algorithm(obs: TensorDict, env: VecEnv, cfg: dict, device: str) -> TruDi:
        """Build actor, critic, storage and algorithm from the runner's config dict (validated here too:
        Hydra overrides edit a config after its own checks ran)."""
        alg_class, alg_cfg = resolve_class(cfg["algorithm"])
        actor_class, actor_cfg = resolve_class(cfg["actor"])
        critic_class, critic_cfg = resolve_class(cfg["critic"])
        for model_cfg in (actor_cfg, critic_cfg):  # rsl-rl's distribution fields (see agents/trudi_cfg.py: ModelCfg)
            model_cfg.pop("distribution_cfg", None)
            model_cfg.pop("stochastic", None)
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
            env.num_envs, cfg["num_steps_per_env"], actor_dim, critic_dim, env.num_actions, actor.num_steps, device
        )
        print(f"[TruDi] actor: {actor}\n[TruDi] critic: {critic}")
        print(f"[TruDi] rollout buffer: {storage.memory_bytes() / 2**20:.1f} MiB, {storage.bytes_per_transition():.0f} B per transition")
        return alg_class(actor, critic, storage, groups["critic"], device=device, multi_gpu_cfg=cfg["multi_gpu"], **alg_cfg)
