"""A dynamic layer whose transition is stationary by construction.

The paper keeps A and B free and adds `lambda ||A A^T + B B^T - I||_F^2` (eq. 34), so the
stationary covariance is I only as closely as the penalty wins against the other terms. Here
every contraction A (spectral norm <= 1) is written through its singular value decomposition
with orthogonal factors from matrix exponentials of skew-symmetric matrices,

    U = U_0 expm(K_u - K_u^T),   V = V_0 expm(K_v - K_v^T),   s = tanh(r)
    A = U diag(s) V^T
    B = U diag(sech(r))

so that A A^T + B B^T = U diag(tanh(r)^2 + sech(r)^2) U^T = U U^T = I for every value of the
trainable K_u, K_v and r, and every eigenvalue of A has modulus <= max |s| < 1. Signed
singular values cover determinants of either sign; U_0 and V_0 are fixed orthogonal bases
(identity, or the singular vectors of an A the layer was set to). B is a square root of
I - A A^T; only B B^T enters the model. The exponentials run a fixed number of operations
(`dynamic_vae.layers.skew_exponential`), so the layer compiles with XLA forward and backward.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from dynamic_vae.layers.dynamic_layer import DynamicLayer
from dynamic_vae.layers.skew_exponential import skew_exponential

# |s| of an A set with `set_transition` is clipped below this, so r = artanh(s) stays finite.
MAX_SINGULAR_VALUE = 1.0 - 1e-6


@keras.saving.register_keras_serializable(package="dynamic_vae")
class StationaryDynamicLayer(DynamicLayer):
    """`DynamicLayer` with A and B parametrised so that A A^T + B B^T = I exactly.

    Call arguments and outputs are those of `DynamicLayer`. The stationarity penalty is zero
    (the constraint holds by construction), so `stationarity_weight` has no effect; it is kept
    so a configuration can switch between the two layers.

    Args:
        latent_dim: `n`.
        posterior: `pair` or `frame` (see `DynamicLayer`).
        stationarity_weight: unused (see above).
        kl_weight: weight of the KL term.
        num_samples: Monte-Carlo samples per pair in training.
        initial_scale: A starts as `initial_scale * I`, B as `sqrt(1 - initial_scale^2) I`.
        seed: seed of the layer's `SeedGenerator`.
        **kwargs: passed to `keras.layers.Layer`.

    Example:
    >>> layer = StationaryDynamicLayer(latent_dim=3, seed=0)
    >>> float(layer.stationarity_residual()) < 1e-5
    True
    """

    def _create_transition_weights(self) -> None:
        n = self.latent_dim
        if not 0.0 <= abs(self.initial_scale) < 1.0:
            raise ValueError(f"initial_scale must lie in (-1, 1) for a stationary transition, "
                             f"got {self.initial_scale}")
        identity = keras.initializers.Identity()
        self.left_basis = self.add_weight(name="left_basis", shape=(n, n),
                                          initializer=identity, trainable=False)
        self.right_basis = self.add_weight(name="right_basis", shape=(n, n),
                                           initializer=identity, trainable=False)
        self.left_generator = self.add_weight(name="left_generator", shape=(n, n),
                                              initializer="zeros")
        self.right_generator = self.add_weight(name="right_generator", shape=(n, n),
                                               initializer="zeros")
        self.singular_logits = self.add_weight(
            name="singular_logits", shape=(n,),
            initializer=keras.initializers.Constant(float(np.arctanh(self.initial_scale))))

    @staticmethod
    def _rotation(basis: tf.Variable, generator: tf.Variable) -> tf.Tensor:
        generator = tf.convert_to_tensor(generator)
        return tf.matmul(tf.convert_to_tensor(basis),
                         skew_exponential(generator - tf.transpose(generator)))

    @property
    def left_factor(self) -> tf.Tensor:
        """U, orthogonal."""
        return self._rotation(self.left_basis, self.left_generator)

    @property
    def singular_values(self) -> tf.Tensor:
        """s = tanh(r), signed, |s| < 1."""
        return tf.tanh(tf.convert_to_tensor(self.singular_logits))

    @property
    def transition_matrix(self) -> tf.Tensor:
        """A = U diag(s) V^T."""
        right = self._rotation(self.right_basis, self.right_generator)
        return tf.matmul(self.left_factor * self.singular_values, right, transpose_b=True)

    @property
    def noise_matrix(self) -> tf.Tensor:
        """B = U diag(sech(r)), so B B^T = I - A A^T."""
        # 1 / cosh(r) rather than sqrt(1 - tanh(r)^2): exact where tanh rounds to 1, with a
        # finite gradient everywhere.
        return self.left_factor / tf.cosh(tf.convert_to_tensor(self.singular_logits))

    def stationarity_penalty(self) -> tf.Tensor:
        return tf.zeros([], dtype=self.singular_logits.dtype)

    def set_transition(self, transition_matrix: Any, noise_matrix: Any = None) -> None:
        """Sets A (its singular values clipped below 1 in modulus); B follows from A, so
        `noise_matrix` is ignored (only B B^T = I - A A^T matters)."""
        a = np.asarray(transition_matrix, dtype=np.float64)
        if a.shape != (self.latent_dim, self.latent_dim):
            raise ValueError(f"transition_matrix: expected shape {(self.latent_dim,) * 2}, "
                             f"got {a.shape}")
        left, singular, right_t = np.linalg.svd(a)
        singular = np.minimum(singular, MAX_SINGULAR_VALUE)
        dtype = self.singular_logits.dtype
        self.left_basis.assign(left.astype(dtype))
        self.right_basis.assign(right_t.T.astype(dtype))
        self.left_generator.assign(np.zeros_like(a, dtype=dtype))
        self.right_generator.assign(np.zeros_like(a, dtype=dtype))
        self.singular_logits.assign(np.arctanh(singular).astype(dtype))
