import numpy as np
import pytest
import tensorflow as tf

from dynamic_vae.models import DynamicVAE
from dynamic_vae.models.driven_prior import (MMD_SCALES, PHASE_BANDWIDTH,
                                             READBACK_TEMPERATURE, driven_mmd,
                                             driven_moment_mismatch, frame_mmd,
                                             innovation_projections,
                                             phase_dependence, readback_confusion,
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
@pytest.mark.parametrize("weight,names", [
    ("driven_prior_weight", ("phase_dependence", "driven_mismatch")),
    ("driven_mmd_weight", ("driven_mmd",))])
def test_model_adds_the_weighted_terms_and_tracks_them(posterior, weight, names, rng):
    plain, weighted, windows = twin_models(rng, posterior, **{weight: 7.0})
    # Both models draw the same posterior samples: the same seed, the same weights.
    base = plain._loss_terms(windows, training=True)
    terms = weighted._loss_terms(windows, training=True)
    assert not set(names) & set(base)
    np.testing.assert_allclose(
        terms["loss"].numpy(),
        base["loss"].numpy() + 7.0 * sum(terms[name].numpy() for name in names), rtol=1e-5)
    assert set(names) <= {metric.name for metric in weighted.metrics}
    assert not set(names) & {metric.name for metric in plain.metrics}
    # Batch statistics: a held-out pair is too small for them, so evaluation leaves the
    # loss at the ELBO's and logs none of them.
    held_out = weighted._loss_terms(windows, training=False)
    np.testing.assert_allclose(held_out["loss"].numpy(),
                               plain._loss_terms(windows, training=False)["loss"].numpy(),
                               rtol=1e-6)
    logs = weighted.test_step(windows[:1, :2])
    assert not set(names) & set(logs) and "loss" in logs


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


def numpy_confusion(read, target, transition, q_persistent, period,
                    temperature=READBACK_TEMPERATURE):
    candidates = np.stack([target @ np.linalg.matrix_power(transition, j).T @ q_persistent
                           for j in range(period)], 1)
    step = (((candidates[:, 1] - candidates[:, 0]) ** 2).sum(1)).mean()
    logits = -(((read @ q_persistent)[:, None] - candidates) ** 2).sum(2) / (temperature * step)
    top = logits.max(1, keepdims=True)
    log_norm = top[:, 0] + np.log(np.exp(logits - top).sum(1))
    return (log_norm - logits[:, 0]).mean()


def test_readback_confusion_is_the_cross_entropy_of_the_right_phase(rng):
    rotation = random_rotation(rng)
    b = (rotation @ NOISE @ rotation.T).astype("float32")
    transition = rotation @ TRANSITION @ rotation.T
    persistent = rotation[:, :2] @ rotation[:, :2].T
    read, target = rng.normal(size=(2, 6, 4))
    np.testing.assert_allclose(
        float(readback_confusion(read, target, transition, b, 4)),
        numpy_confusion(read, target, transition, persistent, 4), rtol=1e-5)
    # States on a ring, as a locked plane keeps them: read at their own phase with any new
    # hand, log(1 + 2 exp(-1 / T) + exp(-2 / T)); read at the next phase, far more.
    angle = rng.uniform(0, 2 * np.pi, 6)
    target = np.c_[np.cos(angle), np.sin(angle), rng.normal(size=(6, 2))] @ rotation.T
    own = target + rng.normal(size=(6, 4)) @ (np.eye(4) - persistent)
    t = READBACK_TEMPERATURE
    np.testing.assert_allclose(float(readback_confusion(own, target, transition, b, 4)),
                               np.log(1 + 2 * np.exp(-1 / t) + np.exp(-2 / t)), rtol=1e-4)
    next_phase = target @ transition.T
    low = float(readback_confusion(own, target, transition, b, 4))
    high = float(readback_confusion(next_phase, target, transition, b, 4))
    assert low < 0.1 < 4.0 < high
    # A reading a little off the phase costs far less than the squared error charges it.
    off = target + 0.3 * (next_phase - target)
    assert float(readback_confusion(off, target, transition, b, 4)) < 0.5 * high


def numpy_mmd(samples, draws, q_persistent, q_driven, bandwidth=PHASE_BANDWIDTH):
    phase, a, b = samples @ q_persistent, samples @ q_driven, draws @ q_driven
    m, rank = len(samples), np.trace(q_driven)
    squared = lambda u, v: ((u[:, None] - v[None]) ** 2).sum(-1)
    phase_squared = squared(phase, phase)
    median = np.sort(phase_squared[~np.eye(m, dtype=bool)])[m * (m - 1) // 2]
    kernel = np.exp(-phase_squared / (2 * bandwidth ** 2 * median))
    np.fill_diagonal(kernel, 0.0)
    total = 0.0
    for scale in MMD_SCALES:
        c = 2 * rank * scale
        imq = lambda d: c / (c + d)
        total += ((imq(squared(a, a)) + imq(squared(b, b)) - 2 * imq(squared(a, b))) * kernel
                  ).sum() / (m * (m - 1))
    return total


def test_driven_mmd_matches_its_formula_and_sees_a_hand_that_depends_on_the_phase(rng):
    rotation = random_rotation(rng)
    b = (rotation @ NOISE @ rotation.T).astype("float32")
    persistent = rotation[:, :2] @ rotation[:, :2].T
    phases = rng.integers(0, 4, 120)
    angle = np.pi / 2 * phases
    ring = np.c_[np.cos(angle), np.sin(angle)]
    hands = rng.normal(size=(120, 2))
    states = np.c_[ring, hands] @ rotation.T
    draws = rng.normal(size=(120, 4))
    np.testing.assert_allclose(float(driven_mmd(states, draws, b)),
                               numpy_mmd(states, draws, persistent, np.eye(4) - persistent),
                               rtol=1e-4, atol=1e-7)
    independent = float(driven_mmd(states, draws, b))
    # Each phase's hands with the prior's overall mean and covariance, but each phase its own,
    sign = np.where(phases < 2, 1.0, -1.0)
    dependent = np.c_[ring, sign * np.abs(hands[:, 0]), hands[:, 1]] @ rotation.T
    assert abs(independent) < 0.01 < float(driven_mmd(dependent, draws, b))
    # which the moments over all phases do not see.
    assert abs(float(driven_moment_mismatch(states, b))
               - float(driven_moment_mismatch(dependent, b))) < 0.1


def test_cross_entropy_readback_needs_a_period(rng):
    _, weighted, windows = twin_models(rng, "smoothed", readback_weight=1.0,
                                       readback_loss="cross_entropy")
    with pytest.raises(ValueError, match="needs a period >= 3, got period 0"):
        weighted._loss_terms(windows, training=True)
    with pytest.raises(ValueError, match="readback_loss must be one of"):
        DynamicVAE(frame_shape=(8, 8, 1), latent_dim=4, readback_loss="huber")


@pytest.mark.parametrize("posterior", ["factorized", "smoothed"])
@pytest.mark.parametrize("readback_loss", ["squared", "cross_entropy"])
def test_readback_term_trains_the_decoder_and_holds_the_encoder(posterior, readback_loss, rng):
    plain, weighted, windows = twin_models(rng, posterior, readback_weight=3.0,
                                           readback_loss=readback_loss, period=4)
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


def numpy_frame_mmd(decoded, frames, states, q_persistent):
    phase = states @ q_persistent
    fake, real = decoded.reshape(len(states), -1), frames.reshape(len(states), -1)
    squared = lambda u, v: ((u[:, None] - v[None]) ** 2).sum(-1)
    phase_squared = squared(phase, phase)
    weights = np.exp(-2 * phase_squared / phase_squared.mean())
    np.fill_diagonal(weights, 0.0)
    width = squared(real, real).mean()
    kernel = lambda u, v: np.exp(-squared(u, v) / width)
    cross = kernel(fake, real)
    return (weights * (kernel(fake, fake) + kernel(real, real) - cross - cross.T)).sum() / (
        weights.sum())


def test_frame_mmd_matches_its_formula_and_sees_hands_drawn_towards_the_average(rng):
    rotation = random_rotation(rng)
    b = (rotation @ NOISE @ rotation.T).astype("float32")
    persistent = rotation[:, :2] @ rotation[:, :2].T
    phases = rng.integers(0, 4, 60)
    states = np.c_[np.cos(np.pi / 2 * phases), np.sin(np.pi / 2 * phases),
                   rng.normal(size=(60, 2))] @ rotation.T
    # A frame per phase (a bright quarter) in a hand of its own (noise).
    templates = np.zeros((4, 8, 8))
    for k in range(4):
        templates[k, 4 * (k // 2):4 * (k // 2) + 4, 4 * (k % 2):4 * (k % 2) + 4] = 1.0
    frames = templates[phases] + 0.3 * rng.normal(size=(60, 8, 8))
    new_hands = templates[phases] + 0.3 * rng.normal(size=(60, 8, 8))
    np.testing.assert_allclose(float(frame_mmd(new_hands, frames, states, b)),
                               numpy_frame_mmd(new_hands, frames, states, persistent),
                               rtol=1e-4, atol=1e-6)
    # New hands drawn as the real ones score near 0; each phase's average frame, far more;
    new = abs(float(frame_mmd(new_hands, frames, states, b)))
    averaged = templates[phases] + 0.03 * rng.normal(size=(60, 8, 8))
    assert new < 0.2 * float(frame_mmd(averaged, frames, states, b))
    # and the right frames at the wrong phases (the same frames over the batch) too.
    swapped = templates[(phases + 1) % 4] + 0.3 * rng.normal(size=(60, 8, 8))
    assert new < 0.2 * float(frame_mmd(swapped, frames, states, b))


@pytest.mark.parametrize("posterior", ["factorized", "smoothed"])
def test_model_adds_the_weighted_frame_mmd_and_tracks_it(posterior, rng):
    plain, weighted, windows = twin_models(rng, posterior, frame_mmd_weight=7.0)
    base = plain._loss_terms(windows, training=True)
    terms = weighted._loss_terms(windows, training=True)
    assert "frame_mmd" not in base and terms["frame_mmd"].numpy() != 0.0
    np.testing.assert_allclose(terms["loss"].numpy(),
                               base["loss"].numpy() + 7.0 * terms["frame_mmd"].numpy(),
                               rtol=1e-5)
    assert "frame_mmd" in {metric.name for metric in weighted.metrics}
    held_out = weighted._loss_terms(windows, training=False)
    assert "frame_mmd" not in held_out
    # Its gradient reaches the decoder.
    with tf.GradientTape() as tape:
        term = weighted._loss_terms(windows, training=True)["frame_mmd"]
    gradients = tape.gradient(term, weighted.decoder.trainable_weights)
    assert any(g is not None and float(tf.reduce_sum(tf.abs(g))) > 0 for g in gradients)


def test_frame_mmd_trains_under_xla_and_is_logged_in_training_only(rng):
    import keras

    from dynamic_vae.config import ModelConfig

    model = DynamicVAE(frame_shape=(8, 8, 1), latent_dim=4, filter_size=3, seed=0,
                       posterior="smoothed", frame_mmd_weight=100.0)
    model.dynamic_layer.set_transition(TRANSITION.astype("float32"), NOISE.astype("float32"))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=True)
    windows = rng.random((16, 3, 8, 8, 1)).astype("float32")
    history = model.fit(windows, batch_size=8, epochs=1, validation_data=(windows[:8],),
                        verbose=0).history
    assert np.isfinite(history["frame_mmd"][0]) and "val_frame_mmd" not in history
    with pytest.raises(ValueError, match="frame_mmd_weight must be >= 0"):
        ModelConfig(frame_mmd_weight=-1.0)
