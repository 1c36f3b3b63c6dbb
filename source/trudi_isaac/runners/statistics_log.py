"""TruDi's logged values where they belong: its losses under rsl-rl's ``Loss/`` section, everything else under its own.

rsl-rl's logger writes every entry of the dict ``alg.update()`` returns as ``Loss/<key>`` and prints it as
``Mean <key> loss``. For PPO those are losses; TruDi (and REPPO, the same algorithm with a Gaussian actor) also
returns α, β, the path KL, the entropy estimate, the reward scale and other diagnostics, which are not. For an
algorithm that names its losses (``LOSS_KEYS``), :func:`split_statistics` passes only those on to rsl-rl's logger
and writes the rest as ``TruDi/<key>`` scalars, printed as a block of their own after rsl-rl's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rsl_rl.runners import OnPolicyRunner

from trudi_isaac.utils.patching import patched_attribute

SECTION = "TruDi"
"""TensorBoard section and console heading of the statistics that are not losses."""
PAD = 40
"""Width of the right-aligned labels, as rsl-rl's console log pads them."""


def statistics_block(statistics: dict[str, float], width: int = 80) -> str:
    """The console block of the statistics, laid out as rsl-rl's iteration log."""
    lines = [f" {SECTION} statistics ".center(width, "-")]
    lines += [f"{f'{key}:':>{PAD}} {value:.4f}" for key, value in statistics.items()]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def split_statistics(runner: OnPolicyRunner) -> Iterator[None]:
    """For one ``learn`` call: the runner's logger gets only the algorithm's losses, the rest goes under ``TruDi/``
    (a no-op for an algorithm without ``LOSS_KEYS``, e.g. rsl-rl's PPO)."""
    loss_keys = getattr(runner.alg, "LOSS_KEYS", None)
    logger = runner.logger
    if loss_keys is None:
        yield
        return
    log = logger.log

    def log_split(*, loss_dict: dict, it: int, **kwargs) -> None:
        losses = {k: v for k, v in loss_dict.items() if k in loss_keys}
        statistics = {k: v for k, v in loss_dict.items() if k not in loss_keys}
        log(loss_dict=losses, it=it, **kwargs)
        if logger.writer is not None:  # the process that logs (rank 0)
            for key, value in statistics.items():
                logger.writer.add_scalar(f"{SECTION}/{key}", value, it)
            print(statistics_block(statistics))

    with patched_attribute(logger, "log", log_split):
        yield
