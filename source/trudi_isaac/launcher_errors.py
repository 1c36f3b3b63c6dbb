"""Known errors raised inside Isaac Lab's simulation block end as one line and an exit code, not a traceback.

Isaac Lab's ``launch_simulation`` prints the traceback of any exception raised inside it; a ``SystemExit``
passes through silently and its code reaches the launchers. The trainer builds, loads and runs the
``OnPolicyRunner`` inside that block, so :func:`install` wraps those three entry points: an error that
:func:`trudi_isaac.cli_common.exit_code_for` knows (a config value out of range, a bad checkpoint, NaN/Inf)
is printed as ``<prog>: error: <message>`` and becomes ``SystemExit(code)``. Other errors are untouched.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

from rsl_rl.runners import OnPolicyRunner

from .cli_common import exit_code_for

ENTRY_POINTS = ("__init__", "load", "learn")
_MARK = "_trudi_reports_errors"


def exiting_on_known_errors(prog: str, fn: Callable) -> Callable:
    """``fn`` that prints a known error and raises ``SystemExit`` with its code instead."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as err:
            code = exit_code_for(err)
            if code is None:
                raise
            print(f"{prog}: error: {err}", file=sys.stderr, flush=True)
            raise SystemExit(code) from None

    setattr(wrapper, _MARK, True)
    return wrapper


def install(prog: str) -> None:
    """Wrap the runner's construction, ``load`` and ``learn`` as they are now (idempotent)."""
    for name in ENTRY_POINTS:
        method = getattr(OnPolicyRunner, name)
        if not getattr(method, _MARK, False):
            setattr(OnPolicyRunner, name, exiting_on_known_errors(prog, method))
