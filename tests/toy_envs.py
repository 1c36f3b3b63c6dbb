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
