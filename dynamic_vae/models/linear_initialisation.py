"""Starting a Dynamic VAE at the linear dynamic texture of its training frames.

With `linear_path` the encoder and decoder each carry a linear map beside their networks. The
linear dynamic texture (Doretto et al., 2003) fits in closed form: the principal components of
the frames give the observation map, least squares on consecutive states gives A. Scaled so
that every state has unit variance, as the Dynamic VAE's stationary prior N(0, I) asks:

    y_t - mean = U S v_t          (SVD of the centred frames, n components)
    x_t = v_t sqrt(T - 1)         (unit variance per component)
    C   = U S / sqrt(T - 1)       (y_t = C x_t + mean)
    A   = argmin sum ||x_{t+1} - A x_t||^2, singular values clipped at 0.99
    B   = chol(I - A A^T)         (so A A^T + B B^T = I exactly)

The decoder's linear map is set to (C, mean), the encoder's to the projection
x = diag(sqrt(T - 1) / S) U^T (y - mean), and the networks' last layers to zero, so before the
first step the model decodes and encodes exactly as the linear texture does.

For a process of known period P (a turning object, a running stride) the truncated Fourier
series of the frames is itself a linear dynamical system whose planes turn exactly once per
period (`harmonic_texture_parameters`):

    y_t - mean = sum_k a_k sqrt(2) cos(2 pi k t / P) + b_k sqrt(2) sin(2 pi k t / P)
    x_t = sqrt(2) (cos(2 pi k t / P), sin(2 pi k t / P))_k      (unit variance per component)
    C   = [a_k, b_k]_k            (least squares on the frames)
    A   = 0.99 * blockdiag(rotation by 2 pi k / P)_k,   B = chol(I - A A^T)

The harmonics are the fundamental k = 1 and the others with the most energy in the frames.
Principal components of the frames alone can miss the fundamental: an object that looks
nearly the same from opposite sides keeps 1-2% of its energy there, below ten components,
and then nothing in the state tells the two sides apart.
"""

from __future__ import annotations

import numpy as np

from dynamic_vae.baseline.linear_dynamic_texture import randomized_svd

# The largest singular value A starts with: B B^T = I - A A^T must stay positive definite.
MAX_INITIAL_NORM = 0.99


def linear_texture_parameters(frames: np.ndarray, pair_starts: np.ndarray, latent_dim: int,
                              seed: int = 0, subspace_frames: np.ndarray | None = None
                              ) -> dict[str, np.ndarray]:
    """The unit-variance linear dynamic texture of `frames` `(T, H, W, C)`.

    Args:
        frames: the frames, in the model's pixel range.
        pair_starts: `t` of every training pair `(t, t + 1)`; A is fitted to these pairs.
        latent_dim: n.
        seed: seed of the randomized SVD.
        subspace_frames: indices of the frames the observation map (mean and principal
            components) is fitted to; default: the frames of the pairs.

    Returns:
        `observation` C `(D, n)`, `mean` `(D,)`, `projection` `(D, n)` (x = (y - mean) @ it),
        `transition` A `(n, n)` and `noise` B `(n, n)`.
    """
    pair_starts = np.asarray(pair_starts)
    used = (np.unique(np.concatenate([pair_starts, pair_starts + 1]))
            if subspace_frames is None else np.unique(np.asarray(subspace_frames)))
    if len(used) <= latent_dim:
        raise ValueError(f"linear_path: the linear start needs more than latent_dim="
                         f"{latent_dim} training frames, got {len(used)}")
    flat = frames.reshape(len(frames), -1).astype(np.float64)
    mean = flat[used].mean(axis=0)
    basis, singular, _ = randomized_svd((flat[used] - mean).T, latent_dim, seed=seed)
    scale = np.maximum(singular, 1e-8) / np.sqrt(len(used) - 1)
    projection = basis / scale
    states = (flat - mean) @ projection
    before, after = states[pair_starts], states[pair_starts + 1]
    transition = np.linalg.lstsq(before, after, rcond=None)[0].T
    # Each singular value is clipped, not the matrix scaled: the nearest matrix of norm at
    # most 0.99. A short drifting clip's least-squares A can have one singular value of 1.6
    # beside eigenvalues of 1.0; scaling the whole matrix down by it would start every
    # direction at modulus 0.63, a state that forgets itself in a few frames.
    left, singular_values, right = np.linalg.svd(transition)
    transition = (left * np.minimum(singular_values, MAX_INITIAL_NORM)) @ right
    noise = np.linalg.cholesky(np.eye(latent_dim) - transition @ transition.T)
    return {"observation": basis * scale, "mean": mean, "projection": projection,
            "transition": transition, "noise": noise}


# Ridge of the encoder's least-norm map from frames to harmonic states, relative to the
# frames' largest squared singular value.
HARMONIC_PROJECTION_RIDGE = 1e-6


