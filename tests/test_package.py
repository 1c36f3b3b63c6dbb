"""How an Isaac Lab user meets the package: importing registers, it installs into an existing Isaac Lab,
its configs' class paths resolve, checkpoints carry no module paths, misspelled config keys are named."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO
from trudi_isaac.algorithms.trudi import TruDi
from trudi_isaac.utils.config_checks import ConfigError, check_known_keys

IMPORT_REGISTERS = r"""
import isaaclab_tasks  # noqa: F401
import trudi_isaac.tasks  # noqa: F401
from isaaclab_tasks.utils.parse_cfg import load_cfg_from_registry
cfg = load_cfg_from_registry("Isaac-Ant", "trudi_cfg_entry_point")
print("LOADED", type(cfg).__name__, cfg.experiment_name)
"""


def test_importing_the_task_package_registers_the_agents() -> None:
    """A fresh interpreter that only imports ``isaaclab_tasks`` and ``trudi_isaac.tasks`` loads Isaac-Ant's TruDi config."""
    result = subprocess.run([sys.executable, "-c", IMPORT_REGISTERS], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "LOADED TruDiRunnerCfg ant_trudi" in result.stdout, result.stdout[-2000:]


def test_installs_into_an_existing_isaac_lab(tmp_path: Path) -> None:
    """In a venv that already has Isaac Lab (a venv layered on this one's site-packages), ``pip install --no-deps -e .``
    then ``pip check`` pass, and the package imports from this checkout."""
    venv = tmp_path / "users_isaaclab"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], capture_output=True, text=True, check=True
    ).stdout.strip()
    import isaaclab  # noqa: PLC0415

    # the site-packages that hold Isaac Lab (and pip, setuptools): the user's environment
    users_site = str(Path(isaaclab.__path__[0]).resolve().parent)
    Path(site, "users_isaaclab.pth").write_text(f"import site; site.addsitedir({users_site!r})\n")

    def pip(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([python, "-m", "pip", *args], capture_output=True, text=True, timeout=600)

    install = pip("install", "--no-deps", "--no-build-isolation", "-e", str(REPO))
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    check = pip("check")
    assert check.returncode == 0, check.stdout + check.stderr
    where = subprocess.run(
        [python, "-c", "import trudi_isaac.algorithms.trudi as m, trudi_isaac.agents, isaaclab; print(m.__file__)"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert where.returncode == 0, where.stderr[-2000:]
    assert Path(where.stdout.strip()).resolve().is_relative_to(REPO)
    requires = pip("show", "trudi_isaac").stdout
    assert "isaaclab" in requires.lower()


def test_checkpoints_store_class_names_not_module_paths(tiny_trudi: TruDi) -> None:
    """Checkpoints name the algorithm and actor (``TruDi``, ``DiffusionActor``), never a module path: moving a module
    never breaks an old checkpoint."""
    state = tiny_trudi.save()
    assert state["algorithm"] == "TruDi" and state["actor_class"] == "DiffusionActor"
    blob = pickle.dumps(state)
    assert b"trudi_isaac" not in blob
    tiny_trudi.load(pickle.loads(blob), None, strict=True)


@pytest.fixture
def tiny_trudi() -> TruDi:
    from isaaclab.utils import class_to_dict  # noqa: PLC0415
    from toy_envs import PointReach  # noqa: PLC0415
    from trudi_isaac.agents.trudi_cfg import TruDiRunnerCfg  # noqa: PLC0415

    env = PointReach(num_envs=4)
    cfg = class_to_dict(TruDiRunnerCfg(num_steps_per_env=4))
    cfg["actor"]["hidden_dims"] = [16]
    cfg["critic"]["hidden_dim"] = 16
    cfg["multi_gpu"] = None
    obs = env.get_observations()
    return TruDi.construct_algorithm(obs, env, cfg, "cpu")


class _Target:
    def __init__(self, actor: object, trust_region_eps: float = 0.1, init_alpha: float = 0.01, device: str = "cpu"):
        pass


def test_unknown_key_names_the_section_and_the_closest_fields() -> None:
    with pytest.raises(ConfigError) as err:
        check_known_keys("agent.algorithm", {"trust_region_epsilon": 0.2}, _Target)
    message = str(err.value)
    assert "agent.algorithm" in message and "'trust_region_epsilon'" in message
    assert "closest valid fields: trust_region_eps" in message and "device" not in message
    check_known_keys("agent.algorithm", {"trust_region_eps": 0.2, "init_alpha": 0.1}, _Target)  # known keys pass
    check_known_keys("agent.actor", {"anything": 1}, lambda **kwargs: None)  # **kwargs takes every key


def test_trudi_construct_algorithm_refuses_an_unknown_key() -> None:
    from isaaclab.utils import class_to_dict  # noqa: PLC0415
    from toy_envs import PointReach  # noqa: PLC0415
    from trudi_isaac.agents.trudi_cfg import TruDiRunnerCfg  # noqa: PLC0415

    env = PointReach(num_envs=4)
    for section, key in (("algorithm", "trust_region_epsilon"), ("actor", "num_step"), ("critic", "num_atom")):
        cfg = class_to_dict(TruDiRunnerCfg(num_steps_per_env=4))
        cfg["multi_gpu"] = None
        cfg[section][key] = 1
        with pytest.raises(ConfigError, match=rf"agent\.{section}: unknown key '{key}'"):
            TruDi.construct_algorithm(env.get_observations(), env, cfg, "cpu")
