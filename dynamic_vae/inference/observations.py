"""From a clip's frames to per-time-step measurements of the latent state (z_t, R_t).

The encoder's Gaussian posterior of frame t is a noisy measurement of x_t: its mean is z_t and
its (diagonal) covariance is R_t.

- `frame` encoder: each frame is encoded alone; z_t, R_t come straight from it.
- `pair` encoder (the paper): the posterior is over z' = [z1 ; z2] of the pair (y_t, y_{t+1}),
  with x_t = z1 and x_{t+1} = A z1 + B z2. Step t is measured by the first half of pair
  (t, t+1) when both frames are present, else by the pushed-forward second half of pair
  (t-1, t): mean A mu1 + B mu2, covariance A V1 A^T + B V2 B^T. A frame with no present
  neighbour gives no measurement (the pair encoder cannot read a frame alone).

Overlapping pairs are treated as independent measurements, an approximation.
Pure TensorFlow: the frames are a tensor in the model's pixel range.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import tensorflow as tf

if TYPE_CHECKING:
    from dynamic_vae.models.dynamic_vae import DynamicVAE


def latent_measurements(model: DynamicVAE, frames: tf.Tensor, missing: tf.Tensor
                        ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """`(z (T, n), R (T, n, n), missing (T,))` of frames `(T, H, W, C)` in the model's range.

    Rows of missing steps hold zeros and the identity (they are never conditioned on). In
    `pair` mode the returned `missing` also flags frames without a present neighbour.
    """
    frames = tf.convert_to_tensor(frames, dtype=model.compute_dtype)
    missing = tf.convert_to_tensor(missing, dtype=tf.bool)
    n = model.latent_dim
    if model.model_config.encoder_mode == "frame":
        mean, log_variance = model.encoder(frames, training=False)
        covariance = tf.linalg.diag(tf.exp(log_variance))
        return _blank_missing(mean, covariance, missing)

    stacked = tf.concat([frames[:-1], frames[1:]], axis=-1)
    mean, log_variance = model.encoder(stacked, training=False)
    variance = tf.exp(log_variance)
    a = tf.convert_to_tensor(model.dynamic_layer.transition_matrix)
    b = tf.convert_to_tensor(model.dynamic_layer.noise_matrix)
    first_mean, second_noise_mean = mean[:, :n], mean[:, n:]
    first_cov = tf.linalg.diag(variance[:, :n])
    second_mean = (tf.matmul(first_mean, a, transpose_b=True)
                   + tf.matmul(second_noise_mean, b, transpose_b=True))
    second_cov = (tf.matmul(a * variance[:, tf.newaxis, :n], a, transpose_b=True)
                  + tf.matmul(b * variance[:, tf.newaxis, n:], b, transpose_b=True))
    pair_present = tf.logical_not(tf.logical_or(missing[:-1], missing[1:]))
    no = tf.zeros([1], tf.bool)
    # Pad so row t of "first" is pair (t, t+1) and row t of "second" is pair (t-1, t).
    use_first = tf.concat([pair_present, no], axis=0)
    use_second = tf.concat([no, pair_present], axis=0)
    first_mean = tf.pad(first_mean, [[0, 1], [0, 0]])
    first_cov = tf.pad(first_cov, [[0, 1], [0, 0], [0, 0]])
    second_mean = tf.pad(second_mean, [[1, 0], [0, 0]])
    second_cov = tf.pad(second_cov, [[1, 0], [0, 0], [0, 0]])
    measured_mean = tf.where(use_first[:, tf.newaxis], first_mean, second_mean)
    measured_cov = tf.where(use_first[:, tf.newaxis, tf.newaxis], first_cov, second_cov)
    unmeasured = tf.logical_not(tf.logical_or(use_first, use_second))
    return _blank_missing(measured_mean, measured_cov, unmeasured)


def _blank_missing(mean: tf.Tensor, covariance: tf.Tensor, missing: tf.Tensor
                   ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    # Placeholders at missing steps keep the Cholesky factorisation defined.
    n = tf.shape(mean)[-1]
    eye = tf.eye(n, batch_shape=tf.shape(mean)[:1], dtype=mean.dtype)
    mean = tf.where(missing[:, tf.newaxis], tf.zeros_like(mean), mean)
    covariance = tf.where(missing[:, tf.newaxis, tf.newaxis], eye, covariance)
    return mean, covariance, missing
