"""Kalman inference on one clip with a Dynamic VAE: latent smoothing and forecasting.

These are the tensor-in, tensor-out cores of `impute`, `denoise` and `forecast` (usable inside
`tf.function`, e.g. by an exported serving signature): frames are a float tensor `(T, H, W, C)`
in the model's pixel range, `missing` a bool tensor `(T,)`, seeds stateless int32 `(2,)`.
The filter runs in float64: encoder variances can be small enough to lose float32 precision
in the covariance updates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import tensorflow as tf

from dynamic_vae.inference.kalman import (LatentPosteriors, extend_with_missing,
                                          latent_posteriors, posterior_trajectories)
from dynamic_vae.inference.observations import latent_measurements

if TYPE_CHECKING:
    from dynamic_vae.models.dynamic_vae import DynamicVAE

FILTER_DTYPE = tf.float64


def _dynamics(model: DynamicVAE) -> tuple[tf.Tensor, tf.Tensor]:
    return (tf.cast(model.dynamic_layer.transition_matrix, FILTER_DTYPE),
            tf.cast(model.dynamic_layer.noise_matrix, FILTER_DTYPE))


def _measurements(model: DynamicVAE, frames: tf.Tensor, missing: tf.Tensor
                  ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    means, covariances, missing = latent_measurements(model, frames, missing)
    return tf.cast(means, FILTER_DTYPE), tf.cast(covariances, FILTER_DTYPE), missing


def smooth_clip(model: DynamicVAE, frames: tf.Tensor, missing: tf.Tensor) -> LatentPosteriors:
    """Filtered and smoothed latent marginals `(T, n)`, `(T, n, n)` (float64) of a clip."""
    means, covariances, missing = _measurements(model, frames, missing)
    return latent_posteriors(*_dynamics(model), means, covariances, missing)


def forecast_clip(model: DynamicVAE, frames: tf.Tensor, missing: tf.Tensor, steps: int,
                  num_samples: int, seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Latent forecast of the `steps` states after a clip.

    Returns:
        `(means (steps, n), samples (num_samples, steps, n))`, float64: the filtered mean
        A^k m_T and trajectories drawn from p(x_{T..T+steps-1} | clip).
    """
    means, _, samples = forecast_posteriors(model, frames, missing, steps, num_samples, seed)
    return means, samples


