"""Causal training (Wang, Sankaran & Perdikaris 2024, "Respecting causality for training physics-informed
neural networks"): the PDE residual weighted by time, so that later times count once earlier ones are fit.

The time range is cut into M chunks; chunk i weighs w_i = exp(-eps sum_{j<i} L_j), L_j the mean square PDE
residual of chunk j, held fixed between updates (no gradient flows through it). Each PDE point of chunk i
carries w_i n / (M n_i) (n points, n_i of them in the chunk), so the PDE loss is (1/M) sum_i w_i L_i exactly,
in the loss and in the residual vector alike (the points' `weight` column, `loss.Objective`). eps climbs an
increasing schedule: it moves on once the last chunk's weight exceeds `tol`, that is once the whole time
range is fit at the current eps.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .adaptive import residual_magnitude
from .loss import Objective


class CausalWeights:
    """The causal weights of the PDE points of a space-time problem: time in [t0, t1], in column `column` of
    the points."""

    def __init__(self, chunks: int, schedule: Sequence[float], tol: float, t0: float, t1: float, column: int = -1):
        self.chunks, self.schedule, self.tol = int(chunks), [float(e) for e in schedule], float(tol)
        self.t0, self.t1, self.column = float(t0), float(t1), column
        self.stage = 0
        self.weights = np.ones(self.chunks)
        self.losses = np.zeros(self.chunks)

    @property
    def eps(self) -> float:
        return self.schedule[self.stage]

    def chunk_of(self, t: np.ndarray) -> np.ndarray:
        """The chunk index of each time."""
        return np.clip(((t - self.t0) / (self.t1 - self.t0) * self.chunks).astype(int), 0, self.chunks - 1)

    def weights_for(self, losses: np.ndarray) -> np.ndarray:
        """w_i = exp(-eps * the summed losses of the chunks before i): 1 for the first chunk, non-increasing."""
        before = np.concatenate([[0.0], np.cumsum(losses)[:-1]])
        return np.exp(-self.eps * before)

    def observe(self, losses: np.ndarray, advance: bool = True) -> None:
        """Take new chunk losses: the weights at the current eps, or (with `advance`) at the next one if these
        all exceed `tol`."""
        self.losses = np.asarray(losses, float)
        self.weights = self.weights_for(self.losses)
        if advance and self.weights[-1] > self.tol and self.stage < len(self.schedule) - 1:
            self.stage += 1
            self.weights = self.weights_for(self.losses)

    def update(self, objective: Objective, advance: bool = True) -> None:
        """Recompute the weights from the current residuals, move eps on when they all exceed `tol` (unless
        `advance` is false: the first weights, before training), and set every PDE point's `weight` (float64
        masters: call `objective.to(...)` afterwards)."""
        for group in (g for g in objective.groups if g.adaptive):
            points = group.arrays["points"]
            chunk = self.chunk_of(points[:, self.column])
            counts = np.bincount(chunk, minlength=self.chunks)
            squares = residual_magnitude(objective, group, points) ** 2
            self.observe(np.bincount(chunk, weights=squares, minlength=self.chunks) / np.maximum(counts, 1), advance)
            share = len(points) / (self.chunks * np.maximum(counts[chunk], 1))
            group.arrays = {**group.arrays, "weight": self.weights[chunk] * share}
            group.batch = {}

    def row(self) -> dict[str, float]:
        """What the history logs: eps, and each chunk's weight."""
        return {"causal_eps": self.eps, **{f"causal_w{i:02d}": float(w) for i, w in enumerate(self.weights)}}

    def state_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "weights": self.weights.tolist(), "losses": self.losses.tolist()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.stage = int(state["stage"])
        self.weights, self.losses = np.asarray(state["weights"], float), np.asarray(state["losses"], float)
