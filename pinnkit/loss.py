"""The objective: every named term at its points, as a residual vector and as a loss.

Term k with residual entries r_k (N_k of them) and weight w_k enters the stacked
residual vector as sqrt(w_k / N_k) r_k, so that loss = ||r||^2 = sum_k w_k mean(r_k^2).
Points may carry weights of their own (a `weight` column beside `points`: causal training), which
multiply their entries' squares, and multipliers (an `attention` column: residual-based attention), which
multiply the entries: sqrt(weight) * attention joins each entry's factor, in the loss and in r alike.
Least-squares optimizers use `residual_vector()`; the others use `loss()`.

Where several processes share the objective (`shard`: `distributed.py`), each evaluates its share of every
point set, and N_k still counts the entries at every process's points: the sum over the processes of their
losses (and of their rows' contributions to J^T J, J^T r) is the objective of one process holding them all.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterator, Mapping, Optional, Sequence

import numpy as np
import torch

from .operators import Derivatives

if TYPE_CHECKING:
    from .distributed import Shard

ResidualFn = Callable[[Derivatives, Mapping[str, torch.Tensor]], dict[str, torch.Tensor]]
BASE = "base:"  # point columns `base:u`, `base:u_t`: a frozen part of the solution, added to the model's


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
    extend: Optional[Callable[[np.ndarray], dict[str, np.ndarray]]] = None  # more columns at given points

    def completed(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Drawn arrays with the columns `extend` computes at their points (the frozen part of a time window)."""
        return {**arrays, **self.extend(arrays["points"])} if self.extend is not None else arrays


class Objective:
    """Evaluates the named residual terms of a problem for a model."""

    def __init__(self, model: torch.nn.Module, groups: Sequence[TermGroup], coords: Sequence[str],
                 fields: Sequence[str], weights: Mapping[str, float], engine: Callable[..., Derivatives],
                 shard: Optional[Shard] = None):
        """`shard`: this process's share of the points, where several processes share the objective."""
        self.model, self.groups, self.engine = model, list(groups), engine
        self.coords, self.fields = tuple(coords), tuple(fields)
        self.weights = dict(weights)
        self.shard = shard

    def sample(self, rng: np.random.Generator, only_resampled: bool = False) -> None:
        """Draw the point sets (all, or only those that may be resampled) as float64 arrays."""
        for g in self.groups:
            if not (only_resampled and not g.resample):
                g.arrays = g.completed(g.sample(rng))
                g.batch = {}

    def to(self, device: torch.device, dtype: torch.dtype) -> None:
        """Put every point set (this process's share of it) on `device` in `dtype` (from the float64 master copy)."""
        for g in self.groups:
            rows = self.shard.part(len(g.arrays["points"]), g.pointwise)[0] if self.shard is not None else slice(None)
            g.batch = {k: torch.as_tensor(v[rows]).to(device, dtype) for k, v in g.arrays.items()}

    def entries(self, g: TermGroup, here: int) -> Optional[int]:
        """The entries of a term of group g that has `here` entries at this process's points, at every process's
        points; None where another process counts the group (`distributed.Shard.part`)."""
        if self.shard is None:
            return here
        n = len(g.arrays["points"])
        counted = self.shard.part(n, g.pointwise)[1]
        return here // len(g.batch["points"]) * n if counted else None

    def factor(self, g: TermGroup, name: str, here: int) -> float:
        """The factor of term `name` of group g (with `here` entries at this process's points) in r: sqrt(w / N)
        (`scale`), N its entries at every process's points; 0 where another process counts the group."""
        size = self.entries(g, here)
        return 0.0 if size is None else self.scale(name, size)

    def group_terms(self, g: TermGroup, batch: Mapping[str, torch.Tensor],
                    engine: Optional[Callable[..., Derivatives]] = None) -> dict[str, torch.Tensor]:
        """One group's residuals at `batch` (its points and data), as its problem returns them."""
        d = (engine or self.engine)(self.model, batch["points"], self.coords, self.fields, g.derivatives, g.owner)
        base = {k[len(BASE):]: v for k, v in batch.items() if k.startswith(BASE)}
        return g.residuals(d.plus(base) if base else d, batch)

    def terms(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Term name -> its residual entries, flattened to (N_k,), as they are and point-weighted."""
        return {name: (r, weighted) for _, name, r, weighted in self._evaluated()}

    def _evaluated(self) -> Iterator[tuple[TermGroup, str, torch.Tensor, torch.Tensor]]:
        """(group, term name, its entries flattened, point-weighted) for every term, group by group."""
        for g in self.groups:
            for name, r in self.group_terms(g, g.batch).items():
                yield g, name, r.reshape(-1), point_weighted(g.batch, r).reshape(-1)

    def residual_vector(self) -> tuple[torch.Tensor, dict[str, slice]]:
        """The stacked, scaled residual vector r and which slice of it is which term."""
        pieces, slices, offset = [], {}, 0
        for g, name, _, r in self._evaluated():
            pieces.append(r * self.factor(g, name, r.numel()))
            slices[name] = slice(offset, offset + r.numel())
            offset += r.numel()
        return torch.cat(pieces), slices

    def layout(self) -> tuple[int, torch.Tensor]:
        """Where processes share the objective: the length of r over every process's points, and the index in
        that r of each row of this process's r (a replicated group's rows at that group's own rows). The
        terms' widths come from one point of each group."""
        total, index = 0, []
        for g in self.groups:
            n = len(g.arrays["points"])
            part = self.shard.part(n, g.pointwise)[0] if self.shard is not None else slice(0, n)
            with torch.enable_grad():
                terms = self.group_terms(g, {k: v[:1] for k, v in g.batch.items()}, self.engine.eager())
            points = torch.arange(n)[part]
            for r in terms.values():
                k = r.reshape(1, -1).shape[1]
                index.append((total + points[:, None] * k + torch.arange(k)).reshape(-1))
                total += n * k
        return total, torch.cat(index)

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
                    yield rows, point_weighted(part, r).reshape(-1) * self.factor(g, name, n * per_point)

    def scale(self, name: str, size: int) -> float:
        """sqrt(w / N) of a term with N residual entries: its rows' factor in r."""
        return (self.weights.get(name, 1.0) / size) ** 0.5

    def loss(self) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The scalar loss sum_k w_k mean(r_k^2) (point weights included), and each term's mean square
        (unweighted); where processes share the objective, this process's part of both (the means over every
        process's points: their sums over the processes are the loss and the terms)."""
        if self.shard is not None:
            return self._shared_loss()
        evaluated = self.terms()
        total = sum(self.weights.get(name, 1.0) * weighted.square().mean() for name, (_, weighted) in evaluated.items())
        return total, {name: r.square().mean() for name, (r, _) in evaluated.items()}

    def _shared_loss(self) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """`loss` of this process's points: sum(r_k^2) / N_k, N_k counting every process's entries; a group that
        another process counts adds nothing."""
        total, terms = None, {}
        for g, name, r, weighted in self._evaluated():
            size = self.entries(g, r.numel())
            if size is None:
                terms[name] = r.new_zeros(())
                continue
            part = self.weights.get(name, 1.0) * weighted.square().sum() / size
            total = part if total is None else total + part
            terms[name] = r.square().sum() / size
        return total if total is not None else 0.0 * sum(p.sum() for p in self.model.parameters()), terms
