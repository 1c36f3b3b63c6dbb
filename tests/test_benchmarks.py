"""Smoke runs of the benchmark scripts (the long benchmarks themselves never run in CI)."""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, *args], cwd=REPO, env=ENV, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-3000:])
    return result


def test_grid_one_iteration_then_summary(tmp_path: Path) -> None:
    results = tmp_path / "results"
    grid = ("benchmarks/learning/run_grid.py", "--tasks", "Isaac-Cartpole", "--algos", "ppo", "trudi", "--seeds", "0",
            "--iterations", "1", "--num_envs", "16", "--eval_every", "1", "--eval_envs", "4", "--eval_episodes", "4",
            "--out", str(results), "--tag", "_smoke")  # fmt: skip
    _run(*grid)
    for algo in ("ppo", "trudi"):
        run = json.loads((results / "Isaac-Cartpole" / f"{algo}_s0_smoke.json").read_text())
        assert run["iterations"] == 1 and len(run["curve"]) == 1
        assert run["curve"][0]["env_steps"] == 16 * run["num_steps_per_env"]
        assert run["buffer_bytes"] > 0 and run["collection_time_per_iter"][0] > 0
        assert run["eval_policy"] == "deterministic"  # the curve's policy is recorded
        point = run["curve"][0]
        assert point["length"] > 0 and 0.0 <= point["timeout_share"] <= 1.0  # a task that cannot stand would show here
    assert "finished before, skipped" in _run(*grid).stdout  # a second call resumes: nothing to redo
    finals = ("benchmarks/learning/final_policies.py", "--tasks", "Isaac-Cartpole", "--algos", "ppo", "trudi", "--seeds", "0",
              "--tag", "_smoke", "--results", str(results), "--eval_envs", "4", "--eval_episodes", "4")  # fmt: skip
    _run(*finals)
    records = [json.loads(line) for line in (results / "final_policies.jsonl").read_text().splitlines()]
    steps = {a: json.loads((results / "Isaac-Cartpole" / f"{a}_s0_smoke.json").read_text())["num_steps_per_env"]
             for a in ("ppo", "trudi")}  # fmt: skip
    assert {(r["algo"], r["policy"]) for r in records} == {("ppo", "stochastic"), ("trudi", "ode_from_prior"),
                                                          ("trudi", "stochastic")}  # fmt: skip
    assert all(r["iteration"] == 0 and r["env_steps"] == 16 * steps[r["algo"]] for r in records)  # 16 envs
    assert _run(*finals).stdout.count("return") == 0  # done before: nothing re-evaluated
    study = results / "ablation" / "Isaac-Cartpole"  # a study run: the smoke run's JSON stands in for a variant's
    study.mkdir(parents=True)
    (study / "trudi_s0_alpha_raw.json").write_text((results / "Isaac-Cartpole" / "trudi_s0_smoke.json").read_text())
    # a grid of TruDi runs alone (a config variant) is compared with the stock PPO runs of the same env count and budget
    # (the smoke runs' budgets differ, TruDi's rollouts being shorter: the variant's is set to PPO's)
    variant = json.loads((results / "Isaac-Cartpole" / "trudi_s0_smoke.json").read_text())
    variant["curve"][-1]["env_steps"] = json.loads((results / "Isaac-Cartpole" / "ppo_s0_smoke.json").read_text())["curve"][-1]["env_steps"]
    (results / "Isaac-Cartpole" / "trudi_s0_smoke_variant.json").write_text(json.dumps(variant))
    _run("benchmarks/learning/summarize.py", "--results", str(results), "--out", str(tmp_path / "RESULTS.md"))
    summary = (tmp_path / "RESULTS.md").read_text() + (tmp_path / "RESULTS_GRIDS.md").read_text()
    assert "## Learning study" in summary and "| alpha_raw | authors' | 1 |" in summary and "≥ PPO from 50 %" in summary
    assert (results / "ablation" / "Isaac-Cartpole_ablation.png").is_file()
    assert "| ppo | 1 |" in summary and "| trudi | 1 |" in summary
    assert "| final episode length | ended by time-out |" in summary
    assert "| Isaac-Cartpole | trudi | 1 |" in summary  # the final-policies table
    target = next(line for line in summary.splitlines() if line.startswith("| TruDi final det. return"))
    assert "| Isaac-Cartpole_smoke |" in target and ("**met**" in target) != ("**missed**" in target)
    target = next(line for line in summary.splitlines() if line.startswith("| TruDi mean det. return ≥ PPO's at every"))
    assert "| Isaac-Cartpole_smoke |" in target and "1 checkpoints" in target and ("**met**" in target) != ("**missed**" in target)
    variant = [line for line in summary.splitlines() if "| Isaac-Cartpole_smoke_variant (PPO: Isaac-Cartpole_smoke) |" in line]
    assert len(variant) == 2 and variant[0].startswith("| TruDi final det. return ≥ PPO's (1 vs 1 seeds")
    assert (results / "Isaac-Cartpole_smoke_curves.png").is_file() and (results / "Isaac-Cartpole_smoke_cost.png").is_file()


