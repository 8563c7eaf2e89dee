"""Error against a reference: a fixed evaluation grid and the relative L2 error per field.

The grid and the reference values on it are computed once (in float64), so the
error can be logged during training without recomputing the reference.
"""
from __future__ import annotations

import itertools
import math
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import torch

from .problem import ProblemError


def evaluation_grid(domain: Any, n: int) -> np.ndarray:
    """About n points on a regular grid over the domain's bounding box, kept where inside: (M, d)."""
    per_axis = max(2, math.ceil(n ** (1 / domain.dim)))
    axes = [np.linspace(lo, hi, per_axis) for lo, hi in zip(domain.lower, domain.upper)]
    grid = np.stack([a.reshape(-1) for a in np.meshgrid(*axes, indexing="ij")], axis=1)
    return grid[domain.inside(grid)]


def demean(values: torch.Tensor, slices: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Values less their mean, or less the mean of their slice (`slices`: (M,) labels 0..k-1, each used)."""
    if slices is None:
        return values - values.mean()
    count = torch.bincount(slices).to(values.dtype)
    sums = torch.zeros_like(count).index_add_(0, slices, values)
    return values - (sums / count)[slices]


def rel_l2(pred: torch.Tensor, ref: torch.Tensor, mean_free: bool = False,
           slices: Optional[torch.Tensor] = None) -> torch.Tensor:
    """||pred - ref|| / ||ref||, after removing each mean when the field is defined up to a constant
    (per slice when given: an unsteady pressure is defined up to a function of time)."""
    if mean_free:
        pred, ref = demean(pred, slices), demean(ref, slices)
    return torch.linalg.vector_norm(pred - ref) / torch.linalg.vector_norm(ref)


class ReferenceSet:
    """Evaluation points `(M, d)` with reference values per field, on a device and dtype.

    Optional probes are named point sets (a centre line, a station) whose errors are reported
    beside the grid's, keyed `field@probe`.
    """

    def __init__(self, points: np.ndarray, values: Mapping[str, np.ndarray], mean_free: Sequence[str] = (),
                 probes: Optional[Mapping[str, "ReferenceSet"]] = None, slices: Optional[np.ndarray] = None):
        """`slices`: (M,) labels of the point groups (times) whose means `mean_free` fields lose separately."""
        self.arrays = {"points": np.asarray(points, np.float64)}
        self.arrays.update({f: np.asarray(v, np.float64).reshape(-1) for f, v in values.items()})
        self.fields = tuple(values)
        self.mean_free = tuple(mean_free)
        self.probes = dict(probes or {})
        self.labels = None if slices is None else torch.as_tensor(slices, dtype=torch.int64)
        self.tensors = {k: torch.as_tensor(v) for k, v in self.arrays.items()}

    def to(self, device: torch.device, dtype: torch.dtype) -> None:
        self.tensors = {k: torch.as_tensor(v).to(device, dtype) for k, v in self.arrays.items()}
        self.labels = None if self.labels is None else self.labels.to(device)
        for probe in self.probes.values():
            probe.to(device, dtype)

    def subset(self, keep: np.ndarray) -> "ReferenceSet":
        """The points where `keep` holds, probes left out: the error over a part of the domain."""
        labels = None if self.labels is None else self.labels.cpu().numpy()[keep]
        return ReferenceSet(self.arrays["points"][keep], {f: self.arrays[f][keep] for f in self.fields},
                            self.mean_free, None, labels)

    @torch.no_grad()
    def errors(self, model: torch.nn.Module, fields: Sequence[str]) -> dict[str, torch.Tensor]:
        """Field name (and `field@probe`) -> relative L2 error of the model (0-d tensors, no host sync)."""
        out = model(self.tensors["points"])
        errors = {f: rel_l2(out[:, fields.index(f)], self.tensors[f], f in self.mean_free, self.labels)
                  for f in self.fields}
        for name, probe in self.probes.items():
            errors.update({f"{f}@{name}": e for f, e in probe.errors(model, fields).items()})
        return errors


def reference_values(problem: Any, points: np.ndarray, fields: Sequence[str] = (),
                     at: Optional[Mapping[str, float]] = None) -> dict[str, np.ndarray]:
    """The problem's reference at `(M, d)` points as float64 arrays (only `fields`, when given).

    It is evaluated in float64 with the true parameter values (`Problem.truth`), or the values `at` gives
    (a ranged parameter's), its inputs on the problem's device like its parameters; a reference that fails
    or returns anything but a real, finite, not identically zero value per point for known fields is a
    ProblemError naming it."""
    truth, name = problem.truth(), f"{type(problem).__name__}.reference()"
    truth.values.update({k: torch.tensor(float(v), dtype=torch.float64, device=truth.device)
                         for k, v in (at or {}).items()})
    columns = [torch.as_tensor(points[:, j], dtype=torch.float64, device=truth.device) for j in range(points.shape[1])]
    try:
        values = truth.reference(*columns)
    except Exception as err:  # a user's code: report it in one line
        raise ProblemError(f"{name} failed: {type(err).__name__}: {err}") from None
    if not isinstance(values, dict) or not values:
        got = "an empty dict" if isinstance(values, dict) else type(values).__name__
        raise ProblemError(f"{name} must return a dict of field name -> values, got {got}")
    for f in values:
        if f not in problem.fields:
            raise ProblemError(f"{name} returned {f!r}, which is not a field (fields: {', '.join(problem.fields)})")
    return {f: _field_values(f"{name}: field {f!r}", v, len(points), f in problem.mean_free)
            for f, v in values.items() if not fields or f in fields}


def _field_values(what: str, value: Any, n: int, mean_free: bool) -> np.ndarray:
    """One field of a reference as (n,) float64: real, one value per point (or one for all), finite, not zero."""
    raw = np.asarray(value.detach().cpu() if torch.is_tensor(value) else value)
    if raw.dtype.kind not in "biuf":
        raise ProblemError(f"{what} holds {raw.dtype} values, expected real numbers")
    array = np.broadcast_to(raw, (n,)) if raw.ndim == 0 else raw.reshape(-1)
    if len(array) != n:
        raise ProblemError(f"{what} has shape {tuple(raw.shape)}, expected one value per point ({n},)")
    if not np.isfinite(array).all():
        raise ProblemError(f"{what} is not finite at {int((~np.isfinite(array)).sum())} points")
    if not np.any(array - (array.mean() if mean_free else 0)):
        raise ProblemError(f"{what} is zero everywhere (after removing its mean, for a field defined up to a "
                           f"constant): a relative error has nothing to compare with")
    return array.astype(np.float64)


def reference_set(problem: Any, domain: Any, n: int) -> ReferenceSet:
    """The reference (with the true parameter values where known) on the evaluation grid and the
    problem's probes (`problem.probes()`: name -> (points, fields)), in float64 on the CPU. On a
    space-time domain, mean-free fields are compared time by time (the grid's time levels).

    A parametric problem's grid is repeated at every combination of its ranged parameters' evaluated
    values, each also a probe of its own (`u@nu=0.005`); its own probes are taken at the default values."""
    grid, time = evaluation_grid(domain, n), hasattr(domain, "time")
    default = {name: float(problem.values[name]) for name in problem.ranges}
    probes = {name: _reference_at(problem, at, fields, default, False)
              for name, (at, fields) in (problem.probes() if problem.has("probes") else {}).items()}
    combinations = [dict(zip(problem.ranges, values)) for values in itertools.product(*problem.evaluated.values())]
    if not combinations or combinations == [{}]:
        return _reference_at(problem, grid, (), {}, time, probes)
    each = {parameter_label(values): _reference_at(problem, grid, (), values, time) for values in combinations}
    points = np.concatenate([r.arrays["points"] for r in each.values()])
    values = {f: np.concatenate([r.arrays[f] for r in each.values()]) for f in next(iter(each.values())).fields}
    return ReferenceSet(points, values, problem.mean_free, {**probes, **each},
                        _slices(points[:, :grid.shape[1]], time, len(grid)))


def parameter_label(values: Mapping[str, float]) -> str:
    """`nu=0.005`: how the errors at one combination of ranged parameter values are keyed (`u@nu=0.005`)."""
    return ", ".join(f"{k}={v:.4g}" for k, v in values.items())


def _reference_at(problem: Any, at: np.ndarray, fields: Sequence[str], values: Mapping[str, float], time: bool,
                  probes: Optional[Mapping[str, ReferenceSet]] = None) -> ReferenceSet:
    """The reference at points `at` (coordinates) with the ranged parameters at `values`, whose columns are
    appended to the points the network sees."""
    known = reference_values(problem, at, fields, values)
    points = np.hstack([at, np.tile(np.asarray(list(values.values()), float), (len(at), 1))])
    return ReferenceSet(points, known, problem.mean_free, probes, _slices(at, time, len(at)))


def _slices(points: np.ndarray, time: bool, block: int) -> Optional[np.ndarray]:
    """Labels of the point groups over which a mean-free field loses its mean: each block of `block` points
    (one combination of parameter values) and, on a space-time domain, each time level within it (time is
    the last column of the coordinates `points`)."""
    if not time and len(points) == block:
        return None
    keys = np.stack([np.arange(len(points)) // block, points[:, -1] if time else np.zeros(len(points))], axis=1)
    return np.unique(keys, axis=0, return_inverse=True)[1].reshape(-1)
