"""Adaptive loss weights by gradient-norm balancing (learning-rate annealing: Wang, Teng & Perdikaris 2021,
in the form jaxpi uses): each term's weight is set so that every weighted term pulls the network with the
same gradient norm, lambda_k = sum_j |grad L_j| / |grad L_k|, smoothed by a moving average.

The weights multiply those of `[loss] weights` (default 1) and change only when the trainer asks
(`reweight_every`, each phase's start, point redraws), so that every phase sees a fixed objective between
updates, as line searches and curvature pairs need.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch

from .loss import Objective


class GradNormWeights:
    """Balances the gradient norms of the loss terms; `factors` (term -> lambda) are what it has learnt."""

    def __init__(self, base: Mapping[str, float], alpha: float):
        self.base, self.alpha = dict(base), float(alpha)
        self.factors: dict[str, float] = {}

    def norms(self, objective: Objective) -> dict[str, float]:
        """|grad L_k| over the network's weights for each term k (point weights included, term weights not)."""
        params = [p for p in objective.model.parameters() if p.requires_grad]
        with torch.enable_grad():
            terms = objective.terms()
            out = {}
            for name, (_, weighted) in terms.items():
                grads = torch.autograd.grad(weighted.square().mean(), params, retain_graph=True, allow_unused=True)
                out[name] = float(torch.sqrt(sum(g.square().sum() for g in grads if g is not None)))
        return out

    def update(self, objective: Objective) -> None:
        """New factors from the current gradient norms (a term with none keeps its factor), into the objective."""
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
