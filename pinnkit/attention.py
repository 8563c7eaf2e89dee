"""Residual-based attention (Anagnostopoulos, Toscano, Stergiopulos & Karniadakis 2024): a multiplier per point
that grows where the residual stays large, so the optimizer keeps looking at the hard regions.

Each point of a pointwise term group carries lambda (the `attention` column beside `points`), which
multiplies its residual entries: lambda <- gamma lambda + eta |r| / max |r|, |r| the point's residual norm
over the group's terms and the max over the group. lambda starts at 1 and stays below max(1, eta / (1 - gamma)).
It is updated when the trainer asks (`reweight_every`, each phase's start, point redraws), so each phase sees a
fixed objective between updates; points drawn anew start again from 1. The multipliers live with the points,
so checkpoints keep them and the loss and the residual vector of the least-squares phases see the same
objective (`loss.point_weighted`).
"""
from __future__ import annotations

import numpy as np

from .adaptive import residual_magnitude
from .loss import Objective, TermGroup


class ResidualAttention:
    """The residual-based attention multipliers of every pointwise term group."""

    def __init__(self, gamma: float, eta: float):
        self.gamma, self.eta = float(gamma), float(eta)

    @staticmethod
    def attended(objective: Objective) -> list[TermGroup]:
        return [g for g in objective.groups if g.pointwise]

    def start(self, objective: Objective) -> None:
        """Give every point without a multiplier one of 1 (float64 masters: call `objective.to` afterwards)."""
        for g in self.attended(objective):
            if "attention" not in g.arrays:
                g.arrays = {**g.arrays, "attention": np.ones(len(g.arrays["points"]))}
                g.batch = {}

    def update(self, objective: Objective) -> None:
        """One step of every multiplier from the current residuals (float64 masters: `objective.to` after)."""
        self.start(objective)
        for g in self.attended(objective):
            magnitude = residual_magnitude(objective, g, g.arrays["points"], g.arrays)
            top = magnitude.max() if np.isfinite(magnitude).all() else 0.0
            share = magnitude / top if top > 0 else np.zeros_like(magnitude)
            attention = self.gamma * g.arrays["attention"] + self.eta * share
            g.arrays = {**g.arrays, "attention": attention}
            g.batch = {}

    def row(self, objective: Objective) -> dict[str, float]:
        """What the history logs: each group's mean and largest multiplier."""
        out = {}
        for g in self.attended(objective):
            attention = g.arrays["attention"]
            out.update({f"attention_mean_{g.label}": float(attention.mean()),
                        f"attention_max_{g.label}": float(attention.max())})
        return out
