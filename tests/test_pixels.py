"""Pixel conversions: round trips, clipping, and the graph twins agreeing with numpy."""

import numpy as np
import pytest
import tensorflow as tf

from dynamic_vae.pixels import (as_unit_float, from_pixel_range, from_pixel_range_tf,
                                to_pixel_range, to_pixel_range_tf, to_unit_range,
                                to_unit_range_tf)

RANGES = [(0.0, 1.0), (-1.0, 1.0), (-0.5, 2.0)]


@pytest.fixture
def uint8_frames():
    return np.random.default_rng(0).integers(0, 256, (4, 8, 8, 1), dtype=np.uint8)


@pytest.mark.parametrize("pixel_range", RANGES)
def test_uint8_round_trip_is_exact(uint8_frames, pixel_range):
    model = to_pixel_range(uint8_frames, pixel_range)
    assert model.dtype == np.float32
    assert model.min() >= pixel_range[0] and model.max() <= pixel_range[1]
    np.testing.assert_array_equal(from_pixel_range(model, pixel_range), uint8_frames)


@pytest.mark.parametrize("pixel_range", RANGES)
def test_unit_round_trip(pixel_range):
    unit = np.random.default_rng(1).random((3, 5), dtype=np.float32)
    back = to_unit_range(to_pixel_range(unit, pixel_range), pixel_range)
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, unit, atol=1e-6)


def test_out_of_range_values_are_clipped():
    overshoot = np.array([-3.0, -1.0, 0.0, 1.0, 5.0], np.float32)
    np.testing.assert_array_equal(to_unit_range(overshoot, (-1.0, 1.0)),
                                  [0.0, 0.0, 0.5, 1.0, 1.0])
    np.testing.assert_array_equal(from_pixel_range(overshoot, (-1.0, 1.0)),
                                  [0, 0, 128, 255, 255])


def test_as_unit_float_divides_only_uint8():
    np.testing.assert_allclose(as_unit_float(np.array([0, 51, 255], np.uint8)),
                               [0.0, 0.2, 1.0], rtol=1e-6)
    floats = np.array([0.25, 0.75], np.float64)
    assert as_unit_float(floats).dtype == np.float32
    assert as_unit_float(floats, np.float64).dtype == np.float64
    np.testing.assert_array_equal(as_unit_float(floats), floats)


@pytest.mark.parametrize("pixel_range", RANGES)
def test_graph_twins_agree_with_numpy_bit_for_bit(uint8_frames, pixel_range):
    unit = as_unit_float(uint8_frames)
    for given in (uint8_frames, unit):
        np.testing.assert_array_equal(
            to_pixel_range_tf(tf.constant(given), pixel_range).numpy(),
            to_pixel_range(given, pixel_range))
    # Decoder outputs overshoot the range and land on rounding midpoints.
    low, high = pixel_range
    decoded = np.concatenate([
        np.random.default_rng(2).uniform(low - 1, high + 1, 500),
        low + (high - low) * (np.arange(256) + 0.5) / 255.0]).astype(np.float32)
    np.testing.assert_array_equal(to_unit_range_tf(tf.constant(decoded), pixel_range).numpy(),
                                  to_unit_range(decoded, pixel_range))
    np.testing.assert_array_equal(
        from_pixel_range_tf(tf.constant(decoded), pixel_range).numpy(),
        from_pixel_range(decoded, pixel_range))
