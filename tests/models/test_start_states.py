"""Stored start states: what synthesis without a frame pair starts from, in process and
served (a periodic model trained end to end with them: tests/experiments/
test_periodic_experiment.py)."""

import numpy as np
import pytest
import tensorflow as tf

from dynamic_vae.models import DynamicVAE
from dynamic_vae.models.start_states import (StartStates, cycle_consensus,
                                              snap_to_start_states)
from dynamic_vae.synthesis import start_seed, synthesize
from tests.helpers.layer_checks import LayerChecks


def test_fit_spaces_the_stored_states_evenly(rng):
    states = rng.normal(size=(9, 3)).astype("float32")
    starts = StartStates(count=5, latent_dim=3)
    assert starts.fit(states) == 5
    np.testing.assert_array_equal(starts.states.numpy(), states[[0, 2, 4, 6, 8]])
    assert StartStates(count=4, latent_dim=3).fit(states[:2]) == 2   # repeats when fewer
    with pytest.raises(ValueError, match=r"states: expected \(N >= 1, 3\), got shape"):
        starts.fit(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="count and latent_dim: expected positive integers"):
        StartStates(count=0, latent_dim=3)


def test_pick_is_uniform_and_deterministic_per_seed(rng):
    starts = StartStates(count=4, latent_dim=2)
    starts.fit(np.arange(8, dtype="float32").reshape(4, 2))
    picked = starts.pick(4000, seed=np.array([3, 2], "int32")).numpy()
    assert picked.shape == (4000, 2)                     # leading sample dimension
    rows = picked[:, 0] // 2
    np.testing.assert_allclose(np.bincount(rows.astype(int), minlength=4) / 4000, 0.25,
                               atol=0.03)
    np.testing.assert_array_equal(picked, starts.pick(4000, np.array([3, 2], "int32")))
    assert not np.array_equal(picked, starts.pick(4000, np.array([4, 2], "int32")))


def test_config_round_trip():
    clone = LayerChecks().run_config_round_trip(StartStates(count=6, latent_dim=3,
                                                            name="start_states"))
    assert clone.count == 6 and clone.latent_dim == 3


@pytest.fixture
def model_with_starts(rng):
    model = DynamicVAE(frame_shape=(16, 16, 1), latent_dim=3, base_channels=8, sigma=0.3,
                       start_states=4, seed=0)
    frames = rng.random((10, 16, 16, 1)).astype("float32")
    assert model.fit_start_states(frames, np.arange(9)) == 4
    return model


def test_synthesis_without_a_pair_starts_at_a_stored_state(model_with_starts, tmp_path):
    from dynamic_vae.export import export_model

    stored = model_with_starts.start_states.states.numpy()
    _, latents = synthesize(model_with_starts, 6, seed=5, num_sequences=3)
    expected = model_with_starts.start_states.pick(3, start_seed(5)).numpy()
    np.testing.assert_array_equal(latents[:, 0], expected)
    assert all(any(np.array_equal(x, row) for row in stored) for x in latents[:, 0])
    # The served generate starts from the same state and gives the same frames.
    clone = LayerChecks().run_all(model_with_starts, np.zeros((1, 2, 16, 16, 1), "float32"),
                                  tmp_path, training=False)
    assert clone.model_config.start_states == 4
    version_dir = export_model(model_with_starts, tmp_path / "served", max_frames=16)
    served = tf.saved_model.load(str(version_dir)).signatures["generate"](
        num_frames=tf.constant(6, tf.int32), seed=tf.constant(5, tf.int64))
    frames, latents = synthesize(model_with_starts, 6, seed=5)
    np.testing.assert_array_equal(served["latents"].numpy(), latents[0])
    np.testing.assert_array_equal(served["frames"].numpy(), frames[0])


def test_bad_config_is_named():
    with pytest.raises(ValueError, match="start_states must be an integer >= 0, got -2"):
        DynamicVAE(frame_shape=(16, 16, 1), start_states=-2)
    with pytest.raises(ValueError, match="period must be 0 .* or an integer >= 3 frames, got 2"):
        DynamicVAE(frame_shape=(16, 16, 1), period=2)
    with pytest.raises(ValueError, match="start_states 0"):
        DynamicVAE(frame_shape=(16, 16, 1), latent_dim=2, base_channels=4).fit_start_states(
            np.zeros((3, 16, 16, 1)), np.arange(2))


def test_a_locked_cycle_stores_only_states_on_its_phases(rng):
    """With a locked period, the stored states are evenly spaced over the best-aligned half of
    the training states (`phase_alignment`), in frame order."""
    from dynamic_vae.models.dynamic_vae import ON_PHASE_FRACTION
    from dynamic_vae.spectrum import phase_alignment

    model = DynamicVAE(frame_shape=(16, 16, 1), latent_dim=3, base_channels=8, sigma=0.3,
                       start_states=5, period=4, seed=0)
    turn = np.pi / 2
    transition = np.diag([0.0, 0.0, 0.5])
    transition[:2, :2] = [[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]]
    model.dynamic_layer.set_transition(transition, np.diag([0.0, 0.0, np.sqrt(0.75)]))
    frames = rng.random((41, 16, 16, 1)).astype("float32")
    starts = np.arange(40)
    assert model.fit_start_states(frames, starts) == 5
    states = model._frame_states(frames, starts, batch_size=256)
    alignment = phase_alignment(model.transition()[0], 4, states)
    assert np.ptp(alignment) > 0
    best = np.sort(np.argsort(-alignment)[:int(np.ceil(ON_PHASE_FRACTION * 40))])
    expected = states[best][np.round(np.linspace(0, len(best) - 1, 5)).astype(int)]
    # Their phase on the locked plane (x_1, x_2) is the consensus of the five: as complex
    # numbers, each one's orbit is z i^k, and the point of each orbit nearest z_m is averaged.
    z = expected[:, 0] + 1j * expected[:, 1]
    orbits = z[:, None] * 1j ** np.arange(4)[None]
    consensus = np.array([orbits[np.arange(5), np.argmin(np.abs(orbits - point), 1)].mean()
                          for point in z])
    expected = np.stack([consensus.real, consensus.imag, expected[:, 2]], axis=1)
    np.testing.assert_allclose(model.start_states.states.numpy(), expected, atol=1e-5)
    stored = phase_alignment(model.transition()[0], 4, model.start_states.states.numpy())
    assert stored.shape == (5,)


