"""Baselines of the Kalman inference evaluation: pixel interpolation and the linear texture."""

import numpy as np
import pytest

from dynamic_vae.baseline import LinearDynamicTexture
from dynamic_vae.inference.baselines import (linear_interpolation, texture_pixel_variance,
                                             texture_posteriors)
from tests.inference.test_kalman import numpy_kalman_rts


def test_linear_interpolation_between_and_beyond_present_frames():
    frames = np.arange(6, dtype=np.float32)[:, None, None] * np.ones((6, 2, 2), np.float32)
    frames[[0, 2, 3, 5]] = 0
    missing = np.array([True, False, True, True, False, True])
    filled = linear_interpolation(frames, missing)
    np.testing.assert_allclose(filled[:, 0, 0], [1, 1, 2, 3, 4, 4])
    with pytest.raises(ValueError, match="at least one frame must be present"):
        linear_interpolation(frames, np.ones(6, bool))


def test_texture_posteriors_match_numpy(rng):
    frames = rng.random((60, 6, 6, 1)).astype(np.float32)
    texture = LinearDynamicTexture(latent_dim=3).fit(frames)
    variance = texture_pixel_variance(texture, frames)
    flat = frames.reshape(60, -1)
    residual = flat - ((flat - texture.mean_frame) @ texture.observation_matrix
                       @ texture.observation_matrix.T + texture.mean_frame)
    assert variance == pytest.approx(np.mean(residual ** 2), rel=1e-5)
    clip, missing = frames[:8], np.array([0, 1, 0, 0, 1, 1, 0, 0], bool)
    result = texture_posteriors(texture, clip, missing, variance)
    states = texture.encode(clip)
    expected = numpy_kalman_rts(
        texture.transition_matrix, texture.noise_matrix @ texture.noise_matrix.T, states,
        np.broadcast_to(variance * np.eye(3), (8, 3, 3)), missing, np.zeros(3),
        np.cov(texture.states, rowvar=False))
    np.testing.assert_allclose(result.smoothed_means.numpy(), expected[2], atol=1e-6)
    np.testing.assert_allclose(result.filtered_covariances.numpy(), expected[1], atol=1e-6)


def test_nearest_view_offsets_are_circular(rng):
    from dynamic_vae.evaluation.inference_quality import nearest_view_offsets

    views = rng.random((10, 4, 4, 1)).astype(np.float32)
    predicted = views[[9, 0, 3]] + 0.01
    offsets = nearest_view_offsets(predicted, views, np.array([0, 9, 6]))
    np.testing.assert_array_equal(offsets, [1, 1, 3])
