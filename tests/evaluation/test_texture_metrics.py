"""Appearance, process and temporal metrics against cases with known answers."""

import numpy as np
import pytest

from dynamic_vae.evaluation.appearance import (gradient_energy, radial_power_spectrum,
                                               sharpness_ratio, spectrum_distance)
from dynamic_vae.evaluation.martin_distance import clip_martin_distance, martin_distance
from dynamic_vae.evaluation.temporal_statistics import (autocorrelation_distance, motion_energy,
                                                        motion_ratio, temporal_autocorrelation,
                                                        temporal_metrics)


@pytest.fixture
def frames(rng):
    return rng.random((6, 24, 20, 1))


def test_gradient_energy_of_a_ramp_is_its_slope_squared():
    ramp = np.tile(np.linspace(0.0, 0.9, 10), (2, 8, 1))  # (T=2, H=8, W=10), step 0.1 along x
    assert gradient_energy(ramp) == pytest.approx(0.01)


def test_sharpness_ratio_known_answers(frames):
    assert sharpness_ratio(frames, frames) == pytest.approx(1.0)
    # Contrast scaled by c scales every gradient by c: the ratio is c^2.
    assert sharpness_ratio(frames, 0.5 + 2.0 * (frames - 0.5)) == pytest.approx(4.0)
    assert sharpness_ratio(frames, 0.5 + 0.5 * (frames - 0.5)) == pytest.approx(0.25)
    # The mean frame has no gradients at all.
    assert sharpness_ratio(frames, np.full_like(frames, frames.mean())) == 0.0


def test_sharpness_ratio_reads_uint8_as_pixel_levels(frames):
    as_uint8 = np.round(frames * 255).astype(np.uint8)
    assert sharpness_ratio(as_uint8, as_uint8.astype(np.float64) / 255.0) == pytest.approx(1.0)


def test_a_blur_is_less_sharp(frames):
    blurred = (frames + np.roll(frames, 1, axis=1) + np.roll(frames, 1, axis=2)
               + np.roll(frames, (1, 1), axis=(1, 2))) / 4
    assert sharpness_ratio(frames, blurred) < 0.5


def test_radial_spectrum_of_a_plane_wave_is_one_ring():
    height = width = 16
    x = np.arange(width)
    wave = np.cos(2 * np.pi * 3 * x / width)[np.newaxis, np.newaxis, :].repeat(height, axis=1)
    spectrum = radial_power_spectrum(wave)
    assert spectrum.shape == (8,)
    assert np.argmax(spectrum) == 2  # ring radius 3 (index 0 is radius 1)
    assert np.count_nonzero(spectrum > 1e-9) == 1


def test_spectrum_distance_known_answers(frames):
    assert spectrum_distance(frames, frames) == pytest.approx(0.0, abs=1e-12)
    # The power spectrum does not see a circular translation.
    assert spectrum_distance(frames, np.roll(frames, (3, 5), axis=(1, 2))) == pytest.approx(
        0.0, abs=1e-9)
    # Contrast c multiplies power by c^2 at every radius: |log10 c^2| everywhere.
    assert spectrum_distance(frames, 0.5 + 3.0 * (frames - 0.5)) == pytest.approx(
        2 * np.log10(3.0))


def test_metrics_name_the_mismatched_shape(frames):
    with pytest.raises(ValueError, match=r"synthesised: expected frames of shape"):
        sharpness_ratio(frames, frames[:, :10])
    with pytest.raises(ValueError, match=r"synthesised: expected frames of shape"):
        spectrum_distance(frames, frames[:, :, :10])
    with pytest.raises(ValueError, match=r"real: expected frames \(T, H, W\[, C\]\)"):
        sharpness_ratio(np.zeros((0, 4, 4)), np.zeros((0, 4, 4)))


def test_martin_distance_of_scalar_systems_matches_the_closed_form():
    """n = 1, same C: cos^2 = (1 - a^2)(1 - b^2) / (1 - a b)^2."""
    a, b = 0.7, -0.2
    c = np.array([[1.0], [2.0], [-1.0]])
    expected = np.sqrt(-np.log((1 - a**2) * (1 - b**2) / (1 - a * b) ** 2))
    assert martin_distance([[a]], c, [[b]], 3 * c) == pytest.approx(expected, rel=1e-10)


