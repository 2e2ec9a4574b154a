"""The evaluation metrics against answers computed by hand on constructed sequences."""

import numpy as np
import pytest

from dynamic_vae.evaluation import (cycle_eigenvalue_match, digit_order_metrics,
                                    k_step_prediction_errors, nearest_neighbour_distances,
                                    novelty_metrics, stability_metrics)
from dynamic_vae.evaluation.digit_order import cycle_phases
from dynamic_vae.evaluation.prediction import context_pairs, prediction_starts
from dynamic_vae.evaluation.run_evaluation import whitened_transition


def _cycling_frames(count=40, period=3, side=4):
    """Frame t is the constant image (t % period) / period."""
    levels = (np.arange(count) % period) / period
    return np.broadcast_to(levels[:, None, None, None], (count, side, side, 1)).astype(np.float32)


def test_prediction_errors_known_answers():
    frames = _cycling_frames()
    starts = prediction_starts(len(frames), max_step=5, count=10)
    assert starts.min() >= 1 and starts.max() + 5 < len(frames) and len(starts) == 10

    def oracle(pairs, steps):  # knows the cycle: reads the level of y_t, steps it on
        level = np.round(pairs[:, 1, 0, 0, 0] * 3).astype(int)
        return {k: np.broadcast_to((((level + k) % 3) / 3)[:, None, None, None],
                                   pairs[:, 1].shape) for k in steps}

    def grey(pairs, steps):
        return {k: np.full(pairs[:, 1].shape, 0.5) for k in steps}

    perfect = k_step_prediction_errors(oracle, frames, starts, steps=(1, 5))
    assert perfect["1"]["mse"] == 0 and perfect["5"]["mse"] == 0
    assert perfect["1"]["skill"] == 1.0
    levels = (np.arange(len(frames)) % 3) / 3
    for k in (1, 3):
        result = k_step_prediction_errors(grey, frames, starts, steps=(k,),
                                          mean_frame=np.zeros(frames.shape[1:]))[str(k)]
        np.testing.assert_allclose(result["mean_frame_mse"], np.mean(levels[starts + k] ** 2),
                                   rtol=1e-6)
        np.testing.assert_allclose(result["mse"], np.mean((0.5 - levels[starts + k]) ** 2),
                                   rtol=1e-6)
        np.testing.assert_allclose(result["persistence_mse"],
                                   np.mean((levels[starts] - levels[starts + k]) ** 2), atol=1e-7)
    # Three steps of a 3-cycle bring back the same frame: repeating it is perfect.
    assert k_step_prediction_errors(grey, frames, starts, steps=(3,))["3"]["persistence_mse"] == 0


def test_persistence_is_exact_on_a_constant_video_and_matches_a_ramp(rng):
    constant = np.full((30, 5, 5, 1), 0.4, np.float32)
    starts = prediction_starts(len(constant), max_step=10, count=12)

    def noise(pairs, steps):
        return {k: rng.random(pairs[:, 1].shape) for k in steps}

    errors = k_step_prediction_errors(noise, constant, starts)
    assert all(errors[k]["persistence_mse"] == 0.0 for k in ("1", "5", "10"))
    # y_t = c t everywhere: repeating y_t misses y_{t+k} by c k.
    ramp = np.broadcast_to((0.01 * np.arange(30, dtype=np.float32))[:, None, None, None],
                           constant.shape)
    errors = k_step_prediction_errors(noise, ramp, starts)
    for k in (1, 5, 10):
        assert errors[str(k)]["persistence_mse"] == pytest.approx((0.01 * k) ** 2, rel=1e-5)


def test_persistence_is_the_last_frame_scored_on_the_same_windows(rng):
    frames = rng.random((40, 6, 6, 1)).astype(np.float32)
    starts = prediction_starts(len(frames), max_step=10, count=20)

    def last_frame(pairs, steps):
        return {k: pairs[:, 1] for k in steps}

    for k, result in k_step_prediction_errors(last_frame, frames, starts).items():
        assert result["mse"] == result["persistence_mse"], k


def _texture_with_ar1_residual(count=500, side=16, coefficient=0.9, scale=0.03, seed=0):
    """A two-state rotation the linear texture fits, plus per-pixel AR(1) noise of slope
    `coefficient` and std `scale` that it cannot: frames `(count, side, side, 1)`."""
    noise_rng = np.random.default_rng(seed)
    t = np.arange(count)[:, None]
    plane, _ = np.linalg.qr(noise_rng.normal(size=(side * side, 2)))
    signal = 0.08 * side * (np.cos(2 * np.pi * t / 12) * plane[:, 0]
                            + np.sin(2 * np.pi * t / 12) * plane[:, 1])
    residual = np.empty((count, side * side))
    residual[0] = noise_rng.standard_normal(side * side)
    for i in range(1, count):
        residual[i] = (coefficient * residual[i - 1]
                       + np.sqrt(1 - coefficient ** 2) * noise_rng.standard_normal(side * side))
    return (0.5 + signal + scale * residual).reshape(count, side, side, 1)


