"""The TFP Kalman filter / RTS smoother against an independent numpy implementation."""

import numpy as np
import pytest
import tensorflow as tf

from dynamic_vae.inference.kalman import (extend_with_missing, latent_posteriors,
                                          posterior_trajectories)


def numpy_kalman_rts(a, q, observations, covariances, missing, m0, p0):
    """Textbook Kalman filter (H = I) and Rauch-Tung-Striebel smoother in float64."""
    steps, n = observations.shape
    filtered_m, filtered_p, predicted_m, predicted_p = [], [], [], []
    m, p = m0, p0
    for t in range(steps):
        if t > 0:
            m, p = a @ m, a @ p @ a.T + q
        predicted_m.append(m)
        predicted_p.append(p)
        if not missing[t]:
            gain = p @ np.linalg.inv(p + covariances[t])
            m = m + gain @ (observations[t] - m)
            p = (np.eye(n) - gain) @ p
        filtered_m.append(m)
        filtered_p.append(p)
    smoothed_m, smoothed_p = [filtered_m[-1]], [filtered_p[-1]]
    for t in range(steps - 2, -1, -1):
        gain = filtered_p[t] @ a.T @ np.linalg.inv(predicted_p[t + 1])
        smoothed_m.insert(0, filtered_m[t] + gain @ (smoothed_m[0] - predicted_m[t + 1]))
        smoothed_p.insert(0, filtered_p[t]
                          + gain @ (smoothed_p[0] - predicted_p[t + 1]) @ gain.T)
    return tuple(np.array(v) for v in (filtered_m, filtered_p, smoothed_m, smoothed_p))


def small_system(rng, n=3, steps=12):
    a = 0.9 * np.linalg.qr(rng.standard_normal((n, n)))[0]
    b = 0.4 * rng.standard_normal((n, n))
    factors = 0.3 * rng.standard_normal((steps, n, n))
    covariances = factors @ np.transpose(factors, (0, 2, 1)) + 0.05 * np.eye(n)
    observations = rng.standard_normal((steps, n))
    return a, b, observations, covariances


@pytest.mark.parametrize("missing_steps", [[], [0, 3, 4, 5, 11], [2, 7]])
def test_filter_and_smoother_match_numpy(rng, missing_steps):
    a, b, observations, covariances = small_system(rng)
    missing = np.zeros(len(observations), bool)
    missing[missing_steps] = True
    m0, p0 = np.array([0.5, -0.2, 0.1]), np.diag([2.0, 1.0, 0.5])
    expected = numpy_kalman_rts(a, b @ b.T, observations, covariances, missing, m0, p0)
    actual = latent_posteriors(a, b, observations, covariances, missing,
                               initial_mean=m0, initial_covariance=p0)
    for got, want in zip(actual, expected):
        np.testing.assert_allclose(got.numpy(), want, atol=1e-5, rtol=1e-5)


def test_default_prior_is_standard_normal(rng):
    a, b, observations, covariances = small_system(rng)
    missing = np.zeros(len(observations), bool)
    expected = numpy_kalman_rts(a, b @ b.T, observations, covariances, missing,
                                np.zeros(3), np.eye(3))
    actual = latent_posteriors(a, b, observations, covariances, missing)
    np.testing.assert_allclose(actual.smoothed_means.numpy(), expected[2], atol=1e-5)


def test_masked_values_are_ignored(rng):
    a, b, observations, covariances = small_system(rng)
    missing = np.zeros(len(observations), bool)
    missing[[1, 6]] = True
    changed = observations.copy()
    changed[[1, 6]] = 1e3
    first = latent_posteriors(a, b, observations, covariances, missing)
    second = latent_posteriors(a, b, changed, covariances, missing)
    np.testing.assert_allclose(first.smoothed_means.numpy(), second.smoothed_means.numpy())
    # ...while an observed step's value does move the estimate.
    changed[2] += 1.0
    third = latent_posteriors(a, b, changed, covariances, missing)
    assert np.abs(third.smoothed_means.numpy()[2] - first.smoothed_means.numpy()[2]).max() > 1e-3


def test_forecast_steps_follow_the_transition(rng):
    a, b, observations, covariances = small_system(rng, steps=6)
    missing = np.zeros(6, bool)
    obs, cov, mask = extend_with_missing(tf.constant(observations), tf.constant(covariances),
                                         tf.constant(missing), 4)
    assert obs.shape == (10, 3) and cov.shape == (10, 3, 3) and mask.numpy().sum() == 4
    result = latent_posteriors(a, b, obs, cov, mask)
    means = result.filtered_means.numpy()
    covs = result.filtered_covariances.numpy()
    for k in range(1, 5):  # mean A^k m_T, covariance A P A^T + B B^T step by step
        np.testing.assert_allclose(means[5 + k], np.linalg.matrix_power(a, k) @ means[5],
                                   atol=1e-6)
        np.testing.assert_allclose(covs[5 + k], a @ covs[4 + k] @ a.T + b @ b.T, atol=1e-6)
    # Nothing after the clip: smoothing equals filtering there.
    np.testing.assert_allclose(result.smoothed_means.numpy()[5:], means[5:], atol=1e-6)


def test_shapes_and_tf_function(rng):
    a, b, observations, covariances = small_system(rng, n=3, steps=7)
    args = [tf.constant(v, tf.float32) for v in (a, b, observations, covariances)]
    missing = tf.constant([False, True, False, False, True, True, False])
    compiled = tf.function(latent_posteriors)
    result = compiled(*args, missing)
    assert [tuple(v.shape) for v in result] == [(7, 3), (7, 3, 3)] * 2
    assert all(v.dtype == tf.float32 for v in result)
    eager = latent_posteriors(*args, missing)
    np.testing.assert_allclose(result.smoothed_means.numpy(), eager.smoothed_means.numpy(),
                               atol=1e-5)


def test_posterior_samples_are_seeded_and_centred_on_the_smoother(rng):
    a, b, observations, covariances = small_system(rng, steps=5)
    missing = np.array([False, True, False, True, True])
    seed = tf.constant([3, 4], tf.int32)
    samples = posterior_trajectories(a, b, observations, covariances, missing, 4000, seed)
    assert samples.shape == (4000, 5, 3)
    again = posterior_trajectories(a, b, observations, covariances, missing, 4000, seed)
    np.testing.assert_array_equal(samples.numpy(), again.numpy())
    smoothed = latent_posteriors(a, b, observations, covariances, missing)
    standard_error = np.sqrt(np.diagonal(smoothed.smoothed_covariances.numpy(), axis1=1,
                                         axis2=2) / 4000)
    assert np.all(np.abs(samples.numpy().mean(0) - smoothed.smoothed_means.numpy())
                  < 5 * standard_error)
    np.testing.assert_allclose(np.var(samples.numpy(), axis=0),
                               np.diagonal(smoothed.smoothed_covariances.numpy(), axis1=1,
                                           axis2=2), rtol=0.15)
