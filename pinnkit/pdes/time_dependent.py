"""The time-dependent benchmarks on which a plain PINN fails: Allen-Cahn, advection at c = 80, KdV,
Kuramoto-Sivashinsky and the wave equation, in the settings the literature measures them in.

Allen-Cahn and Kuramoto-Sivashinsky follow jaxpi (Wang et al. 2023, "An expert's guide to training
PINNs"), KdV Raissi et al. (2019), advection Krishnapriyan et al. (2021) and the wave equation Wang, Yu &
Perdikaris (2022). The periodic ones are periodic in x by construction of the network (`Problem.periodic`);
their references come from the Fourier spectral solver in `spectral` (Allen-Cahn, KdV, KS) or are
exact (advection, wave).
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Mapping, Optional

import numpy as np
import torch

from ..conditions import Dirichlet, Initial
from ..geometry import Interval, TimeInterval
from ..problem import Problem
from .spectral import SpectralSolution


def ramp(t: torch.Tensor, tau: float, power: int) -> torch.Tensor:
    """1 - exp(-(t / tau)^power): (t / tau)^power near t = 0, 1 after a few tau. A factor that vanishes at t = 0
    with its first power - 1 derivatives, for an output transform that imposes initial values, without making
    the network carry the solution's change over the first tau divided by t^power."""
    return 1 - torch.exp(-((t / tau) ** power))


