import keras
import numpy as np
import pytest
import tensorflow as tf

from dynamic_vae.data import make_frame_pairs
from dynamic_vae.models import DynamicVAE
from tests.helpers.layer_checks import LayerChecks

SMALL = dict(frame_shape=(16, 16, 1), latent_dim=4, filter_size=3, seed=0)


@pytest.mark.parametrize("encoder_mode", ["frame", "pair"])
def test_call_shapes_and_accessors(encoder_mode, rng):
    model = DynamicVAE(encoder_mode=encoder_mode, **SMALL)
    pairs = rng.random((3, 2, 16, 16, 1)).astype("float32")
    assert model(pairs).shape == (3, 2, 16, 16, 1)
    mean, log_variance = model.encode(pairs)
    assert mean.shape == (3, 8) and log_variance.shape == (3, 8)
    assert model.encode_states(pairs).shape == (3, 8)
    assert model.decode(np.zeros((5, 4), "float32")).shape == (5, 16, 16, 1)
    a, b = model.transition()
    np.testing.assert_allclose(a, 0.70711 * np.eye(4), rtol=1e-6)
    np.testing.assert_allclose(b, 0.70711 * np.eye(4), rtol=1e-6)


def test_frame_mode_codes_do_not_depend_on_the_neighbour(rng):
    model = DynamicVAE(encoder_mode="frame", **SMALL)
    frames = rng.random((3, 16, 16, 1)).astype("float32")
    states = model.encode_states(np.stack([frames[:2], frames[1:]], axis=1)).numpy()
    # frame 1 is the second of pair 0 and the first of pair 1: one code either way.
    np.testing.assert_allclose(states[0, 4:], states[1, :4], rtol=1e-5, atol=1e-6)


def test_decode_pairs_is_one_decoder_call_over_both_halves(rng):
    model = DynamicVAE(**SMALL)
    latents = rng.normal(size=(3, 8)).astype("float32")
    pairs = model.decode_pairs(latents).numpy()
    np.testing.assert_allclose(pairs[:, 0], model.decode(latents[:, :4]).numpy(), atol=1e-6)
    np.testing.assert_allclose(pairs[:, 1], model.decode(latents[:, 4:]).numpy(), atol=1e-6)


@pytest.mark.parametrize("encoder_mode,posterior", [("frame", "factorized"),
                                                    ("pair", "factorized"),
                                                    ("frame", "smoothed")])
def test_serialization_and_keras_reload(encoder_mode, posterior, rng, tmp_path):
    model = DynamicVAE(encoder_mode=encoder_mode, posterior=posterior, sigma=0.3, num_samples=2,
                       prediction_weight=0.5, mixed_precision="bfloat16", **SMALL)
    pairs = rng.random((2, 2, 16, 16, 1)).astype("float32")
    model.dynamic_layer.transition_matrix.assign(rng.normal(size=(4, 4)).astype("float32"))
    clone = LayerChecks().run_all(model, pairs, tmp_path, training=False)
    assert clone.model_config == model.model_config


def test_reconstruction_term_matches_numpy(rng):
    model = DynamicVAE(sigma=0.5, **SMALL)
    pairs = rng.random((4, 2, 16, 16, 1)).astype("float32")
    terms = model._loss_terms(tf.constant(pairs), training=False)
    recon = model(pairs, training=False).numpy()
    expected = np.mean(np.sum((pairs - recon) ** 2, axis=(1, 2, 3, 4)) / (2 * 0.25))
    np.testing.assert_allclose(terms["reconstruction"].numpy(), expected, rtol=1e-4)
    total = terms["reconstruction"] + terms["kl"] + terms["penalty"]
    np.testing.assert_allclose(terms["loss"].numpy(), total.numpy(), rtol=1e-6)


@pytest.mark.parametrize("encoder_mode,posterior", [("frame", "factorized"),
                                                    ("pair", "factorized"),
                                                    ("frame", "smoothed")])
