"""Baselines for Kalman inference with a Dynamic VAE.

- pixel-space linear interpolation between the nearest present frames (impute);
- the same Kalman procedure on the linear dynamic texture (Doretto et al. 2003): its states
  are the PCA coordinates C^T (y - y_bar), so with pixel noise w ~ N(0, s^2 I) a frame measures
  its state with covariance s^2 I (C has orthonormal columns);
- the noise-free rollout A^k x_t from the last frame's state (forecast).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from dynamic_vae.inference.kalman import LatentPosteriors, latent_posteriors


def linear_interpolation(frames: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Missing frames `(T, ...)` interpolated linearly in time between the nearest present
    frames (copied from the nearest one at the clip's ends); float32 in the input's scale."""
    frames = np.asarray(frames, dtype=np.float32)
    missing = np.asarray(missing, dtype=bool)
    present = np.flatnonzero(~missing)
    if present.size == 0:
        raise ValueError("missing: at least one frame must be present")
    flat = frames.reshape(len(frames), -1)
    filled = flat.copy()
    for t in np.flatnonzero(missing):
        before, after = present[present < t], present[present > t]
        if before.size and after.size:
            left, right = before[-1], after[0]
            weight = (t - left) / (right - left)
            filled[t] = (1 - weight) * flat[left] + weight * flat[right]
        else:
            filled[t] = flat[before[-1] if before.size else after[0]]
    return filled.reshape(frames.shape)


def texture_pixel_variance(texture, frames: np.ndarray) -> float:
    """s^2: the mean squared per-pixel residual of the texture's reconstruction of frames."""
    unit = np.asarray(frames, np.float32) / (255.0 if frames.dtype == np.uint8 else 1.0)
    flat = unit.reshape(len(unit), -1)
    states = texture.encode(frames)
    reconstruction = states @ texture.observation_matrix.T + texture.mean_frame
    return float(np.mean((flat - reconstruction) ** 2))


_latent_posteriors = tf.function(latent_posteriors, reduce_retracing=True)


def texture_posteriors(texture, frames: np.ndarray, missing: np.ndarray,
                       pixel_variance: float) -> LatentPosteriors:
    """Kalman filter/smoother on a linear dynamic texture's states of a clip with gaps.

    x_0's prior is the training states' N(0, cov), since PCA states are not unit-scaled.
    """
    states = texture.encode(frames)
    n = states.shape[1]
    covariances = np.broadcast_to(pixel_variance * np.eye(n), (len(states), n, n))
    return _latent_posteriors(
        tf.constant(texture.transition_matrix, tf.float64),
        tf.constant(texture.noise_matrix, tf.float64), tf.constant(states, tf.float64),
        tf.constant(covariances, tf.float64), tf.constant(np.asarray(missing, bool)),
        tf.zeros([n], tf.float64),
        tf.constant(np.cov(texture.states, rowvar=False), tf.float64))
