"""The residual texture: closed-form fit, the process it samples, and its place in a model."""

import json

import numpy as np
import pytest
import tensorflow as tf

from dynamic_vae.config import get_preset
from dynamic_vae.models import DynamicVAE
from dynamic_vae.models.residual_texture import (HELDOUT_LAGS, MAX_PERSISTENCE,
                                                 ResidualTexture, heldout_curves,
                                                 heldout_persistence, heldout_shrinkage)
from dynamic_vae.synthesis import decode_in_batches, synthesize, texture_seed
from tests.helpers.layer_checks import LayerChecks

FRAME_SHAPE = (6, 5, 1)


def _process(rng, num_frames, stds, persistence, directions, offset):
    """Frames of e_t = offset + sum_i std_i s_i(t) d_i with AR(1) coefficients s_i (numpy)."""
    states = np.zeros((num_frames, len(stds)))
    states[0] = rng.normal(size=len(stds))
    for t in range(1, num_frames):
        states[t] = (persistence * states[t - 1]
                     + np.sqrt(1 - persistence ** 2) * rng.normal(size=len(stds)))
    return offset + (states * stds) @ directions


@pytest.fixture
def known(rng):
    size = int(np.prod(FRAME_SHAPE))
    directions = np.linalg.qr(rng.normal(size=(size, 3)))[0].T     # (3, D) orthonormal
    return {"stds": np.array([0.3, 0.2, 0.1]), "persistence": np.array([0.9, -0.5, 0.0]),
            "directions": directions, "offset": 0.05 * rng.normal(size=size)}


def test_fit_recovers_a_known_process(known, rng):
    residuals = _process(rng, 20000, **known)
    texture = ResidualTexture(rank=3, frame_shape=FRAME_SHAPE)
    info = texture.fit(residuals.reshape(-1, *FRAME_SHAPE),
                       np.stack([np.arange(19999), np.arange(1, 20000)], axis=1))
    basis = texture.basis.numpy().astype(np.float64)
    # Each row is a known direction (up to sign) times its standard deviation.
    for row, direction, std in zip(basis, known["directions"], known["stds"]):
        assert abs(abs(row @ direction) - std) < 0.01
        assert np.linalg.norm(row) == pytest.approx(std, rel=0.03)
    np.testing.assert_allclose(texture.persistence.numpy(), known["persistence"], atol=0.03)
    np.testing.assert_allclose(texture.offset.numpy(), known["offset"], atol=0.01)
    assert info["rank"] == 3
    assert info["explained_variance"] == pytest.approx(1.0, abs=1e-6)
    total = np.sum(known["stds"] ** 2) / residuals.shape[1]
    assert info["residual_variance"] == pytest.approx(total, rel=0.05)


def test_samples_have_the_fitted_variance_and_persistence(known, rng):
    texture = ResidualTexture(rank=3, frame_shape=FRAME_SHAPE)
    texture.basis.assign((known["stds"][:, None] * known["directions"]).astype("float32"))
    texture.persistence.assign(known["persistence"].astype("float32"))
    texture.offset.assign(known["offset"].astype("float32"))
    samples = texture.sample(4, 5000, seed=np.array([1, 2], "int32")).numpy()
    assert samples.shape == (4, 5000, *FRAME_SHAPE)   # leading sample dimension
    flat = samples.reshape(4, 5000, -1).astype(np.float64) - known["offset"]
    coefficients = flat @ known["directions"].T                      # (4, T, 3)
    np.testing.assert_allclose(coefficients.std(axis=(0, 1)), known["stds"], rtol=0.05)
    lag_one = ((coefficients[:, 1:] * coefficients[:, :-1]).mean(axis=(0, 1))
               / coefficients.var(axis=(0, 1)))
    np.testing.assert_allclose(lag_one, known["persistence"], atol=0.05)
    # Independent sequences.
    assert abs(np.corrcoef(coefficients[0, :, 0], coefficients[1, :, 0])[0, 1]) < 0.1


def test_sampling_is_deterministic_per_seed(known):
    texture = ResidualTexture(rank=3, frame_shape=FRAME_SHAPE)
    texture.basis.assign((known["stds"][:, None] * known["directions"]).astype("float32"))
    first = texture.sample(2, 7, seed=np.array([5, 1], "int32")).numpy()
    np.testing.assert_array_equal(first, texture.sample(2, 7, np.array([5, 1], "int32")))
    assert not np.allclose(first, texture.sample(2, 7, np.array([6, 1], "int32")))


def test_persistence_comes_from_the_lag_pairs_only(rng):
    """Without lag pairs (no two consecutive training frames) nothing persists; estimates are
    clipped so every direction keeps mixing."""
    texture = ResidualTexture(rank=2, frame_shape=FRAME_SHAPE)
    frames = rng.normal(size=(40, *FRAME_SHAPE))
    texture.fit(frames, np.zeros((0, 2)))
    np.testing.assert_array_equal(texture.persistence.numpy(), 0.0)
    ramp = np.cumsum(np.ones((40, 30)), axis=0) + 0.001 * rng.normal(size=(40, 30))
    texture.fit(ramp.reshape(40, *FRAME_SHAPE), np.stack([np.arange(39), np.arange(1, 40)], 1))
    assert texture.persistence.numpy()[0] == pytest.approx(MAX_PERSISTENCE)


