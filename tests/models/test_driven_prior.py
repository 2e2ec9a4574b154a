import numpy as np
import pytest
import tensorflow as tf

from dynamic_vae.models import DynamicVAE
from dynamic_vae.models.driven_prior import (PHASE_BANDWIDTH, driven_moment_mismatch,
                                             innovation_projections, phase_dependence,
                                             readback_error, resample_driven)

# A locked plane (B = 0 there) and two directions the innovations drive.
ROTATION = np.array([[0.0, -1.0], [1.0, 0.0]])
TRANSITION = np.block([[ROTATION, np.zeros((2, 2))], [np.zeros((2, 2)), 0.6 * np.eye(2)]])
NOISE = np.block([[np.zeros((2, 2)), np.zeros((2, 2))],
                  [np.zeros((2, 2)), 0.8 * np.eye(2)]])


def random_rotation(rng, n=4):
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    return q


def numpy_dependence(states, q_persistent, q_driven, bandwidth=PHASE_BANDWIDTH):
    persistent, driven = states @ q_persistent, states @ q_driven
    squared = ((persistent[:, None] - persistent[None]) ** 2).sum(-1)
    m = len(states)
    median = np.sort(squared[~np.eye(m, dtype=bool)])[m * (m - 1) // 2]
    weights = np.exp(-squared / (2 * bandwidth ** 2 * median))
    np.fill_diagonal(weights, 0.0)
    weights /= weights.sum(1, keepdims=True)
    centred = driven - driven.mean(0)
    return ((weights @ centred) ** 2).sum() / (centred ** 2).sum()


def test_projections_split_the_space_at_the_null_space_of_b(rng):
    rotation = random_rotation(rng)
    q_persistent, q_driven = (q.numpy() for q in innovation_projections(
        rotation @ NOISE @ rotation.T))
    np.testing.assert_allclose(q_persistent + q_driven, np.eye(4), atol=1e-10)
    np.testing.assert_allclose(q_persistent @ q_persistent, q_persistent, atol=1e-10)
    # The persistent directions are exactly those B B^T maps to 0.
    expected = rotation[:, :2] @ rotation[:, :2].T
    np.testing.assert_allclose(q_persistent, expected, atol=1e-10)


def phase_states(rng, digit_in_driven: float, m=120, period=4):
    """States with a phase on a ring and driven parts that carry `digit_in_driven` of it."""
    phase = rng.integers(0, period, size=m)
    angle = 2 * np.pi * phase / period
    ring = np.stack([np.cos(angle), np.sin(angle)], 1) + 0.02 * rng.normal(size=(m, 2))
    driven = rng.normal(size=(m, 2)) + digit_in_driven * np.stack(
        [np.cos(angle), np.sin(angle)], 1)
    return np.concatenate([ring, driven], 1)


def test_phase_dependence_matches_numpy_and_reads_a_phase_written_into_the_driven_part(rng):
    rotation = random_rotation(rng)
    b = rotation @ NOISE @ rotation.T
    q_persistent, q_driven = (q.numpy() for q in innovation_projections(b))
    dependences = []
    for strength in (0.0, 3.0):
        states = phase_states(rng, strength) @ rotation.T
        dependence = float(phase_dependence(states.astype("float32"), b))
        np.testing.assert_allclose(dependence, numpy_dependence(states, q_persistent, q_driven),
                                   rtol=1e-3, atol=1e-5)
        dependences.append(dependence)
    # Independent: only the smoother's sampling noise (about 1 / states per phase).
    assert dependences[0] < 0.1
    assert dependences[1] > 0.7


def test_phase_dependence_is_zero_without_driven_directions(rng):
    states = rng.normal(size=(50, 4)).astype("float32")
    assert float(phase_dependence(states, np.zeros((4, 4), "float32"))) == 0.0


def test_moment_mismatch_is_the_distance_of_mean_and_covariance_from_the_prior(rng):
    rotation = random_rotation(rng)
    b = rotation @ NOISE @ rotation.T
    _, q_driven = (q.numpy() for q in innovation_projections(b))
    samples = rng.normal(size=(300, 4)) * [1.0, 1.0, 2.0, 0.5] + [0.0, 0.0, 1.0, -1.0]
    samples = samples @ rotation.T
    driven = samples @ q_driven
    covariance = np.cov(driven.T, bias=True)
    expected = (driven.mean(0) ** 2).sum() + ((covariance - q_driven) ** 2).sum()
    np.testing.assert_allclose(float(driven_moment_mismatch(samples.astype("float32"), b)),
                               expected, rtol=1e-4)
    # Draws from the stationary prior itself come close to 0.
    prior = rng.normal(size=(20000, 4)) @ rotation.T
    assert float(driven_moment_mismatch(prior.astype("float32"), b)) < 0.01


def twin_models(rng, posterior, **weights):
    """`(plain, weighted, windows)`: two models with the same weights and transition, the
    second with the loss weights given, and a batch of windows."""
    kwargs = dict(frame_shape=(16, 16, 1), latent_dim=4, filter_size=3, seed=0,
                  posterior=posterior)
    plain = DynamicVAE(**kwargs)
    weighted = DynamicVAE(**weights, **kwargs)
    weighted.set_weights(plain.get_weights())
    for model in (plain, weighted):
        model.dynamic_layer.set_transition(TRANSITION.astype("float32"),
                                           NOISE.astype("float32"))
    return plain, weighted, tf.constant(rng.random((4, 3, 16, 16, 1)).astype("float32"))


@pytest.mark.parametrize("posterior", ["factorized", "smoothed"])
def test_model_adds_the_weighted_terms_and_tracks_them(posterior, rng):
    plain, weighted, windows = twin_models(rng, posterior, driven_prior_weight=7.0)
    # Both models draw the same posterior samples: the same seed, the same weights.
    base = plain._loss_terms(windows, training=True)
    terms = weighted._loss_terms(windows, training=True)
    assert "phase_dependence" not in base
    np.testing.assert_allclose(
        terms["loss"].numpy(),
        base["loss"].numpy() + 7.0 * (terms["phase_dependence"].numpy()
                                      + terms["driven_mismatch"].numpy()), rtol=1e-5)
    names = [metric.name for metric in weighted.metrics]
    assert "phase_dependence" in names and "driven_mismatch" in names
    assert "phase_dependence" not in [metric.name for metric in plain.metrics]
    # Batch statistics: a held-out pair is too small for them, so evaluation leaves the
    # loss at the ELBO's and logs neither.
    held_out = weighted._loss_terms(windows, training=False)
    np.testing.assert_allclose(held_out["loss"].numpy(),
                               plain._loss_terms(windows, training=False)["loss"].numpy(),
                               rtol=1e-6)
    logs = weighted.test_step(windows[:1, :2])
    assert "phase_dependence" not in logs and "driven_mismatch" not in logs and "loss" in logs


def test_descending_the_term_moves_the_phase_out_of_the_driven_part(rng):
    """Gradient steps on both parts, taken on the states themselves, end with driven parts
    that neither say the phase nor stray from the prior: the term's gradients point there."""
    b = NOISE.astype("float32")
    states = tf.Variable(phase_states(rng, 3.0).astype("float32"))
    before = (float(phase_dependence(states, b)), float(driven_moment_mismatch(states, b)))
    for _ in range(300):
        with tf.GradientTape() as tape:
            loss = phase_dependence(states, b) + driven_moment_mismatch(states, b)
        gradient = tape.gradient(loss, states)
        # Only the driven part moves: the persistent part (the phase) is what it is.
        states.assign_sub(2.0 * gradient * np.array([0, 0, 1, 1], "float32"))
    after = (float(phase_dependence(states, b)), float(driven_moment_mismatch(states, b)))
    assert before[0] > 0.7 and after[0] < 0.05
    assert after[1] < 1e-3 * before[1]


def test_the_term_trains_under_xla(rng):
    import keras

    model = DynamicVAE(frame_shape=(8, 8, 1), latent_dim=4, filter_size=3, seed=0,
                       posterior="smoothed", driven_prior_weight=5.0)
    model.dynamic_layer.set_transition(TRANSITION.astype("float32"), NOISE.astype("float32"))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=True)
    history = model.fit(rng.random((16, 3, 8, 8, 1)).astype("float32"), batch_size=8,
                        epochs=1, verbose=0)
    assert np.isfinite(history.history["phase_dependence"][0])
    assert np.isfinite(history.history["loss"][0])