def harmonic_texture_parameters(frames: np.ndarray, latent_dim: int, period: int,
                                subspace_frames: np.ndarray | None = None
                                ) -> dict[str, np.ndarray]:
    """The unit-variance truncated Fourier series of `frames` `(T, H, W, C)`, frame t at
    phase `2 pi t / period`, as a linear dynamic texture (the module docstring has the model).

    Args:
        frames: the frames, in the model's pixel range.
        latent_dim: n; `n // 2` harmonic planes (fewer if the period has fewer harmonics
            below P / 2), and any dimension left over holds a principal component of what
            the harmonics leave out, with A = 0 there.
        period: P >= 3 frames.
        subspace_frames: indices of the frames the series is fitted to (default: all).

    Returns:
        `observation` C `(D, n)`, `mean` `(D,)`, `projection` `(D, n)` (x = (y - mean) @ it),
        `transition` A `(n, n)`, `noise` B `(n, n)` and `harmonics` `(n // 2,)` (the k of
        each plane, in order).

    Raises:
        ValueError: naming the argument, on a period below 3, or too few frames.

    Example:
    >>> t = np.arange(40)
    >>> frames = np.stack([np.cos(2 * np.pi * t / 20), np.sin(2 * np.pi * t / 20),
    ...                    np.cos(4 * np.pi * t / 20)], axis=1)[:, :, None, None]
    >>> p = harmonic_texture_parameters(frames, latent_dim=4, period=20)
    >>> p["harmonics"].tolist()
    [1, 2]
    """
    if int(period) != period or period < 3:
        raise ValueError(f"period: the harmonic start needs an integer period >= 3 frames, "
                         f"got {period}")
    period = int(period)
    used = (np.arange(len(frames)) if subspace_frames is None
            else np.unique(np.asarray(subspace_frames)))
    if len(used) <= latent_dim:
        raise ValueError(f"harmonic start: needs more than latent_dim={latent_dim} frames, "
                         f"got {len(used)}")
    flat = frames.reshape(len(frames), -1).astype(np.float64)
    mean = flat[used].mean(axis=0)
    centred = flat[used] - mean
    candidates = np.arange(1, (period + 1) // 2)  # the rotation planes, 1 <= k < P / 2
    phases = 2 * np.pi * np.outer(used, candidates) / period
    energy = (np.abs(centred.T @ np.exp(-1j * phases)) ** 2).sum(axis=0)
    rest = [int(k) for k in candidates[1:][np.argsort(-energy[1:], kind="stable")]]
    harmonics = np.array(([1] + rest)[:latent_dim // 2], dtype=np.int64)

    def design(times: np.ndarray) -> np.ndarray:
        angles = 2 * np.pi * np.outer(times, harmonics) / period
        return np.sqrt(2) * np.stack([np.cos(angles), np.sin(angles)], axis=2).reshape(
            len(times), 2 * len(harmonics))

    states = design(used)
    observation = np.linalg.lstsq(states, centred, rcond=None)[0].T  # (D, 2m)
    planes = 2 * len(harmonics)
    transition = np.zeros((latent_dim, latent_dim))
    for index, k in enumerate(harmonics):
        turn = 2 * np.pi * k / period
        transition[2 * index:2 * index + 2, 2 * index:2 * index + 2] = MAX_INITIAL_NORM * (
            np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]]))
    if planes < latent_dim:
        # Principal components of what the harmonics leave out, at unit variance.
        residual = centred - states @ observation.T
        left, singular, rows = np.linalg.svd(residual, full_matrices=False)
        extra = latent_dim - planes
        scale = np.maximum(singular[:extra], 1e-8) / np.sqrt(len(used) - 1)
        states = np.concatenate([states, left[:, :extra] * np.sqrt(len(used) - 1)], axis=1)
        observation = np.concatenate([observation, rows[:extra].T * scale], axis=1)
    # The encoder's map reads the states back from the frames: the least-norm linear map
    # with (y_t - mean) @ projection = x_t. C's own pseudo-inverse would not do: harmonics'
    # images are not orthogonal in pixels, so a strong harmonic 2 would leak into the
    # fundamental's phase (a ridge keeps directions the frames barely span from blowing up).
    left, singular, rows = np.linalg.svd(centred, full_matrices=False)
    ridge = HARMONIC_PROJECTION_RIDGE * singular[0] ** 2
    projection = rows.T @ ((singular / (singular ** 2 + ridge))[:, None] * (left.T @ states))
    noise = np.linalg.cholesky(np.eye(latent_dim) - transition @ transition.T)
    return {"observation": observation, "mean": mean, "projection": projection,
            "transition": transition, "noise": noise, "harmonics": harmonics}


def initialise_from_linear_texture(model, frames: np.ndarray, pair_starts: np.ndarray,
                                   seed: int = 0, subspace_frames: np.ndarray | None = None,
                                   period: int | None = None) -> dict[str, np.ndarray]:
    """Sets a `linear_path` model's linear maps, A and B to the linear dynamic texture of its
    training frames and zeroes its networks' last layers. Returns the parameters set (the
    arguments are `linear_texture_parameters`'). With a `period`, the texture is the frames'
    truncated Fourier series instead (`harmonic_texture_parameters`; `pair_starts` and
    `seed` are then unused)."""
    config = model.model_config
    if not config.linear_path:
        raise ValueError("initialise_from_linear_texture: the model has no linear path "
                         "(ModelConfig.linear_path is false)")
    if period is None:
        parameters = linear_texture_parameters(frames, pair_starts, config.latent_dim, seed,
                                               subspace_frames)
    else:
        parameters = harmonic_texture_parameters(frames, config.latent_dim, period,
                                                 subspace_frames)
    decoder, encoder = model.decoder, model.encoder
    decoder.get_layer("linear_observation").set_weights(
        [parameters["observation"].T.astype(np.float32), parameters["mean"].astype(np.float32)])
    encoder.get_layer("linear_mean").set_weights(
        [parameters["projection"].astype(np.float32),
         (-parameters["mean"] @ parameters["projection"]).astype(np.float32)])
    for layer in (decoder.get_layer("output"), encoder.get_layer("mean")):
        layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    model.dynamic_layer.set_transition(parameters["transition"], parameters["noise"])
    return parameters
