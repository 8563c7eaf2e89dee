"""The Cole-Hopf Burgers reference against an independent method-of-lines solve and its own invariants."""
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from pinnkit.pdes.burgers_exact import burgers_exact

TIMES = (0.25, 0.5, 0.75, 1.0)


def spectral_burgers(nu: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """u_t = -(u^2 / 2)_x + nu u_xx by Fourier collocation on the periodic [-1, 1) with n points, DOP853.

    The solution from -sin(pi x) is odd and 2-periodic, so it keeps u(+-1) = 0: the same problem.
    The state is the real grid values (a complex coefficient state ran ~9x slower in solve_ivp).
    Returns the grid and u at TIMES (rows)."""
    x = -1 + 2 * np.arange(n) / n
    k = np.pi * np.fft.rfftfreq(n, 1 / n)

    def rhs(_: float, u: np.ndarray) -> np.ndarray:
        return np.fft.irfft(-0.5j * k * np.fft.rfft(u * u) - nu * k**2 * np.fft.rfft(u), n)

    sol = solve_ivp(rhs, (0, TIMES[-1]), -np.sin(np.pi * x), method="DOP853", t_eval=TIMES, rtol=1e-10, atol=1e-13)
    assert sol.success
    return x, sol.y.T


@pytest.mark.parametrize("nu, n", [(0.05 / np.pi, 256), (0.01 / np.pi, 1024)])
def test_matches_independent_spectral_solver(nu, n):
    """Measured: max |difference| 3e-10 at nu = 0.05/pi (n = 256), 1e-7 at 0.01/pi (n = 1024, limited
    by the spectral grid at the shock: n = 1536 agrees to 6e-11 but takes 5 s)."""
    x, spectral = spectral_burgers(nu, n)
    for t, u in zip(TIMES, spectral):
        assert np.max(np.abs(burgers_exact(x, t, nu) - u)) <= 1e-6, t


def test_initial_condition_boundary_and_symmetry():
    nu = 0.01 / np.pi
    x = np.linspace(-1, 1, 101)
    np.testing.assert_array_equal(burgers_exact(x, 0.0, nu), -np.sin(np.pi * x))
    t = np.linspace(0.01, 1, 50)
    np.testing.assert_allclose(burgers_exact(-1.0, t, nu), 0, atol=1e-12)
    np.testing.assert_allclose(burgers_exact(1.0, t, nu), 0, atol=1e-12)
    np.testing.assert_allclose(burgers_exact(-x, 0.6, nu), -burgers_exact(x, 0.6, nu), atol=1e-12)


def test_broadcast_shape_and_bad_arguments():
    assert burgers_exact(np.zeros((3, 1)), np.ones(4), 0.01).shape == (3, 4)
    assert burgers_exact(0.5, 0.5, 0.01).shape == ()
    with pytest.raises(ValueError):
        burgers_exact(0.0, -0.1, 0.01)
    with pytest.raises(ValueError):
        burgers_exact(0.0, 0.5, 0.0)


@pytest.mark.parametrize("nu", [0.01 / np.pi, 0.002, 0.001 / np.pi])
def test_quadrature_converged_and_small_nu_bounded(nu):
    """Doubling the quadrature nodes changes u by rounding only (measured 9e-16-1e-15): the reference is
    good to 1e-12, enough to measure errors of 1e-9, down to the parametric case's smallest nu (0.002)."""
    x, t = np.meshgrid(np.linspace(-1, 1, 41), np.linspace(0.05, 1, 11))
    u = burgers_exact(x, t, nu)
    assert np.isfinite(u).all() and np.abs(u).max() <= 1
    assert np.max(np.abs(u - burgers_exact(x, t, nu, nodes_per_width=5.0))) < 1e-12


def test_steepest_slope_matches_published_benchmark():
    """Basdevant et al. 1986 for nu = 0.01/pi: the slope at x = 0 peaks at -152.00516 at t = 1.6037/pi."""
    h, nu, t = 1e-7, 0.01 / np.pi, 1.6037 / np.pi
    slope = (burgers_exact(h, t, nu) - burgers_exact(-h, t, nu)) / (2 * h)
    assert slope == pytest.approx(-152.00516, rel=1e-6)