def test_rank_is_limited_by_the_frames(rng):
    texture = ResidualTexture(rank=50, frame_shape=FRAME_SHAPE)
    info = texture.fit(rng.normal(size=(8, *FRAME_SHAPE)), np.zeros((0, 2)))
    assert info["rank"] == 7
    assert np.all(texture.basis.numpy()[7:] == 0)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="rank: expected a positive number of directions, got 0"):
        ResidualTexture(rank=0, frame_shape=FRAME_SHAPE)
    texture = ResidualTexture(rank=2, frame_shape=FRAME_SHAPE)
    with pytest.raises(ValueError, match=r"residuals: expected frames of shape \(6, 5, 1\)"):
        texture.fit(np.zeros((5, 4, 4, 1)), np.zeros((0, 2)))
    with pytest.raises(ValueError, match="residuals: expected at least 2 finite frames"):
        texture.fit(np.full((5, *FRAME_SHAPE), np.nan), np.zeros((0, 2)))
    with pytest.raises(ValueError, match="residual_rank must be an integer >= 0, got -1"):
        DynamicVAE(frame_shape=(16, 16, 1), residual_rank=-1)
    with pytest.raises(ValueError, match="residual_rank 0"):
        DynamicVAE(frame_shape=(16, 16, 1), latent_dim=2, base_channels=4).fit_residual_texture(
            np.zeros((3, 16, 16, 1)), np.arange(2))


def test_config_round_trip():
    texture = ResidualTexture(rank=4, frame_shape=FRAME_SHAPE, name="residual_texture")
    clone = LayerChecks().run_config_round_trip(texture)
    assert clone.rank == 4 and clone.frame_shape == FRAME_SHAPE


@pytest.fixture
def textured_model(rng):
    model = DynamicVAE(frame_shape=(16, 16, 1), latent_dim=3, base_channels=8, sigma=0.3,
                       residual_rank=5, seed=0)
    frames = rng.random((12, 16, 16, 1)).astype("float32")
    info = model.fit_residual_texture(frames, np.arange(11))
    assert info["rank"] == 5 and np.abs(model.residual_texture.basis.numpy()).max() > 0
    return model


def test_fit_residual_texture_reads_what_the_decoder_leaves_out(rng):
    """A model whose decoder mean is the frame itself leaves nothing (independent check of
    the residual: frames minus decoded posterior means)."""
    model = DynamicVAE(frame_shape=(16, 16, 1), latent_dim=3, base_channels=8, sigma=0.3,
                       residual_rank=4, seed=0)
    frames = rng.random((10, 16, 16, 1)).astype("float32")
    starts = np.array([0, 1, 2, 5, 6])
    model.fit_residual_texture(frames, starts)
    pairs = np.stack([frames[starts], frames[starts + 1]], axis=1)
    states = model.encode_states(pairs).numpy()[:, :3]
    residuals = (frames[starts] - model.decode(states).numpy()).reshape(5, -1)
    np.testing.assert_allclose(model.residual_texture.offset.numpy(), residuals.mean(0),
                               atol=1e-5)


def test_model_with_a_texture_passes_the_layer_checks(textured_model, rng, tmp_path):
    """Config JSON, `.keras` reload (the fitted texture included) and the export."""
    pairs = rng.random((2, 2, 16, 16, 1)).astype("float32")
    clone = LayerChecks().run_all(textured_model, pairs, tmp_path, training=False)
    assert clone.model_config.residual_rank == 5


def test_synthesis_adds_the_texture_and_serving_matches_it(textured_model, tmp_path):
    from dynamic_vae.export import export_model

    frames, latents = synthesize(textured_model, 9, seed=4, as_uint8=False)
    means, _ = synthesize(textured_model, 9, seed=4, as_uint8=False, texture=False)
    np.testing.assert_array_equal(means, decode_in_batches(textured_model, latents))
    expected = textured_model.residual_texture.sample(1, 9, texture_seed(4)).numpy()
    np.testing.assert_allclose(frames - means, expected, atol=1e-6)
    assert np.abs(expected).max() > 0.01
    # The served generate adds the same draw: bit-identical frames.
    version_dir = export_model(textured_model, tmp_path / "m", max_frames=16)
    loaded = tf.saved_model.load(str(version_dir))
    served = loaded.signatures["generate"](num_frames=tf.constant(9, tf.int32),
                                           seed=tf.constant(4, tf.int64))
    in_process, _ = synthesize(textured_model, 9, seed=4)
    np.testing.assert_array_equal(served["latents"].numpy(), latents[0])
    np.testing.assert_array_equal(served["frames"].numpy(), in_process[0])