def test_grid_run_cut_off_resumes_after_its_last_checkpoint(tmp_path: Path) -> None:
    """A run whose sitting ended before its last iteration (here: its last checkpoint and result removed, as a sitting
    cut off after iteration 0 leaves them) trains on from its last checkpoint in the next call, and its result covers
    both sittings: every iteration's timings once, the curve over both folders' checkpoints."""
    results = tmp_path / "results"
    grid = ("benchmarks/learning/run_grid.py", "--tasks", "Isaac-Cartpole", "--algos", "ppo", "--seeds", "0",
            "--iterations", "2", "--num_envs", "16", "--eval_every", "1", "--eval_envs", "4", "--eval_episodes", "4",
            "--out", str(results), "--tag", "_resume")  # fmt: skip
    assert "resuming" not in _run(*grid).stdout
    out = results / "Isaac-Cartpole" / "ppo_s0_resume.json"
    out.unlink()
    (run_dir,) = (REPO / "benchmarks" / ".runs" / "logs" / "rsl_rl" / "bench_Isaac_Cartpole_ppo_s0_resume").iterdir()
    (run_dir / "model_1.pt").unlink()
    assert "resuming from model_0.pt (sitting 2)" in _run(*grid).stdout
    run = json.loads(out.read_text())
    assert run["sittings"] == 2 and run["iterations"] == 2 and len(run["collection_time_per_iter"]) == 2
    assert [point["iteration"] for point in run["curve"]] == [0, 1]
    assert len(list(run_dir.parent.iterdir())) == 2  # the second sitting's own run folder
    out.unlink()  # another run under the same tag (other settings): started afresh, nothing of the old one resumed
    assert "resuming" not in _run(*grid[:-2], "--tag", "_resume", "--eval_every", "2").stdout
    assert json.loads(out.read_text())["sittings"] == 1


