"""A run's domain on regular grids, and the solution there: prediction, reference and error.

A `Lattice` varies some coordinates over regular ticks and holds the others fixed (an x-y plane at
one time, a spatial volume, an x-t map); `sample` evaluates a run on it. Fields defined up to a
constant (`problem.mean_free`: pressure) lose their mean over space at each time level, prediction
and reference alike, as the metrics compare them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

import numpy as np

from ..metrics import reference_values
from ..run import load
from ..solution import Solution

RunLike = Union[str, Path, Solution]


def open_run(run: RunLike, trust_code: bool = False) -> Solution:
    """The trained solution of a run folder (or `run` itself); a bad folder is a RunError (one line), and so
    is one whose problem is Python code unless `trust_code` (`run.load`)."""
    return run if isinstance(run, Solution) else load(run, trust_code=trust_code)


def time_name(solution: Solution) -> Optional[str]:
    """The time coordinate (last, on a space-time domain), or None for a steady problem."""
    return solution.coords[-1] if hasattr(solution.problem.domain(), "time") else None


def space_names(solution: Solution) -> tuple[str, ...]:
    """The spatial coordinates, in order."""
    return solution.coords[:-1] if time_name(solution) else solution.coords


def bounds(solution: Solution) -> dict[str, tuple[float, float]]:
    """Coordinate -> (low, high) of the domain's bounding box, time included."""
    domain = solution.problem.domain()
    return {c: (float(lo), float(hi)) for c, lo, hi in zip(solution.coords, domain.lower, domain.upper)}


def time_levels(solution: Solution, count: int) -> np.ndarray:
    """`count` evenly spaced times from the start to the end of the time interval."""
    low, high = bounds(solution)[time_name(solution)]
    return np.linspace(low, high, count)


@dataclass(frozen=True)
class Lattice:
    """Regular ticks along `axes` (in that order: the grid's index order), the other coordinates `fixed`."""

    coords: tuple[str, ...]
    axes: Mapping[str, np.ndarray]
    fixed: Mapping[str, float]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(ticks) for ticks in self.axes.values())

    def points(self) -> np.ndarray:
        """Every grid point, `(prod(shape), d)` in coordinate order, the last axis varying fastest."""
        mesh = np.meshgrid(*self.axes.values(), indexing="ij")
        columns = {name: m.reshape(-1) for name, m in zip(self.axes, mesh)}
        columns.update({name: np.full(mesh[0].size, value) for name, value in self.fixed.items()})
        return np.stack([columns[c] for c in self.coords], axis=1)


def lattice(solution: Solution, axes: Sequence[str], n: int,
            fixed: Optional[Mapping[str, float]] = None) -> Lattice:
    """n ticks over the domain along each of `axes`; the coordinates neither varied nor `fixed` sit mid-range."""
    box = bounds(solution)
    rest = {c: (fixed or {}).get(c, sum(box[c]) / 2) for c in solution.coords if c not in axes}
    return Lattice(solution.coords, {a: np.linspace(*box[a], n) for a in axes}, rest)


@dataclass(frozen=True)
class Sample:
    """The solution on a lattice: arrays of `lattice.shape`, NaN outside the domain. `reference` holds
    only the fields that have one; mean-free fields are mean-removed in both."""

    lattice: Lattice
    prediction: dict[str, np.ndarray]
    reference: dict[str, np.ndarray]

    def error(self, field: str) -> np.ndarray:
        """Prediction minus reference."""
        return self.prediction[field] - self.reference[field]

    def rel_l2(self, field: str) -> float:
        """||prediction - reference|| / ||reference|| over the lattice's points in the domain."""
        ref = self.reference[field]
        return float(np.sqrt(np.nansum(self.error(field) ** 2) / np.nansum(ref**2)))


def sample(solution: Solution, grid: Lattice) -> Sample:
    """Prediction and (where the problem has one, with true parameter values) reference on the grid."""
    points = grid.points()
    inside = solution.problem.domain().inside(points)
    known = {}
    if solution.problem.has("reference"):
        known = reference_values(solution.problem, points[inside])
    time_axis = list(grid.axes).index(time_name(solution)) if time_name(solution) in grid.axes else None

    def fill(values: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = {}
        for field, v in values.items():
            full = np.full(len(points), np.nan)
            full[inside] = v
            full = full.reshape(grid.shape)
            out[field] = _demean(full, time_axis) if field in solution.problem.mean_free else full
        return out

    return Sample(grid, fill(solution.predict(points[inside])), fill(known))


def _demean(values: np.ndarray, time_axis: Optional[int]) -> np.ndarray:
    """Values less their mean over the domain's points, separately at each index along `time_axis`."""
    over = tuple(i for i in range(values.ndim) if i != time_axis)
    return values - np.nanmean(values, axis=over, keepdims=True)


def planes(solution: Solution, n: int, times: int = 3) -> list[Lattice]:
    """The 2D views of a run: the x-t map (time across) of a 1D unsteady problem; else the plane of
    the first two spatial axes through the middle of the others, at `times` time levels if unsteady.
    None for a 1D steady problem (a line plot shows it)."""
    space, time = space_names(solution), time_name(solution)
    if len(space) == 1:
        return [lattice(solution, (time, space[0]), n)] if time else []
    levels = time_levels(solution, times) if time else [None]
    return [lattice(solution, space[:2], n, {time: t} if time else None) for t in levels]