def _rotation_model():
    """A 5-cycle on the plane (x_1, x_2), locked (B = 0 there), and a driven x_3."""
    turn = 2 * np.pi / 5
    transition = np.diag([0.0, 0.0, 0.3])
    transition[:2, :2] = [[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]]
    return transition, np.diag([0.0, 0.0, np.sqrt(1 - 0.09)])


def test_cycle_consensus_puts_every_state_on_one_cycle(rng):
    transition, noise = _rotation_model()
    phases = rng.integers(0, 5, 40)
    radius = 2.0 + 0.3 * rng.standard_normal(40)
    angle = 2 * np.pi * phases / 5 + 0.05 * rng.standard_normal(40)
    states = np.stack([radius * np.cos(angle), radius * np.sin(angle),
                       rng.standard_normal(40)], axis=1)
    result = cycle_consensus(states, transition, noise, period=5)
    # The driven part is kept; the persistent part lies on one ring, at the five phases.
    np.testing.assert_array_equal(result[:, 2], states[:, 2])
    radii = np.hypot(result[:, 0], result[:, 1])
    assert np.ptp(radii) < 1e-9 and abs(radii[0] - radius.mean()) < 0.1
    steps = np.angle(result[:, 0] + 1j * result[:, 1]) / (2 * np.pi / 5)
    np.testing.assert_allclose(np.round(steps), steps, atol=0.02)
    np.testing.assert_array_equal(np.round(steps).astype(int) % 5, phases)
    # Without persistent directions nothing changes.
    np.testing.assert_allclose(cycle_consensus(states, 0.5 * np.eye(3),
                                               np.sqrt(0.75) * np.eye(3), period=5), states)


def test_a_start_from_a_pair_takes_the_phase_of_the_stored_start_it_points_at():
    transition, noise = _rotation_model()
    starts = np.array([[2.0 * np.cos(2 * np.pi * k / 5), 2.0 * np.sin(2 * np.pi * k / 5), 0.7]
                       for k in range(5)], np.float32)
    # Shrunk towards the centre and a little off the third phase, with its own driven part.
    pair_state = np.array([[0.8 * np.cos(4 * np.pi / 5 + 0.2),
                            0.8 * np.sin(4 * np.pi / 5 + 0.2), -1.5]], np.float32)
    snapped = snap_to_start_states(tf.constant(pair_state), tf.constant(starts),
                                   tf.constant(noise, tf.float32)).numpy()
    np.testing.assert_allclose(snapped, [[starts[2, 0], starts[2, 1], -1.5]], atol=1e-5)
    # With no locked direction the state is left as it is.
    unchanged = snap_to_start_states(tf.constant(pair_state), tf.constant(starts),
                                     tf.eye(3)).numpy()
    np.testing.assert_allclose(unchanged, pair_state, atol=1e-6)


def test_a_locked_smoothed_model_starts_from_a_pair_on_its_cycle_in_process_and_served(
        rng, tmp_path):
    """A start from a frame pair is the smoother's posterior mean brought onto the stored
    states' cycle, the same in `synthesize` and in the served `generate_from`."""
    from dynamic_vae.export import export_model

    model = DynamicVAE(frame_shape=(16, 16, 1), latent_dim=3, base_channels=8, sigma=0.3,
                       start_states=5, period=5, posterior="smoothed", seed=0)
    model.dynamic_layer.set_transition(*_rotation_model())
    frames = rng.random((41, 16, 16, 1)).astype("float32")
    model.fit_start_states(frames, np.arange(40))
    stored = model.start_states.states.numpy()
    pair = (255 * frames[7:9]).astype("uint8")
    _, latents = synthesize(model, 6, seed=5, initial_pair=pair)
    encoded = model.encode_states(pair[np.newaxis] / 255.0)[:, :3]
    expected = snap_to_start_states(encoded, tf.constant(stored),
                                    tf.constant(_rotation_model()[1], tf.float32)).numpy()[0]
    np.testing.assert_allclose(latents[0, 0], expected, atol=1e-5)
    # Its locked plane is a stored state's; its driven coordinate is the pair's own.
    assert np.min(np.abs(stored[:, :2] - latents[0, 0, :2]).sum(axis=1)) < 1e-5
    np.testing.assert_allclose(latents[0, 0, 2], encoded.numpy()[0, 2], atol=1e-5)
    version_dir = export_model(model, tmp_path / "served", max_frames=16)
    served = tf.saved_model.load(str(version_dir)).signatures["generate_from"](
        frame_pair=tf.constant(pair), num_frames=tf.constant(6, tf.int32),
        seed=tf.constant(5, tf.int64))
    np.testing.assert_allclose(served["latents"].numpy(), latents[0], atol=1e-4)