@pytest.mark.parametrize("curve", [None, np.linspace(0.9, 0.3, HELDOUT_LAGS)])
def test_the_graph_forecast_is_the_numpy_forecast(known, rng, curve):
    """`forecast_tensor` gives `forecast`'s numbers for k = 1..20 (past the stored lags), with
    a curve and with the directions' fallback (negative persistences included)."""
    texture = _fitted_texture(known, curve)
    current = known["offset"] + rng.normal(size=30)
    for previous in (known["offset"] + 0.5 * rng.normal(size=30),
                     known["offset"] + 0.0 * current):   # no slope: q = 0
        graph = texture.forecast_tensor(tf.constant(current), tf.constant(previous), 20)
        expected = np.stack([texture.forecast(current[None], k, previous[None])[0]
                             for k in range(1, 21)])
        np.testing.assert_allclose(graph.numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("curve", [None, np.linspace(0.9, 0.3, HELDOUT_LAGS)])
def test_sampled_futures_are_the_forecast_plus_the_detail_still_to_come(known, rng, curve):
    """Frame k of a sampled future is offset + rho_k (e_T - offset) + sqrt(1 - rho_k^2)
    (u_k - offset), with u a texture draw from the same seed and rho_k computed here from
    the curve (or the directions) and the pair's slope (numpy); without a known residual it
    is the draw itself. Over many samples the mean is the forecast, and the spread about it
    the texture's variance times 1 - rho_k^2."""
    from dynamic_vae.models.residual_texture import sample_texture

    texture = _fitted_texture(known, curve)
    offset = known["offset"]
    current = offset + 0.4 * rng.normal(size=30)
    previous = offset + 0.7 * (current - offset) + 0.2 * rng.normal(size=30)
    seed = tf.constant([5, 2], tf.int32)
    steps, samples = 20, 3000
    sampled = texture.sample_forecast_tensor(tf.constant(current), tf.constant(previous),
                                             steps, samples, seed).numpy()
    draws = sample_texture(texture.basis.value, texture.persistence.value,
                           texture.offset.value, samples, steps, seed).numpy()
    assert sampled.shape == draws.shape == (samples, steps, 30)
    slope = np.clip(np.dot(previous - offset, current - offset)
                    / np.dot(previous - offset, previous - offset), 0, 1)
    if curve is None:
        variances = known["stds"] ** 2
        decay = np.array([np.sum(variances * known["persistence"] ** k) / variances.sum()
                          for k in range(1, steps + 1)])
    else:
        tail = curve[-1] * (curve[-1] / curve[0]) ** (np.arange(1, 5) / (HELDOUT_LAGS - 1))
        decay = np.concatenate([curve, tail])
    rho = np.clip(decay * slope / decay[0], 0, 1)
    expected = (offset + rho[:, None] * (current - offset)
                + np.sqrt(1 - rho ** 2)[:, None] * (draws - offset))
    np.testing.assert_allclose(sampled, expected, atol=1e-5)
    mean = np.stack([texture.forecast(current[None], k, previous[None])[0]
                     for k in range(1, steps + 1)])
    spread = np.sqrt(np.mean(np.sum((sampled - mean) ** 2, axis=2), axis=0))
    texture_std = np.sqrt(np.sum(known["stds"] ** 2))
    np.testing.assert_allclose(spread, texture_std * np.sqrt(1 - rho ** 2), rtol=0.06,
                               atol=1e-6)
    np.testing.assert_allclose(sampled.mean(axis=0), mean, atol=4 * texture_std / np.sqrt(
        samples))
    unknown = texture.sample_forecast_tensor(tf.constant(current), tf.constant(previous),
                                             steps, samples, seed, known=False).numpy()
    np.testing.assert_allclose(unknown, draws, atol=1e-6)


def test_the_kalman_forecast_adds_the_texture_forecast_and_serving_matches_it(
        textured_model, rng, tmp_path):
    """`forecast`'s mean is C(A^k m_T) plus the texture's forecast of the last two frames'
    residuals against their smoothed means (numpy), with the state's forecast shrunk by the
    texture's shares, m_T + lambda_k (A^k m_T - m_T); without the last frame, the means
    alone. Sampled futures move with the shrunk means and carry a sampled residual. The
    served `forecast` returns the same frames."""
    from dynamic_vae.export import export_model
    from dynamic_vae.inference import forecast
    from dynamic_vae.inference.clip import forecast_posteriors, smooth_clip

    clip = rng.integers(0, 256, (8, 16, 16, 1)).astype(np.uint8)
    unit = clip.astype(np.float32) / 255.0
    texture = textured_model.residual_texture
    # Shares of the predicted change below 1, so the shrinkage shows.
    texture.heldout_shrinkage.assign(np.linspace(0.9, 0.2, HELDOUT_LAGS).astype("float32"))
    mean, _ = forecast(textured_model, clip, steps=3, as_uint8=False)
    posteriors = smooth_clip(textured_model, unit, np.zeros(8, bool))
    last = posteriors.filtered_means.numpy()[-1].astype(np.float64)
    smoothed = posteriors.smoothed_means.numpy()[-2:].astype(np.float32)
    a = textured_model.transition()[0].astype(np.float64)
    shares = [texture.shrinkage_at(k) for k in range(1, 4)]
    states = np.stack([last + share * (np.linalg.matrix_power(a, k) @ last - last)
                       for k, share in zip(range(1, 4), shares)])
    decoded = textured_model.decode(states.astype(np.float32)).numpy()
    residuals = unit[-2:] - textured_model.decode(smoothed).numpy()
    added = np.stack([texture.forecast(residuals[1:], k, residuals[:1])[0]
                      for k in range(1, 4)]).reshape(decoded.shape)
    assert np.abs(added).max() > 0.01
    np.testing.assert_allclose(mean, np.clip(decoded + added, 0, 1), atol=1e-5)

    gap, _ = forecast(textured_model, clip, steps=3, missing=[7], as_uint8=False)
    gap_last = smooth_clip(textured_model, unit, np.arange(8) == 7).filtered_means.numpy()[-1]
    gap_states = np.stack([gap_last + share * (np.linalg.matrix_power(a, k) @ gap_last
                                               - gap_last)
                           for k, share in zip(range(1, 4), shares)])
    # Without the last frame's residual, the residuals' mean (the offset) is added.
    offset = texture.offset.numpy().reshape(1, 16, 16, 1)
    np.testing.assert_allclose(
        gap, np.clip(textured_model.decode(gap_states.astype(np.float32)).numpy() + offset,
                     0, 1), atol=1e-5)

    # A sampled future is its trajectory, moved with the shrunk means, decoded, plus the
    # texture's sampled residual drawn from the seed folded with 1.
    _, textured = forecast(textured_model, clip, steps=3, num_samples=2, seed=4,
                           as_uint8=False)
    _, _, latents = forecast_posteriors(textured_model, unit, np.zeros(8, bool), 3, 2,
                                        tf.constant([4, 0], tf.int32))
    shifted = latents.numpy() + (states - np.stack([np.linalg.matrix_power(a, k) @ last
                                                    for k in range(1, 4)]))[None]
    sampled_residuals = texture.sample_forecast_tensor(
        residuals[1], residuals[0], 3, 2,
        tf.random.experimental.stateless_fold_in(tf.constant([4, 0], tf.int32), 1)).numpy()
    untextured = textured_model.decode(shifted.reshape(6, -1).astype(np.float32)).numpy()
    np.testing.assert_allclose(
        textured, np.clip(untextured.reshape(textured.shape)
                          + sampled_residuals.reshape(textured.shape), 0, 1), atol=1e-5)
    assert np.abs(textured - np.clip(untextured.reshape(textured.shape), 0, 1)).mean() > 0.01

    loaded = tf.saved_model.load(str(export_model(textured_model, tmp_path / "m",
                                                  max_frames=16)))
    # Three steps with two samples; one step with none and with one (the export's warm-up
    # request), where the texture's draw has a single frame.
    for steps, samples in ((3, 2), (1, 0), (1, 1)):
        served = loaded.signatures["forecast"](
            frames=tf.constant(clip), num_steps=tf.constant(steps),
            num_samples=tf.constant(samples), seed=tf.constant(4, tf.int64))
        in_process, in_process_samples = forecast(textured_model, clip, steps=steps,
                                                  num_samples=samples, seed=4)
        np.testing.assert_allclose(served["mean_frames"].numpy().astype(int),
                                   in_process.astype(int), atol=1)
        assert served["sampled_frames"].shape == (samples, steps, 16, 16, 1)
        np.testing.assert_allclose(served["sampled_frames"].numpy().astype(int),
                                   in_process_samples.astype(int), atol=1)


def test_the_video_preset_fits_a_texture_after_training(tmp_path):
    from dynamic_vae.training import train

    t = np.arange(40)[:, None, None]
    _, x = np.mgrid[0:16, 0:16]
    frames = (0.5 + 0.3 * np.sin(0.6 * x + 0.5 * t)
              + 0.05 * np.random.default_rng(0).normal(size=(40, 16, 16)))[..., None]
    config = get_preset("video").override(frame_shape=(16, 16, 1), width=8, latent_dim=3,
                                          windows_per_epoch=16, image_every=0, epochs=1,
                                          finetune_epochs=0, validation_fraction=0.0)
    assert config.model.residual_rank > 0
    model, summary = train(config, tmp_path / "run", frames=frames.astype("float32"),
                           verbose=0)
    report = json.loads((tmp_path / "run" / "summary.json").read_text())["residual_texture"]
    assert report == summary["residual_texture"]
    assert report["rank"] == 37   # 38 training frames (one pair held out), centred
    assert 0.0 < report["residual_variance"] < 0.01
    from dynamic_vae.runs import load_run

    reloaded = load_run(tmp_path / "run").model
    np.testing.assert_array_equal(reloaded.residual_texture.basis.numpy(),
                                  model.residual_texture.basis.numpy())


def _fitted_texture(known, curve=None):
    texture = ResidualTexture(rank=3, frame_shape=FRAME_SHAPE)
    texture.basis.assign((known["stds"][:, None] * known["directions"]).astype("float32"))
    texture.persistence.assign(known["persistence"].astype("float32"))
    texture.offset.assign(known["offset"].astype("float32"))
    if curve is not None:
        padded = np.zeros(HELDOUT_LAGS, "float32")
        padded[:len(curve)] = curve
        texture.heldout_persistence.assign(padded)
    return texture


def test_forecast_scales_the_whole_residual_by_the_heldout_persistence(known, rng):
    """E[e_{t+k} | e_t] = offset + h_k (e_t - offset), against numpy, in and outside the
    directions alike."""
    curve = np.linspace(0.8, 0.2, HELDOUT_LAGS)
    texture = _fitted_texture(known, curve)
    residuals = known["offset"] + rng.normal(size=(5, 30))
    for k in (0, 1, 3, HELDOUT_LAGS):
        decay = 1.0 if k == 0 else curve[k - 1]
        expected = known["offset"] + decay * (residuals - known["offset"])
        np.testing.assert_allclose(texture.forecast(residuals, k), expected, atol=1e-5)
    with pytest.raises(ValueError, match="steps: expected k >= 0, got -1"):
        texture.forecast(residuals, -1)


def test_the_frame_before_scales_the_curve_to_the_window(known, rng):
    """With the residual of the frame before, rho_k = clip(h_k q / h_1, 0, 1), q the
    least-squares slope between the two centred residuals (per frame, clipped to [0, 1])."""
    curve = np.array([0.5, 0.4, 0.3])
    texture = _fitted_texture(known, curve)
    unit = np.linalg.qr(rng.normal(size=(30, 2)))[0].T           # (2, D) orthonormal
    previous_parts = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])
    current_parts = np.array([[0.3, 0.6], [-0.5, -0.5], [0.0, 2.0]])
    slopes = np.array([0.3, 0.0, 1.0])  # 0.3; -1 clipped to 0; 2 clipped to 1
    previous = known["offset"] + previous_parts @ unit
    residuals = known["offset"] + current_parts @ unit
    for k in (0, 1, 2, 3):
        scale = (np.ones(3) if k == 0
                 else np.clip(curve[k - 1] * slopes / curve[0], 0.0, 1.0))
        expected = known["offset"] + scale[:, None] * (current_parts @ unit)
        np.testing.assert_allclose(texture.forecast(residuals, k, previous), expected,
                                   atol=1e-5)
    with pytest.raises(ValueError, match=r"previous_residuals: expected the shape of "
                                         r"residuals \(3, 30\), got \(2, 30\)"):
        texture.forecast(residuals, 1, previous[:2])


