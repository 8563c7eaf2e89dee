"""Lid-driven cavity reference: a streamfunction-vorticity finite-difference solve of steady Navier-Stokes.

On the unit square with an n x n grid (spacing h):

    lap psi = -omega,   psi_y omega_x - psi_x omega_y = lap omega / Re,   u = psi_y, v = -psi_x,

second-order central differences inside, psi = 0 on the walls, and the wall vorticity from
the second-order one-sided formula omega_w = -(8 psi_1 - psi_2 + 6 h U_w) / (2 h^2) (psi_k the
value k cells inward, U_w the wall's tangential speed, lid only). The coupled nonlinear system
is solved by Newton's method with a sparse direct solver (from the Stokes flow; 6 iterations, about
2 s at n = 129 and Re = 100). There, with a flat lid, its centre-line velocities agree with Ghia, Ghia
& Shin (1982) within 0.0044 (u) and 0.0084 (v) of the lid speed (tests/test_pdes.py): the difference
is mostly Ghia's.

`converged_cavity` is the reference an error of 1e-4 to 1e-5 can be measured against: the solves on
n and 2n - 1 points (the finer one started from the coarser) combined by Richardson extrapolation on
the n grid, which cancels the h^2 error term. Its change from the same extrapolation one level coarser
is kept with it (`change`); at Re = 100 with the shipped lid and n = 257 it is 2.7e-5 (u) and 4.3e-5 (v)
in relative L2, and it shrinks 4.5x to 7x a level from 33 points up, so the reference is within about
1e-5. The 513-point solve (started from the 257-point one, 3 Newton steps) takes about 50 s and 2.2 GB,
so the result is cached on disk (`cache_dir`).
"""
from __future__ import annotations

import functools
import logging
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional, TypeVar

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch
from scipy.interpolate import RegularGridInterpolator

Array = TypeVar("Array", np.ndarray, torch.Tensor)
log = logging.getLogger(__name__)
CACHE_VERSION = 1  # part of the cached file's name: bump it when the discretisation changes


@dataclass(frozen=True)
class CavityFlow:
    """The solution on the grid: `axis` (n,) in x and in y, fields (n, n) indexed [i along x, j along y]."""

    axis: np.ndarray
    psi: np.ndarray
    omega: np.ndarray
    u: np.ndarray
    v: np.ndarray
    newton_steps: int
    change: dict[str, float] = field(default_factory=dict)  # extrapolated: relative L2 change from one level coarser

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


def _newton(re: float, n: int, lid_width: Optional[float], state: np.ndarray, tol: float,
            max_steps: int) -> tuple[np.ndarray, int]:
    """Newton's method on the coupled (psi, omega) system from `state`; the converged state and its step count."""
    h = 1.0 / (n - 1)
    dx, dy, lap = _operators(n, h)
    wall, w, c = _walls(n, h, lid_speed(np.linspace(0.0, 1.0, n), lid_width))
    inside = sp.diags((~wall).astype(float))
    on_wall = sp.diags(wall.astype(float))

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
            return state, step
    raise RuntimeError(f"cavity solve: Newton did not converge in {max_steps} steps at Re = {re}")


def _flow(state: np.ndarray, n: int, lid_width: Optional[float], steps: int) -> CavityFlow:
    """Velocities from the streamfunction by central differences, the walls' own velocities on the walls."""
    h, axis = 1.0 / (n - 1), np.linspace(0.0, 1.0, n)
    psi, omega = state[: n * n].reshape(n, n), state[n * n:].reshape(n, n)
    u, v = np.zeros((n, n)), np.zeros((n, n))
    u[1:-1, 1:-1] = (psi[1:-1, 2:] - psi[1:-1, :-2]) / (2 * h)
    v[1:-1, 1:-1] = -(psi[2:, 1:-1] - psi[:-2, 1:-1]) / (2 * h)
    u[:, -1] = lid_speed(axis, lid_width)
    return CavityFlow(axis, psi, omega, u, v, steps)


