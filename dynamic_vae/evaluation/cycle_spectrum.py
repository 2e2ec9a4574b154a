"""Does the spectrum of A hold a p-cycle? A process that repeats every p frames needs
eigenvalues near exp(+-2 pi i k / p), k = 1 .. floor(p / 2), with modulus near 1."""

from __future__ import annotations

from typing import Any

import numpy as np


def cycle_eigenvalue_match(eigenvalues: np.ndarray, period: int) -> dict[str, Any]:
    """For every harmonic k of a `period`-cycle, the eigenvalue nearest (in the complex plane)
    to exp(2 pi i k / period): right angle and modulus near 1 both count.

    Args:
        eigenvalues: complex eigenvalues of A (conjugate pairs are matched by |angle|).
        period: p >= 2.

    Returns:
        `harmonics`: per k, `target_degrees`, `nearest_degrees`, `error_degrees`, `modulus`;
        `max_error_degrees` over k and `min_modulus` of the matched eigenvalues.
    """
    eigenvalues = np.asarray(eigenvalues, dtype=np.complex128).ravel()
    if period < 2:
        raise ValueError(f"period must be >= 2, got {period}")
    if len(eigenvalues) == 0:
        raise ValueError("eigenvalues: got none")
    angles = np.abs(np.angle(eigenvalues))
    # Conjugates carry the same information: fold every eigenvalue into the upper half-plane.
    folded = np.abs(eigenvalues) * np.exp(1j * angles)
    harmonics = []
    for k in range(1, period // 2 + 1):
        target = 2 * np.pi * k / period
        best = int(np.argmin(np.abs(folded - np.exp(1j * target))))
        harmonics.append({
            "k": k,
            "target_degrees": float(np.degrees(target)),
            "nearest_degrees": float(np.degrees(angles[best])),
            "error_degrees": float(np.degrees(abs(angles[best] - target))),
            "modulus": float(abs(eigenvalues[best])),
            "distance": float(abs(folded[best] - np.exp(1j * target))),
        })
    return {
        "period": int(period),
        "harmonics": harmonics,
        "max_error_degrees": max(h["error_degrees"] for h in harmonics),
        "min_modulus": min(h["modulus"] for h in harmonics),
    }