def test_martin_distance_is_zero_for_one_system_in_two_bases(rng):
    n, p = 4, 12
    a = rng.normal(size=(n, n))
    a *= 0.9 / np.max(np.abs(np.linalg.eigvals(a)))
    c = rng.normal(size=(p, n))
    basis = rng.normal(size=(n, n)) + 3 * np.eye(n)
    assert martin_distance(a, c, a, c) == pytest.approx(0.0, abs=1e-6)
    assert martin_distance(a, c, basis @ a @ np.linalg.inv(basis), c @ np.linalg.inv(basis)
                           ) == pytest.approx(0.0, abs=1e-5)


def test_martin_distance_matches_truncated_observability_matrices(rng):
    """Against an independent computation: principal angles of long finite O_1, O_2."""
    n, p = 3, 7
    systems = []
    for _ in range(2):
        a = rng.normal(size=(n, n))
        a *= 0.8 / np.max(np.abs(np.linalg.eigvals(a)))
        systems.append((a, rng.normal(size=(p, n))))

    def observability(a, c, horizon=200):
        blocks, power = [], np.eye(n)
        for _ in range(horizon):
            blocks.append(c @ power)
            power = power @ a
        return np.vstack(blocks)

    q1, _ = np.linalg.qr(observability(*systems[0]))
    q2, _ = np.linalg.qr(observability(*systems[1]))
    cosines = np.linalg.svd(q1.T @ q2, compute_uv=False)
    expected = np.sqrt(-np.sum(np.log(cosines ** 2)))
    assert martin_distance(*systems[0], *systems[1]) == pytest.approx(expected, rel=1e-6)


def test_orthogonal_observations_are_infinitely_far():
    c1 = np.array([[1.0], [0.0]])
    c2 = np.array([[0.0], [1.0]])
    assert martin_distance([[0.5]], c1, [[0.5]], c2) == float("inf")


def test_martin_distance_names_bad_shapes():
    with pytest.raises(ValueError, match="system 2: expected A"):
        martin_distance(np.eye(2) * 0.5, np.ones((3, 2)), np.eye(2), np.ones((3, 3)))
    with pytest.raises(ValueError, match="observation_2: expected 3 output rows"):
        martin_distance(np.eye(2) * 0.5, np.ones((3, 2)), np.eye(2) * 0.5, np.ones((4, 2)))


def test_clip_martin_distance_separates_processes(rng):
    """A clip is nearer to another realisation of its own process than to a different one."""
    def oscillation(period, seed):
        t = np.arange(80)[:, None, None]
        phase = np.random.default_rng(seed).uniform(0, 2 * np.pi)
        x = np.arange(16)[None, None, :]
        y = np.arange(16)[None, :, None]
        return 0.5 + 0.4 * np.sin(2 * np.pi * t / period + phase + 0.3 * x + 0.2 * y)

    same = clip_martin_distance(oscillation(10, 0), oscillation(10, 1), latent_dim=2)
    other = clip_martin_distance(oscillation(10, 0), oscillation(4, 2), latent_dim=2)
    assert same < 0.1 < other


# --- temporal statistics -------------------------------------------------------------------

def _ar1_video(coefficient, frames, side=16, seed=0, scale=0.05):
    """Every pixel an independent stationary AR(1) x_{t+1} = a x_t + w_t about 0.5."""
    rng = np.random.default_rng(seed)
    x = np.empty((frames, side, side, 1))
    x[0] = rng.standard_normal((side, side, 1))
    innovation = np.sqrt(1 - coefficient ** 2)
    for t in range(1, frames):
        x[t] = coefficient * x[t - 1] + innovation * rng.standard_normal((side, side, 1))
    return 0.5 + scale * x


@pytest.mark.parametrize("coefficient", [0.9, 0.5, -0.6])
def test_autocorrelation_of_an_ar1_video_is_a_to_the_k(coefficient):
    video = _ar1_video(coefficient, frames=4000)
    rho = temporal_autocorrelation(video, max_lag=6)
    np.testing.assert_allclose(rho, coefficient ** np.arange(1, 7), atol=0.02)


def test_autocorrelation_of_white_noise_is_zero_and_of_a_cosine_is_its_cosine(rng):
    assert np.abs(temporal_autocorrelation(rng.random((4000, 8, 8)), max_lag=5)).max() < 0.02
    # x_t = cos(w t + phase_pixel): over whole periods, rho(k) = cos(w k).
    period, t = 20, np.arange(2000)[:, None, None]
    phases = rng.uniform(0, 2 * np.pi, (1, 6, 6))
    wave = 0.5 + 0.4 * np.cos(2 * np.pi * t / period + phases)
    np.testing.assert_allclose(temporal_autocorrelation(wave, max_lag=10),
                               np.cos(2 * np.pi * np.arange(1, 11) / period), atol=0.01)


