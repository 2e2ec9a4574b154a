import numpy as np
import pytest

from dynamic_vae.data import counting_mnist, load_mnist_digits, parse_cycle
from dynamic_vae.data.counting_mnist import successor_map


def test_sequence_follows_the_cycle_with_real_digits(counting_frames):
    frames, digits = counting_frames
    assert frames.shape == (400, 32, 32, 1) and frames.dtype == np.uint8
    np.testing.assert_array_equal(digits[:8], [1, 2, 3, 4, 1, 2, 3, 4])
    # 28x28 digits padded by 2 pixels on each side.
    assert frames[:, :2].max() == 0 and frames[:, :, -2:].max() == 0
    images, labels = load_mnist_digits()
    assert images.shape == (5000, 28, 28)
    # Every frame is one of the real images of its digit.
    for t in (0, 1, 2, 3, 399):
        pool = images[labels == digits[t]]
        assert (pool == frames[t, 2:30, 2:30, 0]).all(axis=(1, 2)).any()


def test_frames_vary_within_a_digit_and_are_seeded():
    first, _ = counting_mnist("56789", num_frames=50, seed=1)
    again, _ = counting_mnist("56789", num_frames=50, seed=1)
    other, _ = counting_mnist("56789", num_frames=50, seed=2)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert not np.array_equal(first[0], first[5])  # two different images of a 5


def test_cycle_parsing():
    assert parse_cycle("0123456789") == list(range(10))
    assert successor_map("1234") == {1: 2, 2: 3, 3: 4, 4: 1}
    for bad in ("", "1", "12a", "121"):
        with pytest.raises(ValueError, match="cycle"):
            parse_cycle(bad)
    with pytest.raises(ValueError, match="source"):
        load_mnist_digits("internet")
