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
