"""The Dynamic VAE model: encoder, dynamic layer and decoder trained on frame pairs.

Loss per frame pair y_hat = [y_t ; y_{t+1}] (eq. 34, averaged over Monte-Carlo samples):

    ||y_hat - [C(x_t) ; C(x_{t+1})]||^2 / (2 sigma^2)           reconstruction, both frames
    + kl_weight * KL(q(.|y_hat) || prior)                         kl
    + lambda * ||A A^T + B B^T - I||_F^2                          stationarity penalty
    + prediction_weight * mean_k ||y_{t+k} - C(A^k mu_t)||^2 / (2 sigma^2)   prediction term

where [x_t ; x_{t+1}] is the dynamic layer's output (eq. 33) and mu_t the posterior mean of x_t.
With `observation_noise` `learned` or `optimal` both observation terms are the Gaussian
negative log-likelihood `sum (y - C(x))^2 / (2 sigma_c^2) + log sigma_c` with sigma learned per
channel or set to the batch's optimum (`observation_noise`), instead of a hand-set sigma;
with `prediction_sigma="per_step"` the prediction term's optimum is taken for each k apart.
With `pixel_likelihood` `laplace` both observation terms are `||y - C(x)||_1 / sigma` instead,
the Laplace negative log-likelihood with scale sigma.
Training batches may be windows of L >= 2 consecutive frames: the ELBO terms then average over
the window's L - 1 pairs and the prediction term runs k = 1 .. L - 1 steps (the paper's setting
is L = 2 with no prediction term).

With `driven_prior_weight` > 0 the loss also has

    + driven_prior_weight * (phase_dependence(mu) + driven_moment_mismatch(x))

on each batch's posterior means mu and draws x: the state directions the innovations drive
are trained to be independent of the persistent ones and spread as the stationary prior, as
synthesis draws them (`dynamic_vae.models.driven_prior`). With `readback_weight` > 0 it also
has

    + readback_weight * readback_error(E(D(Q_p mu + Q_s v)), E(y))

on each window's first frame y, with v ~ N(0, I) and the encoder E's weights held: a frame
decoded from the posterior's phase with a handwriting drawn as synthesis draws it must be
read on the persistent directions as the real frame is (`readback_error`, or with
`readback_loss="cross_entropy"` the cross-entropy of its phase against the period's others,
`readback_confusion`). With `driven_mmd_weight` > 0 it also has

    + driven_mmd_weight * driven_mmd(x, v)

the maximum mean discrepancy between the posterior draws and the same phases with the
driven part redrawn as synthesis draws it (`driven_mmd`). With `frame_mmd_weight` > 0 it also has

    + frame_mmd_weight * frame_mmd(D(Q_p mu + Q_s v), y, mu)

over every frame y of the windows with a state mean mu (smoothed; factorised: each pair's
first frame): the maximum mean discrepancy
between frames decoded with a hand drawn as synthesis draws it and the real frames, at the
same phases (`frame_mmd`).

With `posterior="smoothed"` the encoder's Gaussians are measurements of the states and the
ELBO is taken over whole windows with the Kalman-smoothed posterior (see `window_posterior`):
reconstruction of all L frames from the smoothed marginals plus KL(q(x_{1:L}) || p(x_{1:L})),
both divided by L - 1 so that a pair (L = 2) is on the factorised ELBO's scale.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from dynamic_vae.config import ModelConfig
from dynamic_vae.data.frame_pairs import FramePairs
from dynamic_vae.layers.dynamic_layer import DynamicLayer
from dynamic_vae.layers.latent_step import latent_step
from dynamic_vae.layers.stationary_dynamic_layer import StationaryDynamicLayer
from dynamic_vae.models.driven_prior import (driven_mmd, driven_moment_mismatch,
                                             frame_mmd, phase_dependence,
                                             readback_confusion, readback_error,
                                             resample_driven)
from dynamic_vae.models.finishing import finish_after_fit
from dynamic_vae.models.networks import build_decoder, build_encoder
from dynamic_vae.models.observation_noise import (gaussian_negative_log_likelihood,
                                                  optimal_log_sigma)
from dynamic_vae.models.residual_networks import (build_residual_decoder,
                                                  build_residual_encoder)
from dynamic_vae.models.residual_texture import ResidualTexture, heldout_curves
from dynamic_vae.models.start_states import StartStates, cycle_consensus
from dynamic_vae.models.window_posterior import sample_marginals, smoothed_window_posterior
from dynamic_vae.spectrum import phase_alignment

# Every ModelConfig field is also a keyword of DynamicVAE (and a key of its Keras config).
MODEL_FIELDS = tuple(field.name for field in dataclasses.fields(ModelConfig))

# With a locked period, the stored start states come from this best-aligned fraction of the
# training states (`fit_start_states`): on the shared counting runs, starts from the worst
# aligned fraction were the sequences read at 0.45-0.9, and from the best half at >= 0.92.
ON_PHASE_FRACTION = 0.5

# What `driven_prior_weight`, `readback_weight`, `driven_mmd_weight` and `frame_mmd_weight`
# > 0 log, in training only.
DRIVEN_PRIOR_LOGS = ("phase_dependence", "driven_mismatch", "readback", "driven_mmd",
                     "frame_mmd")


@keras.saving.register_keras_serializable(package="dynamic_vae")
class DynamicVAE(keras.Model):
    """A convolutional VAE whose latent states follow x_{t+1} = A x_t + B v_t.

    Inputs are frame pairs `(batch, 2, H, W, C)` with pixels in `pixel_range`. `fit` on a
    dataset of such pairs (or of longer windows `(batch, L, H, W, C)`) trains eq. (34); `call`
    returns the reconstructed pairs. `finish` then fits the parts that are not trained by
    gradients (locked harmonics, residual texture, start states), as `train` does.

    Every architecture and loss parameter is a field of `ModelConfig`, which holds their
    defaults and validation; the model reads them from `model_config` only.

    Args:
        config: the model's `ModelConfig`; leave it out to give its fields as keywords.
        seed: seed of the latent sampling.
        **kwargs: `ModelConfig` fields (when `config` is not given: `frame_shape`,
            `latent_dim`, `sigma`, `posterior`, ...), the rest passed to `keras.Model`
            (`name`, `dtype`, ...).

    Example:
    >>> model = DynamicVAE(ModelConfig(frame_shape=(32, 32, 1), latent_dim=10), seed=0)
    >>> same = DynamicVAE(frame_shape=(32, 32, 1), latent_dim=10, seed=0)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> pairs = make_frame_pairs(frames)                 # doctest: +SKIP
    >>> model.fit(pairs.dataset(batch_size=16), epochs=10)  # doctest: +SKIP
    >>> model.finish(pairs)                               # doctest: +SKIP
    >>> frames = model.decode(np.zeros((5, 10), "float32"))

    Reference:
    - Sagel & Shen, "Linearizing Visual Processes with Convolutional Variational
      Autoencoders", arXiv 1803.07488 (2018).
    """

    def __init__(self, config: ModelConfig | None = None, seed: int | None = None,
                 **kwargs: Any) -> None:
        fields = {name: kwargs.pop(name) for name in MODEL_FIELDS if name in kwargs}
        if config is None:
            config = ModelConfig(**fields)
        elif fields:
            raise ValueError(f"DynamicVAE: give either a ModelConfig or its fields, not both "
                             f"(got a config and {sorted(fields)})")
        elif not isinstance(config, ModelConfig):
            raise ValueError(f"DynamicVAE: config must be a ModelConfig, got "
                             f"{type(config).__name__}")
        super().__init__(**kwargs)
        self.model_config = config
        self.seed = seed
        residual = config.architecture == "residual"
        self.encoder = (build_residual_encoder if residual else build_encoder)(config)
        self.decoder = (build_residual_decoder if residual else build_decoder)(config)
        if config.observation_noise == "learned":
            self.log_sigma = self.add_weight(
                name="log_sigma", shape=(config.frame_shape[2],),
                initializer=keras.initializers.Constant(float(np.log(config.sigma))))
        layer_class = (StationaryDynamicLayer if config.transition_form == "stationary"
                       else DynamicLayer)
        self.dynamic_layer = layer_class(
            latent_dim=config.latent_dim, posterior=config.encoder_mode,
            stationarity_weight=config.stationarity_weight, kl_weight=config.kl_weight,
            num_samples=config.num_samples, seed=seed, name="dynamic_layer")
        # Fitted in closed form after training (`finish`); synthesis adds it.
        self.residual_texture = (
            ResidualTexture(config.residual_rank, config.frame_shape, name="residual_texture")
            if config.residual_rank > 0 else None)
        # Set after training too (`finish`); synthesis without a pair starts there.
        self.start_states = (
            StartStates(config.start_states, config.latent_dim, name="start_states")
            if config.start_states > 0 else None)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.residual_tracker = keras.metrics.Mean(name="stationarity_residual")
        self.prediction_tracker = keras.metrics.Mean(name="prediction")
        self.sigma_tracker = keras.metrics.Mean(name="sigma")
        self.phase_dependence_tracker = keras.metrics.Mean(name="phase_dependence")
        self.driven_mismatch_tracker = keras.metrics.Mean(name="driven_mismatch")
        self.readback_tracker = keras.metrics.Mean(name="readback")
        self.driven_mmd_tracker = keras.metrics.Mean(name="driven_mmd")
        self.frame_mmd_tracker = keras.metrics.Mean(name="frame_mmd")
        self.built = True

    @classmethod
    def from_model_config(cls, config: ModelConfig, seed: int | None = None,
                          **kwargs: Any) -> "DynamicVAE":
        """The model of `config` (the same as `DynamicVAE(config, seed=seed)`)."""
        return cls(config, seed=seed, **kwargs)

    # --- properties ---------------------------------------------------------------------

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        return self.model_config.frame_shape

    @property
    def latent_dim(self) -> int:
        return self.model_config.latent_dim

    @property
    def pixel_range(self) -> tuple[float, float]:
        return self.model_config.pixel_range

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        trackers = [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker,
                    self.residual_tracker]
        if self.model_config.prediction_weight > 0:
            trackers.append(self.prediction_tracker)
        if self.model_config.observation_noise != "fixed":
            trackers.append(self.sigma_tracker)
        if self.model_config.driven_prior_weight > 0:
            trackers += [self.phase_dependence_tracker, self.driven_mismatch_tracker]
        if self.model_config.readback_weight > 0:
            trackers.append(self.readback_tracker)
        if self.model_config.driven_mmd_weight > 0:
            trackers.append(self.driven_mmd_tracker)
        if self.model_config.frame_mmd_weight > 0:
            trackers.append(self.frame_mmd_tracker)
        return trackers

    # --- accessors ----------------------------------------------------------------------

    def encode(self, frame_pairs: Any, training: bool = False) -> tuple[tf.Tensor, tf.Tensor]:
        """Posterior mean and log-variance `(batch, 2n)` of frame pairs `(batch, 2, H, W, C)`.

        In `frame` mode they are over `[x_t ; x_{t+1}]`, in `pair` mode over z' (whose first
        half is x_t as well).
        """
        frame_pairs = tf.convert_to_tensor(frame_pairs, dtype=self.compute_dtype)
        return self._window_posteriors(frame_pairs, training)

    def encode_states(self, frame_pairs: Any) -> tf.Tensor:
        """Posterior means of the latent states `[x_t ; x_{t+1}]` in x-space, `(batch, 2n)`
        (with the smoothed posterior: the smoother's means given both frames)."""
        mean, log_variance = self.encode(frame_pairs)
        if self.model_config.posterior == "smoothed":
            n = self.latent_dim
            means, _, _ = self._smoothed(tf.reshape(mean, [-1, 2, n]),
                                         tf.reshape(log_variance, [-1, 2, n]))
            return tf.reshape(means, [-1, 2 * n])
        return self.dynamic_layer.to_state_space(mean)

    def decode(self, latents: Any, training: bool = False) -> tf.Tensor:
        """Frames `(N, H, W, C)` from latent states `(N, n)`."""
        latents = tf.convert_to_tensor(latents, dtype=self.compute_dtype)
        return self.decoder(latents, training=training)

    def decode_pairs(self, latent_pairs: tf.Tensor, training: bool = False) -> tf.Tensor:
        """`(M, 2, H, W, C)` from `(M, 2n)`: both halves in one decoder call."""
        frames = self.decode(tf.reshape(latent_pairs, [-1, self.latent_dim]), training=training)
        return tf.reshape(frames, [-1, 2, *self.frame_shape])

    def transition(self) -> tuple[np.ndarray, np.ndarray]:
        """`(A, B)`: the transition and noise matrices as numpy arrays."""
        return (keras.ops.convert_to_numpy(self.dynamic_layer.transition_matrix),
                keras.ops.convert_to_numpy(self.dynamic_layer.noise_matrix))

    def finish(self, pairs: FramePairs, seed: int | None = None,
               batch_size: int = 256) -> dict[str, Any]:
        """Fits, after the last epoch of `fit`, the parts that training leaves in closed form.

        `dynamic_vae.training.train` (and so `dynamic-vae train`) calls this after every
        stage; a model trained with `model.fit` synthesises as a trained run only once it is
        finished. In order, and only for the parts the model has:

        1. `period` > 0: the near-harmonic planes of A are locked to turn exactly once per
           period (`dynamic_vae.spectrum.lock_harmonics`), B set to keep the process
           stationary.
        2. `residual_rank` > 0: the residual texture is fitted (`fit_residual_texture`).
        3. `start_states` > 0: the synthesis start states are stored (`fit_start_states`).

        Both fits read the frames of `pairs.train_starts` only, so held-out frames stay
        unseen. Fit with `dynamic_vae.callbacks.FinishAfterFit(pairs)` to finish at the end of
        `fit` instead.

        Args:
            pairs: the `FramePairs` (`dynamic_vae.data.make_frame_pairs`) whose windows the
                model was fitted on; its frames are in the model's pixel range.
            seed: seed of the residual texture's randomized SVD; `None` takes the model's
                `seed` (0 when it has none), which is what `train` passes.
            batch_size: pairs encoded per call.

        Returns:
            What each step reports, under the names summary.json gives them:
            `locked_harmonics` (the harmonics k locked), `residual_texture` (what
            `fit_residual_texture` returns) and `start_states` (how many distinct states were
            stored), each only for a step that ran.

        Raises:
            ValueError: naming the argument, if `pairs` is not a `FramePairs` of the model's
                frame shape with training pairs, `seed` is not an integer or `batch_size` is
                below 1; or if A or B is not finite (a diverged training).

        Example:
        >>> pairs = make_frame_pairs(frames)                       # doctest: +SKIP
        >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))   # doctest: +SKIP
        >>> model.fit(pairs.dataset(batch_size=16), epochs=10)     # doctest: +SKIP
        >>> model.finish(pairs)                                    # doctest: +SKIP
        {'locked_harmonics': [1], 'residual_texture': {...}, 'start_states': 8}
        """
        return finish_after_fit(self, pairs, seed=seed, batch_size=batch_size)

    def fit_residual_texture(self, frames: np.ndarray, starts: np.ndarray, seed: int = 0,
                             batch_size: int = 256) -> dict[str, Any]:
        """Fits the residual texture to the frames the model trained on, with its two
        cross-validated curves: how an unseen frame's residual persists
        (`heldout_persistence`) and the share of its state's predicted change that holds
        (`heldout_shrinkage`; every share 1 for a model with a locked `period`).

        Args:
            frames: `(T, H, W, C)` frames in the model's pixel range.
            starts: indices `t` of the training pairs `frames[t : t + 2]`; frame `t`'s state
                is the posterior mean given its pair, and consecutive starts give the lag
                pairs the persistence is estimated from.
            seed: seed of the randomized SVD.
            batch_size: pairs encoded per call.

        Returns:
            What `ResidualTexture.fit` reports.

        Raises:
            ValueError: if the model has no residual texture (`residual_rank` 0).
        """
        if self.residual_texture is None:
            raise ValueError("fit_residual_texture: the model has residual_rank 0 (no "
                             "residual texture)")
        frames = np.asarray(frames, dtype=np.float32)
        starts = np.sort(np.asarray(starts, dtype=np.int64))
        states = self._frame_states(frames, starts, batch_size)
        residuals = [frames[starts[i:i + batch_size]] - keras.ops.convert_to_numpy(
            self.decode(states[i:i + batch_size])) for i in range(0, len(starts), batch_size)]
        position = {int(t): i for i, t in enumerate(starts)}
        lag_pairs = [(i, position[int(t) + 1]) for i, t in enumerate(starts)
                     if int(t) + 1 in position]
        # How an unseen frame's residual persists, and how much of its state's predicted
        # change holds, from the frames of the training pairs: each run of consecutive pair
        # starts is one sequence (two sequences whose frames happen to be adjacent in
        # `frames` stay apart).
        runs = np.split(starts, np.flatnonzero(np.diff(starts) != 1) + 1)
        sequences = [frames[run[0]:run[-1] + 2] for run in runs]
        # A locked period turns the phase by exactly one step a frame, for ever; a share
        # below 1 would cut the chord of that turn, so periodic models keep all of it (no
        # shares: every one 1).
        heldout, shrinkage = heldout_curves(sequences, rank=self.latent_dim, seed=seed,
                                            shrinkage=self.model_config.period < 3)
        return self.residual_texture.fit(np.concatenate(residuals), np.array(lag_pairs),
                                         seed=seed, heldout=heldout, shrinkage=shrinkage)

    def fit_start_states(self, frames: np.ndarray, starts: np.ndarray,
                         batch_size: int = 256) -> int:
        """Stores the posterior means of training frames as synthesis starts.

        With a locked period (`ModelConfig.period`), only the states squarely on a phase of
        the cycle are candidates: the best `ON_PHASE_FRACTION` by
        `dynamic_vae.spectrum.phase_alignment`. A locked plane never forgets a start's phase,
        so a state halfway between two steps of the cycle (a digit the encoder read as
        neither) would give a sequence that is never read clearly. The states stored are
        then evenly spaced over the candidates, in frame order.
        Their phase on the locked planes is then the consensus of all stored states
        (`dynamic_vae.models.start_states.cycle_consensus`): every start on one clean cycle.

        Args:
            frames: `(T, H, W, C)` frames in the model's pixel range.
            starts: indices `t` of training pairs `frames[t : t + 2]`; frame t's state is the
                first half of its pair's posterior mean.
            batch_size: pairs encoded per call.

        Returns:
            How many distinct states were stored.

        Raises:
            ValueError: if the model stores no start states (`start_states` 0).
        """
        if self.start_states is None:
            raise ValueError("fit_start_states: the model has start_states 0")
        starts = np.sort(np.asarray(starts, dtype=np.int64))
        states = self._frame_states(np.asarray(frames, dtype=np.float32), starts, batch_size)
        if self.model_config.period >= 3:
            alignment = phase_alignment(self.transition()[0], self.model_config.period, states)
            if np.any(alignment != 0.0):
                keep = max(1, int(np.ceil(ON_PHASE_FRACTION * len(states))))
                best = np.sort(np.argsort(-alignment, kind="stable")[:keep])
                states = states[best]
        stored = self.start_states.fit(states)
        if self.model_config.period >= 3:
            a, b = self.transition()
            self.start_states.states.assign(cycle_consensus(
                keras.ops.convert_to_numpy(self.start_states.states), a, b,
                self.model_config.period).astype(np.float32))
        return stored

    def _frame_states(self, frames: np.ndarray, starts: np.ndarray,
                      batch_size: int) -> np.ndarray:
        """`(len(starts), n)`: frame t's state, the first half of the posterior mean of the
        pair `frames[t : t + 2]`, for every t in `starts`."""
        states = [keras.ops.convert_to_numpy(self.encode_states(np.stack(
            [frames[chunk], frames[chunk + 1]], axis=1)))[:, :self.latent_dim]
            for chunk in (starts[i:i + batch_size] for i in range(0, len(starts), batch_size))]
        return np.concatenate(states)

    # --- Keras --------------------------------------------------------------------------

    def call(self, frame_pairs: Any, training: bool | None = None) -> tf.Tensor:
        if self.model_config.posterior == "smoothed":
            return self.decode_pairs(self.encode_states(frame_pairs), training=bool(training))
        mean, log_variance = self.encode(frame_pairs, training=bool(training))
        latent_pairs = self.dynamic_layer([mean, log_variance], training=training)
        return self.decode_pairs(latent_pairs, training=bool(training))

    def _smoothed(self, measurements: tf.Tensor, log_variances: tf.Tensor
                  ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Smoothed means, covariances and KL of windows of encoder measurements."""
        return smoothed_window_posterior(
            measurements, tf.exp(log_variances),
            tf.cast(self.dynamic_layer.transition_matrix, measurements.dtype),
            tf.cast(self.dynamic_layer.noise_matrix, measurements.dtype))

    def _observation_term(self, targets: tf.Tensor, predictions: tf.Tensor) -> tf.Tensor:
        """The observation term per example: with a fixed sigma the sum of squared errors over
        all but the first axis, over 2 sigma^2 (eq. 34); with a learned or optimal sigma the
        Gaussian negative log-likelihood, whose log-sigma term keeps sigma from growing; with
        a Laplace likelihood the sum of absolute errors over sigma, the Laplace scale."""
        axes = list(range(1, len(predictions.shape)))
        if self.model_config.pixel_likelihood == "laplace":
            return tf.reduce_sum(tf.abs(targets - predictions), axis=axes) / (
                self.model_config.sigma)
        if self.model_config.observation_noise == "fixed":
            return tf.reduce_sum(tf.square(targets - predictions), axis=axes) / (
                2.0 * self.model_config.sigma ** 2)
        return gaussian_negative_log_likelihood(targets, predictions,
                                                self._log_sigma(targets, predictions))

    def _log_sigma(self, targets: tf.Tensor, predictions: tf.Tensor) -> tf.Tensor:
        """log sigma per channel: the trainable one, or the batch's optimum."""
        if self.model_config.observation_noise == "learned":
            return tf.convert_to_tensor(self.log_sigma)
        return optimal_log_sigma(targets, predictions, per_channel=True)

    def _window_posteriors(self, windows: tf.Tensor, training: bool
                           ) -> tuple[tf.Tensor, tf.Tensor]:
        """Posterior mean and log-variance `(batch * (L - 1), 2n)` of every consecutive pair
        in windows `(batch, L, H, W, C)`; in `frame` mode each frame is encoded once."""
        length = windows.shape[1]
        height, width, channels = self.frame_shape
        if self.model_config.encoder_mode == "pair":
            stacked = tf.concat([windows[:, :-1], windows[:, 1:]], axis=-1)
            return self.encoder(tf.reshape(stacked, [-1, height, width, 2 * channels]),
                                training=training)
        mean, log_variance = self.encoder(tf.reshape(windows, [-1, height, width, channels]),
                                          training=training)

        def pair_up(per_frame: tf.Tensor) -> tf.Tensor:
            per_frame = tf.reshape(per_frame, [-1, length, self.latent_dim])
            pairs = tf.concat([per_frame[:, :-1], per_frame[:, 1:]], axis=-1)
            return tf.reshape(pairs, [-1, 2 * self.latent_dim])

        return pair_up(mean), pair_up(log_variance)

    def _loss_terms(self, windows: tf.Tensor, training: bool) -> dict[str, tf.Tensor]:
        """Loss terms on windows of L >= 2 consecutive frames `(batch, L, H, W, C)`.

        The ELBO terms are averaged over every consecutive pair of the windows; the prediction
        term decodes the noise-free rollout A^k mu_0 against frame k, k = 1 .. L-1.
        """
        windows = tf.convert_to_tensor(windows, dtype=self.compute_dtype)
        length = windows.shape[1]
        if length is None or length < 2:
            raise ValueError(f"expected windows (batch, L >= 2, H, W, C), got shape "
                             f"{windows.shape}")
        if self.model_config.posterior == "smoothed":
            return self._smoothed_loss_terms(windows, training)
        mean, log_variance = self._window_posteriors(windows, training)
        latent_pairs = self.dynamic_layer([mean, log_variance], training=training)
        reconstructions = self.decode_pairs(latent_pairs, training=training)
        targets = tf.reshape(tf.stack([windows[:, :-1], windows[:, 1:]], axis=2),
                             [-1, 2, *self.frame_shape])
        # Samples are stacked sample-major, so tiling the targets lines them up.
        repeats = tf.shape(reconstructions)[0] // tf.shape(targets)[0]
        targets = tf.tile(targets, [repeats, 1, 1, 1, 1])
        reconstruction = tf.reduce_mean(self._observation_term(targets, reconstructions))
        kl, penalty = self.dynamic_layer.losses
        terms = {"reconstruction": reconstruction, "kl": kl, "penalty": penalty,
                 **self._sigma_term(targets, reconstructions)}
        total = reconstruction + kl + penalty
        # x_t's posterior mean for every pair, in x-space.
        states = self.dynamic_layer.to_state_space(mean)[:, :self.latent_dim]
        if self.model_config.prediction_weight > 0:
            first = tf.reshape(states, [-1, length - 1, self.latent_dim])[:, 0]
            terms["prediction"] = self._prediction_term(windows, first, training)
            total = total + self.model_config.prediction_weight * terms["prediction"]
        # x_t's posterior draws, which the driven-prior terms compare with synthesis's.
        draws = tf.reshape(latent_pairs, [-1, 2, self.latent_dim])[:, 0]
        if self.model_config.driven_prior_weight > 0 and training:
            total = total + self._driven_prior_term(states, draws, terms)
        if self.model_config.driven_mmd_weight > 0 and training:
            total = total + self._driven_mmd_term(draws, terms)
        if self.model_config.readback_weight > 0 and training:
            # A frame encoder's pair means are its frames' own readings: x_t's is the reading.
            first = tf.reshape(states, [-1, length - 1, self.latent_dim])[:, 0]
            total = total + self._readback_term(first, first, terms)
        if self.model_config.frame_mmd_weight > 0 and training:
            # x_t of every pair, in the windows' order: frames 0 .. L - 2 of each window.
            total = total + self._frame_mmd_term(states, windows[:, :-1], terms)
        terms["loss"] = total
        return terms

    def _smoothed_loss_terms(self, windows: tf.Tensor, training: bool
                             ) -> dict[str, tf.Tensor]:
        """The window ELBO with the smoothed posterior, per transition (divided by L - 1, so
        that a pair's terms are on the same scale as the factorised ELBO's)."""
        length = windows.shape[1]
        height, width, channels = self.frame_shape
        n = self.latent_dim
        mean, log_variance = self.encoder(tf.reshape(windows, [-1, height, width, channels]),
                                          training=training)
        means, covariances, kl = self._smoothed(tf.reshape(mean, [-1, length, n]),
                                                tf.reshape(log_variance, [-1, length, n]))
        if training:
            states = sample_marginals(means, covariances, self.model_config.num_samples,
                                      self.dynamic_layer._stateless_seed())
        else:
            states = means
        frames = self.decode(tf.reshape(states, [-1, n]), training=training)
        frames = tf.reshape(frames, [-1, length, *self.frame_shape])
        repeats = tf.shape(frames)[0] // tf.shape(windows)[0]
        targets = tf.tile(windows, [repeats, 1, 1, 1, 1])
        transitions = float(length - 1)
        reconstruction = tf.reduce_mean(self._observation_term(targets, frames)) / transitions
        layer = self.dynamic_layer
        kl_term = layer.kl_weight * layer.kl_schedule * tf.reduce_mean(kl) / transitions
        penalty = layer.stationarity_penalty()
        terms = {"reconstruction": reconstruction, "kl": kl_term, "penalty": penalty,
                 **self._sigma_term(targets, frames)}
        total = reconstruction + kl_term + penalty
        if self.model_config.prediction_weight > 0:
            terms["prediction"] = self._prediction_term(windows, means[:, 0], training)
            total = total + self.model_config.prediction_weight * terms["prediction"]
        if self.model_config.driven_prior_weight > 0 and training:
            total = total + self._driven_prior_term(tf.reshape(means, [-1, n]),
                                                    tf.reshape(states, [-1, n]), terms)
        if self.model_config.driven_mmd_weight > 0 and training:
            total = total + self._driven_mmd_term(tf.reshape(states, [-1, n]), terms)
        if self.model_config.readback_weight > 0 and training:
            total = total + self._readback_term(means[:, 0],
                                                tf.reshape(mean, [-1, length, n])[:, 0], terms)
        if self.model_config.frame_mmd_weight > 0 and training:
            total = total + self._frame_mmd_term(tf.reshape(means, [-1, n]), windows, terms)
        terms["loss"] = total
        return terms

    def _frame_mmd_term(self, states: tf.Tensor, windows: tf.Tensor,
                        terms: dict[str, tf.Tensor]) -> tf.Tensor:
        """`frame_mmd_weight` times the maximum mean discrepancy between frames decoded from
        `states`' phases `(m, n)` with hands drawn as synthesis draws them and the real
        frames of `windows`, one per state in row-major order
        (`dynamic_vae.models.driven_prior.frame_mmd`). It trains the decoder, and the
        encoder only through the phase it feeds in. Recorded in `terms`; training batches
        only."""
        states = tf.cast(states, tf.float32)
        noise_matrix = self.dynamic_layer.noise_matrix
        draws = keras.random.normal(tf.shape(states), seed=self.dynamic_layer.seed_generator)
        decoded = self.decode(resample_driven(states, noise_matrix, draws), training=True)
        frames = tf.reshape(windows, tf.shape(decoded))
        terms["frame_mmd"] = frame_mmd(decoded, frames, states, noise_matrix)
        return self.model_config.frame_mmd_weight * terms["frame_mmd"]

    def _driven_prior_term(self, means: tf.Tensor, samples: tf.Tensor,
                           terms: dict[str, tf.Tensor]) -> tf.Tensor:
        """`driven_prior_weight` times how far the innovation-driven part of the posterior is
        from what synthesis draws there (`dynamic_vae.models.driven_prior`): its dependence on
        the persistent part, over the posterior means, plus the mismatch of its moments with
        the stationary prior's, over the draws. Both are recorded in `terms`.

        Training batches only: both are statistics of a batch, which a held-out pair of two
        frames is too small to give (its two states explain each other), so validation
        losses stay the ELBO's and log neither."""
        noise_matrix = self.dynamic_layer.noise_matrix
        terms["phase_dependence"] = phase_dependence(tf.cast(means, tf.float32), noise_matrix)
        terms["driven_mismatch"] = driven_moment_mismatch(tf.cast(samples, tf.float32),
                                                          noise_matrix)
        return self.model_config.driven_prior_weight * (terms["phase_dependence"]
                                                        + terms["driven_mismatch"])

    def _driven_mmd_term(self, samples: tf.Tensor, terms: dict[str, tf.Tensor]) -> tf.Tensor:
        """`driven_mmd_weight` times the maximum mean discrepancy between the driven part of
        posterior draws `samples` `(m, n)` and as many draws of what synthesis puts there
        (`dynamic_vae.models.driven_prior.driven_mmd`). Recorded in `terms`; training
        batches only."""
        samples = tf.cast(samples, tf.float32)
        draws = keras.random.normal(tf.shape(samples), seed=self.dynamic_layer.seed_generator)
        terms["driven_mmd"] = driven_mmd(samples, draws, self.dynamic_layer.noise_matrix)
        return self.model_config.driven_mmd_weight * terms["driven_mmd"]

    def _readback_term(self, states: tf.Tensor, readings: tf.Tensor,
                       terms: dict[str, tf.Tensor]) -> tf.Tensor:
        """`readback_weight` times how far the encoder reads frames decoded from `states`'
        phase `(m, n)`, with a new handwriting, from how it read the real frames
        (`readings` `(m, n)`, the encoder's means), on the persistent directions. Recorded
        in `terms`.

        The encoder judges with its weights held (a `stateless_call` on their values with
        the gradient stopped), so it cannot learn to read a wrong digit as the right phase;
        the term trains the decoder, and the encoder only through the posterior phase that
        `states` carries in. Training batches only."""
        noise_matrix = self.dynamic_layer.noise_matrix
        draws = keras.random.normal(tf.shape(states), seed=self.dynamic_layer.seed_generator)
        decoded = self.decode(resample_driven(tf.cast(states, tf.float32), noise_matrix,
                                              draws), training=True)
        held = [tf.stop_gradient(variable.value)
                for variable in self.encoder.trainable_variables]
        fixed = [variable.value for variable in self.encoder.non_trainable_variables]
        (read, _), _ = self.encoder.stateless_call(held, fixed, decoded, training=False)
        if self.model_config.readback_loss == "cross_entropy":
            self.model_config.check_readback_period()
            terms["readback"] = readback_confusion(
                read, tf.stop_gradient(readings), self.dynamic_layer.transition_matrix,
                noise_matrix, self.model_config.period)
        else:
            terms["readback"] = readback_error(read, tf.stop_gradient(readings), noise_matrix)
        return self.model_config.readback_weight * terms["readback"]

    def _prediction_term(self, windows: tf.Tensor, state: tf.Tensor, training: bool
                         ) -> tf.Tensor:
        """Decodes the rollout from each window's first state against its later frames."""
        length = windows.shape[1]
        state = self._rollout_start(state, training)
        # Read once: each read of A or B recomputes its matrix exponentials.
        transition = self.dynamic_layer.transition_matrix
        noise = self.dynamic_layer.noise_matrix
        rollout = []
        for _ in range(length - 1):
            innovation = None
            if self.model_config.prediction_noise and training:
                innovation = keras.random.normal(
                    tf.shape(state), seed=self.dynamic_layer.seed_generator)
            state = latent_step(state, transition, noise, innovation)
            rollout.append(state)
        predicted = self.decode(tf.reshape(tf.stack(rollout, axis=1),
                                           [-1, self.latent_dim]), training=training)
        if self.model_config.prediction_sigma == "per_step":
            # One optimal sigma per step k: the mean over k of each step's own likelihood.
            steps = length - 1
            predicted = tf.reshape(predicted, [-1, steps, *self.frame_shape])
            future = tf.cast(windows[:, 1:], predicted.dtype)
            return tf.add_n([tf.reduce_mean(gaussian_negative_log_likelihood(
                future[:, k], predicted[:, k],
                optimal_log_sigma(future[:, k], predicted[:, k], per_channel=True)))
                for k in range(steps)]) / steps
        future = tf.reshape(windows[:, 1:], [-1, *self.frame_shape])
        return tf.reduce_mean(self._observation_term(future, predicted))

    def _rollout_start(self, states: tf.Tensor, training: bool) -> tf.Tensor:
        """The prediction rollout's first states: `c * mu_t`, `c ~ U(1 - shrink, 1)` per row
        in training with `prediction_shrink > 0`, else `mu_t` itself."""
        shrink = self.model_config.prediction_shrink
        if shrink <= 0 or not training:
            return states
        # Scaling commutes with A, so a scaled state runs through the same phases; only its
        # distance from the origin, where the stationary prior also puts states, changes.
        return states * keras.random.uniform(
            (tf.shape(states)[0], 1), minval=1.0 - shrink, maxval=1.0, dtype=states.dtype,
            seed=self.dynamic_layer.seed_generator)

    def _sigma_term(self, targets: tf.Tensor, reconstructions: tf.Tensor
                    ) -> dict[str, tf.Tensor]:
        """`{"sigma": mean sigma of the reconstructions}` when sigma is not fixed, for the
        logs (what a calibrated decoder settled on)."""
        if self.model_config.observation_noise == "fixed":
            return {}
        return {"sigma": tf.reduce_mean(tf.exp(self._log_sigma(targets, reconstructions)))}

    def _update_trackers(self, terms: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        self.loss_tracker.update_state(terms["loss"])
        self.reconstruction_tracker.update_state(terms["reconstruction"])
        self.kl_tracker.update_state(terms["kl"])
        self.residual_tracker.update_state(self.dynamic_layer.stationarity_residual())
        if "prediction" in terms:
            self.prediction_tracker.update_state(terms["prediction"])
        if "sigma" in terms:
            self.sigma_tracker.update_state(terms["sigma"])
        if "phase_dependence" in terms:
            self.phase_dependence_tracker.update_state(terms["phase_dependence"])
        if "driven_mismatch" in terms:
            self.driven_mismatch_tracker.update_state(terms["driven_mismatch"])
        if "readback" in terms:
            self.readback_tracker.update_state(terms["readback"])
        if "driven_mmd" in terms:
            self.driven_mmd_tracker.update_state(terms["driven_mmd"])
        if "frame_mmd" in terms:
            self.frame_mmd_tracker.update_state(terms["frame_mmd"])
        # The driven-prior statistics exist for training batches only.
        results = {metric.name: metric.result() for metric in self.metrics
                   if metric.name not in DRIVEN_PRIOR_LOGS or metric.name in terms}
        if isinstance(tf.distribute.get_strategy(),
                      tf.distribute.MultiWorkerMirroredStrategy):
            # Keras 3 reduces step outputs of a multi-worker strategy with a MEAN over axis 0,
            # which fails on scalars (tensorflow/tensorflow#72388); the values are already
            # synchronised, so a length-1 axis reduces to them.
            results = {name: tf.reshape(value, [1]) for name, value in results.items()}
        return results

    def train_step(self, data: Any) -> dict[str, tf.Tensor]:
        windows = data[0] if isinstance(data, (tuple, list)) else data
        # Under a tf.distribute strategy each replica sees 1/R of the global batch and the
        # optimizer sums the replicas' gradients: dividing by R makes that sum the gradient
        # of the global-batch mean, as on one device. The trackers keep the unscaled loss.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            terms = self._loss_terms(windows, training=True)
            replica_loss = terms["loss"] / replicas
        gradients = tape.gradient(replica_loss, self.trainable_weights)
        self.optimizer.apply(gradients, self.trainable_weights)
        return self._update_trackers(terms)

    def test_step(self, data: Any) -> dict[str, tf.Tensor]:
        windows = data[0] if isinstance(data, (tuple, list)) else data
        return self._update_trackers(self._loss_terms(windows, training=False))

    def get_config(self) -> dict[str, Any]:
        # The ModelConfig's fields as keywords: `from_config` (cls(**config)) rebuilds the
        # ModelConfig from them, so a .keras file holds the whole model configuration.
        config = super().get_config()
        config.update(json.loads(json.dumps(dataclasses.asdict(self.model_config))))
        config["seed"] = self.seed
        return config

