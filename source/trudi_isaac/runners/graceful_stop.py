"""Ctrl-C during training: the first one asks the run to stop at the next safe point (it then saves a
checkpoint and returns); a second one interrupts at once, as Ctrl-C normally does."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class StopRequested(Exception):
    """Raised at a safe point after the first Ctrl-C."""


class GracefulStop:
    """A SIGINT handler that records the first Ctrl-C and raises :class:`KeyboardInterrupt` on the second."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print(
            "\n[trudi] Ctrl-C: stopping at the next environment step and saving a checkpoint"
            " (press Ctrl-C again to quit without saving)",
            file=sys.stderr,
            flush=True,
        )

    def check(self) -> None:
        """Raise :class:`StopRequested` if a stop was asked for (call at safe points)."""
        if self.requested:
            raise StopRequested


@contextmanager
def graceful_stop() -> Iterator[GracefulStop]:
    """Install the handler for the block (main thread only; elsewhere Ctrl-C behaves as usual)."""
    stop = GracefulStop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = signal.signal(signal.SIGINT, stop)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)
