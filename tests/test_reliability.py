"""Reliability: bad input ends in a clear error, NaN/Inf stop a run without a bad checkpoint, a SIGKILL never
leaves a truncated latest checkpoint, Ctrl-C saves, and resume is exact (:mod:`trudi_isaac.runners.safe_runner`).

Toy-env tests run in-process with the safe runner installed for the test only; the script tests run
``scripts/train.py``, ``scripts/play.py`` and ``scripts/setup.sh`` as a user would.
"""

from __future__ import annotations

import ast
import copy
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import toy_train
from conftest import REPO
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from toy_envs import PointReach
from trudi_isaac.agents.trudi_cfg import (
    DiffusionActorCfg,
    GaussianActorCfg,
    QCriticCfg,
    ReppoRunnerCfg,
    TruDiAlgorithmCfg,
)
from trudi_isaac.runners import safe_runner
from trudi_isaac.runners.checkpoints import CheckpointError, read_checkpoint, temp_path
from trudi_isaac.runners.finite import NonFiniteError, non_finite_names
from trudi_isaac.utils.config_checks import (
    ALGORITHM_RULES,
    CRITIC_RULES,
    DIFFUSION_ACTOR_RULES,
    GAUSSIAN_ACTOR_RULES,
    ConfigError,
)

torch.set_num_threads(1)

TOY_TRAIN = Path(toy_train.__file__)
STEPS = toy_train.small_cfg()["num_steps_per_env"]
CARTPOLE = ("--task", "Isaac-Cartpole", "--agent", "trudi", "--num_envs", "16", "--device", "cpu")
SUBPROCESS_TIMEOUT_S = 120
POLL_S = 0.002


@pytest.fixture
def safe():
    """The safe runner for this test only (other test files use rsl-rl's own methods)."""
    safe_runner.install()
    yield
    safe_runner.uninstall()


