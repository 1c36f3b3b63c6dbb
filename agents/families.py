"""TruDi settings per task family; a task's TruDi config = its own PPO runner config + its family's settings.

The critic's return range [v_min, v_max] must fit the family's return scale (TRUDI.md, "Pitfalls"):
a wrong range silently clips targets.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TaskFamily:
    """A group of tasks sharing TruDi settings; a task belongs to the first family one of whose words it contains."""

    name: str
    words: tuple[str, ...]
    v_min: float
    v_max: float
    gamma: float = 0.99
    algorithm: dict[str, float] = field(default_factory=dict)


FAMILIES: tuple[TaskFamily, ...] = (
    TaskFamily("classic_control", ("Cartpole", "Fourbar"), v_min=-100.0, v_max=200.0),
    TaskFamily("dexterous_hands", ("Shadow", "Allegro", "Reorient", "Dexsuite"), v_min=-200.0, v_max=800.0),
    TaskFamily(
        "manipulation",
        ("Reach", "Lift", "Cabinet", "Handover", "Pour", "Push", "Gear", "Nist", "Stack", "Multitask", "Keyboard", "Drawer", "Factory"),
        v_min=-100.0,
        v_max=300.0,
        gamma=0.98,
    ),
    TaskFamily(
        "locomotion",
        ("Ant", "Humanoid", "Velocity", "Anymal", "Cassie", "Digit", "Spot", "Legs", "Navigation", "Drone", "Locomanip",
         "TrackPosition"),
        v_min=-100.0,
        v_max=400.0,
    ),
)


def task_family(task: str) -> TaskFamily | None:
    """The family of a task id, or None when no family's word occurs in it."""
    for family in FAMILIES:
        if any(word.lower() in task.lower() for word in family.words):
            return family
    return None
