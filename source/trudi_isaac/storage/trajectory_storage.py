"""Device-resident rollout buffer that keeps each transition's whole denoising chain.

Per transition (TRUDI.md, "The trust region"): the *normalized* actor and critic inputs, the chain
x_0 … x_N, the behaviour policy's per-step means, the executed (squashed) action and its log π̂,
the reward, termination and time-out flags. The step variance does not depend on the state: one
``[N, A]`` copy per rollout (``per_transition_variance`` stores one per transition instead, for an actor
whose variance does: REPPO's state-dependent σ). With these, the update reads the trust-region KL of a whole minibatch
off the stored chains in one batched forward, with no second sequential chain and no frozen copy
of the old network.

Critic inputs, actions and log π̂ have one extra row T: the chain sampled at the final observation,
which the last step bootstraps from. Row t+1 is the successor (s'_t, a'_t) of row t unless step t
ended an episode — the chain that ``act`` samples at the next step serves as a'_t (one chain per step).

Everything is allocated up front, outside rsl-rl's ``torch.inference_mode()`` rollout loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from trudi_isaac.modules.chain_policy import ChainSample


@dataclass
class TrajectoryBatch:
    """One minibatch of stored transitions, flat over (step, env)."""

    actor_obs: torch.Tensor  # [B, Oa]
    chain: torch.Tensor  # [B, N+1, A]
    old_means: torch.Tensor  # [B, N, A]
    old_var: torch.Tensor  # [N, A], or [B, N, A] with per-transition variances
    critic_obs: torch.Tensor  # [B, Oc]
    actions: torch.Tensor  # [B, A]
    returns: torch.Tensor  # [B]
    critic_mask: torch.Tensor  # [B] bool: the target does not depend on the row's own prediction
    next_critic_obs: torch.Tensor  # [B, Oc]
    next_actions: torch.Tensor  # [B, A]
    next_mask: torch.Tensor  # [B] bool: the next row is this row's true successor


class TrajectoryStorage:
    """Preallocated ``[T, E, …]`` rollout of chains; see the module docstring."""

    def __init__(
        self,
        num_envs: int,
        num_steps: int,
        actor_obs_dim: int,
        critic_obs_dim: int,
        action_dim: int,
        chain_steps: int,
        device: str | torch.device,
        per_transition_variance: bool = False,
    ) -> None:
        t, e, n, a = num_steps, num_envs, chain_steps, action_dim
        self.num_envs, self.num_steps, self.device = e, t, torch.device(device)
        zeros = lambda *shape, dtype=torch.float32: torch.zeros(*shape, dtype=dtype, device=self.device)  # noqa: E731
        self.actor_obs = zeros(t, e, actor_obs_dim)
        self.chains = zeros(t, e, n + 1, a)
        self.chain_means = zeros(t, e, n, a)
        self.step_var = zeros(t, e, n, a) if per_transition_variance else zeros(n, a)
        self.critic_obs = zeros(t + 1, e, critic_obs_dim)
        self.actions = zeros(t + 1, e, a)
        self.log_probs = zeros(t + 1, e)
        self.rewards = zeros(t, e)
        self.terminated = zeros(t, e, dtype=torch.bool)
        self.truncated = zeros(t, e, dtype=torch.bool)
        self.returns = zeros(t, e)
        self._perm = torch.zeros(t * e, dtype=torch.long, device=self.device)  # minibatch order, reshuffled per epoch
        self.step = 0

    @property
    def is_full(self) -> bool:
        return self.step >= self.num_steps

    def memory_bytes(self) -> int:
        """Bytes held by the buffer's tensors."""
        return sum(v.numel() * v.element_size() for v in vars(self).values() if isinstance(v, torch.Tensor))

    def bytes_per_transition(self) -> float:
        return self.memory_bytes() / (self.num_steps * self.num_envs)

    def add_policy_step(self, actor_obs: torch.Tensor, critic_obs: torch.Tensor, sample: ChainSample) -> None:
        """Record what ``act`` produced at the current step (or, when full, the bootstrap row T)."""
        t = self.step
        if t < self.num_steps:
            self.actor_obs[t] = actor_obs
            self.chains[t] = sample.chain
            self.chain_means[t] = sample.means
            self.step_var[t if self.step_var.dim() == 4 else ...] = sample.var  # [E, N, A], or the rollout's [N, A]
        self.critic_obs[t] = critic_obs
        self.actions[t] = sample.actions
        self.log_probs[t] = sample.log_prob

    def add_env_step(self, rewards: torch.Tensor, terminated: torch.Tensor, truncated: torch.Tensor) -> None:
        """Record the env's answer to the current step and advance."""
        if self.is_full:
            raise RuntimeError(f"TrajectoryStorage overflow: more than {self.num_steps} steps recorded in a rollout")
        t = self.step
        self.rewards[t] = rewards
        self.terminated[t] = terminated
        self.truncated[t] = truncated
        self.step += 1

    def clear(self) -> None:
        self.step = 0

    def mini_batch_indices(self, num_mini_batches: int, num_epochs: int) -> Iterator[torch.Tensor]:
        """Flat row indices ``[B]`` of each minibatch, reshuffled every epoch; the remainder of T·E / B is dropped.

        The permutation lives in one preallocated buffer, so every minibatch has the same shape and no index
        tensor is allocated during an update (a CUDA graph of the minibatch step reads them from a fixed place).
        """
        total = self.num_steps * self.num_envs
        size = total // num_mini_batches
        for _ in range(num_epochs):
            torch.randperm(total, out=self._perm)
            for k in range(num_mini_batches):
                yield self._perm[k * size : (k + 1) * size]

    def batch(self, idx: torch.Tensor) -> TrajectoryBatch:
        """The transitions at flat rows ``idx [B]`` of a step-major view; row i's successor is row i + E."""
        flat = lambda x: x.flatten(0, 1)  # noqa: E731  [T(+1), E, …] -> [T(+1)·E, …]
        critic_obs, actions = flat(self.critic_obs), flat(self.actions)
        next_idx = idx + self.num_envs
        return TrajectoryBatch(
            actor_obs=flat(self.actor_obs)[idx],
            chain=flat(self.chains)[idx],
            old_means=flat(self.chain_means)[idx],
            old_var=flat(self.step_var)[idx] if self.step_var.dim() == 4 else self.step_var,
            critic_obs=critic_obs[idx],
            actions=actions[idx],
            returns=flat(self.returns)[idx],
            critic_mask=~flat(self.truncated)[idx],
            next_critic_obs=critic_obs[next_idx],
            next_actions=actions[next_idx],
            next_mask=~(flat(self.terminated)[idx] | flat(self.truncated)[idx]),
        )

    def mini_batches(self, num_mini_batches: int, num_epochs: int) -> Iterator[TrajectoryBatch]:
        """The minibatches of :meth:`mini_batch_indices`, gathered."""
        for idx in self.mini_batch_indices(num_mini_batches, num_epochs):
            yield self.batch(idx)