def test_persistence_at_continues_the_curve_and_falls_back_to_the_directions(known):
    curve = 0.9 ** np.arange(1, HELDOUT_LAGS + 1)
    texture = _fitted_texture(known, curve)
    assert texture.persistence_at(0) == 1.0
    assert texture.persistence_at(4) == pytest.approx(0.9 ** 4, rel=1e-6)
    # Beyond the stored lags, the curve's mean decay per lag goes on.
    assert texture.persistence_at(HELDOUT_LAGS + 5) == pytest.approx(
        0.9 ** (HELDOUT_LAGS + 5), rel=1e-5)
    # No curve: the directions' variance-weighted k-step autocorrelation.
    plain = _fitted_texture(known)
    for k in (1, 3):
        expected = ((known["stds"] ** 2 * known["persistence"] ** k).sum()
                    / (known["stds"] ** 2).sum())
        assert plain.persistence_at(k) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="steps: expected k >= 0, got -2"):
        plain.persistence_at(-2)


def _blocked_autocorrelation(frames, rank, folds, lags):
    """The held-out curve by the definition, with full SVDs and explicit loops (numpy)."""
    flat = frames.reshape(len(frames), -1)
    blocks = np.array_split(np.arange(len(flat)), folds)
    products, norms = np.zeros(lags), np.zeros(lags)
    for block in blocks:
        rest = flat[np.setdiff1d(np.arange(len(flat)), block)]
        mean = rest.mean(axis=0)
        directions = np.linalg.svd(rest - mean, full_matrices=False)[2][:rank]
        residual = flat[block] - mean
        residual = residual - residual @ directions.T @ directions
        for k in range(1, lags + 1):
            for i in range(len(block) - k):
                products[k - 1] += residual[i] @ residual[i + k]
                norms[k - 1] += residual[i] @ residual[i]
    return np.clip(products / norms, 0, 1)


