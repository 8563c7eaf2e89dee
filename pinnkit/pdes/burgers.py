"""Viscous Burgers: u_t + u u_x = nu u_xx on [-1, 1] x [0, 1], u(x, 0) = -sin(pi x), u(+-1, t) = 0.

The classic PINN benchmark (Raissi et al. 2019) with nu = 0.01/pi; its reference
is exact, from the Cole-Hopf transform (`burgers_exact`).
"""
from __future__ import annotations

import math

import torch

from ..conditions import Dirichlet, Initial
from ..geometry import Interval, TimeInterval
from ..problem import Problem
from .burgers_exact import burgers_exact


class Burgers(Problem):
    """Burgers' equation with its shipped initial and boundary conditions and the Cole-Hopf reference."""

    description = "viscous Burgers u_t + u u_x = nu u_xx, shock forming from -sin(pi x)"
    coords = ("x", "t")
    fields = ("u",)
    derivatives = ("u_t", "u_x", "u_xx")
    parameters = {"nu": 0.01 / math.pi}
    hard_constrained = ("ic", "bc")

    def domain(self):
        return Interval(-1.0, 1.0) * TimeInterval(0.0, 1.0)

    def residuals(self, d):
        return {"pde": d.u_t + d.u * d.u_x - self.nu * d.u_xx}

    def conditions(self):
        return [Dirichlet(on=("left", "right"), value=0.0, name="bc"),
                Initial(lambda x: -torch.sin(math.pi * x))]

    def output_transform(self, coords, raw):
        """u = -sin(pi x) + t (1 - x^2) N(x, t): the initial and boundary conditions hold exactly."""
        x, t = coords["x"], coords["t"]
        return {"u": -torch.sin(math.pi * x) + t * (1 - x**2) * raw["u"]}

    def reference(self, x, t):
        nu = float(self.nu.detach())
        return {"u": burgers_exact(x.detach().cpu().double().numpy(), t.detach().cpu().double().numpy(), nu)}