def forecast_posteriors(model: DynamicVAE, frames: tf.Tensor, missing: tf.Tensor,
                        steps: int | tf.Tensor, num_samples: int | tf.Tensor, seed: tf.Tensor
                        ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """`forecast_clip` plus the forecast covariances.

    Returns:
        `(means (steps, n), covariances (steps, n, n), samples (num_samples, steps, n))`,
        float64: the predictive marginals p(x_{T+k} | clip) and sampled trajectories.
    """
    return _forecast(model, frames, missing, steps, num_samples, seed)[:3]


def forecast_frames(model: DynamicVAE, frames: tf.Tensor, missing: tf.Tensor,
                    steps: int | tf.Tensor, num_samples: int | tf.Tensor, seed: tf.Tensor
                    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    """`forecast_posteriors` plus the mean frames of the forecast and the residuals of its
    sampled futures.

    The mean frames are the decoded predictive means C(A^k m_T); for a model with a
    residual texture, the means keep its share of the predicted change,
    m_T + lambda_k (A^k m_T - m_T) (`ResidualTexture.shrunk_forecast`; the sampled
    trajectories are moved with them), and its mean forecast of what the decoder leaves out
    (`ResidualTexture.forecast_tensor`) is added, read from the residuals of the clip's last
    two frames against their smoothed means. When either of those frames is missing the
    residual is unknown, and the forecast is the decoded means plus the residuals' mean (the
    texture's offset). A sampled future is its
    decoded trajectory plus a sampled residual (`ResidualTexture.sample_forecast_tensor`:
    the mean forecast plus a texture draw for the detail still to come), so it has the
    clip's fine detail as a synthesised sequence has; the caller decodes the trajectories
    and adds them.

    Args:
        model: a `DynamicVAE`, or anything with its `decode`, `latent_dim`, A and B (the
            exported `SequenceModule`), and optionally a `residual_texture`.
        frames: float `(T, H, W, C)` in the model's pixel range, T >= 2.
        missing: bool `(T,)`, true where a frame is missing.
        steps: K >= 1 frames after the clip.
        num_samples: trajectories to sample.
        seed: int32 `(2,)` stateless seed; the texture draws use it folded with 1.

    Returns:
        `(mean_frames (steps, H, W, C) float32 in the model's pixel range, means, covariances,
        samples, sample_residuals (num_samples, steps, H, W, C) float32, zero without a
        texture)`; means, covariances and samples as `forecast_posteriors` returns them
        (with a texture, the means and samples shrunk as above).
    """
    means, covariances, samples, last_two = _forecast(model, frames, missing, steps,
                                                      num_samples, seed)
    texture = getattr(model, "residual_texture", None)
    frame_shape = tf.shape(frames)[1:]
    if texture is None:
        return (tf.cast(model.decode(tf.cast(means, tf.float32)), tf.float32), means,
                covariances, samples,
                tf.zeros(tf.concat([tf.shape(samples)[:2], frame_shape], 0), tf.float32))
    # The means keep the texture's share of the change the dynamics predict from the last
    # frame's state (its smoothed mean, which is its filtered one); the sampled trajectories
    # move with them, so they stay centred on the forecast.
    shrunk = texture.shrunk_forecast(last_two[1], means,
                                     tf.range(1, tf.cast(steps, tf.int32) + 1))
    samples = samples + (shrunk - means)[tf.newaxis]
    means = shrunk
    # One decoder call for the forecast's means and the last two frames' smoothed means.
    both = tf.cast(model.decode(tf.cast(tf.concat([means, last_two], 0), tf.float32)),
                   tf.float32)
    decoded, smoothed = both[:-2], both[-2:]
    residuals = tf.cast(frames[-2:], tf.float32) - smoothed
    forecast = texture.forecast_tensor(residuals[1], residuals[0], steps)
    known = tf.logical_not(tf.reduce_any(missing[-2:]))
    sampled = texture.sample_forecast_tensor(
        residuals[1], residuals[0], steps, tf.shape(samples)[0],
        tf.random.experimental.stateless_fold_in(seed, 1), known)
    # Without the last two frames' residuals the mean residual is the texture's offset, the
    # centre the sampled residuals then spread about.
    offset = tf.cast(texture.offset.value, tf.float32)[tf.newaxis]
    added = tf.where(known, forecast, offset)
    return (decoded + tf.reshape(added, tf.shape(decoded)),
            means, covariances, samples,
            tf.reshape(sampled, tf.concat([tf.shape(samples)[:2], frame_shape], 0)))


def _forecast(model: DynamicVAE, frames: tf.Tensor, missing: tf.Tensor,
              steps: int | tf.Tensor, num_samples: int | tf.Tensor, seed: tf.Tensor
              ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    """The forecast's marginals and samples, and the smoothed means `(2, n)` of the clip's
    last two frames."""
    means, covariances, missing = extend_with_missing(
        *_measurements(model, frames, missing), steps)
    a, b = _dynamics(model)
    posteriors = latent_posteriors(a, b, means, covariances, missing)
    future = tf.shape(means)[0] - steps
    samples = posterior_trajectories(a, b, means, covariances, missing, num_samples, seed)
    return (posteriors.filtered_means[future:], posteriors.filtered_covariances[future:],
            samples[:, future:], posteriors.smoothed_means[future - 2:future])


def impute_samples(model: DynamicVAE, frames: tf.Tensor, missing: tf.Tensor, num_samples: int,
                   seed: tf.Tensor) -> tf.Tensor:
    """Latent trajectories `(num_samples, T, n)` drawn from p(x_0..x_{T-1} | present frames)."""
    means, covariances, missing = _measurements(model, frames, missing)
    return posterior_trajectories(*_dynamics(model), means, covariances, missing, num_samples,
                                  seed)