def assert_clear_error(result: subprocess.CompletedProcess[str], *expected: str, code: int = 2) -> None:
    assert result.returncode == code, (result.returncode, result.stderr[-3000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    for text in expected:
        assert text in result.stderr, result.stderr[-3000:]


class WidePointReach(PointReach):
    """PointReach with two extra observation dims: stands for "a checkpoint of another task"."""

    def get_observations(self):
        obs = super().get_observations()
        obs["policy"] = torch.cat([obs["policy"], torch.zeros(self.num_envs, 2)], dim=-1)
        return obs


# --- 1. bad input: one message, non-zero exit, no traceback -----------------------------------------------------------


def test_out_of_range_hydra_override_is_a_clear_error(run_script) -> None:
    result = run_script("scripts/train.py", *CARTPOLE, "--max_iterations", "1", "agent.algorithm.trust_region_eps=-1")
    assert_clear_error(result, "trust_region_eps = -1", "must be > 0")


@pytest.mark.parametrize("script", ["scripts/train.py", "scripts/play.py"])
def test_missing_and_corrupt_checkpoint_files(run_script, tmp_path: Path, script: str) -> None:
    missing = run_script(script, *CARTPOLE, "--checkpoint", str(tmp_path / "model_9.pt"), timeout=SUBPROCESS_TIMEOUT_S)
    assert_clear_error(missing, "model_9.pt", "does not exist")
    corrupt = tmp_path / "model_3.pt"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")
    result = run_script(script, *CARTPOLE, "--checkpoint", str(corrupt), timeout=SUBPROCESS_TIMEOUT_S)
    assert_clear_error(result, "model_3.pt", "corrupt or not a checkpoint")


class RunsCodeWhenUnpickled:
    """Unpickling this calls ``os.system``: what a shared checkpoint file could do to whoever loads it."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple:
        return os.system, (self.command,)


@pytest.mark.parametrize("script", ["scripts/train.py", "scripts/play.py"])
def test_checkpoint_that_would_run_code_is_refused_before_it_runs(run_script, tmp_path: Path, script: str) -> None:
    marker = tmp_path / "code_ran"
    crafted = tmp_path / "model_5.pt"
    torch.save({"iter": 0, "x": RunsCodeWhenUnpickled(f"touch {marker}")}, crafted)
    result = run_script(script, *CARTPOLE, "--checkpoint", str(crafted), timeout=SUBPROCESS_TIMEOUT_S)
    assert_clear_error(result, "model_5.pt", "holds a Python object (posix.system)", "refused without running it")
    (line,) = [line for line in result.stderr.splitlines() if "holds a Python object" in line]
    assert "model_5.pt" in line and "refused" in line  # one line says what and why
    assert not marker.exists(), "the checkpoint's code ran"


@pytest.fixture
def toy_checkpoints(tmp_path: Path, safe) -> dict[str, Path]:
    """Checkpoints of runs that do not fit Isaac-Cartpole's TruDi agent (obs 4, 1 action)."""
    torch.manual_seed(0)
    runners = {
        "wide": toy_train.make_runner(WidePointReach(num_envs=8)),  # obs 6, 2 actions
        "reppo": toy_train.make_runner(PointReach(num_envs=8), cfg_class=ReppoRunnerCfg),  # Gaussian actor
    }
    paths = {}
    for key, runner in runners.items():
        paths[key] = tmp_path / key / "model_0.pt"
        paths[key].parent.mkdir()
        runner.save(str(paths[key]))
    return paths


def test_checkpoint_of_another_task_or_actor_names_the_difference(run_script, toy_checkpoints) -> None:
    play = run_script("scripts/play.py", *CARTPOLE, "--checkpoint", str(toy_checkpoints["wide"]), "--episodes", "1")
    assert_clear_error(
        play, "does not match this run", "observation size of group 'policy': checkpoint [6], this run [4]",
        "action size: checkpoint 2, this run 1",
    )  # fmt: skip
    reppo = str(toy_checkpoints["reppo"])
    train = run_script("scripts/train.py", *CARTPOLE, "--max_iterations", "1", "--checkpoint", reppo)
    assert_clear_error(train, "does not match this run", "actor: checkpoint GaussianActor, this run DiffusionActor")


def test_load_names_algorithm_and_sizes_in_process(toy_checkpoints) -> None:
    runner = toy_train.make_runner(PointReach(num_envs=8))
    with pytest.raises(CheckpointError, match=r"observation size of group 'policy': checkpoint \[6\], this run \[4\]"):
        runner.load(str(toy_checkpoints["wide"]))
    stock = torch.load(toy_checkpoints["reppo"], weights_only=False)
    del stock["run_signature"]  # a checkpoint written by stock rsl-rl: compared tensor by tensor
    stock["algorithm"] = "PPO"
    path = toy_checkpoints["reppo"].with_name("model_1.pt")
    torch.save(stock, path)
    with pytest.raises(CheckpointError, match="algorithm: checkpoint PPO, this run TruDi"):
        runner.load(str(path))


def test_checkpoint_records_the_model_fields_that_shape_its_policy(tmp_path: Path, safe) -> None:
    """The same weights compute another policy with another σ_p (the ODE's drift decays by η/σ_p²): a checkpoint of a
    run trained with ``agent.actor.prior_std=1.0`` refuses a run with the registered 2.5, naming the field, and play's
    config adopts the checkpoint's fields, which gives back the trained policy."""
    from rsl_rl.runners import OnPolicyRunner  # noqa: PLC0415

    from trudi_isaac.cli.play import adopt_checkpoint_models  # noqa: PLC0415

    torch.manual_seed(0)
    env = PointReach(num_envs=8)
    trained_cfg = toy_train.small_runner_cfg()
    trained_cfg.actor.prior_std = 1.0
    trained = toy_train.quiet(OnPolicyRunner, env, toy_train.as_runner_dict(trained_cfg), None, "cpu")
    policy = trained.alg.get_policy()
    torch.nn.init.normal_(policy.control.tail[-1].weight, std=1.0)  # a control far from the untrained ≈ 0
    path = tmp_path / "model_0.pt"
    trained.save(str(path))
    obs = env.get_observations()

    registered = toy_train.make_runner(PointReach(num_envs=8))
    with pytest.raises(CheckpointError, match=r"agent\.actor\.prior_std: checkpoint 1\.0, this run 2\.5; load it with"):
        registered.load(str(path))
    registered.alg.load(read_checkpoint(str(path)), None, True)  # the weights alone, past the check
    # same code path on the same machine: bitwise equal; the two priors' actions differ by O(0.1) (|a| < 1)
    assert not torch.allclose(registered.get_inference_policy()(obs), policy(obs), atol=1e-3)

    play_cfg = toy_train.small_runner_cfg()
    assert adopt_checkpoint_models(play_cfg, read_checkpoint(str(path))) == ["agent.actor.prior_std=1.0"]
    rebuilt = toy_train.quiet(OnPolicyRunner, PointReach(num_envs=8), toy_train.as_runner_dict(play_cfg), None, "cpu")
    rebuilt.load(str(path))
    assert torch.equal(rebuilt.get_inference_policy()(obs), policy(obs))
    assert adopt_checkpoint_models(play_cfg, read_checkpoint(str(path))) == []  # nothing left to adopt


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_request_without_cuda(run_script) -> None:
    args = ("--task", "Isaac-Cartpole", "--device", "cuda:0")
    result = run_script("scripts/train.py", *args, timeout=SUBPROCESS_TIMEOUT_S)
    assert_clear_error(result, "asked for CUDA", "--device cpu")


@pytest.mark.skipif(shutil.which("python3.11") is None, reason="needs a python3.11")
def test_setup_refuses_python_other_than_312(tmp_path: Path) -> None:
    """TRUDI_PYTHON at a 3.11 and no python3.12 or pyenv on PATH: a message naming the version, exit 2."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "cat", "sha256sum", "cut", "mkdir", "flock"):
        if found := shutil.which(tool):
            (bin_dir / tool).symlink_to(found)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path), "TRUDI_VENV_CACHE": str(tmp_path / "cache")}
    python311 = subprocess.run(  # the interpreter itself, not a pyenv shim (which needs pyenv on PATH)
        [shutil.which("python3.11"), "-c", "import sys; print(sys.executable)"], capture_output=True, text=True
    ).stdout.strip()
    for extra, expected in (
        ({"TRUDI_PYTHON": python311}, f"TRUDI_PYTHON={python311} is Python 3.11"),
        ({}, "needs Python 3.12, and none was found"),
    ):
        result = subprocess.run(
            [shutil.which("bash"), str(REPO / "scripts" / "setup.sh")],
            env={**env, **extra}, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S,
        )  # fmt: skip
        assert result.returncode == 2, result.stderr
        assert expected in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert not (tmp_path / "cache").exists()  # nothing was built


# --- 2. non-finite numbers --------------------------------------------------------------------------------------------


def test_nan_reward_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path: Path, safe) -> None:
    bad_iteration = 3
    torch.manual_seed(0)
    log = tmp_path / "run"
    runner = toy_train.make_runner(toy_train.NaNRewards(bad_iteration * STEPS + 2, num_envs=8), log_dir=str(log))
    with pytest.raises(NonFiniteError) as err:
        toy_train.quiet(runner.learn, 10)
    message = str(err.value)
    assert f"iteration {bad_iteration}: non-finite environment output: rewards" in message
    assert f"last good checkpoint is {log / f'model_{bad_iteration - 1}.pt'}" in message
    files = toy_train.checkpoint_files(str(log))
    assert [Path(f).name for f in files] == [f"model_{i}.pt" for i in range(bad_iteration)]
    for f in files:
        assert non_finite_names(read_checkpoint(f)) == []
    fresh = toy_train.make_runner(PointReach(num_envs=8))
    fresh.load(files[-1])
    assert fresh.current_learning_iteration == bad_iteration


def test_nan_in_the_update_stops_the_run_and_is_never_saved(tmp_path: Path, safe) -> None:
    torch.manual_seed(0)
    log = tmp_path / "run"
    runner = toy_train.make_runner(PointReach(num_envs=8), log_dir=str(log))
    with torch.no_grad():
        runner.alg.duals.log_alpha.fill_(float("nan"))  # α enters the soft returns, so the critic loss
    with pytest.raises(NonFiniteError, match=r"iteration 0: non-finite losses: .*critic"):
        toy_train.quiet(runner.learn, 3)
    assert toy_train.checkpoint_files(str(log)) == []
    path = tmp_path / "model_0.pt"
    with pytest.raises(NonFiniteError, match=r"refusing to write checkpoint .*model_0\.pt: non-finite values in"):
        runner.save(str(path))
    assert not path.exists() and not Path(temp_path(str(path))).exists()


def test_inf_observation_is_caught(tmp_path: Path, safe) -> None:
    class InfObs(PointReach):
        def get_observations(self):
            obs = super().get_observations()
            if self.episode_length_buf[0] >= 3:
                obs["policy"][1, 0] = float("inf")
            return obs

    runner = toy_train.make_runner(InfObs(num_envs=8))
    with pytest.raises(NonFiniteError, match=r"iteration 0: non-finite environment output: observations\.policy"):
        toy_train.quiet(runner.learn, 2)


# --- 3. crash safety --------------------------------------------------------------------------------------------------


def test_failed_write_keeps_the_previous_checkpoint(tmp_path: Path, safe, monkeypatch) -> None:
    runner = toy_train.make_runner(PointReach(num_envs=8))
    path = tmp_path / "model_0.pt"
    runner.save(str(path))
    before = path.read_bytes()

    def broken_save(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        runner.save(str(path))
    assert path.read_bytes() == before and not Path(temp_path(str(path))).exists()


class SigintAt(PointReach):
    """Sends this process SIGINT after the given env steps, once per listing (a user pressing Ctrl-C)."""

    def __init__(self, at_steps: tuple[int, ...], **kwargs) -> None:
        super().__init__(**kwargs)
        self.at_steps, self.steps = at_steps, 0

    def step(self, actions):
        out = super().step(actions)
        for _ in range(self.at_steps.count(self.steps)):
            signal.raise_signal(signal.SIGINT)
        self.steps += 1
        return out


def test_ctrl_c_saves_the_last_completed_iteration_and_returns(tmp_path: Path, safe) -> None:
    torch.manual_seed(0)
    log = tmp_path / "run"
    handler = signal.getsignal(signal.SIGINT)
    runner = toy_train.make_runner(SigintAt((2 * STEPS + 3,), num_envs=8), log_dir=str(log), save_interval=100)
    toy_train.quiet(runner.learn, 10)  # returns: the first Ctrl-C is no KeyboardInterrupt
    assert [Path(f).name for f in toy_train.checkpoint_files(str(log))] == ["model_0.pt", "model_1.pt"]
    saved = read_checkpoint(str(log / "model_1.pt"))
    assert saved["iter"] == 1
    for key, value in runner.alg.actor.state_dict().items():
        assert torch.equal(saved["actor_state_dict"][key], value), key
    assert signal.getsignal(signal.SIGINT) is handler  # restored


def test_second_ctrl_c_interrupts_at_once(tmp_path: Path, safe) -> None:
    runner = toy_train.make_runner(SigintAt((STEPS + 1, STEPS + 1), num_envs=8), log_dir=str(tmp_path / "run"))
    with pytest.raises(KeyboardInterrupt):
        toy_train.quiet(runner.learn, 10)


def _start_toy(log: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(TOY_TRAIN), str(log), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip


def _kill_when(proc: subprocess.Popen[str], ready) -> str:
    """SIGKILL ``proc`` as soon as ``ready()`` holds; returns its stdout."""
    deadline = time.monotonic() + SUBPROCESS_TIMEOUT_S
    while not ready():
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "the toy run never got there"
        time.sleep(POLL_S)
    proc.send_signal(signal.SIGKILL)
    return proc.communicate()[0]


def _latest_iteration(log: Path) -> int:
    """Every checkpoint file loads; returns the latest one's iteration."""
    files = toy_train.checkpoint_files(str(log))
    states = [read_checkpoint(f) for f in files]
    assert [s["iter"] for s in states] == sorted(s["iter"] for s in states)
    return states[-1]["iter"]


def test_sigkill_while_checkpointing_never_breaks_resume(tmp_path: Path) -> None:
    """Kill a run that saves every iteration at different moments of checkpointing; each resume works."""
    log = tmp_path / "run"

    def newest() -> int:  # from the file names only (cheap enough to poll)
        files = toy_train.checkpoint_files(str(log)) if log.exists() else []
        return int(toy_train.CHECKPOINT_PATTERN.search(files[-1])[1]) if files else -1

    def temp_iterations() -> list[int]:  # iterations of the checkpoints being written (or left half-written)
        return [int(m[1]) for p in log.iterdir() if (m := re.fullmatch(r"\.model_(\d+)\.pt\.tmp", p.name))]

    _kill_when(_start_toy(log), lambda: newest() >= 1)  # right after a checkpoint landed
    latest = _latest_iteration(log)
    for _ in range(2):  # while writing its 2nd checkpoint: as soon as its temp file shows up, or it landed
        target = latest + 2

        def writing(target: int = target) -> bool:
            return max(temp_iterations(), default=-1) >= target or newest() >= target

        out = _kill_when(_start_toy(log, "--resume"), writing)
        assert f"resumed from model_{latest}.pt at iteration {latest + 1}" in out, out
        latest = _latest_iteration(log)

    # halfway through writing its second checkpoint (deterministic)
    proc = _start_toy(log, "--resume", "--die_in_save", "2")
    out, err = proc.communicate(timeout=SUBPROCESS_TIMEOUT_S)
    assert proc.returncode == -signal.SIGKILL, err[-3000:]
    assert f"resumed from model_{latest}.pt at iteration {latest + 1}" in out, out
    assert _latest_iteration(log) == latest + 1  # the half-written file is no model_*.pt
    assert latest + 2 in temp_iterations()
    latest += 1

    final = subprocess.run(
        [sys.executable, str(TOY_TRAIN), str(log), "--resume", "--iterations", "2"],
        capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert final.returncode == 0, final.stderr[-3000:]
    assert f"resumed from model_{latest}.pt at iteration {latest + 1}" in final.stdout
    assert f"finished at iteration {latest + 2}" in final.stdout
    assert _latest_iteration(log) == latest + 2


# --- 4. exact resume --------------------------------------------------------------------------------------------------


def _full_state(runner) -> dict:
    return copy.deepcopy(runner.alg.save())


def _assert_identical(a, b, where: str = "") -> None:
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_identical(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_identical(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def test_resumed_run_makes_the_same_update_as_the_uninterrupted_one(tmp_path: Path, safe) -> None:
    """Train up to an episode boundary of all envs (so the env-side state, episode progress and the reward
    normalizer's running returns, is that of a fresh env), save, then run one more iteration on the same
    rollout (fresh env, same seed) with the uninterrupted runner and with a fresh runner that loaded the file."""
    env_kwargs = {"num_envs": 16, "max_episode_length": 2 * STEPS}
    iterations = env_kwargs["max_episode_length"] // STEPS * 2
    torch.manual_seed(0)
    log = tmp_path / "run"
    original = toy_train.make_runner(PointReach(seed=0, **env_kwargs), log_dir=str(log), save_interval=100)
    toy_train.quiet(original.learn, iterations)  # saves model_<iterations - 1>.pt at the end
    resumed = toy_train.make_runner(PointReach(seed=5, **env_kwargs))
    resumed.load(str(log / f"model_{iterations - 1}.pt"))
    assert resumed.current_learning_iteration == iterations
    _assert_identical(_full_state(resumed), _full_state(original), "after load")

    for runner in (original, resumed):  # the same rollout: same env state and the same RNG state
        runner.env = PointReach(seed=11, **env_kwargs)
        torch.manual_seed(123)
        toy_train.quiet(runner.learn, 1)
    state = _full_state(original)
    _assert_identical(_full_state(resumed), state, "after one more iteration")
    assert any("obs_normalizer" in key for key in state["actor_state_dict"])  # statistics travel with the actor


# --- 5. real Isaac Lab run: resume continues the iteration count ------------------------------------------------------


def test_cartpole_resume_continues_the_iteration_count(run_script, tmp_path: Path) -> None:
    first = run_script("scripts/train.py", *CARTPOLE, "--max_iterations", "2", "agent.save_interval=1")
    assert first.returncode == 0, first.stderr[-3000:]
    (run,) = (tmp_path / "logs" / "rsl_rl" / "cartpole_trudi").iterdir()
    assert sorted(p.name for p in run.glob("model_*.pt")) == ["model_0.pt", "model_1.pt"]
    assert not list(run.glob(".*.tmp"))
    resumed = run_script(
        "scripts/train.py", *CARTPOLE, "--max_iterations", "1", "agent.save_interval=1",
        "--checkpoint", str(run / "model_1.pt"),
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    new_run = next(p for p in (tmp_path / "logs" / "rsl_rl" / "cartpole_trudi").iterdir() if p != run)
    assert [p.name for p in new_run.glob("model_*.pt")] == ["model_2.pt"]
    assert read_checkpoint(str(new_run / "model_2.pt"))["iter"] == 2
    assert re.search(r"Learning iteration 2/3", resumed.stdout), resumed.stdout[-2000:]


# --- 6. config validation: property tests -----------------------------------------------------------------------------

NAN, INF = float("nan"), float("inf")
NOT_A_NUMBER = st.one_of(st.just(NAN), st.just(INF), st.just(-INF), st.text(max_size=3), st.none(), st.booleans())
REALS = {"allow_nan": False, "allow_infinity": False}


def _choices(allowed: str) -> list[str]:
    return ast.literal_eval(allowed.removeprefix("one of "))


def _strategies(allowed: str) -> tuple[st.SearchStrategy, st.SearchStrategy]:
    """(in range, out of range) values for a rule, written from its description, independently of its check."""
    tiny = 1e-6
    by_description = {
        "> 0": (
            st.floats(min_value=tiny, max_value=1e6, **REALS),
            st.one_of(st.floats(max_value=0, **REALS), NOT_A_NUMBER),
        ),
        ">= 0": (
            st.floats(min_value=0, max_value=1e6, **REALS),
            st.one_of(st.floats(max_value=-tiny, **REALS), NOT_A_NUMBER),
        ),
        "in [0, 1]": (
            st.floats(min_value=0, max_value=1, **REALS),
            st.one_of(st.floats(max_value=-tiny, **REALS), st.floats(min_value=1 + tiny, **REALS), NOT_A_NUMBER),
        ),
        "in (0, 1)": (
            st.floats(min_value=tiny, max_value=1 - tiny, **REALS),
            st.one_of(st.floats(max_value=0, **REALS), st.floats(min_value=1, **REALS), NOT_A_NUMBER),
        ),
        "in [0, 1)": (
            st.floats(min_value=0, max_value=1 - tiny, **REALS),
            st.one_of(st.floats(max_value=-tiny, **REALS), st.floats(min_value=1, **REALS), NOT_A_NUMBER),
        ),
        "in (0, 1]": (
            st.floats(min_value=tiny, max_value=1, **REALS),
            st.one_of(st.floats(max_value=0, **REALS), st.floats(min_value=1 + tiny, **REALS), NOT_A_NUMBER),
        ),
        "None or > 0": (
            st.one_of(st.none(), st.floats(min_value=tiny, max_value=1e6, **REALS)),
            st.one_of(st.floats(max_value=0, **REALS), st.just(NAN), st.just(INF), st.text(max_size=3), st.booleans()),
        ),
        "an integer >= 0": (st.integers(0, 10_000), st.one_of(st.integers(max_value=-1), st.floats(), NOT_A_NUMBER)),
        "an integer >= 1": (st.integers(1, 10_000), st.one_of(st.integers(max_value=0), st.floats(), NOT_A_NUMBER)),
        "None or an integer >= 1": (
            st.one_of(st.none(), st.integers(1, 10_000)),
            st.one_of(st.integers(max_value=0), st.floats(), st.text(max_size=3), st.booleans()),
        ),
        "an integer >= 2": (st.integers(2, 10_000), st.one_of(st.integers(max_value=1), st.floats(), NOT_A_NUMBER)),
        "a finite number": (st.floats(min_value=-1e6, max_value=1e6, **REALS), NOT_A_NUMBER),
        "True or False": (st.booleans(), st.one_of(st.integers(), st.floats(), st.text(max_size=3), st.none())),
        "True, False or None": (st.one_of(st.booleans(), st.none()), st.one_of(st.integers(), st.floats(), st.text(max_size=3))),
        "a non-empty list of integers >= 1": (
            st.lists(st.integers(1, 64), min_size=1, max_size=4),
            st.one_of(
                st.just([]), st.lists(st.integers(max_value=0), min_size=1, max_size=3),
                st.lists(st.floats(), min_size=1, max_size=3), st.text(max_size=3), st.none(),
            ),
        ),  # fmt: skip
    }
    if allowed.startswith("one of "):
        choices = _choices(allowed)
        return st.sampled_from(choices), st.text(max_size=8).filter(lambda v: v not in choices)
    return by_description[allowed]


CONFIGS = {
    TruDiAlgorithmCfg: ALGORITHM_RULES,
    DiffusionActorCfg: DIFFUSION_ACTOR_RULES,
    GaussianActorCfg: GAUSSIAN_ACTOR_RULES,
    QCriticCfg: CRITIC_RULES,
}
FIELDS = [(cls, name, rule[1]) for cls, rules in CONFIGS.items() for name, rule in rules.items()]
ORDERED_PAIRS = (("v_min", "v_max"), ("time_freq_min", "time_freq_max"), ("min_std", "init_std"))


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_out_of_range_config_values_are_rejected_naming_field_value_and_range(data) -> None:
    cls, name, allowed = data.draw(st.sampled_from(FIELDS), label="field")
    value = data.draw(_strategies(allowed)[1], label="value")
    with pytest.raises(ConfigError) as err:
        cls(**{name: value})
    assert f"{cls.__name__}.{name} = {value!r}" in str(err.value)
    assert f"must be {allowed}" in str(err.value)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_in_range_config_values_are_accepted(data) -> None:
    cls = data.draw(st.sampled_from(list(CONFIGS)), label="config")
    values = {name: data.draw(_strategies(rule[1])[0], label=name) for name, rule in CONFIGS[cls].items()}
    for low, high in ORDERED_PAIRS:
        if low in values:
            assume(values[low] != values[high])
            values[low], values[high] = sorted((values[low], values[high]))
    cfg = cls(**values)  # does not raise
    assert all(getattr(cfg, name) == value for name, value in values.items())
