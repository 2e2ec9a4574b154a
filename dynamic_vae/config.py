"""Model and training configuration, and the named presets.

A preset is a complete `RunConfig`; command-line flags override single fields of it. The
`paper-v1` preset is the configuration of Sagel & Shen (2018, v1) as far as the paper states
it; the `counting-mnist` preset is the one that learns to count (see docs/design-notes.md,
"Counting: what each part of the preset does").
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from typing import Any

import numpy as np

ENCODER_MODES = ("frame", "pair")
POSTERIORS = ("factorized", "smoothed")
MIXED_PRECISION = ("off", "bfloat16", "auto")
OUTPUT_ACTIVATIONS = ("linear", "sigmoid", "tanh")
ARCHITECTURES = ("v1", "residual")
OBSERVATION_NOISES = ("fixed", "learned", "optimal")
PREDICTION_SIGMAS = ("shared", "per_step")
TRANSITION_FORMS = ("free", "stationary")
TRAINABLES = ("all", "dynamics", "observation")
READBACK_LOSSES = ("squared", "cross_entropy")
PIXEL_LIKELIHOODS = ("gaussian", "laplace")


@dataclasses.dataclass
class ModelConfig:
    """Architecture and loss of a Dynamic VAE.

    Args:
        frame_shape: `(height, width, channels)` of one frame.
        latent_dim: `n`, the dimension of the latent state `x_t`.
        filter_size: side of every convolution kernel.
        base_channels: channels of the decoder's first feature map (at 1/8 of the frame size);
            `None` means `64 * channels`, so every hidden layer has about as many units as
            pixels (paper v1).
        dense_units: `v1` only: units of a hidden dense layer (ReLU) on a path beside the
            decoder's first dense layer, from the state to the first feature map (0: none,
            the paper). The paper's decoder maps the state to its coarsest feature map
            through one dense layer, so the state's directions only add up there; the
            hidden path lets them interact (which digit the phase shows, in which hand the
            innovations write it). Its output starts at zero, so a later stage (or a warm
            start) can raise it from 0 and grow the path onto a trained decoder.
        sigma: standard deviation of the Gaussian pixel noise, in pixel-range units (with
            `pixel_likelihood` `laplace`, the Laplace scale b).
        pixel_likelihood: the pixel noise's distribution: `gaussian` (the paper; with
            `fixed` noise the term is `||y - C(x)||^2 / (2 sigma^2)`) or `laplace`
            (`||y - C(x)||_1 / sigma`; needs `observation_noise` `fixed`). A Gaussian
            decoder's best frame is the pixels' conditional mean, which on near-binary
            strokes is a grey blur where hands differ; a Laplace decoder's is their
            conditional median, which stays ink or paper. The Laplace scale b is not a
            standard deviation: the noise's is sqrt(2) b.
        stationarity_weight: `lambda` of eq. (34).
        kl_weight: weight of the KL term (1.0 is the ELBO).
        pixel_range: `(low, high)` the model sees pixels in.
        output_activation: `linear`, `sigmoid` or `tanh` on the decoder output.
        num_samples: Monte-Carlo samples of the latent per frame pair.
        encoder_mode: `pair` (paper: the encoder sees both frames stacked on the channel axis
            and outputs a 2n-dim posterior over z' = [z1; z2]) or `frame` (one encoder applied to
            each frame; the pair's posterior lives in x-space and its KL is taken against the
            joint prior of eq. 32).
        prediction_weight: weight of the auxiliary term that decodes the noise-free prediction
            `A^k mu_t` against frame t + k, k = 1 .. window - 1 (0 disables it).
        prediction_noise: roll that prediction out with the model's own innovations
            `B v_k`, as synthesis does, so noise that changes what the decoder shows is
            penalised.
        prediction_shrink: the prediction rollout starts from `c * mu_t` with
            `c ~ U(1 - prediction_shrink, 1)` per window (0 disables it). Scaling the whole
            state commutes with A, so at a cycle modulus near 1 the scaled rollout keeps its
            phase while it teaches the decoder the states nearer the origin that the
            stationary prior visits but encoded frames never do (docs/design-notes.md).
            Meant for processes whose state is a phase (counting, turning objects), not for
            textures, where the state's size is the motion's amplitude.
        posterior: `factorized` (the paper: the encoder's Gaussian is the posterior of the pair)
            or `smoothed` (frame encoder only): the encoder's Gaussian is a noisy measurement
            of each state and the posterior over a training window is the exact posterior of
            the model's linear-Gaussian prior given those measurements (Kalman smoother), so
            frame-to-frame jitter of the codes is not paid for with innovation noise. See
            `dynamic_vae.models.window_posterior`.
        architecture: `v1` (the paper's networks, `dynamic_vae.models.networks`) or
            `residual` (GroupNorm + SiLU residual blocks whose channels stay wide at high
            resolution, `dynamic_vae.models.residual_networks`).
        width: channels of the residual networks at full resolution (doubled at each of the
            three coarser levels); `residual` only.
        depth: residual blocks per resolution level; `residual` only.
        linear_path: `residual` with `frame` encoder only: a linear map of the frame beside
            the encoder and a linear observation map `C x + b` beside the decoder, and
            training starts at the linear dynamic texture fitted to the training frames
            (its C, mean frame, A and B), so the model begins where the linear baseline ends.
        decoder_noise: `linear_path` only: the standard deviation of Gaussian noise added in
            training to the state the decoder's network reads (the linear map beside it reads
            the state as is). It keeps the network from tying each training state to its own
            frame, which with a few hundred frames it otherwise does within one epoch,
            decoding unseen states worse than the linear map alone. 0 disables it.
        observation_noise: how sigma is set. `fixed`: `sigma` as given (the paper).
            `learned`: a trainable log sigma per channel, starting at `sigma`. `optimal`:
            per batch and channel, the sigma that maximises the likelihood (the RMS error;
            the sigma-VAE's calibrated decoder), so no sigma needs tuning per data set.
        prediction_sigma: `optimal` observation noise only: the prediction term's sigma is
            `shared` by its k = 1 .. window - 1 steps (one optimum over all of them) or set
            `per_step` (one optimum per k). Under the model a k-step forecast's error grows
            with k (its state covariance is I - A^k A^kT), so one shared sigma lets the
            longest steps' larger errors outweigh the first step's; per step, each k's
            errors count relative to their own scale.
        transition_form: `free` (the paper: A and B are free matrices and
            `stationarity_weight` pulls them towards A A^T + B B^T = I) or `stationary`
            (A = U diag(s) V^T and B = U diag(sqrt(1 - s^2)) with orthogonal U, V and |s| < 1,
            so the constraint holds exactly for every parameter value and
            `stationarity_weight` has no effect; see
            `dynamic_vae.layers.stationary_dynamic_layer`).
        residual_rank: directions of the residual texture (0: none). After training, what the
            decoder leaves out of the training frames is fitted in closed form as a
            stationary linear process of this many principal directions, and synthesis adds
            a draw of it to the decoded frames, so sequences keep the clip's fine detail
            instead of showing the decoder's smooth mean (see
            `dynamic_vae.models.residual_texture`). The ELBO does not change; forecasts
            add the texture's mean forecast of the residual and keep its cross-validated
            share of the state's predicted change.
        period: the process's period in frames (0: not periodic). After training, every
            complex eigenvalue pair of A near a harmonic exp(+-2 pi i k / period) is set to it
            exactly, with modulus 1, and B follows (`dynamic_vae.spectrum.lock_harmonics`):
            the phase then advances by exactly one period-th per frame, with no drift and
            no phase noise, however long the sequence.
        start_states: how many encoded training states are stored with the model as starts
            for synthesis without a given frame pair (0: such synthesis draws x_0 ~ N(0, I)).
            The seed picks one (`dynamic_vae.models.start_states`), so the served `generate`
            starts on the data too.
        driven_prior_weight: weight of the term that trains the posterior's
            innovation-driven directions (those B B^T drives; with a locked period, all but
            the locked planes) to look as synthesis draws them (0 disables it;
            `dynamic_vae.models.driven_prior`): independent of the persistent directions
            (the phase), and with the stationary prior's mean 0 and covariance. Synthesis
            draws those directions from the innovations whatever the phase, so a decoder
            trained on states whose driven directions also say which digit a frame shows
            draws random digits from them; with this term it reads the digit from the
            phase and each frame's handwriting from the innovations. Meant for the variety
            stage of a periodic run (docs/model.md).
        readback_weight: weight of the read-back term (0 disables it): frames decoded from
            a posterior state's persistent part (the phase) with new innovation-driven
            parts drawn as synthesis draws them must be read by the encoder, with its
            weights held, as it reads the real frame on the persistent directions
            (`dynamic_vae.models.driven_prior.readback_error`). Where the driven-prior term
            shapes what the encoder writes into the innovations, this one trains the decoder
            on the states synthesis visits: a new hand must not turn a 6 into a 5. Meant for
            the variety stage of a periodic run.
        readback_loss: how the read-back term charges a reading: `squared`, the relative
            squared error on the persistent directions (`readback_error`), charges every
            deviation; `cross_entropy`, the cross-entropy of reading the frame's own phase
            against the period's other phases (`readback_confusion`; needs a `period` of 3
            or more), charges a reading as it nears another phase, which leaves a new hand
            free to be read a little off.
        driven_mmd_weight: weight of the maximum mean discrepancy between the posterior's
            states and the same phases with the innovation-driven directions redrawn from
            N(0, Q_s), as synthesis draws them (`dynamic_vae.models.driven_prior.driven_mmd`;
            0 disables it). Where the driven-prior term matches the mean of the hand given
            the phase and its covariance over all phases, this matches the hand's whole
            distribution at every phase, so synthesis never draws at one digit's phase a
            hand the encoder gave only to another. Meant for the variety stage of a
            periodic run.
        frame_mmd_weight: weight of the maximum mean discrepancy between frames decoded
            from each state mean's phase with a hand drawn as synthesis draws it and the
            real frames of those states (`dynamic_vae.models.driven_prior.frame_mmd`; 0
            disables it). The terms above shape the states the decoder reads; this one
            trains the decoder (and the encoder only through the phase it feeds in) on the
            frames synthesis shows, so the hands it draws are spread as the real ones. Meant
            for the variety stage of a periodic run.
        mixed_precision: `off`, `bfloat16` or `auto`: with `bfloat16` the hidden
            convolutions and dense layers compute in bfloat16 (variables stay float32); the
            posterior heads, the decoder's output layer, A, B and every loss term stay
            float32. bfloat16 keeps float32's exponent range, so no loss scaling is needed;
            it is fast on GPUs from Ampere on, TPUs, and CPUs with AVX512-BF16 or AMX.
            `auto` becomes `bfloat16` on such a GPU or CPU and `off` elsewhere, when the
            config is made (`dynamic_vae.precision`), so a run's config.json records which.
    """

    frame_shape: tuple[int, int, int] = (32, 32, 1)
    latent_dim: int = 10
    filter_size: int = 5
    base_channels: int | None = None
    dense_units: int = 0
    sigma: float = 1.0
    stationarity_weight: float = 100.0
    kl_weight: float = 1.0
    pixel_range: tuple[float, float] = (0.0, 1.0)
    output_activation: str = "linear"
    num_samples: int = 1
    encoder_mode: str = "frame"
    prediction_weight: float = 0.0
    prediction_noise: bool = False
    prediction_shrink: float = 0.0
    posterior: str = "factorized"
    architecture: str = "v1"
    width: int = 32
    depth: int = 1
    linear_path: bool = False
    decoder_noise: float = 0.0
    observation_noise: str = "fixed"
    pixel_likelihood: str = "gaussian"
    prediction_sigma: str = "shared"
    transition_form: str = "free"
    residual_rank: int = 0
    period: int = 0
    start_states: int = 0
    driven_prior_weight: float = 0.0
    readback_weight: float = 0.0
    driven_mmd_weight: float = 0.0
    readback_loss: str = "squared"
    frame_mmd_weight: float = 0.0
    mixed_precision: str = "off"

    def __post_init__(self) -> None:
        self.frame_shape = tuple(int(v) for v in self.frame_shape)
        self.pixel_range = tuple(float(v) for v in self.pixel_range)
        if self.mixed_precision == "auto":
            from dynamic_vae.precision import resolve_mixed_precision

            self.mixed_precision = resolve_mixed_precision(self.mixed_precision)
        if len(self.frame_shape) != 3 or min(self.frame_shape) < 1:
            raise ValueError(
                f"frame_shape must be (height, width, channels) of positive ints, got "
                f"{self.frame_shape}"
            )
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim must be >= 1, got {self.latent_dim}")
        if self.filter_size < 1:
            raise ValueError(f"filter_size must be >= 1, got {self.filter_size}")
        if self.sigma <= 0:
            raise ValueError(f"sigma must be > 0, got {self.sigma}")
        if self.num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {self.num_samples}")
        if len(self.pixel_range) != 2 or not self.pixel_range[0] < self.pixel_range[1]:
            raise ValueError(f"pixel_range must be (low, high) with low < high, got "
                             f"{self.pixel_range}")
        if not 0.0 <= self.prediction_shrink <= 1.0:
            raise ValueError(f"prediction_shrink must be in [0, 1], got "
                             f"{self.prediction_shrink}")
        for name, choices in (("output_activation", OUTPUT_ACTIVATIONS),
                              ("encoder_mode", ENCODER_MODES), ("posterior", POSTERIORS),
                              ("architecture", ARCHITECTURES),
                              ("observation_noise", OBSERVATION_NOISES),
                              ("pixel_likelihood", PIXEL_LIKELIHOODS),
                              ("prediction_sigma", PREDICTION_SIGMAS),
                              ("transition_form", TRANSITION_FORMS),
                              ("mixed_precision", MIXED_PRECISION)):
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {choices}, got "
                                 f"{getattr(self, name)!r}")
        if self.prediction_sigma == "per_step" and self.observation_noise != "optimal":
            raise ValueError(f"prediction_sigma 'per_step' needs observation_noise 'optimal' "
                             f"(the per-step sigma is each step's optimum), got "
                             f"{self.observation_noise!r}")
        if self.pixel_likelihood == "laplace" and self.observation_noise != "fixed":
            raise ValueError(f"pixel_likelihood 'laplace' needs observation_noise 'fixed' (a "
                             f"learned or optimal scale exists for the Gaussian only), got "
                             f"{self.observation_noise!r}")
        if self.posterior == "smoothed" and self.encoder_mode != "frame":
            raise ValueError("posterior 'smoothed' needs encoder_mode 'frame' (the smoother "
                             f"reads each frame's code as a measurement), got "
                             f"{self.encoder_mode!r}")
        if int(self.dense_units) != self.dense_units or self.dense_units < 0:
            raise ValueError(f"dense_units must be an integer >= 0, got {self.dense_units!r}")
        self.dense_units = int(self.dense_units)
        if self.dense_units and self.architecture != "v1":
            raise ValueError(f"dense_units needs architecture 'v1' (the residual networks have "
                             f"no dense stage), got architecture {self.architecture!r}")
        if self.width < 1 or self.depth < 0:
            raise ValueError(f"width must be >= 1 and depth >= 0, got width {self.width} "
                             f"and depth {self.depth}")
        if self.linear_path and (self.architecture != "residual"
                                 or self.encoder_mode != "frame"):
            raise ValueError(f"linear_path needs architecture 'residual' and encoder_mode "
                             f"'frame', got {self.architecture!r} and {self.encoder_mode!r}")
        if self.decoder_noise < 0 or (self.decoder_noise > 0 and not self.linear_path):
            raise ValueError(f"decoder_noise must be >= 0, and 0 without linear_path, got "
                             f"{self.decoder_noise} with linear_path {self.linear_path}")
        if int(self.residual_rank) != self.residual_rank or self.residual_rank < 0:
            raise ValueError(f"residual_rank must be an integer >= 0, got "
                             f"{self.residual_rank!r}")
        self.residual_rank = int(self.residual_rank)
        if int(self.period) != self.period or not (self.period == 0 or self.period >= 3):
            raise ValueError(f"period must be 0 (not periodic) or an integer >= 3 frames, got "
                             f"{self.period!r}")
        self.period = int(self.period)
        if int(self.start_states) != self.start_states or self.start_states < 0:
            raise ValueError(f"start_states must be an integer >= 0, got "
                             f"{self.start_states!r}")
        self.start_states = int(self.start_states)
        for name in ("stationarity_weight", "kl_weight", "prediction_weight",
                     "driven_prior_weight", "readback_weight", "driven_mmd_weight",
                     "frame_mmd_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.readback_loss not in READBACK_LOSSES:
            raise ValueError(f"readback_loss must be one of {READBACK_LOSSES}, got "
                             f"{self.readback_loss!r}")
        if self.readback_weight > 0 and self.encoder_mode != "frame":
            raise ValueError(f"readback_weight > 0 needs encoder_mode 'frame' (the encoder reads "
                             f"one decoded frame), got encoder_mode {self.encoder_mode!r}")

    def check_readback_period(self, stage: str = "the") -> None:
        """Raises ValueError when the cross-entropy read-back has no period to compare phases
        over. Not part of `__post_init__`: a run sets the period from its cycle or frames
        after its configuration is built."""
        if (self.readback_weight > 0 and self.readback_loss == "cross_entropy"
                and self.period < 3):
            raise ValueError(f"{stage} stage's read-back term (readback_loss 'cross_entropy') "
                             f"compares a reading with the period's phases and needs a period "
                             f">= 3, got period {self.period}: give --period, or "
                             f"--readback-loss squared")

    @property
    def hidden_dtype(self) -> str:
        """The Keras dtype policy of the hidden layers."""
        return "float32" if self.mixed_precision == "off" else f"mixed_{self.mixed_precision}"

    @property
    def decoder_base_channels(self) -> int:
        return self.base_channels or 64 * self.frame_shape[2]


@dataclasses.dataclass
class TrainingConfig:
    """How a run is trained and on what.

    Args:
        learning_rate: Adam learning rate.
        batch_size: frame pairs per step.
        epochs: passes over the training pairs.
        seed: seeds data shuffling, weight initialisation and latent sampling.
        cycle: digit cycle of the counting-MNIST source (e.g. "1234").
        num_frames: frames in the counting-MNIST sequence.
        jit_compile: XLA-compile the training step; every preset compiles (off by default:
            on 2 CPU cores the oneDNN kernels train faster than XLA; try it on a GPU).
        steps_per_execution: training steps per call into the compiled graph.
        image_every: epochs between synthesised-sequence images in TensorBoard (0: never).
        kl_warmup_epochs: epochs over which the KL weight ramps up linearly (0: none).
        window: frames per training example; 2 trains on pairs (the paper), longer windows
            also train the model's k-step predictions (see `ModelConfig.prediction_weight`).
        windows_per_epoch: training windows per epoch, drawn from as many reshuffled passes
            over the clip as that takes (`None`: one pass). It budgets training in steps, so a
            200-frame clip and a 2000-frame clip get the same number of updates.
        trainable: `all`; `dynamics`: only A, B, the posterior's log-variance head and a
            learned sigma train; the encoder's mean and the decoder keep the weights they
            start with (the linear start of a `linear_path` model, or a warm start); or
            `observation`: the encoder and decoder train and A and B keep the values they
            start with.
        validation_fraction: with a value above 0, the last fraction of every training
            sequence (at least `window` frames) is held out as validation windows; the
            stage ends with the weights of the epoch whose validation loss was lowest, the
            starting weights included (`summary.json` records which). On clips of a few
            hundred frames the networks can fit the training frames better while they decode
            unseen ones worse; this keeps only what held-out frames confirm.
        period_from_cycle: a counting-MNIST run (frames built from `cycle`) whose model has
            no `period` gets the cycle's length as its period (3 digits or more; a 2-cycle
            turns by pi, which has no rotation plane to lock).
        period_from_frames: a run on frames of one's own (`frames` given to `train`) whose
            model has no `period` estimates it from the frames
            (`dynamic_vae.evaluation.periodicity.estimate_period` on the longest sequence's
            first 1024 frames, periods up to 256 frames). When the frames have one (3
            frames or more), the run is trained as a periodic one: `period` is set to it,
            synthesis gets `PERIODIC_START_STATES` encoded start states (unless
            `start_states` asks for some), and a model with a `linear_path` gets
            `harmonic_start` (without one, the harmonic start's planes would take up to
            every state dimension). Frames without a period train as before.
            `summary.json` records the estimate.
        harmonic_start: a first stage whose model has a `period` starts at that period's
            harmonics, so the networks learn to place the frames on rings that already turn
            once per period. With a `linear_path`, the linear start is the frames' truncated
            Fourier series over the period
            (`dynamic_vae.models.linear_initialisation.harmonic_texture_parameters`: the
            fundamental and the strongest other harmonics, each plane turning by exactly
            2 pi k / P at modulus 0.99, frame t at phase 2 pi t / P) instead of their
            principal components. Without one, A starts at
            `dynamic_vae.spectrum.harmonic_transition` (planes turning by 2 pi k / P for
            k = 1, 2, ...) instead of its random start. A long period (a turn of 72 views)
            is otherwise rarely found by training.
    """

    learning_rate: float = 1e-3
    batch_size: int = 64
    epochs: int = 40
    seed: int = 0
    cycle: str = "1234"
    num_frames: int = 8000
    jit_compile: bool = False
    steps_per_execution: int = 1
    image_every: int = 5
    kl_warmup_epochs: int = 0
    window: int = 2
    windows_per_epoch: int | None = None
    trainable: str = "all"
    validation_fraction: float = 0.0
    period_from_cycle: bool = False
    period_from_frames: bool = False
    harmonic_start: bool = False

    def __post_init__(self) -> None:
        if self.trainable not in TRAINABLES:
            raise ValueError(f"trainable must be one of {TRAINABLES}, got {self.trainable!r}")
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must lie in [0, 1), got "
                             f"{self.validation_fraction}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.window < 2:
            raise ValueError(f"window must be >= 2 frames, got {self.window}")
        if self.kl_warmup_epochs < 0:
            raise ValueError(f"kl_warmup_epochs must be >= 0, got {self.kl_warmup_epochs}")
        for name in ("batch_size", "epochs", "steps_per_execution"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.num_frames < 2:
            raise ValueError(f"num_frames must be >= 2, got {self.num_frames}")
        if self.windows_per_epoch is not None and self.windows_per_epoch < 1:
            raise ValueError(f"windows_per_epoch must be >= 1 (or None: one pass), got "
                             f"{self.windows_per_epoch}")
        if self.image_every < 0:
            raise ValueError(f"image_every must be >= 0, got {self.image_every}")


# Fields that fix the networks' weight shapes: a warm start (and so a fine-tuning stage) needs
# them equal, except that it may grow what GROWABLE_FIELDS name.
ARCHITECTURE_FIELDS = ("frame_shape", "latent_dim", "filter_size", "base_channels",
                       "dense_units", "encoder_mode", "architecture", "width", "depth",
                       "linear_path", "observation_noise", "transition_form")
# Architecture fields a later stage (or a warm start) may raise from 0: the layers they add
# start with a zero output, so the grown networks start as the same function as their
# source (`dynamic_vae.models.networks`).
GROWABLE_FIELDS = ("dense_units",)


def warm_start_keeps(name: str, source_value: Any, value: Any) -> bool:
    """Whether a model whose architecture field `name` is `value` can start from one whose is
    `source_value`: the same value, or a growable field raised from 0."""
    return value == source_value or (name in GROWABLE_FIELDS and source_value == 0)


@dataclasses.dataclass
class RunConfig:
    """A model configuration together with its training configuration.

    Args:
        model: the architecture and loss.
        training: how the (first) stage is trained.
        finetune: overrides of model or training fields for a second stage that starts from
            the first stage's encoder, decoder, A and B (a warm start); its `epochs` is the
            second stage's length. Architecture fields cannot change. Empty: no such stage.
        variety: overrides for a last stage that starts from the stage before it (the
            fine-tuning stage, or the first when there is none) and is configured as that
            stage with these fields replaced; its `epochs` is its length. The counting preset
            uses it to train the observation map alone with the driven prior, which puts the
            handwriting in the innovations (docs/design-notes.md, "Keeping the digit out of
            the innovations"). Architecture fields cannot change. Empty: no such stage.
    """

    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)
    finetune: dict[str, Any] = dataclasses.field(default_factory=dict)
    variety: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        section_stages = {"finetune": lambda: (self.first_stage(), self.finetune_stage()),
                          "variety": lambda: (self._before_variety(), self.variety_stage())}
        for section in ("finetune", "variety"):
            overrides = getattr(self, section)
            if not isinstance(overrides, dict):
                raise ValueError(f"config section {section!r}: expected a mapping of fields, "
                                 f"got {type(overrides).__name__}")
            fixed = sorted(set(overrides) & ({*ARCHITECTURE_FIELDS, "pixel_range"}
                                             - set(GROWABLE_FIELDS)))
            if fixed:
                raise ValueError(f"{section}: {fixed} cannot change in a later stage (it "
                                 "keeps the networks' shapes and the data's pixel scaling)")
            if overrides:
                try:
                    before, after = section_stages[section]()
                except ValueError as error:
                    raise ValueError(f"{section}: {error}") from None
                # Checked here, not when the stage starts from the one before it, after
                # that one has trained.
                for name in GROWABLE_FIELDS:
                    ours, theirs = getattr(after.model, name), getattr(before.model, name)
                    if not warm_start_keeps(name, theirs, ours):
                        raise ValueError(f"{section}: {name} can only grow from 0 in a later "
                                         f"stage, got {theirs} before it and {ours} in it")

    def first_stage(self) -> "RunConfig":
        """The configuration of the first (or only) training stage."""
        return RunConfig(model=self.model, training=self.training)

    def finetune_stage(self) -> "RunConfig":
        """The configuration of the fine-tuning stage (`finetune` applied to the first)."""
        return self.first_stage().override(**self.finetune)

    def variety_stage(self) -> "RunConfig":
        """The configuration of the variety stage (`variety` applied to the stage before)."""
        return self._before_variety().override(**self.variety)

    def _before_variety(self) -> "RunConfig":
        """The stage the variety stage starts from: the fine-tuning stage, else the first."""
        return self.finetune_stage() if self.finetune else self.first_stage()

    def stage_names(self) -> list[str]:
        """The stages this configuration trains, in order: `first`, then `finetune` and
        `variety` when their sections are set."""
        return ["first"] + [name for name in ("finetune", "variety") if getattr(self, name)]

    def stages(self) -> list["RunConfig"]:
        """Every stage's configuration, in the order of `stage_names`."""
        build = {"first": self.first_stage, "finetune": self.finetune_stage,
                 "variety": self.variety_stage}
        return [build[name]() for name in self.stage_names()]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunConfig":
        if not isinstance(data, dict):
            raise ValueError(f"config: expected a mapping with sections 'model' and "
                             f"'training', got {type(data).__name__}")
        unknown = set(data) - {"model", "training", "finetune", "variety"}
        if unknown:
            raise ValueError(f"unknown config sections {sorted(unknown)}; expected 'model', "
                             "'training' and optionally 'finetune' and 'variety'")
        return cls(model=_build(ModelConfig, data.get("model", {})),
                   training=_build(TrainingConfig, data.get("training", {})),
                   finetune=data.get("finetune", {}), variety=data.get("variety", {}))

    def override(self, **fields: Any) -> "RunConfig":
        """Returns a copy with the named fields (of either section) replaced.

        They set every stage: a field that `finetune` or `variety` names is replaced there
        too, so what a caller asks for holds throughout. `epochs` is the first stage's
        length, `finetune_epochs` the fine-tuning stage's and `variety_epochs` the variety
        stage's (0 removes the stage).
        """
        model = dataclasses.asdict(self.model)
        training = dataclasses.asdict(self.training)
        later = {"finetune": dict(self.finetune), "variety": dict(self.variety)}
        for name, value in fields.items():
            if value is None:
                continue
            if name in ("finetune_epochs", "variety_epochs"):
                section = name.removesuffix("_epochs")
                if not isinstance(value, numbers.Integral) or value < 0:
                    raise ValueError(f"{name} must be an int >= 0, got {value!r}")
                if value == 0:
                    later[section] = {}
                elif not later[section]:
                    kind = "fine-tuning" if section == "finetune" else "variety"
                    raise ValueError(f"{name}: this configuration has no {kind} stage")
                else:
                    later[section]["epochs"] = int(value)
            elif name in model or name in training:
                (model if name in model else training)[name] = value
                for overrides in later.values():
                    if name in overrides and name != "epochs":
                        overrides[name] = value
            else:
                raise ValueError(f"unknown config field {name!r}")
        return RunConfig.from_dict({"model": model, "training": training, **later})


def _check_type(name: str, annotation: str, value: Any) -> None:
    """Raises ValueError unless `value` fits the field's annotation (JSON gives any type)."""

    def is_int(v: Any) -> bool:
        return isinstance(v, numbers.Integral) and not isinstance(v, bool)

    def is_number(v: Any) -> bool:
        return isinstance(v, numbers.Real) and not isinstance(v, bool)

    def got(v: Any) -> str:
        return f"{type(v).__name__} {v!r}"

    if annotation == "int | None" and value is None:
        return
    if annotation in ("int", "int | None") and not is_int(value):
        raise ValueError(f"{name}: expected int, got {got(value)}")
    if annotation == "float":
        if not is_number(value):
            raise ValueError(f"{name}: expected a number, got {got(value)}")
        if not math.isfinite(value):
            raise ValueError(f"{name}: expected a finite number, got {value}")
    if annotation == "bool" and not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}: expected true or false, got {got(value)}")
    if annotation == "str" and not isinstance(value, str):
        raise ValueError(f"{name}: expected a string, got {got(value)}")
    if annotation.startswith("tuple["):
        element = "int" if "int" in annotation else "number"
        check = is_int if element == "int" else is_number
        count = annotation.count(",") + 1
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)) or not all(
                check(v) for v in value):
            raise ValueError(f"{name}: expected {count} {element}s, got {got(value)}")


