"""Pose-advance accuracy: does a synthesised rotation turn by the step it was trained on?

Each synthesised frame is given the pose of its nearest true view of the same object (views
form a circle: the last is followed by the first); a step of the sequence is correct when the
pose advances by the trained step, up to `tolerance` views either way, and does move (in the
trained direction).

Example:

    views = coil[object_id]                        # (72, 32, 32) uint8, 5 degrees apart
    accuracy = pose_advance_accuracy(synthesised, views, step=4)   # a 20 degree model
"""

from __future__ import annotations

import numpy as np

from dynamic_vae.baseline.fourier_loop import FourierLoop
from dynamic_vae.pixels import as_unit_float


def _unit_frames(frames: np.ndarray, name: str) -> tuple[np.ndarray, tuple[int, ...]]:
    """`((N, H*W*C) float64 in [0, 1], (H, W, C))` from uint8 or float frames."""
    frames = np.asarray(frames)
    if frames.ndim not in (3, 4):
        raise ValueError(f"{name}: expected frames (N, H, W) or (N, H, W, C), got shape "
                         f"{frames.shape}")
    if frames.dtype == np.uint8:
        unit = as_unit_float(frames, np.float64)
    elif np.issubdtype(frames.dtype, np.floating):
        unit = frames.astype(np.float64)
        if not np.isfinite(unit).all():
            raise ValueError(f"{name}: holds NaN or inf values")
    else:
        raise ValueError(f"{name}: expected uint8 (0..255) or float (0..1) frames, got dtype "
                         f"{frames.dtype}")
    if frames.ndim == 3:
        unit = unit[..., np.newaxis]
    return unit.reshape(len(unit), -1), unit.shape[1:]


def identify_poses(frames: np.ndarray, true_views: np.ndarray) -> np.ndarray:
    """Index of the nearest true view (Euclidean distance in pixels) of every frame.

    Args:
        frames: `(T, H, W[, C])` frames, uint8 or float in [0, 1].
        true_views: `(V, H, W[, C])` the object's views in pose order, same frame shape.

    Returns:
        `(T,)` int64 view indices in `[0, V)`.
    """
    flat, shape = _unit_frames(frames, "synthesised")
    views, view_shape = _unit_frames(true_views, "true_views")
    if shape != view_shape:
        raise ValueError(f"synthesised: frame shape {shape} differs from true_views' "
                         f"{view_shape}")
    if len(views) == 0:
        raise ValueError("true_views: expected at least one view, got none")
    distances = ((flat ** 2).sum(1)[:, None] - 2.0 * flat @ views.T
                 + (views ** 2).sum(1)[None, :])
    return np.argmin(distances, axis=1).astype(np.int64)


def cyclic_offset(a: np.ndarray | int, b: np.ndarray | int, num_views: int) -> np.ndarray:
    """Signed shortest way round the circle of `num_views` from `a` to `b`, in
    `(-num_views / 2, num_views / 2]`."""
    diff = np.mod(np.asarray(b) - np.asarray(a), num_views)
    return np.where(diff > num_views / 2, diff - num_views, diff)


def pose_advance_accuracy(synthesised: np.ndarray, true_views: np.ndarray, step: int,
                          tolerance: int = 1) -> float:
    """Fraction of steps of a synthesised rotation that advance by the trained step.

    Args:
        synthesised: `(T, H, W[, C])` a synthesised sequence of one object, T >= 2, uint8 or
            float in [0, 1] (the same scale as `true_views`).
        true_views: `(V, H, W[, C])` every true view of that object in pose order around the
            full circle (e.g. all 72 COIL-20 views, also for a model trained on every 4th).
        step: the advance per frame the model was trained on, in views of `true_views`
            (1 for 5 degrees on COIL-20, 4 for 20 degrees); negative turns the other way.
        tolerance: how many views a step may be off and still count.

    Returns:
        The fraction, in [0, 1], of the T - 1 steps whose pose advance is within `tolerance`
        views of `step` (going round the circle) and moves in the direction of `step` (so
        standing still never counts, even for `step=1`).

    Raises:
        ValueError: naming the argument, on shapes, dtypes, T < 2, V < 2, a step that is not
            smaller than the circle, or a negative tolerance.
    """
    if np.ndim(synthesised) < 1 or len(synthesised) < 2:
        raise ValueError(f"synthesised: need at least 2 frames to have a step, got "
                         f"{np.shape(synthesised)}")
    num_views = len(true_views)
    if num_views < 2:
        raise ValueError(f"true_views: need at least 2 views, got {num_views}")
    if not 0 < abs(int(step)) < num_views:
        raise ValueError(f"step: expected a non-zero number of views smaller than the "
                         f"{num_views} views of the circle, got {step}")
    if tolerance < 0:
        raise ValueError(f"tolerance: expected >= 0 views, got {tolerance}")
    poses = identify_poses(synthesised, true_views)
    advances = cyclic_offset(poses[:-1], poses[1:], num_views)
    error = np.abs(cyclic_offset(int(step), advances, num_views))
    # Without the direction check a frozen sequence would pass every step of a 1-view model.
    moving_forward = advances * np.sign(step) > 0
    return float(np.mean((error <= tolerance) & moving_forward))


def fourier_loop_accuracies(frames: np.ndarray, period: int, true_views: np.ndarray,
                            step: int, seeds: list[int], horizon: int) -> list[float]:
    """Pose-advance accuracy of the Fourier loop (`dynamic_vae.baseline.FourierLoop`: the
    fundamental and the 4 strongest other harmonics of `frames` over `period`) for each seed,
    scored as the Dynamic VAE's syntheses are.

    Args:
        frames: the frames the loop is fitted to, frame t at phase 2 pi t / period (those the
            linear baseline is fitted to).
        period: the period the Dynamic VAE was given, in frames.
        true_views: the views each synthesised frame's pose is read against.
        step: the advance per frame, in views of `true_views`.
        seeds: one synthesis per seed (the seed draws the start phase).
        horizon: frames per synthesis.

    Returns:
        The accuracy of each seed, in `seeds` order.

    Example:
    >>> fourier_loop_accuracies(clip[:-1], 24, clip[:24], 1, [0, 1], 1000)  # doctest: +SKIP
    [1.0, 1.0]
    """
    loop = FourierLoop(period=period).fit(frames)
    return [pose_advance_accuracy(loop.synthesize(horizon, seed=seed)[0], true_views, step)
            for seed in seeds]