@pytest.mark.parametrize("seed", [0, 1])
def test_the_residual_forecast_takes_the_ar1_part_off_the_linear_baselines_error(seed):
    """The best forecast of an AR(1) e_{t+k} from e_t is a^k e_t, which removes a^(2k) of its
    variance s^2 from the error of predicting no residual: the baseline's error falls by
    about s^2 a^(2k) at every k."""
    from dynamic_vae.baseline import LinearDynamicTexture
    from dynamic_vae.evaluation.prediction import linear_baseline_predictor

    coefficient, scale = 0.9, 0.03
    frames = _texture_with_ar1_residual(coefficient=coefficient, scale=scale, seed=seed)
    training, heldout = frames[:400], frames[400:]
    baseline = LinearDynamicTexture(latent_dim=2).fit(training)
    texture, info = baseline.fit_residual_texture(training, rank=64, seed=0)
    assert info["rank"] == 64
    starts = prediction_starts(len(heldout), max_step=10, count=200)
    plain = k_step_prediction_errors(linear_baseline_predictor(baseline), heldout, starts)
    forecast = k_step_prediction_errors(linear_baseline_predictor(baseline, texture),
                                        heldout, starts)
    for k in (1, 5, 10):
        gain = (plain[str(k)]["mse"] - forecast[str(k)]["mse"]) / scale ** 2
        assert forecast[str(k)]["mse"] < plain[str(k)]["mse"], k
        assert gain == pytest.approx(coefficient ** (2 * k), abs=0.15), k
    # At k = 0 the forecast is the residual itself: the frame comes back exactly.
    pairs = context_pairs(heldout, starts)
    np.testing.assert_allclose(
        linear_baseline_predictor(baseline, texture)(pairs, [0])[0], heldout[starts],
        atol=1e-6)


def test_prediction_inputs_are_checked():
    frames = _cycling_frames(count=12)
    np.testing.assert_array_equal(context_pairs(frames, np.array([1, 4]))[1, 0], frames[3])
    with pytest.raises(ValueError, match="too few"):
        prediction_starts(12, max_step=11, count=5)
    with pytest.raises(ValueError, match="starts"):
        k_step_prediction_errors(lambda p, s: {}, frames, np.array([0]), steps=(1,))
    with pytest.raises(ValueError, match="starts"):
        k_step_prediction_errors(lambda p, s: {}, frames, np.array([5]), steps=(10,))


def _checkerboards(rng, count, amplitude, side=6):
    """+-checkerboard frames around 0.5: every frame has pixel mean 0.5 and std amplitude."""
    board = np.indices((side, side)).sum(axis=0) % 2 * 2 - 1
    signs = rng.choice([-1, 1], size=count)
    amplitude = np.broadcast_to(amplitude, (count,))
    return (0.5 + (signs * amplitude)[:, None, None] * board)[..., None]


def test_stability_known_answers(rng):
    training = _checkerboards(rng, 200, 0.2)
    healthy = _checkerboards(rng, 100, 0.2)
    fading = _checkerboards(rng, 100, np.r_[np.full(75, 0.2), np.full(25, 0.1)])
    result = stability_metrics(np.stack([healthy, fading]), training)
    np.testing.assert_allclose(result["per_seed_std_ratio"], [1.0, 0.5])
    np.testing.assert_allclose(result["std_ratio"], 0.75)
    np.testing.assert_allclose(result["early_std_ratio"], 1.0)
    np.testing.assert_allclose(result["drift_ratio"], 0.75)
    np.testing.assert_allclose(result["mean_ratio"], 1.0)
    assert result["alive_fraction"] == 0.5 and result["alive"] is False
    assert stability_metrics(healthy, training)["alive"] is True
    # A frozen sequence keeps its per-frame std but has no temporal variation.
    frozen = np.repeat(healthy[:1], 100, axis=0)
    assert stability_metrics(frozen, training)["temporal_std_ratio"] < 1e-9
    with pytest.raises(ValueError, match="do not match"):
        stability_metrics(healthy[:, :3], training)


def test_nearest_neighbours_match_brute_force(rng):
    queries, references = rng.random((7, 3, 3, 1)), rng.random((11, 3, 3, 1))
    brute = np.sqrt(((queries.reshape(7, 1, -1) - references.reshape(1, 11, -1)) ** 2)
                    .mean(axis=-1))
    np.testing.assert_allclose(nearest_neighbour_distances(queries, references, batch_size=3),
                               brute.min(axis=1))
    exclude = brute.argmin(axis=1)
    brute[np.arange(7), exclude] = np.inf
    np.testing.assert_allclose(nearest_neighbour_distances(queries, references, exclude),
                               brute.min(axis=1))


