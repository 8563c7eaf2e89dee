"""Stand-in cases for the speed benchmark, used while pinnkit ships no Poisson or Kovasznay problem.

Both have exact solutions, so a run of them also reports an error; the benchmark only times them.
"""
from __future__ import annotations

import math

import torch

from pinnkit import Dirichlet, Problem, Rectangle


class Poisson2D(Problem):
    """-(u_xx + u_yy) = 2 pi^2 sin(pi x) sin(pi y) on [0, 1]^2, u = 0 on the boundary."""

    coords = ("x", "y")
    fields = ("u",)
    derivatives = ("u_xx", "u_yy")

    def domain(self):
        return Rectangle([0.0, 0.0], [1.0, 1.0])

    def residuals(self, d):
        return {"pde": d.u_xx + d.u_yy + 2 * math.pi**2 * torch.sin(math.pi * d.x) * torch.sin(math.pi * d.y)}

    def conditions(self):
        return [Dirichlet(value=0.0)]

    def reference(self, x, y):
        return {"u": torch.sin(math.pi * x) * torch.sin(math.pi * y)}


class Kovasznay(Problem):
    """Steady Navier-Stokes at Re = 20 on [-0.5, 1] x [-0.5, 1.5] (Kovasznay 1948), exact velocity on the boundary."""

    coords = ("x", "y")
    fields = ("u", "v", "p")
    derivatives = ("u_x", "u_y", "u_xx", "u_yy", "v_x", "v_y", "v_xx", "v_yy", "p_x", "p_y")
    parameters = {"re": 20.0}
    mean_free = ("p",)

    @property
    def lam(self) -> float:
        re = float(self.re)
        return re / 2 - math.sqrt(re**2 / 4 + 4 * math.pi**2)

    def domain(self):
        return Rectangle([-0.5, -0.5], [1.0, 1.5])

    def residuals(self, d):
        return {"momentum_x": d.u * d.u_x + d.v * d.u_y + d.p_x - (d.u_xx + d.u_yy) / self.re,
                "momentum_y": d.u * d.v_x + d.v * d.v_y + d.p_y - (d.v_xx + d.v_yy) / self.re,
                "continuity": d.u_x + d.v_y}

    def conditions(self):
        exact = {f: (lambda x, y, f=f: self.reference(x, y)[f]) for f in ("u", "v")}
        return [Dirichlet(value=exact)]

    def reference(self, x, y):
        lam = self.lam
        e = torch.exp(lam * x)
        return {"u": 1 - e * torch.cos(2 * math.pi * y), "v": lam / (2 * math.pi) * e * torch.sin(2 * math.pi * y),
                "p": (1 - torch.exp(2 * lam * x)) / 2}
