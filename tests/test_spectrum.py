import numpy as np
import pytest

from dynamic_vae.spectrum import format_spectrum, spectrum_report


def test_a_four_cycle_rotation_has_period_four():
    theta = 2 * np.pi / 4
    a = np.zeros((3, 3))
    a[:2, :2] = 0.95 * np.array([[np.cos(theta), -np.sin(theta)],
                                 [np.sin(theta), np.cos(theta)]])
    a[2, 2] = 0.2
    b = np.diag([np.sqrt(1 - 0.95**2)] * 2 + [np.sqrt(1 - 0.04)])
    report = spectrum_report(a, b)
    assert abs(report["spectral_radius"] - 0.95) < 1e-9
    periods = [p for p in report["periods"] if p is not None]
    np.testing.assert_allclose(periods, [4.0, 4.0])
    assert report["stationarity_residual"] < 1e-9
    assert report["periods"][-1] is None  # the real eigenvalue 0.2
    text = format_spectrum(report)
    assert "4.00" in text and "0.9500" in text


def test_cycle_ceiling_limits(rng):
    from dynamic_vae.spectrum import cycle_ceiling
    quarter = np.exp(0.5j * np.pi)
    # No shrinkage, exact quarter turns: every step advances one sector.
    assert cycle_ceiling(quarter, 4, num_samples=20_000) > 0.999
    # Turning the other way is the same cycle read in the other direction.
    assert cycle_ceiling(np.conj(quarter), 4, num_samples=20_000) > 0.999
    # No memory at all: the next sector is uniform, right one time in p.
    assert abs(cycle_ceiling(0.0, 4, num_samples=100_000) - 0.25) < 0.01
    # Independent check at r = 0.98 with a plain 2-d simulation in real coordinates.
    r, n = 0.98, 100_000
    x = rng.standard_normal((n, 2))
    y = x @ (r * np.array([[0.0, -1.0], [1.0, 0.0]])).T + np.sqrt(1 - r * r) * rng.standard_normal((n, 2))
    quadrant = lambda z: (np.arctan2(z[:, 1], z[:, 0]) // (np.pi / 2)) % 4
    expected = np.mean(quadrant(y) == (quadrant(x) + 1) % 4)
    assert abs(cycle_ceiling(r * quarter, 4) - expected) < 0.01
    # Longer cycles are harder at the same modulus.
    assert cycle_ceiling(0.98 * np.exp(2j * np.pi / 10), 10) < cycle_ceiling(0.98 * quarter, 4)
    with pytest.raises(ValueError, match="modulus"):
        cycle_ceiling(1.2 * quarter, 4)
    with pytest.raises(ValueError, match="period"):
        cycle_ceiling(quarter, 1)


def test_cycle_eigenvalue_picks_the_plane_turning_by_one_step_of_the_cycle():
    from dynamic_vae.spectrum import cycle_eigenvalue
    a = np.zeros((5, 5))
    for start, (r, theta) in zip((0, 2), [(0.9, np.pi / 2), (0.99, 2 * np.pi / 5)]):
        a[start:start + 2, start:start + 2] = r * np.array([[np.cos(theta), -np.sin(theta)],
                                                            [np.sin(theta), np.cos(theta)]])
    a[4, 4] = 0.995
    four = cycle_eigenvalue(a, 4)
    assert abs(abs(four) - 0.9) < 1e-9 and abs(abs(np.angle(four)) - np.pi / 2) < 1e-9
    assert abs(abs(cycle_eigenvalue(a, 5)) - 0.99) < 1e-9


def _rotation(angle):
    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


def test_lock_harmonics_sets_near_harmonic_planes_exactly(rng):
    """Planes near 2 pi k / P (here P = 12: k = 1 and 3, turning either way) become exact
    rotations of modulus 1; a plane far from every harmonic and a real eigenvalue keep their
    values; stationarity holds exactly (independent numpy checks)."""
    from dynamic_vae.spectrum import lock_harmonics

    blocks = np.zeros((7, 7))
    blocks[:2, :2] = 0.97 * _rotation(2 * np.pi / 12 + 0.05)
    blocks[2:4, 2:4] = 0.95 * _rotation(-(2 * np.pi * 3 / 12 - 0.08))
    blocks[4:6, 4:6] = 0.9 * _rotation(2 * np.pi * 1.5 / 12)       # between harmonics
    blocks[6, 6] = 0.5
    basis = np.linalg.qr(rng.normal(size=(7, 7)))[0]
    a = basis @ blocks @ basis.T
    locked, noise, harmonics = lock_harmonics(a, 12)
    assert harmonics == [1, 3]
    eigenvalues = np.linalg.eigvals(locked)
    for k in (1, 3):
        target = np.exp(2j * np.pi * k / 12)
        assert np.min(np.abs(eigenvalues - target)) < 1e-9
        assert np.min(np.abs(eigenvalues - target.conjugate())) < 1e-9
    kept = np.exp(2j * np.pi * 1.5 / 12) * 0.9
    assert np.min(np.abs(eigenvalues - kept)) < 1e-9
    assert np.min(np.abs(eigenvalues - 0.5)) < 1e-9
    np.testing.assert_allclose(locked @ locked.T + noise @ noise.T, np.eye(7), atol=1e-12)
    # A locked plane is invariant and rotates a state without changing its radius: twelve
    # steps bring it back exactly.
    np.testing.assert_allclose(np.linalg.matrix_power(locked, 12) @ basis[:, 0], basis[:, 0],
                               atol=1e-9)
    # The sense of turning is kept: the second plane still turns backwards.
    state = basis[:, 2]
    turned = basis.T @ locked @ state
    assert turned[3] < 0


def test_lock_harmonics_leaves_a_transition_without_harmonics(rng):
    from dynamic_vae.spectrum import lock_harmonics

    a = 0.6 * np.linalg.qr(rng.normal(size=(4, 4)))[0]
    locked, noise, harmonics = lock_harmonics(a, 5)
    assert harmonics == []          # every modulus is 0.6: nothing persists enough
    np.testing.assert_array_equal(locked, a)
    np.testing.assert_allclose(locked @ locked.T + noise @ noise.T, np.eye(4), atol=1e-12)
    with pytest.raises(ValueError, match="period: expected an integer >= 3 frames"):
        lock_harmonics(a, 2)
    with pytest.raises(ValueError, match=r"transition_matrix: expected a square matrix"):
        lock_harmonics(np.zeros((2, 3)), 5)


def test_lock_harmonics_sets_the_half_period_harmonic_of_an_even_period(rng):
    """For P = 10 a plane near k = 2 and a real eigenvalue near -1 (k = 5) are locked; a real
    eigenvalue near +1 is not a harmonic that turns, and is kept."""
    from dynamic_vae.spectrum import lock_harmonics

    blocks = np.zeros((5, 5))
    blocks[:2, :2] = 0.98 * _rotation(2 * np.pi * 2 / 10 - 0.03)
    blocks[2, 2] = -0.96
    blocks[3, 3] = 0.95
    blocks[4, 4] = -0.3
    basis = np.linalg.qr(rng.normal(size=(5, 5)))[0]
    locked, noise, harmonics = lock_harmonics(basis @ blocks @ basis.T, 10)
    assert harmonics == [2, 5]
    eigenvalues = np.linalg.eigvals(locked)
    assert np.min(np.abs(eigenvalues - (-1.0))) < 1e-9
    assert np.min(np.abs(eigenvalues - np.exp(2j * np.pi * 2 / 10))) < 1e-9
    for kept in (0.95, -0.3):
        assert np.min(np.abs(eigenvalues - kept)) < 1e-9
    np.testing.assert_allclose(locked @ locked.T + noise @ noise.T, np.eye(5), atol=1e-12)
    # An odd period has no real harmonic: -0.96 stays.
    _, _, odd = lock_harmonics(basis @ blocks @ basis.T, 5)
    assert odd == [1]


def _cycle_transition(rng, period=10):
    """A = Q diag(R(2 pi 2 / P), R(2 pi 4 / P) flipped, -1, 0.5) Q^T, locked to P (k = 2, 4,
    5), in a random basis; returns A, Q and the orbit of a state's locked coordinates."""
    blocks = np.zeros((6, 6))
    blocks[:2, :2] = _rotation(2 * np.pi * 2 / period)
    blocks[2:4, 2:4] = _rotation(2 * np.pi * 4 / period).T    # turning the other way
    blocks[4, 4] = -1.0
    blocks[5, 5] = 0.5
    basis = np.linalg.qr(rng.normal(size=(6, 6)))[0]
    return basis @ blocks @ basis.T, basis, blocks


def test_phase_alignment_is_high_on_the_orbit_and_low_off_it(rng):
    """States on the P points of one orbit score the closed-form margin (best minus
    second-best inner product with the orbit's points); a state whose planes point at
    different steps, or that lies halfway between two steps, scores far lower. The scores do
    not change when every state advances one frame (A x), and ignore the decaying
    coordinate."""
    from dynamic_vae.spectrum import phase_alignment

    a, basis, blocks = _cycle_transition(rng)
    start = np.array([1.0, 0.0, 0.8, 0.0, 0.6, 0.0])
    orbit = np.stack([np.linalg.matrix_power(blocks, m) @ start for m in range(10)])
    on_orbit = np.repeat(orbit, 20, axis=0)
    on_orbit[:, 5] = rng.normal(size=len(on_orbit))
    mixed = np.concatenate([orbit[3, :2], orbit[7, 2:4], orbit[3, 4:]])   # planes disagree
    halfway = (orbit[3] + orbit[4]) / 2
    states = np.vstack([on_orbit, mixed, halfway]) @ basis.T
    scores = phase_alignment(a, 10, states)
    assert scores.shape == (len(states),)
    products = np.sort(orbit[:, :5] @ orbit[:, :5].T, axis=1)
    margin = products[0, -1] - products[0, -2]
    # Two states off the orbit pull the fitted orbit by about 1%.
    np.testing.assert_allclose(scores[:-2], margin, rtol=0.03)
    assert scores[-2] < 0.7 * margin          # k = 4 plane four steps ahead of the others
    assert scores[-1] < 0.1 * margin          # between steps 3 and 4: read as neither
    np.testing.assert_allclose(phase_alignment(a, 10, states @ a.T), scores, atol=1e-9)


def test_phase_alignment_without_a_locked_plane_is_zero(rng):
    from dynamic_vae.spectrum import phase_alignment

    a = 0.9 * _rotation(2 * np.pi / 10)
    assert not np.any(phase_alignment(a, 10, rng.normal(size=(7, 2))))
    with pytest.raises(ValueError, match=r"states: expected shape \(N >= 1, 2\), got \(7, 3\)"):
        phase_alignment(a, 10, rng.normal(size=(7, 3)))
    with pytest.raises(ValueError, match="period: expected an integer >= 3 frames, got 2"):
        phase_alignment(a, 2, rng.normal(size=(7, 2)))
