"""The Fourier/ETDRK4 reference solver: exact on linear problems, fourth order in time, and each shipped
reference (Allen-Cahn, KdV, Kuramoto-Sivashinsky) converged, shown by refining it."""
import numpy as np
import pytest

from pinnkit.pdes.spectral import SpectralSolution
from pinnkit.pdes.time_dependent import allen_cahn_reference, kdv_reference, kuramoto_sivashinsky_reference

GRID = np.meshgrid(np.linspace(-1, 1, 81), np.linspace(0, 1, 41))


def relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def linear(symbol, modes: int = 31, steps: int = 7) -> SpectralSolution:
    return SpectralSolution(symbol, lambda v, k: 0 * v, lambda x: np.cos(np.pi * x), -1.0, 2.0, 1.0, modes, steps)


def test_linear_problems_are_solved_exactly_at_any_time():
    """Without a nonlinear part ETDRK4 is exp(h L): exact for diffusion and for KdV's complex symbol, at the
    stored steps and between them (a partial step of the exact length)."""
    x, t = GRID
    heat = linear(lambda k: -0.3 * k**2)
    np.testing.assert_allclose(heat(x, t), np.exp(-0.3 * np.pi**2 * t) * np.cos(np.pi * x), atol=1e-13)
    dispersion = linear(lambda k: 1j * 0.02 * k**3)  # u_t = -0.02 u_xxx: u = cos(pi x + 0.02 pi^3 t)
    np.testing.assert_allclose(dispersion(x, t), np.cos(np.pi * x + 0.02 * np.pi**3 * t), atol=1e-13)


def test_queries_outside_the_solved_time_and_even_modes_are_refused():
    with pytest.raises(ValueError, match="outside the solved range"):
        linear(lambda k: -k**2)(np.zeros(2), np.array([0.5, 1.5]))
    with pytest.raises(ValueError, match="modes must be odd"):
        linear(lambda k: -k**2, modes=32)


def test_etdrk4_is_fourth_order_in_time():
    errors = [relative(kdv_reference.__wrapped__(1.0, 0.0025, 127, steps)(*GRID),
                       kdv_reference.__wrapped__(1.0, 0.0025, 127, 4000)(*GRID)) for steps in (250, 500)]
    assert errors[0] / errors[1] > 12  # 16 asymptotically


@pytest.mark.parametrize("reference, args, coarse, fine", [
    (kdv_reference, (1.0, 0.0025), {}, {"modes": 511, "steps": 8000}),
    (kuramoto_sivashinsky_reference, (5.0, 0.5, 0.005), {}, {"modes": 511, "steps": 32000}),
])
def test_smooth_references_are_converged_to_1e_9(reference, args, coarse, fine):
    """KdV and KS start smooth: the shipped modes and steps against twice both."""
    assert relative(reference(*args)(*GRID), reference.__wrapped__(*args, **fine)(*GRID)) < 1e-9


def test_the_allen_cahn_reference_is_converged_to_1e_8():
    """x^2 cos(pi x) has a slope jump across the period, so the modes converge at second order until diffusion
    smooths it: the shipped 32,805 modes against 59,049 (twice the steps checks time at a quarter of the
    cost, on a coarser space grid)."""
    shipped = allen_cahn_reference(1e-4)(*GRID)
    assert relative(shipped, allen_cahn_reference.__wrapped__(1e-4, 59049)(*GRID)) < 1e-8
    coarse, halved = (allen_cahn_reference.__wrapped__(1e-4, 8191, steps)(*GRID) for steps in (500, 1000))
    assert relative(coarse, halved) < 1e-9
