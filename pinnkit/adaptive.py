"""Redrawing collocation points during training: uniform, or residual-based (RAD).

RAD (Wu, Zhu, Tan, Kartha & Lu 2023, "A comprehensive study of non-adaptive and
residual-based adaptive sampling for PINNs") draws the PDE points from a large pool
of candidates with probability proportional to |r|^k / mean(|r|^k) + c, so that
points gather where the residual is large; k = 1, c = 1 is their robust default.
The groups marked `adaptive` (the PDE's collocation points) are drawn that way;
condition points are redrawn uniformly; observations never move.
"""
from __future__ import annotations

import logging
from typing import Literal, Optional

import numpy as np
import torch

from .loss import Objective, TermGroup

log = logging.getLogger(__name__)
CHUNK = 20_000  # candidate points per derivative pass, to bound memory


def rad_probabilities(magnitude: np.ndarray, k: float, c: float) -> Optional[np.ndarray]:
    """Sampling probabilities of candidates with residual magnitudes `magnitude` (M,): |r|^k / mean + c,
    normalized (uniform where the residual vanishes everywhere); None when the residual or the density is
    not finite (an overflow), so the caller can draw uniformly and say so."""
    weight = magnitude ** k
    if not np.isfinite(weight).all():
        return None
    mean = weight.mean()
    density = (weight / mean if mean > 0 else np.zeros_like(weight)) + c
    if not np.isfinite(density).all():
        return None
    return density / density.sum() if density.sum() > 0 else np.full(len(density), 1 / len(density))


def residual_magnitude(objective: Objective, group: TermGroup, points: np.ndarray,
                       data: Optional[dict[str, np.ndarray]] = None) -> np.ndarray:
    """Root of the summed squares of every term of `group` at `points` (M, d), with what goes with them
    (`data`: normals, targets, by name), in chunks, by the objective's engine run eagerly (a compiled one
    would recompile for every new chunk shape)."""
    p, engine = next(objective.model.parameters()), objective.engine.eager()
    arrays = {**(data or {}), "points": points}
    out = []
    for start in range(0, len(points), CHUNK):
        batch = {k: torch.as_tensor(v[start:start + CHUNK]).to(p.device, p.dtype) for k, v in arrays.items()}
        with torch.enable_grad():
            terms = objective.group_terms(group, batch, engine)
        squares = sum(r.detach().reshape(len(batch["points"]), -1).square().sum(dim=1) for r in terms.values())
        out.append(squares.sqrt().double().cpu().numpy())
    return np.concatenate(out)


def resample(objective: Objective, rng: np.random.Generator, how: Literal["uniform", "rad"] = "uniform",
             k: float = 1.0, c: float = 1.0, pool: int = 10) -> None:
    """Redraw every resampled point set; with "rad", the adaptive groups by residual from `pool` times as
    many uniform candidates. Arrays only: call `objective.to(...)` afterwards."""
    objective.sample(rng, only_resampled=True)
    if how != "rad":
        return
    for group in (g for g in objective.groups if g.adaptive):
        n = len(group.arrays["points"])
        candidates = np.concatenate([group.arrays["points"]] + [group.sample(rng)["points"] for _ in range(pool - 1)])
        p = rad_probabilities(residual_magnitude(objective, group, candidates, group.completed({"points": candidates})),
                              k, c)
        if p is None:
            log.warning("RAD: the residual of %s is not finite at some candidates; its points were drawn "
                        "uniformly this time", group.owner)
            continue
        group.arrays = group.completed({"points": candidates[rng.choice(len(candidates), size=n, replace=False, p=p)]})
        group.batch = {}
