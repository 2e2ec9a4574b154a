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


def cycle_ceiling(eigenvalue: complex, period: int, num_samples: int = 200_000,
                  seed: int = 0) -> float:
    """Best transition accuracy any decoder can reach when one latent plane carries a p-cycle.

    A stationary process with A A^T + B B^T = I has x_t ~ N(0, I); in the invariant plane of an
    eigenvalue r e^{i theta} it turns by theta and shrinks by r per frame, and the innovation
    adds N(0, (1 - r^2) I) back. An ideal decoder reads the state's sector (p sectors of
    2 pi / p); a step is right when the sector advances by exactly one. Near the centre of the
    plane the innovation moves states across sectors, so even a perfect decoder errs there:
    with r = 0.98 a 4-cycle tops out near 0.88, and 0.95 needs r >= 0.997. Comparing this with
    a model's measured accuracy separates errors of the dynamics from errors of the decoder.

    Args:
        eigenvalue: the eigenvalue of A whose plane carries the cycle.
        period: the cycle length p >= 2.
        num_samples: Monte-Carlo draws (the standard error is below 0.002 at the default).
        seed: seed of the draws.

    Returns:
        The fraction of one-step transitions whose sector advances by one, in [0, 1].
    """
    if int(period) < 2:
        raise ValueError(f"period must be >= 2, got {period}")
    modulus, angle = abs(eigenvalue), float(np.angle(eigenvalue))
    if not 0 <= modulus <= 1:
        raise ValueError(f"eigenvalue modulus must be in [0, 1] for a stationary process, got "
                         f"{modulus:.4f}")
    rng = np.random.default_rng(seed)
    # Complex numbers are points of the plane: multiplying by the eigenvalue turns and shrinks.
    state = rng.standard_normal(num_samples) + 1j * rng.standard_normal(num_samples)
    innovation = rng.standard_normal(num_samples) + 1j * rng.standard_normal(num_samples)
    following = eigenvalue * state + np.sqrt(1.0 - modulus ** 2) * innovation
    width = 2 * np.pi / int(period)
    direction = 1 if angle >= 0 else -1

    def sector(points: np.ndarray) -> np.ndarray:
        return np.floor(np.mod(direction * np.angle(points), 2 * np.pi) / width).astype(int)

    return float(np.mean(sector(following) == (sector(state) + 1) % int(period)))


def cycle_eigenvalue(transition_matrix: np.ndarray, period: int) -> complex:
    """The eigenvalue of A that best carries a p-cycle: of those whose angle is nearest to
    +-2 pi / p, the one of largest modulus."""
    eigenvalues = np.linalg.eigvals(np.asarray(transition_matrix, dtype=np.float64))
    target = 2 * np.pi / int(period)
    distance = np.round(np.abs(np.abs(np.angle(eigenvalues)) - target), 2)
    candidates = eigenvalues[distance == distance.min()]
    return complex(candidates[np.argmax(np.abs(candidates))])
