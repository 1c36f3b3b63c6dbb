"""``play_cli.evaluate``: whole episodes only, however the env was left."""

from __future__ import annotations

import torch
from tensordict import TensorDict
from trudi_isaac.cli.play import evaluate


class Corridor:
    """Reward 1 per step; an episode ends after ``length`` steps, or after ``length // 2`` in odd-numbered envs: by
    time-out in every env, or (``timeout_only`` False) by a termination in the odd ones."""

    timeout_only = True

    def __init__(self, num_envs: int, length: int) -> None:
        self.num_envs, self.device, self.max_episode_length = num_envs, "cpu", length
        self.limit = torch.tensor([length if i % 2 == 0 else length // 2 for i in range(num_envs)])
        self.episode_length_buf = torch.zeros(num_envs, dtype=torch.long)

    def reset(self) -> tuple[TensorDict, dict]:
        self.episode_length_buf.zero_()
        return self.get_observations(), {}

    def get_observations(self) -> TensorDict:
        return TensorDict({"policy": self.episode_length_buf[:, None].float()}, batch_size=[self.num_envs])

    def step(self, actions: torch.Tensor) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        self.episode_length_buf += 1
        dones = self.episode_length_buf >= self.limit
        self.episode_length_buf[dones] = 0
        time_outs = dones & (self.limit == self.max_episode_length) if not self.timeout_only else dones
        return self.get_observations(), torch.ones(self.num_envs), dones, {"time_outs": time_outs}


def test_evaluate_counts_whole_episodes_after_an_earlier_evaluation() -> None:
    env = Corridor(num_envs=4, length=10)
    act = lambda obs: torch.zeros(obs.batch_size[0], 1)  # noqa: E731
    first = evaluate(env, act, episodes=4)[:3]
    assert first == (7.5, 7.5, 1.0)  # two envs of 10 steps, two of 5, all ended by time-out
    env.episode_length_buf[:] = torch.tensor([3, 4, 6, 2])  # as a training run or an earlier evaluation leaves it
    assert evaluate(env, act, episodes=4)[:3] == first  # whole episodes again, not the rests of running ones


def test_evaluate_tells_time_outs_from_terminations() -> None:
    """Odd envs' short episodes end by a termination (a fall), not by time-out: half the episodes."""
    env = Corridor(num_envs=4, length=10)
    env.timeout_only = False
    act = lambda obs: torch.zeros(obs.batch_size[0], 1)  # noqa: E731
    result = evaluate(env, act, episodes=8)
    assert (result.mean_length, result.timeout_share) == (7.5, 0.5)
