"""Moving sinusoid gratings with a little pixel noise: small synthetic clips with known
appearance and dynamics, for the metrics that compare clips."""

import numpy as np


def moving_grating(num_frames: int = 40, size: int = 24, speed: float = 0.5,
                   noise: float = 0.05, seed: int = 0) -> np.ndarray:
    """Frames `(num_frames, size, size, 1)`, float in [0, 1]: a diagonal grating whose phase
    advances by `speed` radians per frame, plus uniform noise of amplitude `noise`."""
    t, y, x = np.meshgrid(np.arange(num_frames), np.arange(size), np.arange(size),
                          indexing="ij")
    wave = 0.5 + 0.35 * np.sin(2 * np.pi * (2 * x + y) / size + speed * t)
    jitter = np.random.default_rng(seed).uniform(-noise, noise, wave.shape)
    return np.clip(wave + jitter, 0.0, 1.0)[..., np.newaxis]
