"""What a stage trains: only the dynamics, or everything with the best held-out epoch kept."""

import json
import warnings

import keras
import numpy as np
import pytest

from dynamic_vae.callbacks import BestEpoch
from dynamic_vae.config import PERIODIC_START_STATES, TrainingConfig, get_preset
from dynamic_vae.data.frame_pairs import make_frame_pairs
from dynamic_vae.models.linear_initialisation import (harmonic_texture_parameters,
                                                      linear_texture_parameters)
from dynamic_vae.runs import load_dynamic_vae, save_model
from dynamic_vae.training import build_model, train
from dynamic_vae.evaluation.periodicity import estimate_period, phase_variance_ratio
from dynamic_vae.training.run import MIN_PHASE_VARIANCE_RATIO, frames_period, frames_preset
from tests.helpers.moving_blob import moving_blob

FRAME_SHAPE = (16, 16, 1)


@pytest.fixture(scope="module")
def frames():
    """A drifting grating: a small linear process."""
    t = np.arange(60)[:, None, None]
    _, x = np.mgrid[0:16, 0:16]
    return (0.5 + 0.4 * np.sin(0.6 * x + 0.5 * t))[..., None].astype(np.float32)


def _config(**fields):
    # The drifting grating repeats about every 12.6 frames: these tests train it as given.
    fields = {"latent_dim": 3, "period_from_frames": False, **fields}
    return get_preset("video").override(frame_shape=FRAME_SHAPE, width=8,
                                        windows_per_epoch=32, image_every=0, **fields)


def test_a_dynamics_stage_keeps_the_observation_map_at_the_linear_start(frames, tmp_path):
    config = _config(epochs=2, finetune_epochs=0, validation_fraction=0.0)
    assert config.training.trainable == "dynamics"
    model, _ = train(config, tmp_path / "run", frames=frames, verbose=0)
    keras.utils.set_random_seed(config.training.seed)  # as train does before building
    start = build_model(config)
    pairs = make_frame_pairs(frames)
    # The start fits every frame of the clip, the held-out test pair included.
    linear = linear_texture_parameters(
        pairs.frames, np.union1d(pairs.train_starts, pairs.test_starts), 3, seed=0)
    kernel, bias = model.decoder.get_layer("linear_observation").get_weights()
    np.testing.assert_allclose(kernel, linear["observation"].T, atol=1e-5)
    np.testing.assert_allclose(bias, linear["mean"], atol=1e-5)
    output = model.decoder.get_layer("output").get_weights()
    assert all(np.all(w == 0) for w in output)
    # What does train: A (from the linear start's), and the posterior's variance.
    a_linear = linear["transition"]
    assert not np.allclose(model.transition()[0], a_linear, atol=1e-4)
    assert not np.allclose(model.encoder.get_layer("log_variance").get_weights()[1],
                           start.encoder.get_layer("log_variance").get_weights()[1])
    assert {w.path.split("/")[0] for w in model.trainable_weights} == {
        "log_variance", "dynamic_layer"}


def test_the_first_stage_keeps_its_best_held_out_epoch_the_linear_start_included(
        frames, tmp_path):
    config = _config(epochs=3, finetune_epochs=0)
    assert config.training.validation_fraction == 0.1
    model, summary = train(config, tmp_path / "run", frames=frames, verbose=0)
    validation = summary["validation"]
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    # 60 frames: 6 held out, so 6 - L + 1 validation windows of L frames. The linear start's
    # observation map fits all 60, its A only the pairs before them.
    assert validation["windows"] == 6 - config.training.window + 1
    pairs = make_frame_pairs(frames)
    linear = linear_texture_parameters(
        pairs.frames, pairs.train_starts[pairs.train_starts + 1 < 54], 3, seed=0,
        subspace_frames=np.arange(60))
    everything = linear_texture_parameters(pairs.frames, np.arange(59), 3, seed=0)
    assert not np.allclose(linear["transition"], everything["transition"], atol=1e-4)
    kernel, _ = model.decoder.get_layer("linear_observation").get_weights()
    np.testing.assert_allclose(kernel, linear["observation"].T, atol=1e-5)
    if validation["best_epoch"] == 0:
        assert validation["best_loss"] < min(history["val_loss"])
        np.testing.assert_allclose(model.transition()[0], linear["transition"], atol=1e-5)
    else:
        assert validation["best_loss"] == pytest.approx(min(history["val_loss"]), rel=1e-6)
        assert not np.allclose(model.transition()[0], linear["transition"], atol=1e-4)


