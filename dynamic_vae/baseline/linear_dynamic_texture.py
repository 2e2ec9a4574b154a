"""The linear dynamic texture baseline (Doretto, Chiuso, Wu & Soatto, IJCV 2003).

    x_{t+1} = A x_t + B v_t,   v_t ~ N(0, I)
    y_t     = C x_t + y_bar

fitted in closed form: the centred frames Y = U S V^T (a randomized
truncated SVD, so long videos fit in memory and seconds), C = U[:, :n], states X = S V^T,
A = X_1 pinv(X_0) (optionally with its singular values clipped to <= 1 for stable synthesis),
B B^T = the covariance of the residuals X_1 - A X_0, B from its leading eigenvectors.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from dynamic_vae.baseline.linear_observation_model import LinearObservationModel
from dynamic_vae.data.frame_pairs import validate_frames


def randomized_svd(matrix: np.ndarray, rank: int, oversample: int = 10, iterations: int = 4,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The leading `rank` singular triplets of `matrix` (Halko, Martinsson & Tropp 2011)."""
    rng = np.random.default_rng(seed)
    rows, cols = matrix.shape
    width = min(rank + oversample, rows, cols)
    basis, _ = np.linalg.qr(matrix @ rng.standard_normal((cols, width)))
    for _ in range(iterations):  # power iterations sharpen a slowly decaying spectrum
        basis, _ = np.linalg.qr(matrix.T @ basis)
        basis, _ = np.linalg.qr(matrix @ basis)
    u_small, singular, vt = np.linalg.svd(basis.T @ matrix, full_matrices=False)
    return (basis @ u_small)[:, :rank], singular[:rank], vt[:rank]


