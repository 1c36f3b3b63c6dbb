"""Smoke runs of the benchmark scripts (the long benchmarks themselves never run in CI)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, *args], cwd=REPO, env=ENV, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-3000:])
    return result


def test_grid_one_iteration_then_summary(tmp_path: Path) -> None:
    results = tmp_path / "results"
    grid = ("benchmarks/run_grid.py", "--tasks", "Isaac-Cartpole", "--algos", "ppo", "trudi", "--seeds", "0",
            "--iterations", "1", "--num_envs", "16", "--eval_every", "1", "--eval_envs", "4", "--eval_episodes", "4",
            "--out", str(results), "--tag", "_smoke")  # fmt: skip
    _run(*grid)
    for algo in ("ppo", "trudi"):
        run = json.loads((results / "Isaac-Cartpole" / f"{algo}_s0_smoke.json").read_text())
        assert run["iterations"] == 1 and len(run["curve"]) == 1
        assert run["curve"][0]["env_steps"] == 16 * run["num_steps_per_env"]
        assert run["buffer_bytes"] > 0 and run["collection_time_per_iter"][0] > 0
    assert "finished before, skipped" in _run(*grid).stdout  # a second call resumes: nothing to redo
    finals = ("benchmarks/final_policies.py", "--tasks", "Isaac-Cartpole", "--algos", "ppo", "trudi", "--seeds", "0",
              "--tag", "_smoke", "--results", str(results), "--eval_envs", "4", "--eval_episodes", "4")  # fmt: skip
    _run(*finals)
    records = [json.loads(line) for line in (results / "final_policies.jsonl").read_text().splitlines()]
    assert {(r["algo"], r["policy"]) for r in records} == {("ppo", "stochastic"), ("trudi", "ode_from_prior"),
                                                          ("trudi", "stochastic")}  # fmt: skip
    assert all(r["iteration"] == 0 and r["env_steps"] == 16 * 16 for r in records)  # Cartpole: 16 steps per env
    assert _run(*finals).stdout.count("return") == 0  # done before: nothing re-evaluated
    _run("benchmarks/summarize.py", "--results", str(results), "--out", str(tmp_path / "RESULTS.md"))
    summary = (tmp_path / "RESULTS.md").read_text()
    assert "| ppo | 1 |" in summary and "| trudi | 1 |" in summary
    assert "| Isaac-Cartpole | trudi | 1 |" in summary  # the final-policies table
    target = next(line for line in summary.splitlines() if line.startswith("| TruDi final det. return"))
    assert "| Isaac-Cartpole_smoke |" in target and ("**met**" in target) != ("**missed**" in target)
    assert (results / "Isaac-Cartpole_smoke_curves.png").is_file() and (results / "Isaac-Cartpole_smoke_cost.png").is_file()


def test_update_cost_and_multimodal_run(tmp_path: Path) -> None:
    out = _run("benchmarks/update_cost.py", "--num_envs", "8", "--steps", "4", "--repeats", "1").stdout.splitlines()[-1]
    assert {r["algo"] for r in json.loads(out)["results"]} == {"ppo", "reppo", "trudi"}
    _run("benchmarks/multimodal.py", "--iterations", "1", "--num_envs", "16", "--entropy_k", "1", "--out", str(tmp_path))
    report = json.loads((tmp_path / "multimodal.json").read_text())
    assert [r["algo"] for r in report["results"]] == ["ppo", "reppo (k=1)", "trudi (k=1)"]
    assert (tmp_path / "multimodal.png").is_file()


def test_compile_probe_runs(tmp_path: Path) -> None:
    out = tmp_path / "compile.jsonl"
    _run("benchmarks/compile_probe.py", "--batch", "64", "--repeats", "1", "--out", str(out))
    record = json.loads(out.read_text())
    assert record["eager_s_per_actor_step"] > 0 and record["compiled_s_per_actor_step"] > 0
    assert 0.2 <= record["over_bound_frac"] <= 0.8  # ε at the median KL: both branches of the gate are timed
