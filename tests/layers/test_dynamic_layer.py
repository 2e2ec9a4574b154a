import numpy as np
import pytest
import tensorflow as tf

from dynamic_vae.layers import DynamicLayer
from tests.helpers.layer_checks import LayerChecks


def _set_matrices(layer, a, b):
    layer.transition_matrix.assign(a.astype("float32"))
    layer.noise_matrix.assign(b.astype("float32"))


def _stationary_pair(n, rng, radius=0.9):
    """A with spectral norm `radius` and B with A A^T + B B^T = I."""
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    a = radius * q
    cov = np.eye(n) - a @ a.T
    b = np.linalg.cholesky(cov + 1e-12 * np.eye(n))
    return a, b


def numpy_gaussian_kl(mu0, cov0, mu1, cov1):
    """KL(N(mu0, cov0) || N(mu1, cov1)), closed form."""
    k = len(mu0)
    inv1 = np.linalg.inv(cov1)
    diff = mu1 - mu0
    return 0.5 * (np.trace(inv1 @ cov0) + diff @ inv1 @ diff - k
                  + np.linalg.slogdet(cov1)[1] - np.linalg.slogdet(cov0)[1])


def test_pair_kl_matches_closed_form(rng):
    layer = DynamicLayer(latent_dim=3, posterior="pair", seed=0)
    mean = rng.normal(size=(5, 6)).astype("float32")
    log_variance = rng.normal(scale=0.5, size=(5, 6)).astype("float32")
    kl = layer.kl_divergence(mean, log_variance).numpy()
    # eq. (28): 1/2 sum(Sigma + mu^2 - 1 - log Sigma)
    expected = 0.5 * np.sum(np.exp(log_variance) + mean**2 - 1 - log_variance, axis=-1)
    np.testing.assert_allclose(kl, expected, rtol=1e-5)


def test_frame_kl_matches_closed_form_against_joint_prior(rng):
    n = 3
    layer = DynamicLayer(latent_dim=n, posterior="frame", seed=0)
    a = rng.normal(scale=0.4, size=(n, n))
    b = rng.normal(scale=0.4, size=(n, n)) + 0.5 * np.eye(n)
    _set_matrices(layer, a, b)
    mean = rng.normal(size=(4, 2 * n)).astype("float32")
    log_variance = rng.normal(scale=0.3, size=(4, 2 * n)).astype("float32")
    kl = layer.kl_divergence(mean, log_variance).numpy()
    prior_cov = np.block([[np.eye(n), a.T], [a, a @ a.T + b @ b.T]])
    for i in range(4):
        expected = numpy_gaussian_kl(mean[i], np.diag(np.exp(log_variance[i])),
                                     np.zeros(2 * n), prior_cov)
        np.testing.assert_allclose(kl[i], expected, rtol=1e-3)


def test_stationarity_penalty_matches_numpy(rng):
    layer = DynamicLayer(latent_dim=4, stationarity_weight=100.0, seed=0)
    a, b = rng.normal(size=(4, 4)), rng.normal(size=(4, 4))
    _set_matrices(layer, a, b)
    expected = 100.0 * np.sum((a @ a.T + b @ b.T - np.eye(4)) ** 2)
    np.testing.assert_allclose(layer.stationarity_penalty().numpy(), expected, rtol=1e-4)
    np.testing.assert_allclose(layer.stationarity_residual().numpy(),
                               np.sqrt(expected / 100.0), rtol=1e-4)


def test_initial_matrices_are_stationary():
    layer = DynamicLayer(latent_dim=5)
    np.testing.assert_allclose(layer.transition_matrix.numpy(), 0.70711 * np.eye(5), rtol=1e-6)
    assert layer.stationarity_residual().numpy() < 1e-4


def test_dynamic_map_gives_joint_covariance_of_eq_32(rng):
    n = 3
    layer = DynamicLayer(latent_dim=n, posterior="pair", seed=0)
    a, b = _stationary_pair(n, rng)
    _set_matrices(layer, a, b)
    z = rng.normal(size=(200_000, 2 * n)).astype("float32")
    x = layer.transition(tf.constant(z)).numpy()
    empirical = np.cov(x, rowvar=False)
    expected = np.block([[np.eye(n), a.T], [a, np.eye(n)]])
    np.testing.assert_allclose(empirical, expected, atol=0.02)


def test_call_adds_both_losses_and_samples_with_leading_sample_dim(rng):
    layer = DynamicLayer(latent_dim=2, num_samples=7, seed=3)
    mean = rng.normal(size=(5, 4)).astype("float32")
    log_variance = np.full((5, 4), -2.0, "float32")
    sampled = layer([mean, log_variance], training=True)
    assert sampled.shape == (7 * 5, 4)
    kl_loss, penalty = layer.losses
    np.testing.assert_allclose(kl_loss.numpy(),
                               layer.kl_divergence(mean, log_variance).numpy().mean(), rtol=1e-5)
    np.testing.assert_allclose(penalty.numpy(), layer.stationarity_penalty().numpy())
    # Sample-major: rows [s * 5 : (s + 1) * 5] are sample s of the whole batch, each close to
    # h(mean) since the posterior standard deviation is exp(-1).
    samples = sampled.numpy().reshape(7, 5, 4)
    expected = layer.transition(tf.constant(mean)).numpy()
    assert np.abs(samples.mean(axis=0) - expected).max() < 0.5
    assert samples.std(axis=0).min() > 0.05


def test_inference_uses_posterior_mean(rng):
    layer = DynamicLayer(latent_dim=2, num_samples=3, seed=0)
    mean = rng.normal(size=(5, 4)).astype("float32")
    out = layer([mean, np.zeros_like(mean)], training=False)
    np.testing.assert_allclose(out.numpy(), layer.transition(tf.constant(mean)).numpy())


def test_sampling_is_seeded():
    mean, log_variance = np.zeros((4, 6), "float32"), np.zeros((4, 6), "float32")
    first = DynamicLayer(latent_dim=3, seed=11)([mean, log_variance], training=True).numpy()
    second = DynamicLayer(latent_dim=3, seed=11)([mean, log_variance], training=True).numpy()
    other = DynamicLayer(latent_dim=3, seed=12)([mean, log_variance], training=True).numpy()
    np.testing.assert_array_equal(first, second)
    assert not np.allclose(first, other)


@pytest.mark.parametrize("posterior", ["pair", "frame"])
def test_serialization_round_trip(posterior, rng, tmp_path):
    layer = DynamicLayer(latent_dim=4, posterior=posterior, stationarity_weight=10.0,
                         kl_weight=0.5, num_samples=2, initial_scale=0.6, seed=5, name="dyn")
    mean = rng.normal(size=(3, 8)).astype("float32")
    log_variance = rng.normal(scale=0.3, size=(3, 8)).astype("float32")
    checks = LayerChecks()
    clone = checks.run_config_round_trip(layer)
    assert clone.posterior == posterior and clone.num_samples == 2
    np.testing.assert_allclose(clone.transition_matrix.numpy(), 0.6 * np.eye(4), rtol=1e-6)
    # Trained matrices, so the reload is seen to restore them rather than re-initialise.
    _set_matrices(layer, rng.normal(size=(4, 4)), rng.normal(size=(4, 4)))
    checks.run_keras_save_reload(layer, [mean, log_variance], tmp_path, training=False)


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="posterior"):
        DynamicLayer(latent_dim=2, posterior="bogus")
    with pytest.raises(ValueError, match="num_samples"):
        DynamicLayer(latent_dim=2, num_samples=0)
