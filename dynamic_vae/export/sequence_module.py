"""The `tf.Module` an export writes: a trained Dynamic VAE's parts and the graph helpers that
every serving signature is built from.

Signatures are built by the functions in `dynamic_vae.export.signatures` (or by other modules
that register their own); they all share the pixel conversion, the bounds check on
`num_frames` and the latent rollout defined here, so every signature treats frames and seeds
the same way.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from dynamic_vae.layers.latent_step import latent_rollout
from dynamic_vae.models.residual_texture import sample_texture
from dynamic_vae.models.start_states import pick_start_states, snap_to_start_states
from dynamic_vae.pixels import from_pixel_range_tf, to_pixel_range_tf, to_unit_range_tf
# Folding seeds as the in-process synthesis does makes a served sequence identical to
# `synthesize(model, T, seed)`.
from dynamic_vae.synthesis import SEED_MODULUS

FRAME_DTYPES = ("uint8", "float32")


class SequenceModule(tf.Module):
    """A trained `DynamicVAE` packaged for `tf.saved_model.save`.

    Only the backing variables of the encoder, decoder and dynamic layer are tracked (not
    the layers, not the optimizer), so the SavedModel holds the weights that serving needs and
    nothing else, and loads both through `tf.saved_model.load` and through TF Serving's
    graph-mode C++ loader.

    Args:
        model: a trained `DynamicVAE`.
        max_frames: the largest `num_frames` a request may ask for.
        frames_dtype: `uint8` (0..255, the default) or `float32` (in [0, 1]) for frames going
            in and out of the signatures.
        name: the module's name.

    Example:
    >>> module = SequenceModule(model, max_frames=256)
    >>> module.rollout(tf.zeros([1, 10]), tf.constant(5), tf.constant(3, tf.int64))

    Reference:
    - Sagel & Shen, "Linearizing Visual Processes with Convolutional Variational
      Autoencoders", arXiv 1803.07488 (2018), eq. (35).
    """

    def __init__(self, model, max_frames: int = 1024, frames_dtype: str = "uint8",
                 name: str | None = "dynamic_vae") -> None:
        super().__init__(name=name)
        if int(max_frames) < 1:
            raise ValueError(f"max_frames must be >= 1, got {max_frames}")
        if frames_dtype not in FRAME_DTYPES:
            raise ValueError(f"frames_dtype must be one of {FRAME_DTYPES}, got {frames_dtype!r}")
        # The Keras layers sit behind a plain object, out of tf.Module's reach: tracked, each
        # Keras variable would export a second resource beside its backing tf.Variable, the
        # checkpoint would restore one and the functions read the other, and a graph-mode
        # loader (TF Serving's C++ LoadSavedModel) would find the variables uninitialised.
        # The module tracks the backing tf.Variables only, as keras.export.ExportArchive does:
        # the ones the traced functions capture are exactly the ones the checkpoint restores.
        self._parts = _ModelParts(model)
        self.model_variables = [variable.value for layer in self._parts.layers()
                                for variable in layer.variables]
        self.max_frames = int(max_frames)
        self.frames_dtype = frames_dtype
        self.frame_shape = tuple(int(v) for v in model.frame_shape)
        self.latent_dim = int(model.latent_dim)
        self.pixel_range = tuple(float(v) for v in model.pixel_range)
        # With these two the module reads like the model to the Kalman maths in
        # dynamic_vae.inference (written against DynamicVAE), so signatures reuse it as is.
        self.model_config = model.model_config
        self.compute_dtype = model.compute_dtype
        # A and B as the model computes them in process, stored with the export: a layer that
        # derives them from other parameters (the stationary form) would otherwise compute them
        # again in the serving graph, where fused kernels may round differently, and a served
        # sequence would no longer be the in-process one to the last bit.
        transition, noise = model.transition()
        self.transition_values = tf.Variable(transition, trainable=False,
                                             name="transition_matrix")
        self.noise_values = tf.Variable(noise, trainable=False, name="noise_matrix")

    @property
    def encoder(self):
        return self._parts.encoder

    @property
    def decoder(self):
        return self._parts.decoder

    @property
    def dynamic_layer(self):
        return self._parts.dynamic_layer

    # --- specs signature builders use ----------------------------------------------------

    @property
    def frame_tf_dtype(self) -> tf.DType:
        return tf.as_dtype(self.frames_dtype)

    def frames_spec(self, *leading: int | None, name: str) -> tf.TensorSpec:
        return tf.TensorSpec([*leading, *self.frame_shape], self.frame_tf_dtype, name=name)

    # --- graph helpers ------------------------------------------------------------------

    @property
    def transition_matrix(self) -> tf.Tensor:
        return tf.convert_to_tensor(self.transition_values)

    @property
    def noise_matrix(self) -> tf.Tensor:
        return tf.convert_to_tensor(self.noise_values)

    def checked_num_frames(self, num_frames: tf.Tensor) -> tf.Tensor:
        """`num_frames` once it is known to lie in [1, max_frames].

        The returned tensor depends on the assertions, so nothing sized by it is allocated
        before they pass: a huge request fails with InvalidArgument, never out of memory.
        """
        checks = [
            tf.debugging.assert_greater_equal(
                num_frames, tf.constant(1, num_frames.dtype),
                message="num_frames must be >= 1"),
            tf.debugging.assert_less_equal(
                num_frames, tf.constant(self.max_frames, num_frames.dtype),
                message=f"num_frames must be <= max_frames = {self.max_frames} (set at export "
                        "with --max-frames)"),
        ]
        with tf.control_dependencies(checks):
            return tf.identity(num_frames)

    def to_model_pixels(self, frames: tf.Tensor) -> tf.Tensor:
        """Input frames (uint8 0..255 or float32 in [0, 1]) -> float32 in the pixel range."""
        return to_pixel_range_tf(tf.cast(frames, self.frame_tf_dtype), self.pixel_range)

    def to_output_frames(self, frames: tf.Tensor) -> tf.Tensor:
        """Model-range frames -> the export's frame dtype (clipped to the pixel range)."""
        if self.frames_dtype == "uint8":
            return from_pixel_range_tf(frames, self.pixel_range)
        return to_unit_range_tf(frames, self.pixel_range)

    @property
    def residual_texture(self) -> Any:
        """The model's `ResidualTexture`, or None: the Kalman forecast adds its forecast."""
        return self._parts.residual_texture

    def decode(self, latents: tf.Tensor) -> tf.Tensor:
        """Frames in the model's pixel range, as `DynamicVAE.decode`.

        Args:
            latents: `(N, n)` float32 states.

        Returns:
            `(N, H, W, C)` float32 frames.
        """
        return self.decoder(latents, training=False)

    def decode_frames(self, latents: tf.Tensor) -> tf.Tensor:
        """Frames `(N, H, W, C)` in the export's frame dtype from latents `(N, n)`."""
        return self.to_output_frames(self.decode(latents))

    def synthesised_frames(self, latents: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """Frames of a synthesised sequence from its latents `(T, n)`: the decoded means plus,
        when the model has a residual texture, its draw from `seed` (as `synthesize` adds)."""
        means = self.decoder(latents, training=False)
        texture = self._parts.residual_texture
        if texture is None:
            return self.to_output_frames(means)
        folded = tf.cast(tf.math.floormod(seed, SEED_MODULUS), tf.int32)
        residuals = sample_texture(texture.basis.value, texture.persistence.value,
                                   texture.offset.value, tf.constant(1), tf.shape(latents)[0],
                                   tf.stack([folded, 1]))
        return self.to_output_frames(means + tf.reshape(residuals, tf.shape(means)))

    def encode_pairs(self, frame_pairs: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Posterior mean and log-variance `(N, 2n)` of frame pairs `(N, 2, H, W, C)`."""
        return self._parts.model.encode(self.to_model_pixels(frame_pairs))

    def initial_state(self, frame_pair: tf.Tensor) -> tf.Tensor:
        """x_0 `(1, n)`: the first half of the posterior mean of one pair `(2, H, W, C)` (the
        smoother's, for a smoothed posterior), brought onto the cycle of the stored start
        states when the model has them and a locked period: as `synthesize` starts from a
        pair."""
        model = self._parts.model
        states = model.encode_states(self.to_model_pixels(frame_pair[tf.newaxis]))
        states = tf.cast(states[:, :self.latent_dim], tf.float32)
        starts = self._parts.start_states
        if starts is None or model.model_config.period < 3:
            return states
        return snap_to_start_states(states, starts.states.value, self.noise_matrix)

    def split_seed(self, seed: tf.Tensor) -> tf.Tensor:
        """Two stateless seeds `(2, 2)` from an int64 scalar seed: [x_0, innovations]."""
        folded = tf.cast(tf.math.floormod(seed, SEED_MODULUS), tf.int32)
        return tf.random.experimental.stateless_split(tf.stack([folded, 0]), 2)

    def stationary_state(self, seed: tf.Tensor) -> tf.Tensor:
        """x_0 ~ N(0, I) `(1, n)`, the stationary distribution of the latent process."""
        return tf.random.stateless_normal([1, self.latent_dim], seed=self.split_seed(seed)[0])

    def start_state(self, seed: tf.Tensor) -> tf.Tensor:
        """x_0 `(1, n)` of a sequence started from no frame pair, as `synthesize` starts it:
        one of the model's stored start states picked by `seed`, or x_0 ~ N(0, I) for a model
        without them."""
        starts = self._parts.start_states
        if starts is None:
            return self.stationary_state(seed)
        folded = tf.cast(tf.math.floormod(seed, SEED_MODULUS), tf.int32)
        return pick_start_states(starts.states.value, tf.constant(1), tf.stack([folded, 2]))

    def rollout(self, initial_state: tf.Tensor, num_frames: tf.Tensor,
                seed: tf.Tensor) -> tf.Tensor:
        """Latents `(num_frames, n)` of x_{t+1} = A x_t + B v_t from x_0 `(1, n)`.

        The innovations are drawn statelessly from `seed`: the same seed gives the same
        trajectory on every call and every server.
        """
        num_frames = self.checked_num_frames(num_frames)
        noise = tf.random.stateless_normal(
            tf.stack([num_frames - 1, 1, self.latent_dim]), seed=self.split_seed(seed)[1])
        states = latent_rollout(initial_state, noise, self.transition_matrix, self.noise_matrix)
        return tf.reshape(states, [-1, self.latent_dim])


class _ModelParts:
    """The trained model's layers, held where `tf.Module` does not track them (a plain
    object is not trackable): `SequenceModule` saves their backing variables instead."""

    def __init__(self, model) -> None:
        self.model = model
        self.encoder = model.encoder
        self.decoder = model.decoder
        self.dynamic_layer = model.dynamic_layer
        self.residual_texture = getattr(model, "residual_texture", None)
        self.start_states = getattr(model, "start_states", None)

    def layers(self) -> tuple:
        extras = tuple(layer for layer in (self.residual_texture, self.start_states)
                       if layer is not None)
        return (self.encoder, self.decoder, self.dynamic_layer, *extras)
