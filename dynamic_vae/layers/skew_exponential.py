"""The matrix exponential of a skew-symmetric matrix, in a fixed number of operations.

`tf.linalg.expm` picks its number of squarings at run time inside a `tf.while_loop` with no
maximum iteration count, and the gradient of such a loop cannot be compiled by XLA (it needs a
fixed tensor-list size). This version always runs the same operations, so it compiles forward
and backward:

    s = clip(ceil(log2(||S||_1 / theta)), 0, MAX_SQUARINGS)      (scaling)
    E = sum_{k=0}^{TAYLOR_ORDER} (S / 2^s)^k / k!                (Horner's rule)
    expm(S) = E^(2^s)                                            (MAX_SQUARINGS squarings,
                                                                  the first s of them kept)

With ||S / 2^s||_1 <= theta = 1, the Taylor remainder is below theta^(ORDER+1) / (ORDER+1)!
~ 1e-12, far under float32's precision, so the result is orthogonal to rounding for every
skew-symmetric S whose 1-norm is below theta * 2^MAX_SQUARINGS (32768 here; a rotation
generator that large turns every plane thousands of times and never arises in training).
The skipped squarings cost a few n x n products of a latent-sized matrix, which is nothing
beside the networks.

Reference:
    Higham, "The scaling and squaring method for the matrix exponential revisited", SIAM J.
    Matrix Anal. Appl. 26(4), 2005.
"""

from __future__ import annotations

import tensorflow as tf

# Squarings available; the scaling uses as many as the generator's norm needs.
MAX_SQUARINGS = 15
# Degree of the Taylor polynomial on the scaled generator.
TAYLOR_ORDER = 14
# The scaled generator's 1-norm is at most this.
SCALED_NORM = 1.0


def skew_exponential(skew: tf.Tensor) -> tf.Tensor:
    """expm(S) for a square S (skew-symmetric in this project's use) with static shape.

    Args:
        skew: an `(n, n)` float tensor.

    Returns:
        The `(n, n)` matrix exponential, orthogonal when `skew` is skew-symmetric.

    Example:
    >>> import numpy as np
    >>> s = tf.constant([[0.0, -np.pi / 2], [np.pi / 2, 0.0]])
    >>> np.round(skew_exponential(s).numpy(), 6).tolist()
    [[0.0, -1.0], [1.0, 0.0]]
    """
    skew = tf.convert_to_tensor(skew)
    dtype = skew.dtype
    # In float64: each squaring doubles the rounding error, and the result must be orthogonal
    # to float32's precision after as many as the norm needs. The matrix is latent-sized.
    skew = tf.cast(skew, tf.float64)
    n = skew.shape[-1]
    identity = tf.eye(n, dtype=skew.dtype)
    norm = tf.reduce_max(tf.reduce_sum(tf.abs(skew), axis=-2))
    # No gradient flows through the (piecewise constant) number of squarings.
    squarings = tf.stop_gradient(tf.clip_by_value(
        tf.math.ceil(tf.math.log(norm / SCALED_NORM) / tf.math.log(tf.constant(2.0, tf.float64))),
        0.0, float(MAX_SQUARINGS)))
    scaled = skew * tf.pow(tf.constant(2.0, tf.float64), -squarings)
    # Horner: I + X (I + X/2 (I + X/3 (... (I + X/m)))).
    exponential = identity
    for k in range(TAYLOR_ORDER, 0, -1):
        exponential = identity + tf.matmul(scaled, exponential) / k
    for step in range(MAX_SQUARINGS):
        exponential = tf.where(step < squarings, tf.matmul(exponential, exponential),
                               exponential)
    return tf.cast(exponential, dtype)
