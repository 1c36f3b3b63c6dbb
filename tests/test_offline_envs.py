"""Offline asset root and real Isaac Lab tasks on the CPU (Newton backend, kitless), no mocks.

Isaac Lab reads its asset root once per process and its simulation context is a singleton, so
everything that touches Isaac Lab runs in a fresh subprocess; this process never imports it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from trudi_isaac.assets import offline_assets

TESTS_DIR = Path(__file__).resolve().parent
PROBE_SCRIPT = TESTS_DIR / "offline_env_probe.py"
REPORT_PREFIX = "PROBE_REPORT "
"""Marks the report line the probe script prints (``offline_env_probe.REPORT_PREFIX``)."""

NUM_ENVS = 16
STEPS = 10
STILL_STEPS = 60
"""Zero-action steps of the physics check: one second of sim time at the classic tasks' 1/60 s policy step."""

ENV_TIMEOUT_S = 300
"""Per-task limit; the first run on a machine compiles warp kernels (~35 s), later runs reuse them."""

QUICK_TIMEOUT_S = 60
"""Limit of the subprocesses that only configure the asset root."""

NO_OP_BUILD_LIMIT_S = 0.5
"""A second build of a finished root only checks that its files exist."""

GROUND_TOLERANCE_M = 0.02
"""How far below the ground plane (z = 0) a body's origin may be seen: contact solvers let bodies penetrate by
millimetres; a body falling through the ground is decimetres below it within a second."""

FREE_FALL_MARGIN_M = 0.05
"""At its last step before a reset (or after the second), a legged robot's root must be this far above where free
fall from its start would have put it (½·g·t² below the start; the resets give no start velocity). Free fall
follows that curve to within the integrator's error (the stand-in that fell through the ground: 0.008 m
below it after 0.32 s); a robot the ground holds up is left far above it: a collapsing humanoid, reset once its
torso is below 0.8 m, was 0.14-0.6 m above it over 128 seeded envs, a standing ant 4.8 m after one second."""

LEGGED_TASKS = ("Isaac-Ant", "Isaac-Ant-Direct", "Isaac-Humanoid", "Isaac-Humanoid-Direct")
"""Offline tasks whose root is free (floating base); the cartpole's is fixed to its rail."""

STOCK_SHAPES: dict[str, tuple[int, int]] = {
    "Isaac-Cartpole": (4, 1),  # joint pos + vel of slider and pole; cart effort (= CartpoleEnvCfg direct 4 / 1)
    "Isaac-Ant": (60, 8),  # = AntEnvCfg direct observation_space 60, action_space 8
    "Isaac-Humanoid": (87, 21),  # = HumanoidEnvCfg direct observation_space 87, action_space 21
}
"""(observations, actions) per env of the stock Isaac Lab 3.0.0 task definitions."""


def _clean_env(**overrides: str) -> dict[str, str]:
    """This process's environment without a user asset root, plus ``overrides``."""
    chosen_elsewhere = (offline_assets.ASSET_ROOT_ENV_VAR, offline_assets.MODE_ENV_VAR)
    env = {k: v for k, v in os.environ.items() if k not in chosen_elsewhere}
    env.setdefault("OMP_NUM_THREADS", "1")
    env.update(overrides)
    return env


