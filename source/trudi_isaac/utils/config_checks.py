"""Range checks for TruDi configuration fields, shared by the ``@configclass`` configs and the algorithm.

Each rule names the allowed range in words, so an error reads
``TruDiAlgorithmCfg.trust_region_eps = -0.1 is out of range: must be > 0``.
The algorithm re-checks the dicts it receives, because Hydra overrides edit a config after construction.
"""

from __future__ import annotations

import difflib
import inspect
import math
from collections.abc import Callable, Collection, Mapping
from typing import Any


class ConfigError(ValueError):
    """A configuration value outside its allowed range."""


Rule = tuple[Callable[[Any], bool], str]


def _is_real(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


POSITIVE: Rule = (lambda v: _is_real(v) and v > 0, "> 0")
POSITIVE_OR_NONE: Rule = (lambda v: v is None or (_is_real(v) and v > 0), "None or > 0")
NON_NEGATIVE: Rule = (lambda v: _is_real(v) and v >= 0, ">= 0")
UNIT_INTERVAL: Rule = (lambda v: _is_real(v) and 0 <= v <= 1, "in [0, 1]")
OPEN_UNIT_INTERVAL: Rule = (lambda v: _is_real(v) and 0 < v < 1, "in (0, 1)")
AVERAGING_DECAY: Rule = (lambda v: _is_real(v) and 0 <= v < 1, "in [0, 1)")
DISCOUNT: Rule = (lambda v: _is_real(v) and 0 < v <= 1, "in (0, 1]")
POSITIVE_INT: Rule = (lambda v: _is_int(v) and v >= 1, "an integer >= 1")
NON_NEGATIVE_INT: Rule = (lambda v: _is_int(v) and v >= 0, "an integer >= 0")
POSITIVE_INT_OR_NONE: Rule = (lambda v: v is None or (_is_int(v) and v >= 1), "None or an integer >= 1")
AT_LEAST_TWO: Rule = (lambda v: _is_int(v) and v >= 2, "an integer >= 2")
FINITE: Rule = (_is_real, "a finite number")
BOOL: Rule = (lambda v: isinstance(v, bool), "True or False")
BOOL_OR_NONE: Rule = (lambda v: v is None or isinstance(v, bool), "True, False or None")
HIDDEN_DIMS: Rule = (
    lambda v: isinstance(v, (list, tuple)) and len(v) >= 1 and all(_is_int(d) and d >= 1 for d in v),
    "a non-empty list of integers >= 1",
)


def one_of(*choices: str) -> Rule:
    """Rule: the value is one of ``choices``."""
    return (lambda v: v in choices, f"one of {list(choices)}")


def check_fields(owner: str, values: Mapping[str, Any], rules: Mapping[str, Rule]) -> None:
    """Raise :class:`ConfigError` naming ``owner.field``, the value and the range for the first bad field."""
    for name, (is_valid, allowed) in rules.items():
        if name in values and not is_valid(values[name]):
            raise ConfigError(f"{owner}.{name} = {values[name]!r} is out of range: must be {allowed}")


def check_less(owner: str, low_name: str, low: float, high_name: str, high: float) -> None:
    """Raise :class:`ConfigError` unless ``low < high``."""
    if not low < high:
        raise ConfigError(f"{owner}.{low_name} = {low!r} must be < {owner}.{high_name} = {high!r}")


SUPPLIED_BY_RUNNER = ("device", "multi_gpu_cfg", "max_iterations")
"""Constructor arguments that the runner passes itself: never config fields, never suggested."""
NUM_SUGGESTIONS = 3


def check_known_keys(owner: str, values: Mapping[str, Any], target: Callable, ignored: Collection[str] = ()) -> None:
    """Raise :class:`ConfigError` for a key of ``values`` that ``target``'s constructor does not take.

    The message names the section, the unknown key and the closest valid fields (a misspelled Hydra
    override such as ``agent.algorithm.trust_region_epsilon=0.2``). A target that takes ``**kwargs`` takes
    every key. ``ignored`` keys are consumed before the constructor sees them.
    """
    params = inspect.signature(target).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    fields = [
        name
        for name, p in params.items()
        if p.default is not inspect.Parameter.empty and name not in SUPPLIED_BY_RUNNER
    ]
    for key in values:
        if key in SUPPLIED_BY_RUNNER and key in params:
            raise ConfigError(f"{owner}: '{key}' is supplied by the runner, not a field of this section"
                              + (" (set agent.max_iterations)" if key == "max_iterations" else ""))
        if key in params or key in ignored:
            continue
        close = difflib.get_close_matches(key, fields, n=NUM_SUGGESTIONS, cutoff=0.5)
        hint = f"closest valid fields: {', '.join(close)}" if close else f"valid fields: {', '.join(fields)}"
        raise ConfigError(f"{owner}: unknown key '{key}' for {getattr(target, '__qualname__', target)}; {hint}")


# --- the rules of each configuration section (used by agents/ configclasses and by TruDi.construct_algorithm) ---

ALGORITHM_RULES: dict[str, Rule] = {
    "num_learning_epochs": POSITIVE_INT,
    "num_mini_batches": POSITIVE_INT,
    "max_mini_batch_size": POSITIVE_INT_OR_NONE,
    "learning_rate": POSITIVE,
    "critic_learning_rate": POSITIVE,
    "dual_learning_rate": POSITIVE,
    "max_grad_norm": POSITIVE,
    "optimizer": one_of("adam", "adamw"),
    "gamma": DISCOUNT,
    "lam": UNIT_INTERVAL,
    "trust_region_eps": POSITIVE,
    "trust_region_units": one_of("path", "action"),
    "kl_form": one_of("exact", "mean_only", "current_eta"),
    "init_alpha": POSITIVE,
    "init_beta": POSITIVE,
    "min_beta": POSITIVE_OR_NONE,
    "entropy_target_k": FINITE,
    "aux_loss_coef": NON_NEGATIVE,
    "spread_num_states": POSITIVE_INT,
    "update_size_states": NON_NEGATIVE_INT,
    "update_size_samples": AT_LEAST_TWO,
    "gate_form": one_of("auto", "split", "masked"),
    "alpha_units": one_of("normalized", "raw"),
    "dual_optimizer": one_of("adam", "actor"),
    "aux_target": one_of("minibatch", "rollout"),
    "cuda_graphs": BOOL,
    "torch_compile": BOOL,
    "use_mixed_precision": BOOL_OR_NONE,
    "policy_ema": AVERAGING_DECAY,
    "lr_schedule": one_of("constant", "linear", "adaptive"),
    "lr_schedule_networks": one_of("actor_and_critic", "actor", "critic"),
}

_CHAIN_POLICY_RULES: dict[str, Rule] = {
    "hidden_dims": HIDDEN_DIMS,
    "action_scale": POSITIVE,
    "action_clip": OPEN_UNIT_INTERVAL,
    "spread_num_samples": AT_LEAST_TWO,
}

DIFFUSION_ACTOR_RULES: dict[str, Rule] = {
    **_CHAIN_POLICY_RULES,
    "num_steps": POSITIVE_INT,
    "prior_std": POSITIVE,
    "num_time_features": POSITIVE_INT,
    "time_embed_dim": POSITIVE_INT,
    "time_freq_min": POSITIVE,
    "time_freq_max": POSITIVE,
    "output_init_scale": NON_NEGATIVE,
    "control_clip": POSITIVE,
    "friction_init": POSITIVE,
    "dt_start": POSITIVE,
    "ode_control_scale": NON_NEGATIVE,
    "deterministic_start": one_of("zero", "prior"),
}

GAUSSIAN_ACTOR_RULES: dict[str, Rule] = {
    **_CHAIN_POLICY_RULES,
    "init_std": POSITIVE,
    "state_dependent_sigma": BOOL,
    "min_std": NON_NEGATIVE,
}

CRITIC_RULES: dict[str, Rule] = {
    "num_atoms": AT_LEAST_TWO,
    "v_min": FINITE,
    "v_max": FINITE,
    "hidden_dim": POSITIVE_INT,
    "num_layers": POSITIVE_INT,
    "sigma_ratio": POSITIVE,
}


def check_section(owner: str, values: Mapping[str, Any], rules: Mapping[str, Rule]) -> None:
    """All range checks of one configuration section, including the cross-field ones."""
    check_fields(owner, values, rules)
    if "v_min" in values and "v_max" in values:
        check_less(owner, "v_min", values["v_min"], "v_max", values["v_max"])
    if "time_freq_min" in values and "time_freq_max" in values:
        check_less(owner, "time_freq_min", values["time_freq_min"], "time_freq_max", values["time_freq_max"])
    if "min_std" in values and "init_std" in values:
        check_less(owner, "min_std", values["min_std"], "init_std", values["init_std"])