def test_heldout_persistence_is_the_blocked_cross_validated_autocorrelation(rng):
    signal = np.sin(np.arange(120)[:, None] * np.array([0.3, 0.7])) @ rng.normal(size=(2, 30))
    noise = np.zeros((120, 30))
    for t in range(1, 120):
        noise[t] = 0.8 * noise[t - 1] + 0.6 * rng.normal(size=30)
    frames = (signal + 0.2 * noise).reshape(120, *FRAME_SHAPE)
    curve = heldout_persistence([frames], rank=2, folds=4, lags=6)
    np.testing.assert_allclose(curve, _blocked_autocorrelation(frames, 2, 4, 6), atol=1e-6)
    # The residual is the AR(1) noise: its autocorrelation decays as 0.8^k.
    np.testing.assert_allclose(curve[:3], 0.8 ** np.arange(1, 4), atol=0.12)
    # Blocks too short for a lag continue the measured curve geometrically.
    short = heldout_persistence([frames[:16]], rank=2, folds=4, lags=6)
    measured = _blocked_autocorrelation(frames[:16], 2, 4, 3)
    np.testing.assert_allclose(short[:3], measured, atol=1e-6)
    rate = (measured[2] / measured[0]) ** 0.5
    np.testing.assert_allclose(short[3:], measured[2] * rate ** np.arange(1, 4), atol=1e-6)
    with pytest.raises(ValueError, match="folds >= 2"):
        heldout_persistence([frames], rank=2, folds=1)


