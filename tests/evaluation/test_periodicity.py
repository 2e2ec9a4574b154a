"""The period estimator on synthetic sequences whose period is known."""

import numpy as np
import pytest

from dynamic_vae.evaluation.periodicity import (estimate_period, lag_differences, phase_share,
                                               phase_variance_ratio, residual_persistence)
from tests.helpers.moving_blob import moving_blob


def test_lag_differences_known_values():
    frames = np.array([0, 0.5, 1.0, 0.5], dtype=np.float32)[:, None, None]
    # lag 1: |0.5|, |0.5|, |-0.5| -> 0.5; lag 2: |1|, |0| -> 0.5; lag 3: |0.5| -> 0.5
    np.testing.assert_allclose(lag_differences(frames, 3), [0.5, 0.5, 0.5])
    as_uint8 = np.array([0, 255, 0, 255], np.uint8)[:, None]
    np.testing.assert_allclose(lag_differences(as_uint8, 2), [1.0, 0.0])


@pytest.mark.parametrize("period, num_frames", [(6, 24), (12, 48), (7, 40), (30, 120),
                                                (2, 20), (3, 10)])
def test_exact_periodic_blob(period, num_frames):
    assert estimate_period(moving_blob(num_frames, period)) == period


def test_the_period_not_its_multiple_even_when_a_multiple_matches_better(rng):
    # Noise only in the frames the period lag compares, so lag 12 is slightly worse than 24.
    frames = moving_blob(60, 12).astype(np.float64)
    frames[12:24] += rng.normal(0, 0.02, frames[12:24].shape)
    differences = lag_differences(frames, 30)
    assert differences[23] < differences[11]
    assert estimate_period(np.clip(frames, 0, 1)) == 12


@pytest.mark.parametrize("noise", [0.05, 0.15])
def test_noisy_periodic_blob(noise, rng):
    frames = moving_blob(90, 15) + rng.normal(0, noise, (90, 16, 16, 1))
    assert estimate_period(np.clip(frames, 0, 1).astype(np.float32)) == 15
    as_uint8 = np.round(np.clip(frames, 0, 1) * 255).astype(np.uint8)
    assert estimate_period(as_uint8) == 15


@pytest.mark.parametrize("num_frames, period", [(126, 63), (24, 12), (10, 5)])
def test_a_period_of_exactly_half_the_clip(num_frames, period, rng):
    frames = moving_blob(num_frames, period, phase=3) + rng.normal(0, 0.03, (num_frames, 16,
                                                                              16, 1))
    assert estimate_period(np.clip(frames, 0, 1)) == period


def test_a_half_period_look_alike_is_not_the_period():
    # Two blobs on opposite sides: after half a period the picture is nearly the same (a
    # shallow dip), but one blob is brighter, so only the full period matches.
    a, b = moving_blob(80, 20), moving_blob(80, 20, phase=10)
    frames = 0.6 * a + 0.4 * b
    differences = lag_differences(frames, 40)
    assert differences[9] < differences[8] and differences[9] < differences[10]  # a dip at 10
    assert estimate_period(frames) == 20


def test_min_and_max_period_bound_the_search():
    frames = moving_blob(48, 8)
    assert estimate_period(frames, min_period=9) == 16  # the first multiple inside the range
    with pytest.raises(ValueError, match="no period between 2 and 6 frames"):
        estimate_period(frames, max_period=6)