def test_novelty_known_answers():
    # Constant frames 0.0, 0.1, ..., 1.0 (each twice): leave-one-out NN distance 0.1 after
    # de-duplication.
    levels = np.repeat(np.linspace(0, 1, 11), 2)
    training = np.broadcast_to(levels[:, None, None, None], (22, 2, 2, 1))
    between = np.broadcast_to((np.linspace(0, 0.9, 10) + 0.05)[:, None, None, None],
                              (10, 2, 2, 1))
    result = novelty_metrics(between, training)
    assert result["distinct_training_frames"] == 11
    np.testing.assert_allclose(result["training_median"], 0.1, atol=1e-6)
    np.testing.assert_allclose(result["synthesised_median"], 0.05, atol=1e-6)
    np.testing.assert_allclose(result["ratio"], 0.5, atol=1e-5)
    # Halfway between two training frames is new; within a quarter of the spacing is a copy.
    assert result["near_copy_fraction"] == 0.0
    np.testing.assert_allclose(result["near_copy_threshold"], 0.025, atol=1e-6)
    copies = novelty_metrics(np.concatenate([training[:4], training[:4] + 0.01, between[:2]]),
                             training)
    np.testing.assert_allclose(copies["near_copy_fraction"], 8 / 10)


def test_digit_order_known_answers():
    digits = np.array([[1, 2, 3, 4, 1], [1, 1, 2, 7, 4]])
    confidence = np.array([[0.95, 0.95, 0.5, 0.99, 0.2], [0.91, 0.9, 0.3, 0.8, 1.0]])
    result = digit_order_metrics(digits, confidence, "1234")
    np.testing.assert_allclose(result["per_sequence_transition_accuracy"], [1.0, 0.25])
    np.testing.assert_allclose(result["transition_accuracy"], 0.625)
    np.testing.assert_allclose(result["legible_fraction"], 5 / 10)
    np.testing.assert_allclose(result["mean_confidence"], confidence.mean())
    np.testing.assert_allclose(result["in_cycle_fraction"], 9 / 10)
    with pytest.raises(ValueError, match="one shape"):
        digit_order_metrics(digits, confidence[:, :3], "1234")


def test_cycle_phases_follow_the_majority_offset():
    rng = np.random.default_rng(0)
    cycle, offset = "0123456789", 7
    truth = (offset + np.arange(200)) % 10
    digits = truth.copy()
    wrong = rng.choice(200, 60, replace=False)       # 30% misread, to random other digits
    digits[wrong] = (digits[wrong] + rng.integers(1, 10, 60)) % 10
    np.testing.assert_array_equal(cycle_phases(digits, cycle), truth)
    # A digit outside the cycle (7) gets its phase from the rest of the sequence.
    np.testing.assert_array_equal(cycle_phases(np.array([9, 5, 6, 7, 9]), "5689"), [3, 0, 1, 2, 3])
    with pytest.raises(ValueError, match="digits: expected a non-empty 1-D"):
        cycle_phases(np.zeros((2, 3)), "1234")


def test_cycle_eigenvalue_match():
    eigenvalues = np.array([0.95j, -0.95j, -0.3, 0.6 + 0.05j, 0.6 - 0.05j])
    result = cycle_eigenvalue_match(eigenvalues, period=4)
    first, second = result["harmonics"]
    assert (first["k"], second["k"]) == (1, 2)
    np.testing.assert_allclose([first["nearest_degrees"], first["modulus"]], [90.0, 0.95])
    np.testing.assert_allclose([second["nearest_degrees"], second["modulus"]], [180.0, 0.3])
    np.testing.assert_allclose(result["min_modulus"], 0.3)
    np.testing.assert_allclose(first["distance"], 0.05, atol=1e-12)
    assert len(cycle_eigenvalue_match(eigenvalues, period=10)["harmonics"]) == 5


def test_whitened_baseline_is_stationary(rng):
    from dynamic_vae.baseline import LinearDynamicTexture
    from dynamic_vae.spectrum import stationarity_residual

    # A stationary system observed through an unscaled, non-orthogonal C.
    a = 0.9 * np.array([[0.0, -1.0], [1.0, 0.0]])
    b = np.sqrt(1 - 0.81) * np.eye(2)
    x = np.zeros((4000, 2))
    for t in range(len(x) - 1):
        x[t + 1] = a @ x[t] + b @ rng.normal(size=2)
    c = np.array([[3.0, 0.5], [0.2, 1.0], [1.0, -1.0], [0.0, 2.0]])
    frames = (0.5 + 0.02 * x @ c.T).reshape(-1, 2, 2, 1)
    model = LinearDynamicTexture(latent_dim=2, clip_spectrum=False).fit(frames)
    assert stationarity_residual(model.transition_matrix, model.noise_matrix) > 0.3
    wa, wb = whitened_transition(model)
    assert stationarity_residual(wa, wb) < 0.1
    np.testing.assert_allclose(np.sort_complex(np.linalg.eigvals(wa)),
                               np.sort_complex(np.linalg.eigvals(model.transition_matrix)))
