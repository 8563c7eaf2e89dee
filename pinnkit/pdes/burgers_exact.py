"""Exact solution of viscous Burgers on [-1, 1] with u(x, 0) = -sin(pi x), u(+-1, t) = 0, by Cole-Hopf.

The reference against which the Burgers PINN is scored (Basdevant et al. 1986; Raissi et al. 2019):

    u(x, t) = -int sin(pi (x - e)) F(x - e) G(e) de / int F(x - e) G(e) de,
    F(y) = exp(-cos(pi y) / (2 pi nu)),  G(e) = exp(-e^2 / (4 nu t)).

With e = sqrt(4 nu t) s the Gaussian becomes exp(-s^2). F spans a factor exp(1 / (pi nu)),
so |s| <= sqrt(1 / (pi nu) + 40) holds everything above exp(-40) of the peak. The log of the
integrand has curvature >= -(2 pi t + 2) in s, so its peaks are at least 1 / sqrt(2 pi t + 2)
wide and the trapezoid rule on a step a fraction of that converges spectrally (to ~1e-15).
Exponents are shifted by their maximum before exponentiating, so small nu cannot overflow.
"""
from __future__ import annotations

import numpy as np

_BLOCK = 1 << 21  # points x nodes evaluated at once: bounds memory to tens of MB


def burgers_exact(x: np.ndarray, t: np.ndarray, nu: float, nodes_per_width: float = 2.5) -> np.ndarray:
    """u(x, t) in float64 for broadcastable x, t >= 0; `nodes_per_width` sets the quadrature step."""
    x, t = np.broadcast_arrays(np.asarray(x, np.float64), np.asarray(t, np.float64))
    if nu <= 0 or np.any(t < 0):
        raise ValueError("burgers_exact needs nu > 0 and t >= 0")
    flat_x, flat_t = x.reshape(-1), t.reshape(-1)
    u = -np.sin(np.pi * flat_x)  # t = 0 keeps the initial condition exactly
    later = np.flatnonzero(flat_t > 0)
    if later.size:
        s = _nodes(nu, float(flat_t.max()), nodes_per_width)
        block = max(1, _BLOCK // s.size)
        for start in range(0, later.size, block):
            idx = later[start:start + block]
            u[idx] = _cole_hopf(flat_x[idx], flat_t[idx], nu, s)
    return u.reshape(x.shape)


def _nodes(nu: float, t_max: float, nodes_per_width: float) -> np.ndarray:
    """Trapezoid nodes in s, exactly symmetric about 0 (so u(+-1, t) cancels to rounding)."""
    step = 1 / (np.sqrt(2 * np.pi * t_max + 2) * nodes_per_width)
    half = int(np.ceil(np.sqrt(1 / (np.pi * nu) + 40) / step))
    return step * np.arange(-half, half + 1)


def _cole_hopf(x: np.ndarray, t: np.ndarray, nu: float, s: np.ndarray) -> np.ndarray:
    """The quadrature ratio for points with t > 0; equal trapezoid weights cancel in the ratio."""
    y = x[:, None] - np.sqrt(4 * nu * t)[:, None] * s
    exponent = -np.cos(np.pi * y) / (2 * np.pi * nu) - s**2
    weight = np.exp(exponent - exponent.max(axis=1, keepdims=True))
    return -np.einsum("ij,ij->i", np.sin(np.pi * y), weight) / weight.sum(axis=1)
