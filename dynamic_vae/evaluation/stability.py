"""Long-horizon stability: does a synthesised sequence keep the training frames' statistics?

Per frame we take the mean and the standard deviation of its pixels. A sequence that decays
towards the mean image loses per-frame contrast (std ratio -> 0); one that blows up gains it.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def per_frame_statistics(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`(mean, std)` over the pixels of each frame of `(T, ...)` frames, each `(T,)`."""
    flat = np.asarray(frames, dtype=np.float64).reshape(len(frames), -1)
    return flat.mean(axis=1), flat.std(axis=1)


def stability_metrics(synthesised: np.ndarray, training: np.ndarray, late_fraction: float = 0.25,
                      tolerance: float = 0.2) -> dict[str, Any]:
    """Compares the last `late_fraction` of synthesised sequences with the training frames.

    Args:
        synthesised: `(S, T, H, W, C)` (or one sequence `(T, H, W, C)`), float in [0, 1].
        training: `(N, H, W, C)` float in [0, 1].
        late_fraction: the part of each sequence (from its end) that is judged.
        tolerance: a sequence is `alive` when its late per-frame std is within this relative
            distance of the training frames' mean per-frame std.

    Returns:
        A JSON-ready dict: `mean_ratio` and `std_ratio` (late synthesised over training, 1 is
        perfect), `early_std_ratio` (the first `late_fraction`), `drift_ratio` (late over
        early std: how far the sequence drifts along its own length),
        `temporal_std_ratio` (pixel std over time, late synthesised over training: 0 means the
        sequence froze), `alive`, and the per-seed `std_ratio`s.
    """
    synthesised = np.asarray(synthesised, dtype=np.float64)
    if synthesised.ndim == np.ndim(training):
        synthesised = synthesised[np.newaxis]
    if synthesised.shape[2:] != np.shape(training)[1:]:
        raise ValueError(f"synthesised frames of shape {synthesised.shape[2:]} do not match "
                         f"training frames of shape {np.shape(training)[1:]}")
    if not 0 < late_fraction <= 1:
        raise ValueError(f"late_fraction must be in (0, 1], got {late_fraction}")
    length = synthesised.shape[1]
    span = max(2, int(round(length * late_fraction)))
    if length < span:
        raise ValueError(f"synthesised sequences need at least {span} frames, got {length}")
    train_mean, train_std = per_frame_statistics(training)
    train_temporal = float(np.asarray(training, dtype=np.float64).std(axis=0).mean())
    per_seed = []
    for sequence in synthesised:
        mean, std = per_frame_statistics(sequence)
        late = sequence[-span:]
        per_seed.append({
            "mean_ratio": float(mean[-span:].mean() / train_mean.mean()),
            "std_ratio": float(std[-span:].mean() / train_std.mean()),
            "early_std_ratio": float(std[:span].mean() / train_std.mean()),
            "temporal_std_ratio": float(late.std(axis=0).mean() / train_temporal)
            if train_temporal > 0 else 0.0,
        })
    summary = {key: float(np.mean([row[key] for row in per_seed])) for key in per_seed[0]}
    # Blurry frames have a low std from the first frame on; drift is the change after that.
    summary["drift_ratio"] = (summary["std_ratio"] / summary["early_std_ratio"]
                              if summary["early_std_ratio"] > 0 else 0.0)
    summary["alive"] = bool(abs(summary["std_ratio"] - 1.0) <= tolerance)
    summary["alive_fraction"] = float(np.mean(
        [abs(row["std_ratio"] - 1.0) <= tolerance for row in per_seed]))
    summary["per_seed_std_ratio"] = [row["std_ratio"] for row in per_seed]
    summary["tolerance"] = tolerance
    summary["late_frames"] = span
    return summary
