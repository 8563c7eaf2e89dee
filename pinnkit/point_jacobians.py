"""Rows of the residual Jacobian point by point with torch.func (`vmap` of `jacrev` over the points).

A batched backward pass over a block of points pays for every point of the block on every row; the
Jacobian of one point's residuals over the weights, vectorized over the points, pays for that point only
(measured 3x faster on Kovasznay 4 x 100). It needs residuals that are pure tensor functions of the
weights: pinnkit's MLP through the forward-jet engine (up to second derivatives), alone or under an output
transform affine in its outputs (whose coefficient jets are computed once per point set and handed to each
point beside it), pointwise terms, and no trainable PDE parameter; anything else (or a residual that
torch.func cannot transform) keeps the batched backward passes (`optim.gauss_newton.jacobian_rows`).
"""
from __future__ import annotations

import logging
from itertools import chain
from typing import Iterator, Optional

import torch
from torch.func import functional_call, jacrev, vmap

from .affine import AffineJets, KeptAffine
from .loss import Objective, TermGroup, point_weighted
from .nets import MLP, Constrained
from .operators import JetEngine, orders_of, parse, plan_jets

log = logging.getLogger(__name__)
Rows = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # (row indices of r, r[rows], J[rows])
ENTRIES = 2**22  # Jacobian entries per vectorized chunk of points: bounds its memory (32 MiB in float64)
AFFINE = "affine "  # the prefix of the batch columns that carry each point's coefficient jets of the transform


class GroupRows(torch.nn.Module):
    """One group's scaled residual rows at points, as a module whose only parameters are the network's
    (so `functional_call` can hand them in); each point's rows term after term."""

    def __init__(self, objective: Objective, group: TermGroup, scales: dict[str, float],
                 rows: tuple[tuple[int, ...], ...] = ()):
        super().__init__()
        self.model, self.objective, self.group, self.scales, self.rows = objective.model, objective, group, scales, rows

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        kept = {k.removeprefix(AFFINE): v.movedim(0, -1) for k, v in batch.items() if k.startswith(AFFINE)}
        batch = {k: v for k, v in batch.items() if not k.startswith(AFFINE)}
        engine = JetEngine(affine=KeptAffine(AffineJets(**kept), self.rows)) if kept else self.objective.engine.eager()
        terms = self.objective.group_terms(self.group, batch, engine)
        return torch.cat([point_weighted(batch, r).reshape(len(batch["points"]), -1) * self.scales[name]
                          for name, r in terms.items()], dim=1)


def applies(objective: Objective, params: list[torch.Tensor]) -> bool:
    """Whether every residual is a pure tensor function of the MLP's weights and `params` are some of them (each
    once; an output transform over it must be affine in its outputs too, which its rows check:
    `_transform_columns`)."""
    model, weights = objective.model, {id(w) for w in objective.model.parameters()}
    net = model.net if isinstance(model, Constrained) else model
    return (isinstance(objective.engine, JetEngine) and isinstance(net, MLP)
            and len({id(p) for p in params}) == len(params) and all(id(p) in weights for p in params)
            and all(g.pointwise and all(len(parse(n, objective.coords, objective.fields)[1]) <= 2
                                        for n in g.derivatives) for g in objective.groups))


class PointRows:
    """One objective's rows of r and J point by point, where they apply (`jacobian`, `kernel_traces`). A residual
    they cannot take (torch.func cannot transform it, or its transform is not affine) is said once in the log and
    remembered: every later call returns None at once, and the caller takes batched backward passes."""

    def __init__(self, objective: Objective):
        self.objective = objective
        self.failure: Optional[str] = None  # why the rows could not be taken, once they could not

    def jacobian(self, params: list[torch.Tensor]) -> Optional[tuple[int, Iterator[Rows]]]:
        """For `Residuals.jacobian`: (N, the rows of r and J in chunks), or None where the route does not apply."""
        if not self.applies(params):
            return None
        objective = self.objective
        layout = _layout(objective)
        groups = [_group_rows(objective, params, g, width, starts, _scales(objective, g, width))
                  for g, width, starts in layout]
        try:  # each group's first chunk now: a residual torch.func cannot transform shows here, not mid-step
            firsts = [next(rows_of_group) for rows_of_group in groups]
        except Exception as err:
            return self._unavailable(err)
        n = sum(len(g.batch["points"]) * sum(width.values()) for g, width, _ in layout)
        return n, chain.from_iterable(chain([first], rest) for first, rest in zip(firsts, groups))

    def kernel_traces(self, params: list[torch.Tensor]) -> Optional[dict[str, float]]:
        """Each term's mean over its point-weighted entries r_i of |grad r_i|^2 (the mean diagonal of its neural
        tangent kernel, as `[loss.balance] scheme = "ntk"` needs); None where the route does not apply."""
        if not self.applies(params):
            return None
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}
        try:
            for g, width, starts in _layout(self.objective):
                columns, per_point_rows = {}, 0  # each term's rows within one point's
                for name, k in width.items():
                    columns[name], per_point_rows = slice(per_point_rows, per_point_rows + k), per_point_rows + k
                for _, _, J in _group_rows(self.objective, params, g, width, starts, dict.fromkeys(width, 1.0)):
                    per_point = J.reshape(-1, per_point_rows, J.shape[1])
                    for name, part in columns.items():
                        sums[name] = sums.get(name, 0.0) + float(per_point[:, part].square().sum())
                for name, k in width.items():
                    counts[name] = counts.get(name, 0) + len(g.batch["points"]) * k
        except Exception as err:
            return self._unavailable(err)
        return {name: total / counts[name] for name, total in sums.items()}

    def applies(self, params: list[torch.Tensor]) -> bool:
        """Whether the rows can be taken for `params` (and have not failed before)."""
        return self.failure is None and applies(self.objective, params)

    def _unavailable(self, err: Exception) -> None:
        self.failure = f"{type(err).__name__}: {str(err).splitlines()[0]}" if str(err) else type(err).__name__
        log.info("per-point Jacobian rows unavailable (%s); using batched backward passes", self.failure)
        return None


