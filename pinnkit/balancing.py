"""Adaptive loss weights that balance the terms, smoothed by a moving average:

- `grad_norm` (learning-rate annealing: Wang, Teng & Perdikaris 2021, in the form jaxpi uses): every weighted
  term pulls the network with the same gradient norm, lambda_k = sum_j |grad L_j| / |grad L_k|;
- `ntk` (Wang, Yu & Perdikaris 2022): the same with the mean diagonal of each term's neural tangent kernel,
  mean_i |grad r_i|^2 over its residual entries, in place of the gradient norm (each entry's gradient point by
  point through the forward jets where they apply, as `lm` takes its Jacobian rows, else from batched backward
  passes at `trace_points` evenly spread points of each pointwise set, since over all N points they would cost
  N backward passes over N points).

The weights multiply those of `[loss] weights` (default 1) and change only when the trainer asks
(`reweight_every`, each phase's start, point redraws), so that every phase sees a fixed objective between
updates, as line searches and curvature pairs need.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

import torch

from .loss import Objective, TermGroup, point_weighted
from .optim.gauss_newton import jacobian_rows
from .point_jacobians import PointRows


class GradNormWeights:
    """Balances the loss terms' gradient norms (or NTK traces); `factors` (term -> lambda): what it has learnt."""

    def __init__(self, base: Mapping[str, float], alpha: float, scheme: str = "grad_norm", trace_points: int = 256):
        if scheme not in ("grad_norm", "ntk"):
            raise ValueError(f"unknown balancing scheme {scheme!r} (valid: grad_norm, ntk)")
        self.base, self.alpha, self.scheme, self.trace_points = dict(base), float(alpha), scheme, int(trace_points)
        self.factors: dict[str, float] = {}
        self.rows: Optional[PointRows] = None  # the per-point route of the objective balanced last

    def norms(self, objective: Objective) -> dict[str, float]:
        """Each term's pull on the network's weights (point weights included, term weights not): |grad L_k|,
        or for `ntk` the mean squared gradient norm of its entries."""
        params = [p for p in objective.model.parameters() if p.requires_grad]
        engine, out = objective.engine.eager(), {}  # a compiled backward cannot be run once per term
        with torch.enable_grad():
            traces = self._point_rows(objective).kernel_traces(params) if self.scheme == "ntk" else None
            if traces is not None:
                return traces
            terms = {}
            for g in objective.groups:
                batch = self._trace_batch(g) if self.scheme == "ntk" else g.batch
                terms.update({name: point_weighted(batch, r).reshape(-1)
                              for name, r in objective.group_terms(g, batch, engine).items()})
            for name, weighted in terms.items():
                if self.scheme == "ntk":
                    squares = sum(float(J.square().sum()) for _, _, J in
                                  jacobian_rows([(None, weighted)], weighted.numel(), params))
                    out[name] = squares / weighted.numel()
                    continue
                grads = torch.autograd.grad(weighted.square().mean(), params, retain_graph=True, allow_unused=True)
                out[name] = float(torch.sqrt(sum(g.square().sum() for g in grads if g is not None)))
        return out

    def _point_rows(self, objective: Objective) -> PointRows:
        """The per-point route for `objective`, kept between updates, so that a failure is met and said once."""
        if self.rows is None or self.rows.objective is not objective:
            self.rows = PointRows(objective)
        return self.rows

    def _trace_batch(self, group: TermGroup) -> dict[str, torch.Tensor]:
        """The points of a group the batched-backward traces are taken at: at most `trace_points`, evenly spread
        (all of them where the group is not pointwise: its rows may couple its points)."""
        n = len(group.batch["points"])
        if not group.pointwise or n <= self.trace_points:
            return group.batch
        keep = torch.linspace(0, n - 1, self.trace_points).round().long().to(group.batch["points"].device)
        return {k: v[keep] for k, v in group.batch.items()}

    def update(self, objective: Objective) -> None:
        """New factors from the terms' current pulls (a term with none keeps its factor), into the objective."""
        norms = self.norms(objective)
        total = sum(norms.values())
        for name, norm in norms.items():
            if norm > 0 and total > 0:
                old = self.factors.get(name, 1.0)  # every factor starts at 1
                self.factors[name] = self.alpha * old + (1 - self.alpha) * total / norm
        objective.weights = {name: self.base.get(name, 1.0) * self.factors.get(name, 1.0) for name in norms}

    def row(self) -> dict[str, float]:
        """What the history logs: each term's weight."""
        return {f"weight_{name}": self.base.get(name, 1.0) * f for name, f in self.factors.items()}

    def state_dict(self) -> dict[str, Any]:
        return {"factors": dict(self.factors)}

    def load_state_dict(self, state: dict[str, Any], objective: Objective) -> None:
        self.factors = {k: float(v) for k, v in state["factors"].items()}
        objective.weights = {**objective.weights,
                             **{k: self.base.get(k, 1.0) * f for k, f in self.factors.items()}}
