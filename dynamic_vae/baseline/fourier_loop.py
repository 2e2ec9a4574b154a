"""The Fourier loop: a training-free baseline for a cyclic process of known period P.

The clip's truncated Fourier series over the period, written as a linear dynamical system
with no noise:

    y_t = mean + sum_k a_k cos(2 pi k t / P) + b_k sin(2 pi k t / P)
    x_t = (cos(2 pi k t / P), sin(2 pi k t / P))_k          (one plane per harmonic k)
    x_{t+1} = A x_t,   A = blockdiag(rotation by 2 pi k / P)_k,   B = 0
    y_t = C x_t + mean,  C = [a_k, b_k]_k

The harmonics are the fundamental k = 1 and the `harmonics - 1` others with the most energy
in the frames, among 1 <= k <= P / 2. At k = P / 2 (an even integer P) the sine is zero at
every frame, so that harmonic is one state turning by pi: A = -1 there.

mean, a_k and b_k are the least-squares fit to every training frame (frame t at phase
2 pi t / P), so a clip showing several cycles is averaged over them. Synthesis turns every
plane at modulus 1: the loop repeats exactly every P frames and never fades or drifts.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from pathlib import Path

import numpy as np

from dynamic_vae.baseline.linear_observation_model import LinearObservationModel
from dynamic_vae.data.frame_pairs import validate_frames


def harmonic_candidates(period: float) -> np.ndarray:
    """Every harmonic k of a period-P loop that frames one apart can show, 1 <= k <= P / 2
    (above P / 2 a harmonic aliases to P - k)."""
    return np.arange(1, math.floor(period / 2) + 1, dtype=np.int64)


def harmonic_design(times: np.ndarray, harmonics: np.ndarray, period: float) -> np.ndarray:
    """The states x_t `(len(times), n)` of frames at `times`: per harmonic k, cos and sin of
    2 pi k t / P, or the cosine alone at k = P / 2 (its sine is zero at integer t)."""
    columns = []
    for k in harmonics:
        angle = 2 * np.pi * k * np.asarray(times, dtype=np.float64) / period
        columns.append(np.cos(angle))
        if 2 * k != period:
            columns.append(np.sin(angle))
    return np.stack(columns, axis=1)


class FourierLoop(LinearObservationModel):
    """The truncated Fourier series of a clip over its period, run as a noise-free linear
    dynamical system with the Dynamic VAE's (and `LinearDynamicTexture`'s) call shapes.

    Args:
        period: P, the cycle's length in frames (>= 2; need not be an integer).
        harmonics: how many harmonics: the fundamental and the `harmonics - 1` strongest
            others (default 5: 10 real states; fewer when P has fewer harmonics).

    Example:
    >>> t = np.arange(48)[:, None, None]
    >>> x = np.arange(8)[None, None, :]
    >>> frames = (0.5 + 0.3 * np.cos(2 * np.pi * (t - x) / 12)).repeat(8, axis=1)
    >>> model = FourierLoop(period=12).fit(frames.astype(np.float32))
    >>> model.harmonics.tolist()[0]
    1
    >>> video, states = model.synthesize(24, start=0)
    >>> bool(np.allclose(video[:, :, :, 0], frames[:24], atol=1e-5))
    True

    Reference:
    - Doretto, Chiuso, Wu & Soatto, "Dynamic Textures", IJCV 51(2), 2003 (the linear model
      whose A and C this fixes in closed form instead of fitting).
    """

    def __init__(self, period: float, harmonics: int = 5) -> None:
        if (isinstance(period, bool) or not isinstance(period, (int, float, np.integer,
                                                                np.floating))
                or not math.isfinite(period) or period < 2):
            raise ValueError(f"period: expected a number of frames >= 2, got {period!r}")
        if isinstance(harmonics, bool) or int(harmonics) != harmonics or harmonics < 1:
            raise ValueError(f"harmonics: expected an integer >= 1, got {harmonics!r}")
        self.period = float(period)
        self.num_harmonics = int(harmonics)
        self.frame_shape: tuple[int, ...] | None = None
        self.harmonics: np.ndarray | None = None
        self.energies: dict[int, float] = {}
        self.mean_frame = self.observation_matrix = self.transition_matrix = None
        self.noise_matrix = self.states = None

    # --- fitting ------------------------------------------------------------------------

    def fit(self, frames: np.ndarray) -> "FourierLoop":
        """Fits the series to one clip `(T, H, W[, C])`, uint8 or float in [0, 1], frame t
        at phase 2 pi t / P; T must cover at least one period."""
        frames = validate_frames(frames, name="frames")
        count = len(frames)
        if count < self.period:
            raise ValueError(f"frames: the Fourier loop needs at least one period "
                             f"(period={self.period:g} frames), got {count} frames")
        self.frame_shape = frames.shape[1:]
        flat = frames.reshape(count, -1).astype(np.float64)
        if frames.dtype == np.uint8:
            flat /= 255.0
        times = np.arange(count)
        candidates = harmonic_candidates(self.period)
        # Every candidate at once, with the mean: over a clip that is not a whole number of
        # periods the harmonics are not orthogonal, and separate projections would credit
        # one harmonic with another's energy.
        design = np.concatenate([np.ones((count, 1)),
                                 harmonic_design(times, candidates, self.period)], axis=1)
        coefficients = np.linalg.lstsq(design, flat, rcond=None)[0][1:]
        energies, row = {}, 0
        for k in candidates:
            rows = 1 if 2 * k == self.period else 2
            # The mean square over a period of the harmonic's images: (|a|^2 + |b|^2) / 2 for
            # a plane, |a|^2 for the k = P / 2 cosine (which is +-1 at every frame).
            energies[int(k)] = float((coefficients[row:row + rows] ** 2).sum()
                                     / (2.0 if rows == 2 else 1.0))
            row += rows
        others = sorted((k for k in energies if k != 1), key=lambda k: -energies[k])
        self.harmonics = np.array(([1] + others)[:self.num_harmonics], dtype=np.int64)
        self.energies = energies
        # Refitted with the chosen harmonics alone: the best series of this truncation.
        states = harmonic_design(times, self.harmonics, self.period)
        solution = np.linalg.lstsq(np.concatenate([np.ones((count, 1)), states], axis=1),
                                   flat, rcond=None)[0]
        self.mean_frame, self.observation_matrix = solution[0], solution[1:].T
        n = states.shape[1]
        transition = np.zeros((n, n))
        row = 0
        for k in self.harmonics:
            turn = 2 * np.pi * k / self.period
            if 2 * k == self.period:
                transition[row, row] = -1.0
                row += 1
            else:
                transition[row:row + 2, row:row + 2] = [[np.cos(turn), -np.sin(turn)],
                                                        [np.sin(turn), np.cos(turn)]]
                row += 2
        self.transition_matrix = transition
        self.noise_matrix = np.zeros((n, 1))
        self.states = states
        return self

    @property
    def latent_dim(self) -> int:
        """n, the number of real states (2 per harmonic, 1 for k = P / 2)."""
        self._check_fitted()
        return int(self.transition_matrix.shape[0])

    def _check_fitted(self) -> None:
        if self.transition_matrix is None:
            raise ValueError("FourierLoop is not fitted: call fit(frames) or load()")

    # --- using the model ----------------------------------------------------------------

    def state_at(self, time: float) -> np.ndarray:
        """The state `(n,)` of phase 2 pi time / P (time in frames, as in the fitted clip)."""
        self._check_fitted()
        return harmonic_design(np.array([float(time)]), self.harmonics, self.period)[0]

    def encode(self, frames: np.ndarray) -> np.ndarray:
        """Least-squares states `(N, n)` of frames `(N, H, W[, C])` (uint8 or float in
        [0, 1])."""
        flat = self._flat_frames(frames)
        return np.linalg.lstsq(self.observation_matrix, (flat - self.mean_frame).T,
                               rcond=None)[0].T

    def synthesize(self, num_frames: int, seed: int = 0,
                   initial_frame: np.ndarray | None = None,
                   start: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """`(frames (T, H, W, C) float in [0, 1], states (T, n))` of the loop.

        Args:
            num_frames: T >= 1.
            seed: draws the start phase (that of a random training frame) when neither
                `initial_frame` nor `start` is given; B = 0, so nothing else is random.
            initial_frame: start at this frame's least-squares state.
            start: start at the phase of this time, in frames of the fitted clip.
        """
        self._check_fitted()
        if num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}")
        if initial_frame is not None and start is not None:
            raise ValueError("initial_frame, start: expected at most one of them, got both")
        if initial_frame is not None:
            state = self.encode(np.asarray(initial_frame)[np.newaxis])[0]
        else:
            if start is None:
                start = int(np.random.default_rng(seed).integers(len(self.states)))
            state = self.state_at(start)
        states = np.empty((num_frames, len(state)))
        for t in range(num_frames):
            states[t] = state
            state = self.transition_matrix @ state
        return self.decode(states), states

    # --- persistence --------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Saves to `.npz` (no pickled objects), atomically."""
        from dynamic_vae.atomic import atomic_path

        self._check_fitted()
        with atomic_path(path, suffix=".npz") as tmp:
            np.savez(tmp, period=np.array(self.period),
                     num_harmonics=np.array(self.num_harmonics), harmonics=self.harmonics,
                     mean_frame=self.mean_frame, observation_matrix=self.observation_matrix,
                     transition_matrix=self.transition_matrix, states=self.states,
                     frame_shape=np.array(self.frame_shape))

    @classmethod
    def load(cls, path: str | Path) -> "FourierLoop":
        """A model written by `save`."""
        try:
            data = np.load(path, allow_pickle=False)
            arrays = {key: data[key] for key in data.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
            raise ValueError(f"{path}: not a saved FourierLoop ({error})") from None
        missing = {"period", "num_harmonics", "harmonics", "mean_frame", "observation_matrix",
                   "transition_matrix", "states", "frame_shape"} - set(arrays)
        if missing:
            raise ValueError(f"{path}: not a saved FourierLoop (missing {sorted(missing)})")
        model = cls(period=float(arrays["period"]), harmonics=int(arrays["num_harmonics"]))
        model.harmonics = arrays["harmonics"].astype(np.int64)
        model.mean_frame = arrays["mean_frame"]
        model.observation_matrix = arrays["observation_matrix"]
        model.transition_matrix = arrays["transition_matrix"]
        model.noise_matrix = np.zeros((len(model.transition_matrix), 1))
        model.states = arrays["states"]
        model.frame_shape = tuple(int(v) for v in arrays["frame_shape"])
        return model