def corner_rounding(y: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """E|y + sigma Z| - |y|, Z standard normal: how the heat flow rounds the corner of |y| once it has spread
    to a width sigma (0 at sigma = 0, sigma sqrt(2 / pi) at y = 0, Gaussian-small beyond a few sigma)."""
    return sigma * math.sqrt(2 / math.pi) * torch.exp(-(y / sigma) ** 2 / 2) \
        - y.abs() * torch.special.erfc(y.abs() / (sigma * math.sqrt(2)))


def _numpy(*columns: torch.Tensor) -> list[np.ndarray]:
    return [c.detach().cpu().double().numpy() for c in columns]


def _rfft_of(function, modes: int):
    """v -> rfft(function(u)), u the grid values of the coefficients v."""
    return lambda v, k: np.fft.rfft(function(np.fft.irfft(v, modes)))


@lru_cache(maxsize=4)
def allen_cahn_reference(diffusion: float, modes: int = 32805, steps: int = 500) -> SpectralSolution:
    """u_t = d u_xx + 5 u - 5 u^3 on [-1, 1), u(x, 0) = x^2 cos(pi x). The initial value is periodic but its
    slope is not (-2 at x = 1, 2 at x = -1): until diffusion has smoothed that kink the Fourier series converges
    at second order only, hence the many modes (relative L2 accuracy about 5e-9, tests/test_spectral.py)."""
    return SpectralSolution(lambda k: 5 - diffusion * k**2, _rfft_of(lambda u: -5 * u**3, modes),
                            lambda x: x**2 * np.cos(np.pi * x), -1.0, 2.0, 1.0, modes, steps)


@lru_cache(maxsize=4)
def kdv_reference(alpha: float, beta: float, modes: int = 255, steps: int = 4000) -> SpectralSolution:
    """u_t + alpha u u_x + beta u_xxx = 0 on [-1, 1), u(x, 0) = cos(pi x); converged to about 1e-10."""
    def nonlinear(v, k):
        return -0.5j * alpha * k * np.fft.rfft(np.fft.irfft(v, modes) ** 2)

    return SpectralSolution(lambda k: 1j * beta * k**3, nonlinear, lambda x: np.cos(np.pi * x), -1.0, 2.0, 1.0,
                            modes, steps)


@lru_cache(maxsize=4)
def kuramoto_sivashinsky_reference(alpha: float, beta: float, gamma: float, modes: int = 255,
                                   steps: int = 16000) -> SpectralSolution:
    """u_t + alpha u u_x + beta u_xx + gamma u_xxxx = 0 on [-1, 1), u(x, 0) = -sin(pi x); converged to about
    1e-10 (its growing modes amplify the time error, hence the many steps)."""
    def nonlinear(v, k):
        return -0.5j * alpha * k * np.fft.rfft(np.fft.irfft(v, modes) ** 2)

    return SpectralSolution(lambda k: beta * k**2 - gamma * k**4, nonlinear, lambda x: -np.sin(np.pi * x),
                            -1.0, 2.0, 1.0, modes, steps)


class AllenCahn(Problem):
    """Allen-Cahn u_t - d u_xx + 5 u^3 - 5 u = 0, x in [-1, 1] periodic, t in [0, 1], u(x, 0) = x^2 cos(pi x),
    d = 1e-4: sharp interfaces that form and then sit still (jaxpi: 5.37e-5)."""

    description = "Allen-Cahn reaction-diffusion, periodic, sharp interfaces (jaxpi's setting)"
    coords = ("x", "t")
    fields = ("u",)
    derivatives = ("u_t", "u_xx")
    parameters = {"d": 1e-4}
    periodic = ("x",)
    hard_constrained = ("ic",)
    decay = 10.0  # -d/du (5 u - 5 u^3) at u = -1: how fast a deviation from the value at x = +-1 dies out

    def domain(self):
        return Interval(-1.0, 1.0) * TimeInterval(0.0, 1.0)

    def residuals(self, d):
        return {"pde": d.u_t - self.d * d.u_xx + 5 * d.u**3 - 5 * d.u}

    def conditions(self):
        return [Initial(self.initial)]

    @staticmethod
    def initial(x: torch.Tensor) -> torch.Tensor:
        """u(x, 0): periodic, its slope not (-2 at x = 1, 2 at x = -1)."""
        return x**2 * torch.cos(math.pi * x)

    def output_transform(self, coords, raw):
        """u = e^(-k t) (u(x, 0) + 2 c(1 - |x|, sqrt(2 d t))) + (1 - e^(-k t)) N, k = 10: the initial condition
        holds exactly, and the network is never asked for the corner of u(x, 0) at x = +-1 (slope -2 to 2, where
        u = -1). There the equation linearised about -1 is v_t = d v_xx - 10 v: the corner is damped as
        e^(-10 t) and rounded by diffusion as the heat flow rounds 2 |y|, which is 2 (|y| + c(y, sigma)) with
        `corner_rounding` c. The transform carries both, so what is left to the smooth periodic network has
        second derivatives of order one near x = +-1 instead of 1,000 (e^(-k t) u(x, 0) alone)."""
        x, t = coords["x"], coords["t"]
        fading = torch.exp(-self.decay * t)
        # at t = 0 a spread so small that u(x, 0) holds to the last bit while no derivative overflows
        spread = torch.sqrt((2 * self.d * t).clamp_min(torch.finfo(t.dtype).tiny ** (2 / 3)))
        kept = self.initial(x) + 2 * corner_rounding(1 - x.abs(), spread)
        return {"u": fading * kept + (1 - fading) * raw["u"]}

    def reference(self, x, t):
        return {"u": allen_cahn_reference(float(self.d))(*_numpy(x, t))}


class Advection(Problem):
    """Advection u_t + c u_x = 0, x in [0, 2 pi] periodic, t in [0, 1], u(x, 0) = sin x, c = 80: the failure
    case of Krishnapriyan et al. (2021); exact u = sin(x - c t). The initial value holds exactly (output
    transform)."""

    description = "linear advection at speed c = 80, periodic (Krishnapriyan et al.'s failure case)"
    coords = ("x", "t")
    fields = ("u",)
    derivatives = ("u_t", "u_x")
    parameters = {"c": 80.0}
    periodic = ("x",)
    hard_constrained = ("ic",)

    def __init__(self, parameters: Optional[Mapping[str, Any]] = None):
        super().__init__(parameters)
        self.ramp_time = 1 / float(self.c.detach())  # the time the wave takes to move one radian

    def domain(self):
        return Interval(0.0, 2 * math.pi) * TimeInterval(0.0, 1.0)

    def residuals(self, d):
        return {"pde": d.u_t + self.c * d.u_x}

    def conditions(self):
        return [Initial(torch.sin)]

    def output_transform(self, coords, raw):
        """u = sin x + ramp(t) N, ramp = 1 - exp(-t / tau), tau = 1 / c: the initial condition holds exactly, u
        stays periodic in x, and the network's share stays of order one (with t in place of the ramp it must
        reach (sin(x - c t) - sin x) / t, c cos x, near t = 0)."""
        return {"u": torch.sin(coords["x"]) + ramp(coords["t"], self.ramp_time, 1) * raw["u"]}

    def reference(self, x, t):
        return {"u": torch.sin(x - float(self.c) * t)}


class KdV(Problem):
    """Korteweg-de Vries u_t + alpha u u_x + beta u_xxx = 0, x in [-1, 1] periodic, t in [0, 1],
    u(x, 0) = cos(pi x), alpha = 1, beta = 0.0025 (Raissi et al. 2019): the cosine breaks into solitons.
    The initial value holds exactly (output transform)."""

    description = "Korteweg-de Vries, periodic, a cosine breaking into solitons (Raissi et al.'s setting)"
    coords = ("x", "t")
    fields = ("u",)
    derivatives = ("u_t", "u_x", "u_xxx")
    parameters = {"alpha": 1.0, "beta": 0.0025}
    periodic = ("x",)
    hard_constrained = ("ic",)

    def domain(self):
        return Interval(-1.0, 1.0) * TimeInterval(0.0, 1.0)

    def residuals(self, d):
        return {"pde": d.u_t + self.alpha * d.u * d.u_x + self.beta * d.u_xxx}

    def conditions(self):
        return [Initial(lambda x: torch.cos(math.pi * x))]

    def output_transform(self, coords, raw):
        """u = cos(pi x) + t N: the initial condition holds exactly."""
        return {"u": torch.cos(math.pi * coords["x"]) + coords["t"] * raw["u"]}

    def reference(self, x, t):
        return {"u": kdv_reference(float(self.alpha), float(self.beta))(*_numpy(x, t))}


class KuramotoSivashinsky(Problem):
    """Kuramoto-Sivashinsky u_t + alpha u u_x + beta u_xx + gamma u_xxxx = 0, x in [-1, 1] periodic,
    t in [0, 1], u(x, 0) = -sin(pi x), alpha = 5, beta = 0.5, gamma = 0.005 (jaxpi: 1.61e-1). The initial
    value holds exactly (output transform)."""

    description = "Kuramoto-Sivashinsky, periodic, chaotic (jaxpi's setting)"
    coords = ("x", "t")
    fields = ("u",)
    derivatives = ("u_t", "u_x", "u_xx", "u_xxxx")
    parameters = {"alpha": 5.0, "beta": 0.5, "gamma": 0.005}
    periodic = ("x",)
    hard_constrained = ("ic",)

    def domain(self):
        return Interval(-1.0, 1.0) * TimeInterval(0.0, 1.0)

    def residuals(self, d):
        return {"pde": d.u_t + self.alpha * d.u * d.u_x + self.beta * d.u_xx + self.gamma * d.u_xxxx}

    def conditions(self):
        return [Initial(lambda x: -torch.sin(math.pi * x))]

    def output_transform(self, coords, raw):
        """u = -sin(pi x) + t N: the initial condition holds exactly."""
        return {"u": -torch.sin(math.pi * coords["x"]) + coords["t"] * raw["u"]}

    def reference(self, x, t):
        solution = kuramoto_sivashinsky_reference(float(self.alpha), float(self.beta), float(self.gamma))
        return {"u": solution(*_numpy(x, t))}


class Wave(Problem):
    """Wave u_tt = c^2 u_xx, x in [0, 1], t in [0, 1], u = 0 at x = 0 and 1, u(x, 0) = sin(pi x) +
    sin(4 pi x) / 2, u_t(x, 0) = 0, c = 2 (Wang, Yu & Perdikaris 2022): exact
    u = sin(pi x) cos(c pi t) + sin(4 pi x) cos(4 c pi t) / 2. Both initial conditions and the boundary values
    hold exactly (output transform)."""

    description = "1D wave equation, two modes, fixed ends; an initial condition on u_t"
    coords = ("x", "t")
    fields = ("u",)
    derivatives = ("u_t", "u_tt", "u_xx")
    parameters = {"c": 2.0}
    hard_constrained = ("bc", "ic", "ic_rate")

    def __init__(self, parameters: Optional[Mapping[str, Any]] = None):
        super().__init__(parameters)
        self.ramp_time = 1 / (4 * math.pi * float(self.c.detach()))  # 1 / the fastest mode's angular frequency

    def domain(self):
        return Interval(0.0, 1.0) * TimeInterval(0.0, 1.0)

    def residuals(self, d):
        return {"pde": d.u_tt - self.c**2 * d.u_xx}

    def conditions(self):
        return [Dirichlet(on=("left", "right"), value=0.0, name="bc"), Initial(self.initial),
                Initial(0.0, rate=True)]

    @staticmethod
    def initial(x: torch.Tensor) -> torch.Tensor:
        """u(x, 0)."""
        return torch.sin(math.pi * x) + 0.5 * torch.sin(4 * math.pi * x)

    def output_transform(self, coords, raw):
        """u = u(x, 0) + x (1 - x) ramp(t) N, ramp = 1 - exp(-(t / tau)^2), tau = 1 / (4 c pi): u(x, 0),
        u_t(x, 0) = 0 and the fixed ends hold exactly, and the network's share stays of order one (with t^2 in
        place of the ramp it must reach (1 - cos(4 c pi t)) / t^2, about 300, near t = 0)."""
        x, t = coords["x"], coords["t"]
        return {"u": self.initial(x) + x * (1 - x) * ramp(t, self.ramp_time, 2) * raw["u"]}

    def reference(self, x, t):
        c = float(self.c)
        return {"u": torch.sin(math.pi * x) * torch.cos(c * math.pi * t)
                + 0.5 * torch.sin(4 * math.pi * x) * torch.cos(4 * c * math.pi * t)}
