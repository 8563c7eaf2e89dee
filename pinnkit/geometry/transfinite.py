"""Transfinite (Coons) interpolation of Dirichlet data on a rectangle, for exact boundary conditions.

`Coons.lift(g, x, y)` equals g on all four edges and blends the edge values linearly inward (Gordon &
Hall 1973); `Coons.bubble` is smooth and zero exactly on the edges. So u = lift + bubble N satisfies the
condition for every network N. Unlike the R-function distance of `DistanceFunction`, both are smooth up
to the corners, where that distance has unbounded second derivatives: a residual with second derivatives
(Navier-Stokes, Poisson) then has no singular term left for the network to cancel. Torch operations only,
in the inputs' dtype and on their device.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch

EdgeValue = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # g(x, y), called on edge points only


@dataclass(frozen=True)
class Coons:
    """The rectangle [lower, upper] (2D) on which to interpolate."""

    lower: Sequence[float]
    upper: Sequence[float]

    def unit(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(xi, eta): the coordinates scaled to [0, 1]."""
        (a, c), (b, d) = self.lower, self.upper
        return (x - a) / (b - a), (y - c) / (d - c)

    def bubble(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """16 xi (1 - xi) eta (1 - eta): 0 on the edges, 1 at the centre, positive inside."""
        xi, eta = self.unit(x, y)
        return 16 * xi * (1 - xi) * eta * (1 - eta)

    def lift(self, g: EdgeValue, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The Coons patch of g: the four edges' values blended linearly, less the bilinear blend of the corners
        (counted twice by the edges). Equals g on the edges wherever g is continuous at the corners."""
        (a, c), (b, d) = self.lower, self.upper
        xi, eta = self.unit(x, y)
        sides = ((a, 1 - xi), (b, xi))
        ends = ((c, 1 - eta), (d, eta))
        edges = (sum(w * g(_constant(x, at), y) for at, w in sides)
                 + sum(w * g(x, _constant(y, at)) for at, w in ends))
        corners = sum(wx * wy * g(_constant(x, px), _constant(y, py)) for px, wx in sides for py, wy in ends)
        return edges - corners


def _constant(like: torch.Tensor, value: float) -> torch.Tensor:
    """`value` in the shape of `like`, by arithmetic: `torch.full_like` fails to compile under nested
    forward-mode `jvp` (the jets' second derivatives)."""
    return 0 * like + value