def test_fit_on_real_digits_reduces_loss_and_reports_every_term(encoder_mode, posterior,
                                                                counting_frames):
    frames, _ = counting_frames
    pairs = make_frame_pairs(frames[:257])
    keras.utils.set_random_seed(0)
    model = DynamicVAE(frame_shape=(32, 32, 1), latent_dim=6, sigma=0.3, seed=0,
                       encoder_mode=encoder_mode, posterior=posterior, prediction_weight=1.0)
    # XLA once (its compile takes most of the time on a CPU); the default kernels otherwise.
    model.compile(optimizer=keras.optimizers.Adam(2e-3),
                  jit_compile=(encoder_mode, posterior) == ("frame", "factorized"))
    history = model.fit(pairs.dataset(32, seed=0), epochs=4, verbose=0).history
    assert set(history) == {"loss", "reconstruction", "kl", "stationarity_residual",
                            "prediction"}
    assert history["loss"][-1] < 0.8 * history["loss"][0]
    assert history["stationarity_residual"][-1] < 0.1
    assert np.isfinite(model.evaluate(pairs.dataset(32, shuffle=False), verbose=0)).all()


@pytest.mark.parametrize("encoder_mode,noise", [("frame", True), ("pair", False)])
def test_windows_train_all_pairs_and_k_step_predictions(encoder_mode, noise, rng):
    model = DynamicVAE(encoder_mode=encoder_mode, prediction_weight=1.0,
                       prediction_noise=noise, **SMALL)
    windows = rng.random((3, 4, 16, 16, 1)).astype("float32")
    terms = model._loss_terms(tf.constant(windows), training=False)
    # The ELBO part over a window is the mean over its three pairs.
    pairs = np.concatenate([windows[:, k:k + 2] for k in range(3)])
    pair_terms = model._loss_terms(tf.constant(pairs), training=False)
    np.testing.assert_allclose(terms["reconstruction"].numpy(),
                               pair_terms["reconstruction"].numpy(), rtol=1e-4)
    # The prediction term decodes A^k mu_0 against frame k (noise-free outside training).
    a = model.dynamic_layer.transition_matrix.numpy()
    mu0 = model.encode_states(windows[:, :2]).numpy()[:, :4]
    errors = [np.sum((windows[:, k] - model.decode(mu0 @ np.linalg.matrix_power(a, k).T)
                      .numpy()) ** 2, axis=(1, 2, 3)) for k in (1, 2, 3)]
    np.testing.assert_allclose(terms["prediction"].numpy(),
                               np.mean(errors) / (2 * model.model_config.sigma ** 2),
                               rtol=1e-4)
    with pytest.raises(ValueError, match="L >= 2"):
        model._loss_terms(tf.constant(windows[:, :1]), training=False)


def test_smoothed_posterior_terms_are_the_window_elbo_per_transition(rng):
    from tests.models.test_window_posterior import joint_posterior

    model = DynamicVAE(posterior="smoothed", kl_weight=2.0, sigma=0.5, prediction_weight=1.0,
                       **SMALL)
    rotation = np.array([[0.0, -0.9], [0.9, 0.0]])
    a = np.kron(np.eye(2), rotation)
    model.dynamic_layer.transition_matrix.assign(a.astype("float32"))
    model.dynamic_layer.noise_matrix.assign(
        np.linalg.cholesky(np.eye(4) - a @ a.T).astype("float32"))
    windows = rng.random((3, 4, 16, 16, 1)).astype("float32")
    terms = model._loss_terms(tf.constant(windows), training=False)
    mean, log_variance = model.encoder(windows.reshape(-1, 16, 16, 1))
    mean = mean.numpy().reshape(3, 4, 4).astype("float64")
    variance = np.exp(log_variance.numpy()).reshape(3, 4, 4).astype("float64")
    b = model.dynamic_layer.noise_matrix.numpy().astype("float64")
    kls, recons, predictions = [], [], []
    for i in range(3):
        smoothed, _, kl = joint_posterior(mean[i], variance[i], a, b)
        kls.append(kl)
        frames = model.decode(smoothed.astype("float32")).numpy()
        recons.append(np.sum((windows[i] - frames) ** 2) / (2 * 0.25))
        rollout = np.stack([np.linalg.matrix_power(a, k) @ smoothed[0] for k in (1, 2, 3)])
        predicted = model.decode(rollout.astype("float32")).numpy()
        predictions.append(np.sum((windows[i, 1:] - predicted) ** 2, axis=(1, 2, 3)))
    # Three transitions per window of four frames.
    np.testing.assert_allclose(terms["kl"].numpy(), 2.0 * np.mean(kls) / 3, rtol=1e-3)
    np.testing.assert_allclose(terms["reconstruction"].numpy(), np.mean(recons) / 3, rtol=1e-3)
    np.testing.assert_allclose(terms["prediction"].numpy(), np.mean(predictions) / (2 * 0.25),
                               rtol=1e-3)
    assert model(windows[:, :2]).shape == (3, 2, 16, 16, 1)
    # A pair's states are the smoother's means given both of its frames.
    smoothed, _, _ = joint_posterior(mean[0, :2], variance[0, :2], a, b)
    np.testing.assert_allclose(model.encode_states(windows[:1, :2]).numpy()[0],
                               smoothed.reshape(-1), rtol=1e-4, atol=1e-5)


