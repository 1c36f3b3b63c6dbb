"""``trudi_isaac.runners.update_threads``: the update's own thread count, and the cores other processes leave free."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
import time

import pytest
import torch
from rsl_rl.runners import OnPolicyRunner
from test_trudi_core import SMALL, runner_cfg
from toy_envs import PointReach
from trudi_isaac.runners import update_threads

BUSY_S = 1.5
"""Wall-clock of each measured window: at /proc/stat's 10 ms ticks, a few hundredths of a core of resolution."""


@pytest.fixture
def restored_runner_init():
    """``install`` patches ``OnPolicyRunner.__init__``; put rsl-rl's back after the test."""
    original = OnPolicyRunner.__init__
    before = torch.get_num_threads()
    yield
    OnPolicyRunner.__init__ = original
    torch.set_num_threads(before)


def _runner() -> OnPolicyRunner:
    with contextlib.redirect_stdout(io.StringIO()):
        return OnPolicyRunner(PointReach(num_envs=4), runner_cfg("trudi", **SMALL), log_dir=None, device="cpu")


def test_update_threads_apply_to_the_update_only(restored_runner_init) -> None:
    """The update runs with its own torch thread count, restored afterwards; ``install`` with a count gives every
    runner built later such an update."""
    seen: list[int] = []
    torch.set_num_threads(1)
    update_threads.with_threads(lambda: seen.append(torch.get_num_threads()), 2)()
    update_threads.with_threads(lambda: seen.append(torch.get_num_threads()), lambda: 2)()  # chosen at each call
    assert seen == [2, 2] and torch.get_num_threads() == 1
    update_threads.install(2)
    runner = _runner()
    assert runner.alg.update.__wrapped__ == type(runner.alg).update.__get__(runner.alg)


class FixedLoad:
    """A :class:`~update_threads.CoreLoad` stand-in that reports a given number of busy cores."""

    def __init__(self, cpus: int, others: float | None) -> None:
        self.cpus, self.others = list(range(cpus)), others

    def others_busy(self) -> float | None:
        return self.others


@pytest.mark.parametrize(("others", "cap", "expected"), [
    (0.0, 2, 2), (0.3, 2, 2), (0.8, 2, 1), (1.0, 2, 1), (2.0, 2, 1), (None, 2, 2), (0.0, 1, 1), (3.0, 8, 5),
])  # fmt: skip
def test_free_core_threads_are_the_free_cores_within_one_and_the_cap(others, cap, expected) -> None:
    cpus = 8 if cap == 8 else 2
    assert update_threads.free_core_threads(FixedLoad(cpus, others), cap) == expected


def test_core_load_subtracts_this_process_and_counts_only_its_cores(tmp_path, monkeypatch) -> None:
    """From two readings of /proc/stat: the busy ticks of the allowed cores (not of the others, not idle or iowait)
    minus this process's CPU time, per second, clamped to [0, cores]."""
    stat = tmp_path / "stat"
    clock = {"wall": 100.0, "own": 10.0}
    monkeypatch.setattr(update_threads, "PROC_STAT", str(stat))
    monkeypatch.setattr(update_threads, "CLOCK_TICKS_PER_S", 100)
    monkeypatch.setattr(update_threads.time, "monotonic", lambda: clock["wall"])
    monkeypatch.setattr(update_threads.time, "process_time", lambda: clock["own"])

    def write(cpu0_busy: int, cpu1_busy: int, cpu2_busy: int, idle: int) -> None:
        # fields: user nice system idle iowait irq softirq steal
        line = lambda name, busy: f"{name} {busy} 0 0 {idle} {idle} 0 0 0"  # noqa: E731
        stat.write_text("\n".join([line("cpu", cpu0_busy + cpu1_busy + cpu2_busy), line("cpu0", cpu0_busy),
                                    line("cpu1", cpu1_busy), line("cpu2", cpu2_busy)]) + "\n")  # fmt: skip

    write(0, 0, 0, idle=0)
    load = update_threads.CoreLoad({0, 1})
    # 2 s later: cpu0 and cpu1 busy for 300 ticks (3 s) in all, 1.5 s of it this process's; cpu2 is not ours
    clock["wall"], clock["own"] = 102.0, 11.5
    write(200, 100, 500, idle=50)
    assert load.others_busy() == pytest.approx(0.75)
    clock["wall"], clock["own"] = 103.0, 12.5  # only this process ran: nothing of the others
    write(250, 150, 900, idle=150)
    assert load.others_busy() == 0.0
    stat.unlink()
    assert load.others_busy() is None  # unreadable: unknown, not zero


AMBIENT_LIMIT = 0.3
"""Cores other processes may keep busy before the real-process check is skipped: it needs a quiet machine."""


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores")
def test_core_load_sees_a_busy_process_and_not_this_one() -> None:
    """A spinning child process shows as about one core of other work; this process's own busy loop does not."""
    load = update_threads.CoreLoad(set(sorted(os.sched_getaffinity(0))[:2]))
    time.sleep(0.5)
    ambient = load.others_busy()
    if ambient is None or ambient > AMBIENT_LIMIT:
        pytest.skip(f"other processes keep {ambient} cores busy: the check needs a quiet machine")
    child = subprocess.Popen([sys.executable, "-c", f"import time\nend = time.monotonic() + {BUSY_S}\nwhile time.monotonic() < end: pass"])  # noqa: E501
    try:
        time.sleep(0.2)  # the child's interpreter has started
        load.others_busy()
        time.sleep(BUSY_S - 0.5)
        others_while_child_spins = load.others_busy()
    finally:
        child.wait()
    _spin(BUSY_S - 0.5)
    others_while_this_spins = load.others_busy()
    # the child keeps one core busy (0.7: room for its start-up and the scheduler); this process's own loop, a full
    # core, must not count
    assert others_while_child_spins is not None and others_while_child_spins > 0.7
    assert others_while_this_spins is not None and others_while_this_spins < AMBIENT_LIMIT + 0.2


def test_installed_cpu_runner_chooses_its_update_threads(restored_runner_init) -> None:
    """A CPU runner built after ``install(cap=2)`` chooses its update's count from the free cores, says which, and
    gives collection its own count back."""
    update_threads.install(cap=2)
    runner = _runner()
    torch.set_num_threads(1)
    said = io.StringIO()
    with contextlib.redirect_stderr(said), contextlib.redirect_stdout(io.StringIO()):
        runner.learn(1)
    assert re.search(r"\[trudi\] update threads: [12] \(cores left free by other processes; up to 2\)", said.getvalue())
    assert torch.get_num_threads() == 1
