"""Incompressible Navier-Stokes (unit density) in velocity-pressure form, and its analytic flows.

    u_t + c (u . grad) u + grad p - nu lap u = 0,   div u = 0

One residual (`navier_stokes`) serves every flow: steady or not, 2D or 3D, and with the
convection coefficient c and viscosity nu as trainable parameters for inverse problems
(Raissi et al. 2019 call them lambda1 and lambda2). The pressure is determined only up to
a constant (a function of time, unsteady), so every flow declares `mean_free = ("p",)`: its
error is measured after removing the mean of prediction and reference (at each time level).
"""
from __future__ import annotations

import math
from functools import partial
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np
import torch

from ..conditions import Dirichlet, Initial, Periodic
from ..geometry import Box, Coons, Rectangle, TimeInterval
from ..operators import Derivatives, divergence, laplacian
from ..problem import Problem
from .cavity_reference import converged_cavity, lid_speed

Number = Union[float, torch.Tensor]
LID_WIDTH = 0.05  # cavity lid profile (cavity_reference.lid_speed): 0 with zero slope at the corners, within 1% of 1
                  # on the middle 70% of the lid; it moves the centre-line velocities by 0.3% of the lid speed
BELTRAMI_A, BELTRAMI_D = 1.0, 1.0  # shape constants of the Beltrami flow (Ethier & Steinman use pi / 4, pi / 2)


def navier_stokes(d: Derivatives, nu: Number, convection: Number = 1.0, velocity: Sequence[str] = ("u", "v"),
                  space: Sequence[str] = ("x", "y"), time: Optional[str] = None) -> dict[str, torch.Tensor]:
    """Residuals `momentum_<axis>` (one per velocity component) and `continuity`."""
    residuals = {}
    for f, axis in zip(velocity, space):
        transport = sum(d[w] * d[f"{f}_{c}"] for w, c in zip(velocity, space))
        r = convection * transport + d[f"p_{axis}"] - nu * laplacian(d, f, space)
        residuals[f"momentum_{axis}"] = r + d[f"{f}_{time}"] if time else r
    residuals["continuity"] = divergence(d, velocity, space)
    return residuals


def ns_derivatives(velocity: Sequence[str], space: Sequence[str], time: Optional[str] = None) -> tuple[str, ...]:
    """The derivatives `navier_stokes` reads, to declare as a problem's `derivatives`."""
    names = [f"{f}_{c}{k}" for f in velocity for c in space for k in ("", c)]
    names += [f"{f}_{time}" for f in velocity] if time else []
    return tuple(names + [f"p_{c}" for c in space])


class SteadyFlow2D(Problem):
    """What the steady 2D flows share: (x, y) -> (u, v, p), nu = 1 / re, pressure compared mean-removed."""

    coords = ("x", "y")
    fields = ("u", "v", "p")
    derivatives = ns_derivatives(("u", "v"), ("x", "y"))
    mean_free = ("p",)

    def residuals(self, d):
        return navier_stokes(d, nu=1 / self.re)


