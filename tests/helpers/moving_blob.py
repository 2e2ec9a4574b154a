"""A blob going round a circle: a synthetic cyclic process whose period is known."""

import numpy as np


def moving_blob(num_frames: int, period: int, size: int = 16, phase: int = 0) -> np.ndarray:
    """Frames `(num_frames, size, size, 1)`, float32 in [0, 1]: a Gaussian blob going round a
    circle once every `period` frames, starting `phase` frames into the cycle (no two phases
    of a cycle look alike)."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    frames = []
    for t in range(num_frames):
        angle = 2 * np.pi * (t + phase) / period
        cy = (size - 1) / 2 + size / 4 * np.sin(angle)
        cx = (size - 1) / 2 + size / 4 * np.cos(angle)
        frames.append(np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / 4.0))
    return np.array(frames, dtype=np.float32)[..., np.newaxis]
