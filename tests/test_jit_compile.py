"""Every preset's training step compiles with XLA (`--jit-compile true`), in every stage."""

import numpy as np
import pytest

from dynamic_vae.config import PRESETS, get_preset
from dynamic_vae.data.frame_pairs import make_frame_pairs
from dynamic_vae.training import build_model

FRAME_SHAPE = (16, 16, 1)
STAGES = [(preset, stage) for preset in sorted(PRESETS)
          for stage in get_preset(preset).stage_names()]


@pytest.fixture(scope="module")
def frames():
    """A drifting grating, period 8."""
    t = np.arange(48)[:, None, None]
    _, x = np.mgrid[0:16, 0:16]
    return (0.5 + 0.4 * np.sin(0.5 * x + 2 * np.pi * t / 8))[..., None].astype(np.float32)


@pytest.mark.parametrize("preset,stage", STAGES)
def test_one_compiled_step_of_every_preset_and_stage(preset, stage, frames):
    config = get_preset(preset)
    overrides = {"frame_shape": FRAME_SHAPE, "latent_dim": 4, "jit_compile": True}
    if config.model.architecture == "residual":
        overrides.update(width=4)
    else:
        overrides.update(base_channels=4)
    if config.training.period_from_cycle:
        # `train` gives such a run the cycle's period (here the frames'), which its variety
        # stage's read-back compares phases over.
        overrides.update(period=8)
    config = config.override(**overrides)
    config = config.stages()[config.stage_names().index(stage)]
    # Windows of 3 take every code path of longer ones (a 2-step rollout) and compile faster.
    config = config.override(window=min(config.training.window, 3))
    model = build_model(config)
    assert model.jit_compile is True
    window = config.training.window
    dataset = make_frame_pairs(frames, pixel_range=config.model.pixel_range).dataset(
        2, seed=0, drop_remainder=True, window=window)
    history = model.fit(dataset.take(1), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    a, b = model.transition()
    assert np.isfinite(a).all() and np.isfinite(b).all()
    if config.model.transition_form == "stationary":
        # Exactly stationary through the compiled update.
        np.testing.assert_allclose(a @ a.T + b @ b.T, np.eye(4), atol=2e-6)