def test_sequences_without_a_period_raise(rng):
    with pytest.raises(ValueError, match="^frames: no period between 2 and 20 frames"):
        estimate_period(rng.uniform(0, 1, (40, 8, 8, 1)))
    with pytest.raises(ValueError, match="frames: no period"):
        estimate_period(np.full((30, 8, 8), 0.5))  # a frozen clip
    # A blob drifting one way and never coming back: every lag is worse than the one before.
    drifting = np.array([np.roll(moving_blob(1, 4)[0], t // 2, axis=1) for t in range(24)])
    with pytest.raises(ValueError, match="frames: no period"):
        estimate_period(drifting)


def test_bad_arguments_name_the_argument():
    frames = moving_blob(24, 6)
    with pytest.raises(ValueError, match="min_period: expected >= 2 frames, got 1"):
        estimate_period(frames, min_period=1)
    with pytest.raises(ValueError, match=r"max_period: expected min_period=2 <= max_period < 24"
                                         r" \(the number of frames\), got 24"):
        estimate_period(frames, max_period=24)
    with pytest.raises(ValueError, match="frames: 3 frames cannot show a period of at least "
                                         "min_period=2 twice"):
        estimate_period(frames[:3])
    with pytest.raises(ValueError, match="frames: expected uint8"):
        estimate_period(np.zeros((24, 4, 4), np.int32))
    with pytest.raises(ValueError, match="frames: expected an array"):
        estimate_period(np.zeros(24))
    with pytest.raises(ValueError, match="tolerance: expected a fraction in"):
        estimate_period(frames, tolerance=1.0)
    with pytest.raises(ValueError, match="max_lag: expected 1 <= max_lag < 24"):
        lag_differences(frames, 0)


def test_a_period_that_repeats_only_in_part(rng):
    """Frames one period apart share a template but not their strokes (a counting display
    written by a new hand every cycle): the dip is shallow, but at every multiple and at no
    other lag, so it is the period; the same noise without the templates has none."""
    templates = rng.uniform(0, 1, (5, 12, 12, 1)) < 0.3
    strokes = rng.uniform(0, 1, (400, 12, 12, 1)) < 0.35
    frames = (templates[np.arange(400) % 5] ^ strokes).astype(np.float32)
    differences = lag_differences(frames, 40)
    assert differences[4] > 0.8 * differences.max()  # too shallow for a dip on its own
    assert estimate_period(frames) == 5
    with pytest.raises(ValueError, match="frames: no period"):
        estimate_period(strokes.astype(np.float32))


def test_phase_variance_ratio_is_the_one_way_anova_f_statistic(rng):
    """For one pixel the ratio is scipy's one-way ANOVA F with the phase as the group; for
    many it pools the sums of squares over pixels."""
    from scipy.stats import f_oneway

    series = rng.normal(0, 1, 60) + np.sin(2 * np.pi * np.arange(60) / 6)
    groups = [series[p::6] for p in range(6)]
    assert phase_variance_ratio(series[:, None], 6) == pytest.approx(f_oneway(*groups).statistic)
    frames = rng.normal(0, 1, (63, 3))  # the last 3 frames are no whole cycle
    whole = frames[:60].reshape(10, 6, 3)
    between = 10 * ((whole.mean(0) - whole.mean((0, 1))) ** 2).sum() / 5
    within = ((whole - whole.mean(0)) ** 2).sum() / 54
    assert phase_variance_ratio(frames, 6) == pytest.approx(between / within)
    # Chance: about 1 for noise; a loop repeats exactly.
    assert 0.5 < phase_variance_ratio(rng.uniform(0, 1, (400, 8, 8)), 8) < 1.5
    assert phase_variance_ratio(moving_blob(48, 12), 12) == np.inf
    with pytest.raises(ValueError, match="period: expected an integer 2 <= period <= 24"):
        phase_variance_ratio(moving_blob(48, 12), 25)


def test_phase_share_is_one_minus_the_within_phase_sum_of_squares(rng):
    frames = rng.normal(0, 1, (63, 3)) + np.tile(np.eye(3) * 2, (21, 1))
    whole = frames[:60].reshape(10, 6, 3)
    within = ((whole - whole.mean(0)) ** 2).sum()
    total = ((whole - whole.mean((0, 1))) ** 2).sum()
    assert phase_share(frames, 6) == pytest.approx(1 - within / total)
    # A loop: all of it; noise: about (period - 1) / frames of it, by chance alone.
    assert phase_share(moving_blob(48, 12), 12) == pytest.approx(1.0)
    assert phase_share(rng.uniform(0, 1, (400, 8, 8)), 8) < 0.05
    with pytest.raises(ValueError, match="period: expected an integer 2 <= period <= 24"):
        phase_share(moving_blob(48, 12), 25)


def test_residual_persistence_tells_a_drifting_look_from_a_new_one(rng):
    phases = np.tile(np.eye(8) * 3, (40, 1))                         # period 8
    drawn_anew = phases + rng.normal(0, 1, phases.shape)
    drift = np.zeros(8)
    drifting = []
    for _ in range(len(phases)):                                      # an AR(1) of 0.9
        drift = 0.9 * drift + np.sqrt(1 - 0.81) * rng.normal(0, 1, 8)
        drifting.append(drift)
    drifting = phases + np.array(drifting)
    assert abs(residual_persistence(drawn_anew, 8)) < 0.05
    assert 0.8 < residual_persistence(drifting, 8) < 0.95
    # The closed form on whole cycles (the last 3 frames are left out).
    frames = rng.normal(0, 1, (63, 2))
    whole = frames[:60].reshape(10, 6, 2)
    residuals = (whole - whole.mean(0)).reshape(60, 2)
    expected = (residuals[:-1] * residuals[1:]).sum() / (residuals[:-1] ** 2).sum()
    assert residual_persistence(frames, 6) == pytest.approx(expected)
    assert residual_persistence(moving_blob(48, 12), 12) == 0.0