def _run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (fresh Isaac Lab state)."""
    return subprocess.run(
        [sys.executable, "-c", code], env=_clean_env(**env), capture_output=True, text=True, timeout=QUICK_TIMEOUT_S
    )


def test_offline_root_builds_once(tmp_path: Path) -> None:
    root = tmp_path / "assets"
    built = offline_assets.build_offline_assets(root)
    assert built == root.resolve()
    assert offline_assets.is_complete(built)
    for stand_in in offline_assets.STAND_INS:
        assert (built / stand_in.path).stat().st_size > 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "staging folder left behind"

    marker = (built / offline_assets.COMPLETE_MARKER).stat().st_mtime_ns
    start = time.perf_counter()
    assert offline_assets.build_offline_assets(root) == built
    assert time.perf_counter() - start < NO_OP_BUILD_LIMIT_S
    assert (built / offline_assets.COMPLETE_MARKER).stat().st_mtime_ns == marker


def test_stand_ins_have_stock_prims_and_joints(tmp_path: Path) -> None:
    from pxr import Usd, UsdGeom, UsdPhysics

    root = offline_assets.build_offline_assets(tmp_path / "assets")
    by_name = {Path(s.path).name: Usd.Stage.Open(str(root / s.path)) for s in offline_assets.STAND_INS}

    assert by_name["cartpole.usd"].GetDefaultPrim().GetName() == offline_assets.CARTPOLE_DEFAULT_PRIM
    humanoid = by_name["humanoid_instanceable.usd"]
    joints = {p.GetName() for p in humanoid.Traverse() if p.IsA(UsdPhysics.Joint)}
    assert set(offline_assets.HUMANOID_JOINT_RENAMES.values()) <= joints
    assert not set(offline_assets.HUMANOID_JOINT_RENAMES) & joints
    groups = [p for p in humanoid.Traverse() if p.GetTypeName() == offline_assets.COLLISION_GROUP_TYPE]
    assert not groups, "newton reads each collision group as its own exclusive group: the feet would miss the ground"
    planes = [p for p in by_name["default_ground_plane.usda"].Traverse() if p.IsA(UsdGeom.Plane)]
    assert len(planes) == 1 and planes[0].HasAPI(UsdPhysics.CollisionAPI)


@pytest.mark.parametrize("how", ["argument", "env_var"])
def test_offline_mode_sets_asset_root(how: str) -> None:
    if how == "argument":
        call, env = "configure_assets('offline')", {}
    else:
        call, env = "configure_assets()", {offline_assets.MODE_ENV_VAR: "offline"}
    code = (
        "import os; from trudi_isaac.assets.offline_assets import configure_assets\n"
        f"root = {call}\n"
        "import isaaclab.utils.assets as a\n"
        "print(root == os.environ['ISAACSIM_ASSET_ROOT'] == a.NUCLEUS_ASSET_ROOT_DIR, a.ISAACLAB_NUCLEUS_DIR)"
    )
    result = _run_python(code, **env)
    assert result.returncode == 0, result.stderr
    same, isaaclab_dir = result.stdout.split()
    assert same == "True"
    assert Path(isaaclab_dir, "Robots/Classic/Cartpole/cartpole.usd").is_file()
    assert "[trudi] assets:" in result.stderr


def test_user_asset_root_and_online_mode_are_respected(tmp_path: Path) -> None:
    code = "from trudi_isaac.assets.offline_assets import configure_assets; print(configure_assets('offline'))"
    result = _run_python(code, ISAACSIM_ASSET_ROOT=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path)

    code = "from trudi_isaac.assets.offline_assets import configure_assets; print(configure_assets('online'))"
    result = _run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None"

    with pytest.raises(ValueError):
        offline_assets.configure_assets("sometimes")


def test_auto_mode_probes_fast_and_follows_the_probe() -> None:
    start = time.perf_counter()
    reachable = offline_assets.server_reachable()
    # one DNS lookup and one TCP connect, each limited to PROBE_TIMEOUT_S
    assert time.perf_counter() - start < 2 * offline_assets.PROBE_TIMEOUT_S + 1

    code = "from trudi_isaac.assets.offline_assets import configure_assets; print(configure_assets('auto'))"
    result = _run_python(code)
    assert result.returncode == 0, result.stderr
    assert (result.stdout.strip() == "None") == reachable


def test_going_offline_after_isaaclab_fixed_its_root_fails_loudly() -> None:
    code = (
        "import isaaclab.utils.assets\n"
        "from trudi_isaac.assets.offline_assets import configure_assets\n"
        "configure_assets('offline')"
    )
    result = _run_python(code)
    assert result.returncode != 0
    assert "before importing isaaclab_tasks" in result.stderr


@pytest.mark.parametrize("task", offline_assets.OFFLINE_TASKS)
def test_task_creates_steps_and_stands_offline(task: str) -> None:
    """Each offline task creates and steps with the stock shapes, and its physics holds: under zero actions for one
    second of sim time no body goes below the ground, and a legged robot's root falls far slower than free fall
    (the humanoid stand-in once fell through the ground plane: feet at -0.42 m after 0.3 s)."""
    result = subprocess.run(
        [sys.executable, str(PROBE_SCRIPT), task, "--num-envs", str(NUM_ENVS), "--steps", str(STEPS),
         "--still-steps", str(STILL_STEPS)],
        env=_clean_env(**{offline_assets.MODE_ENV_VAR: "offline"}),
        capture_output=True,
        text=True,
        timeout=ENV_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report_lines = [line for line in result.stdout.splitlines() if line.startswith(REPORT_PREFIX)]
    assert report_lines, result.stdout[-3000:]
    report = json.loads(report_lines[-1].removeprefix(REPORT_PREFIX))

    num_obs, num_actions = STOCK_SHAPES[task.removesuffix("-Direct")]
    assert report["device"] == "cpu"
    assert report["num_envs"] == NUM_ENVS
    assert report["steps"] == STEPS
    assert report["finite"], "non-finite observation or reward"
    assert report["obs_shape"] == [NUM_ENVS, num_obs]
    assert report["single_observation_space"] == [num_obs]
    assert report["action_shape"] == [NUM_ENVS, num_actions]
    assert report["reward_shape"] == [NUM_ENVS]

    assert report["still_steps"] * report["step_dt"] == pytest.approx(1.0, abs=0.05)
    lowest = min(report["lowest_body_z"])
    assert lowest > -GROUND_TOLERANCE_M, f"a body went {-lowest:.3f} m below the ground under zero actions"
    if task in LEGGED_TASKS:
        for drop, free_fall in zip(report["root_drop"], report["free_fall_drop"]):
            assert free_fall - drop > FREE_FALL_MARGIN_M, f"root dropped {drop:.2f} m; free fall: {free_fall:.2f} m"