def test_prediction_shrink_scales_each_rollout_start_by_one_factor(rng):
    model = DynamicVAE(prediction_weight=1.0, prediction_shrink=0.6, **SMALL)
    states = tf.constant(rng.normal(size=(200, 4)).astype("float32"))
    np.testing.assert_array_equal(model._rollout_start(states, training=False), states)
    ratios = (model._rollout_start(states, training=True) / states).numpy()
    # One factor per row, in [1 - shrink, 1], and different rows get different factors.
    np.testing.assert_allclose(ratios, ratios[:, :1].repeat(4, axis=1), rtol=1e-5)
    assert ratios.min() >= 0.4 - 1e-6 and ratios.max() <= 1.0 + 1e-6
    assert ratios[:, 0].std() > 0.08 and ratios.min() < 0.5 and ratios.max() > 0.9
    unshrunk = DynamicVAE(prediction_weight=1.0, **SMALL)
    np.testing.assert_array_equal(unshrunk._rollout_start(states, training=True), states)
    with pytest.raises(ValueError, match="prediction_shrink must be in"):
        DynamicVAE(prediction_shrink=1.5, **SMALL)


def test_keras_load_model_needs_only_import_dynamic_vae(tmp_path):
    import subprocess
    import sys

    model = DynamicVAE(**SMALL)
    path = tmp_path / "model.keras"
    model.save(path)
    code = ("import dynamic_vae, keras; m = keras.models.load_model(r'%s'); "
            "print(type(m).__name__)" % path)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("DynamicVAE")


def test_kl_warmup_ramps_the_kl_weight_and_restores_it(rng):
    from dynamic_vae.callbacks import KLWarmup

    model = DynamicVAE(**SMALL)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    seen = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append(
            float(model.dynamic_layer.kl_schedule.numpy())))
    pairs = rng.random((8, 2, 16, 16, 1)).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices(pairs).batch(4)
    model.fit(dataset, epochs=5, verbose=0, callbacks=[KLWarmup(4), record])
    np.testing.assert_allclose(seen, [0.25, 0.5, 0.75, 1.0, 1.0])
    assert float(model.dynamic_layer.kl_schedule.numpy()) == 1.0
    # The weight enters the loss: with the schedule at 0 the KL term vanishes.
    model.dynamic_layer.kl_schedule.assign(0.0)
    terms = model._loss_terms(tf.constant(pairs), training=False)
    assert float(terms["kl"]) == 0.0


def test_bfloat16_mixed_precision_keeps_the_latent_model_and_losses_float32(rng):
    full = DynamicVAE(**SMALL)
    mixed = DynamicVAE(mixed_precision="bfloat16", **SMALL)
    mixed.set_weights(full.get_weights())
    assert mixed.encoder.get_layer("conv0").compute_dtype == "bfloat16"
    assert mixed.decoder.get_layer("dense").compute_dtype == "bfloat16"
    for layer in (mixed.encoder.get_layer("mean"), mixed.encoder.get_layer("log_variance"),
                  mixed.decoder.layers[-1]):
        assert layer.compute_dtype == "float32"
    assert all(w.dtype == "float32" for w in mixed.weights)
    windows = tf.constant(rng.random((4, 3, 16, 16, 1)).astype("float32"))
    mean, _ = mixed.encode(windows[:, :2])
    assert mean.dtype == tf.float32 and mixed.decode(mean[:, :4]).dtype == tf.float32
    terms_full = full._loss_terms(windows, training=False)
    terms_mixed = mixed._loss_terms(windows, training=False)
    # bfloat16 keeps 8 mantissa bits: the same network agrees to about 1%.
    np.testing.assert_allclose(terms_mixed["loss"].numpy(), terms_full["loss"].numpy(),
                               rtol=0.02)
    mixed.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = mixed.fit(tf.data.Dataset.from_tensor_slices(windows).batch(2), epochs=2,
                        verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    with pytest.raises(ValueError, match="mixed_precision"):
        DynamicVAE(mixed_precision="float8", **SMALL)