def _refined_state(flow: CavityFlow, n: int) -> np.ndarray:
    """psi and omega of `flow` interpolated (cubic) onto an n x n grid: a start close to the finer solution."""
    axis = np.linspace(0.0, 1.0, n)
    points = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)
    return np.concatenate([RegularGridInterpolator((flow.axis, flow.axis), getattr(flow, f), method="cubic")(points)
                           for f in ("psi", "omega")])


@functools.lru_cache(maxsize=4)
def solve_cavity(re: float, n: int = 129, lid_width: Optional[float] = None, tol: float = 1e-10,
                 max_steps: int = 30) -> CavityFlow:
    """Steady cavity flow at Reynolds number `re` (lid speed 1, side 1) on an n x n grid; cached per arguments."""
    state, steps = _newton(re, n, lid_width, np.zeros(2 * n * n), tol, max_steps)
    return _flow(state, n, lid_width, steps)


def _extrapolated(coarse: CavityFlow, fine: CavityFlow) -> CavityFlow:
    """Richardson extrapolation of second-order solves on n and 2n - 1 points, on the n grid: (4 fine - coarse) / 3."""
    combined = {f: (4 * getattr(fine, f)[::2, ::2] - getattr(coarse, f)) / 3 for f in ("psi", "omega", "u", "v")}
    return CavityFlow(coarse.axis, newton_steps=coarse.newton_steps + fine.newton_steps, **combined)


def _relative_change(new: CavityFlow, old: CavityFlow) -> dict[str, float]:
    """Relative L2 difference of u and v on the coarser grid's nodes."""
    k = (len(new.axis) - 1) // (len(old.axis) - 1)
    return {f: float(np.linalg.norm(getattr(new, f)[::k, ::k] - getattr(old, f)) / np.linalg.norm(getattr(old, f)))
            for f in ("u", "v")}


def default_cache_dir() -> Path:
    """Where computed references are kept: $PINNKIT_CACHE_DIR, else ~/.cache/pinnkit."""
    return Path(os.environ.get("PINNKIT_CACHE_DIR") or Path.home() / ".cache" / "pinnkit")


@functools.lru_cache(maxsize=4)
def converged_cavity(re: float, lid_width: Optional[float] = None, n: int = 257,
                     cache_dir: Optional[Path] = None) -> CavityFlow:
    """The extrapolated flow on n points from solves on (n + 1) / 2, n and 2n - 1 points, read from
    `cache_dir` (default `default_cache_dir()`) when an earlier call computed it, else computed and saved there."""
    if (n - 1) % 4:
        raise ValueError(f"cavity reference: n - 1 must be a multiple of 4, got n = {n}")
    path = (cache_dir or default_cache_dir()) / f"cavity-v{CACHE_VERSION}-re{re:g}-lid{lid_width}-n{n}.npz"
    if path.is_file():
        with np.load(path) as saved:
            return CavityFlow(saved["axis"], saved["psi"], saved["omega"], saved["u"], saved["v"],
                              int(saved["newton_steps"]), {f: float(saved[f"change_{f}"]) for f in ("u", "v")})
    log.info("computing the cavity reference at Re = %g on %d, %d and %d points (once; kept in %s)",
             re, (n + 1) // 2, n, 2 * n - 1, path.parent)
    levels = [solve_cavity(re, (n + 1) // 2, lid_width)]
    for size in (n, 2 * n - 1):
        state, steps = _newton(re, size, lid_width, _refined_state(levels[-1], size), 1e-10, 30)
        levels.append(_flow(state, size, lid_width, steps))
    coarser, flow = _extrapolated(*levels[:2]), _extrapolated(*levels[1:])
    flow = replace(flow, change=_relative_change(flow, coarser))
    _save(path, flow)
    return flow


def _save(path: Path, flow: CavityFlow) -> None:
    """Write the flow atomically (a temporary file renamed into place); an unwritable cache is only logged."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as tmp:
            np.savez(tmp, axis=flow.axis, psi=flow.psi, omega=flow.omega, u=flow.u, v=flow.v,
                     newton_steps=flow.newton_steps, **{f"change_{f}": c for f, c in flow.change.items()})
        os.replace(tmp.name, path)
    except OSError as err:
        log.warning("cavity reference not cached (%s): it will be computed again next time", err)