def _scales(objective: Objective, group: TermGroup, width: dict[str, int]) -> dict[str, float]:
    """Each term's factor in r (`Objective.factor`), so that the rows are those of the residual vector."""
    n = len(group.batch["points"])
    return {name: objective.factor(group, name, n * k) for name, k in width.items()}


def _layout(objective: Objective) -> list[tuple[TermGroup, dict[str, int], dict[str, int]]]:
    """Per group: each term's entries per point, and where its rows start in r (terms are laid out one after
    the other, as `Objective.residual_vector` stacks them)."""
    layout, offset = [], 0
    for g in objective.groups:
        with torch.enable_grad():  # an output transform is differentiated by autograd here (one point)
            terms = objective.group_terms(g, {k: v[:1] for k, v in g.batch.items()}, objective.engine.eager())
        n = len(g.batch["points"])
        width = {name: r.reshape(1, -1).shape[1] for name, r in terms.items()}
        starts = {}
        for name, k in width.items():
            starts[name], offset = offset, offset + n * k
        layout.append((g, width, starts))
    return layout


def _group_rows(objective: Objective, params: list[torch.Tensor], group: TermGroup, width: dict[str, int],
                starts: dict[str, int], scales: dict[str, float]) -> Iterator[Rows]:
    """One group's rows of r and J (each term's scaled by `scales`), a vectorized chunk of points at a time."""
    n, per_point = len(group.batch["points"]), sum(width.values())
    rows, columns = _transform_columns(objective, group)
    module = GroupRows(objective, group, scales, rows)
    name_of = {id(w): f"model.{name}" for name, w in objective.model.named_parameters()}
    names = [name_of[id(p)] for p in params]  # J's columns in the order of `params`; the other weights held
    weights = dict(zip(names, (p.detach() for p in params)))

    def residual(weights: dict[str, torch.Tensor], row: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        r = functional_call(module, weights, ({k: v[None] for k, v in row.items()},))[0]
        return r, r

    jacobian = vmap(jacrev(residual, has_aux=True), in_dims=(None, 0))
    chunk = max(1, ENTRIES // (per_point * sum(p.numel() for p in params)))
    column = torch.cat([torch.arange(k) for k in width.values()])
    start = torch.cat([torch.full((k,), starts[name]) for name, k in width.items()])
    stride = torch.cat([torch.full((k,), k) for k in width.values()])
    for first in range(0, n, chunk):
        part = {k: v[first:first + chunk] for k, v in {**group.batch, **columns}.items()}
        grads, r = jacobian(weights, part)
        count = len(part["points"])
        index = (start + column + stride * torch.arange(first, first + count)[:, None]).reshape(-1)
        J = torch.cat([grads[name].reshape(count * per_point, -1) for name in names], dim=1)
        yield index, r.reshape(-1).detach(), J


def _transform_columns(objective: Objective, group: TermGroup) -> tuple[tuple[tuple[int, ...], ...],
                                                                          dict[str, torch.Tensor]]:
    """Under an output transform: the derivative rows the jets take for the group and the transform's coefficient
    jets at its points (`AffineJets`, kept by the engine while the points stay), as batch columns (points
    first); none for a bare MLP or no derivatives."""
    model = objective.model
    orders = orders_of(parse(name, objective.coords, objective.fields) for name in group.derivatives)
    plan = plan_jets(model.net, orders) if isinstance(model, Constrained) else None
    if plan is None:
        return (), {}
    rows, points = tuple(plan[1]), group.batch["points"]
    jets = objective.engine.affine.get(model, points, rows, first_use=True)
    if jets is None:
        raise ValueError("the output transform is not affine in the network's outputs")
    return rows, {AFFINE + k: v.movedim(-1, 0) for k, v in vars(jets).items()}
