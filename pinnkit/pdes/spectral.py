"""Reference solutions of periodic 1D evolution equations u_t = L u + N(u), by a Fourier spectral method.

In space the solution is a trigonometric polynomial on N equispaced points of one period; in time,
exponential time differencing with fourth-order Runge-Kutta stages (ETDRK4, Cox & Matthews 2002), its
coefficients by the contour integrals of Kassam & Trefethen (2005, "Fourth-order time-stepping for
stiff PDEs"), which stay accurate where the stiff linear part L (diffusion, dispersion, hyperdiffusion)
is large. The full circle of the contour makes them exact for complex symbols too (KdV's i k^3).

A `SpectralSolution` evaluates anywhere in space-time without interpolating in time: a query at a time
between two stored steps takes one ETDRK4 step of the exact length from the earlier one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

CONTOUR_POINTS = 64  # trapezoidal points on the unit circle around each h L (exponentially accurate)
CHUNK = 2**22  # query points times modes per Fourier evaluation, to bound memory

Nonlinear = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (coefficients, wavenumbers) -> coefficients


@dataclass
class Coefficients:
    """ETDRK4's coefficients for one step length h: exp(hL), exp(hL/2) and the phi-function weights."""

    e: np.ndarray
    e2: np.ndarray
    q: np.ndarray
    f1: np.ndarray
    f2: np.ndarray
    f3: np.ndarray

    @classmethod
    def of(cls, symbol: np.ndarray, h: float) -> "Coefficients":
        hl = h * symbol
        r = np.exp(2j * np.pi * (np.arange(CONTOUR_POINTS) + 0.5) / CONTOUR_POINTS)
        z = hl[:, None] + r[None, :]
        ez = np.exp(z)

        def mean(values: np.ndarray) -> np.ndarray:
            return h * values.mean(axis=1)

        return cls(np.exp(hl), np.exp(hl / 2), mean((np.exp(z / 2) - 1) / z),
                   mean((-4 - z + ez * (4 - 3 * z + z**2)) / z**3),
                   mean((2 + z + ez * (z - 2)) / z**3),
                   mean((-4 - 3 * z - z**2 + ez * (4 - z)) / z**3))


def etdrk4_step(v: np.ndarray, c: Coefficients, nonlinear: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """One ETDRK4 step of the Fourier coefficients v (Cox & Matthews' stages a, b, c)."""
    nv = nonlinear(v)
    a = c.e2 * v + c.q * nv
    na = nonlinear(a)
    b = c.e2 * v + c.q * na
    nb = nonlinear(b)
    cc = c.e2 * a + c.q * (2 * nb - nv)
    nc = nonlinear(cc)
    return c.e * v + c.f1 * nv + 2 * c.f2 * (na + nb) + c.f3 * nc


class SpectralSolution:
    """u(x, t) of u_t = L u + N(u) on [x0, x0 + period), periodic, for t in [0, t_end].

    `symbol(k)`: L's Fourier symbol at the wavenumbers k (-k^2 for u_xx, -i k^3... as complex numbers);
    `nonlinear(u_hat, k)`: the Fourier coefficients of N(u) from those of u (np.fft.rfft layout);
    `initial(x)`: u at t = 0. `modes` (odd) points per period, `steps` steps of t_end / steps.
    """

    def __init__(self, symbol: Callable[[np.ndarray], np.ndarray], nonlinear: Nonlinear,
                 initial: Callable[[np.ndarray], np.ndarray], x0: float, period: float, t_end: float,
                 modes: int, steps: int):
        if modes % 2 == 0 or modes < 3:
            raise ValueError(f"modes must be odd and at least 3 (no Nyquist mode, whose odd derivatives are "
                             f"ambiguous), got {modes}")
        self.x0, self.period, self.modes = float(x0), float(period), int(modes)
        self.k = 2 * np.pi / self.period * np.arange(self.modes // 2 + 1)
        self.symbol = np.asarray(symbol(self.k), dtype=complex)
        self.dt = t_end / steps
        self._nonlinear = lambda v: nonlinear(v, self.k)
        x = self.x0 + self.period * np.arange(self.modes) / self.modes
        v = np.fft.rfft(np.asarray(initial(x), dtype=float))
        coefficients = Coefficients.of(self.symbol, self.dt)
        states = [v]
        for _ in range(steps):
            v = etdrk4_step(v, coefficients, self._nonlinear)
            states.append(v)
        self.states = np.array(states)  # (steps + 1, modes // 2 + 1)
        self.times = self.dt * np.arange(steps + 1)

    def coefficients_at(self, t: float) -> np.ndarray:
        """The Fourier coefficients at time t: the stored step at or before t, advanced by t minus its time."""
        i = min(int(np.floor(t / self.dt + 1e-9)), len(self.times) - 1)
        rest = t - self.times[i]
        if rest <= 1e-14 * max(1.0, abs(t)):
            return self.states[i]
        return etdrk4_step(self.states[i], Coefficients.of(self.symbol, rest), self._nonlinear)

    def values(self, coefficients: np.ndarray, x: np.ndarray) -> np.ndarray:
        """The trigonometric polynomial with these rfft coefficients, at the points x (any shape)."""
        weights = np.full(len(self.k), 2.0)
        weights[0] = 1.0  # every other mode stands for itself and its conjugate
        scaled = weights * coefficients / self.modes
        flat = (np.asarray(x, dtype=float).ravel() - self.x0)
        out = np.empty(flat.shape)
        rows = max(1, CHUNK // len(self.k))
        for start in range(0, len(flat), rows):
            phase = np.exp(1j * np.outer(flat[start:start + rows], self.k))
            out[start:start + rows] = (phase @ scaled).real
        return out.reshape(np.shape(x))

    def __call__(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        """u at the points (x, t) (arrays of one shape), each distinct time evaluated once."""
        x, t = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(t, dtype=float))
        out = np.empty(x.shape)
        times, index = np.unique(t, return_inverse=True)
        index = index.reshape(t.shape)
        for j, time in enumerate(times):
            if not 0.0 <= time <= self.times[-1] + 1e-12:
                raise ValueError(f"t = {time} is outside the solved range [0, {self.times[-1]}]")
            where = index == j
            out[where] = self.values(self.coefficients_at(time), x[where])
        return out