def test_the_second_stage_keeps_its_best_held_out_epoch(frames, tmp_path):
    config = _config(epochs=1, finetune_epochs=3)
    model, summary = train(config, tmp_path / "run", frames=frames, verbose=0)
    validation = json.loads((tmp_path / "run" / "summary.json").read_text())["validation"]
    assert validation == summary["validation"]
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(history["val_loss"]) == 3
    # The kept epoch is the lowest validation loss of the start (epoch 0) and the three.
    if validation["best_epoch"] > 0:
        assert validation["best_loss"] == pytest.approx(
            min(history["val_loss"]), rel=1e-6)
        assert validation["best_epoch"] == 1 + int(np.argmin(history["val_loss"]))
    else:
        assert validation["best_loss"] <= min(history["val_loss"])
    # 60 frames: 6 held out, so 6 - L + 1 validation windows of L frames.
    assert validation["windows"] == 6 - config.training.window + 1


class _Recorder(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)
        self.dense.build((None, 1))


def test_best_epoch_restores_the_best_weights_and_resumes_from_its_record(tmp_path):
    model = _Recorder()
    start = [w.copy() for w in model.get_weights()]
    best = BestEpoch(tmp_path / "backup")
    best.start(model, 0, lambda: 1.0)
    model.set_weights([w + 1 for w in start])
    best.on_epoch_end(0, {"val_loss": 0.5})           # better: kept
    better = [w.copy() for w in model.get_weights()]
    model.set_weights([w + 2 for w in start])
    best.on_epoch_end(1, {"val_loss": 0.7})           # worse: not kept
    best.on_epoch_end(2, {"val_loss": float("nan")})  # never kept
    best.on_train_end()
    for kept, expected in zip(model.get_weights(), better):
        np.testing.assert_array_equal(kept, expected)
    assert (best.best_epoch, best.best_loss) == (1, 0.5)
    # A resumed stage reads the record instead of evaluating its (later) start.
    resumed = BestEpoch(tmp_path / "backup")
    model.set_weights(start)
    resumed.start(model, 3, lambda: pytest.fail("a resumed stage must not re-evaluate"))
    resumed.on_train_end()
    assert (resumed.best_epoch, resumed.best_loss) == (1, 0.5)
    for kept, expected in zip(model.get_weights(), better):
        np.testing.assert_array_equal(kept, expected)


@pytest.mark.parametrize("fields,message", [
    ({"trainable": "decoder"}, "trainable must be one of"),
    ({"validation_fraction": 1.0}, r"validation_fraction must lie in \[0, 1\), got 1.0"),
    ({"validation_fraction": -0.1}, "validation_fraction must lie in"),
])
def test_bad_training_fields_are_named(fields, message):
    with pytest.raises(ValueError, match=message):
        TrainingConfig(**fields)


def test_a_harmonic_start_begins_at_the_period_s_harmonics(frames, tmp_path):
    """With `harmonic_start`, the first stage starts A at `harmonic_transition`; at a learning
    rate too small to move it, the trained and locked A has exactly the period-4 harmonics
    e^{+-i pi / 2} and -1, and the unused dimension stays at 0."""
    config = get_preset("counting-mnist").override(
        frame_shape=FRAME_SHAPE, base_channels=4, latent_dim=4, epochs=1, finetune_epochs=0,
        variety_epochs=0, learning_rate=1e-9, image_every=0, period=4, harmonic_start=True)
    model, summary = train(config, tmp_path / "run", frames=frames, verbose=0)
    assert summary["locked_harmonics"] == [1, 2]
    eigenvalues = np.linalg.eigvals(model.transition()[0].astype(np.float64))
    expected = np.array([1j, -1j, -1.0, 0.0])
    assert all(np.min(np.abs(eigenvalues - e)) < 1e-3 for e in expected), eigenvalues


