"""Every Isaac Lab task with an rsl-rl config gets a TruDi and a REPPO config, derived from its PPO config."""

from __future__ import annotations

import json
import subprocess
import sys

RESOLVE_ALL = r"""
import json
from trudi_isaac.assets.offline_assets import configure_assets
configure_assets("offline")
from isaaclab_tasks.utils.parse_cfg import load_cfg_from_registry
from isaaclab.utils import class_to_dict
from rsl_rl.utils import resolve_callable
from trudi_isaac.utils.config_checks import ALGORITHM_RULES, CRITIC_RULES, check_section
from trudi_isaac.agents.families import task_family
from trudi_isaac.tasks import registration
registration.register_trudi_agents()
report = {"underived": registration.derivation_report(), "tasks": {}}
for task in registration.registered_tasks():
    if task in report["underived"]:
        try:
            load_cfg_from_registry(task, "trudi_cfg_entry_point")
        except registration.NotDerivable as err:
            assert str(err) == report["underived"][task]
            continue
        raise AssertionError(f"{task} was reported underivable but derived")
    ppo = registration.task_ppo_cfg(task)
    for key in ("trudi_cfg_entry_point", "reppo_cfg_entry_point"):
        cfg = load_cfg_from_registry(task, key)
        d = class_to_dict(cfg)
        check_section("algorithm", {k: v for k, v in d["algorithm"].items() if k != "class_name"}, ALGORITHM_RULES)
        check_section("critic", d["critic"], CRITIC_RULES)
        for section in ("algorithm", "actor", "critic"):  # every class_name import path resolves
            resolve_callable(d[section]["class_name"])
        family = task_family(task).overrides | (task_family(task).trudi_overrides if key.startswith("trudi") else {})
        steps = family.get("num_steps_per_env", ppo.num_steps_per_env)  # a family may set it
        assert cfg.num_steps_per_env == steps and cfg.max_iterations == ppo.max_iterations
        report.setdefault("agents", {})[f"{task}/{key[:5]}"] = [cfg.num_steps_per_env, cfg.algorithm.entropy_target_k,
                                                            cfg.algorithm.lr_schedule, cfg.algorithm.min_beta,
                                                            cfg.algorithm.policy_ema]
        assert cfg.experiment_name == ppo.experiment_name + ("_trudi" if key.startswith("trudi") else "_reppo")
        assert cfg.clip_actions == ppo.clip_actions
    report["tasks"][task] = {"actor": d["actor"]["class_name"], "experiment": cfg.experiment_name}
registration.register_trudi_agents()  # idempotent
print("REPORT " + json.dumps(report))
"""


def test_every_registered_entry_point_resolves_to_a_valid_config() -> None:
    result = subprocess.run([sys.executable, "-c", RESOLVE_ALL], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("REPORT "))[7:])
    tasks = report["tasks"]
    assert len(tasks) >= 40, sorted(tasks)
    for task in ("Isaac-Cartpole", "Isaac-Ant", "Isaac-Humanoid", "Isaac-Humanoid-Direct"):
        assert task in tasks
    # classic control's family sets TruDi's rollout length, entropy target, β floor and weight average, locomotion's
    # its learning-rate schedule; the REPPO agent keeps its own recipe
    agents = report["agents"]
    assert agents["Isaac-Cartpole/trudi"] == [8, 2.0, "constant", 0.01, 0.9]
    assert agents["Isaac-Cartpole-Direct/trudi"] == agents["Isaac-Cartpole/trudi"]
    assert agents["Isaac-Cartpole/reppo"] == [16, 0.5, "constant", None, 0.0]
    assert agents["Isaac-Ant/trudi"] == [32, 4.0, "linear", None, 0.0]
    assert agents["Isaac-Ant/reppo"] == [32, 0.5, "constant", None, 0.0]
    assert agents["Isaac-Humanoid/trudi"][2] == "linear"
    # only image (CNN) and recurrent PPO configs are not carried over, each with its reason
    assert all("CNN" in why or "recurrent" in why for why in report["underived"].values()), report["underived"]
    print(f"{len(tasks)} tasks with TruDi configs; not derived: {report['underived']}")
