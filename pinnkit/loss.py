"""The objective: every named term at its points, as a residual vector and as a loss.

Term k with residual entries r_k (N_k of them) and weight w_k enters the stacked
residual vector as sqrt(w_k / N_k) r_k, so that loss = ||r||^2 = sum_k w_k mean(r_k^2).
Points may carry weights of their own (a `weight` column beside `points`: causal training), which
multiply their entries' squares, and multipliers (an `attention` column: residual-based attention), which
multiply the entries: sqrt(weight) * attention joins each entry's factor, in the loss and in r alike.
Least-squares optimizers use `residual_vector()`; the others use `loss()`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, Mapping, Optional, Sequence

import numpy as np
import torch

from .operators import Derivatives

ResidualFn = Callable[[Derivatives, Mapping[str, torch.Tensor]], dict[str, torch.Tensor]]


def point_weighted(batch: Mapping[str, torch.Tensor], r: torch.Tensor) -> torch.Tensor:
    """A residual (N,) or (N, k) times the square root of its points' weights and their attention multipliers,
    where they have any."""
    weight, attention = batch.get("weight"), batch.get("attention")
    if weight is None and attention is None:
        return r
    factor = weight.sqrt() if weight is not None else None
    if attention is not None:
        factor = attention if factor is None else factor * attention
    return r * (factor if r.dim() == 1 else factor[:, None])


@dataclass
class TermGroup:
    """Terms evaluated at one point set with one derivative pass (the PDE terms, or one condition)."""

    sample: Callable[[np.random.Generator], dict[str, np.ndarray]]
    derivatives: tuple[str, ...]
    residuals: ResidualFn
    owner: str  # who declares the derivatives, for error messages
    label: str = "pde"  # a short name for logs: "pde", or the condition's name
    resample: bool = True
    pointwise: bool = True  # each residual row depends on its own point only (not Periodic's pairs)
    adaptive: bool = False  # residual-based redraws (RAD) move these points (the PDE's collocation points)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # float64 master copy of the points
    batch: dict[str, torch.Tensor] = field(default_factory=dict)  # the same on device, in the working dtype


class Objective:
    """Evaluates the named residual terms of a problem for a model."""

    def __init__(self, model: torch.nn.Module, groups: Sequence[TermGroup], coords: Sequence[str],
                 fields: Sequence[str], weights: Mapping[str, float], engine: Callable[..., Derivatives]):
        self.model, self.groups, self.engine = model, list(groups), engine
        self.coords, self.fields = tuple(coords), tuple(fields)
        self.weights = dict(weights)

    def sample(self, rng: np.random.Generator, only_resampled: bool = False) -> None:
        """Draw the point sets (all, or only those that may be resampled) as float64 arrays."""
        for g in self.groups:
            if not (only_resampled and not g.resample):
                g.arrays = g.sample(rng)
                g.batch = {}

    def to(self, device: torch.device, dtype: torch.dtype) -> None:
        """Put every point set on `device` in `dtype` (from the float64 master copy)."""
        for g in self.groups:
            g.batch = {k: torch.as_tensor(v).to(device, dtype) for k, v in g.arrays.items()}

    def group_terms(self, g: TermGroup, batch: Mapping[str, torch.Tensor],
                    engine: Optional[Callable[..., Derivatives]] = None) -> dict[str, torch.Tensor]:
        """One group's residuals at `batch` (its points and data), as its problem returns them."""
        d = (engine or self.engine)(self.model, batch["points"], self.coords, self.fields, g.derivatives, g.owner)
        return g.residuals(d, batch)

    def terms(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Term name -> its residual entries, flattened to (N_k,), as they are and point-weighted."""
        out: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        for g in self.groups:
            for name, r in self.group_terms(g, g.batch).items():
                out[name] = r.reshape(-1), point_weighted(g.batch, r).reshape(-1)
        return out

    def residual_vector(self) -> tuple[torch.Tensor, dict[str, slice]]:
        """The stacked, scaled residual vector r and which slice of it is which term."""
        pieces, slices, offset = [], {}, 0
        for name, (_, r) in self.terms().items():
            pieces.append(r * self.scale(name, r.numel()))
            slices[name] = slice(offset, offset + r.numel())
            offset += r.numel()
        return torch.cat(pieces), slices

    def residual_blocks(self, points: int = 32) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The scaled residual vector in pieces (rows of r, r[rows]), `points` points of one group per piece.

        Each piece has its own graph, so the Jacobian of its rows costs a backward pass over those points
        only, not over all of them (Gauss-Newton phases). Groups that are not pointwise come whole.
        """
        offset = 0
        for g in self.groups:
            n = len(g.batch["points"])
            step = points if g.pointwise else n
            starts: dict[str, int] = {}
            for i in range(0, n, step):
                part = {k: v[i:i + step] for k, v in g.batch.items()}
                for name, r in self.group_terms(g, part).items():
                    per_point = r[0].numel()
                    if name not in starts:
                        starts[name], offset = offset, offset + n * per_point
                    rows = torch.arange(starts[name] + i * per_point, starts[name] + i * per_point + r.numel())
                    yield rows, point_weighted(part, r).reshape(-1) * self.scale(name, n * per_point)

    def scale(self, name: str, size: int) -> float:
        """sqrt(w / N) of a term with N residual entries: its rows' factor in r."""
        return (self.weights.get(name, 1.0) / size) ** 0.5

    def loss(self) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The scalar loss sum_k w_k mean(r_k^2) (point weights included), and each term's mean square
        (unweighted)."""
        evaluated = self.terms()
        total = sum(self.weights.get(name, 1.0) * weighted.square().mean() for name, (_, weighted) in evaluated.items())
        return total, {name: r.square().mean() for name, (r, _) in evaluated.items()}
