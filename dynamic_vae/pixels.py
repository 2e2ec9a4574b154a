"""Pixel values between the three scales the package uses.

- uint8 frames, 0..255: files, video, served frames;
- unit frames, float in [0, 1]: what users pass as float frames and what `--float` outputs;
- model frames, float32 in a model's `pixel_range` `(low, high)`: what the networks see and
  produce (`ModelConfig.pixel_range`).

The numpy functions serve the in-process code; the `_tf` twins serve exported graphs, which
must map pixels exactly as in-process synthesis does (a served sequence equals
`synthesize(model, T, seed)`), so both compute in float32 in the same order and round half
to even.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def as_unit_float(frames: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """uint8 (0..255) or float frames in [0, 1] -> float frames in [0, 1] of `dtype`.

    Args:
        frames: an array of any shape.
        dtype: the float dtype of the result.

    Returns:
        uint8 input divided by 255; float input as it is, cast to `dtype`.

    Example:
    >>> as_unit_float(np.array([0, 255], np.uint8))
    array([0., 1.], dtype=float32)
    """
    frames = np.asarray(frames)
    unit = frames.astype(dtype)
    if frames.dtype == np.uint8:
        unit /= dtype(255.0)
    return unit


def to_pixel_range(frames: np.ndarray, pixel_range: tuple[float, float]) -> np.ndarray:
    """uint8 (0..255) or float frames in [0, 1] -> float32 frames in `pixel_range`.

    Args:
        frames: validated frames (see `dynamic_vae.data.frame_pairs.validate_frames`).
        pixel_range: `(low, high)` of the model.

    Returns:
        float32 frames of the same shape.

    Example:
    >>> to_pixel_range(np.array([0, 255], np.uint8), (-1.0, 1.0))
    array([-1.,  1.], dtype=float32)
    """
    low, high = pixel_range
    return as_unit_float(frames) * np.float32(high - low) + np.float32(low)


def to_unit_range(frames: np.ndarray, pixel_range: tuple[float, float]) -> np.ndarray:
    """Frames in `pixel_range` -> float32 in [0, 1], clipping what lies outside the range.

    Args:
        frames: model frames (decoder outputs overshoot the range; they are clipped).
        pixel_range: `(low, high)` of the model.

    Returns:
        float32 frames of the same shape in [0, 1].

    Example:
    >>> to_unit_range(np.array([-2.0, 0.0, 1.0]), (-1.0, 1.0))
    array([0. , 0.5, 1. ], dtype=float32)
    """
    low, high = pixel_range
    unit = (np.asarray(frames, dtype=np.float32) - low) / (high - low)
    return np.clip(unit, 0.0, 1.0).astype(np.float32)


def from_pixel_range(frames: np.ndarray, pixel_range: tuple[float, float]) -> np.ndarray:
    """Frames in `pixel_range` -> uint8 0..255 (clipped to the range, rounded half to even).

    Args:
        frames: model frames.
        pixel_range: `(low, high)` of the model.

    Returns:
        uint8 frames of the same shape.

    Example:
    >>> from_pixel_range(np.array([-1.0, 0.0, 3.0]), (-1.0, 1.0))
    array([  0, 128, 255], dtype=uint8)
    """
    return np.round(to_unit_range(frames, pixel_range) * 255.0).astype(np.uint8)


def to_pixel_range_tf(frames: tf.Tensor, pixel_range: tuple[float, float]) -> tf.Tensor:
    """The graph twin of `to_pixel_range`: uint8 or float32 [0, 1] tensors -> float32 in
    `pixel_range` (the dtype of `frames` says which)."""
    unit = tf.cast(frames, tf.float32)
    if frames.dtype == tf.uint8:
        unit = unit / 255.0
    low, high = pixel_range
    return unit * (high - low) + low


def to_unit_range_tf(frames: tf.Tensor, pixel_range: tuple[float, float]) -> tf.Tensor:
    """The graph twin of `to_unit_range`: float32 model frames -> float32 in [0, 1]."""
    low, high = pixel_range
    return tf.clip_by_value((frames - low) / (high - low), 0.0, 1.0)


def from_pixel_range_tf(frames: tf.Tensor, pixel_range: tuple[float, float]) -> tf.Tensor:
    """The graph twin of `from_pixel_range`: float32 model frames -> uint8 (tf.round rounds
    half to even, as np.round does)."""
    return tf.cast(tf.round(to_unit_range_tf(frames, pixel_range) * 255.0), tf.uint8)