def test_a_harmonic_start_with_a_linear_path_begins_at_the_fourier_series(tmp_path):
    """With a linear path, the harmonic start is the frames' Fourier series over the period
    (`harmonic_texture_parameters`), and the fundamental's plane is locked after training."""
    t = np.arange(60)[:, None, None]
    _, x = np.mgrid[0:16, 0:16]
    turning = (0.5 + 0.3 * np.sin(0.6 * x + 2 * np.pi * t / 12)
               + 0.1 * np.sin(0.3 * x + 4 * np.pi * t / 12))[..., None].astype(np.float32)
    config = _config(epochs=1, finetune_epochs=0, validation_fraction=0.0, latent_dim=5,
                     learning_rate=1e-9, period=12, harmonic_start=True)
    model, summary = train(config, tmp_path / "run", frames=turning, verbose=0)
    pairs = make_frame_pairs(turning)
    start = harmonic_texture_parameters(pairs.frames, 5, 12,
                                        subspace_frames=np.arange(len(pairs.frames)))
    assert start["harmonics"].tolist() == [1, 2]
    kernel, bias = model.decoder.get_layer("linear_observation").get_weights()
    np.testing.assert_allclose(kernel, start["observation"].T, atol=1e-5)
    np.testing.assert_allclose(bias, start["mean"], atol=1e-5)
    assert summary["locked_harmonics"] == [1, 2]
    eigenvalues = np.linalg.eigvals(model.transition()[0].astype(np.float64))
    for k in (1, 2):
        assert np.min(np.abs(eigenvalues - np.exp(2j * np.pi * k / 12))) < 1e-4


def test_harmonic_transition_closed_form():
    from dynamic_vae.spectrum import harmonic_transition

    a, b = harmonic_transition(7, period=10, modulus=0.9)
    eigenvalues = np.linalg.eigvals(a)
    for k in (1, 2, 3):
        assert np.min(np.abs(eigenvalues - 0.9 * np.exp(2j * np.pi * k / 10))) < 1e-12
    assert np.min(np.abs(eigenvalues - 0.0)) < 1e-12     # the seventh dimension: k = 4 has
    np.testing.assert_allclose(a @ a.T + b @ b.T, np.eye(7), atol=1e-12)   # no room left
    a, _ = harmonic_transition(3, period=4)
    np.testing.assert_allclose(np.sort_complex(np.linalg.eigvals(a)),
                               np.sort_complex(np.array([-0.99, 0.99j, -0.99j])), atol=1e-12)
    with pytest.raises(ValueError, match="period: expected an integer >= 3 frames, got 2"):
        harmonic_transition(4, period=2)
    with pytest.raises(ValueError, match=r"modulus: expected a number in \(0, 1\], got 1.5"):
        harmonic_transition(4, period=5, modulus=1.5)


def test_an_observation_stage_keeps_a_and_b_and_trains_the_networks(frames, tmp_path):
    # The paper's small networks: the test is about which weights train.
    config = get_preset("paper-v1").override(frame_shape=FRAME_SHAPE, latent_dim=3,
                                             base_channels=4, trainable="observation",
                                             image_every=0).first_stage()
    model = build_model(config)
    a, b = model.transition()
    encoder, decoder = model.encoder.get_weights(), model.decoder.get_weights()
    assert not any("dynamic_layer" in w.path for w in model.trainable_weights)
    dataset = make_frame_pairs(frames).dataset(4, seed=0, window=config.training.window)
    model.fit(dataset.take(3), epochs=1, verbose=0)
    np.testing.assert_array_equal(model.transition()[0], a)
    np.testing.assert_array_equal(model.transition()[1], b)
    assert any(not np.array_equal(x, y) for x, y in zip(model.encoder.get_weights(), encoder))
    assert any(not np.array_equal(x, y) for x, y in zip(model.decoder.get_weights(), decoder))
    # Its optimizer holds slots for the networks alone. Which weights train is the stage's
    # choice, not the model's: reloaded, every weight trains again, with a fresh optimizer
    # and without Keras's warning about the saved slots.
    save_model(model, tmp_path / "model.keras")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Skipping variable loading")
        loaded = load_dynamic_vae(tmp_path / "model.keras")
    assert len(loaded.trainable_weights) > len(model.trainable_weights)
    assert int(loaded.optimizer.iterations) == 0
    loaded.fit(dataset.take(1), epochs=1, verbose=0)
    assert not np.array_equal(loaded.transition()[0], a)