def _blocked_shrinkage(frames, rank, folds, lags):
    """`heldout_shrinkage` in plain numpy (full SVD, one sequence): the least-squares share
    of the predicted change of a transition with singular values clipped to 1, per lag, over
    every block's states."""
    flat = frames.reshape(len(frames), -1)
    blocks = np.array_split(np.arange(len(flat)), folds)
    products, norms = np.zeros(lags), np.zeros(lags)
    for held in range(folds):
        rest = [flat[b] for f, b in enumerate(blocks) if f != held]
        fitted = np.concatenate(rest)
        mean = fitted.mean(axis=0)
        directions = np.linalg.svd(fitted - mean, full_matrices=False)[2][:rank]
        before = np.concatenate([(r[:-1] - mean) @ directions.T for r in rest])
        after = np.concatenate([(r[1:] - mean) @ directions.T for r in rest])
        transition = np.linalg.lstsq(before, after, rcond=None)[0].T
        u, singular, vt = np.linalg.svd(transition)
        transition = u @ np.diag(np.minimum(singular, 1)) @ vt
        x = (flat[blocks[held]] - mean) @ directions.T
        for k in range(1, lags + 1):
            change = x[:-k] @ (np.linalg.matrix_power(transition, k) - np.eye(rank)).T
            products[k - 1] += np.sum(change * (x[k:] - x[:-k]))
            norms[k - 1] += np.sum(change ** 2)
    return np.clip(products / norms, 0, 1)


def test_heldout_shrinkage_is_the_cross_validated_share_of_the_predicted_change(rng):
    """Against numpy on frames of exactly rank 2 (so the randomized SVD finds the same
    subspace): a stationary AR(1) state keeps about all of its predicted change; a random
    walk, whose blocks wander off, less than 0.6 of it; short blocks keep the last share."""
    def frames_of(states):
        return (states @ rng.normal(size=(2, 30))).reshape(len(states), *FRAME_SHAPE)

    turn = 0.4
    transition = 0.9 * np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    stationary = np.zeros((800, 2))
    for t in range(1, 800):
        stationary[t] = transition @ stationary[t - 1] + rng.normal(size=2)
    frames = frames_of(stationary)
    shares = heldout_shrinkage([frames], rank=2, folds=4, lags=6)
    np.testing.assert_allclose(shares, _blocked_shrinkage(frames, 2, 4, 6), atol=1e-6)
    assert np.all(np.abs(shares[:3] - 1) < 0.15), shares
    walk = frames_of(np.cumsum(rng.normal(size=(800, 2)), axis=0))
    assert np.all(heldout_shrinkage([walk], rank=2, folds=4, lags=6) < 0.6)
    short = heldout_shrinkage([frames[:16]], rank=2, folds=4, lags=6)   # blocks of 4
    np.testing.assert_allclose(short[:3], _blocked_shrinkage(frames[:16], 2, 4, 3),
                               atol=1e-6)
    np.testing.assert_allclose(short[3:], short[2])
    assert np.all(heldout_shrinkage([frames[:4]], rank=2, folds=4, lags=3) == 1.0)
    with pytest.raises(ValueError, match="folds >= 2"):
        heldout_shrinkage([frames], rank=2, folds=1)


def test_both_curves_from_one_pass_are_the_two_curves(rng):
    """`heldout_curves` gives both cross-validated curves of the same frames in one pass
    (each against its numpy closed form), and without shares its second value is None."""
    transition = np.array([[0.9, -0.2], [0.2, 0.9]])
    states = np.zeros((120, 2))
    for t in range(1, 120):
        states[t] = transition @ states[t - 1] + rng.normal(size=2)
    basis = np.linalg.qr(rng.normal(size=(36, 3)))[0]
    frames = (np.concatenate([states, 0.3 * rng.normal(size=(120, 1))], 1) @ basis.T
              ).reshape(120, 6, 6, 1)
    persistence, shares = heldout_curves([frames], rank=2, folds=4, lags=6)
    np.testing.assert_allclose(persistence, _blocked_autocorrelation(frames, 2, 4, 6),
                               atol=1e-6)
    np.testing.assert_allclose(shares, _blocked_shrinkage(frames, 2, 4, 6), atol=1e-6)
    sequences = [frames[:30], frames[30:70], frames[70:100], frames[100:]]
    persistence, shares = heldout_curves(sequences, rank=2, lags=8)
    np.testing.assert_array_equal(persistence, heldout_persistence(sequences, rank=2, lags=8))
    np.testing.assert_array_equal(shares, heldout_shrinkage(sequences, rank=2, lags=8))
    alone, none = heldout_curves(sequences, rank=2, lags=8, shrinkage=False)
    np.testing.assert_array_equal(alone, persistence)
    assert none is None
    with pytest.raises(ValueError, match="heldout_curves: expected folds >= 2"):
        heldout_curves([frames], rank=2, folds=1)