def test_autocorrelation_leaves_out_constant_pixels():
    video = _ar1_video(0.8, frames=4000, side=8)
    video[:, :4] = 0.3  # half the pixels never change
    np.testing.assert_allclose(temporal_autocorrelation(video, max_lag=3),
                               0.8 ** np.arange(1, 4), atol=0.03)
    np.testing.assert_array_equal(temporal_autocorrelation(np.full((20, 4, 4), 0.2), 3),
                                  np.zeros(3))


def test_autocorrelation_distance_known_answers():
    slow, fast = _ar1_video(0.9, 4000, seed=1), _ar1_video(0.3, 4000, seed=2)
    assert autocorrelation_distance(slow, slow) == 0.0
    # Time reversal and a new realisation of the same process keep the memory.
    assert autocorrelation_distance(slow, slow[::-1]) == pytest.approx(0.0, abs=1e-12)
    assert autocorrelation_distance(slow, _ar1_video(0.9, 4000, seed=3)) < 0.02
    lags = np.arange(1, 11)
    assert autocorrelation_distance(slow, fast) == pytest.approx(
        np.mean(np.abs(0.9 ** lags - 0.3 ** lags)), abs=0.02)


def test_motion_ratio_known_answers(rng):
    video = _ar1_video(0.7, 300, seed=4)
    assert motion_energy(np.array([0.0, 0.5, 1.0])[:, None, None]) == 0.25
    assert motion_ratio(video, video) == 1.0
    # Played 2x slower (every other frame interpolated): each step halves, its square /4.
    slower = np.empty((2 * len(video) - 1, *video.shape[1:]))
    slower[::2], slower[1::2] = video, (video[:-1] + video[1:]) / 2
    assert motion_ratio(video, slower) == pytest.approx(0.25, rel=1e-12)
    # Contrast c scales every frame difference by c.
    assert motion_ratio(video, 0.5 + 1.5 * (video - 0.5)) == pytest.approx(2.25)
    # A stationary AR(1) moves by E(x_{t+1} - x_t)^2 = 2 var (1 - a).
    assert motion_ratio(video, _ar1_video(0.1, 20000, seed=5)) == pytest.approx(
        (1 - 0.1) / (1 - 0.7), rel=0.05)
    frozen = np.repeat(video[:1], 50, axis=0)
    assert motion_ratio(video, frozen) == 0.0
    assert motion_ratio(frozen, frozen) == 1.0 and motion_ratio(frozen, video) == float("inf")


def test_a_smooth_video_played_twice_as_slow_has_a_quarter_of_the_motion():
    t = np.arange(400)[:, None, None]
    x = np.arange(16)[None, None, :]

    def bars(speed):
        return (0.5 + 0.4 * np.sin(2 * np.pi * (x - speed * t) / 16)).repeat(8, axis=1)

    assert motion_ratio(bars(0.5), bars(0.25)) == pytest.approx(0.25, rel=0.01)


def test_temporal_metrics_clamp_the_lags_to_short_sequences(rng):
    real, short = rng.random((40, 4, 4)), rng.random((6, 4, 4))
    result = temporal_metrics(real, short)
    assert result["lags"] == 5 and len(result["autocorrelation"]) == 5
    assert len(result["real_autocorrelation"]) == 5
    assert result["autocorrelation_distance"] == pytest.approx(
        autocorrelation_distance(real, short, max_lag=5))
    assert result["motion_ratio"] == pytest.approx(motion_ratio(real, short))


def test_temporal_metrics_name_bad_input(rng):
    with pytest.raises(ValueError, match="lags up to 10 need more than 10 frames, got 10"):
        temporal_autocorrelation(rng.random((10, 4, 4)))
    with pytest.raises(ValueError, match="max_lag: expected an integer >= 1, got 0"):
        temporal_autocorrelation(rng.random((10, 4, 4)), max_lag=0)
    with pytest.raises(ValueError, match="at least 2 frames, got 1"):
        motion_energy(rng.random((1, 4, 4)))
    with pytest.raises(ValueError, match="synthesised: expected frames of shape"):
        motion_ratio(rng.random((5, 4, 4)), rng.random((5, 4, 3)))
    with pytest.raises(ValueError, match="synthesised: expected frames of shape"):
        autocorrelation_distance(rng.random((20, 4, 4)), rng.random((20, 3, 4)))
