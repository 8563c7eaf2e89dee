"""Time and parameter axes: a spatial domain times a time interval, and a domain times a box of PDE parameters."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .base import Domain
from .distance import Piece
from .sampling import sample_unit


class TimeInterval:
    """[t0, t1]: the time axis of a space-time domain (`spatial * TimeInterval(t0, t1)`)."""

    def __init__(self, t0: float, t1: float):
        if not (np.isfinite(t0) and np.isfinite(t1) and t0 < t1):
            raise ValueError(f"TimeInterval: need finite t0 < t1, got t0={t0}, t1={t1}")
        self.t0, self.t1 = float(t0), float(t1)


class SpaceTime(Domain):
    """A spatial domain times a time interval; coordinates (spatial..., t), parts those of space."""

    def __init__(self, spatial: Domain, time: TimeInterval):
        if isinstance(spatial, SpaceTime):
            raise ValueError("SpaceTime: the spatial domain already has a time axis")
        self.spatial, self.time = spatial, time
        self.dim, self.parts = spatial.dim + 1, spatial.parts
        self.lower = np.append(spatial.lower, time.t0)
        self.upper = np.append(spatial.upper, time.t1)

    def box_fraction(self) -> float:
        return self.spatial.box_fraction()

    def _times(self, u: np.ndarray) -> np.ndarray:
        return self.time.t0 + u * (self.time.t1 - self.time.t0)

    def sample_boundary(self, n: int, parts: Sequence[str], sampler: str,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """n points on the named spatial parts at times in [t0, t1], drawn jointly; normals have time component 0."""
        points, normals, u = self.spatial.boundary_draw(n, parts, sampler, rng, extra=1)
        return np.hstack([points, self._times(u)]), np.hstack([normals, np.zeros((n, 1))])

    def sample_initial(self, n: int, sampler: str, rng: np.random.Generator) -> np.ndarray:
        """n points (n, dim) at t = t0 over the closed spatial domain."""
        return np.hstack([self.spatial.sample_interior(n, sampler, rng), np.full((n, 1), self.time.t0)])

    def _in_time(self, t: np.ndarray, tol: float) -> np.ndarray:
        return (t >= self.time.t0 - tol) & (t <= self.time.t1 + tol)

    def inside(self, points: np.ndarray, tol: float = 1e-9) -> np.ndarray:
        p = self._points(points)
        return self.spatial.inside(p[:, :-1], tol) & self._in_time(p[:, -1], tol)

    def on_boundary(self, points: np.ndarray, parts: Sequence[str] = ("boundary",), tol: float = 1e-9) -> np.ndarray:
        p = self._points(points)
        return self.spatial.on_boundary(p[:, :-1], parts, tol) & self._in_time(p[:, -1], tol)

    def boundary_normal(self, points: np.ndarray, parts: Sequence[str] = ("boundary",)) -> np.ndarray:
        p = self._points(points)
        return np.hstack([self.spatial.boundary_normal(p[:, :-1], parts), np.zeros((len(p), 1))])

    def boundary_distance(self, points: np.ndarray, parts: Sequence[str] = ("boundary",)) -> np.ndarray:
        """Distance of each point's spatial coordinates to the named spatial parts."""
        return self.spatial.boundary_distance(self._points(points)[:, :-1], parts)

    def measure(self, parts: Sequence[str] = ("boundary",)) -> float:
        """Measure of the named parts times the duration."""
        return self.spatial.measure(parts) * (self.time.t1 - self.time.t0)

    def boundary_pieces(self, parts: Sequence[str] = ("boundary",)) -> list[Piece]:
        """The spatial pieces: a distance function to them reads the spatial columns and ignores time."""
        return self.spatial.boundary_pieces(parts)

    def quadrature(self, parts: Sequence[str] = ("boundary",), n: int = 64) -> tuple[np.ndarray, ...]:
        """Refused: integrals over boundary parts are spatial; take them on the spatial domain."""
        raise ValueError("no quadrature rule on the parts of a space-time domain: integrate over the spatial "
                         "domain's parts")

    def renamed(self, **names: str) -> SpaceTime:
        return SpaceTime(self.spatial.renamed(**names), self.time)


