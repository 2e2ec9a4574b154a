"""Starting at the linear dynamic texture: closed forms in numpy."""

import numpy as np
import pytest

from dynamic_vae.models import DynamicVAE
from dynamic_vae.models.linear_initialisation import (initialise_from_linear_texture,
                                                      linear_texture_parameters)

FRAME_SHAPE = (16, 16, 1)
N = 3


@pytest.fixture
def frames():
    """Three drifting sinusoids: a linear process of rank 6 plus a little noise."""
    rng = np.random.default_rng(0)
    t = np.arange(60)[:, None, None]
    y, x = np.mgrid[0:16, 0:16]
    clip = sum(np.sin(0.3 * k * t + 0.4 * k * x + 0.2 * y + k) for k in (1, 2, 3)) / 6 + 0.5
    return (clip + 0.01 * rng.normal(size=clip.shape)).astype(np.float32)[..., None]


def test_parameters_match_the_closed_form(frames):
    starts = np.arange(len(frames) - 1)
    p = linear_texture_parameters(frames, starts, N)
    flat = frames.reshape(len(frames), -1).astype(np.float64)
    mean = flat.mean(axis=0)
    np.testing.assert_allclose(p["mean"], mean, atol=1e-6)
    # Unit-variance states, and C maps them back to the PCA reconstruction.
    states = (flat - mean) @ p["projection"]
    np.testing.assert_allclose(states.std(axis=0, ddof=1), np.ones(N), rtol=1e-6)
    _, _, vt = np.linalg.svd(flat - mean, full_matrices=False)
    pca = (flat - mean) @ vt[:N].T @ vt[:N]
    np.testing.assert_allclose(states @ p["observation"].T, pca, atol=1e-4)
    # A: least squares of x_{t+1} on x_t (clipped below norm 1), B closes stationarity.
    expected, *_ = np.linalg.lstsq(states[:-1], states[1:], rcond=None)
    a = expected.T
    if np.linalg.norm(a, 2) > 0.99:
        a *= 0.99 / np.linalg.norm(a, 2)
    np.testing.assert_allclose(p["transition"], a, atol=1e-5)
    np.testing.assert_allclose(p["transition"] @ p["transition"].T + p["noise"] @ p["noise"].T,
                               np.eye(N), atol=1e-10)


def test_an_initialised_model_encodes_and_decodes_as_the_linear_texture(frames):
    model = DynamicVAE(frame_shape=FRAME_SHAPE, latent_dim=N, architecture="residual",
                       width=8, linear_path=True, seed=0)
    starts = np.arange(len(frames) - 1)
    p = initialise_from_linear_texture(model, frames, starts)
    flat = frames.reshape(len(frames), -1).astype(np.float64)
    expected_states = (flat - p["mean"]) @ p["projection"]
    mean, _ = model.encoder(frames)
    np.testing.assert_allclose(mean.numpy(), expected_states, atol=1e-3)
    decoded = model.decode(expected_states.astype(np.float32)).numpy().reshape(len(frames), -1)
    np.testing.assert_allclose(decoded, expected_states @ p["observation"].T + p["mean"],
                               atol=1e-4)
    a, b = model.transition()
    np.testing.assert_allclose(a, p["transition"], atol=1e-6)
    np.testing.assert_allclose(b, p["noise"], atol=1e-6)


def test_linear_path_needs_the_residual_frame_encoder():
    with pytest.raises(ValueError, match="linear_path needs architecture 'residual'"):
        DynamicVAE(frame_shape=FRAME_SHAPE, latent_dim=N, linear_path=True)
    model = DynamicVAE(frame_shape=FRAME_SHAPE, latent_dim=N, architecture="residual", width=8)
    with pytest.raises(ValueError, match="the model has no linear path"):
        initialise_from_linear_texture(model, np.zeros((10, *FRAME_SHAPE)), np.arange(9))