def test_frames_with_a_period_train_as_a_periodic_run(tmp_path):
    """`period_from_frames` (on in the video preset) reads the period from the frames and
    trains with it locked, the harmonic start and stored start states; summary.json records
    the estimate."""
    turning = moving_blob(60, 12)
    assert frames_period(turning) == 12
    config = _config(epochs=1, finetune_epochs=0, validation_fraction=0.0, latent_dim=4,
                     learning_rate=1e-9, period_from_frames=True)
    assert get_preset("video").training.period_from_frames and config.model.period == 0
    model, summary = train(config, tmp_path / "run", frames=turning, verbose=0)
    assert summary["period_from_frames"] == 12
    assert json.loads((tmp_path / "run" / "summary.json").read_text())[
        "period_from_frames"] == 12
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    assert record["model"]["period"] == 12 and record["training"]["harmonic_start"]
    assert record["model"]["start_states"] == PERIODIC_START_STATES
    assert summary["locked_harmonics"] == [1, 2]
    eigenvalues = np.linalg.eigvals(model.transition()[0].astype(np.float64))
    assert np.min(np.abs(eigenvalues - np.exp(2j * np.pi / 12))) < 1e-4


def test_a_period_from_the_frames_keeps_a_model_without_a_linear_path_at_its_own_start(
        tmp_path):
    """Without a linear path the harmonic start would fill the state with turning planes
    (`harmonic_transition`), leaving none for what each frame draws anew; such a model gets
    the frames' period, locked after training, and trains from its own random start, as a
    named cycle does."""
    turning = moving_blob(60, 12)
    config = get_preset("counting-mnist").override(
        frame_shape=(*turning.shape[1:3], 1), base_channels=4, latent_dim=4, epochs=1,
        finetune_epochs=0, variety_epochs=0, learning_rate=1e-9, image_every=0)
    assert config.training.period_from_frames and not config.model.linear_path
    model, summary = train(config, tmp_path / "run", frames=turning, verbose=0)
    assert summary["period_from_frames"] == 12
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    assert record["model"]["period"] == 12 and not record["training"]["harmonic_start"]
    # At a learning rate too small to move A, a harmonic start would end with both the
    # period's first planes in A (see the test above); the model's own start has neither.
    eigenvalues = np.linalg.eigvals(model.transition()[0].astype(np.float64))
    harmonics = np.exp(2j * np.pi * np.array([1, 2]) / 12)
    assert not all(np.min(np.abs(eigenvalues - h)) < 1e-3 for h in harmonics), eigenvalues


def test_frames_without_a_period_or_with_the_estimate_off_train_as_given(frames, tmp_path):
    noise = np.random.default_rng(0).uniform(0, 1, (60, *FRAME_SHAPE)).astype(np.float32)
    assert frames_period(noise) is None
    # A dip is not enough: noise over a faint loop of 6 frames dips at 6, but the phase
    # explains too little of the frames for the run to be trained as periodic.
    faint = noise + moving_blob(60, 6)
    assert estimate_period(faint) == 6
    assert phase_variance_ratio(faint, 6) < MIN_PHASE_VARIANCE_RATIO
    assert frames_period(faint) is None
    assert frames_period(moving_blob(60, 6) + 0.1 * noise) == 6
    config = _config(epochs=1, finetune_epochs=0, validation_fraction=0.0,
                     period_from_frames=True)
    _, summary = train(config, tmp_path / "noise", frames=noise, verbose=0)
    assert summary["period_from_frames"] is None
    assert json.loads((tmp_path / "noise" / "config.json").read_text())["model"]["period"] == 0
    turning = moving_blob(60, 12)
    off = config.override(period_from_frames=False)
    _, summary = train(off, tmp_path / "off", frames=turning, verbose=0)
    assert "period_from_frames" not in summary
    assert json.loads((tmp_path / "off" / "config.json").read_text())["model"]["period"] == 0
    # A period given is kept, and nothing is estimated.
    given = config.override(period=6)
    _, summary = train(given, tmp_path / "given", frames=turning, verbose=0)
    assert "period_from_frames" not in summary
    assert json.loads((tmp_path / "given" / "config.json").read_text())["model"]["period"] == 6


