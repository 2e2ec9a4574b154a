"""FourierLoop against closed forms: videos built from known harmonics."""

import doctest

import numpy as np
import pytest

import dynamic_vae.baseline.fourier_loop as fourier_loop_module
from dynamic_vae.baseline import FourierLoop


def harmonic_video(amplitudes: dict[int, float], period: float, count: int, side: int = 10,
                   seed: int = 0) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """`mean + sum_k amplitude_k (cos(2 pi k t / P) u_k + sin(2 pi k t / P) v_k)` with random
    unit images u_k, v_k; returns the frames `(count, side, side)` and each harmonic's
    images."""
    rng = np.random.default_rng(seed)
    t = np.arange(count)[:, None]
    frames = np.full((count, side * side), 0.5)
    images = {}
    for k, amplitude in amplitudes.items():
        u, v = (amplitude * w / np.linalg.norm(w) for w in rng.normal(size=(2, side * side)))
        frames += np.cos(2 * np.pi * k * t / period) * u + np.sin(2 * np.pi * k * t / period) * v
        images[k] = np.stack([u, v])
    assert 0 <= frames.min() and frames.max() <= 1, "amplitudes too large for [0, 1] frames"
    return frames.reshape(count, side, side), images


def test_a_pure_sinusoid_video_is_reproduced_exactly():
    frames, _ = harmonic_video({1: 1.0}, period=12, count=60)
    model = FourierLoop(period=12).fit(frames.astype(np.float32))
    assert model.harmonics[0] == 1
    video, states = model.synthesize(60, start=0)
    np.testing.assert_allclose(video[..., 0], frames, atol=1e-5)
    # The states are the unit circle of the fundamental: (cos, sin) of 2 pi t / 12.
    t = np.arange(60)
    np.testing.assert_allclose(states[:, :2], np.stack([np.cos(2 * np.pi * t / 12),
                                                        np.sin(2 * np.pi * t / 12)], 1),
                               atol=1e-9)
    np.testing.assert_allclose(model.mean_frame, 0.5, atol=1e-6)


def test_a_phase_shift_starts_later_in_the_loop():
    frames, _ = harmonic_video({1: 0.8, 3: 0.4}, period=10, count=40)
    model = FourierLoop(period=10, harmonics=2).fit(frames.astype(np.float32))
    later, _ = model.synthesize(10, start=7)
    np.testing.assert_allclose(later[..., 0], frames[7:17], atol=1e-5)
    from_frame, _ = model.synthesize(10, initial_frame=frames[7].astype(np.float32))
    np.testing.assert_allclose(from_frame[..., 0], frames[7:17], atol=1e-5)
    np.testing.assert_allclose(model.predict(frames[:5].astype(np.float32), 3)[..., 0],
                               frames[3:8], atol=1e-5)


def test_the_chosen_harmonics_are_the_fundamental_and_the_strongest():
    # P = 16 has harmonics 1..8; the fundamental is the weakest here and is kept anyway.
    amplitudes = {1: 0.03, 2: 0.18, 3: 0.06, 4: 0.3, 5: 0.12, 6: 0.24, 7: 0.09}
    frames, _ = harmonic_video(amplitudes, period=16, count=64)
    model = FourierLoop(period=16, harmonics=4).fit(frames)
    assert model.harmonics.tolist() == [1, 4, 6, 2]
    # Energies: a plane's mean square over a period is amplitude^2 (|u| = |v| = amplitude,
    # each at mean square 1/2).
    for k, amplitude in amplitudes.items():
        assert model.energies[k] == pytest.approx(amplitude ** 2, rel=1e-6)
    assert model.energies[8] == pytest.approx(0.0, abs=1e-12)
    # Rotations at modulus 1 by 2 pi k / P, B = 0.
    eigenvalues = np.linalg.eigvals(model.transition_matrix)
    np.testing.assert_allclose(np.abs(eigenvalues), 1.0, atol=1e-12)
    expected = sorted(np.degrees(2 * np.pi * np.array([1, 4, 6, 2]) / 16).tolist())
    angles = sorted({round(abs(float(np.degrees(np.angle(e)))), 6) for e in eigenvalues})
    np.testing.assert_allclose(angles, expected)
    assert model.latent_dim == 8 and not model.noise_matrix.any()
    # What the truncation leaves out is exactly the dropped harmonics' energy.
    video, _ = model.synthesize(64, start=0)
    flat = frames.reshape(64, -1)
    dropped = sum(amplitudes[k] ** 2 for k in (3, 5, 7))
    residual = np.mean(np.sum((video.reshape(64, -1) - flat) ** 2, axis=1))
    assert residual == pytest.approx(dropped, rel=1e-4)


