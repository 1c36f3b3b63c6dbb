"""Multi-process training on the CPU with gloo (the same TruDi code path NCCL uses on GPUs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]


def test_two_ranks_stay_identical(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(TESTS)}
    result = subprocess.run(
        [*TORCHRUN, str(TESTS / "distributed_probe.py")], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("DIST_REPORT "))[12:])
    assert report["world_size"] == 2
    assert report["divergence"] == 0.0  # actor, critic, duals and normalizers equal rank 0's
    # the normalizer took in both ranks' rollouts (the bootstrap rows at the rollouts' ends are not counted)
    assert report["normalizer_count"] == 2 * report["local_transitions"]


def test_train_script_two_processes_on_cpu(run_script, tmp_path: Path) -> None:
    result = subprocess.run(
        [*TORCHRUN, str(TESTS.parent / "scripts" / "train.py"), "--task", "Isaac-Cartpole", "--agent", "trudi",
         "--num_envs", "16", "--max_iterations", "2", "--device", "cpu", "--distributed"],
        cwd=tmp_path, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    runs = list((tmp_path / "logs" / "rsl_rl" / "cartpole_trudi").iterdir())
    assert len(runs) == 1  # one run folder for both ranks
    assert sorted(p.name for p in runs[0].glob("model_*.pt")) == ["model_0.pt", "model_1.pt"]
    assert len(list(runs[0].glob("events.out.tfevents.*"))) == 1  # only rank 0 logs
