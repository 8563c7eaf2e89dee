"""Lid-driven cavity reference: a streamfunction-vorticity finite-difference solve of steady Navier-Stokes.

On the unit square with an n x n grid (spacing h):

    lap psi = -omega,   psi_y omega_x - psi_x omega_y = lap omega / Re,   u = psi_y, v = -psi_x,

second-order central differences inside, psi = 0 on the walls, and the wall vorticity from
the second-order one-sided formula omega_w = -(8 psi_1 - psi_2 + 6 h U_w) / (2 h^2) (psi_k the
value k cells inward, U_w the wall's tangential speed, lid only). The coupled nonlinear system
is solved by Newton's method with a sparse direct solver (from the Stokes flow; 6 iterations, about
2 s at n = 129 and Re = 100). There, with a flat lid, its centre-line velocities agree with Ghia, Ghia
& Shin (1982) within 0.0044 (u) and 0.0084 (v) of the lid speed (tests/test_pdes.py), while refining
to n = 257 changes them by under 6e-4: the difference is mostly Ghia's. Pressure is not computed.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Optional, TypeVar

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch
from scipy.interpolate import RegularGridInterpolator

Array = TypeVar("Array", np.ndarray, torch.Tensor)


@dataclass(frozen=True)
class CavityFlow:
    """The solution on the grid: `axis` (n,) in x and in y, fields (n, n) indexed [i along x, j along y]."""

    axis: np.ndarray
    psi: np.ndarray
    omega: np.ndarray
    u: np.ndarray
    v: np.ndarray
    newton_steps: int

    def at(self, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        """u and v at scattered points by cubic interpolation on the grid."""
        points = np.stack([np.clip(x, 0, 1), np.clip(y, 0, 1)], axis=-1)
        return {f: RegularGridInterpolator((self.axis, self.axis), getattr(self, f), method="cubic")(points)
                for f in ("u", "v")}


def _operators(n: int, h: float) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]:
    """Central d/dx, d/dy and the 5-point Laplacian on the flattened grid (index i n + j); wall rows unused."""
    eye = sp.identity(n, format="csr")
    d1 = sp.diags([-1.0, 1.0], [-1, 1], shape=(n, n)) / (2 * h)
    d2 = sp.diags([1.0, -2.0, 1.0], [-1, 0, 1], shape=(n, n)) / h**2
    return sp.kron(d1, eye).tocsr(), sp.kron(eye, d1).tocsr(), (sp.kron(d2, eye) + sp.kron(eye, d2)).tocsr()


def _walls(n: int, h: float, lid: np.ndarray) -> tuple[np.ndarray, sp.csr_matrix, np.ndarray]:
    """Wall mask, and the wall vorticity omega_w = W psi + c (the one-sided formula) as the matrix W and vector c."""
    index, inner = np.arange(n * n).reshape(n, n), np.arange(1, n - 1)
    sides = [(index[0, inner], index[1, inner], index[2, inner]),      # left: wall, one and two cells inward
             (index[-1, inner], index[-2, inner], index[-3, inner]),   # right
             (index[inner, 0], index[inner, 1], index[inner, 2]),      # bottom
             (index[inner, -1], index[inner, -2], index[inner, -3])]   # top: the lid
    at, one, two = (np.concatenate(k) for k in zip(*sides))
    weights = np.concatenate([np.full(at.size, -4 / h**2), np.full(at.size, 1 / (2 * h**2))])
    w = sp.csr_matrix((weights, (np.concatenate([at, at]), np.concatenate([one, two]))), shape=(n * n, n * n))
    c = np.zeros(n * n)
    c[index[inner, -1]] = -3 * lid[inner] / h
    wall = np.ones((n, n), bool)
    wall[1:-1, 1:-1] = False
    return wall.reshape(-1), w, c


def lid_speed(x: Array, width: Optional[float]) -> Array:
    """The lid's velocity at x (NumPy or torch): 1, or with a `width` d the profile (tanh(x / d) tanh((1 - x) / d))^2,
    which meets the resting side walls with zero value and slope, so continuity holds in the corners."""
    if width is None:
        return x * 0 + 1
    tanh = torch.tanh if torch.is_tensor(x) else np.tanh
    return (tanh(x / width) * tanh((1 - x) / width)) ** 2


@functools.lru_cache(maxsize=4)
def solve_cavity(re: float, n: int = 129, lid_width: Optional[float] = None, tol: float = 1e-10,
                 max_steps: int = 30) -> CavityFlow:
    """Steady cavity flow at Reynolds number `re` (lid speed 1, side 1) on an n x n grid; cached per arguments."""
    h = 1.0 / (n - 1)
    axis = np.linspace(0.0, 1.0, n)
    dx, dy, lap = _operators(n, h)
    wall, w, c = _walls(n, h, lid_speed(axis, lid_width))
    inside = sp.diags((~wall).astype(float))
    on_wall = sp.diags(wall.astype(float))
    state = np.zeros(2 * n * n)

    def residual(z: np.ndarray) -> np.ndarray:
        psi, omega = z[: n * n], z[n * n:]
        r_psi = np.where(wall, psi, lap @ psi + omega)
        r_omega = np.where(wall, omega - (w @ psi + c),
                           (dy @ psi) * (dx @ omega) - (dx @ psi) * (dy @ omega) - lap @ omega / re)
        return np.concatenate([r_psi, r_omega])

    for step in range(1, max_steps + 1):
        psi, omega = state[: n * n], state[n * n:]
        convect_psi = sp.diags(dx @ omega) @ dy - sp.diags(dy @ omega) @ dx
        convect_omega = sp.diags(dy @ psi) @ dx - sp.diags(dx @ psi) @ dy - lap / re
        jacobian = sp.bmat([[inside @ lap + on_wall, inside],
                            [inside @ convect_psi - on_wall @ w, inside @ convect_omega + on_wall]], format="csc")
        r = residual(state)
        state = state - spla.spsolve(jacobian, r)
        if np.abs(r).max() < tol * max(1.0, np.abs(state).max()) and step > 1:
            break
    else:
        raise RuntimeError(f"cavity solve: Newton did not converge in {max_steps} steps at Re = {re}")
    psi, omega = state[: n * n].reshape(n, n), state[n * n:].reshape(n, n)
    u, v = np.zeros((n, n)), np.zeros((n, n))
    u[1:-1, 1:-1] = (psi[1:-1, 2:] - psi[1:-1, :-2]) / (2 * h)
    v[1:-1, 1:-1] = -(psi[2:, 1:-1] - psi[:-2, 1:-1]) / (2 * h)
    u[:, -1] = lid_speed(axis, lid_width)
    return CavityFlow(axis, psi, omega, u, v, step)
