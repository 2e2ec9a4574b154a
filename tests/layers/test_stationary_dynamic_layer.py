import numpy as np
import pytest
import tensorflow as tf

from dynamic_vae.layers import DynamicLayer, StationaryDynamicLayer
from dynamic_vae.models import DynamicVAE
from tests.helpers.layer_checks import LayerChecks


def _randomise(layer, rng, logit_scale=3.0):
    n = layer.latent_dim
    layer.left_generator.assign(rng.normal(size=(n, n)).astype("float32"))
    layer.right_generator.assign(rng.normal(size=(n, n)).astype("float32"))
    layer.singular_logits.assign((logit_scale * rng.normal(size=n)).astype("float32"))


@pytest.mark.parametrize("n", [1, 2, 5, 10])
def test_random_parameters_are_exactly_stationary(n, rng):
    layer = StationaryDynamicLayer(latent_dim=n, seed=0)
    for _ in range(5):
        _randomise(layer, rng)
        a = layer.transition_matrix.numpy().astype(np.float64)
        b = layer.noise_matrix.numpy().astype(np.float64)
        np.testing.assert_allclose(a @ a.T + b @ b.T, np.eye(n), atol=2e-6)
        assert np.abs(np.linalg.eigvals(a)).max() <= 1.0 + 1e-6
        assert float(layer.stationarity_residual()) < 1e-5
        assert float(layer.stationarity_penalty()) == 0.0


def test_singular_values_are_those_of_a(rng):
    layer = StationaryDynamicLayer(latent_dim=4, seed=0)
    _randomise(layer, rng, logit_scale=1.0)
    expected = np.sort(np.abs(np.tanh(layer.singular_logits.numpy())))
    np.testing.assert_allclose(
        np.sort(np.linalg.svd(layer.transition_matrix.numpy(), compute_uv=False)),
        expected, rtol=1e-5)


def test_saturated_singular_values_keep_stationarity_and_finite_gradients():
    """tanh(r) rounds to 1 in float32 at large r; B = U sech(r) stays exact there and the
    gradient stays finite (a pure rotation, as a counted cycle needs)."""
    layer = StationaryDynamicLayer(latent_dim=2, seed=0)
    layer.singular_logits.assign([20.0, 20.0])
    with tf.GradientTape() as tape:
        a, b = layer.transition_matrix, layer.noise_matrix
        value = tf.reduce_sum(a) + tf.reduce_sum(b)
    gradients = tape.gradient(value, layer.trainable_weights)
    assert all(np.all(np.isfinite(g.numpy())) for g in gradients)
    np.testing.assert_allclose(a.numpy() @ a.numpy().T + b.numpy() @ b.numpy().T, np.eye(2),
                               atol=1e-6)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_set_transition_reproduces_a_contraction(sign, rng):
    """Any contraction, of either determinant sign, is reached; B follows from A."""
    n = 5
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    q[:, 0] *= sign * np.sign(np.linalg.det(q))
    a = q @ np.diag(rng.uniform(0.1, 0.95, size=n)) @ np.linalg.qr(rng.normal(size=(n, n)))[0]
    layer = StationaryDynamicLayer(latent_dim=n, seed=0)
    layer.set_transition(a)
    np.testing.assert_allclose(layer.transition_matrix.numpy(), a, atol=1e-5)
    b = layer.noise_matrix.numpy().astype(np.float64)
    np.testing.assert_allclose(b @ b.T, np.eye(n) - a @ a.T, atol=1e-5)


def test_set_transition_clips_the_spectral_norm_below_one():
    layer = StationaryDynamicLayer(latent_dim=2, seed=0)
    layer.set_transition(2.0 * np.eye(2))
    assert np.linalg.norm(layer.transition_matrix.numpy(), 2) < 1.0
    with pytest.raises(ValueError, match=r"transition_matrix: expected shape \(2, 2\), got"):
        layer.set_transition(np.eye(3))


def test_starts_at_a_scaled_identity_like_the_free_layer():
    free = DynamicLayer(latent_dim=3, initial_scale=0.6)
    exact = StationaryDynamicLayer(latent_dim=3, initial_scale=0.6)
    np.testing.assert_allclose(exact.transition_matrix.numpy(),
                               free.transition_matrix.numpy(), rtol=1e-6)
    np.testing.assert_allclose(exact.noise_matrix.numpy(), 0.8 * np.eye(3), rtol=1e-6)
    with pytest.raises(ValueError, match="initial_scale must lie in"):
        StationaryDynamicLayer(latent_dim=3, initial_scale=1.0)


def test_serialization_round_trip(rng, tmp_path):
    layer = StationaryDynamicLayer(latent_dim=4, posterior="frame", kl_weight=0.5,
                                   num_samples=2, initial_scale=0.6, seed=5, name="dyn")
    mean = rng.normal(size=(3, 8)).astype("float32")
    log_variance = rng.normal(scale=0.3, size=(3, 8)).astype("float32")
    checks = LayerChecks()
    clone = checks.run_config_round_trip(layer)
    assert isinstance(clone, StationaryDynamicLayer)
    np.testing.assert_allclose(clone.transition_matrix.numpy(), 0.6 * np.eye(4), rtol=1e-6)
    _randomise(layer, rng)
    layer.set_transition(layer.transition_matrix.numpy() @ np.diag([1, -1, 1, 1]))
    checks.run_keras_save_reload(layer, [mean, log_variance], tmp_path, training=False)


def test_model_with_stationary_transition_passes_the_layer_checks(rng, tmp_path):
    """Config JSON, `.keras` reload and every exported signature on TF Serving's loading
    path."""
    model = DynamicVAE(frame_shape=(16, 16, 1), latent_dim=4, base_channels=8,
                       transition_form="stationary", prediction_weight=0.5, sigma=0.3, seed=0)
    assert isinstance(model.dynamic_layer, StationaryDynamicLayer)
    _randomise(model.dynamic_layer, rng)
    pairs = rng.random((2, 2, 16, 16, 1)).astype("float32")
    clone = LayerChecks().run_all(model, pairs, tmp_path, training=False)
    assert clone.model_config.transition_form == "stationary"
