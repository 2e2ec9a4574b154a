"""A fixed budget of training windows per epoch, drawn from reshuffled passes over the clip."""

import numpy as np
import pytest

from dynamic_vae.data import make_frame_pairs


def starts_of(dataset, frames):
    """The first frame index of every window, read back from the pixel values."""
    return [int(round(w[0, 0, 0, 0] * 100)) for batch in dataset for w in batch.numpy()]


@pytest.fixture
def frames():
    # Frame t is filled with t / 100, so a window tells where it starts.
    return np.repeat(np.arange(30, dtype=np.float32)[:, None, None, None] / 100,
                     4, axis=1).repeat(4, axis=2)


def test_an_epoch_is_the_asked_number_of_windows(frames):
    pairs = make_frame_pairs(frames)
    per_pass = len(pairs.window_starts(3))
    dataset = pairs.epoch_dataset(8, seed=0, first_epoch=0, epochs=2, window=3,
                                  windows_per_epoch=70)
    starts = starts_of(dataset, frames)
    assert len(starts) == 140
    assert pairs.steps_per_epoch(8, 3, windows_per_epoch=70) == 9
    first_epoch = starts[:70]
    # Whole passes first: every window appears twice in the first 2 * per_pass draws.
    counts = np.bincount(first_epoch[:2 * per_pass])
    assert set(counts[counts > 0]) == {2}
    assert starts[:70] != starts[70:]


def test_resuming_gives_the_same_later_epochs(frames):
    pairs = make_frame_pairs(frames)
    full = starts_of(pairs.epoch_dataset(8, seed=3, first_epoch=0, epochs=3, window=2,
                                         windows_per_epoch=50), frames)
    resumed = starts_of(pairs.epoch_dataset(8, seed=3, first_epoch=2, epochs=3, window=2,
                                            windows_per_epoch=50), frames)
    assert resumed == full[100:]


def test_without_a_budget_an_epoch_is_one_pass(frames):
    pairs = make_frame_pairs(frames)
    starts = starts_of(pairs.epoch_dataset(8, seed=0, first_epoch=0, epochs=1, window=2),
                       frames)
    assert sorted(starts) == sorted(int(s) for s in pairs.window_starts(2))


def test_a_bad_budget_is_named(frames):
    with pytest.raises(ValueError, match="windows_per_epoch must be >= 1"):
        make_frame_pairs(frames).epoch_dataset(8, seed=0, first_epoch=0, epochs=1,
                                               windows_per_epoch=0)
