"""The Cole-Hopf reference against an independent Fourier-spectral solve of the same PDE."""
import numpy as np
import pytest

from pinnkit.pdes.burgers_exact import burgers_exact


def spectral_burgers(nu, times, n=512, dt=2e-4):
    """u_t + u u_x = nu u_xx on the periodic [-1, 1) (the odd solution keeps u(+-1) = 0):
    Fourier collocation with 2/3 de-aliasing, integrating-factor RK4 (Trefethen's scheme)."""
    x = -1 + 2 * np.arange(n) / n
    freq = np.fft.rfftfreq(n, d=1 / n)
    k, keep = np.pi * freq, freq < n / 3

    def nonlinear(v_hat):
        u = np.fft.irfft(v_hat * keep, n)
        ux = np.fft.irfft(1j * k * v_hat * keep, n)
        return -np.fft.rfft(u * ux) * keep

    v, t, out = np.fft.rfft(-np.sin(np.pi * x)), 0.0, {}
    for target in times:
        while t < target - 1e-12:
            h = min(dt, target - t)
            e = np.exp(-nu * k**2 * h / 2)
            a = h * nonlinear(v)
            b = h * nonlinear(e * (v + a / 2))
            c = h * nonlinear(e * v + b / 2)
            d = h * nonlinear(e**2 * v + e * c)
            v, t = e**2 * v + (e**2 * a + 2 * e * (b + c) + d) / 6, t + h
        out[target] = np.fft.irfft(v, n)
    return x, out


def test_matches_independent_spectral_solver():
    nu, times = 0.05 / np.pi, (0.25, 0.5, 0.75, 1.0)
    x, spectral = spectral_burgers(nu, times)
    for t in times:
        assert np.max(np.abs(burgers_exact(x, t, nu) - spectral[t])) < 1e-6, t


def test_initial_condition_boundary_and_symmetry():
    nu = 0.01 / np.pi
    x = np.linspace(-1, 1, 101)
    np.testing.assert_array_equal(burgers_exact(x, 0.0, nu), -np.sin(np.pi * x))
    t = np.linspace(0.01, 1, 50)
    np.testing.assert_allclose(burgers_exact(-1.0, t, nu), 0, atol=1e-12)
    np.testing.assert_allclose(burgers_exact(1.0, t, nu), 0, atol=1e-12)
    np.testing.assert_allclose(burgers_exact(-x, 0.6, nu), -burgers_exact(x, 0.6, nu), atol=1e-12)


def test_quadrature_converged_and_small_nu_finite():
    x, t = np.meshgrid(np.linspace(-1, 1, 41), np.linspace(0.05, 1, 11))
    for nu in (0.01 / np.pi, 0.001 / np.pi):
        u = burgers_exact(x, t, nu)
        assert np.isfinite(u).all() and np.abs(u).max() <= 1
        assert np.max(np.abs(u - burgers_exact(x, t, nu, step=0.01))) < 1e-10


def test_steepest_slope_matches_published_benchmark():
    """Basdevant et al. 1986 for nu = 0.01/pi: the slope at x = 0 peaks at -152.00516 at t = 1.6037/pi."""
    h, nu, t = 1e-7, 0.01 / np.pi, 1.6037 / np.pi
    slope = (burgers_exact(h, t, nu) - burgers_exact(-h, t, nu)) / (2 * h)
    assert slope == pytest.approx(-152.00516, rel=1e-6)