def test_resample_driven_keeps_the_phase_and_draws_the_rest(rng):
    rotation = random_rotation(rng)
    b = (rotation @ NOISE @ rotation.T).astype("float32")
    states = rng.normal(size=(6, 4)).astype("float32")
    draws = rng.normal(size=(6, 4)).astype("float32")
    persistent = rotation[:, :2] @ rotation[:, :2].T
    expected = states @ persistent + draws @ (np.eye(4) - persistent)
    np.testing.assert_allclose(resample_driven(tf.constant(states), b, draws).numpy(),
                               expected, atol=1e-5)


def test_readback_error_is_the_relative_error_on_the_persistent_directions(rng):
    rotation = random_rotation(rng)
    b = (rotation @ NOISE @ rotation.T).astype("float32")
    persistent = rotation[:, :2] @ rotation[:, :2].T
    read, target = rng.normal(size=(2, 5, 4))
    expected = (((read - target) @ persistent) ** 2).sum() / ((target @ persistent) ** 2).sum()
    np.testing.assert_allclose(float(readback_error(read, target, b)), expected, rtol=1e-5)
    # What the innovations drive is free: only the phase is judged.
    driven_only = target + rng.normal(size=(5, 4)) @ (np.eye(4) - persistent)
    assert float(readback_error(driven_only, target, b)) < 1e-10
    # No persistent direction, nothing to judge.
    assert float(readback_error(read, target, np.eye(4, dtype="float32"))) == 0.0