def test_five_harmonics_give_ten_states_and_period_p_synthesis_repeats():
    amplitudes = {k: 0.4 / k for k in range(1, 10)}
    frames, _ = harmonic_video(amplitudes, period=20, count=50)  # 2.5 periods
    model = FourierLoop(period=20).fit(frames)
    assert model.harmonics.tolist() == [1, 2, 3, 4, 5] and model.latent_dim == 10
    video, states = model.synthesize(100, seed=3)
    np.testing.assert_allclose(states[20:], states[:-20], atol=1e-9)
    np.testing.assert_allclose(video[20:], video[:-20], atol=1e-6)
    # The start is drawn from the training frames' phases by the seed.
    np.testing.assert_array_equal(video, model.synthesize(100, seed=3)[0])


def test_the_half_period_harmonic_is_one_state_turning_by_pi():
    t = np.arange(24)
    rng = np.random.default_rng(1)
    image = rng.normal(size=36) / 6
    # Period 4: harmonic 1 (a plane) and harmonic 2 = P / 2, the alternating (-1)^t.
    frames = (0.5 + np.outer(np.cos(np.pi * t), image)
              + np.outer(np.sin(2 * np.pi * t / 4), image[::-1]) / 2)
    frames = np.clip(frames, 0, 1).reshape(24, 6, 6)
    model = FourierLoop(period=4).fit(frames)
    assert model.harmonics.tolist() == [1, 2] and model.latent_dim == 3
    assert model.transition_matrix[2, 2] == -1.0
    np.testing.assert_allclose(model.synthesize(24, start=0)[0][..., 0], frames, atol=1e-6)


def test_a_non_integer_period_and_uint8_frames():
    frames, _ = harmonic_video({1: 1.0}, period=7.5, count=30)
    as_uint8 = np.round(np.clip(frames, 0, 1) * 255).astype(np.uint8)
    model = FourierLoop(period=7.5).fit(as_uint8)
    # 1 <= k <= 3.75: three harmonics; 2 and 3 hold rounding noise only.
    assert model.harmonics[0] == 1 and sorted(model.harmonics.tolist()) == [1, 2, 3]
    assert model.energies[2] < 1e-4 * model.energies[1]
    video, _ = model.synthesize(30, start=0)
    assert np.max(np.abs(video[..., 0] - as_uint8 / 255.0)) < 0.01


def test_save_load_round_trip(tmp_path):
    frames, _ = harmonic_video({1: 1.0, 2: 0.5}, period=8, count=24)
    model = FourierLoop(period=8, harmonics=2).fit(frames)
    model.save(tmp_path / "loop.npz")
    loaded = FourierLoop.load(tmp_path / "loop.npz")
    np.testing.assert_array_equal(loaded.synthesize(20, seed=1)[0], model.synthesize(20, seed=1)[0])
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="bad.npz: not a saved FourierLoop"):
        FourierLoop.load(tmp_path / "bad.npz")


def test_bad_input_names_the_argument():
    for period in (1.5, float("nan"), "12", True):
        with pytest.raises(ValueError, match=r"period: expected a number of frames >= 2, got"):
            FourierLoop(period=period)
    with pytest.raises(ValueError, match="harmonics: expected an integer >= 1, got 0"):
        FourierLoop(period=8, harmonics=0)
    with pytest.raises(ValueError, match=r"frames: the Fourier loop needs at least one period "
                                         r"\(period=12 frames\), got 8 frames"):
        FourierLoop(period=12).fit(np.zeros((8, 4, 4), np.float32))
    with pytest.raises(ValueError, match="FourierLoop is not fitted"):
        FourierLoop(period=8).synthesize(4)
    model = FourierLoop(period=4).fit(np.zeros((8, 4, 4), np.float32))
    with pytest.raises(ValueError, match="num_frames must be >= 1, got 0"):
        model.synthesize(0)
    with pytest.raises(ValueError, match=r"frames: expected frames of shape \(4, 4, 1\)"):
        model.encode(np.zeros((2, 5, 5, 1), np.float32))
    with pytest.raises(ValueError, match="initial_frame, start: expected at most one"):
        model.synthesize(4, initial_frame=np.zeros((4, 4, 1), np.float32), start=0)


def test_docstring_example():
    assert doctest.testmod(fourier_loop_module).failed == 0
