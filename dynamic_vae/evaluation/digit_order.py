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


def cycle_phases(digits: np.ndarray, cycle: str) -> np.ndarray:
    """`(T,)` the phase in `cycle` (0 .. P - 1) each frame of a sequence should show: the
    phases advance by one a frame from the offset most classified digits agree on.

    A frame whose digit is not in the cycle, or is read as another digit, still gets the
    phase the rest of the sequence gives it, so its intended digit is `cycle[phase]`.

    Args:
        digits: `(T,)` classified digits of one sequence.
        cycle: the digit cycle, e.g. "1234".

    Example:
    >>> cycle_phases(np.array([3, 4, 1, 9, 3]), "1234")
    array([2, 3, 0, 1, 2])
    """
    digits = np.asarray(digits)
    if digits.ndim != 1 or len(digits) == 0:
        raise ValueError(f"digits: expected a non-empty 1-D sequence, got shape {digits.shape}")
    period = len(cycle)
    positions = np.array([cycle.find(str(int(d))) for d in digits])
    times = np.arange(len(digits))
    known = positions >= 0
    offset = int(np.bincount((positions[known] - times[known]) % period,
                             minlength=period).argmax())
    return (offset + times) % period