def test_the_texture_stores_the_shrinkage_and_the_predictors_apply_it(known, rng):
    """`fit(shrinkage=...)` stores the shares (a short curve keeps its last value);
    `shrinkage_at` and `shrunk_forecast` read them; the baseline's predictions with a
    texture move its states by those shares of the predicted change (numpy)."""
    from dynamic_vae.baseline import LinearDynamicTexture
    from dynamic_vae.evaluation.prediction import linear_baseline_predictor

    texture = ResidualTexture(rank=3, frame_shape=FRAME_SHAPE)
    residuals = _process(rng, 40, known["stds"], known["persistence"], known["directions"],
                         known["offset"])
    info = texture.fit(residuals, np.stack([np.arange(39), np.arange(1, 40)], 1),
                       shrinkage=np.array([0.9, 0.5, 0.25]))
    expected = np.concatenate([[0.9, 0.5], np.full(HELDOUT_LAGS - 2, 0.25)])
    np.testing.assert_allclose(info["heldout_shrinkage"], expected, atol=1e-4)
    assert texture.shrinkage_at(0) == 1.0 and texture.shrinkage_at(40) == pytest.approx(0.25)
    # From state 0 to forecast 1, the shrunk forecast is each lag's share itself.
    np.testing.assert_allclose(
        texture.shrunk_forecast(np.zeros(1), np.ones((20, 1)), tf.range(1, 21)).numpy()[:, 0],
        [texture.shrinkage_at(k) for k in range(1, 21)], atol=1e-7)
    with pytest.raises(ValueError, match="shrinkage: expected shares in"):
        texture.fit(residuals, np.zeros((0, 2)), shrinkage=np.array([1.5]))

    frames = rng.random((60, *FRAME_SHAPE)).astype("float32")
    baseline = LinearDynamicTexture(latent_dim=3).fit(frames)
    lds_texture, _ = baseline.fit_residual_texture(frames, rank=4)
    lds_texture.heldout_shrinkage.assign(np.linspace(0.8, 0.1, HELDOUT_LAGS).astype("float32"))
    pairs = np.stack([frames[10:20], frames[11:21]], axis=1)
    predicted = linear_baseline_predictor(baseline, lds_texture)(pairs, [3])[3]
    x = baseline.encode(pairs[:, 1])
    rolled = x @ np.linalg.matrix_power(baseline.transition_matrix, 3).T
    coarse = baseline.decode(x + lds_texture.shrinkage_at(3) * (rolled - x))
    added = lds_texture.forecast(baseline.residuals(pairs[:, 1]), 3,
                                 baseline.residuals(pairs[:, 0])).reshape(coarse.shape)
    np.testing.assert_allclose(predicted, np.clip(coarse + added, 0, 1), atol=1e-5)


def test_the_shrunk_forecast_keeps_each_lag_s_share_of_the_change(rng):
    """`shrunk_forecast` is m_T + lambda_k (A^k m_T - m_T) with the stored share of each lag
    (1 at k = 0, the last share past `HELDOUT_LAGS`), for one lag of many states (numpy, as
    the predictors call it) and for one lag per row of one clip's forecasts (in graph)."""
    texture = ResidualTexture(rank=2, frame_shape=FRAME_SHAPE)
    curve = np.linspace(0.9, 0.2, HELDOUT_LAGS).astype("float32")
    texture.heldout_shrinkage.assign(curve)
    states = rng.normal(size=(5, 3)).astype("float32")
    rolled = rng.normal(size=(5, 3))
    for k, share in ((0, 1.0), (3, curve[2]), (HELDOUT_LAGS + 4, curve[-1])):
        expected = states.astype(np.float64) + float(share) * (rolled - states)
        shrunk = texture.shrunk_forecast(states, rolled, k)
        assert shrunk.dtype == tf.float64 and shrunk.shape == (5, 3)
        np.testing.assert_allclose(shrunk.numpy(), expected, rtol=1e-12, atol=1e-12)

    # One clip's forecasts k = 1..K, two past the stored curve, from its last state.
    last = rng.normal(size=3)
    means = rng.normal(size=(HELDOUT_LAGS + 2, 3))
    shares = np.concatenate([curve, curve[-1:], curve[-1:]]).astype(np.float64)
    expected = last + shares[:, None] * (means - last)
    in_graph = tf.function(lambda m, x, k: texture.shrunk_forecast(m, x, tf.range(1, k + 1)))
    np.testing.assert_allclose(in_graph(tf.constant(last), tf.constant(means),
                                        tf.constant(len(means))).numpy(), expected,
                               rtol=1e-12, atol=1e-12)


