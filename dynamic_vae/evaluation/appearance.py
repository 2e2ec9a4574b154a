"""Appearance metrics a blurry model cannot pass: gradient energy and spatial power spectra.

The mean squared error of a prediction rewards the mean frame: a model that decodes every state
to a blur scores well on MSE. These two compare what frames look like instead.

- `sharpness_ratio`: the mean spatial-gradient energy of synthesised frames over that of real
  frames. 1 is as sharp as the real clip; a blur is well below 1, noise above it.
- `spectrum_distance`: the mean absolute difference of the log10 radially averaged spatial
  power spectra. 0 for frames with the same spectrum (a translated copy, for instance); a
  contrast scaled by c moves every radius by |2 log10 c|; a blur loses the high radii.

Frames are `(T, H, W[, C])`, uint8 (0..255) or float in [0, 1]; both sides of a comparison
must have the same frame shape.
"""

from __future__ import annotations

import numpy as np

# Keeps log10 finite on bins with no power (a constant frame).
_POWER_FLOOR = 1e-12


def _unit_frames(frames: np.ndarray, name: str) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[..., np.newaxis]
    if frames.ndim != 4 or len(frames) == 0:
        raise ValueError(f"{name}: expected frames (T, H, W[, C]) with T >= 1, got shape "
                         f"{frames.shape}")
    unit = frames.astype(np.float64)
    if frames.dtype == np.uint8:
        unit /= 255.0
    return unit


def _same_shape(real: np.ndarray, synthesised: np.ndarray) -> None:
    if real.shape[1:] != synthesised.shape[1:]:
        raise ValueError(f"synthesised: expected frames of shape {real.shape[1:]} (the real "
                         f"clip's), got {synthesised.shape[1:]}")


def gradient_energy(frames: np.ndarray) -> float:
    """Mean of (d/dx)^2 + (d/dy)^2 over frames, pixels and channels (forward differences)."""
    unit = _unit_frames(frames, "frames")
    dy = np.diff(unit, axis=1)
    dx = np.diff(unit, axis=2)
    return float(np.mean(dy ** 2) + np.mean(dx ** 2))


def sharpness_ratio(real: np.ndarray, synthesised: np.ndarray) -> float:
    """Gradient energy of `synthesised` over that of `real` (1: equally sharp).

    Args:
        real: the real frames `(T, H, W[, C])`.
        synthesised: the synthesised frames, same frame shape.

    Returns:
        The ratio; `inf` when the real frames are constant and the synthesised ones are not.

    Example:
    >>> sharpness_ratio(frames, 0.5 + 2.0 * (frames - 0.5))   # contrast x2: ratio 4
    """
    real_unit = _unit_frames(real, "real")
    _same_shape(real_unit, _unit_frames(synthesised, "synthesised"))
    real_energy = gradient_energy(real_unit)
    synthesised_energy = gradient_energy(synthesised)
    if real_energy == 0.0:
        return 1.0 if synthesised_energy == 0.0 else float("inf")
    return synthesised_energy / real_energy


def radial_power_spectrum(frames: np.ndarray) -> np.ndarray:
    """The mean spatial power spectrum of mean-free frames, averaged over rings of integer
    radius (in frequency bins) from 1 to min(H, W) // 2. Shape `(min(H, W) // 2,)`."""
    unit = _unit_frames(frames, "frames")
    _, height, width, _ = unit.shape
    centred = unit - unit.mean(axis=(1, 2), keepdims=True)
    power = np.abs(np.fft.fft2(centred, axes=(1, 2))) ** 2 / (height * width)
    power = power.mean(axis=(0, 3))
    fy = np.fft.fftfreq(height) * height
    fx = np.fft.fftfreq(width) * width
    radius = np.rint(np.hypot(fy[:, np.newaxis], fx[np.newaxis, :])).astype(int)
    num_rings = min(height, width) // 2
    sums = np.bincount(radius.ravel(), weights=power.ravel(), minlength=num_rings + 1)
    counts = np.bincount(radius.ravel(), minlength=num_rings + 1)
    return sums[1:num_rings + 1] / np.maximum(counts[1:num_rings + 1], 1)


def spectrum_distance(real: np.ndarray, synthesised: np.ndarray) -> float:
    """Mean over radii of |log10 P_real(r) - log10 P_synthesised(r)| (0: same spectrum).

    Args:
        real: the real frames `(T, H, W[, C])`, H and W at least 2.
        synthesised: the synthesised frames, same frame shape.

    Example:
    >>> spectrum_distance(frames, np.roll(frames, 3, axis=2))   # a translated copy: 0
    """
    real_unit = _unit_frames(real, "real")
    synthesised_unit = _unit_frames(synthesised, "synthesised")
    _same_shape(real_unit, synthesised_unit)
    if min(real_unit.shape[1:3]) < 2:
        raise ValueError(f"real: frames need at least 2x2 pixels for a spectrum, got "
                         f"{real_unit.shape[1:3]}")
    real_log = np.log10(radial_power_spectrum(real_unit) + _POWER_FLOOR)
    synthesised_log = np.log10(radial_power_spectrum(synthesised_unit) + _POWER_FLOOR)
    return float(np.mean(np.abs(real_log - synthesised_log)))
