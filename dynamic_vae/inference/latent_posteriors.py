"""The result of Kalman filtering and smoothing a clip."""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf


class LatentPosteriors(NamedTuple):
    """Filtered and smoothed Gaussian marginals of the latent states.

    Means are `(T, n)`, covariances `(T, n, n)`. `filtered_*` condition on the measurements
    up to and including t, `smoothed_*` on all of them.
    """

    filtered_means: tf.Tensor
    filtered_covariances: tf.Tensor
    smoothed_means: tf.Tensor
    smoothed_covariances: tf.Tensor
