"""Variety of synthesised frames: is a model drawing new digits, or replaying templates?

Counting runs (`diversity_metrics`), in the features of the project's digit classifier
(`dynamic_vae.evaluation.digit_classifier`, its penultimate layer, 128 values per frame).
A frame's class is the digit the classifier reads in it; frames read as a digit outside the
cycle are left out. Per digit c of the cycle:

    spread(F)    = sqrt(trace(cov(F)))                     (how far apart the frames are)
    ratio_c      = spread(synthesised_c) / spread(real_c)  (1: as varied as real digits;
                                                           0: one template per digit)
    frechet(F, G) = |mu_F - mu_G|^2 + tr(S_F + S_G - 2 (S_F S_G)^(1/2))

the Frechet distance between Gaussians fitted to two sets of features (Heusel et al., 2017:
the FID, with this classifier instead of Inception). The real frames of each class are
split at random into two disjoint halves A and B: `frechet_distance` compares as many
synthesised frames as A holds (all of them, if fewer: the class's `compared_frames`) with B,
and `frechet_distance_real` compares A with B (the floor two sets of real digits of that
size reach). Each is averaged over the classes.

Video runs of a known period P (`cycle_distance`): the RMS pixel difference between frames
one period apart, `rms(y_{t+P} - y_t)`, of synthesised sequences over that of the real clip.
A loop that replays one cycle scores 0; a model whose cycles differ as the real clip's do,
about 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

# The fewest frames of a class that give a spread (a covariance needs two).
MIN_CLASS_FRAMES = 2


def _features_2d(features: np.ndarray, name: str) -> np.ndarray:
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(f"{name}: expected features (N, D), got shape {features.shape}")
    if not np.isfinite(features).all():
        raise ValueError(f"{name}: holds NaN or inf values")
    return features


def feature_spread(features: np.ndarray) -> float:
    """`sqrt(trace(cov))` of features `(N, D)`, N >= 2: the RMS distance of the features
    to their mean (with N - 1 in the denominator).

    Example:
    >>> feature_spread(np.array([[0.0, 0.0], [2.0, 0.0]]))
    1.4142135623730951
    """
    features = _features_2d(features, "features")
    if len(features) < MIN_CLASS_FRAMES:
        raise ValueError(f"features: need at least {MIN_CLASS_FRAMES} rows for a spread, got "
                         f"{len(features)}")
    centred = features - features.mean(axis=0)
    return float(np.sqrt((centred ** 2).sum() / (len(features) - 1)))


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.maximum(values, 0.0))) @ vectors.T


def gaussian_frechet_distance(mean_a: np.ndarray, cov_a: np.ndarray, mean_b: np.ndarray,
                              cov_b: np.ndarray) -> float:
    """The Frechet (2-Wasserstein squared) distance between N(mean_a, cov_a) and
    N(mean_b, cov_b): `|mean_a - mean_b|^2 + tr(cov_a + cov_b - 2 (cov_a cov_b)^(1/2))`.

    tr((cov_a cov_b)^(1/2)) is computed as the sum of the square roots of the eigenvalues of
    the symmetric cov_a^(1/2) cov_b cov_a^(1/2), which has the same eigenvalues (so no
    complex matrix square root of a non-symmetric product is needed).

    Example:
    >>> gaussian_frechet_distance(np.zeros(2), np.eye(2), np.ones(2), 4 * np.eye(2))
    4.0
    """
    mean_a, mean_b = np.asarray(mean_a, np.float64), np.asarray(mean_b, np.float64)
    cov_a, cov_b = np.asarray(cov_a, np.float64), np.asarray(cov_b, np.float64)
    size = len(mean_a)
    for name, value, shape in (("mean_b", mean_b, (size,)), ("cov_a", cov_a, (size, size)),
                               ("cov_b", cov_b, (size, size))):
        if value.shape != shape:
            raise ValueError(f"{name}: expected shape {shape} (from mean_a), got "
                             f"{value.shape}")
    root_a = _psd_sqrt(cov_a)
    middle = root_a @ cov_b @ root_a
    cross = np.sqrt(np.maximum(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0)).sum()
    distance = ((mean_a - mean_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * cross
    return float(max(distance, 0.0))  # rounding can leave -1e-12 for identical inputs


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """`gaussian_frechet_distance` of Gaussians fitted (mean, covariance with N - 1) to two
    sets of features `(N_a, D)` and `(N_b, D)`, each N >= 2."""
    features_a = _features_2d(features_a, "features_a")
    features_b = _features_2d(features_b, "features_b")
    if features_a.shape[1] != features_b.shape[1]:
        raise ValueError(f"features_b: expected {features_a.shape[1]} features per row (as "
                         f"features_a), got {features_b.shape[1]}")
    for name, features in (("features_a", features_a), ("features_b", features_b)):
        if len(features) < MIN_CLASS_FRAMES:
            raise ValueError(f"{name}: need at least {MIN_CLASS_FRAMES} rows, got "
                             f"{len(features)}")
    return gaussian_frechet_distance(features_a.mean(0), np.cov(features_a, rowvar=False),
                                     features_b.mean(0), np.cov(features_b, rowvar=False))


def diversity_metrics(synthesised_features: np.ndarray, synthesised_classes: np.ndarray,
                      real_features: np.ndarray, real_classes: np.ndarray,
                      classes: Sequence[int], seed: int = 0) -> dict[str, Any]:
    """Spread ratio and Frechet distances of synthesised against real frames, per class.

    Args:
        synthesised_features: `(N, D)` features of the synthesised frames.
        synthesised_classes: `(N,)` their classes (e.g. the digit the classifier reads).
        real_features: `(M, D)` features of real frames.
        real_classes: `(M,)` their classes.
        classes: the classes to score (e.g. the digits of the cycle); frames of other
            classes are left out.
        seed: the random split of each class's real frames into halves A and B.

    Returns:
        `diversity_ratio`, `frechet_distance`, `frechet_distance_real` (means over the
        classes scored; `None` when none is), `classes_scored` and `classes_missing` (too
        few synthesised or real frames), and `per_class` (each class's three values and
        frame counts).

    Example:
    >>> metrics = diversity_metrics(f_synth, digits_synth, f_real, digits_real, [1, 2, 3])
    ... # doctest: +SKIP
    >>> metrics["diversity_ratio"]                       # doctest: +SKIP
    0.93
    """
    synthesised_features = _features_2d(synthesised_features, "synthesised_features")
    real_features = _features_2d(real_features, "real_features")
    synthesised_classes = np.asarray(synthesised_classes)
    real_classes = np.asarray(real_classes)
    if synthesised_classes.shape != (len(synthesised_features),):
        raise ValueError(f"synthesised_classes: expected shape ({len(synthesised_features)},)"
                         f" (one per feature row), got {synthesised_classes.shape}")
    if real_classes.shape != (len(real_features),):
        raise ValueError(f"real_classes: expected shape ({len(real_features)},) (one per "
                         f"feature row), got {real_classes.shape}")
    if real_features.shape[1] != synthesised_features.shape[1]:
        raise ValueError(f"real_features: expected {synthesised_features.shape[1]} features "
                         f"per row (as synthesised_features), got {real_features.shape[1]}")
    classes = [int(c) for c in classes]
    if not classes:
        raise ValueError("classes: expected at least one class, got none")
    rng = np.random.default_rng(seed)
    per_class, missing = {}, []
    for label in classes:
        synthesised = synthesised_features[synthesised_classes == label]
        real = real_features[real_classes == label]
        # Halves A and B of at least 2 frames each, and as many synthesised frames as A.
        if len(synthesised) < MIN_CLASS_FRAMES or len(real) < 2 * MIN_CLASS_FRAMES:
            missing.append(label)
            continue
        order = rng.permutation(len(real))
        half_a, half_b = real[order[:len(real) // 2]], real[order[len(real) // 2:]]
        # The same number of frames on both sides of both distances: the Frechet distance
        # of finite samples grows as they shrink, and the floor must be read at the same
        # size.
        drawn = synthesised[rng.permutation(len(synthesised))[:len(half_a)]]
        per_class[str(label)] = {
            "diversity_ratio": feature_spread(synthesised) / max(feature_spread(real), 1e-12),
            "frechet_distance": frechet_distance(drawn, half_b),
            "frechet_distance_real": frechet_distance(half_a, half_b),
            "synthesised_frames": int(len(synthesised)), "real_frames": int(len(real)),
            "compared_frames": int(len(drawn))}

    def mean_of(key: str) -> float | None:
        values = [c[key] for c in per_class.values()]
        return float(np.mean(values)) if values else None

    return {"diversity_ratio": mean_of("diversity_ratio"),
            "frechet_distance": mean_of("frechet_distance"),
            "frechet_distance_real": mean_of("frechet_distance_real"),
            "classes_scored": [int(c) for c in per_class], "classes_missing": missing,
            "per_class": per_class}


def cycle_rms(frames: np.ndarray, period: int) -> float:
    """RMS pixel difference between the frames of `frames` `(T, ...)` one period apart,
    over every t with t + period < T."""
    frames = np.asarray(frames, dtype=np.float64)
    if int(period) != period or period < 1:
        raise ValueError(f"period: expected an integer >= 1 frames, got {period}")
    period = int(period)
    if len(frames) <= period:
        raise ValueError(f"frames: need more than period={period} frames to compare frames "
                         f"one period apart, got {len(frames)}")
    return float(np.sqrt(np.mean((frames[period:] - frames[:-period]) ** 2)))


def cycle_distance(sequences: np.ndarray, real: np.ndarray, period: int) -> dict[str, Any]:
    """The cycle-to-cycle distance of synthesised sequences against the real clip's.

    Args:
        sequences: `(S, T, H, W, C)` synthesised sequences, pixels in [0, 1].
        real: `(T', H, W, C)` the real clip, pixels in [0, 1], T' > period.
        period: P, the cycle's length in frames.

    Returns:
        `cycle_distance_ratio` (the mean over sequences of `cycle_rms(sequence, P)`, over
        `cycle_rms(real, P)`; `None` when the real clip repeats exactly), `cycle_rms` (that
        mean), `cycle_rms_real` and `cycle_rms_per_sequence`.

    Example:
    >>> cycle_distance(np.tile(clip[:24], (1, 5, 1, 1, 1)), clip, 24)["cycle_distance_ratio"]
    ... # doctest: +SKIP
    0.0
    """
    sequences = np.asarray(sequences)
    if sequences.ndim < 3:
        raise ValueError(f"sequences: expected (S, T, ...) synthesised sequences, got shape "
                         f"{sequences.shape}")
    per_sequence = [cycle_rms(sequence, period) for sequence in sequences]
    real_rms = cycle_rms(real, period)
    synthesised = float(np.mean(per_sequence))
    return {"period": int(period),
            "cycle_distance_ratio": synthesised / real_rms if real_rms > 0 else None,
            "cycle_rms": synthesised, "cycle_rms_real": real_rms,
            "cycle_rms_per_sequence": per_sequence}
