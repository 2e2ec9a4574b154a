"""Starting at the linear dynamic texture: closed forms in numpy."""

import numpy as np
import pytest

from dynamic_vae.models import DynamicVAE
from dynamic_vae.models.linear_initialisation import (harmonic_texture_parameters,
                                                      initialise_from_linear_texture,
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
    # A: least squares of x_{t+1} on x_t (singular values clipped at 0.99), B closes
    # stationarity.
    expected, *_ = np.linalg.lstsq(states[:-1], states[1:], rcond=None)
    left, singular, right = np.linalg.svd(expected.T)
    a = (left * np.minimum(singular, 0.99)) @ right
    np.testing.assert_allclose(p["transition"], a, atol=1e-5)
    np.testing.assert_allclose(p["transition"] @ p["transition"].T + p["noise"] @ p["noise"].T,
                               np.eye(N), atol=1e-10)


def test_a_drifting_clip_starts_with_its_slow_directions_slow():
    """A short clip whose state drifts: least squares gives eigenvalues near 1 and one
    singular value well above 1 (a non-normal A). Clipping that singular value keeps the
    slow directions slow; scaling the whole matrix by it would make every one fast."""
    rng = np.random.default_rng(1)
    drift = np.array([[0.99, 0.6], [0.0, 0.98]])            # norm 1.17, eigenvalues 0.99, 0.98
    states = np.zeros((40, 2))
    states[0] = [1.0, 1.0]
    for t in range(39):
        states[t + 1] = drift @ states[t] + 0.02 * rng.normal(size=2)
    basis = np.linalg.qr(rng.normal(size=(64, 2)))[0]
    frames = (states @ basis.T + 0.5).reshape(40, 8, 8, 1).astype(np.float32)
    p = linear_texture_parameters(frames, np.arange(39), 2)
    fitted, *_ = np.linalg.lstsq(states[:-1] - states.mean(0), states[1:] - states.mean(0),
                                 rcond=None)
    assert np.linalg.norm(fitted.T, 2) > 1.05                # the clip needs the clipping
    assert np.linalg.norm(p["transition"], 2) <= 0.99 + 1e-9
    moduli = np.abs(np.linalg.eigvals(p["transition"]))
    assert moduli.min() > 0.9, moduli


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


def _periodic_clip(period: int, amplitudes: dict[int, float], turns: int = 3) -> np.ndarray:
    """A turning pattern: harmonic k of the period drives its own random image with the
    given amplitude, so the frames are exactly a truncated Fourier series."""
    rng = np.random.default_rng(1)
    t = np.arange(turns * period)
    clip = 0.5 + np.zeros((len(t), 16 * 16))
    for k, amplitude in amplitudes.items():
        cos_image, sin_image = rng.normal(size=(2, 16 * 16)) * amplitude
        clip += (np.outer(np.cos(2 * np.pi * k * t / period), cos_image)
                 + np.outer(np.sin(2 * np.pi * k * t / period), sin_image))
    return clip.reshape(len(t), 16, 16, 1)


def test_harmonic_parameters_are_the_fourier_series_with_exact_turns():
    period = 12
    frames = _periodic_clip(period, {1: 0.02, 2: 0.1, 3: 0.05, 5: 0.08})
    p = harmonic_texture_parameters(frames, latent_dim=9, period=period)
    # The fundamental first, however weak, then the others by energy; the ninth dimension
    # holds what the four planes leave out (here nothing, so it is noise).
    assert p["harmonics"].tolist() == [1, 2, 5, 3]
    flat = frames.reshape(len(frames), -1)
    np.testing.assert_allclose(p["mean"], flat.mean(axis=0), atol=1e-12)
    # The projection reads each frame's phase: x_t = sqrt(2) (cos, sin)(2 pi k t / P).
    t = np.arange(len(frames))
    angles = 2 * np.pi * np.outer(t, p["harmonics"]) / period
    expected = np.sqrt(2) * np.stack([np.cos(angles), np.sin(angles)], 2).reshape(len(t), 8)
    states = (flat - p["mean"]) @ p["projection"]
    np.testing.assert_allclose(states[:, :8], expected, atol=1e-4)
    np.testing.assert_allclose(states[:, :8].std(axis=0), np.ones(8), atol=1e-4)
    # C maps the states back to the frames, and A turns them one frame on, at modulus 0.99.
    np.testing.assert_allclose(states @ p["observation"].T + p["mean"], flat, atol=1e-4)
    a, b = p["transition"], p["noise"]
    np.testing.assert_allclose(states[1:, :8], states[:-1, :8] @ a[:8, :8].T / 0.99,
                               atol=1e-4)
    eigenvalues = np.linalg.eigvals(a)
    for k in (1, 2, 3, 5):
        assert np.min(np.abs(eigenvalues - 0.99 * np.exp(2j * np.pi * k / period))) < 1e-12
    np.testing.assert_allclose(a @ a.T + b @ b.T, np.eye(9), atol=1e-12)
    assert np.all(np.abs(eigenvalues) <= 1)


def test_harmonic_parameters_keep_the_fundamental_that_principal_components_miss():
    """An object nearly the same from opposite sides: 1% of the energy at k = 1. Two principal
    components are harmonic 2's plane, and the state cannot tell a frame from the frame half
    a turn on; the harmonic start's two dimensions are the fundamental."""
    period = 24
    frames = _periodic_clip(period, {1: 0.01, 2: 0.1})
    half = period // 2
    linear = linear_texture_parameters(frames, np.arange(len(frames) - 1), 2)
    flat = frames.reshape(len(frames), -1)
    pca_states = (flat - linear["mean"]) @ linear["projection"]
    assert np.abs(pca_states[:half] - pca_states[half:2 * half]).max() < 0.05
    p = harmonic_texture_parameters(frames, latent_dim=2, period=period)
    assert p["harmonics"].tolist() == [1]
    states = (flat - p["mean"]) @ p["projection"]
    np.testing.assert_allclose(states[:half], -states[half:2 * half], atol=1e-4)
    assert np.linalg.norm(states[0]) == pytest.approx(np.sqrt(2), abs=1e-3)


@pytest.mark.parametrize("period, latent_dim, message", [
    (2, 4, "period: the harmonic start needs an integer period >= 3 frames, got 2"),
    (12, 40, "needs more than latent_dim=40 frames, got 36"),
])
def test_harmonic_parameters_reject_bad_input(period, latent_dim, message):
    with pytest.raises(ValueError, match=message):
        harmonic_texture_parameters(_periodic_clip(12, {1: 0.1}), latent_dim, period)
