"""Forecast, impute and denoise video with Kalman inference in a Dynamic VAE's latent space.

Frames go in and come out as numpy arrays `(T, H, W[, C])`, uint8 or float in [0, 1] (like
training frames); the latent inference is `dynamic_vae.inference.clip`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf

from dynamic_vae.data.frame_pairs import validate_frames
from dynamic_vae.pixels import as_unit_float, from_pixel_range, to_pixel_range, to_unit_range
from dynamic_vae.inference.clip import forecast_frames, impute_samples, smooth_clip
from dynamic_vae.inference.masks import missing_mask
from dynamic_vae.synthesis import decode_in_batches

if TYPE_CHECKING:
    from dynamic_vae.models.dynamic_vae import DynamicVAE

# Compiled once per model and clip length; eager TFP filtering is several times slower.
_smooth_clip = tf.function(smooth_clip, reduce_retracing=True)
_forecast_frames = tf.function(forecast_frames, reduce_retracing=True)
_impute_samples = tf.function(impute_samples, reduce_retracing=True)


def _clip(model: DynamicVAE, frames: np.ndarray, name: str) -> np.ndarray:
    frames = validate_frames(np.asarray(frames), name=name)
    if frames.shape[1:] != tuple(model.frame_shape):
        raise ValueError(f"{name}: the model works on frames of shape "
                         f"{tuple(model.frame_shape)}, got frames of shape {frames.shape[1:]}")
    return to_pixel_range(frames, model.pixel_range)


def _seed(seed: int) -> tf.Tensor:
    return tf.constant([int(seed) % (2**31 - 1), 0], dtype=tf.int32)


def _output(model: DynamicVAE, latents: np.ndarray, as_uint8: bool) -> np.ndarray:
    return _frames_out(model, decode_in_batches(model, np.asarray(latents, np.float32)),
                       as_uint8)


def _frames_out(model: DynamicVAE, frames: np.ndarray, as_uint8: bool) -> np.ndarray:
    """Frames in the model's pixel range -> uint8 or float32 in [0, 1], clipped."""
    if as_uint8:
        return from_pixel_range(frames, model.pixel_range)
    return to_unit_range(frames, model.pixel_range)


def forecast(model: DynamicVAE, frames: np.ndarray, steps: int, num_samples: int = 0,
             seed: int = 0,
             missing: np.ndarray | Sequence[int] | None = (), as_uint8: bool = True
             ) -> tuple[np.ndarray, np.ndarray]:
    """The `steps` frames after a clip.

    Args:
        model: a trained `DynamicVAE`.
        frames: the observed clip `(T, H, W[, C])`, T >= 2.
        steps: frames to forecast, >= 1.
        num_samples: sampled futures to draw besides the mean.
        seed: the same seed gives the same samples.
        missing: frames of the clip to ignore (see `missing_mask`; default none).
        as_uint8: uint8 0..255 output (else float32 in [0, 1]).

    Returns:
        `(mean (steps, H, W, C), samples (num_samples, steps, H, W, C))`: the mean forecast,
        C(A^k m_T) (for a model with a residual texture, C(m_T + lambda_k (A^k m_T - m_T))
        with the texture's shares, plus its mean forecast of the residual of the clip's last
        two frames: `dynamic_vae.inference.clip.forecast_frames`), and decoded trajectories
        sampled from p(future | clip), moved with the shrunk means and each frame with a
        sampled residual for a model with a texture (the mean forecast of the residual plus
        a texture draw for the detail still to come).
    """
    clip = _clip(model, frames, "frames")
    if int(steps) < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if int(num_samples) < 0:
        raise ValueError(f"num_samples must be >= 0, got {num_samples}")
    mask = missing_mask(len(clip), missing, name="missing")
    mean_frames, _, _, samples, residuals = _forecast_frames(
        model, tf.constant(clip), tf.constant(mask), int(steps), int(num_samples), _seed(seed))
    sampled_frames = decode_in_batches(model, samples.numpy().astype(np.float32)) + (
        residuals.numpy())
    return _frames_out(model, mean_frames.numpy(), as_uint8), _frames_out(
        model, sampled_frames, as_uint8)


def impute(model: DynamicVAE, frames: np.ndarray,
           missing: np.ndarray | Sequence[int] | None = None,
           keep_observed: bool = True, num_samples: int = 0, seed: int = 0,
           as_uint8: bool = True) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Fills the missing frames of a clip with their smoothed estimates C(E[x_t | clip]).

    Args:
        model: a trained `DynamicVAE`.
        frames: the clip `(T, H, W[, C])`; missing frames may hold anything.
        missing: a bool mask `(T,)` (true = missing) or frame indices; `None` treats blank
            (all-zero) frames as missing.
        keep_observed: return the given frames where they are present (else every frame is
            the decoded smoothed state).
        num_samples: also return this many imputations sampled from p(x | clip).
        seed: seeds the samples.
        as_uint8: uint8 0..255 output (else float32 in [0, 1]).

    Returns:
        The imputed clip `(T, H, W, C)`; with `num_samples > 0`, `(clip, samples
        (num_samples, T, H, W, C))`.
    """
    clip = _clip(model, frames, "frames")
    mask = missing_mask(len(clip), missing, frames=frames, name="missing")
    posteriors = _smooth_clip(model, tf.constant(clip), tf.constant(mask))
    imputed = _output(model, posteriors.smoothed_means.numpy(), as_uint8)
    if keep_observed:
        given = as_unit_float(validate_frames(np.asarray(frames), name="frames"))
        given = from_pixel_range(given, (0.0, 1.0)) if as_uint8 else given
        imputed[~mask] = given[~mask]
    if int(num_samples) <= 0:
        return imputed
    samples = _impute_samples(model, tf.constant(clip), tf.constant(mask), int(num_samples),
                             _seed(seed))
    return imputed, _output(model, samples.numpy(), as_uint8)


def denoise(model: DynamicVAE, noisy_frames: np.ndarray, as_uint8: bool = True) -> np.ndarray:
    """Every frame of a noisy clip replaced by C(E[x_t | whole clip]), `(T, H, W, C)`."""
    clip = _clip(model, noisy_frames, "noisy_frames")
    posteriors = _smooth_clip(model, tf.constant(clip), tf.zeros([len(clip)], tf.bool))
    return _output(model, posteriors.smoothed_means.numpy(), as_uint8)
