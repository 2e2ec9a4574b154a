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


# A complex eigenvalue is locked to the nearest harmonic 2 pi k / P when its angle lies within
# this fraction of half the harmonics' spacing (pi / P) of it, and its modulus is at least
# LOCK_MIN_MODULUS: a plane that turns about right and persists. Anything else is left as it is.
LOCK_ANGLE_TOLERANCE = 0.5
LOCK_MIN_MODULUS = 0.9


def lock_harmonics(transition_matrix: np.ndarray, period: int,
                   angle_tolerance: float = LOCK_ANGLE_TOLERANCE,
                   min_modulus: float = LOCK_MIN_MODULUS
                   ) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """A and B of a stationary process whose near-harmonic planes turn exactly with period P.

    A learned transition of a P-periodic process has complex eigenvalues near the harmonics
    exp(+-2 pi i k / P), with moduli just below 1; over thousands of frames the small errors
    of angle accumulate as phase drift and the innovations as phase noise. This sets each such
    pair (the most persistent one per harmonic k, 1 <= k < P / 2) to exactly
    exp(+-2 pi i k / P), modulus 1, and, for an even P, the most persistent real eigenvalue
    near -1 (the harmonic k = P / 2) to exactly -1; it decouples their planes from the rest:

        A = Z T Z^T                  real Schur form, the chosen pairs' 2x2 blocks first
        T' = [[R, 0], [0, T_22]]     R: rotations by 2 pi k / P in the blocks' own sense
        A' = Z T' Z^T,   B' = Z [[0, 0], [0, (I - T_22 T_22^T)^(1/2)]] Z^T

    so A' A'^T + B' B'^T = I (T_22, a compression of A, has norm <= ||A|| <= 1), the locked
    planes rotate without innovation (a state keeps its radius there, and its phase advances
    by exactly one P-th of the cycle per frame, for ever), and A' equals A on the other
    eigenvalues.

    Args:
        transition_matrix: `A` `(n, n)`, a contraction (spectral norm <= 1).
        period: `P >= 3` frames.
        angle_tolerance: a pair is locked when its angle is within `angle_tolerance * pi / P`
            of a harmonic.
        min_modulus: ... and its modulus at least this.

    Returns:
        `(A', B', harmonics)`: float64 matrices and the harmonics k that were locked, in
        increasing order (empty: nothing was near a harmonic, and A' = A).

    Raises:
        ValueError: naming the argument, on a non-square A, P < 3, or bad tolerances.

    Example:
    >>> a = 0.97 * np.array([[np.cos(0.21), -np.sin(0.21)], [np.sin(0.21), np.cos(0.21)]])
    >>> locked, noise, harmonics = lock_harmonics(a, period=30)   # 0.21 rad ~ 2 pi / 30
    >>> harmonics, np.allclose(np.abs(np.linalg.eigvals(locked)), 1.0)
    ([1], True)
    """
    import scipy.linalg

    a = np.asarray(transition_matrix, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"transition_matrix: expected a square matrix, got shape {a.shape}")
    if int(period) != period or period < 3:
        raise ValueError(f"period: expected an integer >= 3 frames (a period of 2 has no "
                         f"rotation plane), got {period}")
    if not 0 < angle_tolerance <= 1 or not 0 <= min_modulus <= 1:
        raise ValueError(f"angle_tolerance must be in (0, 1] and min_modulus in [0, 1], got "
                         f"{angle_tolerance} and {min_modulus}")
    period = int(period)
    chosen: dict[int, complex] = {}
    for eigenvalue in np.linalg.eigvals(a):
        if period % 2 == 0 and abs(eigenvalue.imag) <= 1e-12 and eigenvalue.real <= -min_modulus:
            # The harmonic k = P / 2 of an even period is the real eigenvalue -1: it flips
            # sign every frame (a 10-cycle's odd and even digits, read with its period-5
            # planes).
            harmonic = period // 2
            if harmonic not in chosen or abs(eigenvalue) > abs(chosen[harmonic]):
                chosen[harmonic] = complex(eigenvalue.real, 0.0)
            continue
        if eigenvalue.imag <= 0:
            continue
        angle = float(np.angle(eigenvalue))
        harmonic = int(round(angle * period / (2 * np.pi)))
        if not 1 <= harmonic < period / 2 or abs(eigenvalue) < min_modulus:
            continue
        if abs(angle - 2 * np.pi * harmonic / period) > angle_tolerance * np.pi / period:
            continue
        if harmonic not in chosen or abs(eigenvalue) > abs(chosen[harmonic]):
            chosen[harmonic] = complex(eigenvalue)
    if not chosen:
        return a, _noise_for(a), []
    targets = list(chosen.values())

    def first(real: float, imag: float) -> bool:
        value = complex(real, abs(imag))
        if abs(imag) <= 1e-12 and period // 2 in chosen and chosen[period // 2].imag == 0:
            return abs(real - chosen[period // 2].real) <= 1e-8
        return any(abs(value - target) <= 1e-8 * max(1.0, abs(target)) for target in targets)

    schur, basis, size = scipy.linalg.schur(a, output="real", sort=first)
    locked = schur.copy()
    locked[:size, :] = 0.0
    i = 0
    while i < size:
        if i + 1 == size or schur[i + 1, i] == 0.0:
            locked[i, i] = -1.0  # a 1x1 block: the real harmonic P / 2
            i += 1
            continue
        block = schur[i:i + 2, i:i + 2]
        # A standardised 2x2 block [[a, b], [c, a]] with b c < 0 turns by +atan2(sqrt(-bc), a)
        # in the sense of sign(c).
        angle = np.arctan2(np.sqrt(abs(block[0, 1] * block[1, 0])), block[0, 0])
        harmonic = int(round(angle * period / (2 * np.pi)))
        turn = 2 * np.pi * harmonic / period
        sense = np.sign(block[1, 0])
        locked[i:i + 2, i:i + 2] = [[np.cos(turn), -sense * np.sin(turn)],
                                    [sense * np.sin(turn), np.cos(turn)]]
        i += 2
    locked_a = basis @ locked @ basis.T
    noise = np.zeros_like(a)
    rest = locked[size:, size:]
    noise[size:, size:] = _psd_sqrt(np.eye(len(rest)) - rest @ rest.T)
    return locked_a, basis @ noise @ basis.T, sorted(chosen)


def harmonic_transition(latent_dim: int, period: int, modulus: float = 0.99
                        ) -> tuple[np.ndarray, np.ndarray]:
    """A stationary `(A, B)`, `(n, n)` each, whose planes turn by the harmonics of a period.

    Block diagonal: planes turning by 2 pi k / P for k = 1, 2, ... while two dimensions remain
    and k < P / 2, then for an even P the real harmonic -1 (k = P / 2) if a dimension
    remains, each times `modulus`; any dimension left over is 0. B is the symmetric root of
    I - A A^T, so A A^T + B B^T = I.

    Args:
        latent_dim: `n >= 1`.
        period: `P >= 3` frames.
        modulus: every harmonic's modulus, in (0, 1].

    Raises:
        ValueError: naming the argument, on n < 1, P < 3 or a modulus outside (0, 1].

    Example:
    >>> a, b = harmonic_transition(5, period=4)
    >>> np.round(np.angle(np.linalg.eigvals(a)) * 4 / (2 * np.pi), 6)   # k = +-1, 2 and 0
    array([ 1., -1.,  2.,  0.,  0.])
    """
    if int(latent_dim) != latent_dim or latent_dim < 1:
        raise ValueError(f"latent_dim: expected an integer >= 1, got {latent_dim}")
    if int(period) != period or period < 3:
        raise ValueError(f"period: expected an integer >= 3 frames, got {period}")
    if not 0 < modulus <= 1:
        raise ValueError(f"modulus: expected a number in (0, 1], got {modulus}")
    latent_dim, period = int(latent_dim), int(period)
    transition = np.zeros((latent_dim, latent_dim))
    index, harmonic = 0, 1
    while index + 2 <= latent_dim and harmonic < period / 2:
        turn = 2 * np.pi * harmonic / period
        transition[index:index + 2, index:index + 2] = modulus * np.array(
            [[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
        index, harmonic = index + 2, harmonic + 1
    if period % 2 == 0 and harmonic == period // 2 and index < latent_dim:
        transition[index, index] = -modulus
    return transition, _noise_for(transition)


def phase_alignment(transition_matrix: np.ndarray, period: int, states: np.ndarray,
                    tolerance: float = 1e-4, iterations: int = 20) -> np.ndarray:
    """How squarely each state sits on one step of A's locked cycle.

    On the planes that `lock_harmonics` locked (eigenvalues exactly exp(+-2 pi i k / P)), A
    acts as an orthogonal R with R^P = I: a state keeps its place on the cycle for ever, and
    the training frames' states cluster around the P points of one orbit u_0, R u_0, ...,
    R^(P-1) u_0, one per step of the cycle, which the decoder reads. A state between two
    orbit points is read as neither, and stays between them. With u_i the states' coordinates
    on the locked planes, the orbit is fitted like k-means with tied centres,

        m_i = argmax_m <R^m u_0, u_i>,   u_0 = mean_i R^(-m_i) u_i    (alternated),

    and a state's alignment is its margin between its nearest orbit point and the next:

        alignment_i = <R^(m_i) u_0, u_i> - max_(m != m_i) <R^m u_0, u_i>

    large for a state squarely on one step, 0 halfway between two. All the locked planes
    are read jointly, so a state whose planes point at different steps scores low too.

    Args:
        transition_matrix: `A` `(n, n)`.
        period: `P >= 3` frames, the period A's harmonics were locked to.
        states: `(N, n)` latent states, e.g. the training frames' posterior means.
        tolerance: a block is locked when its modulus is within `tolerance` of 1 and its angle
            within `tolerance` radians of a harmonic 2 pi k / P (k >= 1).
        iterations: alternations of the orbit fit.

    Returns:
        `(N,)` alignments, >= 0; all zero when A has no locked plane.

    Raises:
        ValueError: naming the argument, on a non-square A, P < 3 or mismatched states.

    Example:
    >>> turn = 2 * np.pi / 4
    >>> a = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    >>> states = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.7, 0.7]])
    >>> np.round(phase_alignment(a, 4, states), 2)   # three on the orbit, one halfway
    array([1.  , 1.  , 1.  , 0.  ])
    """
    import scipy.linalg

    a = np.asarray(transition_matrix, dtype=np.float64)
    states = np.asarray(states, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"transition_matrix: expected a square matrix, got shape {a.shape}")
    if int(period) != period or period < 3:
        raise ValueError(f"period: expected an integer >= 3 frames, got {period}")
    if states.ndim != 2 or states.shape[1] != a.shape[0] or len(states) < 1:
        raise ValueError(f"states: expected shape (N >= 1, {a.shape[0]}), got {states.shape}")
    period = int(period)

    def on_cycle(real: float, imag: float) -> bool:
        angle = abs(np.angle(complex(real, imag)))
        harmonic = round(angle * period / (2 * np.pi))
        return (harmonic >= 1 and abs(abs(complex(real, imag)) - 1.0) <= tolerance
                and abs(angle - 2 * np.pi * harmonic / period) <= tolerance)

    _, basis, size = scipy.linalg.schur(a, output="real", sort=on_cycle)
    if size == 0:
        return np.zeros(len(states))
    locked = basis[:, :size]
    rotation = locked.T @ a @ locked                    # R: orthogonal, R^P = I
    coordinates = states @ locked                       # u_i, (N, d)
    powers = [np.eye(size)]
    for _ in range(period - 1):
        powers.append(rotation @ powers[-1])
    powers = np.stack(powers)                           # R^m, (P, d, d)
    orbit_start = coordinates[np.argmax(np.linalg.norm(coordinates, axis=1))]
    for _ in range(iterations):
        orbit = powers @ orbit_start                    # (P, d)
        steps = np.argmax(coordinates @ orbit.T, axis=1)
        # R^(-m) = (R^m)^T: every state carried back to step 0, then averaged.
        unwound = np.einsum("nji,nj->ni", powers[steps], coordinates)
        updated = unwound.mean(axis=0)
        if np.allclose(updated, orbit_start):
            break
        orbit_start = updated
    scores = np.sort(coordinates @ (powers @ orbit_start).T, axis=1)
    return scores[:, -1] - scores[:, -2]


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric matrix, negative eigenvalues (round-off)
    clipped to 0."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def _noise_for(a: np.ndarray) -> np.ndarray:
    """A B with A A^T + B B^T = I (the symmetric root of I - A A^T)."""
    return _psd_sqrt(np.eye(len(a)) - a @ a.T)


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
