"""The calibrated observation noise against its closed forms."""

import numpy as np
import pytest
import tensorflow as tf

from dynamic_vae.models.observation_noise import (gaussian_negative_log_likelihood,
                                                  optimal_log_sigma)


@pytest.fixture
def batch(rng):
    targets = rng.random((8, 6, 5, 3)).astype(np.float32)
    scales = np.array([0.05, 0.2, 0.5], np.float32)  # a different noise level per channel
    predictions = targets + rng.normal(size=targets.shape).astype(np.float32) * scales
    return targets, predictions


def test_nll_matches_the_gaussian_density(batch):
    """Against numpy's log-density of N(y_hat, sigma^2), minus the 2 pi constant."""
    targets, predictions = batch
    log_sigma = np.log(np.array([0.1, 0.3, 0.7], np.float32))
    nll = gaussian_negative_log_likelihood(targets, predictions, log_sigma).numpy()
    sigma = np.exp(log_sigma)
    log_density = (-0.5 * ((targets - predictions) / sigma) ** 2 - np.log(sigma)
                   - 0.5 * np.log(2 * np.pi))
    expected = -log_density.sum(axis=(1, 2, 3)) - 0.5 * np.log(2 * np.pi) * 6 * 5 * 3
    np.testing.assert_allclose(nll, expected, rtol=1e-5)


def test_fixed_sigma_without_normaliser_is_the_paper_term(batch):
    targets, predictions = batch
    nll = gaussian_negative_log_likelihood(targets, predictions, np.log(0.5), normalise=False)
    expected = ((targets - predictions) ** 2).sum(axis=(1, 2, 3)) / (2 * 0.5 ** 2)
    np.testing.assert_allclose(nll.numpy(), expected, rtol=1e-5)


@pytest.mark.parametrize("per_channel", [False, True])
def test_optimal_sigma_is_the_rms_error_and_minimises_the_nll(batch, per_channel):
    targets, predictions = batch
    log_sigma = optimal_log_sigma(targets, predictions, per_channel=per_channel).numpy()
    axes = (0, 1, 2) if per_channel else None
    np.testing.assert_allclose(np.exp(2 * log_sigma),
                               ((targets - predictions) ** 2).mean(axis=axes), rtol=1e-5)

    def mean_nll(value):
        return gaussian_negative_log_likelihood(targets, predictions, value).numpy().mean()

    for step in (-0.05, 0.05):
        assert mean_nll(log_sigma) < mean_nll(log_sigma + step)


def test_a_learned_sigma_converges_to_the_closed_form(batch):
    """Gradient descent on a trainable per-channel log sigma reaches the optimum."""
    targets, predictions = batch
    log_sigma = tf.Variable(tf.zeros([3]))
    for _ in range(400):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(gaussian_negative_log_likelihood(targets, predictions,
                                                                   log_sigma)) / (6 * 5)
        log_sigma.assign_sub(0.05 * tape.gradient(loss, log_sigma))
    np.testing.assert_allclose(log_sigma.numpy(),
                               optimal_log_sigma(targets, predictions, per_channel=True).numpy(),
                               atol=1e-3)
