"""Isaac-Cartpole's task on textbook cart-pole dynamics in batched torch: a stand-in where Isaac Lab cannot run.

The MDP copies Isaac Lab's ``CartpoleEnvCfg`` (isaaclab_tasks/core/cartpole): observation
[x, θ, ẋ, θ̇] (joint positions and velocities), one action scaled to a cart force of 100 N, two
physics steps of 1/120 s per env step, 5 s episodes, termination when |x| > 3 m, the same reset
ranges and the same reward terms (alive +1, terminated −2, −θ², −0.01|ẋ|, −0.005|θ̇|, times the
step time). The physics is the classic cart-pole model (Barto, Sutton & Anderson 1983) with
semi-implicit Euler, not Newton's articulation: masses and lengths are the textbook ones, and the
cart joint's damping (10 N·s/m) and effort limit (400 N) are Isaac Lab's. Returns are therefore
on the same scale as Isaac-Cartpole's but not equal to them.
"""

from __future__ import annotations

import math

import torch
from rsl_rl.env import VecEnv
from tensordict import TensorDict

GRAVITY = 9.81  # [m/s²]
CART_MASS = 1.0  # [kg]
POLE_MASS = 0.1  # [kg]
POLE_HALF_LENGTH = 0.5  # [m]
CART_DAMPING = 10.0  # [N·s/m], Isaac Lab's slider actuator
EFFORT_LIMIT = 400.0  # [N]
ACTION_SCALE = 100.0  # [N]
PHYSICS_DT = 1 / 120  # [s]
DECIMATION = 2
EPISODE_S = 5.0
MAX_CART_POS = 3.0  # [m]
RESET_RANGES = (1.0, 0.25 * math.pi, 0.5, 0.25 * math.pi)
"""Half-widths of the uniform reset ranges of x, θ, ẋ, θ̇."""
REWARD_ALIVE, REWARD_TERMINATED, REWARD_POLE_POS, REWARD_CART_VEL, REWARD_POLE_VEL = 1.0, -2.0, -1.0, -0.01, -0.005


class TorchCartpole(VecEnv):
    """``num_envs`` cart-poles stepped together on ``device``; the rsl-rl ``VecEnv`` interface."""

    def __init__(self, num_envs: int, device: str, seed: int = 0) -> None:
        self.num_envs, self.num_actions, self.device, self.cfg = num_envs, 1, device, {}
        self.step_dt = PHYSICS_DT * DECIMATION
        self.max_episode_length = round(EPISODE_S / self.step_dt)
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self.state = torch.zeros(num_envs, 4, device=device)  # [E, (x, θ, ẋ, θ̇)]
        self.episode_length_buf = torch.zeros(num_envs, dtype=torch.long, device=device)
        self.reset()

    def reset(self, mask: torch.Tensor | None = None) -> tuple[TensorDict, dict]:
        """Draw new initial states for the envs in ``mask`` (all by default); the observations and no extras."""
        if mask is None:
            mask = torch.ones(self.num_envs, dtype=torch.bool, device=self.device)
        half = torch.tensor(RESET_RANGES, device=self.device)
        fresh = (torch.rand(self.num_envs, 4, generator=self.generator, device=self.device) * 2 - 1) * half
        self.state = torch.where(mask[:, None], fresh, self.state)
        self.episode_length_buf[mask] = 0
        return self.get_observations(), {}

    def get_observations(self) -> TensorDict:
        return TensorDict({"policy": self.state.clone()}, batch_size=[self.num_envs], device=self.device)

    def step(self, actions: torch.Tensor) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        force = (ACTION_SCALE * actions[:, 0]).clamp(-EFFORT_LIMIT, EFFORT_LIMIT)  # [E]
        for _ in range(DECIMATION):
            self._physics_step(force)
        x, theta, x_dot, theta_dot = self.state.unbind(-1)
        self.episode_length_buf += 1
        terminated = x.abs() > MAX_CART_POS
        time_outs = (self.episode_length_buf >= self.max_episode_length) & ~terminated
        pole_angle = torch.atan2(torch.sin(theta), torch.cos(theta))  # wrapped to [-π, π]
        reward = (
            REWARD_ALIVE * (~terminated).float()
            + REWARD_TERMINATED * terminated.float()
            + REWARD_POLE_POS * pole_angle.square()
            + REWARD_CART_VEL * x_dot.abs()
            + REWARD_POLE_VEL * theta_dot.abs()
        ) * self.step_dt
        dones = terminated | time_outs
        self.reset(dones)
        return self.get_observations(), reward, dones, {"time_outs": time_outs}

    def _physics_step(self, force: torch.Tensor) -> None:
        """One semi-implicit Euler step of the cart-pole equations of motion (θ = 0 is upright)."""
        x, theta, x_dot, theta_dot = self.state.unbind(-1)
        total_mass = CART_MASS + POLE_MASS
        sin, cos = torch.sin(theta), torch.cos(theta)
        push = (force - CART_DAMPING * x_dot + POLE_MASS * POLE_HALF_LENGTH * theta_dot.square() * sin) / total_mass
        theta_acc = (GRAVITY * sin - cos * push) / (
            POLE_HALF_LENGTH * (4.0 / 3.0 - POLE_MASS * cos.square() / total_mass)
        )
        x_acc = push - POLE_MASS * POLE_HALF_LENGTH * theta_acc * cos / total_mass
        x_dot = x_dot + PHYSICS_DT * x_acc
        theta_dot = theta_dot + PHYSICS_DT * theta_acc
        self.state = torch.stack([x + PHYSICS_DT * x_dot, theta + PHYSICS_DT * theta_dot, x_dot, theta_dot], dim=-1)
