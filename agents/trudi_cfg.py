"""TruDi agent configuration: ``@configclass`` sections for algorithm, actor and critic, and the runner config.

Defaults follow TRUDI.md ("Defaults"); every field is range-checked on construction, and again by
:meth:`trudi_isaac.algorithms.trudi.TruDi.construct_algorithm` (Hydra overrides edit a config after construction).
"""

from __future__ import annotations

import dataclasses

from isaaclab.utils import configclass
from isaaclab_rl.rsl_rl import RslRlOnPolicyRunnerCfg
from trudi_isaac.utils.config_checks import (
    ALGORITHM_RULES,
    CRITIC_RULES,
    DIFFUSION_ACTOR_RULES,
    GAUSSIAN_ACTOR_RULES,
    Rule,
    check_section,
)


def _validate(cfg: object, rules: dict[str, Rule]) -> None:
    values = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}
    check_section(type(cfg).__name__, values, rules)


@configclass
class ModelCfg:
    """Fields Isaac Lab's rsl-rl config migration (``handle_deprecated_rsl_rl_cfg``) reads on every model config.

    TruDi's models have their own output distributions: ``construct_algorithm`` drops ``distribution_cfg``.
    """

    distribution_cfg: None = None
    stochastic: bool = False


@configclass
class DiffusionActorCfg(ModelCfg):
    """The N-step denoising chain (TRUDI.md, "The policy")."""

    class_name: str = "trudi_isaac.modules.diffusion_actor:DiffusionActor"
    num_steps: int = 8
    prior_std: float = 2.5
    hidden_dims: list[int] = [256, 256, 256, 256]
    activation: str = "gelu"
    num_time_features: int = 32
    time_embed_dim: int = 16
    time_freq_min: float = 0.1
    time_freq_max: float = 100.0
    output_init_scale: float = 1e-8
    control_clip: float = 100.0
    friction_init: float = 1.0
    dt_start: float = 0.125
    learn_dt: bool = True
    ode_control_scale: float = 1.0
    deterministic_start: str = "zero"
    obs_normalization: bool = True
    action_scale: float = 1.0
    action_clip: float = 0.999
    spread_num_samples: int = 8

    def __post_init__(self) -> None:
        _validate(self, DIFFUSION_ACTOR_RULES)


@configclass
class GaussianActorCfg(ModelCfg):
    """tanh-Gaussian actor: with it TruDi is REPPO."""

    class_name: str = "trudi_isaac.modules.gaussian_actor:GaussianActor"
    hidden_dims: list[int] = [256, 256, 256]
    activation: str = "elu"
    init_std: float = 1.0
    state_dependent_std: bool = False
    """σ(s) from the mean's network (REPPO's own recipe: a mean and a log-std head) instead of a learned
    state-independent vector (ours, as rsl-rl's PPO). The rollout then stores σ per transition."""
    min_std: float = 0.0
    """σ = exp(log σ̃) + min_std (REPPO: 0.1 with its state-dependent σ; ours: 0, a plain exp). < init_std."""
    obs_normalization: bool = True
    action_scale: float = 1.0
    action_clip: float = 0.999
    spread_num_samples: int = 8

    def __post_init__(self) -> None:
        _validate(self, GAUSSIAN_ACTOR_RULES)


@configclass
class QCriticCfg(ModelCfg):
    """Distributional Q critic over HL-Gauss atoms; [v_min, v_max] must fit the return scale (that of the
    normalized rewards, unless the algorithm's ``reward_normalization`` is off)."""

    class_name: str = "trudi_isaac.modules.q_critic:DistributionalQCritic"
    num_atoms: int = 151
    v_min: float = -20.0
    v_max: float = 20.0
    hidden_dim: int = 512
    num_layers: int = 2
    activation: str = "swish"
    sigma_ratio: float = 0.75
    obs_normalization: bool = True

    def __post_init__(self) -> None:
        _validate(self, CRITIC_RULES)


