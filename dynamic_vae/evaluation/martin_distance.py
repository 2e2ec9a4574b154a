"""The Martin distance between linear dynamic systems, and between two clips.

The dynamic-texture literature's standard distance between processes (Martin 2000; De Cock &
De Moor 2002; Saisan, Doretto, Wu & Soatto 2001). For systems (A_1, C_1) and (A_2, C_2) with
stable A, the infinite observability matrices O_i = [C_i; C_i A_i; C_i A_i^2; ...] span
subspaces whose principal angles theta_k give

    d_M^2 = -ln prod_k cos^2 theta_k.

The Gram blocks Q_ij = O_i^T O_j = sum_t (A_i^t)^T C_i^T C_j A_j^t solve the Stein equations
Q_ij = A_i^T Q_ij A_j + C_i^T C_j, and the cos^2 theta_k are the eigenvalues of
Q_11^-1 Q_12 Q_22^-1 Q_21. The distance is 0 for one system in two bases (it compares
subspaces, not coordinates) and grows without bound as the subspaces become orthogonal.

Between clips: a linear dynamic texture of the same state dimension is fitted to each clip
(`dynamic_vae.baseline.LinearDynamicTexture`) and their (A, C) are compared.
"""

from __future__ import annotations

import numpy as np

# The spectral radius above which a fitted A is scaled back: the infinite sums need |lambda|<1.
MAX_SPECTRAL_RADIUS = 0.999


def _stein(a_left: np.ndarray, a_right: np.ndarray, constant: np.ndarray) -> np.ndarray:
    """Q with Q = a_left^T Q a_right + constant (vectorised: (I - a_right^T kron a_left^T))."""
    rows, cols = constant.shape
    system = np.eye(rows * cols) - np.kron(a_right.T, a_left.T)
    # Column-major vec: vec(L^T Q R) = (R^T kron L^T) vec(Q).
    solution = np.linalg.solve(system, constant.reshape(-1, order="F"))
    return solution.reshape(rows, cols, order="F")


def _stable(transition: np.ndarray) -> np.ndarray:
    radius = np.max(np.abs(np.linalg.eigvals(transition)))
    if radius >= MAX_SPECTRAL_RADIUS:
        return transition * (MAX_SPECTRAL_RADIUS / radius)
    return transition


def martin_distance(transition_1: np.ndarray, observation_1: np.ndarray,
                    transition_2: np.ndarray, observation_2: np.ndarray) -> float:
    """The Martin distance between (A_1, C_1) and (A_2, C_2).

    Args:
        transition_1: A_1 `(n1, n1)`.
        observation_1: C_1 `(p, n1)`.
        transition_2: A_2 `(n2, n2)`.
        observation_2: C_2 `(p, n2)`, the same output dimension p.

    Returns:
        d_M >= 0 (`inf` when some principal angle is 90 degrees). A transition with
        spectral radius >= 0.999 is scaled to 0.999 first, so the sums converge.

    Example:
    >>> martin_distance(np.array([[0.5]]), np.ones((4, 1)), np.array([[0.2]]), np.ones((4, 1)))

    Reference:
    - De Cock & De Moor, "Subspace angles between ARMA models", Systems & Control Letters
      46(4), 2002.
    """
    a1, c1 = np.asarray(transition_1, np.float64), np.asarray(observation_1, np.float64)
    a2, c2 = np.asarray(transition_2, np.float64), np.asarray(observation_2, np.float64)
    for name, a, c in (("1", a1, c1), ("2", a2, c2)):
        if a.ndim != 2 or a.shape[0] != a.shape[1] or c.ndim != 2 or c.shape[1] != a.shape[0]:
            raise ValueError(f"system {name}: expected A (n, n) and C (p, n), got A "
                             f"{a.shape} and C {c.shape}")
    if c1.shape[0] != c2.shape[0]:
        raise ValueError(f"observation_2: expected {c1.shape[0]} output rows (as "
                         f"observation_1), got {c2.shape[0]}")
    a1, a2 = _stable(a1), _stable(a2)
    q11 = _stein(a1, a1, c1.T @ c1)
    q12 = _stein(a1, a2, c1.T @ c2)
    q22 = _stein(a2, a2, c2.T @ c2)
    cosines = np.linalg.eigvals(np.linalg.solve(q11, q12) @ np.linalg.solve(q22, q12.T))
    cosines = np.clip(np.real(cosines), 0.0, 1.0)
    if np.any(cosines <= 0.0):
        return float("inf")
    return float(np.sqrt(max(-np.sum(np.log(cosines)), 0.0)))


def clip_martin_distance(real: np.ndarray, synthesised: np.ndarray,
                         latent_dim: int = 10, seed: int = 0) -> float:
    """The Martin distance between linear dynamic textures fitted to two clips.

    Args:
        real: frames `(T, H, W[, C])`, uint8 or float in [0, 1].
        synthesised: frames of the same frame shape (any length > latent_dim).
        latent_dim: the state dimension of both fitted textures.
        seed: the seed of the fits' randomized SVD.
    """
    from dynamic_vae.baseline import LinearDynamicTexture

    real, synthesised = np.asarray(real), np.asarray(synthesised)
    if real.shape[1:] != synthesised.shape[1:]:
        raise ValueError(f"synthesised: expected frames of shape {real.shape[1:]} (the real "
                         f"clip's), got {synthesised.shape[1:]}")
    fits = [LinearDynamicTexture(latent_dim=latent_dim, seed=seed).fit(clip)
            for clip in (real, synthesised)]
    return martin_distance(fits[0].transition_matrix, fits[0].observation_matrix,
                           fits[1].transition_matrix, fits[1].observation_matrix)
