import numpy as np

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