class Parametric(Domain):
    """A domain times a box of PDE parameter values: where a parametric problem's points are drawn, each
    point with its own parameter values in columns after the coordinates. Boundary parts, faces, normals
    (zero along the parameters) and the initial time are those of the domain."""

    def __init__(self, domain: Domain, lower: Sequence[float], upper: Sequence[float]):
        self.domain = domain
        self.low, self.high = np.asarray(lower, float), np.asarray(upper, float)
        self.dim, self.parts = domain.dim + len(self.low), domain.parts
        self.lower, self.upper = np.append(domain.lower, self.low), np.append(domain.upper, self.high)
        self.spatial = getattr(domain, "spatial", domain)

    @property
    def time(self) -> TimeInterval:
        """The time axis of a space-time domain (AttributeError for a spatial one)."""
        return self.domain.time

    def box_fraction(self) -> float:
        return self.domain.box_fraction()

    def _with_values(self, points: np.ndarray, sampler: str, rng: np.random.Generator) -> np.ndarray:
        return np.hstack([points, self.low + sample_unit(len(points), len(self.low), sampler, rng) *
                          (self.high - self.low)])

    def sample_boundary(self, n: int, parts: Sequence[str], sampler: str,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """n points on the named parts with parameter values drawn over the box; normals zero along them."""
        points, normals = self.domain.sample_boundary(n, parts, sampler, rng)
        return self._with_values(points, sampler, rng), np.hstack([normals, np.zeros((n, len(self.low)))])

    def sample_initial(self, n: int, sampler: str, rng: np.random.Generator) -> np.ndarray:
        """n points at the initial time with parameter values drawn over the box (a space-time domain only)."""
        if not hasattr(self.domain, "sample_initial"):
            raise ValueError("an initial condition needs a space-time domain")
        return self._with_values(self.domain.sample_initial(n, sampler, rng), sampler, rng)

    def _split_points(self, points: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
        """The points' coordinates, and whether their parameter values lie in the box."""
        p = self._points(points)
        values = p[:, self.domain.dim:]
        return p[:, :self.domain.dim], np.all((values >= self.low - tol) & (values <= self.high + tol), axis=1)

    def inside(self, points: np.ndarray, tol: float = 1e-9) -> np.ndarray:
        at, in_box = self._split_points(points, tol)
        return self.domain.inside(at, tol) & in_box

    def on_boundary(self, points: np.ndarray, parts: Sequence[str] = ("boundary",), tol: float = 1e-9) -> np.ndarray:
        at, in_box = self._split_points(points, tol)
        return self.domain.on_boundary(at, parts, tol) & in_box

    def boundary_normal(self, points: np.ndarray, parts: Sequence[str] = ("boundary",)) -> np.ndarray:
        at, _ = self._split_points(points, 0.0)
        return np.hstack([self.domain.boundary_normal(at, parts), np.zeros((len(at), len(self.low)))])

    def boundary_distance(self, points: np.ndarray, parts: Sequence[str] = ("boundary",)) -> np.ndarray:
        """Distance of each point's coordinates to the named parts of the domain."""
        at, _ = self._split_points(points, 0.0)
        return self.domain.boundary_distance(at, parts)

    def measure(self, parts: Sequence[str] = ("boundary",)) -> float:
        """Measure of the named parts times the volume of the parameter box."""
        return self.domain.measure(parts) * float(np.prod(self.high - self.low))

    def boundary_pieces(self, parts: Sequence[str] = ("boundary",)) -> list[Piece]:
        """The domain's pieces: a distance function to them reads the spatial columns only."""
        return self.domain.boundary_pieces(parts)

    def quadrature(self, parts: Sequence[str] = ("boundary",), n: int = 64) -> tuple[np.ndarray, ...]:
        """Refused: integrals over boundary parts are over the coordinates; take them on the domain."""
        raise ValueError("no quadrature rule on the parts of a domain times parameter ranges: integrate over the "
                         "domain's parts")

    def renamed(self, **names: str) -> Parametric:
        return Parametric(self.domain.renamed(**names), self.low, self.high)