def _build(cls: type, data: Any) -> Any:
    if not isinstance(data, dict):
        raise ValueError(f"config section '{_SECTIONS[cls]}': expected a mapping of fields, "
                         f"got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(fields)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields {sorted(unknown)}; known fields are "
                         f"{sorted(fields)}")
    for name, value in data.items():
        _check_type(name, str(fields[name].type), value)
    return cls(**data)


_SECTIONS = {ModelConfig: "model", TrainingConfig: "training"}


# Encoded training states stored as synthesis starts for a periodic run whose period was
# estimated from its frames (`TrainingConfig.period_from_frames`): a start on the cycle, so
# synthesis turns round it from the first frame.
PERIODIC_START_STATES = 64


PRESETS: dict[str, dict[str, Any]] = {
    # Sagel & Shen (2018) v1 as stated: pair encoder, sigma 1.5 for MNIST, lambda 100, pixels in
    # [0, 1]. It does not learn to count (docs/results/counting.md, "How the first stage works").
    "paper-v1": {
        "model": {"encoder_mode": "pair", "sigma": 1.5, "output_activation": "sigmoid",
                  "filter_size": 5, "latent_dim": 10, "stationarity_weight": 100.0},
        "training": {"learning_rate": 1e-3, "batch_size": 64, "epochs": 30},
    },
    "counting-mnist": {
        # Frame encoder, and the k-step prediction rolled out with the model's own noise over
        # windows of 5 frames (a whole 4-cycle), and a KL weight of 2, which keeps the codes
        # nearer the prior so the decoder has seen the states synthesis visits. That learns
        # the period-4 rotation, at modulus ~0.97. The fine-tuning stage then reads the codes
        # as measurements (smoothed posterior) over windows of 9, which takes the modulus to
        # 1, with rollouts from shrunk states that teach the decoder the plane's centre. The
        # transition is stationary by construction; after training the cycle's harmonics are
        # locked (period = the cycle's length, or the period read from frames of one's own)
        # and synthesis without a pair starts on one of 64 encoded training frames: see
        # docs/results/counting.md. `train --frames` picks this preset for frames with a
        # period whose every cycle comes in a new look (`training.run.frames_preset`).
        "model": {"encoder_mode": "frame", "sigma": 0.5, "output_activation": "linear",
                  "filter_size": 5, "latent_dim": 10, "stationarity_weight": 100.0,
                  "prediction_weight": 1.0, "prediction_noise": True, "kl_weight": 2.0,
                  "transition_form": "stationary", "start_states": 64},
        "training": {"learning_rate": 1e-3, "batch_size": 16, "window": 5, "epochs": 8,
                     "period_from_cycle": True, "period_from_frames": True},
        "finetune": {"posterior": "smoothed", "stationarity_weight": 10000.0, "window": 9,
                     "prediction_shrink": 0.95, "epochs": 4},
        # The variety stage keeps A and B, and trains the encoder and decoder on the ELBO
        # alone (KL weight 1, a narrower sigma for sharper digits) with the driven prior:
        # the innovations' directions must look as synthesis draws them, N(0, Q) and
        # independent of the phase, in their moments and (the MMD) in their whole
        # distribution at each phase, so each cycle is written in a new hand while the
        # locked planes keep the digit. The frames' MMD compares frames decoded with a hand
        # drawn as synthesis draws it with the real frames at their phase, so the decoder
        # is trained on what synthesis shows rather than on reconstructions alone. The
        # read-back term trains the decoder on the states synthesis visits: a frame decoded
        # from a posterior's phase with a new hand must be read by the encoder at that phase
        # and at no other (cross-entropy over the period's phases); at weight 200 it holds
        # the order the frames' MMD would otherwise cost the 5-cycle. The stage grows the decoder a hidden path of 512
        # units from the state to its first feature map (starting as the trained decoder),
        # so phase and hand can interact before the convolutions. Not from the first stage:
        # with the path there, the 10-cycle's first stage learned a period of 5.
        "variety": {"trainable": "observation", "prediction_weight": 0.0, "kl_weight": 1.0,
                    "dense_units": 512,
                    "sigma": 0.15, "driven_prior_weight": 50.0, "driven_mmd_weight": 1000.0,
                    "frame_mmd_weight": 2000.0,
                    "readback_weight": 200.0, "readback_loss": "cross_entropy", "epochs": 4},
    },
    "video": {
        # Any clip, no flags. Residual networks with a linear path, so training starts at the
        # linear dynamic texture fitted in closed form; an exactly stationary transition; a
        # calibrated decoder (sigma at the batch's optimum, nothing set per data set); a
        # 3-step prediction term over windows of 4, with each step's sigma at its own optimum
        # (longer windows, or one sigma for all steps, trade 1-step error for later steps';
        # measured across the texture clips); a budget of windows per epoch, so a 200-frame
        # clip gets as many updates as a long one. The first stage learns the
        # dynamics with the observation map held at the linear start: on clips of a few
        # hundred frames the networks otherwise fit the training frames within one epoch and
        # decode unseen ones worse. Both stages hold out the clip's last tenth and keep the
        # epoch that scores best on it, the start included, so a first stage whose A only
        # fits the training windows ends at the least-squares start (as on boiling water at
        # 64x64 RGB and the fountain at 128x128). The second stage trains everything.
        # Synthesis adds a residual texture of up to 256 directions, so frames keep the
        # clip's fine detail. The hidden
        # layers compute in bfloat16 where the machine has bfloat16 units (`auto`): about
        # 1.4x the float32 step there, with the same k-step errors. See
        # docs/results/textures.md.
        "model": {"architecture": "residual", "width": 16, "depth": 1, "linear_path": True,
                  "encoder_mode": "frame", "observation_noise": "optimal",
                  "transition_form": "stationary", "output_activation": "linear",
                  "latent_dim": 10, "prediction_weight": 1.0, "kl_weight": 1.0,
                  "residual_rank": 256, "prediction_sigma": "per_step",
                  "mixed_precision": "auto"},
        "training": {"learning_rate": 1e-3, "batch_size": 16, "window": 4, "epochs": 8,
                     "windows_per_epoch": 1024, "trainable": "dynamics",
                     "validation_fraction": 0.1, "period_from_frames": True},
        "finetune": {"trainable": "all", "validation_fraction": 0.1, "learning_rate": 3e-4,
                     "epochs": 6},
    },
}

# The preset `train` starts from when no --preset is given: counting for a digit cycle, video
# for frames of one's own (unless they renew their look every cycle:
# `dynamic_vae.training.run.frames_preset`).
DEFAULT_PRESETS = {"counting": "counting-mnist", "frames": "video"}


def get_preset(name: str) -> RunConfig:
    """Returns the named preset as a `RunConfig`."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; available presets: {sorted(PRESETS)}")
    return RunConfig.from_dict(PRESETS[name])
