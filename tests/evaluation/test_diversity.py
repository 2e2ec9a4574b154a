"""Variety metrics against closed forms, and on real digits: a loop of templates scores about
0, fresh real digits about 1."""

import doctest

import numpy as np
import pytest
import scipy.linalg

import dynamic_vae.evaluation.diversity as diversity_module
from dynamic_vae.evaluation.diversity import (cycle_distance, cycle_rms, diversity_metrics,
                                              feature_spread, frechet_distance,
                                              gaussian_frechet_distance)


def _random_covariance(rng, size):
    factor = rng.normal(size=(size, size))
    return factor @ factor.T + 0.1 * np.eye(size)


def test_frechet_distance_of_diagonal_gaussians_is_the_closed_form(rng):
    # For commuting (diagonal) covariances (S_a S_b)^(1/2) = diag(sqrt(a b)), so the distance
    # is |mu_a - mu_b|^2 + sum (sqrt(a_i) - sqrt(b_i))^2.
    a, b = rng.uniform(0.1, 3, 5), rng.uniform(0.1, 3, 5)
    mu_a, mu_b = rng.normal(size=5), rng.normal(size=5)
    expected = np.sum((mu_a - mu_b) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert gaussian_frechet_distance(mu_a, np.diag(a), mu_b, np.diag(b)) == pytest.approx(
        expected, rel=1e-10)
    assert gaussian_frechet_distance(mu_a, np.diag(a), mu_a, np.diag(a)) == pytest.approx(
        0.0, abs=1e-10)


def test_frechet_distance_of_full_gaussians_matches_scipy_sqrtm(rng):
    cov_a, cov_b = _random_covariance(rng, 6), _random_covariance(rng, 6)
    mu_a, mu_b = rng.normal(size=6), rng.normal(size=6)
    cross = np.real(scipy.linalg.sqrtm(cov_a @ cov_b))
    expected = (np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b)
                - 2 * np.trace(cross))
    assert gaussian_frechet_distance(mu_a, cov_a, mu_b, cov_b) == pytest.approx(expected,
                                                                                rel=1e-8)
    # Symmetric in its two Gaussians.
    assert gaussian_frechet_distance(mu_b, cov_b, mu_a, cov_a) == pytest.approx(expected,
                                                                                rel=1e-8)


def test_frechet_distance_of_samples_approaches_the_gaussians(rng):
    mu_b = np.array([1.0, -2.0, 0.5])
    cov_a, cov_b = np.diag([1.0, 4.0, 0.25]), np.diag([2.0, 1.0, 1.0])
    a = rng.multivariate_normal(np.zeros(3), cov_a, size=200_000)
    b = rng.multivariate_normal(mu_b, cov_b, size=200_000)
    expected = np.sum(mu_b ** 2) + np.sum((np.sqrt([1, 4, 0.25]) - np.sqrt([2, 1, 1])) ** 2)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=0.02)


def test_feature_spread_is_the_root_trace_of_the_covariance(rng):
    features = rng.normal(size=(50, 4)) * [1, 2, 3, 4]
    assert feature_spread(features) == pytest.approx(
        np.sqrt(np.trace(np.cov(features, rowvar=False))), rel=1e-12)
    assert feature_spread(np.ones((5, 3))) == 0.0


def test_diversity_metrics_known_answers(rng):
    # Two classes of real features N(0, I) and N(5, I); class 1's synthesised features are
    # real-like, class 2's are one point repeated (a template).
    real = np.concatenate([rng.normal(size=(400, 3)), 5 + rng.normal(size=(400, 3))])
    real_classes = np.repeat([1, 2], 400)
    synthesised = np.concatenate([rng.normal(size=(400, 3)), np.full((50, 3), 5.0)])
    synthesised_classes = np.repeat([1, 2], [400, 50])
    result = diversity_metrics(synthesised, synthesised_classes, real, real_classes, [1, 2, 3])
    per_class = result["per_class"]
    assert result["classes_scored"] == [1, 2] and result["classes_missing"] == [3]
    assert per_class["1"]["diversity_ratio"] == pytest.approx(1.0, abs=0.1)
    assert per_class["2"]["diversity_ratio"] == 0.0
    # A point mass at the mean against N(mu, I) in 3-D: tr(I) = 3, the floor is near 0.
    assert per_class["2"]["frechet_distance"] == pytest.approx(3.0, rel=0.15)
    assert per_class["1"]["frechet_distance_real"] < 0.2
    assert per_class["2"]["compared_frames"] == 50 and per_class["1"]["compared_frames"] == 200
    assert result["diversity_ratio"] == pytest.approx(
        np.mean([per_class["1"]["diversity_ratio"], 0.0]))
    # Seeded: the same split and draw every time.
    assert diversity_metrics(synthesised, synthesised_classes, real, real_classes,
                             [1, 2, 3]) == result
    with pytest.raises(ValueError, match=r"synthesised_classes: expected shape \(450,\)"):
        diversity_metrics(synthesised, synthesised_classes[:3], real, real_classes, [1])
    with pytest.raises(ValueError, match=r"real_features: expected 3 features per row"):
        diversity_metrics(synthesised, synthesised_classes, real[:, :2], real_classes, [1])
    with pytest.raises(ValueError, match="classes: expected at least one class"):
        diversity_metrics(synthesised, synthesised_classes, real, real_classes, [])
    empty = diversity_metrics(synthesised, synthesised_classes, real, real_classes, [7])
    assert empty["diversity_ratio"] is None and empty["classes_missing"] == [7]


