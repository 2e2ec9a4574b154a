"""What every linear baseline shares: frames are `C x + mean`, and states step by `A`."""

from __future__ import annotations

import numpy as np


class LinearObservationModel:
    """Decoding and k-step prediction of a model with a linear observation map.

    A subclass sets `observation_matrix` `C` `(D, n)`, `mean_frame` `(D,)`, `frame_shape`
    and `transition_matrix` `A` `(n, n)` when it is fitted, and defines `encode(frames)` and
    `_check_fitted()`.

    Example:
    >>> class Identity(LinearObservationModel):
    ...     observation_matrix, mean_frame = np.eye(4), np.zeros(4)
    ...     frame_shape, transition_matrix = (2, 2, 1), np.eye(4)
    ...     def _check_fitted(self): pass
    ...     def encode(self, frames): return np.reshape(frames, (len(frames), -1))
    >>> Identity().predict(np.full((1, 2, 2, 1), 0.5, np.float32), steps=3).shape
    (1, 2, 2, 1)
    """

    def _flat_frames(self, frames: np.ndarray) -> np.ndarray:
        """Frames `(N, H, W[, C])`, uint8 or float in [0, 1], as float64 rows `(N, D)` in
        [0, 1]; frames of another shape than the fitted ones are refused by name."""
        self._check_fitted()
        frames = np.asarray(frames)
        flat = frames.reshape(len(frames), -1).astype(np.float64)
        if flat.shape[1] != self.observation_matrix.shape[0]:
            raise ValueError(f"frames: expected frames of shape {self.frame_shape}, got "
                             f"{frames.shape[1:]}")
        if frames.dtype == np.uint8:
            flat /= 255.0
        return flat

    def decode(self, states: np.ndarray) -> np.ndarray:
        """Frames `(N, *frame_shape)`, float in [0, 1] (clipped), from states `(N, n)`."""
        self._check_fitted()
        flat = np.asarray(states) @ self.observation_matrix.T + self.mean_frame
        return np.clip(flat, 0.0, 1.0).reshape(len(flat), *self.frame_shape).astype(np.float32)

    def predict(self, frames: np.ndarray, steps: int) -> np.ndarray:
        """Noise-free `steps`-step predictions `C A^k x_t + mean` of frames `(N, H, W[, C])`."""
        if steps < 0:
            raise ValueError(f"steps must be >= 0, got {steps}")
        states = self.encode(frames) @ np.linalg.matrix_power(self.transition_matrix, steps).T
        return self.decode(states)
