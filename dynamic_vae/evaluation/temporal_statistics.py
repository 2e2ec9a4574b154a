"""Temporal statistics a synthesis must match: how much it moves and how long a pixel
remembers.

The appearance metrics compare single frames; a synthesis can have the right frames in the
wrong rhythm (too fast, too slow, flickering, frozen). These two compare time:

- `motion_ratio`: the mean squared difference between consecutive frames of a synthesis over
  that of the real clip. 1 moves as much as the real clip; a frozen video is 0; the same video
  played twice as slow (interpolated) is about 1/4, twice as fast about 4 for smooth motion.
- `autocorrelation_distance`: the mean absolute difference, over lags 1..L, between the
  per-pixel temporal autocorrelations (`temporal_autocorrelation`) of a synthesis and of the
  real clip. 0 when every pixel decorrelates at the clip's pace; at most 2.

Frames are `(T, H, W[, C])`, uint8 (0..255) or float in [0, 1]; both sides of a comparison
must have the same frame shape (their lengths may differ).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dynamic_vae.evaluation.appearance import _same_shape, _unit_frames

# Lags 1..10: the k-step predictions' horizon, and past most textures' decorrelation time.
DEFAULT_MAX_LAG = 10
# Pixels whose variance over time is below this are constant: their autocorrelation is
# undefined, so they are left out of the mean rather than counted as 0 or 1.
_CONSTANT_VARIANCE = 1e-12


def motion_energy(frames: np.ndarray) -> float:
    """Mean over time, pixels and channels of `(y_{t+1} - y_t)^2`.

    Args:
        frames: `(T, H, W[, C])` with T >= 2, uint8 or float in [0, 1].

    Example:
    >>> motion_energy(np.array([0.0, 0.5, 1.0])[:, None, None])   # steps of 0.5: 0.25
    0.25
    """
    unit = _unit_frames(frames, "frames")
    if len(unit) < 2:
        raise ValueError(f"frames: the motion energy needs at least 2 frames, got {len(unit)}")
    return float(np.mean(np.diff(unit, axis=0) ** 2))


def motion_ratio(real: np.ndarray, synthesised: np.ndarray) -> float:
    """Motion energy of `synthesised` over that of `real` (1: moves as much).

    Args:
        real: the real frames `(T, H, W[, C])`, T >= 2.
        synthesised: the synthesised frames, same frame shape, at least 2 of them.

    Returns:
        The ratio; 1 when both are still, `inf` when only the real clip is.

    Example:
    >>> motion_ratio(frames, frames[::2])   # twice as fast: about 4 for smooth motion
    ... # doctest: +SKIP
    """
    real_unit = _unit_frames(real, "real")
    synthesised_unit = _unit_frames(synthesised, "synthesised")
    _same_shape(real_unit, synthesised_unit)
    real_energy = motion_energy(real_unit)
    synthesised_energy = motion_energy(synthesised_unit)
    if real_energy == 0.0:
        return 1.0 if synthesised_energy == 0.0 else float("inf")
    return synthesised_energy / real_energy


def temporal_autocorrelation(frames: np.ndarray, max_lag: int = DEFAULT_MAX_LAG) -> np.ndarray:
    """Per-pixel temporal autocorrelation at lags 1..`max_lag`, averaged over pixels.

    Each pixel (and channel) has its mean over time removed; its autocorrelation at lag k is
    the mean of `x_t x_{t+k}` over the `T - k` available products divided by the mean of
    `x_t^2` over all T. Dividing by `T - k` rather than T keeps the estimate unbiased in k,
    so clips of different lengths compare. Pixels that never change are left out.

    Args:
        frames: `(T, H, W[, C])` with T > max_lag, uint8 or float in [0, 1].
        max_lag: the largest lag L >= 1.

    Returns:
        `(max_lag,)`: the mean autocorrelation at lags 1..L; zeros when no pixel changes.

    Example:
    >>> temporal_autocorrelation(ar1_video, max_lag=3)   # an AR(1) with slope a: ~a, a^2, a^3
    ... # doctest: +SKIP
    """
    if int(max_lag) != max_lag or max_lag < 1:
        raise ValueError(f"max_lag: expected an integer >= 1, got {max_lag}")
    max_lag = int(max_lag)
    unit = _unit_frames(frames, "frames")
    if len(unit) <= max_lag:
        raise ValueError(f"frames: lags up to {max_lag} need more than {max_lag} frames, got "
                         f"{len(unit)}")
    flat = unit.reshape(len(unit), -1)
    centred = flat - flat.mean(axis=0)
    variance = np.mean(centred ** 2, axis=0)
    moving = variance > _CONSTANT_VARIANCE
    if not moving.any():
        return np.zeros(max_lag)
    centred, variance = centred[:, moving], variance[moving]
    lags = [np.mean(centred[:-k] * centred[k:], axis=0) / variance
            for k in range(1, max_lag + 1)]
    return np.mean(np.stack(lags), axis=1)


def autocorrelation_distance(real: np.ndarray, synthesised: np.ndarray,
                             max_lag: int = DEFAULT_MAX_LAG) -> float:
    """Mean over lags 1..`max_lag` of |rho_real(k) - rho_synthesised(k)| (0: same memory).

    Args:
        real: the real frames `(T, H, W[, C])`, T > max_lag.
        synthesised: the synthesised frames, same frame shape, more than max_lag of them.
        max_lag: the largest lag compared.

    Example:
    >>> autocorrelation_distance(frames, frames[::-1])   # time reversed: 0
    ... # doctest: +SKIP
    """
    real_unit = _unit_frames(real, "real")
    synthesised_unit = _unit_frames(synthesised, "synthesised")
    _same_shape(real_unit, synthesised_unit)
    return float(np.mean(np.abs(temporal_autocorrelation(real_unit, max_lag)
                                - temporal_autocorrelation(synthesised_unit, max_lag))))


def temporal_metrics(real: np.ndarray, synthesised: np.ndarray,
                     max_lag: int = DEFAULT_MAX_LAG) -> dict[str, Any]:
    """Motion ratio and autocorrelation distance of one synthesised sequence.

    Lags stop at one less than the shorter sequence's length when `max_lag` does not fit,
    so a short evaluation horizon still gets numbers (`lags` says how many).

    Args:
        real: the real frames `(T, H, W[, C])`, T >= 2.
        synthesised: one synthesised sequence, same frame shape, at least 2 frames.
        max_lag: the largest lag compared.

    Returns:
        `{"motion_ratio", "autocorrelation_distance", "autocorrelation",
        "real_autocorrelation", "lags"}`, where the autocorrelations list the synthesis's and
        the real clip's values at lags 1..`lags`.

    Example:
    >>> temporal_metrics(real, synthesised)["motion_ratio"]   # doctest: +SKIP
    """
    lags = min(int(max_lag), len(real) - 1, len(synthesised) - 1)
    return {"motion_ratio": motion_ratio(real, synthesised),
            "autocorrelation_distance": autocorrelation_distance(real, synthesised, lags),
            "autocorrelation": temporal_autocorrelation(synthesised, lags).tolist(),
            "real_autocorrelation": temporal_autocorrelation(real, lags).tolist(),
            "lags": lags}