class Kovasznay(SteadyFlow2D):
    """Steady 2D flow behind a grid (Kovasznay 1948), exact velocity on the boundary of
    [-0.5, 1] x [-0.5, 1.5]."""

    description = "steady 2D Navier-Stokes, Kovasznay's analytic flow behind a grid (Re = 20)"
    parameters = {"re": 20.0}
    box = ((-0.5, -0.5), (1.0, 1.5))  # lower and upper corners
    hard_constrained = ("bc",)

    def __init__(self, parameters: Optional[Mapping[str, Any]] = None):
        super().__init__(parameters)
        self.boundary_re = float(self.re.detach())  # the boundary data's, as a number: no tensor read while compiled

    def domain(self):
        return Rectangle(*self.box)

    def conditions(self):
        return [Dirichlet(value={f: partial(self.exact, f) for f in ("u", "v")}, name="bc")]

    def exact(self, field: str, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The exact flow's `field` at the configured Reynolds number: the boundary data."""
        return kovasznay_flow(self.boundary_re, x, y)[field]

    def output_transform(self, coords, raw):
        """u, v = G + B N: G the Coons patch of the exact velocity on the edges, B a bubble zero on them (both
        smooth into the corners); p = N_p."""
        x, y = coords["x"], coords["y"]
        patch = Coons(*self.box)
        bubble = patch.bubble(x, y)
        velocity = patch.lift(self.boundary_velocity, x, y)  # one patch for both components
        return {"u": velocity[:, :1] + bubble * raw["u"], "v": velocity[:, 1:] + bubble * raw["v"], "p": raw["p"]}

    def boundary_velocity(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The exact (u, v) of columns x, y (N, 1), side by side (N, 2): the boundary data."""
        flow = kovasznay_flow(self.boundary_re, x, y)
        return torch.cat([flow["u"], flow["v"]], dim=1)

    def reference(self, x, y):
        return kovasznay_flow(float(self.re), x, y)


def kovasznay_flow(re: float, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """Kovasznay's exact u, v, p at Reynolds number `re`."""
    lam = re / 2 - math.sqrt(re**2 / 4 + 4 * math.pi**2)
    e = torch.exp(lam * x)
    return {"u": 1 - e * torch.cos(2 * math.pi * y),
            "v": lam / (2 * math.pi) * e * torch.sin(2 * math.pi * y),
            "p": (1 - torch.exp(2 * lam * x)) / 2}


class KovasznayInverse(Kovasznay):
    """Kovasznay's flow with unknown coefficients (Raissi et al. 2019): u . grad u scaled by lambda1 (true 1),
    lap u by lambda2 (true 1 / Re = 0.05); no boundary conditions. Steady, so the data must include the
    pressure: with velocity alone, lambda1, lambda2 and p scale together and only lambda2 / lambda1 is fixed."""

    description = "inverse: lambda1, lambda2 of Navier-Stokes from observed Kovasznay velocities"
    parameters = {"lambda1": 1.0, "lambda2": 0.05}
    hard_constrained = ()
    output_transform = Problem.output_transform  # no boundary data: nothing to impose

    @property
    def re(self) -> torch.Tensor:
        """The Reynolds number the viscous coefficient implies (the reference flow's)."""
        return 1 / self.lambda2

    def residuals(self, d):
        return navier_stokes(d, nu=self.lambda2, convection=self.lambda1)

    def conditions(self):
        return []


class Cavity(SteadyFlow2D):
    """Lid-driven cavity on the unit square: the lid (y = 1) moves at speed 1 (smoothed into the corners,
    `LID_WIDTH`), the other walls are at rest.
    Reference: the extrapolated finite-difference solve of `cavity_reference.converged_cavity` on
    `reference_grid` points a side (u and v, within about 1e-5; pressure has none), also reported on the
    centre lines where Ghia, Ghia & Shin (1982) tabulate it: u on x = 0.5, v on y = 0.5."""

    description = "steady 2D Navier-Stokes, lid-driven cavity (Re = 100), finite-difference reference"
    parameters = {"re": 100.0}
    reference_grid = 257

    def domain(self):
        return Rectangle([0.0, 0.0], [1.0, 1.0])

    def conditions(self):
        return [Dirichlet(on="top", value={"u": lambda x, y: lid_speed(x, LID_WIDTH), "v": 0.0}, name="lid"),
                Dirichlet(on=("left", "right", "bottom"), value={"u": 0.0, "v": 0.0}, name="walls")]

    def reference(self, x, y):
        flow = converged_cavity(float(self.re), LID_WIDTH, self.reference_grid)
        return flow.at(x.detach().cpu().numpy(), y.detach().cpu().numpy())

    def probes(self):
        line = np.linspace(0.0, 1.0, 101)
        middle = np.full_like(line, 0.5)
        return {"x=0.5": (np.stack([middle, line], axis=1), ("u",)), "y=0.5": (np.stack([line, middle], axis=1), ("v",))}


class TaylorGreen(Problem):
    """Decaying 2D Taylor-Green vortex on the periodic square [0, 2 pi]^2, t in [0, 1]:
    u = cos x sin y F, v = -sin x cos y F, p = -(cos 2x + cos 2y) F^2 / 4, F = exp(-2 nu t).
    The initial condition holds exactly (output transform); pressure compared mean-removed."""

    description = "unsteady 2D Navier-Stokes, decaying Taylor-Green vortex, periodic"
    coords = ("x", "y", "t")
    fields = ("u", "v", "p")
    derivatives = ns_derivatives(("u", "v"), ("x", "y"), "t")
    parameters = {"nu": 0.1}
    mean_free = ("p",)
    hard_constrained = ("ic",)

    def domain(self):
        return Rectangle([0.0, 0.0], [2 * math.pi, 2 * math.pi]) * TimeInterval(0.0, 1.0)

    def residuals(self, d):
        return navier_stokes(d, nu=self.nu, time="t")

    def conditions(self):
        initial = {f: (lambda x, y, f=f: self.initial(x, y)[f]) for f in ("u", "v")}
        return [Periodic(("left", "right")), Periodic(("bottom", "top")), Initial(initial)]

    def output_transform(self, coords, raw):
        """u = u(x, y, 0) + t N_u, likewise v: the initial velocity holds exactly."""
        start, t = self.initial(coords["x"], coords["y"]), coords["t"]
        return {"u": start["u"] + t * raw["u"], "v": start["v"] + t * raw["v"], "p": raw["p"]}

    def initial(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """The fields at t = 0."""
        return {"u": torch.cos(x) * torch.sin(y), "v": -torch.sin(x) * torch.cos(y),
                "p": -(torch.cos(2 * x) + torch.cos(2 * y)) / 4}

    def reference(self, x, y, t):
        decay, start = torch.exp(-2 * float(self.nu) * t), self.initial(x, y)
        return {"u": start["u"] * decay, "v": start["v"] * decay, "p": start["p"] * decay**2}


class Beltrami(Problem):
    """Ethier & Steinman's (1994) unsteady 3D Beltrami flow on [-1, 1]^3, t in [0, 1], with a = d = 1:
    exact velocity on the boundary, initial velocity exact (output transform). Pressure compared mean-removed."""

    description = "unsteady 3D Navier-Stokes, Ethier-Steinman Beltrami flow (Re = 1)"
    coords = ("x", "y", "z", "t")
    fields = ("u", "v", "w", "p")
    derivatives = ns_derivatives(("u", "v", "w"), ("x", "y", "z"), "t")
    parameters = {"nu": 1.0}
    mean_free = ("p",)
    hard_constrained = ("ic",)

    def domain(self):
        return Box([-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]) * TimeInterval(0.0, 1.0)

    def residuals(self, d):
        return navier_stokes(d, nu=self.nu, velocity=("u", "v", "w"), space=("x", "y", "z"), time="t")

    def conditions(self):
        exact = {f: (lambda x, y, z, t, f=f: self.reference(x, y, z, t)[f]) for f in ("u", "v", "w")}
        initial = {f: (lambda x, y, z, f=f: self.initial(x, y, z)[f]) for f in ("u", "v", "w")}
        return [Dirichlet(value=exact), Initial(initial)]

    def output_transform(self, coords, raw):
        """Velocity = its exact initial value + t N: the initial condition holds exactly."""
        start, t = self.initial(coords["x"], coords["y"], coords["z"]), coords["t"]
        return {**{f: start[f] + t * raw[f] for f in ("u", "v", "w")}, "p": raw["p"]}

    def initial(self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> dict[str, torch.Tensor]:
        """The fields at t = 0."""
        a, d = BELTRAMI_A, BELTRAMI_D
        return {"u": -a * (torch.exp(a * x) * torch.sin(a * y + d * z) + torch.exp(a * z) * torch.cos(a * x + d * y)),
                "v": -a * (torch.exp(a * y) * torch.sin(a * z + d * x) + torch.exp(a * x) * torch.cos(a * y + d * z)),
                "w": -a * (torch.exp(a * z) * torch.sin(a * x + d * y) + torch.exp(a * y) * torch.cos(a * z + d * x)),
                "p": -a**2 / 2 * (torch.exp(2 * a * x) + torch.exp(2 * a * y) + torch.exp(2 * a * z)
                                  + 2 * torch.sin(a * x + d * y) * torch.cos(a * z + d * x) * torch.exp(a * (y + z))
                                  + 2 * torch.sin(a * y + d * z) * torch.cos(a * x + d * y) * torch.exp(a * (z + x))
                                  + 2 * torch.sin(a * z + d * x) * torch.cos(a * y + d * z) * torch.exp(a * (x + y)))}

    def reference(self, x, y, z, t):
        decay, start = torch.exp(-float(self.nu) * BELTRAMI_D**2 * t), self.initial(x, y, z)
        return {f: start[f] * (decay**2 if f == "p" else decay) for f in self.fields}
