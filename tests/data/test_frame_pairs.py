import numpy as np
import pytest

from dynamic_vae.data import from_pixel_range, make_frame_pairs, to_pixel_range


def _numbered_frames(count, offset=0):
    """Frames whose every pixel holds the frame number, so a pair says where it came from."""
    return (np.arange(offset, offset + count, dtype=np.uint8)[:, None, None, None]
            * np.ones((1, 4, 4, 1), np.uint8))


def test_pairs_are_consecutive_and_the_holdout_never_trains():
    pairs = make_frame_pairs(_numbered_frames(50), holdout=-1)
    seen = []
    for batch in pairs.dataset(batch_size=8, seed=1):
        first = np.round(batch[:, 0, 0, 0, 0].numpy() * 255).astype(int)
        second = np.round(batch[:, 1, 0, 0, 0].numpy() * 255).astype(int)
        np.testing.assert_array_equal(second, first + 1)
        seen.extend(first.tolist())
    assert sorted(seen) == list(range(48))  # every training pair once per epoch
    assert 48 not in seen and pairs.test_starts.tolist() == [48]
    np.testing.assert_allclose(pairs.test_pairs[0, :, 0, 0, 0] * 255, [48, 49], atol=1e-4)


def test_pairs_never_straddle_two_sequences():
    pairs = make_frame_pairs([_numbered_frames(5), _numbered_frames(4, offset=100)],
                             holdout=0)
    starts = pairs.train_starts.tolist()
    assert starts == [1, 2, 3, 5, 6, 7]  # 4 -> 5 would join the two sequences
    batch = next(iter(pairs.dataset(batch_size=6, shuffle=False)))
    firsts = np.round(batch[:, 0, 0, 0, 0].numpy() * 255).astype(int)
    assert firsts.tolist() == [1, 2, 3, 100, 101, 102]


def test_shuffle_is_seeded_and_reshuffles_each_epoch():
    pairs = make_frame_pairs(_numbered_frames(40))

    def order(dataset):
        return np.concatenate([b[:, 0, 0, 0, 0].numpy() for b in dataset])

    dataset = pairs.dataset(batch_size=39, seed=3)
    first_epoch, second_epoch = order(dataset), order(dataset)
    np.testing.assert_array_equal(first_epoch, order(pairs.dataset(batch_size=39, seed=3)))
    assert not np.array_equal(first_epoch, second_epoch)


def test_pixel_range_round_trip():
    frames = np.arange(256, dtype=np.uint8).reshape(4, 8, 8, 1)
    scaled = to_pixel_range(frames, (-1.0, 1.0))
    assert scaled.min() == -1.0 and scaled.max() == 1.0
    np.testing.assert_array_equal(from_pixel_range(scaled, (-1.0, 1.0)), frames)


@pytest.mark.parametrize("frames,message", [
    (np.zeros((1, 8, 8), np.uint8), "at least 2 frames"),
    (np.zeros((5, 8), np.uint8), r"expected shape \(T, H, W\)"),
    (np.zeros((5, 8, 8, 2), np.uint8), "channels"),
    (np.zeros((5, 8, 8), np.int32), "dtype"),
    (np.full((5, 8, 8), np.nan, np.float32), "NaN/inf"),
    (np.full((5, 8, 8), 2.0, np.float32), r"\[0, 1\]"),
    ([[0, 1], [1, 0]], "numpy array"),
])
def test_bad_frames_raise_clear_errors(frames, message):
    with pytest.raises(ValueError, match=message) as error:
        make_frame_pairs(frames if isinstance(frames, np.ndarray) else [frames])
    assert "sequences[0]" in str(error.value)


def test_mismatched_sequences_and_bad_holdout():
    with pytest.raises(ValueError, match=r"sequences\[1\].*differs"):
        make_frame_pairs([np.zeros((3, 8, 8), np.uint8), np.zeros((3, 8, 9), np.uint8)])
    with pytest.raises(ValueError, match="holdout"):
        make_frame_pairs(np.zeros((3, 8, 8), np.uint8), holdout=5)
    with pytest.raises(ValueError, match="nothing to train"):
        make_frame_pairs(np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(ValueError, match="at least one"):
        make_frame_pairs([])


def test_windows_stay_inside_sequences_and_avoid_the_holdout():
    pairs = make_frame_pairs([_numbered_frames(10), _numbered_frames(6, offset=100)],
                             holdout=-1)
    # Pairs: 0..8 (first sequence), 10..13 (second; 14 is held out).
    starts = pairs.window_starts(4).tolist()
    assert starts == [0, 1, 2, 3, 4, 5, 6, 10, 11]
    for batch in pairs.dataset(batch_size=4, window=4, seed=0):
        values = np.round(batch[:, :, 0, 0, 0].numpy() * 255).astype(int)
        assert (np.diff(values, axis=1) == 1).all()
        assert not (values == 105).any()  # the held-out pair's second frame
    with pytest.raises(ValueError, match="window"):
        pairs.dataset(batch_size=4, window=20)
    with pytest.raises(ValueError, match="window"):
        pairs.window_starts(1)


def test_validation_windows_are_each_sequences_tail_and_no_training_pair_touches_them():
    from dynamic_vae.data.frame_pairs import split_validation_windows

    ramp = (np.arange(30)[:, None, None] * np.ones((30, 2, 2)) / 30).astype("float32")
    pairs = make_frame_pairs([ramp[:10], ramp[10:30]])
    train, windows = split_validation_windows(pairs, 0.2, 3)
    frame_index = np.rint(windows[:, :, 0, 0, 0] * 30).astype(int)
    # 10 frames: max(ceil(2), 3) = 3 held out (7..9); 20 frames: 4 held out (26..29).
    np.testing.assert_array_equal(frame_index, [[7, 8, 9], [26, 27, 28], [27, 28, 29]])
    held = {7, 8, 9, 26, 27, 28, 29}
    assert not any({t, t + 1} & held for t in train.train_starts)
    np.testing.assert_array_equal(train.train_starts, [0, 1, 2, 3, 4, 5, *range(10, 25)])
    np.testing.assert_array_equal(train.test_starts, pairs.test_starts)


def test_a_sequence_too_short_to_split_trains_whole():
    from dynamic_vae.data.frame_pairs import split_validation_windows

    pairs = make_frame_pairs([np.zeros((4, 2, 2), np.uint8), np.zeros((12, 2, 2), np.uint8)],
                             holdout=None)
    train, windows = split_validation_windows(pairs, 0.1, 3)
    assert len(windows) == 1  # frames 13..15 of the long sequence
    np.testing.assert_array_equal(train.train_starts, [0, 1, 2, *range(4, 12)])


def test_validation_split_names_sequences_too_short():
    from dynamic_vae.data.frame_pairs import split_validation_windows

    pairs = make_frame_pairs([np.zeros((5, 4, 4), np.uint8)] * 2, holdout=None)
    with pytest.raises(ValueError, match=r"validation_fraction: the longest sequence has 5 "
                                         r"frames, too few to hold out 4 validation frames "
                                         r"\(at least window=4\)"):
        split_validation_windows(pairs, 0.1, 4)
    with pytest.raises(ValueError, match=r"validation_fraction must lie in \(0, 1\), got 1.5"):
        split_validation_windows(pairs, 1.5, 2)
