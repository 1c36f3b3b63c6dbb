"""Known errors raised inside Isaac Lab's simulation block end as one line and an exit code, not a traceback.

Isaac Lab's ``launch_simulation`` prints the traceback of any exception raised inside it; a ``SystemExit``
passes through silently and its code reaches the launchers. The trainer builds, loads and runs the
``OnPolicyRunner`` inside that block, so :func:`install` wraps those three entry points: an error that
:func:`trudi_isaac.cli.common.exit_code_for` knows (a config value out of range, a bad checkpoint, NaN/Inf)
is printed as ``<prog>: error: <message>`` and becomes ``SystemExit(code)``. Other errors are untouched.

Before the runner is built, the keys of the agent config's ``algorithm``, ``actor`` and ``critic`` sections
are checked against the constructors they feed (:func:`check_agent_keys`), so a misspelled override
(``agent.algorithm.trust_region_epsilon=0.2``) ends in one line naming the closest valid fields — for
PPO runs as for TruDi and REPPO ones.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

from rsl_rl.runners import OnPolicyRunner
from rsl_rl.utils import resolve_callable

from trudi_isaac.cli.common import exit_code_for
from trudi_isaac.utils.config_checks import check_known_keys

ENTRY_POINTS = ("__init__", "load", "learn")
_MARK = "_trudi_reports_errors"
CHECKED_SECTIONS = ("algorithm", "actor", "critic")
CONSUMED_KEYS = ("distribution_cfg", "stochastic", "share_cnn_encoders")
"""Keys that the algorithms' ``construct_algorithm`` consume (or drop) before calling the constructors."""


def check_agent_keys(train_cfg: dict) -> None:
    """:class:`~trudi_isaac.utils.config_checks.ConfigError` for a key no constructor of its section takes."""
    for section in CHECKED_SECTIONS:
        values = train_cfg.get(section)
        if isinstance(values, dict) and "class_name" in values:
            keys = {k: v for k, v in values.items() if k != "class_name"}
            check_known_keys(f"agent.{section}", keys, resolve_callable(values["class_name"]), CONSUMED_KEYS)


def checking_agent_keys(init: Callable) -> Callable:
    """``OnPolicyRunner.__init__`` that checks the agent config's keys first."""

    @functools.wraps(init)
    def wrapper(self, env, train_cfg: dict, *args, **kwargs):
        check_agent_keys(train_cfg)
        return init(self, env, train_cfg, *args, **kwargs)

    return wrapper


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
            checked = checking_agent_keys(method) if name == "__init__" else method
            setattr(OnPolicyRunner, name, exiting_on_known_errors(prog, checked))
