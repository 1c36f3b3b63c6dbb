"""Small batched torch environments on rsl-rl's VecEnv interface, for fast algorithm tests."""

from __future__ import annotations

import torch
from rsl_rl.env import VecEnv
from tensordict import TensorDict


class PointReach(VecEnv):
    """A point in the plane steered by velocity commands to a random goal.

    obs = (goal − position, position) [E, 4]; action ∈ [-1, 1]² moves the point by ``speed · a``;
    reward = −‖goal − position‖. Episodes end by time-out only (``extras["time_outs"]``).
    """

    speed = 0.1
    arena = 1.0

    def __init__(self, num_envs: int = 64, max_episode_length: int = 40, device: str = "cpu", seed: int = 0) -> None:
        self.num_envs, self.num_actions, self.device = num_envs, 2, device
        self.max_episode_length = max_episode_length
        self.cfg = {}
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self.episode_length_buf = torch.zeros(num_envs, dtype=torch.long, device=device)
        self.pos = torch.zeros(num_envs, 2, device=device)
        self.goal = torch.zeros(num_envs, 2, device=device)
        self._reset(torch.ones(num_envs, dtype=torch.bool, device=device))

    def _uniform(self, n: int) -> torch.Tensor:
        return (torch.rand(n, 2, generator=self.generator, device=self.device) * 2 - 1) * self.arena

    def _reset(self, mask: torch.Tensor) -> None:
        n = int(mask.sum())
        self.pos[mask] = self._uniform(n)
        self.goal[mask] = self._uniform(n)
        self.episode_length_buf[mask] = 0

    def get_observations(self) -> TensorDict:
        obs = torch.cat([self.goal - self.pos, self.pos], dim=-1)
        return TensorDict({"policy": obs}, batch_size=[self.num_envs])

    def step(self, actions: torch.Tensor) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        self.pos = self.pos + self.speed * actions.clamp(-1, 1)
        reward = -torch.linalg.norm(self.goal - self.pos, dim=-1)
        self.episode_length_buf += 1
        time_outs = self.episode_length_buf >= self.max_episode_length
        self._reset(time_outs)
        return self.get_observations(), reward, time_outs.clone(), {"time_outs": time_outs}


@torch.no_grad()
def deterministic_return(policy: torch.nn.Module, num_envs: int = 256, seed: int = 123) -> float:
    """Mean undiscounted return of one episode per env under the deterministic policy."""
    env = PointReach(num_envs=num_envs, seed=seed)
    obs, total = env.get_observations(), torch.zeros(num_envs)
    for _ in range(env.max_episode_length):
        obs, reward, _, _ = env.step(policy(obs))
        total += reward
    return total.mean().item()


class UnstablePointReach(PointReach):
    """PointReach on an unstable plane with walls: the point drifts away from the origin,
    ``pos ← (1 + drift) · pos + speed · a``, and leaving the square ‖pos‖_∞ ≤ bound terminates the episode.

    reward = 1 − ½ ‖goal − pos‖ per step (alive), −penalty on the terminating step; episodes that stay
    inside time out after ``max_episode_length`` steps. Without control almost every episode terminates
    (from ‖pos‖_∞ = 0.1 the drift alone reaches the wall in 35 steps); the control (speed 0.1) outweighs the
    drift up to ‖pos‖_∞ = speed / drift = 1.25, so every start and goal in [-1, 1]² can be held.
    """

    drift = 0.08
    bound = 1.5
    penalty = 10.0

    def step(self, actions: torch.Tensor) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        self.pos = (1.0 + self.drift) * self.pos + self.speed * actions.clamp(-1, 1)
        terminated = self.pos.abs().amax(-1) > self.bound
        reward = torch.where(terminated, -self.penalty, 1.0 - 0.5 * torch.linalg.norm(self.goal - self.pos, dim=-1))
        self.episode_length_buf += 1
        time_outs = (self.episode_length_buf >= self.max_episode_length) & ~terminated
        dones = terminated | time_outs
        self._reset(dones)
        return self.get_observations(), reward, dones, {"time_outs": time_outs}


@torch.no_grad()
def unstable_reach_episodes(policy: torch.nn.Module, num_envs: int = 256, seed: int = 123) -> tuple[float, float]:
    """(mean undiscounted return, fraction terminated) of one episode per env of :class:`UnstablePointReach`
    under ``policy``; an env's return stops counting when its first episode ends."""
    env = UnstablePointReach(num_envs=num_envs, seed=seed)
    obs, total = env.get_observations(), torch.zeros(num_envs)
    running = torch.ones(num_envs, dtype=torch.bool)
    terminated = torch.zeros(num_envs, dtype=torch.bool)
    for _ in range(env.max_episode_length):
        obs, reward, dones, extras = env.step(policy(obs))
        total += reward * running
        terminated |= running & dones & ~extras["time_outs"]
        running &= ~dones
    return total.mean().item(), terminated.float().mean().item()
