"""The Dynamic VAE with a residual observation network and a calibrated decoder."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from dynamic_vae.config import ModelConfig
from dynamic_vae.data import make_frame_pairs
from dynamic_vae.models import DynamicVAE
from tests.helpers.layer_checks import LayerChecks

SMALL = dict(frame_shape=(16, 12, 3), latent_dim=3, architecture="residual", width=8, depth=1,
             seed=0)


def numpy_nll(targets, predictions, log_sigma):
    """Per example: sum over pixels of (y - y_hat)^2 / (2 sigma_c^2) + log sigma_c."""
    sigma = np.exp(log_sigma)
    return (((targets - predictions) ** 2) / (2 * sigma ** 2) + log_sigma).sum(axis=(1, 2, 3))


@pytest.mark.parametrize("mode", ["fixed", "learned", "optimal"])
def test_observation_term_matches_numpy(mode, rng):
    model = DynamicVAE(observation_noise=mode, sigma=0.4, **SMALL)
    targets = rng.random((4, 16, 12, 3)).astype(np.float32)
    predictions = (targets + 0.1 * rng.normal(size=targets.shape)).astype(np.float32)
    term = model._observation_term(tf.constant(targets), tf.constant(predictions)).numpy()
    if mode == "fixed":
        expected = ((targets - predictions) ** 2).sum(axis=(1, 2, 3)) / (2 * 0.4 ** 2)
    elif mode == "learned":
        expected = numpy_nll(targets, predictions, np.log(0.4))
    else:
        optimum = 0.5 * np.log(((targets - predictions) ** 2).mean(axis=(0, 1, 2)))
        expected = numpy_nll(targets, predictions, optimum)
    np.testing.assert_allclose(term, expected, rtol=1e-4)


def test_learned_sigma_trains_and_round_trips(rng, tmp_path):
    frames = rng.random((24, 16, 12, 3)).astype(np.float32)
    keras.utils.set_random_seed(0)
    model = DynamicVAE(observation_noise="learned", sigma=1.0, **SMALL)
    model.compile(optimizer=keras.optimizers.Adam(3e-2))
    history = model.fit(make_frame_pairs(frames).dataset(8, seed=0), epochs=8,
                        verbose=0).history
    # Random frames are far from any decoder's output at sigma 1: the learned sigma falls.
    assert history["sigma"][-1] < 0.9
    np.testing.assert_allclose(np.exp(model.log_sigma.numpy()).mean(), history["sigma"][-1],
                               rtol=0.2)
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_array_equal(reloaded.log_sigma.numpy(), model.log_sigma.numpy())
    assert reloaded.model_config == model.model_config


def test_residual_config_survives_json_and_builds_the_residual_networks():
    model = DynamicVAE(observation_noise="optimal", **SMALL)
    config = json.loads(json.dumps(model.get_config()))
    clone = DynamicVAE.from_config(config)
    assert clone.model_config == model.model_config
    assert any(layer.name == "down0_block0_conv0" for layer in clone.encoder.layers)
    assert clone.decode(np.zeros((2, 3), np.float32)).shape == (2, 16, 12, 3)


@pytest.mark.parametrize("field,value,message", [
    ("architecture", "v2", "architecture must be one of"),
    ("observation_noise", "auto", "observation_noise must be one of"),
    ("width", 0, "width must be >= 1"),
    ("decoder_noise", -0.1, "decoder_noise must be >= 0"),
    ("decoder_noise", 0.5, "0 without linear_path, got 0.5 with linear_path False"),
    ("transition_form", "orthogonal", "transition_form must be one of"),
])
def test_bad_fields_are_named(field, value, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(**{field: value})


@pytest.mark.parametrize("noise", ["learned", "optimal"])
def test_residual_linear_path_model_passes_the_layer_checks(noise, rng, tmp_path):
    """Config JSON, `.keras` reload and the exported signatures on TF Serving's loading path,
    for the video preset's kind of model."""
    model = DynamicVAE(frame_shape=(16, 12, 1), latent_dim=3, architecture="residual", width=8,
                       linear_path=True, observation_noise=noise, sigma=0.3, seed=0,
                       decoder_noise=0.5, transition_form="stationary")
    pairs = rng.random((2, 2, 16, 12, 1)).astype(np.float32)
    LayerChecks().run_all(model, pairs, tmp_path)


