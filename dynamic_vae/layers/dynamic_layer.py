"""The dynamic layer of the Dynamic VAE: posterior sampling, KL term and linear transition.

Generative model (Sagel & Shen 2018, eqs. 30-35), latent states x_t in R^n:

    x_t       ~ N(0, I)                                   (stationary marginal)
    x_{t+1}   = A x_t + B v_t,   v_t ~ N(0, I)            (A: transition_matrix, B: noise_matrix)
    y_t       = C(x_t) + w_t,    w_t ~ N(0, sigma^2 I)    (C: the decoder network)

so a pair of consecutive states is jointly Gaussian,

    [x_t ; x_{t+1}] = h(z') = [z1 ; A z1 + B z2],   z' = [z1 ; z2] ~ N(0, I_2n)
                    ~ N(0, [[I, A^T], [A, A A^T + B B^T]]),

which is eq. (32) when A A^T + B B^T = I; the penalty lambda * ||A A^T + B B^T - I||_F^2 of
eq. (34) pulls the layer there.

Two posterior parametrisations are supported:
- `pair` (the paper): the encoder's 2n-dim Gaussian is over z'; KL is against N(0, I_2n) and the
  sample is mapped through h.
- `frame`: the encoder's 2n-dim Gaussian is directly over [x_t ; x_{t+1}] (each half produced by
  the same per-frame encoder); KL is against the joint prior h#N(0, I_2n) above, so the code of a
  frame does not depend on which neighbour it is paired with and A must carry the dynamics.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from dynamic_vae.layers.latent_step import latent_step

tfd = tfp.distributions

INITIAL_SCALE = 0.70711


@keras.saving.register_keras_serializable(package="dynamic_vae")
class DynamicLayer(keras.layers.Layer):
    """Samples the pair posterior, adds its KL and the stationarity penalty, applies eq. (33).

    Call arguments:
        inputs: list `[mean, log_variance]`, each `(batch, 2 * latent_dim)`.
        training: sample the posterior when true; use its mean when false (unless `sample`).
        sample: overrides `training` for the choice between a sample and the mean.

    Returns:
        Latent pairs `(num_samples * batch, 2 * latent_dim)` in x-space, `[x_t ; x_{t+1}]`,
        sample-major (all batch rows of sample 0 first). With the posterior mean,
        `num_samples` is 1.

    Args:
        latent_dim: `n`.
        posterior: `pair` or `frame` (see the module docstring).
        stationarity_weight: `lambda` in eq. (34).
        kl_weight: weight of the KL term added with `add_loss`.
        num_samples: Monte-Carlo samples per pair in training.
        initial_scale: A and B start as `initial_scale * I` (1/sqrt(2) satisfies eq. 34).
        seed: seed of the layer's `SeedGenerator`.
        **kwargs: passed to `keras.layers.Layer`.

    Example:
    >>> layer = DynamicLayer(latent_dim=2, seed=1)
    >>> mean = np.zeros((3, 4), "float32"); log_variance = np.zeros((3, 4), "float32")
    >>> layer([mean, log_variance], training=True).shape
    TensorShape([3, 4])

    Reference:
    - Sagel & Shen, "Linearizing Visual Processes with Convolutional Variational
      Autoencoders", arXiv 1803.07488 (2018), eqs. (28), (32)-(34).
    """

    def __init__(
        self,
        latent_dim: int,
        posterior: str = "pair",
        stationarity_weight: float = 100.0,
        kl_weight: float = 1.0,
        num_samples: int = 1,
        initial_scale: float = INITIAL_SCALE,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if posterior not in ("pair", "frame"):
            raise ValueError(f"posterior must be 'pair' or 'frame', got {posterior!r}")
        if int(num_samples) < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        self.latent_dim = int(latent_dim)
        self.posterior = posterior
        self.stationarity_weight = float(stationarity_weight)
        self.kl_weight = float(kl_weight)
        self.num_samples = int(num_samples)
        self.initial_scale = float(initial_scale)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        # Multiplies kl_weight; a warm-up schedule ramps it from 0 to 1 during training.
        self.kl_schedule = self.add_weight(
            name="kl_schedule", shape=(), initializer="ones", trainable=False)
        self._create_transition_weights()

    def _create_transition_weights(self) -> None:
        """A and B themselves, free parameters held near stationarity by the penalty."""
        self.transition_matrix = self.add_weight(
            name="transition_matrix", shape=(self.latent_dim, self.latent_dim),
            initializer=keras.initializers.Identity(gain=self.initial_scale))
        self.noise_matrix = self.add_weight(
            name="noise_matrix", shape=(self.latent_dim, self.latent_dim),
            initializer=keras.initializers.Identity(gain=self.initial_scale))

    def set_transition(self, transition_matrix: Any, noise_matrix: Any) -> None:
        """Sets A and B (e.g. a closed-form start, or a warm start's values)."""
        self.transition_matrix.assign(tf.cast(transition_matrix, self.transition_matrix.dtype))
        self.noise_matrix.assign(tf.cast(noise_matrix, self.noise_matrix.dtype))

    def build(self, input_shape: Any) -> None:
        # The weights are created in __init__ so the layer is usable (synthesis, export)
        # before it has seen data.
        self.built = True

    # --- the maths, usable on their own -------------------------------------------------

    def stationarity_gap(self) -> tf.Tensor:
        """A A^T + B B^T - I."""
        a = tf.convert_to_tensor(self.transition_matrix)
        b = tf.convert_to_tensor(self.noise_matrix)
        return (tf.matmul(a, a, transpose_b=True) + tf.matmul(b, b, transpose_b=True)
                - tf.eye(self.latent_dim, dtype=a.dtype))

    def stationarity_residual(self) -> tf.Tensor:
        """||A A^T + B B^T - I||_F (unsquared, unweighted)."""
        return tf.sqrt(tf.reduce_sum(tf.square(self.stationarity_gap())))

    def stationarity_penalty(self) -> tf.Tensor:
        """lambda * ||A A^T + B B^T - I||_F^2 (eq. 34)."""
        return self.stationarity_weight * tf.reduce_sum(tf.square(self.stationarity_gap()))

    def joint_prior_scale(self) -> tf.linalg.LinearOperator:
        """A square root of the joint prior covariance: [[I, 0], [A, L]] with L L^T = B B^T.

        h = [[I, 0], [A, B]] itself is one, but only B B^T enters the distribution, and its
        Cholesky factor L gives a triangular operator whose solve and log-determinant XLA can
        compile (XLA has no general log-determinant kernel).
        """
        n = self.latent_dim
        a = tf.convert_to_tensor(self.transition_matrix)
        b = tf.convert_to_tensor(self.noise_matrix)
        noise_covariance = tf.matmul(b, b, transpose_b=True)
        # The jitter keeps the factorisation defined if B loses rank (a pure rotation).
        noise_covariance += 1e-6 * tf.eye(n, dtype=b.dtype)
        return tf.linalg.LinearOperatorBlockLowerTriangular([
            [tf.linalg.LinearOperatorIdentity(n, dtype=a.dtype)],
            [tf.linalg.LinearOperatorFullMatrix(a),
             tf.linalg.LinearOperatorLowerTriangular(tf.linalg.cholesky(noise_covariance))],
        ])

    def prior(self) -> tfd.Distribution:
        """The prior the posterior's KL is taken against, in the posterior's own space."""
        dtype = self.transition_matrix.dtype
        loc = tf.zeros([2 * self.latent_dim], dtype=dtype)
        if self.posterior == "pair":
            return tfd.MultivariateNormalDiag(loc=loc, scale_diag=tf.ones_like(loc))
        return tfd.MultivariateNormalLinearOperator(loc=loc, scale=self.joint_prior_scale())

    def posterior_distribution(self, mean: tf.Tensor, log_variance: tf.Tensor) -> tfd.Distribution:
        return tfd.MultivariateNormalDiag(loc=mean, scale_diag=tf.exp(0.5 * log_variance))

    def kl_divergence(self, mean: tf.Tensor, log_variance: tf.Tensor) -> tf.Tensor:
        """KL(q(.|pair) || prior) per pair, shape `(batch,)`."""
        return tfd.kl_divergence(self.posterior_distribution(mean, log_variance), self.prior())

    def transition(self, z: tf.Tensor) -> tf.Tensor:
        """h([z1 ; z2]) = [z1 ; A z1 + B z2] (eq. 33) on the last axis."""
        n = self.latent_dim
        z1, z2 = z[..., :n], z[..., n:]
        x_next = latent_step(z1, self.transition_matrix, self.noise_matrix, z2)
        return tf.concat([z1, x_next], axis=-1)

    def to_state_space(self, z: tf.Tensor) -> tf.Tensor:
        """Maps posterior-space vectors to [x_t ; x_{t+1}]."""
        return self.transition(z) if self.posterior == "pair" else z

    def _stateless_seed(self) -> tf.Tensor:
        # Keras keeps the generator state as int64 and TFP's stateless samplers take int32
        # seeds only; folding into [0, 2^31 - 1) keeps the seed valid and deterministic.
        seed = self.seed_generator.next()
        return tf.cast(tf.math.floormod(seed, 2**31 - 1), tf.int32)

    # --- Keras -------------------------------------------------------------------------------

    def call(self, inputs: list[tf.Tensor], training: bool | None = None,
             sample: bool | None = None) -> tf.Tensor:
        mean, log_variance = inputs
        posterior = self.posterior_distribution(mean, log_variance)
        kl = tfd.kl_divergence(posterior, self.prior())
        self.add_loss(self.kl_weight * self.kl_schedule * tf.reduce_mean(kl))
        self.add_loss(self.stationarity_penalty())
        if sample is None:
            sample = bool(training)
        if sample:
            z = posterior.sample(self.num_samples, seed=self._stateless_seed())
            z = tf.reshape(z, [-1, 2 * self.latent_dim])
        else:
            z = mean
        return self.to_state_space(z)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        # With sampling the batch grows by num_samples; without it, it does not.
        batch = input_shape[0][0] if self.num_samples == 1 else None
        return (batch, 2 * self.latent_dim)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({
            "latent_dim": self.latent_dim,
            "posterior": self.posterior,
            "stationarity_weight": self.stationarity_weight,
            "kl_weight": self.kl_weight,
            "num_samples": self.num_samples,
            "initial_scale": self.initial_scale,
            "seed": self.seed,
        })
        return config
