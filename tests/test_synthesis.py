import numpy as np
import pytest

from dynamic_vae.models import DynamicVAE
from dynamic_vae.synthesis import synthesize, synthesize_latents


def _stationary_system(n, rng, radius=0.8):
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    a = radius * q
    b = np.linalg.cholesky(np.eye(n) - a @ a.T)
    return a, b


def test_synthesised_latents_are_stationary(rng):
    """With A A^T + B B^T = I and x0 ~ N(0, I): cov(x_t) = I and cov(x_{t+1}, x_t) = A."""
    n = 3
    a, b = _stationary_system(n, rng)
    latents = synthesize_latents(a, b, num_frames=30, seed=4, num_sequences=20_000)
    assert latents.shape == (20_000, 30, n)
    for t in (0, 10, 29):
        np.testing.assert_allclose(np.cov(latents[:, t], rowvar=False),
                                   a @ a.T + b @ b.T, atol=0.05)
    cross = latents[:, 11].T @ latents[:, 10] / len(latents)
    np.testing.assert_allclose(cross, a, atol=0.05)


def test_noise_free_rollout_is_powers_of_a(rng):
    a, b = _stationary_system(4, rng)
    x0 = rng.normal(size=4)
    latents = synthesize_latents(a, b, num_frames=6, initial_state=x0, noise_scale=0.0)
    for t in range(6):
        np.testing.assert_allclose(latents[0, t], np.linalg.matrix_power(a, t) @ x0,
                                   rtol=1e-4, atol=1e-5)


def test_same_seed_same_sequence(rng):
    a, b = _stationary_system(3, rng)
    first = synthesize_latents(a, b, 20, seed=7)
    np.testing.assert_array_equal(first, synthesize_latents(a, b, 20, seed=7))
    assert not np.allclose(first, synthesize_latents(a, b, 20, seed=8))


def test_synthesize_decodes_every_frame_in_batches():
    model = DynamicVAE(frame_shape=(16, 16, 1), latent_dim=4, filter_size=3, seed=0)
    frames, latents = synthesize(model, 1100, seed=1, num_sequences=2)
    assert frames.shape == (2, 1100, 16, 16, 1) and frames.dtype == np.uint8
    assert latents.shape == (2, 1100, 4)
    np.testing.assert_array_equal(
        synthesize(model, 5, seed=1, as_uint8=False)[0][0],
        model.decode(latents[0, :5]).numpy())


def test_initial_pair_sets_x0(rng):
    model = DynamicVAE(frame_shape=(16, 16, 1), latent_dim=4, filter_size=3, seed=0)
    pair = rng.integers(0, 255, size=(2, 16, 16, 1), dtype=np.uint8)
    _, latents = synthesize(model, 3, initial_pair=pair)
    expected = model.encode_states(pair[np.newaxis].astype("float32") / 255).numpy()[0, :4]
    np.testing.assert_allclose(latents[0, 0], expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="initial frame pair"):
        synthesize(model, 3, initial_pair=pair[:, :8])


def test_bad_arguments(rng):
    a, b = _stationary_system(3, rng)
    with pytest.raises(ValueError, match="num_frames"):
        synthesize_latents(a, b, 0)
    with pytest.raises(ValueError, match="noise_scale"):
        synthesize_latents(a, b, 3, noise_scale=-1)
    with pytest.raises(ValueError, match="initial_state"):
        synthesize_latents(a, b, 3, initial_state=np.zeros(5))
    with pytest.raises(ValueError, match="square"):
        synthesize_latents(a[:2], b, 3)