def test_decoder_noise_reaches_the_network_only_in_training(rng):
    """The network reads a noisy state in training; inference is deterministic, and with the
    network's output layer at zero (the linear start) the noise changes nothing."""
    model = DynamicVAE(frame_shape=(16, 12, 1), latent_dim=3, architecture="residual", width=8,
                       linear_path=True, decoder_noise=0.5, seed=0)
    states = rng.normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_array_equal(model.decode(states).numpy(), model.decode(states).numpy())
    assert not np.allclose(model.decoder(states, training=True).numpy(),
                           model.decode(states).numpy())
    output = model.decoder.get_layer("output")
    output.set_weights([np.zeros_like(w) for w in output.get_weights()])
    np.testing.assert_allclose(model.decoder(states, training=True).numpy(),
                               model.decode(states).numpy(), atol=1e-6)


@pytest.mark.parametrize("prediction_sigma", ["shared", "per_step"])
def test_optimal_prediction_term_matches_numpy(prediction_sigma, rng):
    model = DynamicVAE(observation_noise="optimal", prediction_weight=1.0,
                       prediction_sigma=prediction_sigma, **SMALL)
    windows = rng.random((5, 4, 16, 12, 3)).astype(np.float32)
    term = model._loss_terms(tf.constant(windows), training=False)["prediction"].numpy()
    a = model.dynamic_layer.transition_matrix.numpy().astype(np.float64)
    mu0 = model.encode_states(windows[:, :2]).numpy()[:, :3].astype(np.float64)
    predicted = np.stack([model.decode((mu0 @ np.linalg.matrix_power(a, k).T)
                                       .astype(np.float32)).numpy() for k in (1, 2, 3)], 1)
    future = windows[:, 1:]
    squared = (future - predicted) ** 2
    shared = numpy_nll(future.reshape(-1, 16, 12, 3), predicted.reshape(-1, 16, 12, 3),
                       0.5 * np.log(squared.mean(axis=(0, 1, 2, 3)))).mean()
    per_step = np.mean([numpy_nll(future[:, k], predicted[:, k], 0.5 * np.log(
        squared[:, k].mean(axis=(0, 1, 2)))).mean() for k in range(3)])
    np.testing.assert_allclose(term, shared if prediction_sigma == "shared" else per_step,
                               rtol=1e-4)
    # At the optimum the squared-error part is D / 2 per example, so the per-step term is
    # D / 2 + D_c sum_c mean_k log sigma_kc: the mean of the logs, which is below the log of
    # the mean that the shared sigma takes (Jensen).
    pixels = 16 * 12
    per_step_log_sigma = 0.5 * np.log(squared.mean(axis=(0, 2, 3)))  # (steps, channels)
    np.testing.assert_allclose(
        per_step, 0.5 * pixels * 3 + pixels * per_step_log_sigma.sum(axis=1).mean(), rtol=1e-4)
    assert per_step < shared


def test_per_step_prediction_sigma_needs_the_optimal_noise():
    with pytest.raises(ValueError, match="prediction_sigma 'per_step' needs observation_noise "
                                         "'optimal'.*got 'fixed'"):
        ModelConfig(prediction_sigma="per_step", observation_noise="fixed")
    with pytest.raises(ValueError, match="prediction_sigma must be one of"):
        ModelConfig(prediction_sigma="per_frame", observation_noise="optimal")


def test_laplace_observation_term_matches_numpy(rng):
    model = DynamicVAE(pixel_likelihood="laplace", sigma=0.4, **SMALL)
    targets = rng.random((4, 16, 12, 3)).astype(np.float32)
    predictions = (targets + 0.1 * rng.normal(size=targets.shape)).astype(np.float32)
    term = model._observation_term(tf.constant(targets), tf.constant(predictions)).numpy()
    # The Laplace negative log-likelihood with scale b = sigma, without its constant.
    expected = np.abs(targets - predictions).sum(axis=(1, 2, 3)) / 0.4
    np.testing.assert_allclose(term, expected, rtol=1e-4)


def test_a_laplace_likelihood_needs_a_fixed_scale():
    with pytest.raises(ValueError, match="pixel_likelihood 'laplace' needs observation_noise "
                                         "'fixed'.*got 'optimal'"):
        ModelConfig(pixel_likelihood="laplace", observation_noise="optimal")
    with pytest.raises(ValueError, match="pixel_likelihood must be one of"):
        ModelConfig(pixel_likelihood="bernoulli")
