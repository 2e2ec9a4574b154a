"""The decoder's Gaussian observation noise: fixed, learned, or at its closed-form optimum.

    y = C(x) + w,   w ~ N(0, diag(sigma_c^2)),   c the frame's channel

The negative log-likelihood of a frame, up to the constant (D / 2) log(2 pi), is

    sum_pixels (y - C(x))^2 / (2 sigma_c^2) + sum_c D_c log sigma_c,

D_c the pixels of channel c. With a fixed sigma the second sum is a constant and is dropped,
which gives the paper's `||y - C(x)||^2 / (2 sigma^2)`. A calibrated decoder learns sigma
instead of taking it from the user: either as a trainable `log sigma` (shared or per channel),
or at its optimum for the batch, sigma_c^2 = mean squared error of channel c, which is the
"optimal sigma" of the sigma-VAE. Then the balance between reconstruction and KL follows the
data instead of a hand-set value.

Reference:
- Rybkin, Daniilidis & Levine, "Simple and Effective VAE Training with Calibrated Decoders",
  ICML 2021.
"""

from __future__ import annotations

import tensorflow as tf
# The optimal sigma of a perfect reconstruction is 0; its log is floored here.
MIN_LOG_SIGMA = -6.0


def optimal_log_sigma(targets: tf.Tensor, predictions: tf.Tensor,
                      per_channel: bool = False) -> tf.Tensor:
    """log sigma* = 0.5 log(mean squared error) over the batch (per channel: shape `(C,)`).

    Not differentiated through (sigma-VAE): it is the optimum for the current decoder, and
    the decoder's gradient then sees the error scaled by 1 / sigma*^2.
    """
    squared = tf.square(tf.cast(targets, tf.float32) - tf.cast(predictions, tf.float32))
    axes = list(range(len(squared.shape) - 1)) if per_channel else None
    mse = tf.stop_gradient(tf.reduce_mean(squared, axis=axes))
    return tf.maximum(0.5 * tf.math.log(mse + 1e-12), MIN_LOG_SIGMA)


def gaussian_negative_log_likelihood(targets: tf.Tensor, predictions: tf.Tensor,
                                     log_sigma: tf.Tensor | float,
                                     normalise: bool = True) -> tf.Tensor:
    """Per example (first axis): sum over pixels of (y - y_hat)^2 / (2 sigma^2) + log sigma.

    Args:
        targets: frames `(N, ..., C)`.
        predictions: decoded frames of the same shape.
        log_sigma: a scalar, or `(C,)` for one sigma per channel.
        normalise: add the `log sigma` per pixel (needed whenever sigma is not a constant;
            without it a learned sigma grows without bound).

    Returns:
        `(N,)` negative log-likelihoods, without the constant (D / 2) log(2 pi).
    """
    targets = tf.cast(targets, tf.float32)
    predictions = tf.cast(predictions, tf.float32)
    log_sigma = tf.cast(log_sigma, tf.float32)
    axes = list(range(1, len(predictions.shape)))
    per_pixel = tf.square(targets - predictions) * 0.5 * tf.exp(-2.0 * log_sigma)
    if normalise:
        per_pixel = per_pixel + log_sigma
    return tf.reduce_sum(per_pixel, axis=axes)