def test_a_stage_recorded_before_the_variety_section_existed_is_still_reused():
    """A finished earlier stage is reused when its config.json matches; one written before
    the `variety` section existed has no such key, and still matches."""
    import json

    from dynamic_vae.training.run import _comparable

    current = {**get_preset("video").first_stage().to_dict(), "data": {"sha1": "abc"}}
    older = {key: value for key, value in json.loads(json.dumps(current)).items()
             if key != "variety"}
    assert "variety" in current and _comparable(older) == _comparable(current)
    assert _comparable({**older, "variety": {"epochs": 1}}) != _comparable(current)

    # A field added to the configuration since a record was written holds its default.
    without_field = json.loads(json.dumps(current))
    del without_field["model"]["readback_weight"]
    assert _comparable(without_field) == _comparable(current)
    changed = json.loads(json.dumps(current))
    changed["model"]["readback_weight"] = 1.0
    assert _comparable(changed) != _comparable(current)


def _renewed_cycle(rng, period=4, cycles=60, persistence=0.0):
    """A display of `period` shapes that draws each frame's own strokes anew (or, with
    `persistence`, lets them drift as an AR(1)): the phase's shape plus a look of its own."""
    shapes = moving_blob(period, period).astype(np.float64)
    look = np.zeros(shapes.shape[1:])
    frames = []
    for t in range(period * cycles):
        look = persistence * look + np.sqrt(1 - persistence ** 2) * rng.normal(
            0, 0.35, look.shape)
        frames.append(shapes[t % period] + look)
    return np.clip(np.array(frames), 0, 1).astype(np.float32)


def test_frames_preset_picks_the_counting_preset_for_a_cycle_drawn_anew(rng):
    """A period whose every cycle comes in a new look trains with the counting preset; a
    loop, a look that drifts from frame to frame, or no period with the video preset."""
    renewed = _renewed_cycle(rng)
    assert frames_period(renewed) == 4
    preset, reason = frames_preset(renewed)
    assert preset == "counting-mnist" and "repeat every 4 frames, each cycle in a new" in reason
    assert frames_preset([renewed[:40], renewed])[0] == "counting-mnist"
    assert frames_preset(moving_blob(60, 12)) == (
        "video", "the frames repeat every 12 frames (the phase explains 1.00 of their "
                 "variance, the rest persists 0.00 from frame to frame)")
    drifting = _renewed_cycle(rng, persistence=0.9)
    assert frames_period(drifting) == 4 and frames_preset(drifting)[0] == "video"
    noise = rng.uniform(0, 1, (60, *FRAME_SHAPE)).astype(np.float32)
    assert frames_preset(noise) == ("video", "the frames show no period")
    assert get_preset("counting-mnist").training.period_from_frames


def test_a_cross_entropy_read_back_without_a_period_stops_before_any_training(frames,
                                                                              tmp_path):
    # The counting preset's variety stage reads the phase back against the period's phases;
    # frames trained with no period found or given have none to compare with.
    config = get_preset("counting-mnist").override(
        frame_shape=FRAME_SHAPE, latent_dim=3, period_from_frames=False, image_every=0)
    assert config.stages()[-1].model.readback_loss == "cross_entropy"
    with pytest.raises(ValueError, match=r"the variety stage's read-back term .* needs a "
                                         r"period >= 3, got period 0: give --period"):
        train(config, tmp_path / "run", frames=frames, verbose=0)
    assert not (tmp_path / "run").exists()
    # With the squared read-back the same run needs no period.
    squared = config.override(readback_loss="squared", epochs=1, finetune_epochs=0,
                              variety_epochs=0)
    assert squared.stages()[-1].model.readback_loss == "squared"


def test_a_decoder_grown_a_hidden_path_starts_as_the_decoder_it_grew_from(rng):
    from dynamic_vae.models.dynamic_vae import DynamicVAE
    from dynamic_vae.training.start import copy_weights

    source = DynamicVAE(frame_shape=FRAME_SHAPE, latent_dim=3, base_channels=8, seed=0)
    grown = DynamicVAE(frame_shape=FRAME_SHAPE, latent_dim=3, base_channels=8, dense_units=12,
                       seed=1)
    states = rng.normal(size=(5, 3)).astype("float32")
    assert not np.allclose(source.decoder(states), grown.decoder(states))
    copy_weights(source, grown)
    np.testing.assert_allclose(grown.decoder(states), source.decoder(states), atol=1e-6)
    # The hidden path is there to be trained, and starts with a zero output.
    assert grown.decoder.get_layer("hidden").kernel.shape == (3, 12)
    assert not np.any(grown.decoder.get_layer("hidden_out").kernel.numpy())
