"""`compare_videos` on synthetic gratings with known answers."""

import numpy as np
import pytest

from dynamic_vae.evaluation import compare_videos
from tests.helpers.moving_gratings import moving_grating

ROW_KEYS = {"name", "frames", "sharpness_ratio", "spectrum_distance", "martin_distance",
            "std_ratio", "temporal_std_ratio", "alive"}


@pytest.fixture(scope="module")
def real():
    return moving_grating()


def box_blur(frames):
    """The mean of each pixel and its right, lower and lower-right neighbours."""
    return (frames + np.roll(frames, 1, axis=1) + np.roll(frames, 1, axis=2)
            + np.roll(frames, (1, 1), axis=(1, 2))) / 4


def test_a_clip_compared_with_itself(real):
    [row] = compare_videos(real, {"copy": real}, latent_dim=4)
    assert row["sharpness_ratio"] == pytest.approx(1.0)
    assert row["spectrum_distance"] == pytest.approx(0.0, abs=1e-6)
    assert row["martin_distance"] == pytest.approx(0.0, abs=1e-4)
    assert row["frames"] == len(real)


def test_a_blurred_copy_is_less_sharp_and_a_frozen_one_does_not_move(real):
    blurred, frozen = compare_videos(
        real, {"blurred": box_blur(real), "frozen": np.repeat(real[:1], len(real), axis=0)},
        latent_dim=4)
    assert blurred["sharpness_ratio"] < 1.0
    assert blurred["spectrum_distance"] > 0.0
    assert frozen["temporal_std_ratio"] == 0.0


def test_uint8_and_float_frames_of_one_clip_compare_as_equal(real):
    as_uint8 = np.round(real * 255).astype(np.uint8)
    [row] = compare_videos(as_uint8, {"float": as_uint8 / 255.0}, latent_dim=4)
    assert row["sharpness_ratio"] == pytest.approx(1.0)
    assert row["spectrum_distance"] == pytest.approx(0.0, abs=1e-6)


def test_rows_follow_the_order_of_the_videos_and_have_every_key(real):
    videos = {"slow": moving_grating(60, speed=0.2, seed=1), "fast": moving_grating(seed=2),
              "blurred": box_blur(real)}
    rows = compare_videos(real, videos, latent_dim=4)
    assert [row["name"] for row in rows] == ["slow", "fast", "blurred"]
    assert all(set(row) == ROW_KEYS for row in rows)
    assert rows[0]["frames"] == 60  # videos need not be as long as the real clip
    # Another speed is another process: further than the same speed with other noise.
    assert rows[0]["martin_distance"] > rows[1]["martin_distance"]


@pytest.mark.parametrize("videos, latent_dim, message", [
    ({"small": moving_grating(size=16)}, 4,
     "small: expected frames of shape (24, 24, 1) (the real clip's), got (16, 16, 1)"),
    ({"short": moving_grating(4)}, 4,
     "short: the Martin distance with latent_dim=4 needs more than 4 frames, got 4"),
    ({"ok": moving_grating()}, 40,
     "real: the Martin distance with latent_dim=40 needs more than 40 frames, got 40"),
    ({}, 4, "videos: expected at least one video to compare, got none"),
    ({"ok": moving_grating()}, 0, "latent_dim: expected a positive integer, got 0"),
    ({"bright": moving_grating() * 2}, 4, "bright: "),
])
def test_bad_input_is_named(real, videos, latent_dim, message):
    with pytest.raises(ValueError) as error:
        compare_videos(real, videos, latent_dim=latent_dim)
    assert message in str(error.value)
