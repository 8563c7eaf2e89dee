"""Poisson -lap u = f in 2D with manufactured solutions u = sum_k a_k sin(m_k pi x) sin(n_k pi y).

Each case lists its modes (a, m, n); the source f = sum_k a_k (m_k^2 + n_k^2) pi^2 sin sin follows,
and the solution is its own reference. Cases: the unit square, a multi-scale solution on it
(a high-frequency mode where Fourier features help), and an L-shaped polygon with one Neumann edge.
`PlateWithHoles` is a constructed domain (a square less two disks) with a solution of its own that
vanishes on every part of its boundary.
"""
from __future__ import annotations

import math
from functools import cached_property

import numpy as np
import torch
from scipy.integrate import quad

from ..conditions import Dirichlet, Neumann
from ..geometry import Coons, Disk, DistanceFunction, Polygon, Rectangle
from ..problem import Problem
from ..quantities import BoundaryIntegral, PointValue

Mode = tuple[float, int, int]  # amplitude a, wavenumbers m (in x) and n (in y)


class ManufacturedPoisson(Problem):
    """Base of the Poisson cases: the residual, the source and the exact solution of `modes`."""

    coords = ("x", "y")
    fields = ("u",)
    derivatives = ("u_xx", "u_yy")
    modes: tuple[Mode, ...] = ((1.0, 1, 1),)

    def residuals(self, d):
        return {"pde": -(d.u_xx + d.u_yy) - self.source(d.x, d.y)}

    def source(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return sum(a * (m**2 + n**2) * math.pi**2 * torch.sin(m * math.pi * x) * torch.sin(n * math.pi * y)
                   for a, m, n in self.modes)

    def reference(self, x, y):
        return {"u": sum(a * torch.sin(m * math.pi * x) * torch.sin(n * math.pi * y) for a, m, n in self.modes)}

    def gradient(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(u_x, u_y) of the exact solution, for Neumann data."""
        return (sum(a * m * math.pi * torch.cos(m * math.pi * x) * torch.sin(n * math.pi * y) for a, m, n in self.modes),
                sum(a * n * math.pi * torch.sin(m * math.pi * x) * torch.cos(n * math.pi * y) for a, m, n in self.modes))

    def exact(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.reference(x, y)["u"]


class Poisson(ManufacturedPoisson):
    """The unit square, u = sin(pi x) sin(pi y), u = 0 on the boundary (exactly, by the output transform)."""

    description = "-lap u = f on the unit square, u = sin(pi x) sin(pi y), Dirichlet"
    hard_constrained = ("bc",)

    def domain(self):
        return Rectangle([0.0, 0.0], [1.0, 1.0])

    def conditions(self):
        return [Dirichlet(value=self.exact, name="bc")]

    def output_transform(self, coords, raw):
        """u = x (1 - x) y (1 - y) N: zero on the boundary, as every mode is (whole wavenumbers)."""
        x, y = coords["x"], coords["y"]
        return {"u": x * (1 - x) * y * (1 - y) * raw["u"]}


class PoissonMultiscale(Poisson):
    """The unit square with u = sin(pi x) sin(pi y) + 0.1 sin(8 pi x) sin(8 pi y): two scales, the fine one
    carrying most of the source (a plain tanh network is slow to learn it; Fourier features are not)."""

    description = "-lap u = f on the unit square, two scales (wavenumbers 1 and 8)"
    modes = ((1.0, 1, 1), (0.1, 8, 8))


class PoissonLShape(ManufacturedPoisson):
    """The L-shaped [0, 1]^2 minus [0.5, 1]^2, u = sin(pi x) sin(pi y): exact u on every edge but the right
    one (x = 1, 0 <= y <= 0.5), where du/dn = u_x (outward normal +x) is given instead."""

    description = "-lap u = f on an L-shaped polygon, Dirichlet and one Neumann edge"

    def domain(self):
        return Polygon([(0.0, 0.0), (1.0, 0.0), (1.0, 0.5), (0.5, 0.5), (0.5, 1.0), (0.0, 1.0)],
                       edge_names=("bottom", "right", "inner", "inner", "top", "left"))

    def conditions(self):
        return [Dirichlet(on=("bottom", "inner", "top", "left"), value=self.exact, name="bc"),
                Neumann(on="right", value=lambda x, y: self.gradient(x, y)[0], name="flux")]


HOLES = {"left_hole": ((0.3, 0.6), 0.15), "right_hole": ((0.7, 0.35), 0.12)}  # name: (centre, radius)
PLATE_AMPLITUDE = 50.0  # brings the largest |u| on the plate near 1
PLATE = Coons((0.0, 0.0), (1.0, 1.0))


class PlateWithHoles(Problem):
    """The unit square less two disks (`HOLES`), -lap u = f with u = A sin(pi x) sin(pi y) rho_1 rho_2,
    rho_k = |x - c_k|^2 - r_k^2 (zero on hole k): u = 0 on the plate's `edges` and on both holes, exactly
    under `output_transform` (a factor that vanishes on every part times the network). Quantities: the
    flux of u through each hole (the integral of du/dn over its circle) and u at the plate's centre."""

    description = "-lap u = f on a square plate with two round holes, u = 0 on every part"
    coords = ("x", "y")
    fields = ("u",)
    derivatives = ("u_xx", "u_yy")
    hard_constrained = ("bc",)

    def domain(self):
        plate = Rectangle(PLATE.lower, PLATE.upper)
        for name, (center, radius) in HOLES.items():
            plate = plate - Disk(center, radius, name=name)
        return plate.renamed(left="edges", right="edges", bottom="edges", top="edges")

    def residuals(self, d):
        return {"pde": -(d.u_xx + d.u_yy) - self.source(d.x, d.y)}

    def conditions(self):
        return [Dirichlet(value=0.0, name="bc")]

    def output_transform(self, coords, raw):
        """u = B phi N: zero on every part. B is the plate's bubble (zero on its edges, smooth into its corners,
        where the distance function to the edges has unbounded second derivatives), phi the distance function
        to the holes."""
        x, y = coords["x"], coords["y"]
        return {"u": PLATE.bubble(x, y) * self.distance(torch.cat([x, y], dim=1))[:, None] * raw["u"]}

    @cached_property
    def distance(self) -> DistanceFunction:
        return self.domain().distance_function(tuple(HOLES))

    def reference(self, x, y):
        sine, _ = _sine(x, y)
        rho = [r for r, _ in _rings(x, y)]
        return {"u": PLATE_AMPLITUDE * sine * rho[0] * rho[1]}

    def source(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """-lap u = -A (P lap S + 2 grad S . grad P + S lap P), S the sines and P = rho_1 rho_2."""
        sine, (sx, sy) = _sine(x, y)
        (r1, (ax, ay)), (r2, (bx, by)) = _rings(x, y)
        px, py = r2 * ax + r1 * bx, r2 * ay + r1 * by
        laplace_p = 4 * (r1 + r2) + 2 * (ax * bx + ay * by)
        return -PLATE_AMPLITUDE * (-2 * math.pi**2 * sine * r1 * r2 + 2 * (sx * px + sy * py) + sine * laplace_p)

    def quantities(self):
        flux = {f"flux_{name}": BoundaryIntegral(name, lambda d, n: d.u_x * n[:, 0] + d.u_y * n[:, 1],
                                                 derivatives=("u_x", "u_y"), reference=_hole_flux(name))
                for name in HOLES}
        center = torch.tensor([0.5], dtype=torch.float64)
        return {**flux, "center": PointValue((0.5, 0.5), "u", reference=float(self.reference(center, center)["u"]))}


def _sine(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """S = sin(pi x) sin(pi y) and its gradient."""
    px, py = math.pi * x, math.pi * y
    return torch.sin(px) * torch.sin(py), (math.pi * torch.cos(px) * torch.sin(py),
                                           math.pi * torch.sin(px) * torch.cos(py))


def _rings(x: torch.Tensor, y: torch.Tensor) -> list[tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]]:
    """rho_k = |x - c_k|^2 - r_k^2 and its gradient 2 (x - c_k), for each hole."""
    return [((x - cx) ** 2 + (y - cy) ** 2 - r**2, (2 * (x - cx), 2 * (y - cy))) for (cx, cy), r in HOLES.values()]


def _hole_flux(name: str) -> float:
    """The exact solution's flux through a hole: u = 0 there, so du/dn = A S rho_j d rho_k / dn with
    d rho_k / dn = -2 r_k (n points into the hole); integrated in angle by adaptive quadrature."""
    (cx, cy), r = HOLES[name]
    (ox, oy), s = next(hole for other, hole in HOLES.items() if other != name)

    def density(theta: float) -> float:
        x, y = cx + r * np.cos(theta), cy + r * np.sin(theta)
        rho = (x - ox) ** 2 + (y - oy) ** 2 - s**2
        return PLATE_AMPLITUDE * np.sin(np.pi * x) * np.sin(np.pi * y) * rho * (-2 * r) * r

    return quad(density, 0.0, 2 * np.pi, epsabs=1e-13, epsrel=1e-13, limit=200)[0]
