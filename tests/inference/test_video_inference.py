"""Forecast / impute / denoise on tiny untrained models: measurements, maths against numpy,
shapes, seeds and errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dynamic_vae.inference import denoise, forecast, impute, missing_mask
from dynamic_vae.inference.clip import smooth_clip
from dynamic_vae.inference.masks import parse_indices
from dynamic_vae.inference.observations import latent_measurements
from dynamic_vae.models.dynamic_vae import DynamicVAE
from tests.inference.test_kalman import numpy_kalman_rts

TINY = dict(frame_shape=(16, 16, 1), latent_dim=3, filter_size=3, base_channels=8, seed=0)


@pytest.fixture(scope="module")
def frame_model():
    # Fixed weights: whether decoded frames saturate must not depend on the test order.
    keras.utils.set_random_seed(0)
    return DynamicVAE(encoder_mode="frame", **TINY)


@pytest.fixture(scope="module")
def pair_model():
    keras.utils.set_random_seed(1)
    model = DynamicVAE(encoder_mode="pair", **TINY)
    # A generic A and B, so a wrong push-forward of the second half would show.
    rng = np.random.default_rng(1)
    model.dynamic_layer.transition_matrix.assign(0.5 * rng.standard_normal((3, 3)))
    model.dynamic_layer.noise_matrix.assign(0.5 * rng.standard_normal((3, 3)))
    return model


@pytest.fixture(scope="module")
def clip():
    return np.random.default_rng(2).integers(0, 256, (8, 16, 16, 1)).astype(np.uint8)


def unit(frames):
    return frames.astype(np.float32) / 255.0


def test_frame_measurements_are_the_encoder_posterior(frame_model, clip):
    missing = np.zeros(8, bool)
    missing[[2, 5]] = True
    means, covariances, mask = latent_measurements(frame_model, unit(clip), missing)
    mean, log_variance = (v.numpy() for v in frame_model.encoder(unit(clip)))
    np.testing.assert_array_equal(mask.numpy(), missing)
    np.testing.assert_allclose(means.numpy()[~missing], mean[~missing], rtol=1e-6)
    np.testing.assert_allclose(covariances.numpy()[~missing],
                               [np.diag(v) for v in np.exp(log_variance[~missing])], rtol=1e-5)
    assert not means.numpy()[missing].any()
    np.testing.assert_array_equal(covariances.numpy()[missing], [np.eye(3)] * 2)


def test_pair_measurements_use_neighbouring_pairs(pair_model, clip):
    frames = unit(clip)[:7]
    missing = np.array([False, False, True, False, False, True, False])
    means, covariances, mask = latent_measurements(pair_model, frames, missing)
    stacked = np.concatenate([frames[:-1], frames[1:]], axis=-1)
    mean, log_variance = (v.numpy() for v in pair_model.encoder(stacked))
    variance = np.exp(log_variance)
    a, b = pair_model.transition()

    def first(p):
        return mean[p, :3], np.diag(variance[p, :3])

    def second(p):
        return (a @ mean[p, :3] + b @ mean[p, 3:],
                a @ np.diag(variance[p, :3]) @ a.T + b @ np.diag(variance[p, 3:]) @ b.T)

    # Pairs (0,1) and (3,4) are complete; frame 6 has no present neighbour.
    expected = {0: first(0), 1: second(0), 3: first(3), 4: second(3)}
    np.testing.assert_array_equal(mask.numpy(), [t not in expected for t in range(7)])
    for t, (want_mean, want_cov) in expected.items():
        np.testing.assert_allclose(means.numpy()[t], want_mean, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(covariances.numpy()[t], want_cov, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("mode", ["frame", "pair"])
def test_smoothing_a_clip_matches_numpy(mode, frame_model, pair_model, clip):
    model = frame_model if mode == "frame" else pair_model
    missing = np.zeros(8, bool)
    missing[[3, 4]] = True
    means, covariances, mask = latent_measurements(model, unit(clip), missing)
    a, b = (m.astype(np.float64) for m in model.transition())
    _, _, want_means, want_covs = numpy_kalman_rts(
        a, b @ b.T, means.numpy().astype(np.float64), covariances.numpy().astype(np.float64),
        mask.numpy(), np.zeros(3), np.eye(3))
    result = smooth_clip(model, unit(clip), missing)
    np.testing.assert_allclose(result.smoothed_means.numpy(), want_means, atol=1e-5)
    np.testing.assert_allclose(result.smoothed_covariances.numpy(), want_covs, atol=1e-5)


def test_forecast_mean_decodes_the_propagated_filter_mean(frame_model, clip):
    mean, samples = forecast(frame_model, clip, steps=3, num_samples=2, seed=7,
                             as_uint8=False)
    assert mean.shape == (3, 16, 16, 1) and samples.shape == (2, 3, 16, 16, 1)
    assert mean.dtype == np.float32 and 0 <= mean.min() and mean.max() <= 1
    last = smooth_clip(frame_model, unit(clip), np.zeros(8, bool)).filtered_means.numpy()[-1]
    a, _ = frame_model.transition()
    states = np.stack([np.linalg.matrix_power(a.astype(np.float64), k) @ last
                       for k in range(1, 4)])
    decoded = np.clip(frame_model.decode(states.astype(np.float32)).numpy(), 0, 1)
    np.testing.assert_allclose(mean, decoded, atol=1e-5)


def test_forecast_samples_are_seeded(frame_model, clip):
    _, first = forecast(frame_model, clip, steps=3, num_samples=2, seed=1, as_uint8=False)
    _, again = forecast(frame_model, clip, steps=3, num_samples=2, seed=1, as_uint8=False)
    _, other = forecast(frame_model, clip, steps=3, num_samples=2, seed=2, as_uint8=False)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert not np.array_equal(first[0], first[1])


def test_impute_keeps_present_frames_and_reads_blank_frames(frame_model, clip):
    blanked = clip.copy()
    blanked[[1, 6]] = 0
    from_blanks = impute(frame_model, blanked)
    from_indices = impute(frame_model, clip, [1, -2])
    np.testing.assert_array_equal(from_blanks, from_indices)
    present = np.ones(8, bool)
    present[[1, 6]] = False
    np.testing.assert_array_equal(from_indices[present], clip[present])
    smoothed = impute(frame_model, clip, [1, 6], keep_observed=False)
    np.testing.assert_array_equal(smoothed[~present], from_indices[~present])
    assert not np.array_equal(smoothed[present], clip[present])


def test_impute_samples_and_float_output(frame_model, clip):
    imputed, samples = impute(frame_model, unit(clip), [0, 4], num_samples=2, seed=3,
                              as_uint8=False)
    assert imputed.shape == (8, 16, 16, 1) and samples.shape == (2, 8, 16, 16, 1)
    np.testing.assert_allclose(imputed[1], unit(clip)[1])
    assert imputed.dtype == samples.dtype == np.float32


@pytest.mark.parametrize("mode", ["frame", "pair"])
def test_denoise_is_the_smoother_with_nothing_missing(mode, frame_model, pair_model, clip):
    model = frame_model if mode == "frame" else pair_model
    denoised = denoise(model, clip)
    assert denoised.shape == clip.shape and denoised.dtype == np.uint8
    np.testing.assert_array_equal(
        denoised, impute(model, clip, np.zeros(8, bool), keep_observed=False))


def test_bad_inputs_have_clear_errors(frame_model, clip):
    with pytest.raises(ValueError, match=r"shape \(16, 16, 1\).*\(8, 8, 1\)"):
        forecast(frame_model, clip[:, :8, :8], steps=2)
    with pytest.raises(ValueError, match=r"steps must be >= 1, got 0"):
        forecast(frame_model, clip, steps=0)
    with pytest.raises(ValueError, match=r"shape \(8,\).*got \(5,\)"):
        impute(frame_model, clip, np.zeros(5, bool))
    with pytest.raises(ValueError, match=r"index 8 is out of range for a clip of 8 frames"):
        impute(frame_model, clip, [2, 8])
    with pytest.raises(ValueError, match=r"all 8 frames are missing"):
        impute(frame_model, clip, list(range(8)))
    with pytest.raises(ValueError, match=r"float frames must lie in \[0, 1\]"):
        denoise(frame_model, unit(clip) * 2)
    with pytest.raises(ValueError, match=r"bool mask or integer frame indices"):
        missing_mask(8, np.array([0.5, 1.5]))


def test_parse_indices():
    assert parse_indices("3, 5,8-10,-1") == [3, 5, 8, 9, 10, -1]
    with pytest.raises(ValueError, match="--missing: expected comma-separated"):
        parse_indices("3,x")
    assert missing_mask(4, [-1]).tolist() == [False, False, False, True]


def test_cores_trace_once_for_any_clip_length(frame_model, clip):
    """What a serving signature needs: dynamic T, steps and sample count as tensors."""
    from dynamic_vae.inference.clip import forecast_clip

    @tf.function(input_signature=[
        tf.TensorSpec([None, 16, 16, 1]), tf.TensorSpec([None], tf.bool),
        tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int32), tf.TensorSpec([2], tf.int32)])
    def serve_forecast(frames, missing, steps, num_samples, seed):
        means, samples = forecast_clip(frame_model, frames, missing, steps, num_samples, seed)
        return frame_model.decode(tf.cast(means, tf.float32)), samples

    seed = np.array([1, 2], np.int32)
    for length, steps in ((8, 3), (5, 2)):
        mean, samples = serve_forecast(unit(clip)[:length], np.zeros(length, bool), steps, 2,
                                       seed)
        assert mean.shape == (steps, 16, 16, 1) and samples.shape == (2, steps, 3)
    assert serve_forecast.experimental_get_tracing_count() == 1
