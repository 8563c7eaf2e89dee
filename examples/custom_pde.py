"""A user's own PDE, solved with no edit to pinnkit: point a TOML file at it (custom_pde.toml).

    python -m pinnkit solve examples/custom_pde.toml

Heat equation u_t = k u_xx on [0, 1] x [0, 1], u = 0 at both ends, u(x, 0) = sin(pi x);
exact solution u = exp(-k pi^2 t) sin(pi x).
"""
import torch

from pinnkit import Dirichlet, Initial, Interval, Problem, TimeInterval


class Heat(Problem):
    description = "heat equation u_t = k u_xx, decaying sine"
    coords = ("x", "t")
    fields = ("u",)
    derivatives = ("u_t", "u_xx")
    parameters = {"k": 0.1}

    def domain(self):
        return Interval(0.0, 1.0) * TimeInterval(0.0, 1.0)

    def residuals(self, d):
        return {"pde": d.u_t - self.k * d.u_xx}

    def conditions(self):
        return [Dirichlet(on=("left", "right"), value=0.0),
                Initial(lambda x: torch.sin(torch.pi * x))]

    def reference(self, x, t):
        return {"u": torch.exp(-self.k * torch.pi**2 * t) * torch.sin(torch.pi * x)}
