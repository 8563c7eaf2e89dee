"""Error against a reference: a fixed evaluation grid and the relative L2 error per field.

The grid and the reference values on it are computed once (in float64), so the
error can be logged during training without recomputing the reference.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import torch


def evaluation_grid(domain: Any, n: int) -> np.ndarray:
    """About n points on a regular grid over the domain's bounding box, kept where inside: (M, d)."""
    per_axis = max(2, math.ceil(n ** (1 / domain.dim)))
    axes = [np.linspace(lo, hi, per_axis) for lo, hi in zip(domain.lower, domain.upper)]
    grid = np.stack([a.reshape(-1) for a in np.meshgrid(*axes, indexing="ij")], axis=1)
    return grid[domain.inside(grid)]


def rel_l2(pred: torch.Tensor, ref: torch.Tensor, mean_free: bool = False) -> torch.Tensor:
    """||pred - ref|| / ||ref||, after removing each mean when the field is defined up to a constant."""
    if mean_free:
        pred, ref = pred - pred.mean(), ref - ref.mean()
    return torch.linalg.vector_norm(pred - ref) / torch.linalg.vector_norm(ref)


class ReferenceSet:
    """Evaluation points `(M, d)` with reference values per field, on a device and dtype."""

    def __init__(self, points: np.ndarray, values: Mapping[str, np.ndarray], mean_free: Sequence[str] = ()):
        self.arrays = {"points": np.asarray(points, np.float64)}
        self.arrays.update({f: np.asarray(v, np.float64).reshape(-1) for f, v in values.items()})
        self.fields = tuple(values)
        self.mean_free = tuple(mean_free)
        self.tensors = {k: torch.as_tensor(v) for k, v in self.arrays.items()}

    def to(self, device: torch.device, dtype: torch.dtype) -> None:
        self.tensors = {k: torch.as_tensor(v).to(device, dtype) for k, v in self.arrays.items()}

    @torch.no_grad()
    def errors(self, model: torch.nn.Module, fields: Sequence[str]) -> dict[str, torch.Tensor]:
        """Field name -> relative L2 error of the model on the grid (0-d tensors, no host sync)."""
        out = model(self.tensors["points"])
        return {f: rel_l2(out[:, fields.index(f)], self.tensors[f], f in self.mean_free) for f in self.fields}


def reference_set(problem: Any, domain: Any, n: int) -> ReferenceSet:
    """Evaluate the problem's reference on the evaluation grid, in float64 on the CPU."""
    points = evaluation_grid(domain, n)
    columns = [torch.as_tensor(points[:, j]) for j in range(points.shape[1])]
    values = problem.reference(*columns)
    arrays = {f: v.detach().cpu().numpy() if torch.is_tensor(v) else np.asarray(v) for f, v in values.items()}
    return ReferenceSet(points, arrays, problem.mean_free)