@pytest.mark.parametrize("posterior", ["factorized", "smoothed"])
def test_readback_term_trains_the_decoder_and_holds_the_encoder(posterior, rng):
    plain, weighted, windows = twin_models(rng, posterior, readback_weight=3.0)
    base = plain._loss_terms(windows, training=True)
    terms = weighted._loss_terms(windows, training=True)
    assert "readback" not in base and float(terms["readback"]) > 0
    np.testing.assert_allclose(terms["loss"].numpy(),
                               base["loss"].numpy() + 3.0 * terms["readback"].numpy(),
                               rtol=1e-5)
    assert "readback" in [metric.name for metric in weighted.metrics]
    # The term's gradient reaches the decoder, never the encoder: it judges, it is not
    # trained to read a wrong frame as the right phase.
    encoder = weighted.encoder.trainable_variables
    decoder = weighted.decoder.trainable_variables
    with tf.GradientTape() as tape:
        readings, _ = weighted.encoder(windows[:, 0])
        readback = weighted._readback_term(tf.random.normal([4, 4], seed=1), readings, {})
    gradients = tape.gradient(readback, encoder + decoder)
    assert all(g is None for g in gradients[:len(encoder)])
    assert any(g is not None and float(tf.reduce_sum(tf.abs(g))) > 0
               for g in gradients[len(encoder):])
    # Held-out losses stay the ELBO's.
    held_out = weighted._loss_terms(windows, training=False)
    np.testing.assert_allclose(held_out["loss"].numpy(),
                               plain._loss_terms(windows, training=False)["loss"].numpy(),
                               rtol=1e-6)


def test_readback_needs_a_frame_encoder():
    with pytest.raises(ValueError, match="readback_weight > 0 needs encoder_mode 'frame'"):
        DynamicVAE(frame_shape=(8, 8, 1), latent_dim=4, encoder_mode="pair",
                   readback_weight=1.0)
