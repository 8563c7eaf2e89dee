"""Redrawing collocation points during training: uniform, or residual-based (RAD).

RAD (Wu, Zhu, Tan, Kartha & Lu 2023, "A comprehensive study of non-adaptive and
residual-based adaptive sampling for PINNs") draws the PDE points from a large pool
of candidates with probability proportional to |r|^k / mean(|r|^k) + c, so that
points gather where the residual is large; k = 1, c = 1 is their robust default.
Condition points are redrawn uniformly; observations never move.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from .loss import Objective
from .operators import JetEngine

CHUNK = 20_000  # candidate points per derivative pass, to bound memory


def rad_probabilities(magnitude: np.ndarray, k: float, c: float) -> np.ndarray:
    """Sampling probabilities of candidates with residual magnitudes `magnitude` (M,): |r|^k / mean + c, normalized."""
    weight = magnitude ** k
    mean = weight.mean()
    density = (weight / mean if mean > 0 and np.isfinite(mean) else np.zeros_like(weight)) + c
    if not np.isfinite(density).all() or density.sum() <= 0:
        density = np.ones_like(magnitude)
    return density / density.sum()


def residual_magnitude(objective: Objective, index: int, points: np.ndarray) -> np.ndarray:
    """Root of the summed squares of every term of group `index` at `points` (M, d), in chunks, by eager
    jets (a compiled engine would recompile for every new chunk shape)."""
    p, engine = next(objective.model.parameters()), JetEngine()
    out = []
    for start in range(0, len(points), CHUNK):
        batch = {"points": torch.as_tensor(points[start:start + CHUNK]).to(p.device, p.dtype)}
        with torch.enable_grad():
            terms = objective.group_terms(objective.groups[index], batch, engine)
        squares = sum(r.detach().reshape(len(batch["points"]), -1).square().sum(dim=1) for r in terms.values())
        out.append(squares.sqrt().double().cpu().numpy())
    return np.concatenate(out)


def resample(objective: Objective, rng: np.random.Generator, how: Literal["uniform", "rad"] = "uniform",
             k: float = 1.0, c: float = 1.0, pool: int = 10) -> None:
    """Redraw every resampled point set; with "rad", the PDE points (the first group) by residual from
    `pool` times as many uniform candidates. Arrays only: call `objective.to(...)` afterwards."""
    objective.sample(rng, only_resampled=True)
    if how != "rad":
        return
    group = objective.groups[0]
    n = len(group.arrays["points"])
    candidates = np.concatenate([group.arrays["points"]] + [group.sample(rng)["points"] for _ in range(pool - 1)])
    chosen = rng.choice(len(candidates), size=n, replace=False,
                        p=rad_probabilities(residual_magnitude(objective, 0, candidates), k, c))
    group.arrays = {"points": candidates[chosen]}
    group.batch = {}