def test_grid_run_stopped_before_its_last_iteration_is_not_evaluated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """train.py stopped by Ctrl-C saves a checkpoint and exits 0; a grid that goes on (its own process not
    interrupted, as under a job queue) must neither evaluate the cut-off run nor write its result, but stop and say
    how to resume."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from learning import run_grid  # noqa: PLC0415

    args = argparse.Namespace(iterations=3, env_steps=None, steps_per_env=None, num_envs=16, tag="_stopped")
    monkeypatch.setattr(run_grid, "train_in_sittings", lambda *_: [1.0])
    monkeypatch.setattr(run_grid, "run_dirs", lambda _: [tmp_path])
    monkeypatch.setattr(run_grid, "logged_scalars", lambda _: {run_grid.ITERATION_TAG: {0: 0.1, 1: 0.1}})
    monkeypatch.setattr(run_grid, "evaluate_run", lambda *_: pytest.fail("a cut-off run was evaluated"))
    out = tmp_path / "ppo_s0_stopped.json"
    with pytest.raises(SystemExit, match=r"stopped after 2 of 3 iterations; the same command resumes it"):
        run_grid.one_run("Isaac-Cartpole", "ppo", 0, args, out)
    assert not out.exists()
    args = argparse.Namespace(iterations=None, env_steps=16 * 24 * 4, steps_per_env=24, num_envs=16, tag="_stopped")
    with pytest.raises(SystemExit, match=r"after 2 of 4 iterations"):  # a budget's iterations: steps / (envs × rollout)
        run_grid.one_run("Isaac-Cartpole", "ppo", 0, args, out)
    args = argparse.Namespace(iterations=5, env_steps=None, steps_per_env=24, num_envs=16, tag="_stopped")
    with pytest.raises(SystemExit, match=r"after 2 of 5 iterations"):  # --iterations with a rollout length of its own
        run_grid.one_run("Isaac-Cartpole", "ppo", 0, args, out)


def test_action_width_reads_the_prior_width_of_untrained_actors(tmp_path: Path) -> None:
    """An untrained diffusion chain keeps its prior N(0, σ_p²) (the control's output starts near 0 and the drift's
    −x/σ_p² with the kicks' variance 2η leaves that variance unchanged); an untrained Gaussian actor has σ = init_std."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from learning.action_width import load_actor, width  # noqa: PLC0415

    from trudi_isaac.modules.diffusion_actor import DiffusionActor  # noqa: PLC0415
    from trudi_isaac.modules.gaussian_actor import GaussianActor  # noqa: PLC0415

    for actor_class, expected in ((DiffusionActor, 2.5), (GaussianActor, 1.0)):
        run = tmp_path / actor_class.__name__
        (run / "params").mkdir(parents=True)
        (run / "params" / "agent.yaml").write_text(f"actor:\n  class_name: {actor_class.__module__}:{actor_class.__name__}\n")
        torch.save({"actor_state_dict": actor_class(["policy"], 6, 3).state_dict()}, run / "model_0.pt")
        row = width(load_actor(run / "model_0.pt"), states=64, samples=64, generator=torch.Generator().manual_seed(0))
        # 64 states × 3 dims of 64-sample stds: the mean's sampling error is ~1 %; 5 % leaves room for any seed
        assert row["pre_squash_std"] == pytest.approx(expected, rel=0.05)
        # P(|tanh(x)| > 0.9) = P(|x| > 1.47): 56 % for σ 2.5, 14 % for σ 1
        assert row["saturated_share"] == pytest.approx({2.5: 0.56, 1.0: 0.14}[expected], abs=0.05)


def test_evaluation_takes_the_runs_agent_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run trained with ``agent.actor.prior_std=1.0`` computes another policy from the same weights than the
    registered σ_p = 2.5 (the ODE's drift decays by η/σ_p²): its checkpoints are evaluated with the run's overrides,
    and a grid passes them on (its ``agent.*`` ones)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from learning.evaluate_checkpoints import override_agent_cfg  # noqa: PLC0415

    from trudi_isaac.agents.trudi_cfg import TruDiRunnerCfg  # noqa: PLC0415

    cfg = TruDiRunnerCfg()
    override_agent_cfg(cfg, "agent.actor.prior_std", 1.0)
    override_agent_cfg(cfg, "agent.algorithm.max_mini_batch_size", None)
    assert cfg.actor.prior_std == 1.0 and cfg.algorithm.max_mini_batch_size is None
    for key in ("agent.actor.prior_sd", "env.episode_length_s", "agent.nothing.prior_std"):
        with pytest.raises(SystemExit, match="unknown config field|only agent"):
            override_agent_cfg(cfg, key, 1.0)
    from learning import run_grid  # noqa: PLC0415

    commands = []

    def run_logged(cmd: list[str], *_: object) -> None:
        commands.append(cmd)
        Path(cmd[cmd.index("--out") + 1]).write_text(json.dumps({"curve": []}))

    monkeypatch.setattr(run_grid, "run_logged", run_logged)
    args = argparse.Namespace(eval_every=2, eval_envs=4, eval_episodes=4, device="cpu", eval_policy="deterministic",
                              overrides=["agent.actor.prior_std=1.0", "env.scene.num_envs=8"])  # fmt: skip
    run_grid.evaluate_run("Isaac-Ant", "trudi", [tmp_path / "bench_x" / "run"], args, "label")
    assert commands[0][-1] == "agent.actor.prior_std=1.0"  # the actor's field, not the env's


def test_resume_point_skips_unlogged_iterations_and_curves_skip_stop_checkpoints(tmp_path: Path) -> None:
    """A sitting killed outright loses its last unflushed TensorBoard scalars: the resume goes back to the last
    checkpoint whose iterations are all logged. A checkpoint saved by Ctrl-C between two ``--eval_every`` points is
    left out of the curve (the other seeds have none there), the last checkpoint never."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from learning.evaluate_checkpoints import checkpoints  # noqa: PLC0415
    from learning.run_grid import ITERATION_TAG, last_checkpoint, logged_through  # noqa: PLC0415

    first, second = tmp_path / "2026-12-07_05-00-00", tmp_path / "2026-12-07_06-00-00"
    for folder, iterations in ((first, (0, 25, 50)), (second, (50, 63, 75, 87))):
        folder.mkdir()
        for it in iterations:
            (folder / f"model_{it}.pt").write_bytes(b"")
    assert logged_through({ITERATION_TAG: dict.fromkeys(range(49), 0.0)}) == 48
    assert logged_through({}) == -1
    assert last_checkpoint([first], through=48) == (25, first / "model_25.pt")  # model_50's iteration is not logged
    assert last_checkpoint([first], through=60) == (50, first / "model_50.pt")
    assert last_checkpoint([first], through=-1) is None
    curve = checkpoints([first, second], every=25)
    assert curve == [(0, first / "model_0.pt"), (25, first / "model_25.pt"), (50, second / "model_50.pt"),
                     (75, second / "model_75.pt"), (87, second / "model_87.pt")]  # fmt: skip


def test_headline_puts_each_algorithm_beside_ppo(tmp_path: Path) -> None:
    """The headline table reads the runs a setting names: final return, area, checkpoints ≥ PPO, training time."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from learning.headline import HeadlineSetting  # noqa: PLC0415
    from learning.summarize import headline_section  # noqa: PLC0415

    def run(returns: list[float], seed: int, timeout_share: float | None = None) -> dict:
        """Checkpoints every 100 env steps, 30 s of training per iteration; ``timeout_share`` None: not recorded."""
        curve = [{"iteration": i, "return": r, "length": 10.0 * (seed + 1), "env_steps": 100 * (i + 1)}
                 | ({} if timeout_share is None else {"timeout_share": timeout_share}) for i, r in enumerate(returns)]
        return {"curve": curve, "seed": seed, "collection_time_per_iter": [20.0] * len(returns),
                "update_time_per_iter": [10.0] * len(returns)}  # fmt: skip

    task = tmp_path / "results" / "Task"
    task.mkdir(parents=True)
    for seed, (ppo, trudi) in enumerate((([0, 1, 2, 3], [0, 2, 2, 4]), ([0, 1, 2, 3], [0, 2, 1, 4]))):
        (task / f"ppo_s{seed}.json").write_text(json.dumps(run(ppo, seed)))
        (task / f"trudi_s{seed}_new.json").write_text(json.dumps(run(trudi, seed, timeout_share=0.25 * (seed + 1))))
    setting = HeadlineSetting("Task", 16, {"ppo": ("Task/ppo_s0.json", "Task/ppo_s1.json"), "trudi": ("Task/trudi_s?_new.json",),
                                           "reppo": ("Task/reppo_s?.json",)})  # fmt: skip
    lines = headline_section(tmp_path / "results", (setting,))
    rows = {line.split(" | ")[2]: line for line in lines if line.startswith("| Task | 16 |")}
    assert list(rows) == ["ppo", "reppo", "trudi"]
    # TruDi's areas per env step (trapezoids over 300 steps): 600/300 and 500/300; mean at 200/300/400 steps: 2, 1.5, 4
    # against PPO's 1, 2, 3; episodes of 10 and 20 steps; TruDi's ended by time-out in 25 % and 50 % (PPO's: not
    # recorded); 4 iterations x 30 s of training
    # PPO's final is 3: TruDi's seeds first reach it at their last checkpoint, 4 iterations x 30 s; PPO's too. Against
    # PPO, TruDi's final 4 ± 0 is ahead of 3 ± 0; its area 1.83 ± 0.24 is 0.33 over PPO's 1.50 ± 0, beyond the spread
    assert rows["trudi"].startswith("| Task | 16 | trudi | 2 | 400 | 4.00 ± 0.00 | 1.83 ± 0.24 | 2/3 | 15 | 38% | 2.0 | 2.0 "
                                    "| PPO: ahead / ahead |")  # fmt: skip
    assert rows["ppo"].startswith("| Task | 16 | ppo | 2 | 400 | 3.00 ± 0.00 | 1.50 ± 0.00 | – | 15 | – | 2.0 | 2.0 | – |")
    assert "| reppo | 0 | – | not run yet |" in rows["reppo"] and "`Task/reppo_s?.json`" in rows["reppo"]
    assert lines[-2] == "![](results/headline.png)" and (tmp_path / "results" / "headline.png").is_file()


def test_headline_verdict_and_time_to_ppos_final() -> None:
    """On par within the larger sd of the two, ahead or behind past it, no verdict from one seed; the minutes to a
    return count the seeds that reach it."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from learning.summarize import compare, time_to_target, verdict  # noqa: PLC0415

    assert compare([10.0, 12.0], [10.5, 10.5]) == "on par"  # +0.5 within sd 1.41
    assert compare([14.0, 16.0], [10.0, 10.0]) == "ahead" and compare([6.0, 8.0], [10.0, 12.0]) == "behind"
    assert compare([14.0], [10.0, 11.0]) == "–"

    def run(returns: list[float]) -> dict:  # 60 s of training per iteration
        return {"curve": [{"iteration": i, "return": r, "env_steps": 100 * (i + 1)} for i, r in enumerate(returns)],
                "collection_time_per_iter": [40.0] * len(returns), "update_time_per_iter": [20.0] * len(returns)}  # fmt: skip

    assert time_to_target([run([0, 5, 9]), run([0, 9, 9])], 8.0) == "2.5"  # iterations 2 and 1: 3 and 2 minutes
    assert time_to_target([run([0, 5, 9]), run([0, 1, 2])], 8.0) == "3.0 (1/2 seeds)"
    assert time_to_target([run([0, 1])], 8.0) == "not reached"
    ran = {"ppo": [run([0, 5]), run([0, 6])], "reppo": [run([0, 9]), run([0, 10])], "trudi": [run([0, 9]), run([0, 10])]}
    assert verdict("trudi", ran) == "PPO: ahead / ahead; REPPO: on par / on par"
    assert verdict("reppo", ran) == "PPO: ahead / ahead" and verdict("ppo", ran) == "–"


def test_update_size_section_sets_path_kl_beside_action_kl() -> None:
    """Means per run over the updates (and over the last 10 %), then over the seeds; runs without the diagnostic
    are left out, and a grid with none has no row."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from learning.summarize import update_size_section  # noqa: PLC0415

    def run(path: list[float], action: list[float]) -> dict:
        return {"diagnostics": {"update_size/path_kl": path, "update_size/action_kl": action}}

    grids = {"Ant_eps": {"trudi": [run([0.3] * 9 + [0.2], [0.1] * 9 + [0.05]), run([0.3] * 10, [0.1] * 10), {}]},
             "Ant_old": {"trudi": [{"diagnostics": {}}]}}  # fmt: skip
    lines = update_size_section(grids)
    rows = [line for line in lines if line.startswith("| Ant")]
    assert rows == ["| Ant_eps | trudi | 2 | 0.295 | 0.098 | 3.0 | 0.250 | 0.075 | 3.3 |"]
    assert update_size_section({"Ant_old": grids["Ant_old"]}) == []


def test_update_cost_and_multimodal_run(tmp_path: Path) -> None:
    out = _run("benchmarks/cost/update_cost.py", "--num_envs", "8", "--steps", "4", "--repeats", "1").stdout.splitlines()[-1]
    assert {r["algo"] for r in json.loads(out)["results"]} == {"ppo", "reppo", "trudi"}
    results = tmp_path / "results"
    args = ("--iterations", "1", "--num_envs", "16", "--out", str(results), "--cache", str(tmp_path / "cache"),
            "--bases", "own", "Isaac-Cartpole")  # fmt: skip
    _run("benchmarks/learning/multimodal.py", *args, "--algos", "ppo", "trudi", "--seeds", "0", "1", "--entropy_k", "1", "registered")
    report = json.loads((results / "multimodal.json").read_text())
    assert [r["algo"] for r in report["results"]] == ["ppo", "trudi (k=1)", "trudi (registered k)", "trudi (k=1) [Isaac-Cartpole]",
                                                      "trudi (registered k) [Isaac-Cartpole]"]  # fmt: skip
    assert all(0.0 <= r["mean_reward"] <= 1.0 for r in report["results"])
    for r in report["results"]:  # a row is the mean over its seeds
        assert [s["seed"] for s in r["per_seed"]] == [0, 1]
        assert r["mean_reward"] == pytest.approx(sum(s["mean_reward"] for s in r["per_seed"]) / 2)
    extra = results / "multimodal_extra"  # a second report (another --out) is a subsection, not a grid run
    extra.mkdir()
    (extra / "multimodal.json").write_text((results / "multimodal.json").read_text())
    _run("benchmarks/learning/summarize.py", "--results", str(results), "--out", str(tmp_path / "RESULTS.md"))
    summary = (tmp_path / "RESULTS.md").read_text() + (tmp_path / "RESULTS_GRIDS.md").read_text()
    assert "### multimodal_extra" in summary and "![](results/multimodal_extra/multimodal.png)" in summary
    rows = [line for line in summary.split("### multimodal_extra")[0].splitlines() if line.startswith("| trudi (")]
    assert len(rows) == 4 and all("| 2 |" in row and ("**met**" in row) != ("**missed**" in row) for row in rows)
    assert (results / "multimodal.png").is_file()
    cached = sorted((tmp_path / "cache").glob("*.json"))
    assert len(cached) == 10  # 5 runs x 2 seeds: an interrupted invocation resumes from them
    (planted,) = (tmp_path / "cache").glob("ppo_s1_it1_n16_st8_*.json")
    actions = json.loads(planted.read_text())["actions"]
    planted.write_text(json.dumps({"actions": [[0.6] * len(row) for row in actions]}))
    _run("benchmarks/learning/multimodal.py", *args[:-3], "--algos", "ppo", "--seeds", "0", "1")
    ppo = json.loads((results / "multimodal.json").read_text())["results"][0]
    assert ppo["per_seed"][0] == report["results"][0]["per_seed"][0]  # seed 0 read back unchanged
    assert ppo["per_seed"][1]["fraction_near_peak"]["0.6"] == 1.0  # seed 1 read from the planted file, not retrained
    assert ppo["per_seed"][1]["action_entropy"] == pytest.approx(math.log(0.02), abs=1e-5)  # all in one 0.02 bin
    bad = subprocess.run([sys.executable, "benchmarks/learning/multimodal.py", "--entropy_k", "0"], cwd=REPO, env=ENV,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert bad.returncode == 2 and "entropy_k must be > 0 or 'registered'" in bad.stderr


def test_precision_cost_runs_both_precisions_and_tabulates_the_ratios(tmp_path: Path) -> None:
    """Each algorithm in float32 and mixed precision (rsl-rl's own field for PPO), the ratio against float32, the
    processor and whether it has native bfloat16; summarize.py puts them in a table."""
    results = tmp_path / "results"
    results.mkdir()
    _run("benchmarks/cost/precision_cost.py", "--num_envs", "8", "--steps", "4", "--rounds", "1", "--algos", "ppo", "trudi",
         "--out", str(results / "precision_cost.jsonl"))  # fmt: skip
    record = json.loads((results / "precision_cost.jsonl").read_text())
    rows = {(r["algo"], r["precision"]): r for r in record["results"]}
    assert rows.keys() == {(a, p) for a in ("ppo", "trudi") for p in ("float32", "mixed")}
    assert all(rows[(a, "float32")]["update_ratio"] == 1.0 for a in ("ppo", "trudi"))
    for algo in ("ppo", "trudi"):
        mixed = rows[(algo, "mixed")]
        assert mixed["update_ratio"] == pytest.approx(mixed["update_s_per_iter"] / rows[(algo, "float32")]["update_s_per_iter"])
    assert isinstance(record["machine"]["native_bf16"], bool) and record["machine"]["processor"]
    _run("benchmarks/learning/summarize.py", "--results", str(results), "--out", str(tmp_path / "RESULTS.md"))
    section = (tmp_path / "RESULTS_GRIDS.md").read_text().split("## Mixed precision against float32")[1]
    assert section.count("| 8 × 4 | 87 / 21 |") == 4


def test_two_mode_target_asks_each_seed_for_both_peaks() -> None:
    """Two seeds that each keep a different single peak average to both peaks; the target judges every seed's policy."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from learning.summarize import multimodal_table  # noqa: PLC0415

    def row(name: str, *shares: tuple[float, float]) -> dict:
        per_seed = [{"fraction_near_peak": {"-0.6": a, "0.6": b}, "mean_reward": 0.6} for a, b in shares]
        mean = {m: sum(s["fraction_near_peak"][m] for s in per_seed) / len(per_seed) for m in ("-0.6", "0.6")}
        return {"algo": name, "seeds": list(range(len(shares))), "per_seed": per_seed, "fraction_near_peak": mean,
                "mean_reward": 0.6, "mode_entropy": 0.5, "modes_covered": 1.5, "near_any": 0.6}

    report = {"iterations": 1, "num_envs": 1, "command": "-",
              "results": [row("trudi (split)", (0.55, 0.05), (0.05, 0.55)), row("trudi (both)", (0.3, 0.3), (0.25, 0.35))]}
    rows = {line.split(" | ")[0]: line for line in multimodal_table(report, Path("x"), "") if line.startswith("| trudi")}
    assert "| 0.30 / 0.30 |" in rows["| trudi (split)"] and "| 0.05 / 0.05 |" in rows["| trudi (split)"]
    assert rows["| trudi (split)"].endswith("**missed** |") and rows["| trudi (both)"].endswith("**met** |")


def test_multimodal_overrides_set_trudi_and_reppo_fields_only() -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from learning.multimodal import runner_cfg  # noqa: PLC0415

    overrides = (("algorithm.min_beta", 0.02),)
    for base in ("own", "Isaac-Cartpole"):
        plain, changed = runner_cfg("trudi", 8, None, base), runner_cfg("trudi", 8, None, base, overrides)
        assert plain["algorithm"]["min_beta"] != 0.02 and changed["algorithm"]["min_beta"] == 0.02
        plain["algorithm"].pop("min_beta"), changed["algorithm"].pop("min_beta")
        assert plain == changed  # nothing else moved
    assert "min_beta" not in runner_cfg("ppo", 8, None, "own", overrides)["algorithm"]  # PPO runs keep their config
    with pytest.raises(SystemExit, match="unknown config field 'algorithm.min_betta'"):
        runner_cfg("trudi", 8, None, "own", (("algorithm.min_betta", 0.02),))


def test_multimodal_action_entropy_of_two_gaussian_modes() -> None:
    """The histogram estimate recovers log 2 + ½ log(2πe σ²) for two separated modes of width σ."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from learning.multimodal import PEAKS, best_reward, mode_stats, peak_reward  # noqa: PLC0415

    sigma, generator = 0.05, torch.Generator().manual_seed(0)
    modes = torch.tensor(PEAKS)[torch.randint(0, 2, (4, 20000), generator=generator)]  # [C, S]
    actions = modes + sigma * torch.randn(4, 20000, generator=generator)
    expected = math.log(2) + 0.5 * math.log(2 * math.pi * math.e * sigma**2)
    stats = mode_stats(actions)
    assert stats["action_entropy"] == pytest.approx(expected, abs=0.02)
    assert stats["mode_entropy"] == pytest.approx(1.0, abs=0.01) and stats["modes_covered"] == 2.0
    assert stats["mean_reward"] <= stats["best_reward"] + 0.01  # no policy of that entropy earns more than the ceiling
    uniform = peak_reward(torch.linspace(-1, 1, 20001)).mean().item()
    ceiling = best_reward(torch.tensor([math.log(2) + 0.1, math.log(2), 0.5, 0.0, -1.0]))  # [5]
    assert ceiling[0].item() == pytest.approx(uniform, abs=1e-3) and ceiling[1].item() == pytest.approx(uniform, abs=0.01)
    assert (ceiling.diff() > 0).all() and ceiling[-1] < 1.0  # sharper policies can earn more, never more than the peak


def test_compile_probe_runs(tmp_path: Path) -> None:
    out = tmp_path / "compile.jsonl"
    _run("benchmarks/cost/compile_probe.py", "--batch", "64", "--repeats", "1", "--out", str(out))
    record = json.loads(out.read_text())
    assert record["eager_s_per_actor_step"] > 0 and record["compiled_s_per_actor_step"] > 0
    assert 0.2 <= record["over_bound_frac"] <= 0.8  # ε at the median KL: both branches of the gate are timed


NO_ISAACLAB = """
import importlib.abc, runpy, sys
class NoIsaacLab(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0].startswith(("isaaclab", "isaacsim", "omni")):
            raise ImportError(f"{name} is blocked: this run must not need Isaac Lab")
sys.meta_path.insert(0, NoIsaacLab())
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""
"""Runs a script with every Isaac Lab import failing, as on the GPU machine."""


def test_torch_grid_runs_without_isaaclab_on_a_config_bundle(tmp_path: Path) -> None:
    bundle = tmp_path / "device"
    _run("benchmarks/device/device_bundle.py", "--out", str(bundle))
    cfgs = json.loads((bundle / "agent_cfgs.json").read_text())
    assert set(cfgs) == {"Isaac-Cartpole", "Isaac-Ant", "Isaac-Humanoid"} and set(cfgs["Isaac-Ant"]) == {"ppo", "trudi", "reppo"}
    assert (bundle / "site" / "rsl_rl").is_dir() and (bundle / "site" / "tensordict").is_dir()
    results = tmp_path / "results"
    grid = ("-c", NO_ISAACLAB, "benchmarks/device/torch_grid.py", "--device", "cpu", "--num_envs", "16", "--eval_envs", "4",
            "--iterations", "2", "--eval_every", "1", "--agent_cfgs", str(bundle / "agent_cfgs.json"),
            "--results", str(results), "algorithm.num_mini_batches=2")  # fmt: skip
    _run(*grid)
    for algo in ("ppo", "trudi", "reppo"):
        run = json.loads((results / "TorchCartpole" / f"{algo}_s0_cpu16.json").read_text())
        assert [p["iteration"] for p in run["curve"]] == [0, 1] and len(run["update_time_per_iter"]) == 2
        assert run["curve"][-1]["env_steps"] == 2 * 16 * run["num_steps_per_env"] and run["buffer_bytes"] > 0
        assert -60 < run["curve"][-1]["return"] < 6  # Isaac-Cartpole's scale: at most 5 s of +1/s
    assert _run(*grid).stdout.count("skip") == 3  # finished runs are not redone
    _run("benchmarks/learning/summarize.py", "--results", str(results), "--out", str(tmp_path / "RESULTS.md"))
    assert "### TorchCartpole_cpu16" in (tmp_path / "RESULTS_GRIDS.md").read_text()
    bad = subprocess.run([sys.executable, "benchmarks/device/torch_grid.py", "--agent_cfgs", str(bundle / "agent_cfgs.json"),
                          "--device", "cpu", "algorithm.num_minibatches=2"], cwd=REPO, env=ENV, capture_output=True,
                         text=True, timeout=300)  # fmt: skip
    assert bad.returncode != 0 and "unknown config field 'algorithm.num_minibatches'" in bad.stderr


def test_update_cost_profile_names_the_phases_and_counts_ops() -> None:
    out = _run("benchmarks/cost/update_cost.py", "--num_envs", "8", "--steps", "4", "--repeats", "1", "--algos", "trudi", "ppo",
               "--profile", "5", "--count_ops").stdout.splitlines()[-1]  # fmt: skip
    trudi, ppo = json.loads(out)["results"]
    profile = trudi["profile"]
    assert set(profile["phases_cpu_ms"]) == {"trudi/critic", "trudi/trust_region_kl", "trudi/actor_chain", "trudi/actor_backward"}
    assert len(profile["top_self_ms"]) == 5 and profile["host_reads"] > 0
    for ops in (trudi["ops"], ppo["ops"]):
        assert ops["per_update"] == ops["per_minibatch_step"] * ops["minibatch_steps"] > 0 and ops["per_env_step"] > 0
    assert trudi["ops"]["per_minibatch_step"] > ppo["ops"]["per_minibatch_step"]  # a chain of steps against one MLP


def test_step_kernels_counts_fewer_kernels_compiled() -> None:
    out = _run("benchmarks/cost/step_kernels.py", "--task", "Isaac-Cartpole", "--obs", "4", "--actions", "1", "--num_envs", "16",
               "--steps", "8").stdout.splitlines()[-1]  # fmt: skip
    n = json.loads(out)["counts"]
    assert n["compiled_graphs"] == 5  # critic forward and backward, actor forward and backward, the η-only statistic
    assert sum(n["kernels_per_graph"]) == n["compiled_region_kernels"] > 0
    assert 0 < n["compiled_region_eager_ops"] < n["eager_ops"]
    assert n["compiled_step_kernels"] < n["eager_ops"] / 2  # fused: the chain's elementwise ops between its matmuls


def test_op_count_counts_compute_ops_not_views() -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from cost.op_count import OpCount  # noqa: PLC0415

    a, b = torch.randn(3, 4), torch.randn(4, 5)
    ops = OpCount()
    with ops:
        c = (a @ b).view(15).unsqueeze(0).t()  # one kernel, then views
    with ops:  # counts add up over blocks
        (c + 1.0).sum()
    assert ops.by_name == {"mm": 1, "add": 1, "sum": 1} and ops.total == 3


def test_torch_cartpole_follows_isaac_cartpole_rules() -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))

    import torch
    from device.torch_cartpole import TorchCartpole

    env = TorchCartpole(4, "cpu", seed=0)
    env.state[:] = torch.tensor([0.0, 0.05, 0.0, 0.0])  # pole slightly off upright, no push
    for _ in range(60):
        _, reward, dones, extras = env.step(torch.zeros(4, 1))
    assert (env.state[:, 1] > 0.5).all() and not dones.any()  # it falls to the side it leans to
    x_dot, theta, theta_dot = env.state[:, 2], env.state[:, 1], env.state[:, 3]
    expected = (1.0 - theta.square() - 0.01 * x_dot.abs() - 0.005 * theta_dot.abs()) * env.step_dt
    assert torch.allclose(reward, expected, atol=1e-6)
    env.reset()
    pushed = [env.step(torch.ones(4, 1)) for _ in range(env.max_episode_length)]  # full force to one side
    dones = torch.stack([d for _, _, d, _ in pushed])  # [T, E]
    time_outs = torch.stack([e["time_outs"] for _, _, _, e in pushed])
    rewards = torch.stack([r for _, r, _, _ in pushed])
    assert dones.any(0).all() and not time_outs.any()  # every cart leaves the track: terminations
    assert (rewards[dones] <= -2.0 * env.step_dt).all()  # the termination penalty, not the alive bonus
    assert (env.episode_length_buf < env.max_episode_length).all()  # the counters restarted at the resets


@pytest.mark.skipif(torch.cuda.is_available(), reason="with CUDA, benchmarks/device/gpu_check.sh runs the real check")
def test_gpu_check_pieces_refuse_cleanly_without_cuda_or_bundle(tmp_path: Path) -> None:
    """``gpu_check.sh`` needs a bundle with the cuda_graphs field; ``cuda_graph_check.py`` needs CUDA: both say so."""
    check = subprocess.run([sys.executable, "benchmarks/device/cuda_graph_check.py"], cwd=REPO, env=ENV,
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert check.returncode == 2 and "no CUDA device here" in check.stderr
    clone = tmp_path / "repo"
    (clone / "benchmarks" / "device").mkdir(parents=True)
    (clone / "benchmarks" / "device" / "gpu_check.sh").write_text((REPO / "benchmarks" / "device" / "gpu_check.sh").read_text())
    script = subprocess.run(["bash", str(clone / "benchmarks" / "device" / "gpu_check.sh")], capture_output=True, text=True,
                            timeout=60)  # fmt: skip
    assert script.returncode == 2 and "device_bundle.py" in script.stderr
    graphed = subprocess.run([sys.executable, "benchmarks/cost/update_cost.py", "--num_envs", "8", "--steps", "4",
                              "--repeats", "1", "--algos", "trudi", "--cuda_graphs"], cwd=REPO, env=ENV,
                             capture_output=True, text=True, timeout=300)  # fmt: skip
    assert graphed.returncode != 0 and "cuda_graphs=True needs a CUDA device" in graphed.stderr


def test_study_rows_compare_with_ppo_of_the_same_seeds() -> None:
    """A study row's `k/n` pairs it with PPO's runs of its own seeds; where PPO lacks one of them, all PPO runs."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from learning.summarize import ablation_row, same_seeds  # noqa: PLC0415

    def run(seed: int, returns: list[float]) -> dict:  # checkpoints at 100, 200, 300, 400 env steps
        curve = [{"iteration": i, "return": r, "length": 10.0, "env_steps": 100 * (i + 1)} for i, r in enumerate(returns)]
        return {"seed": seed, "curve": curve, "num_envs": 1, "num_steps_per_env": 100}

    ppo = [run(0, [0, 1, 1, 1]), run(1, [0, 1, 1, 1]), run(2, [0, 3, 3, 3])]
    variant = [run(0, [0, 2, 2, 2]), run(1, [0, 2, 2, 2])]
    assert [r["seed"] for r in same_seeds(ppo, variant)] == [0, 1]
    assert same_seeds(ppo, [*variant, run(5, [0, 2, 2, 2])]) == ppo
    # against seeds 0-1 of PPO (return 1) the variant's 2 is ahead at all 3 checkpoints from half the budget (200-400);
    # against all three PPO runs (mean 5/3) too, but not against seed 2 alone (3)
    assert "| 3/3 |" in ablation_row("v", "ours", variant, 400, ppo)
    assert "| 0/3 |" in ablation_row("v", "ours", [run(2, [0, 2, 2, 2])], 400, ppo)
    assert "| – |" in ablation_row("ppo", "stock", ppo, 400, [])


def test_variant_grid_borrows_stock_ppo_of_its_own_seeds() -> None:
    """A TruDi-only grid takes the stock PPO runs of its task, env count and budget, pooled over grids and paired by
    seed: seeds 0-1 of TruDi get PPO's seeds 0-1 from the grid that has them, not the other grid's seeds 3-4; PPO
    run with an override, or at another budget, is never borrowed."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from learning.summarize import stock_ppo  # noqa: PLC0415

    def run(algo: str, seed: int, steps: int = 100, command: str = "run_grid.py --tasks T") -> dict:
        return {"algo": algo, "seed": seed, "task": "T", "num_envs": 8, "command": command,
                "curve": [{"iteration": 0, "return": 0.0, "length": 1.0, "env_steps": steps}]}  # fmt: skip

    grids = {
        "T": {"ppo": [run("ppo", 0), run("ppo", 1)]},
        "T_seeds3to4": {"ppo": [run("ppo", 3), run("ppo", 4)]},
        "T_tuned": {"ppo": [run("ppo", 0, command="run_grid.py agent.algorithm.gamma=0.9")]},
        "T_long": {"ppo": [run("ppo", 0, steps=200)]},
    }
    name, runs = stock_ppo(grids, [run("trudi", 0), run("trudi", 1)])
    assert name == "T" and [r["seed"] for r in runs] == [0, 1]
    name, runs = stock_ppo(grids, [run("trudi", s) for s in (0, 1, 3, 4)])
    assert name == "T + T_seeds3to4" and [r["seed"] for r in runs] == [0, 1, 3, 4]
    name, runs = stock_ppo(grids, [run("trudi", 7)])  # no PPO run of seed 7: every stock run
    assert name == "T + T_seeds3to4" and len(runs) == 4
    assert stock_ppo(grids, [run("trudi", 0, steps=300)]) is None


def test_ablation_lists_variants_and_composes_runs() -> None:
    """Every variant's overrides are valid Hydra overrides of TruDi's config; a run keeps the budget's env steps."""
    listing = _run("benchmarks/learning/ablation.py", "--list").stdout
    sys.path.insert(0, str(REPO / "benchmarks"))
    from learning import ablation  # noqa: PLC0415

    assert all(name in listing for name in ablation.VARIANTS)
    for task, budget in ablation.BUDGETS.items():
        for name, variant in ablation.VARIANTS.items():
            cmd = ablation.grid_command(task, name, 0)
            iterations = int(cmd[cmd.index("--iterations") + 1])
            steps = ablation.steps_per_env(task, variant)
            assert abs(iterations * steps * ablation.NUM_ENVS - budget.env_steps) < steps * ablation.NUM_ENVS
            assert cmd[-len(variant.overrides) :] == list(variant.overrides)
    from trudi_isaac.agents.trudi_cfg import TruDiRunnerCfg  # noqa: PLC0415
    from trudi_isaac.tasks.registration import derive_runner_cfg  # noqa: PLC0415

    for task, budget in ablation.BUDGETS.items():  # the study's rollout length is the registered one
        assert derive_runner_cfg(task, TruDiRunnerCfg, "_trudi").num_steps_per_env == budget.steps_per_env
    cfg = TruDiRunnerCfg()
    for variant in ablation.VARIANTS.values():  # each override names an existing field
        for override in variant.overrides:
            path = override.partition("=")[0].removeprefix("agent.").split(".")
            node = cfg
            for part in path[:-1]:
                node = getattr(node, part)
            assert hasattr(node, path[-1]), override
