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
ENV_TIMEOUT_S = 300
"""Per-task limit; the first run on a machine compiles warp kernels (~35 s), later runs reuse them."""

QUICK_TIMEOUT_S = 60
"""Limit of the subprocesses that only configure the asset root."""

NO_OP_BUILD_LIMIT_S = 0.5
"""A second build of a finished root only checks that its files exist."""

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


@pytest.mark.parametrize("task", list(STOCK_SHAPES))
def test_task_creates_and_steps_offline(task: str) -> None:
    result = subprocess.run(
        [sys.executable, str(PROBE_SCRIPT), task, "--num-envs", str(NUM_ENVS), "--steps", str(STEPS)],
        env=_clean_env(**{offline_assets.MODE_ENV_VAR: "offline"}),
        capture_output=True,
        text=True,
        timeout=ENV_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report_lines = [line for line in result.stdout.splitlines() if line.startswith(REPORT_PREFIX)]
    assert report_lines, result.stdout[-3000:]
    report = json.loads(report_lines[-1].removeprefix(REPORT_PREFIX))

    num_obs, num_actions = STOCK_SHAPES[task]
    assert report["device"] == "cpu"
    assert report["num_envs"] == NUM_ENVS
    assert report["steps"] == STEPS
    assert report["finite"], "non-finite observation or reward"
    assert report["obs_shape"] == [NUM_ENVS, num_obs]
    assert report["single_observation_space"] == [num_obs]
    assert report["action_shape"] == [NUM_ENVS, num_actions]
    assert report["reward_shape"] == [NUM_ENVS]
