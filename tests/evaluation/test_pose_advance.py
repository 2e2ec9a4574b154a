"""Pose-advance accuracy on synthetic rotations whose answer is known."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynamic_vae.evaluation.pose_advance import (cyclic_offset, identify_poses,
                                                 pose_advance_accuracy)


def rotating_bar(num_views: int = 24, size: int = 16) -> np.ndarray:
    """(V, size, size) float views of a soft bar turning once round the full circle (an
    arrow, so opposite views differ)."""
    y, x = np.mgrid[0:size, 0:size] - (size - 1) / 2
    views = []
    for v in range(num_views):
        angle = 2 * np.pi * v / num_views
        along = x * np.cos(angle) + y * np.sin(angle)
        across = -x * np.sin(angle) + y * np.cos(angle)
        views.append(np.exp(-across ** 2 / 2.0) * (along > -1) * np.clip(along / 6, 0, 1))
    return np.array(views, dtype=np.float32)


def test_exact_rotation_by_the_trained_step_scores_one():
    views = rotating_bar()
    for step in (1, 4, -2):
        poses = (5 + step * np.arange(40)) % 24
        assert pose_advance_accuracy(views[poses], views, step=step, tolerance=0) == 1.0


def test_noisy_rotation_is_identified_and_scores_one(rng):
    views = rotating_bar()
    poses = (3 + 4 * np.arange(30)) % 24
    noisy = np.clip(views[poses] + rng.normal(0, 0.05, views[poses].shape), 0, 1)
    np.testing.assert_array_equal(identify_poses(noisy, views), poses)
    as_uint8 = np.round(noisy * 255).astype(np.uint8)
    assert pose_advance_accuracy(as_uint8[..., None], np.round(views * 255).astype(
        np.uint8)[..., None], step=4) == 1.0


def test_known_fractions_with_and_without_tolerance():
    views = rotating_bar(num_views=12)
    poses = np.array([10, 11, 0, 3, 4, 4, 5])  # advances 1, 1, 3, 1, 0, 1 (with wrap-round)
    assert pose_advance_accuracy(views[poses], views, step=1, tolerance=0) == pytest.approx(4 / 6)
    # Standing still (advance 0) is within 1 view of step 1 but is no advance.
    assert pose_advance_accuracy(views[poses], views, step=1, tolerance=1) == pytest.approx(4 / 6)
    assert pose_advance_accuracy(views[poses], views, step=1, tolerance=2) == pytest.approx(5 / 6)
    assert pose_advance_accuracy(views[poses], views, step=2, tolerance=1) == pytest.approx(5 / 6)
    # A model that stands still or turns the wrong way scores zero.
    assert pose_advance_accuracy(views[[2] * 6], views, step=3) == 0.0
    assert pose_advance_accuracy(views[(-3 * np.arange(6)) % 12], views, step=3) == 0.0


@settings(max_examples=60, deadline=None)
@given(num_views=st.integers(4, 30), data=st.data())
def test_matches_a_loop_over_the_steps(num_views, data):
    views = rotating_bar(num_views=num_views)
    poses = np.array(data.draw(st.lists(st.integers(0, num_views - 1), min_size=2, max_size=15)))
    step = data.draw(st.integers(1, num_views - 1)) * data.draw(st.sampled_from([1, -1]))
    tolerance = data.draw(st.integers(0, 3))
    correct = 0
    for a, b in zip(poses[:-1], poses[1:]):
        # Views a and b: is b within `tolerance` of a + step, going round the circle?
        target = (a + step) % num_views
        near = min((b - target) % num_views, (target - b) % num_views) <= tolerance
        # ... and moved the trained way: b lies on the shorter arc from a in step's direction.
        forward = (b - a) % num_views if step > 0 else (a - b) % num_views
        correct += near and 0 < forward and (forward < num_views / 2 or (
            forward == num_views / 2 and step > 0))
    expected = correct / (len(poses) - 1)
    assert pose_advance_accuracy(views[poses], views, step, tolerance) == pytest.approx(expected)


@given(a=st.integers(-100, 100), b=st.integers(-100, 100), n=st.integers(1, 50))
def test_cyclic_offset_is_the_shortest_signed_way_round(a, b, n):
    offset = int(cyclic_offset(a, b, n))
    assert (a + offset - b) % n == 0 and -n / 2 < offset <= n / 2


@pytest.mark.parametrize("synthesised,views,step,tolerance,message", [
    (np.zeros((1, 4, 4)), np.zeros((6, 4, 4)), 1, 1, "synthesised: need at least 2 frames"),
    (np.zeros((3, 4, 4)), np.zeros((1, 4, 4)), 1, 1, "true_views: need at least 2 views"),
    (np.zeros((3, 4, 4)), np.zeros((6, 4, 5)), 1, 1, "differs from true_views'"),
    (np.zeros((3, 4, 4)), np.zeros((6, 4, 4)), 6, 1, "step: expected a non-zero"),
    (np.zeros((3, 4, 4)), np.zeros((6, 4, 4)), 0, 1, "step: expected a non-zero"),
    (np.zeros((3, 4, 4)), np.zeros((6, 4, 4)), 1, -1, "tolerance: expected >= 0"),
    (np.zeros((3, 4, 4), np.int32), np.zeros((6, 4, 4)), 1, 1, "got dtype int32"),
    (np.full((3, 4, 4), np.nan), np.zeros((6, 4, 4)), 1, 1, "NaN"),
])
def test_bad_arguments_are_named(synthesised, views, step, tolerance, message):
    with pytest.raises(ValueError, match=message):
        pose_advance_accuracy(synthesised, views, step, tolerance)


def test_real_coil_rotations(shared_data, rng):
    views = np.load(shared_data / "coil20" / "coil20_objects01-14.npz")["frames"]
    chance = []
    for object_views in views:
        start = int(rng.integers(72))
        every_4th = object_views[(start + 4 * np.arange(30)) % 72]  # NORB's 20 degree step
        assert pose_advance_accuracy(every_4th, object_views, step=4, tolerance=0) == 1.0
        assert pose_advance_accuracy(every_4th[::-1], object_views, step=4) == 0.0
        assert pose_advance_accuracy(object_views[[start] * 10], object_views, step=1) == 0.0
        shuffled = object_views[rng.integers(0, 72, size=100)]
        chance.append(pose_advance_accuracy(shuffled, object_views, step=1))
    # Random poses advance by 1 +- 1 view with probability 3/72.
    assert np.mean(chance) < 0.1
