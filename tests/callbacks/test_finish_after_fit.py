"""`FinishAfterFit`: finishes the weights `fit` ends with."""

import keras
import numpy as np

from dynamic_vae.callbacks import BestEpoch, FinishAfterFit
from dynamic_vae.data.frame_pairs import make_frame_pairs
from dynamic_vae.models import DynamicVAE

SMALL = dict(frame_shape=(16, 16, 1), latent_dim=4, filter_size=3, start_states=4, seed=0)


def test_finishes_the_weights_a_restoring_callback_before_it_ends_with(tmp_path):
    frames = np.random.default_rng(0).uniform(0.0, 1.0, (12, 16, 16, 1)).astype(np.float32)
    pairs = make_frame_pairs(frames)
    model = DynamicVAE(**SMALL)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    start = DynamicVAE(**SMALL)
    start.set_weights(model.get_weights())
    best = BestEpoch(tmp_path / "backup")
    # No epoch can beat a starting loss of -inf, so BestEpoch ends `fit` at the start.
    best.start(model, 0, lambda: float("-inf"))
    finish = FinishAfterFit(pairs)
    model.fit(pairs.dataset(batch_size=4), epochs=1, verbose=0, callbacks=[best, finish])
    assert finish.report == start.finish(pairs) == {"start_states": 4}
    np.testing.assert_array_equal(model.start_states.get_weights()[0],
                                  start.start_states.get_weights()[0])
    np.testing.assert_array_equal(model.transition()[0], start.transition()[0])
