"""What the learned transition says: eigenvalues of A, spectral radius, implied periods.

An eigenvalue r * exp(i * theta) of A turns its latent plane by theta per frame, so a process
that cycles through p states shows eigenvalues near exp(+-2 pi i k / p), i.e. periods
2 pi / |theta| near p / k.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def stationarity_residual(transition_matrix: np.ndarray, noise_matrix: np.ndarray) -> float:
    """||A A^T + B B^T - I||_F."""
    a = np.asarray(transition_matrix, dtype=np.float64)
    b = np.asarray(noise_matrix, dtype=np.float64)
    return float(np.linalg.norm(a @ a.T + b @ b.T - np.eye(len(a)), ord="fro"))


def spectrum_report(transition_matrix: np.ndarray, noise_matrix: np.ndarray) -> dict[str, Any]:
    """Eigenvalues of A (sorted by modulus, largest first) and what they imply.

    Returns:
        A JSON-ready dict: `eigenvalues` as `[real, imag]` pairs, `moduli`, `angles` (radians),
        `periods` (2 pi / |angle|, `None` for real eigenvalues), `spectral_radius`,
        `spectral_norm` (largest singular value; <= 1 is required by eq. 8),
        `stationarity_residual`.
    """
    a = np.asarray(transition_matrix, dtype=np.float64)
    eigenvalues = np.linalg.eigvals(a)
    order = np.lexsort((-eigenvalues.imag, -np.abs(eigenvalues)))
    eigenvalues = eigenvalues[order]
    angles = np.angle(eigenvalues)
    periods = [None if abs(t) < 1e-6 else float(2 * np.pi / abs(t)) for t in angles]
    return {
        "eigenvalues": [[float(v.real), float(v.imag)] for v in eigenvalues],
        "moduli": [float(v) for v in np.abs(eigenvalues)],
        "angles": [float(t) for t in angles],
        "periods": periods,
        "spectral_radius": float(np.abs(eigenvalues).max()),
        "spectral_norm": float(np.linalg.norm(a, ord=2)),
        "stationarity_residual": stationarity_residual(a, noise_matrix),
    }


def format_spectrum(report: dict[str, Any]) -> str:
    """A human-readable table of a `spectrum_report`."""
    lines = [
        f"spectral radius of A:   {report['spectral_radius']:.4f}",
        f"spectral norm of A:     {report['spectral_norm']:.4f}",
        f"||AA^T + BB^T - I||_F:  {report['stationarity_residual']:.4g}",
        "",
        f"{'eigenvalue':>24}  {'modulus':>8}  {'angle/deg':>9}  {'period':>8}",
    ]
    for (re, im), modulus, angle, period in zip(report["eigenvalues"], report["moduli"],
                                                report["angles"], report["periods"]):
        period_text = "-" if period is None else f"{period:.2f}"
        lines.append(f"{re:+11.4f} {im:+11.4f}i  {modulus:8.4f}  {np.degrees(angle):9.2f}  "
                     f"{period_text:>8}")
    return "\n".join(lines)
