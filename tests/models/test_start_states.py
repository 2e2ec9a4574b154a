"""Stored start states: what synthesis without a frame pair starts from, in process and
served (a periodic model trained end to end with them: tests/experiments/
test_periodic_experiment.py)."""

import numpy as np
import pytest
import tensorflow as tf

from dynamic_vae.models import DynamicVAE
from dynamic_vae.models.start_states import StartStates
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
    np.testing.assert_allclose(model.start_states.states.numpy(), expected, atol=1e-6)
    stored = phase_alignment(model.transition()[0], 4, model.start_states.states.numpy())
    assert stored.shape == (5,)
