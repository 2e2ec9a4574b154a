import numpy as np
import pytest

from dynamic_vae.baseline import LinearDynamicTexture, randomized_svd


def _linear_video(rng, count=600, n=4, side=12):
    """A video that *is* a linear dynamic system: y = C x + y_bar with known A."""
    angles = [2 * np.pi / 6, 2 * np.pi / 11]
    a = np.zeros((n, n))
    for i, theta in enumerate(angles):
        a[2 * i:2 * i + 2, 2 * i:2 * i + 2] = 0.97 * np.array(
            [[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    b = np.sqrt(1 - 0.97**2) * np.eye(n)
    c, _ = np.linalg.qr(rng.normal(size=(side * side, n)))
    x = np.zeros((count, n))
    x[0] = rng.normal(size=n)
    for t in range(count - 1):
        x[t + 1] = a @ x[t] + b @ rng.normal(size=n)
    frames = 0.5 + 0.05 * (x @ c.T)
    return frames.reshape(count, side, side).astype(np.float32), a


def test_recovers_a_known_transition(rng):
    frames, a = _linear_video(rng)
    model = LinearDynamicTexture(latent_dim=4).fit(frames)
    # A is identified up to a change of basis: compare its eigenvalues.
    expected = np.sort_complex(np.linalg.eigvals(a))
    actual = np.sort_complex(np.linalg.eigvals(model.transition_matrix))
    np.testing.assert_allclose(actual, expected, atol=0.03)
    # One-step predictions beat "the next frame equals this one".
    predicted = model.predict(frames[:-1], steps=1)
    error = np.mean((predicted[..., 0] - frames[1:]) ** 2)
    assert error < 0.5 * np.mean((frames[:-1] - frames[1:]) ** 2)


def test_synthesis_shapes_clipping_and_seeds(rng):
    frames, _ = _linear_video(rng, count=200)
    model = LinearDynamicTexture(latent_dim=4, noise_dim=2).fit(frames)
    assert model.noise_matrix.shape == (4, 2)
    video, states = model.synthesize(50, seed=3)
    assert video.shape == (50, 12, 12, 1) and states.shape == (50, 4)
    assert video.min() >= 0 and video.max() <= 1
    np.testing.assert_array_equal(video, model.synthesize(50, seed=3)[0])
    from_frame, _ = model.synthesize(5, initial_frame=frames[10], noise_scale=0.0)
    np.testing.assert_allclose(from_frame[1], model.predict(frames[10:11], 1)[0], atol=1e-6)
    assert np.linalg.norm(model.transition_matrix, 2) <= 1 + 1e-9


def test_save_load_round_trip(rng, tmp_path):
    frames, _ = _linear_video(rng, count=100)
    model = LinearDynamicTexture(latent_dim=3).fit(frames)
    model.save(tmp_path / "ldt.npz")
    loaded = LinearDynamicTexture.load(tmp_path / "ldt.npz")
    np.testing.assert_array_equal(loaded.synthesize(20, seed=1)[0], model.synthesize(20, seed=1)[0])
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="bad.npz"):
        LinearDynamicTexture.load(tmp_path / "bad.npz")


def test_real_traffic_clip_fits_in_seconds(shared_data):
    frames = np.load(shared_data / "traffic48" / "traffic_a.npy")
    model = LinearDynamicTexture(latent_dim=10).fit(frames)
    video, _ = model.synthesize(100, seed=0)
    assert video.shape == (100, 48, 48, 1) and np.isfinite(video).all()


def test_randomized_svd_matches_numpy(rng):
    low_rank = rng.normal(size=(300, 8)) @ rng.normal(size=(8, 200))
    _, s_rand, _ = randomized_svd(low_rank, 5)
    np.testing.assert_allclose(s_rand, np.linalg.svd(low_rank, compute_uv=False)[:5], rtol=1e-6)


def test_bad_input(rng):
    with pytest.raises(ValueError, match="latent_dim"):
        LinearDynamicTexture(latent_dim=0)
    with pytest.raises(ValueError, match="more than latent_dim"):
        LinearDynamicTexture(latent_dim=10).fit(np.zeros((5, 8, 8), np.uint8))
    with pytest.raises(ValueError, match="not fitted"):
        LinearDynamicTexture().synthesize(3)
    frames, _ = _linear_video(rng, count=50)
    model = LinearDynamicTexture(latent_dim=2).fit(frames)
    with pytest.raises(ValueError, match="expected frames of shape"):
        model.encode(np.zeros((2, 5, 5)))


def test_residuals_are_what_the_reconstruction_leaves_out(rng):
    frames, _ = _linear_video(rng, count=200)
    model = LinearDynamicTexture(latent_dim=2).fit(frames)
    residuals = model.residuals(frames)
    np.testing.assert_allclose(residuals, frames[..., None] - model.decode(model.encode(frames)))
    # uint8 frames are read as pixel levels.
    levels = np.round(frames * 255).astype(np.uint8)
    np.testing.assert_allclose(model.residuals(levels), levels[..., None] / 255.0
                               - model.decode(model.encode(levels)))
    # A model of all four states leaves nothing out of a four-state video.
    full = LinearDynamicTexture(latent_dim=4).fit(frames)
    assert np.abs(full.residuals(frames)).max() < 1e-5


def test_fit_residual_texture_reads_persistence_from_consecutive_frames(rng):
    """A four-state video plus one pattern, outside the model's observation subspace, whose
    weight follows an AR(1) of slope 0.8: the texture's one direction is that pattern, with
    that persistence."""
    frames, _ = _linear_video(rng, count=2000)
    model = LinearDynamicTexture(latent_dim=4).fit(frames)
    c = model.observation_matrix
    pattern = rng.normal(size=c.shape[0])
    pattern -= c @ (c.T @ pattern)  # the model's states do not see it
    pattern /= np.linalg.norm(pattern)
    weights = np.zeros(len(frames))
    for t in range(1, len(frames)):
        weights[t] = 0.8 * weights[t - 1] + 0.6 * rng.normal()
    texture, info = model.fit_residual_texture(
        frames + 0.01 * (weights[:, None] * pattern).reshape(frames.shape), rank=1)
    assert info["rank"] == 1 and info["explained_variance"] > 0.99
    assert texture.persistence.numpy()[0] == pytest.approx(0.8, abs=0.05)
    basis = texture.basis.numpy()[0]
    assert abs(basis @ pattern) / np.linalg.norm(basis) == pytest.approx(1.0, abs=1e-3)
    assert texture.frame_shape == (12, 12, 1)
