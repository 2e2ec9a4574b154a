"""`DynamicVAE.finish`: `model.fit` and then `model.finish` is the model `train` writes."""

import keras
import numpy as np
import pytest

from dynamic_vae.callbacks import FinishAfterFit
from dynamic_vae.config import get_preset
from dynamic_vae.data.frame_pairs import make_frame_pairs
from dynamic_vae.models import DynamicVAE
from dynamic_vae.runs import load_run
from dynamic_vae.spectrum import harmonic_transition
from dynamic_vae.synthesis import synthesize
from dynamic_vae.training import train

PERIOD = 4


@pytest.fixture(scope="module")
def frames():
    """A grating that turns once every PERIOD frames, with a little fixed grain: a periodic
    process with detail for the residual texture."""
    t = np.arange(40)[:, None, None]
    y, x = np.mgrid[0:16, 0:16]
    wave = 0.5 + 0.3 * np.sin(0.7 * x + 0.4 * y + 2 * np.pi * t / PERIOD)
    grain = np.random.default_rng(0).uniform(-0.05, 0.05, wave.shape)
    return np.clip(wave + grain, 0.0, 1.0)[..., None].astype(np.float32)


@pytest.fixture(scope="module")
def config():
    # One stage, no validation windows and no KL warm-up: what `train` does before `finish`
    # is then a compiled model's `fit` from the harmonic start. The harmonic start keeps A
    # near the period's harmonics through two short epochs, so the lock has planes to lock.
    return get_preset("paper-v1").override(
        frame_shape=(16, 16, 1), latent_dim=4, filter_size=3, period=PERIOD, residual_rank=3,
        start_states=6, epochs=2, batch_size=8, windows_per_epoch=16, image_every=0, seed=3,
        harmonic_start=True)


@pytest.fixture(scope="module")
def trained(config, frames, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("finishing") / "run"
    model, summary = train(config, run_dir, frames=frames, verbose=0)
    return model, summary, run_dir


def _fit_by_hand(config, frames, finish_with):
    """A model fitted with plain `model.fit` on `train`'s data and seed, then finished
    with `model.finish` or the `FinishAfterFit` callback."""
    training = config.training
    keras.utils.set_random_seed(training.seed)  # what `train` seeds before building
    model = DynamicVAE(config.model, seed=training.seed)
    model.dynamic_layer.set_transition(*harmonic_transition(config.model.latent_dim, PERIOD))
    model.compile(optimizer=keras.optimizers.Adam(training.learning_rate),
                  jit_compile=training.jit_compile)
    pairs = make_frame_pairs(frames, pixel_range=config.model.pixel_range)
    # The same batches in the same order as `train`'s epochs.
    dataset = pairs.epoch_dataset(training.batch_size, seed=training.seed, first_epoch=0,
                                  epochs=training.epochs, window=training.window,
                                  windows_per_epoch=training.windows_per_epoch)
    steps = pairs.steps_per_epoch(training.batch_size, training.window,
                                  training.windows_per_epoch)
    callback = FinishAfterFit(pairs) if finish_with == "callback" else None
    model.fit(dataset, epochs=training.epochs, steps_per_epoch=steps, verbose=0,
              callbacks=[callback] if callback else [])
    report = callback.report if callback else model.finish(pairs)
    return model, report


@pytest.mark.parametrize("finish_with", ["method", "callback"])
def test_fit_then_finish_is_the_model_train_writes(config, frames, trained, finish_with):
    trained_model, summary, run_dir = trained
    model, report = _fit_by_hand(config, frames, finish_with)
    # Every step ran and reported what `train` put into summary.json.
    assert set(report) == {"locked_harmonics", "residual_texture", "start_states"}
    assert report["locked_harmonics"] == [1, 2]
    for name, value in report.items():
        assert summary[name] == value
    # The same ops on the same inputs in one process: bit-identical, not merely close.
    saved = load_run(run_dir).model
    for other in (trained_model, saved):
        np.testing.assert_array_equal(model.transition()[0], other.transition()[0])
        np.testing.assert_array_equal(model.transition()[1], other.transition()[1])
        for mine, theirs in zip(model.residual_texture.get_weights(),
                                other.residual_texture.get_weights()):
            np.testing.assert_array_equal(mine, theirs)
        np.testing.assert_array_equal(model.start_states.get_weights()[0],
                                      other.start_states.get_weights()[0])
        for seed in (0, 7):
            ours, our_latents = synthesize(model, 12, seed=seed, num_sequences=2)
            theirs, their_latents = synthesize(other, 12, seed=seed, num_sequences=2)
            np.testing.assert_array_equal(our_latents, their_latents)
            np.testing.assert_array_equal(ours, theirs)


def test_finish_leaves_a_model_without_closed_form_parts_as_it_is(frames):
    model = DynamicVAE(frame_shape=(16, 16, 1), latent_dim=4, filter_size=3, seed=0)
    before = model.get_weights()
    assert model.finish(make_frame_pairs(frames)) == {}
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)


@pytest.mark.parametrize("arguments, message", [
    (dict(pairs="frames"), "pairs must be the FramePairs the model is fitted on .* got str"),
    (dict(seed=1.5), "seed must be an integer or None, got 1.5"),
    (dict(batch_size=0), "batch_size must be an integer >= 1, got 0"),
])
def test_bad_finish_arguments_are_named(frames, arguments, message):
    model = DynamicVAE(frame_shape=(16, 16, 1), latent_dim=4, filter_size=3, start_states=4,
                       seed=0)
    pairs = arguments.pop("pairs", make_frame_pairs(frames))
    with pytest.raises(ValueError, match=f"finish: {message}"):
        model.finish(pairs, **arguments)
    # The callback checks them when it is made, before any epoch runs.
    with pytest.raises(ValueError, match=f"FinishAfterFit: {message}"):
        FinishAfterFit(pairs, **arguments)


def test_pairs_of_another_frame_shape_are_named(frames):
    model = DynamicVAE(frame_shape=(16, 16, 1), latent_dim=4, filter_size=3, start_states=4,
                       seed=0)
    with pytest.raises(ValueError, match=r"finish: pairs has frames of shape \(8, 8, 1\), "
                                         r"but the model's frame_shape is \(16, 16, 1\)"):
        model.finish(make_frame_pairs(frames[:, :8, :8]))


def test_finishing_a_diverged_model_is_refused(frames):
    model = DynamicVAE(frame_shape=(16, 16, 1), latent_dim=4, filter_size=3, start_states=4,
                       seed=0)
    a, b = model.transition()
    model.dynamic_layer.set_transition(np.full_like(a, np.nan), b)
    with pytest.raises(ValueError, match="finish: the model's A or B has NaN or inf"):
        model.finish(make_frame_pairs(frames))