class LinearDynamicTexture(LinearObservationModel):
    """Linear dynamic texture model with the Dynamic VAE's call shapes.

    Args:
        latent_dim: n, the state dimension.
        noise_dim: columns of B (default n).
        clip_spectrum: clip A's singular values to <= 1 (keeps synthesis from blowing up).
        seed: seed of the randomized SVD.

    Example:
    >>> model = LinearDynamicTexture(latent_dim=10).fit(frames)       # doctest: +SKIP
    >>> video, states = model.synthesize(200, seed=0)                 # doctest: +SKIP

    Reference:
    - Doretto, Chiuso, Wu & Soatto, "Dynamic Textures", IJCV 51(2), 2003.
    """

    def __init__(self, latent_dim: int = 10, noise_dim: int | None = None,
                 clip_spectrum: bool = True, seed: int = 0) -> None:
        if latent_dim < 1:
            raise ValueError(f"latent_dim must be >= 1, got {latent_dim}")
        if noise_dim is not None and not 1 <= noise_dim <= latent_dim:
            raise ValueError(f"noise_dim must be in [1, latent_dim={latent_dim}], got "
                             f"{noise_dim}")
        self.latent_dim = latent_dim
        self.noise_dim = noise_dim or latent_dim
        self.clip_spectrum = clip_spectrum
        self.seed = seed
        self.frame_shape: tuple[int, ...] | None = None
        self.mean_frame = self.observation_matrix = None
        self.transition_matrix = self.noise_matrix = self.states = None

    # --- fitting ------------------------------------------------------------------------

    def fit(self, frames: np.ndarray) -> "LinearDynamicTexture":
        """Fits the model to one sequence `(T, H, W[, C])`, uint8 or float in [0, 1]."""
        frames = validate_frames(frames, name="frames")
        count = len(frames)
        if count <= self.latent_dim:
            raise ValueError(f"frames: need more than latent_dim={self.latent_dim} frames, "
                             f"got {count}")
        self.frame_shape = frames.shape[1:]
        flat = frames.reshape(count, -1).astype(np.float64)
        if frames.dtype == np.uint8:
            flat /= 255.0
        self.mean_frame = flat.mean(axis=0)
        centred = (flat - self.mean_frame).T  # d x T
        u, singular, vt = randomized_svd(centred, self.latent_dim, seed=self.seed)
        self.observation_matrix = u
        states = singular[:, None] * vt  # n x T
        before, after = states[:, :-1], states[:, 1:]
        a = after @ np.linalg.pinv(before)
        if self.clip_spectrum:
            ua, sa, vta = np.linalg.svd(a)
            a = (ua * np.minimum(sa, 1.0)) @ vta
        residuals = after - a @ before
        covariance = residuals @ residuals.T / (count - 1)
        eigenvalues, eigenvectors = np.linalg.eigh(covariance)
        order = np.argsort(eigenvalues)[::-1][:self.noise_dim]
        self.noise_matrix = eigenvectors[:, order] * np.sqrt(np.maximum(eigenvalues[order], 0))
        self.transition_matrix = a
        self.states = states.T
        return self

    def _check_fitted(self) -> None:
        if self.transition_matrix is None:
            raise ValueError("LinearDynamicTexture is not fitted: call fit(frames) or load()")

    # --- using the model ----------------------------------------------------------------

    def encode(self, frames: np.ndarray) -> np.ndarray:
        """States `(N, n)` of frames `(N, H, W[, C])` (uint8 or float in [0, 1])."""
        flat = self._flat_frames(frames)
        return (flat - self.mean_frame) @ self.observation_matrix

    def residuals(self, frames: np.ndarray) -> np.ndarray:
        """What the model's linear reconstruction leaves out of frames: `y - decode(encode(y))`.

        Args:
            frames: `(N, H, W[, C])`, uint8 or float in [0, 1].

        Returns:
            `(N, *frame_shape)` float64 residuals, in [0, 1] units.

        Example:
        >>> model.residuals(frames[:2]).shape == (2, *model.frame_shape)   # doctest: +SKIP
        True
        """
        self._check_fitted()
        frames = np.asarray(frames)
        unit = frames.astype(np.float64)
        if frames.dtype == np.uint8:
            unit /= 255.0
        # Against the clipped decode that `predict` returns, so a forecast added to a
        # prediction restores the frame exactly at k = 0.
        return unit.reshape(len(unit), *self.frame_shape) - self.decode(self.encode(frames))

    def fit_residual_texture(self, frames: np.ndarray, rank: int, seed: int = 0):
        """A `ResidualTexture` fitted to this model's residuals on consecutive `frames`.

        The same closed-form fit as the Dynamic VAE's texture gets from its decoder's residuals
        (`DynamicVAE.fit_residual_texture`), so the baseline can add the same mean forecast of
        what its reconstruction misses, and shrink its states' forecast the same way
        (`dynamic_vae.evaluation.prediction`). The model itself
        is unchanged; `save` does not store the texture.

        Args:
            frames: `(T, H, W[, C])` consecutive frames (normally the ones the model was
                fitted on), T >= 2.
            rank: the texture's number of directions (the fit keeps at most T - 1).
            seed: seed of the randomized SVD.

        Returns:
            `(texture, info)`: the fitted `ResidualTexture` and what its `fit` reports.

        Example:
        >>> texture, info = lds.fit_residual_texture(frames, rank=256)   # doctest: +SKIP
        """
        from dynamic_vae.models.residual_texture import ResidualTexture, heldout_curves

        self._check_fitted()
        residuals = self.residuals(frames)
        texture = ResidualTexture(rank, self.frame_shape)
        # Every frame follows the one before: one sequence, no pair straddles two.
        lag_pairs = np.stack([np.arange(len(residuals) - 1), np.arange(1, len(residuals))], 1)
        sequences = [self._flat_frames(frames)]
        heldout, shrinkage = heldout_curves(sequences, rank=self.latent_dim, seed=seed)
        info = texture.fit(residuals, lag_pairs, seed=seed, heldout=heldout,
                           shrinkage=shrinkage)
        return texture, info

    def synthesize(self, num_frames: int, seed: int = 0,
                   initial_frame: np.ndarray | None = None,
                   noise_scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """`(frames (T, H, W, C) float in [0, 1], states (T, n))` of a new sequence.

        x_0 is the state of `initial_frame`, else drawn from the training states' covariance.
        """
        self._check_fitted()
        if num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}")
        rng = np.random.default_rng(seed)
        if initial_frame is not None:
            state = self.encode(np.asarray(initial_frame)[np.newaxis])[0]
        else:
            covariance = np.cov(self.states, rowvar=False)
            state = rng.multivariate_normal(np.zeros(self.latent_dim), covariance)
        states = np.empty((num_frames, self.latent_dim))
        for t in range(num_frames):  # n is small: this loop is not the cost, decoding is
            states[t] = state
            state = (self.transition_matrix @ state
                     + noise_scale * self.noise_matrix @ rng.standard_normal(self.noise_dim))
        return self.decode(states), states

    # --- persistence --------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Saves to `.npz` (no pickled objects), atomically."""
        from dynamic_vae.atomic import atomic_path

        self._check_fitted()
        with atomic_path(path, suffix=".npz") as tmp:
            np.savez(tmp, mean_frame=self.mean_frame, observation_matrix=self.observation_matrix,
                     transition_matrix=self.transition_matrix, noise_matrix=self.noise_matrix,
                     states=self.states, frame_shape=np.array(self.frame_shape),
                     clip_spectrum=np.array(self.clip_spectrum), seed=np.array(self.seed))

    @classmethod
    def load(cls, path: str | Path) -> "LinearDynamicTexture":
        try:
            data = np.load(path, allow_pickle=False)
            arrays = {key: data[key] for key in data.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
            raise ValueError(f"{path}: not a saved LinearDynamicTexture ({error})") from None
        missing = {"mean_frame", "observation_matrix", "transition_matrix", "noise_matrix",
                   "states", "frame_shape"} - set(arrays)
        if missing:
            raise ValueError(f"{path}: not a saved LinearDynamicTexture (missing "
                             f"{sorted(missing)})")
        n = arrays["transition_matrix"].shape[0]
        model = cls(latent_dim=n, noise_dim=arrays["noise_matrix"].shape[1],
                    clip_spectrum=bool(arrays.get("clip_spectrum", True)),
                    seed=int(arrays.get("seed", 0)))
        model.mean_frame = arrays["mean_frame"]
        model.observation_matrix = arrays["observation_matrix"]
        model.transition_matrix = arrays["transition_matrix"]
        model.noise_matrix = arrays["noise_matrix"]
        model.states = arrays["states"]
        model.frame_shape = tuple(int(v) for v in arrays["frame_shape"])
        return model
