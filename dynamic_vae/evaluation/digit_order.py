"""Digit order of synthesised counting sequences, as read by the project's digit classifier."""

from __future__ import annotations

from typing import Any

import numpy as np

from dynamic_vae.evaluation.digit_classifier import transition_accuracy


def digit_order_metrics(digits: np.ndarray, confidences: np.ndarray, cycle: str,
                        legible_threshold: float = 0.9) -> dict[str, Any]:
    """Transition accuracy and legibility of sequences `(S, T)` of classified digits.

    Args:
        digits: `(S, T)` (or `(T,)`) classified digits, one row per synthesised sequence.
        confidences: the classifier's probability of each digit, same shape.
        cycle: the digit cycle, e.g. "1234".
        legible_threshold: a frame is legible when its confidence exceeds this.

    Returns:
        `transition_accuracy` (mean over sequences) and its per-sequence values and standard
        deviation; `mean_confidence` and `legible_fraction`; `in_cycle_fraction` (frames read
        as a digit of the cycle at all).
    """
    digits = np.atleast_2d(np.asarray(digits))
    confidences = np.atleast_2d(np.asarray(confidences, dtype=np.float64))
    if digits.shape != confidences.shape:
        raise ValueError(f"digits {digits.shape} and confidences {confidences.shape} must have "
                         "one shape")
    per_sequence = [transition_accuracy(row, cycle) for row in digits]
    members = [int(c) for c in str(cycle)]
    return {
        "transition_accuracy": float(np.mean(per_sequence)),
        "transition_accuracy_std": float(np.std(per_sequence)),
        "per_sequence_transition_accuracy": [float(v) for v in per_sequence],
        "mean_confidence": float(confidences.mean()),
        "legible_fraction": float(np.mean(confidences > legible_threshold)),
        "legible_threshold": legible_threshold,
        "in_cycle_fraction": float(np.isin(digits, members).mean()),
    }
