"""TruDi agent configuration: ``@configclass`` sections for algorithm, actor and critic, and the runner config.

Each field's docstring says what the field does, then in one sentence ``Default (<whose>): <value>, <why>``, whose
being the authors' (the paper and its code: TRUDI.md, "Defaults"), ours (this project's, with the experiment in
``benchmarks/NOTES.md`` that set it), REPPO's (``cvoelcker/reppo``'s recipe), rsl-rl's or Isaac Lab's;
``docs/generate_configuration.py`` writes ``docs/configuration.md`` from them. Every field is range-checked on
construction, and again by :meth:`trudi_isaac.algorithms.trudi.TruDi.construct_algorithm` (Hydra overrides edit a
config after construction).
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
    """rsl-rl's config of a model's output distribution, which Isaac Lab's config migration reads; TruDi's models
    sample by themselves, so ``construct_algorithm`` drops it. Default (rsl-rl's): None, rsl-rl's value for a model
    without an output distribution."""
    stochastic: bool = False
    """rsl-rl's legacy flag for a stochastic model output, which Isaac Lab's config migration reads (rsl-rl 4 requires
    it; with rsl-rl 5 True becomes a Gaussian ``distribution_cfg``); ``construct_algorithm`` drops it. Default
    (rsl-rl's): False, as on rsl-rl's deterministic models, so that the migration adds no distribution."""


@configclass
class DiffusionActorCfg(ModelCfg):
    """The N-step denoising chain (TRUDI.md, "The policy")."""

    class_name: str = "trudi_isaac.modules.diffusion_actor:DiffusionActor"
    """The actor's module, ``module:Class``. Default (ours): this package's diffusion actor, the implementation of the
    authors' denoising chain."""
    num_steps: int = 8
    """Denoising steps N of the chain; the policy's cost grows linearly with it. Default (authors'): N = 8, where the
    paper's ablation saturates (1 fails, 4 is worse; TRUDI.md, "Defaults")."""
    prior_std: float = 2.5
    """σ_p: the prior x_0 ~ N(0, σ_p² I) and the prior drift −x_n / σ_p² of every step. Default (authors'): 2.5, the
    paper's value (TRUDI.md, "Defaults")."""
    hidden_dims: list[int] = [256, 256, 256, 256]
    """Widths of the hidden layers of the control network f_θ(x_n, s, n); the first takes the observation, x_n and the
    time embedding. Default (ours): four layers of 256, one hidden layer more than TRUDI.md gives for the authors' code
    (``num_layers: 4``: 3 hidden layers × 256 and the output layer), never measured against it."""
    activation: str = "gelu"
    """Activation of the control network and of the time embedding. Default (authors'): GELU, as in the authors'
    code."""
    num_time_features: int = 32
    """Fourier features of the step time n / N (cosines at log-spaced frequencies, with a learned phase) that feed the
    time embedding. Default (authors'): 32, the authors' number of frequencies (they take sin and cos of each)."""
    time_embed_dim: int = 16
    """Width of the time embedding the Fourier features are mapped to. Default (authors'): 16, the authors' embedding
    width (their map is 64 → 32 → 16; here one layer)."""
    time_freq_min: float = 0.1
    """Lowest frequency of the time features. Default (authors'): 0.1, the low end of the authors' range (there
    spaced linearly and applied to the raw step index)."""
    time_freq_max: float = 100.0
    """Highest frequency of the time features. Default (authors'): 100, the high end of the authors' range."""
    output_init_scale: float = 1e-8
    """Factor on the control network's initial output weights (its output bias starts at 0). Default (authors'): 1e-8,
    as in the authors' code, so that the untrained chain samples the prior."""
    control_clip: float = 100.0
    """Bound on the learned control f_θ (clamped to ±control_clip). Default (authors'): 100, a large bound as the
    authors' clamp (TRUDI.md gives no number), so that it only stops runaway outputs."""
    friction_init: float = 1.0
    """Initial value of the learned per-action-dim friction φ (η_n = dt_n / φ, φ through a softplus). Default
    (authors'): 1.0, the authors' start."""
    dt_start: float = 0.125
    """First step size of the cosine schedule dt_n = dt_start · cos²(π n / 2N) (0.125 … 0.005 for N = 8), fixed or the
    start of the learned dt. Default (authors'): 0.125, the authors' base config."""
    learn_dt: bool = True
    """Learn dt per step (started from the cosine schedule) rather than keep the schedule fixed. Default (ours): True,
    by design (TRUDI.md: some of the authors' runs learn it, their base config keeps it fixed); not measured."""
    ode_control_scale: float = 1.0
    """Factor c on the learned control in the deterministic (ODE) chain that deployment runs. Default (authors'): 1.0,
    the best in the paper's ablation (TRUDI.md, "The policy: a denoising chain")."""
    deterministic_start: str = "zero"
    """Where the deterministic chain starts: "zero" (x_0 = 0: a deterministic, exportable policy) or "prior" (x_0 drawn
    from the prior, the authors' evaluation). Default (ours): "zero", which on Isaac-Ant scored 38.8 against the prior
    start's 35.4 (benchmarks/NOTES.md, "TruDi leads most of the run, PPO ends ahead (2026-11-24)")."""
    obs_normalization: bool = True
    """Normalize the actor's observation by running statistics, frozen during collection (rsl-rl's model field of the
    same name, whose default is False). Default (authors'): True, as the authors' actor sees the normalized
    observation (TRUDI.md, "The policy: a denoising chain")."""
    action_scale: float = 1.0
    """Factor from the chain's tanh output to the env's action. Default (authors'): 1.0, as the authors apply no action
    scaling inside the policy."""
    action_clip: float = 0.999
    """The tanh output is clipped to ±action_clip, keeping the critic's input and the env action off ±1. Default
    (authors'): 0.999, the authors' clip before the env."""
    spread_num_samples: int = 8
    """Chains per state for the action spread logged as rsl-rl's ``Policy/mean_std`` (a diagnostic). Default (ours):
    8, by design: enough for a spread per action dim at little cost."""

    def __post_init__(self) -> None:
        _validate(self, DIFFUSION_ACTOR_RULES)


@configclass
class GaussianActorCfg(ModelCfg):
    """tanh-Gaussian actor: with it TruDi is REPPO."""

    class_name: str = "trudi_isaac.modules.gaussian_actor:GaussianActor"
    """The actor's module, ``module:Class``. Default (ours): this package's tanh-Gaussian actor, with which the
    algorithm is REPPO."""
    hidden_dims: list[int] = [256, 256, 256]
    """Widths of the hidden layers of the mean's network. Default (rsl-rl's): three layers of 256, the default of
    rsl-rl's MLP model."""
    activation: str = "elu"
    """Activation of the mean's network. Default (rsl-rl's): ELU, the default of rsl-rl's MLP model."""
    init_std: float = 1.0
    """Initial σ of the Gaussian before the tanh (σ starts there either way). Default (rsl-rl's): 1.0, the initial σ
    of rsl-rl's Gaussian distribution."""
    state_dependent_sigma: bool = False
    """σ(s) from the mean's network (a mean and a log-std head, REPPO's own actor) instead of a learned
    state-independent vector; the rollout then stores σ per transition. (Not named ``state_dependent_std``: Isaac
    Lab's config migration for rsl-rl 5 deletes a model field of that name.) Default (rsl-rl's): False, a learned
    vector as rsl-rl's PPO; the REPPO agent keeps it, as every REPPO run measured so far had it
    (benchmarks/NOTES.md, "REPPO's state-dependent σ never ran (2026-12-07)")."""
    min_std: float = 0.0
    """Floor σ_min in σ = exp(log σ̃) + min_std; must stay below init_std. Default (ours): 0, a plain exp as rsl-rl's
    PPO; the REPPO agent sets REPPO's 0.1 (``ReppoRunnerCfg.actor``)."""
    obs_normalization: bool = True
    """Normalize the actor's observation by running statistics, frozen during collection (rsl-rl's model field of the
    same name, whose default is False). Default (authors'): True, the same input as TruDi's actor (REPPO normalizes
    observations as well)."""
    action_scale: float = 1.0
    """Factor from the tanh output to the env's action. Default (authors'): 1.0, as the authors apply no action
    scaling inside the policy."""
    action_clip: float = 0.999
    """The tanh output is clipped to ±action_clip, keeping the critic's input and the env action off ±1. Default
    (authors'): 0.999, the authors' clip before the env."""
    spread_num_samples: int = 8
    """Samples per state for the action spread logged as rsl-rl's ``Policy/mean_std`` (a diagnostic). Default (ours):
    8, by design: enough for a spread per action dim at little cost."""

    def __post_init__(self) -> None:
        _validate(self, GAUSSIAN_ACTOR_RULES)


@configclass
class QCriticCfg(ModelCfg):
    """Distributional Q critic over HL-Gauss atoms; [v_min, v_max] must fit the return scale (that of the
    normalized rewards, unless the algorithm's ``reward_normalization`` is off)."""

    class_name: str = "trudi_isaac.modules.q_critic:DistributionalQCritic"
    """The critic's module, ``module:Class``. Default (ours): this package's implementation of the authors'
    distributional Q critic."""
    num_atoms: int = 151
    """Atoms of the categorical return distribution, evenly spaced on [v_min, v_max]. Default (authors'): 151
    (TRUDI.md, "Defaults")."""
    v_min: float = -20.0
    """Lower end of the critic's support; targets below it are clipped. Default (ours): −20, which fits every task's
    normalized returns (``reward_normalization``); a support of ±5 did worse on Isaac-Cartpole (benchmarks/NOTES.md,
    "The learning study, one switch at a time (2026-12-02)")."""
    v_max: float = 20.0
    """Upper end of the critic's support; targets above it are clipped. Default (ours): 20, which fits every task's
    normalized returns; a support of ±5 did worse on Isaac-Cartpole (benchmarks/NOTES.md, "The learning study, one
    switch at a time (2026-12-02)")."""
    hidden_dim: int = 512
    """Width of the critic's encoder, head and predictor. Default (authors'): 512, the authors' critic."""
    num_layers: int = 2
    """Layers (RMSNorm blocks) of each of the critic's encoder, head and predictor. Default (authors'): 2, the authors'
    critic."""
    activation: str = "swish"
    """Activation of the critic. Default (authors'): swish, the authors' critic."""
    sigma_ratio: float = 0.75
    """Width of the HL-Gauss smearing of a scalar target, in bin widths. Default (authors'): 0.75, the authors'
    (HL-Gauss, Farebrother et al. 2024)."""
    obs_normalization: bool = True
    """Normalize the critic's observation by running statistics (rsl-rl's model field of the same name, whose default
    is False). Default (authors'): True, the normalized observation the authors' networks see
    (REPPO normalizes observations as well)."""

    def __post_init__(self) -> None:
        _validate(self, CRITIC_RULES)


@configclass
class TruDiAlgorithmCfg:
    """The update (TRUDI.md, "The update" and "Defaults")."""

    class_name: str = "trudi_isaac.algorithms.trudi:TruDi"
    """The algorithm's module, ``module:Class``. Default (ours): this package's TruDi update (REPPO with the Gaussian
    actor)."""
    num_learning_epochs: int = 4
    """Passes over the rollout per update, reshuffled every epoch. Default (authors'): 4 (TRUDI.md, "Defaults")."""
    num_mini_batches: int = 8
    """Minibatches per epoch (raised where ``max_mini_batch_size`` caps their size). Default (ours): 8, a CPU-scale
    count for the small rollouts there (TRUDI.md's 4 × 64 to 4 × 128 are GPU-scale); not measured against others."""
    max_mini_batch_size: int | None = 2048
    """More minibatches when a rollout / ``num_mini_batches`` would exceed this many transitions; None: no cap.
    Default (ours): 2048, the paper's 1024 envs × 128 steps in 64 minibatches, since with a fixed count TruDi learned
    far slower than PPO at 4096 envs (benchmarks/NOTES.md, "TorchCartpole at 4096 envs on the H100, and the minibatch
    cap (2026-11-24)")."""
    learning_rate: float = 3e-4
    """The actor's AdamW learning rate. Default (authors'): 3e-4 (TRUDI.md, "Defaults"); classic control's agents use
    1e-3 (``agents/families.py``)."""
    critic_learning_rate: float = 3e-4
    """The critic's AdamW learning rate. Default (authors'): 3e-4 (TRUDI.md, "Defaults"); classic control's agents use
    1e-3 (``agents/families.py``)."""
    dual_learning_rate: float = 3e-3
    """Adam learning rate of log α and log β with ``dual_optimizer`` "adam". Default (ours): 3e-3, as at the actor's
    3e-4 the duals barely moved in a quick implementation and 1e-2 made α oscillate (TRUDI.md, "Pitfalls others
    hit")."""
    dual_optimizer: str = "adam"
    """How α and β are stepped: "adam" (their own Adam at dual_learning_rate, no clip) or "actor" (the authors': the
    actor's optimizer class, learning rate and gradient clip, without weight decay). Default (ours): "adam"; the
    authors' step kept α ~10× larger with no faster early learning (benchmarks/NOTES.md, "The learning study, one
    switch at a time (2026-12-02)")."""
    alpha_units: str = "normalized"
    """The units α multiplies log π̂ in (reward bonus and actor loss): "normalized" (the normalized rewards') or "raw"
    (the task's own, for which the authors' α_0 = 0.01 is set: α / reward scale is applied). Default (ours):
    "normalized", by design with reward_normalization; "raw" changed the end a little, not the early speed
    (benchmarks/NOTES.md, "The learning study, one switch at a time (2026-12-02)")."""
    aux_target: str = "minibatch"
    """The self-predictive target features(s', a'): recomputed per "minibatch" with the current critic, or once per
    "rollout" before the update (the authors compute it at collection, with the same critic). Default (ours):
    "minibatch"; "rollout" changed nothing (benchmarks/NOTES.md, "The learning study, one switch at a time
    (2026-12-02)")."""
    max_grad_norm: float = 0.5
    """Gradient-norm clip of the actor's and the critic's steps. Default (authors'): 0.5 (TRUDI.md, "Defaults")."""
    optimizer: str = "adamw"
    """Optimizer class of actor and critic, "adamw" or "adam". Default (authors'): AdamW (TRUDI.md, "Defaults")."""
    gamma: float = 0.99
    """Discount γ of the soft λ-return and of the return scale that normalizes rewards; registration sets it from
    the task's family (``agents/families.py``). Default (authors'): 0.99 (TRUDI.md, "Defaults")."""
    lam: float = 0.95
    """λ of the soft λ-return. Default (authors'): 0.95 (TRUDI.md, "Defaults")."""
    trust_region_eps: float = 0.1
    """Bound ε on the path KL c(s) per state: a state over it gives only the restoring gradient β·c(s). Default
    (authors'): 0.1, the paper's best (good range 0.1–0.4); ε = 0.3 ended higher at Ant's 4096 envs on 2 seeds, not a
    default (benchmarks/NOTES.md, "ε = 0.3 for the whole run, 2 seeds (2026-12-04)")."""
    trust_region_units: str = "path"
    """What ε bounds: "path", the path KL c(s) (the authors'); "action" (ours): the action distribution's KL, carried
    over to the path KL by each update's measured path/action KL ratio (the update-size diagnostic; needs
    update_size_states >= 1): the next update's bound on c(s) is ε times that ratio, clamped to [1, 10], so TruDi moves
    its actions per update about as far as REPPO's Gaussian step at the same ε. Default (authors'): "path"; "action" is
    a candidate for few, large updates (benchmarks/NOTES.md, "Path KL against action KL"), unmeasured."""
    kl_form: str = "exact"
    """The path KL of the trust region: "exact" (the per-step Gaussian KLs at the stored chain, variance terms included,
    so a change of dt or φ is charged), "current_eta" (the authors' quantity: old means rebuilt with the current η,
    squared mean difference over the current variance; η changes never charged) or "mean_only" (stored old means, no
    variance terms). Default (ours): "exact", by design; the authors' form ended the same on Isaac-Cartpole
    (benchmarks/NOTES.md, "The learning study, one switch at a time (2026-12-02)")."""
    init_alpha: float = 0.01
    """Initial entropy multiplier α_0. Default (authors'): 0.01 (TRUDI.md, "Defaults")."""
    init_beta: float = 0.01
    """Initial trust-region multiplier β_0. Default (authors'): 0.01 (TRUDI.md, "Defaults")."""
    min_beta: float | None = None
    """A floor under β (log β clamped after each dual step): while the policy stays inside the bound, L_β lowers β at
    every step (to ~2e-4 from 0.01 on Isaac-Cartpole), so β·c(s) is nil when a burst of large steps comes. Default
    (authors'): None, the authors' unbounded β; classic control's TruDi agent sets 0.01 (benchmarks/NOTES.md, "The
    floor under β (min_beta), 6 seeds (2026-12-04)")."""
    entropy_target_k: float = 4.0
    """k of the entropy target H* = −k · action_dim that the α dual holds the entropy estimate at. Default (authors'):
    4 (TRUDI.md, "Defaults"); the REPPO agent uses REPPO's 0.5, classic control's TruDi agent 2
    (``agents/families.py``)."""
    aux_loss_coef: float = 1.0
    """Weight of the critic's self-predictive auxiliary loss. Default (authors'): 1.0 (TRUDI.md, "The update (per
    minibatch, critic first, then actor)")."""
    spread_num_states: int = 256
    """Rollout states on which the actor's action spread (rsl-rl's ``Policy/mean_std``) is logged after each update.
    Default (ours): 256, by design: a diagnostic at little cost."""
    update_size_states: int = 16
    """A diagnostic that leaves training alone: after each update, the path KL and the moment-matched action KL between
    the actor before and after it on this many rollout states (``update_size/*`` in the logs;
    ``trudi_isaac.algorithms.update_size``); 0: off. Default (ours):
    16, by design: enough to read the path KL's excess over the action KL (benchmarks/NOTES.md, "Path KL against action
    KL") at little cost."""
    update_size_samples: int = 32
    """Chains per state for ``update_size_states``. Default (ours): 32, by design: enough to moment-match the action
    distribution per state."""
    reward_normalization: bool = True
    """Divide rewards by the RMS of the running discounted return. Default (ours): True, by design: one critic support
    ([v_min, v_max] = ±20) then fits every task."""
    gate_form: str = "auto"
    """How the actor loss applies the trust-region gate (same loss and gradient): "split" runs each branch on its own
    states (least work; syncs with the host), "masked" runs both on all states and selects with torch.where (static
    shapes, no sync: what a CUDA graph needs). Default (ours): "auto", masked on CUDA and split elsewhere, by design."""
    cuda_graphs: bool = False
    """Capture the minibatch step and act()'s chain in CUDA graphs (CUDA, single process); asking for it without CUDA
    is a clear error. Default (ours): False, off until measured on a GPU with benchmarks/device/gpu_check.sh
    (benchmarks/NOTES.md, "No device lent (2026-12-02)")."""
    torch_compile: bool = False
    """Compile the minibatch step's losses (forward and backward) and act()'s chain with ``torch.compile`` (static
    shapes: needs the masked gate, "auto" on CUDA or "masked"): it fuses the elementwise ops between the matmuls (about
    3x fewer kernels), the first update waits a minute or more for it, and ``cuda_graphs`` captures the compiled
    kernels. Default (ours): False, off until measured on a GPU (benchmarks/NOTES.md, "TruDi's step in fewer kernels
    (2026-12-06; no GPU was lent)")."""
    use_mixed_precision: bool | None = False
    """bfloat16 autocast over the forward passes and losses of collection and update, as rsl-rl PPO's field: the
    networks' matmuls in bfloat16; the chain's state and recursion, log-densities, log π̂, the path KL, the critic's
    logits and HL-Gauss cross-entropy, returns, duals, normalizers and optimizer steps in float32; composes with
    torch_compile and cuda_graphs. None: on where the hardware multiplies bfloat16 natively (CUDA compute capability
    >= 8.0; a CPU with AMX or AVX-512 BF16), float32 elsewhere; one log line says which and why. Default (rsl-rl's):
    False, until learning parity with float32 is measured on locomotion (benchmarks/NOTES.md, "Mixed precision
    (2026-12-07)")."""
    policy_ema: float = 0.0
    """Decay of a moving average of the actor's weights, taken once per update and bias-corrected as Adam's moments
    (the initial weights carry no weight), that play, export and evaluation use instead of the last weights; training
    still samples from the actor, so it is the same with it on or off; 0: off. Default (ours): 0, as on Isaac-Ant it
    smoothed the late drops without fixing them (benchmarks/NOTES.md, "The weight average on Ant (2026-12-02)");
    classic control's TruDi agent sets 0.9."""
    lr_schedule: str = "constant"
    """The step sizes over the run: "constant"; "linear": actor's and critic's rates (and the duals' with
    dual_optimizer "actor") to 0 over the runner's max_iterations updates, REPPO's ``anneal_lr`` (off there by
    default; a resumed run anneals from its checkpoint's point on the schedule to 0 over the max_iterations it is
    resumed for: resumed for what it had left, as without the break); "adaptive" (ours): rsl-rl PPO's adaptive rule on each minibatch's
    path KL as a brake on the actor's rate (÷ 1.5 over 2ε, × 1.5 up to learning_rate under ε/2). Default (authors'):
    "constant", the authors' TruDi; locomotion's TruDi agent sets "linear" (``agents/families.py``)."""
    lr_schedule_networks: str = "actor_and_critic"
    """Which rates "linear" anneals: "actor_and_critic", or (ours, the one-network anneal) "actor" (with the duals'
    where they share its step) or "critic", the other keeping its configured rate; only with "linear". Default
    (REPPO's): "actor_and_critic", REPPO's ``anneal_lr``; the one-network anneal is unmeasured (benchmarks/NOTES.md,
    "The annealed rate at 4096 envs, 3 seeds (2026-12-03)")."""

    def __post_init__(self) -> None:
        _validate(self, ALGORITHM_RULES)


@configclass
class TruDiRunnerCfg(RslRlOnPolicyRunnerCfg):
    """rsl-rl ``OnPolicyRunner`` config whose algorithm is TruDi (diffusion actor by default)."""

    num_steps_per_env: int = 24
    """Env steps per env in one rollout (one update per rollout); registration copies the task's PPO config's value.
    Default (Isaac Lab's): 24, the most common value in Isaac Lab's rsl-rl PPO configs."""
    max_iterations: int = 500
    """Updates in a run (``lr_schedule`` "linear" anneals over them); registration copies the task's PPO config's value.
    Default (ours): 500, a placeholder for a config built outside the task registry."""
    save_interval: int = 50
    """Iterations between checkpoints; registration copies the task's PPO config's value. Default (Isaac Lab's): 50,
    the most common value in Isaac Lab's rsl-rl PPO configs."""
    experiment_name: str = "trudi"
    """Log folder name; registration uses the task's PPO experiment name + "_trudi". Default (ours): "trudi", by
    design: the algorithm's name."""
    empirical_normalization: bool = False
    """rsl-rl's deprecated runner-level observation normalization, which Isaac Lab's config migration would move onto
    the models. Default (ours): False, by design: the actor and critic normalize themselves (``obs_normalization``)."""
    obs_groups: dict[str, list[str]] = {"actor": ["policy"], "critic": ["policy"]}
    """Observation groups of the actor's and the critic's input; registration copies the task's PPO config's mapping.
    Default (Isaac Lab's): both the "policy" group, the mapping of Isaac Lab's single-group PPO configs."""
    actor: DiffusionActorCfg = DiffusionActorCfg()
    """The actor section (``agent.actor.*``). Default (authors'): the diffusion chain, the paper's policy (each field's
    own default says whose it is)."""
    critic: QCriticCfg = QCriticCfg()
    """The critic section (``agent.critic.*``). Default (authors'): the distributional Q critic of the paper's
    update."""
    algorithm: TruDiAlgorithmCfg = TruDiAlgorithmCfg()
    """The update section (``agent.algorithm.*``). Default (authors'): TruDi's update as the paper defines it (each
    field's own default says whose it is)."""


@configclass
class ReppoRunnerCfg(TruDiRunnerCfg):
    """The same algorithm with the tanh-Gaussian actor: REPPO, with two parts of REPPO's own recipe
    (``cvoelcker/reppo``), σ_min = 0.1 and the entropy target H* = −0.5 · action_dim, the default since it learned
    Isaac-Ant faster than our earlier REPPO config (benchmarks/NOTES.md, "REPPO's recipe on Ant, and the new REPPO
    default (2026-12-02)"). The recipe's third part, a state-dependent σ, is ``actor.state_dependent_sigma=True``:
    unmeasured, since every REPPO run so far had a learned σ vector (benchmarks/NOTES.md, "REPPO's state-dependent σ
    never ran (2026-12-07)"). The earlier config, σ_min = 0 and k = 4, is ``actor=GaussianActorCfg()``,
    ``algorithm=TruDiAlgorithmCfg()``."""

    experiment_name: str = "reppo"
    """Log folder name; registration uses the task's PPO experiment name + "_reppo". Default (ours): "reppo", by
    design: the algorithm's name."""
    actor: GaussianActorCfg = GaussianActorCfg(min_std=0.1)
    """The tanh-Gaussian actor. Default (REPPO's): σ_min = 0.1, REPPO's floor under a learned σ vector, as every REPPO
    run measured (benchmarks/NOTES.md, "REPPO's state-dependent σ never ran (2026-12-07)"); with k = 0.5 it learned
    Isaac-Ant faster than σ_min = 0 with k = 4 (benchmarks/NOTES.md, "REPPO's recipe on Ant, and the new REPPO default
    (2026-12-02)")."""
    algorithm: TruDiAlgorithmCfg = TruDiAlgorithmCfg(entropy_target_k=0.5)
    """TruDi's update with REPPO's entropy target H* = −0.5 · action_dim. Default (REPPO's): k = 0.5, REPPO's own
    recipe, set with its σ (benchmarks/NOTES.md, "REPPO's recipe on Ant, and the new REPPO default (2026-12-02)")."""