def test_cycle_distance_closed_forms(rng):
    # A ramp y_t = c t: frames one period apart differ by c P everywhere.
    ramp = (0.001 * np.arange(40))[:, None, None, None] * np.ones((1, 4, 4, 1))
    assert cycle_rms(ramp, 6) == pytest.approx(0.006)
    loop = np.tile(rng.uniform(0, 1, (6, 4, 4, 1)), (5, 1, 1, 1))
    # Real cycles differing by independent noise of std s: RMS s sqrt(2).
    real = np.clip(loop + rng.normal(0, 0.01, loop.shape), 0, 1)
    result = cycle_distance(loop[np.newaxis], real, 6)
    assert result["cycle_distance_ratio"] == 0.0 and result["cycle_rms"] == 0.0
    assert result["cycle_rms_real"] == pytest.approx(0.01 * np.sqrt(2), rel=0.1)
    same = cycle_distance(np.stack([real, real]), real, 6)
    assert same["cycle_distance_ratio"] == pytest.approx(1.0)
    assert cycle_distance(loop[np.newaxis], loop, 6)["cycle_distance_ratio"] is None
    with pytest.raises(ValueError, match="frames: need more than period=6 frames"):
        cycle_rms(loop[:6], 6)
    with pytest.raises(ValueError, match="period: expected an integer >= 1 frames, got 0"):
        cycle_rms(loop, 0)


def test_docstring_examples():
    assert doctest.testmod(diversity_module).failed == 0


@pytest.fixture(scope="module")
def feature_extractor():
    """An untrained CNN of the classifier's architecture: any fixed feature map tells a
    template from fresh digits (the trained one is tested in the slow test below)."""
    import keras

    from dynamic_vae.evaluation.digit_classifier import build_digit_classifier

    keras.utils.set_random_seed(0)
    return build_digit_classifier()


def _template_loop_and_fresh_digits(classifier, cycle="1234", frames=800,
                                    classifier_labels=False):
    """`{name: (features, classes)}` of a template loop and two fresh real sequences, classed
    by the digit each frame shows, or with `classifier_labels` by the classifier's reading."""
    from dynamic_vae.data import counting_mnist
    from dynamic_vae.evaluation.digit_classifier import digit_features

    def featured(images, digits):
        features, probabilities = digit_features(classifier, images)
        return features, probabilities.argmax(axis=-1) if classifier_labels else digits

    # A loop of one real image per digit, replayed.
    templates, template_digits = counting_mnist(cycle, len(cycle), seed=5)
    loop = np.tile(templates, (frames // len(cycle), 1, 1, 1))
    loop_digits = np.tile(template_digits, frames // len(cycle))
    fresh, fresh_digits = counting_mnist(cycle, frames, seed=1)
    real, real_digits = counting_mnist(cycle, frames, seed=2)
    return {name: featured(images, digits)
            for name, (images, digits) in {"loop": (loop, loop_digits),
                                           "fresh": (fresh, fresh_digits),
                                           "real": (real, real_digits)}.items()}


def test_a_template_loop_scores_zero_and_fresh_real_digits_one(feature_extractor):
    """Classed by the digit each frame shows (the sequence's own digits)."""
    sets = _template_loop_and_fresh_digits(feature_extractor)
    digits = [1, 2, 3, 4]
    loop = diversity_metrics(*sets["loop"], *sets["real"], digits)
    fresh = diversity_metrics(*sets["fresh"], *sets["real"], digits)
    assert loop["classes_scored"] == digits and fresh["classes_scored"] == digits
    assert loop["diversity_ratio"] < 0.05
    assert 0.9 < fresh["diversity_ratio"] < 1.1
    # Fresh real digits sit at the real-vs-real floor; the loop far above it.
    assert fresh["frechet_distance"] < 1.3 * fresh["frechet_distance_real"]
    assert loop["frechet_distance"] > 3 * loop["frechet_distance_real"]


@pytest.mark.slow
def test_with_the_trained_classifier_and_its_own_labels(tmp_path):
    """The evaluation's setting: the project's classifier, frames classed by its reading."""
    from dynamic_vae.evaluation.digit_classifier import load_digit_classifier

    classifier, _ = load_digit_classifier(tmp_path)
    sets = _template_loop_and_fresh_digits(classifier, classifier_labels=True)
    digits = [1, 2, 3, 4]
    loop = diversity_metrics(*sets["loop"], *sets["real"], digits)
    fresh = diversity_metrics(*sets["fresh"], *sets["real"], digits)
    assert loop["diversity_ratio"] < 0.05
    assert 0.85 < fresh["diversity_ratio"] < 1.15
    assert fresh["frechet_distance"] < 1.5 * fresh["frechet_distance_real"]
    assert loop["frechet_distance"] > 3 * loop["frechet_distance_real"]