@configclass
class TruDiAlgorithmCfg:
    """The update (TRUDI.md, "The update" and "Defaults")."""

    class_name: str = "trudi_isaac.algorithms.trudi:TruDi"
    num_learning_epochs: int = 4
    num_mini_batches: int = 8
    max_mini_batch_size: int | None = 2048
    """More minibatches when a rollout / ``num_mini_batches`` would exceed this many transitions (the paper's
    1024 envs × 128 steps in 64 minibatches: 2048). Fixed-count minibatches grow with the env count, and
    at 4096 envs TruDi then learns far slower than PPO (benchmarks/NOTES.md, "GPU"). None: no cap."""
    learning_rate: float = 3e-4
    critic_learning_rate: float = 3e-4
    dual_learning_rate: float = 3e-3
    dual_optimizer: str = "adam"
    """How α and β are stepped: "adam" (ours: their own Adam at dual_learning_rate, no clip) or "actor" (the
    authors': the actor's optimizer class, learning rate and gradient clip, without weight decay)."""
    alpha_units: str = "normalized"
    """The units α multiplies log π̂ in (reward bonus and actor loss): "normalized" (ours: the normalized rewards')
    or "raw" (the task's own rewards', for which the authors' α_0 = 0.01 is set: α / reward scale is applied)."""
    aux_target: str = "minibatch"
    """The self-predictive target features(s', a'): recomputed per "minibatch" with the current critic (ours), or
    once per "rollout" before the update (the authors compute it at collection, with the same critic)."""
    max_grad_norm: float = 0.5
    optimizer: str = "adamw"
    gamma: float = 0.99
    lam: float = 0.95
    trust_region_eps: float = 0.1
    kl_form: str = "exact"
    """The path KL of the trust region: "exact" (ours: the per-step Gaussian KLs at the stored chain, variance terms
    included, so a change of dt or φ is charged); "current_eta" (the authors' quantity: old means rebuilt with the
    current η, squared mean difference over the current variance; η changes are never charged); "mean_only" (the
    stored old means, variance terms left out)."""
    init_alpha: float = 0.01
    init_beta: float = 0.01
    min_beta: float | None = None
    """Ours (issue 11, H9): a floor under the trust-region multiplier β (log β clamped after each dual step). While
    the policy stays inside the bound, L_β lowers β at every step (to ~2e-4 from 0.01 on Isaac-Cartpole), so the
    restoring term β·c(s) is nil when a burst of large steps comes. None: the authors' unbounded β."""
    entropy_target_k: float = 4.0
    aux_loss_coef: float = 1.0
    spread_num_states: int = 256
    update_size_states: int = 16
    """Ours (issue 11, H11; a diagnostic that leaves training alone): after each update, the path KL and the
    moment-matched action KL between the actor before and after it, on this many of the rollout's states
    (``update_size/*`` in the logs; ``trudi_isaac.algorithms.update_size``). 0: off."""
    update_size_samples: int = 32
    """Chains per state for ``update_size_states``."""
    reward_normalization: bool = True  # rewards / RMS of the discounted return: one critic support for all tasks
    gate_form: str = "auto"
    """How the actor loss applies the trust-region gate (same loss and gradient): "split" runs each branch on its
    own states (least work; syncs with the host), "masked" runs both on all states and selects with torch.where
    (static shapes, no sync: what a CUDA graph needs); "auto": masked on CUDA, split elsewhere."""
    cuda_graphs: bool = False
    """Capture the minibatch step and act()'s chain in CUDA graphs (CUDA, single process). Off until measured on
    a GPU (benchmarks/gpu_check.sh); asking for it without CUDA is a clear error."""
    torch_compile: bool = False
    """Compile the minibatch step's losses (forward and backward) and act()'s chain with ``torch.compile`` (static
    shapes: needs the masked gate, "auto" on CUDA or "masked"). Fuses the elementwise ops between the matmuls (about
    3x fewer kernels in the chain); the first update waits for the compilation (a minute or more). With
    ``cuda_graphs`` the compiled kernels are captured. Off until measured on a GPU (benchmarks/gpu_check.sh)."""
    policy_ema: float = 0.0
    """Ours (issue 11, H7): the decay of an exponential moving average of the actor's weights, taken once per update
    and bias-corrected as Adam's moments (the initial weights carry no weight), that play, export and evaluation use
    instead of the last weights; training still samples from the actor, so a run's training is the same with it on or
    off. 0: off (the policy is the actor)."""
    lr_schedule: str = "constant"
    """The step sizes over the run: "constant" (the authors' TruDi); "linear": from learning_rate and
    critic_learning_rate (and the duals' with dual_optimizer "actor") to 0 over the runner's max_iterations updates,
    REPPO's ``anneal_lr`` (cvoelcker/reppo, off there by default; a resumed run continues its schedule); "adaptive"
    (ours): rsl-rl PPO's adaptive schedule on the path KL as a brake on the actor's rate, per minibatch: ÷ 1.5 when
    the minibatch's mean path KL exceeds 2ε, × 1.5 (up to learning_rate) when it is under ε/2."""
    lr_schedule_networks: str = "actor_and_critic"
    """Which rates "linear" anneals: "actor_and_critic" (REPPO's ``anneal_lr``), or ours (issue 11, H10) "actor" (with
    the duals' where they share its step) or "critic"; the other keeps its configured rate. Only with "linear"."""

    def __post_init__(self) -> None:
        _validate(self, ALGORITHM_RULES)


@configclass
class TruDiRunnerCfg(RslRlOnPolicyRunnerCfg):
    """rsl-rl ``OnPolicyRunner`` config whose algorithm is TruDi (diffusion actor by default)."""

    num_steps_per_env: int = 24
    max_iterations: int = 500
    save_interval: int = 50
    experiment_name: str = "trudi"
    empirical_normalization: bool = False  # deprecated rsl-rl field; the actor and critic normalize themselves
    obs_groups: dict[str, list[str]] = {"actor": ["policy"], "critic": ["policy"]}
    actor: DiffusionActorCfg = DiffusionActorCfg()
    critic: QCriticCfg = QCriticCfg()
    algorithm: TruDiAlgorithmCfg = TruDiAlgorithmCfg()


@configclass
class ReppoRunnerCfg(TruDiRunnerCfg):
    """The same algorithm with the tanh-Gaussian actor: REPPO, with REPPO's own recipe (``cvoelcker/reppo``): a
    state-dependent σ with σ_min = 0.1 and the entropy target H* = −0.5 · action_dim, the default since it learned
    Isaac-Ant faster than our earlier REPPO config (issue 11, H8; benchmarks/NOTES.md, session 7). That config, a
    state-independent σ and k = 4, is ``actor=GaussianActorCfg()``, ``algorithm=TruDiAlgorithmCfg()``."""

    experiment_name: str = "reppo"
    actor: GaussianActorCfg = GaussianActorCfg(state_dependent_std=True, min_std=0.1)
    algorithm: TruDiAlgorithmCfg = TruDiAlgorithmCfg(entropy_target_k=0.5)
