"""Poisson -lap u = f in 2D with manufactured solutions u = sum_k a_k sin(m_k pi x) sin(n_k pi y).

Each case lists its modes (a, m, n); the source f = sum_k a_k (m_k^2 + n_k^2) pi^2 sin sin follows,
and the solution is its own reference. Cases: the unit square, a multi-scale solution on it
(a high-frequency mode where Fourier features help), and an L-shaped polygon with one Neumann edge.
"""
from __future__ import annotations

import math

import torch

from ..conditions import Dirichlet, Neumann
from ..geometry import Polygon, Rectangle
from ..problem import Problem

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
