"""The smoothed window posterior against the joint Gaussian computed directly in numpy."""

import numpy as np
import pytest
import tensorflow as tf

from dynamic_vae.models.window_posterior import sample_marginals, smoothed_window_posterior


def joint_posterior(measurements, variances, a, b):
    """Posterior of x_{1:L} given mu_t = x_t + e_t by stacking the whole window."""
    length, n = measurements.shape
    q = b @ b.T
    marginal = [np.eye(n)]
    for _ in range(length - 1):
        marginal.append(a @ marginal[-1] @ a.T + q)
    prior = np.zeros((length * n, length * n))
    for t in range(length):
        for s in range(t + 1):
            block = np.linalg.matrix_power(a, t - s) @ marginal[s]
            prior[t * n:(t + 1) * n, s * n:(s + 1) * n] = block
            prior[s * n:(s + 1) * n, t * n:(t + 1) * n] = block.T
    noise = np.diag(variances.reshape(-1))
    mu = measurements.reshape(-1)
    cov = np.linalg.inv(np.linalg.inv(prior) + np.linalg.inv(noise))
    mean = cov @ np.linalg.solve(noise, mu)
    prior_precision = np.linalg.inv(prior)
    kl = 0.5 * (np.trace(prior_precision @ cov) + mean @ prior_precision @ mean - length * n
                + np.linalg.slogdet(prior)[1] - np.linalg.slogdet(cov)[1])
    return mean.reshape(length, n), cov, kl


@pytest.mark.parametrize("length", [1, 2, 5])
def test_smoother_matches_the_stacked_joint_gaussian(length, rng):
    n, batch = 3, 4
    a = 0.6 * rng.normal(size=(n, n)) / np.sqrt(n)
    b = 0.5 * rng.normal(size=(n, n))
    measurements = rng.normal(size=(batch, length, n))
    variances = rng.uniform(0.01, 2.0, size=(batch, length, n))
    means, covs, kl = smoothed_window_posterior(tf.constant(measurements),
                                                tf.constant(variances), tf.constant(a),
                                                tf.constant(b))
    for i in range(batch):
        mean, cov, expected_kl = joint_posterior(measurements[i], variances[i], a, b)
        np.testing.assert_allclose(means[i].numpy(), mean, rtol=1e-6, atol=1e-8)
        for t in range(length):
            np.testing.assert_allclose(covs[i, t].numpy(), cov[t * n:(t + 1) * n,
                                                                t * n:(t + 1) * n],
                                       rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(kl[i].numpy(), expected_kl, rtol=1e-6)


def test_smoother_is_float32_in_float32_out_and_stays_finite_for_tiny_variances(rng):
    n = 4
    angle = np.pi / 2
    rotation = np.kron(np.eye(2), [[np.cos(angle), -np.sin(angle)],
                                   [np.sin(angle), np.cos(angle)]])
    a = 0.999 * rotation
    b = np.linalg.cholesky(np.eye(n) - a @ a.T)
    measurements = rng.normal(size=(2, 5, n)).astype("float32")
    variances = np.full((2, 5, n), 1e-6, "float32")
    means, covs, kl = smoothed_window_posterior(measurements, variances, a.astype("float32"),
                                                b.astype("float32"))
    assert means.dtype == tf.float32 and covs.dtype == tf.float32 and kl.dtype == tf.float32
    assert np.isfinite(means.numpy()).all() and np.isfinite(kl.numpy()).all()
    # Tiny measurement noise: the posterior sits on the measurements.
    np.testing.assert_allclose(means.numpy(), measurements, atol=1e-2)


def test_marginal_samples_have_the_smoothed_moments(rng):
    n = 2
    means = tf.constant(rng.normal(size=(1, 2, n)), tf.float32)
    root = rng.normal(size=(2, n, n))
    covs = tf.constant((root @ np.swapaxes(root, -1, -2) + 0.1 * np.eye(n))[None], tf.float32)
    draws = sample_marginals(means, covs, 20000, tf.constant([1, 2], tf.int32)).numpy()
    assert draws.shape == (20000, 2, n)
    for t in range(2):
        np.testing.assert_allclose(draws[:, t].mean(0), means[0, t], atol=0.05)
        np.testing.assert_allclose(np.cov(draws[:, t].T), covs[0, t], rtol=0.05, atol=0.05)
    again = sample_marginals(means, covs, 3, tf.constant([1, 2], tf.int32)).numpy()
    np.testing.assert_array_equal(again, sample_marginals(means, covs, 3,
                                                          tf.constant([1, 2], tf.int32)))