def test_the_model_s_fit_stores_the_cross_validated_shares(rng):
    """`DynamicVAE.fit_residual_texture` stores `heldout_shrinkage` of its training pairs'
    frames; a model with a locked period keeps every share 1 (its turn is exact)."""
    frames = rng.random((24, 16, 16, 1)).astype("float32")
    model = DynamicVAE(frame_shape=(16, 16, 1), latent_dim=3, base_channels=8, sigma=0.3,
                       residual_rank=5, seed=0)
    info = model.fit_residual_texture(frames, np.arange(23))
    expected = heldout_shrinkage([frames], rank=3)
    np.testing.assert_allclose(info["heldout_shrinkage"], np.round(expected, 4), atol=1e-4)
    assert np.any(expected < 1)
    periodic = DynamicVAE(frame_shape=(16, 16, 1), latent_dim=4, base_channels=8, sigma=0.3,
                          residual_rank=5, period=4, seed=0)
    assert np.all(np.array(periodic.fit_residual_texture(frames, np.arange(23))[
        "heldout_shrinkage"]) == 1.0)


def test_a_short_curve_is_continued_and_sequences_stay_apart(rng):
    """`fit(heldout=...)` continues a short curve as `heldout_persistence` does; the model's
    fit measures the curve on each sequence of its training pairs, even where two sequences
    are adjacent in `frames` (pair starts 0..8 and 10..18)."""
    texture = ResidualTexture(rank=2, frame_shape=FRAME_SHAPE)
    info = texture.fit(rng.normal(size=(20, 30)), np.stack([np.arange(19), np.arange(1, 20)], 1),
                       heldout=[0.8, 0.4])
    np.testing.assert_allclose(info["heldout_persistence"][:4], [0.8, 0.4, 0.2, 0.1], atol=1e-4)
    assert texture.persistence_at(HELDOUT_LAGS + 1) > 0
    model = DynamicVAE(frame_shape=(16, 16, 1), latent_dim=3, base_channels=8, sigma=0.3,
                       residual_rank=4, seed=0)
    frames = rng.random((20, 16, 16, 1)).astype("float32")
    starts = np.concatenate([np.arange(9), np.arange(10, 19)])
    info = model.fit_residual_texture(frames, starts)
    expected = heldout_persistence([frames[:10], frames[10:]], rank=3)
    np.testing.assert_allclose(info["heldout_persistence"], expected, atol=1e-4)
    merged = heldout_persistence([frames], rank=3)
    assert not np.allclose(expected, merged, atol=1e-4)


def test_a_texture_saved_without_the_curves_loads_with_neutral_ones(known):
    texture = _fitted_texture(known, np.full(4, 0.5))
    old_store = {str(i): v.numpy() for i, v in enumerate(
        [texture.basis, texture.persistence, texture.offset])}
    loaded = ResidualTexture(rank=3, frame_shape=FRAME_SHAPE)
    loaded.heldout_shrinkage.assign(np.full(HELDOUT_LAGS, 0.5, "float32"))
    loaded.load_own_variables(old_store)
    np.testing.assert_array_equal(loaded.basis.numpy(), texture.basis.numpy())
    assert not loaded.heldout_persistence.numpy().any()
    assert loaded.persistence_at(1) == pytest.approx(_fitted_texture(known).persistence_at(1))
    assert np.all(loaded.heldout_shrinkage.numpy() == 1.0)
    # Saved with the persistence curve but before the shrinkage: every share 1, whatever the
    # layer held before.
    loaded.heldout_shrinkage.assign(np.full(HELDOUT_LAGS, 0.5, "float32"))
    store = {str(i): v.numpy() for i, v in enumerate(
        [texture.basis, texture.persistence, texture.offset, texture.heldout_persistence])}
    loaded.load_own_variables(store)
    np.testing.assert_array_equal(loaded.heldout_persistence.numpy(),
                                  texture.heldout_persistence.numpy())
    assert np.all(loaded.heldout_shrinkage.numpy() == 1.0)


def test_predictions_add_the_texture_forecast(textured_model, rng):
    from dynamic_vae.evaluation.prediction import dynamic_vae_predictor

    textured_model.residual_texture.heldout_shrinkage.assign(
        np.linspace(0.7, 0.3, HELDOUT_LAGS).astype("float32"))
    pairs = rng.random((4, 2, 16, 16, 1)).astype("float32")
    with_texture = dynamic_vae_predictor(textured_model)(pairs, [0, 2])
    plain = dynamic_vae_predictor(textured_model, texture=False)(pairs, [0, 2])
    pair_states = textured_model.encode_states(pairs).numpy()
    states = pair_states[:, 3:]
    residuals = pairs[:, 1] - textured_model.decode(states).numpy()
    previous = pairs[:, 0] - textured_model.decode(pair_states[:, :3]).numpy()
    a = textured_model.transition()[0].astype(np.float64)
    texture = textured_model.residual_texture
    for k in (0, 2):
        rolled = states @ np.linalg.matrix_power(a, k).T
        means = textured_model.decode(rolled.astype("float32")).numpy()
        np.testing.assert_allclose(plain[k], np.clip(means, 0, 1), atol=1e-6)
        # With the texture, the state keeps its share of the predicted change.
        shrunk = textured_model.decode((states + texture.shrinkage_at(k) * (rolled - states))
                                       .astype("float32")).numpy()
        expected = np.clip(shrunk + texture.forecast(residuals, k, previous).reshape(
            means.shape), 0, 1)
        np.testing.assert_allclose(with_texture[k], expected, atol=1e-5)
    assert not np.allclose(with_texture[2], plain[2])
