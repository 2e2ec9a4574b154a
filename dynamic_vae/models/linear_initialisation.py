"""Starting a Dynamic VAE at the linear dynamic texture of its training frames.

With `linear_path` the encoder and decoder each carry a linear map beside their networks. The
linear dynamic texture (Doretto et al., 2003) fits in closed form: the principal components of
the frames give the observation map, least squares on consecutive states gives A. Scaled so
that every state has unit variance, as the Dynamic VAE's stationary prior N(0, I) asks:

    y_t - mean = U S v_t          (SVD of the centred frames, n components)
    x_t = v_t sqrt(T - 1)         (unit variance per component)
    C   = U S / sqrt(T - 1)       (y_t = C x_t + mean)
    A   = argmin sum ||x_{t+1} - A x_t||^2, spectral norm clipped below 1
    B   = chol(I - A A^T)         (so A A^T + B B^T = I exactly)

The decoder's linear map is set to (C, mean), the encoder's to the projection
x = diag(sqrt(T - 1) / S) U^T (y - mean), and the networks' last layers to zero, so before the
first step the model decodes and encodes exactly as the linear texture does.
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
    norm = np.linalg.norm(transition, 2)
    if norm > MAX_INITIAL_NORM:
        transition *= MAX_INITIAL_NORM / norm
    noise = np.linalg.cholesky(np.eye(latent_dim) - transition @ transition.T)
    return {"observation": basis * scale, "mean": mean, "projection": projection,
            "transition": transition, "noise": noise}


def initialise_from_linear_texture(model, frames: np.ndarray, pair_starts: np.ndarray,
                                   seed: int = 0, subspace_frames: np.ndarray | None = None
                                   ) -> dict[str, np.ndarray]:
    """Sets a `linear_path` model's linear maps, A and B to the linear dynamic texture of its
    training frames and zeroes its networks' last layers. Returns the parameters set (the
    arguments are `linear_texture_parameters`')."""
    config = model.model_config
    if not config.linear_path:
        raise ValueError("initialise_from_linear_texture: the model has no linear path "
                         "(ModelConfig.linear_path is false)")
    parameters = linear_texture_parameters(frames, pair_starts, config.latent_dim, seed,
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
