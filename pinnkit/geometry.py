"""Domains and their named boundary parts: sampling, membership, outward normals.

Points are float64 NumPy arrays `(n, d)` in coordinate order; a space-time domain
(`spatial * TimeInterval(t0, t1)`) puts time last. Every domain's boundary is a set
of named parts (`left`, `right`, `bottom`, `top`, ...); the name `boundary` means all.
"""
from __future__ import annotations

import warnings
from typing import Callable, Optional, Sequence

import numpy as np
from scipy.stats import qmc


def _uniform(n: int, dim: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((n, dim))


def _lhs(n: int, dim: int, seed: int) -> np.ndarray:
    return qmc.LatinHypercube(d=dim, seed=seed).random(n)


def _sobol(n: int, dim: int, seed: int) -> np.ndarray:
    with warnings.catch_warnings():  # balance properties need n = 2^m; any n is still low-discrepancy
        warnings.simplefilter("ignore", UserWarning)
        return qmc.Sobol(d=dim, seed=seed).random(n)


SAMPLERS: dict[str, Callable[[int, int, int], np.ndarray]] = {"uniform": _uniform, "lhs": _lhs, "sobol": _sobol}


def sample_unit(n: int, dim: int, sampler: str, rng: np.random.Generator) -> np.ndarray:
    """n points in [0, 1)^dim by the named sampler, seeded from `rng` (deterministic given it)."""
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r} (valid: {', '.join(SAMPLERS)})")
    if n <= 0:
        raise ValueError(f"number of points must be positive, got {n}")
    return SAMPLERS[sampler](n, dim, int(rng.integers(2**32)))


def _split(n: int, measures: Sequence[float]) -> np.ndarray:
    """n split into integer counts proportional to `measures` (largest remainders)."""
    share = np.asarray(measures, float) / np.sum(measures) * n
    counts = np.floor(share).astype(int)
    counts[np.argsort(counts - share)[: n - counts.sum()]] += 1
    return counts


class Domain:
    """Base: a closed region with named boundary parts. Subclasses define the geometry."""

    dim: int
    parts: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray

    def sample_interior(self, n: int, sampler: str, rng: np.random.Generator) -> np.ndarray:
        return self.lower + sample_unit(n, self.dim, sampler, rng) * (self.upper - self.lower)

    def resolve_parts(self, parts: Sequence[str]) -> tuple[str, ...]:
        """Expand `boundary` and check the names: unknown ones raise ValueError listing the valid."""
        out: list[str] = []
        for part in parts:
            if part == "boundary":
                out += [p for p in self.parts if p not in out]
            elif part in self.parts:
                out += [part] if part not in out else []
            else:
                raise ValueError(f"unknown boundary part {part!r} (valid: boundary, {', '.join(self.parts)})")
        return tuple(out)

    def sample_boundary(self, n: int, parts: Sequence[str], sampler: str,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """n points on the named parts, spread by measure, and their outward unit normals."""
        names = self.resolve_parts(parts)
        counts = _split(n, [self._measure(p) for p in names])
        pieces = [self._sample_part(p, k, sampler, rng) for p, k in zip(names, counts) if k > 0]
        return np.concatenate([a for a, _ in pieces]), np.concatenate([b for _, b in pieces])

    def inside(self, points: np.ndarray, tol: float = 1e-9) -> np.ndarray:
        return np.all((points >= self.lower - tol) & (points <= self.upper + tol), axis=1)

    def on_boundary(self, points: np.ndarray, parts: Sequence[str] = ("boundary",), tol: float = 1e-9) -> np.ndarray:
        names = self.resolve_parts(parts)
        return np.any([self._distance(p, points) <= tol for p in names], axis=0) & self.inside(points, tol)

    def boundary_normal(self, points: np.ndarray) -> np.ndarray:
        """Outward unit normals of boundary points: those of the nearest part."""
        distances = np.stack([self._distance(p, points) for p in self.parts])
        nearest = np.argmin(distances, axis=0)
        return np.stack([self._normal(self.parts[k], points[i:i + 1])[0] for i, k in enumerate(nearest)])

    def __mul__(self, other: "TimeInterval") -> "SpaceTime":
        if not isinstance(other, TimeInterval):
            return NotImplemented
        return SpaceTime(self, other)

    # What a subclass defines, per part.
    def _measure(self, part: str) -> float: ...
    def _sample_part(self, part: str, n: int, sampler: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]: ...
    def _distance(self, part: str, points: np.ndarray) -> np.ndarray: ...
    def _normal(self, part: str, points: np.ndarray) -> np.ndarray: ...


class Hyperrectangle(Domain):
    """An axis-aligned box [lower, upper]; each face is a part named in `face_names` (min, max per axis)."""

    face_names: tuple[str, ...] = ()

    def __init__(self, lower: Sequence[float], upper: Sequence[float]):
        self.lower, self.upper = np.asarray(lower, float).reshape(-1), np.asarray(upper, float).reshape(-1)
        if self.lower.shape != self.upper.shape or np.any(self.lower >= self.upper):
            raise ValueError(f"{type(self).__name__}: need lower < upper on every axis, "
                             f"got {self.lower.tolist()} and {self.upper.tolist()}")
        self.dim = len(self.lower)
        self.parts = self.face_names

    def _face(self, part: str) -> tuple[int, int]:
        k = self.parts.index(part)
        return k // 2, k % 2  # axis, side (0: min, 1: max)

    def _measure(self, part: str) -> float:
        axis, _ = self._face(part)
        return float(np.prod(np.delete(self.upper - self.lower, axis))) if self.dim > 1 else 1.0

    def _sample_part(self, part, n, sampler, rng):
        axis, side = self._face(part)
        points = self.lower + sample_unit(n, self.dim, sampler, rng) * (self.upper - self.lower)
        points[:, axis] = (self.lower, self.upper)[side][axis]
        return points, self._normal(part, points)

    def _distance(self, part, points):
        axis, side = self._face(part)
        return np.abs(points[:, axis] - (self.lower, self.upper)[side][axis])

    def _normal(self, part, points):
        axis, side = self._face(part)
        normals = np.zeros((len(points), self.dim))
        normals[:, axis] = 1.0 if side else -1.0
        return normals


class Interval(Hyperrectangle):
    """[a, b]; parts `left` (x = a) and `right` (x = b)."""

    face_names = ("left", "right")

    def __init__(self, a: float, b: float):
        super().__init__([a], [b])


class Rectangle(Hyperrectangle):
    """[x0, x1] x [y0, y1]; parts `left`, `right` (x = x0, x1), `bottom`, `top` (y = y0, y1)."""

    face_names = ("left", "right", "bottom", "top")

    def __init__(self, lower: Sequence[float], upper: Sequence[float]):
        super().__init__(lower, upper)


class Box(Hyperrectangle):
    """A 3D box; parts `left`/`right` (x), `front`/`back` (y), `bottom`/`top` (z)."""

    face_names = ("left", "right", "front", "back", "bottom", "top")

    def __init__(self, lower: Sequence[float], upper: Sequence[float]):
        super().__init__(lower, upper)


class Polygon(Domain):
    """A simple polygon; edge i runs from vertex i to i+1 and is the part `edge_names[i]` (default `edge<i>`).

    Several edges may share a name (`walls`); the part is then their union.
    """

    def __init__(self, vertices: Sequence[Sequence[float]], edge_names: Optional[Sequence[str]] = None):
        v = np.asarray(vertices, float)
        if v.ndim != 2 or v.shape[1] != 2 or len(v) < 3:
            raise ValueError(f"Polygon: need at least 3 vertices (x, y), got shape {v.shape}")
        area = 0.5 * np.sum(v[:, 0] * np.roll(v[:, 1], -1) - np.roll(v[:, 0], -1) * v[:, 1])
        if abs(area) < 1e-12:
            raise ValueError("Polygon: the vertices enclose no area")
        names = tuple(edge_names) if edge_names is not None else tuple(f"edge{i}" for i in range(len(v)))
        if len(names) != len(v):
            raise ValueError(f"Polygon: {len(v)} edges but {len(names)} edge names")
        self.vertices, self.edge_names = (v, names) if area > 0 else (v[::-1], tuple(names[-2::-1]) + (names[-1],))
        self.area = abs(area)
        self.dim, self.lower, self.upper = 2, v.min(axis=0), v.max(axis=0)
        self.parts = tuple(dict.fromkeys(self.edge_names))

    def _edges(self, part: str) -> list[int]:
        return [i for i, name in enumerate(self.edge_names) if name == part]

    def _segment(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return self.vertices[i], self.vertices[(i + 1) % len(self.vertices)]

    def _measure(self, part: str) -> float:
        return float(sum(np.linalg.norm(b - a) for a, b in map(self._segment, self._edges(part))))

    def _edge_normal(self, i: int) -> np.ndarray:
        a, b = self._segment(i)
        d = (b - a) / np.linalg.norm(b - a)
        return np.array([d[1], -d[0]])  # counter-clockwise vertices: outward is to the right

    def _sample_part(self, part, n, sampler, rng):
        edges = self._edges(part)
        counts = _split(n, [np.linalg.norm(np.subtract(*self._segment(i))) for i in edges])
        pts, normals = [], []
        for i, k in zip(edges, counts):
            if k:
                a, b = self._segment(i)
                s = sample_unit(int(k), 1, sampler, rng)
                pts.append(a + s * (b - a))
                normals.append(np.tile(self._edge_normal(i), (int(k), 1)))
        return np.concatenate(pts), np.concatenate(normals)

    def _segment_distance(self, i: int, points: np.ndarray) -> np.ndarray:
        a, b = self._segment(i)
        s = np.clip((points - a) @ (b - a) / np.dot(b - a, b - a), 0.0, 1.0)
        return np.linalg.norm(points - (a + s[:, None] * (b - a)), axis=1)

    def _distance(self, part, points):
        return np.min([self._segment_distance(i, points) for i in self._edges(part)], axis=0)

    def _normal(self, part, points):
        edges = self._edges(part)
        nearest = np.argmin([self._segment_distance(i, points) for i in edges], axis=0)
        return np.stack([self._edge_normal(edges[k]) for k in nearest])

    def inside(self, points: np.ndarray, tol: float = 1e-9) -> np.ndarray:
        """Even-odd ray casting, plus points within `tol` of an edge."""
        x, y = points[:, 0:1], points[:, 1:2]
        a, b = self.vertices, np.roll(self.vertices, -1, axis=0)
        crosses = (a[:, 1] > y) != (b[:, 1] > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_cross = a[:, 0] + (y - a[:, 1]) * (b[:, 0] - a[:, 0]) / (b[:, 1] - a[:, 1])
        odd = np.sum(crosses & (x < x_cross), axis=1) % 2 == 1
        near = np.min([self._segment_distance(i, points) for i in range(len(a))], axis=0) <= tol
        return odd | near

    def sample_interior(self, n: int, sampler: str, rng: np.random.Generator) -> np.ndarray:
        """Rejection from the bounding box, in batches, until n points are inside."""
        box_fraction = self.area / float(np.prod(self.upper - self.lower))
        kept: list[np.ndarray] = []
        while sum(map(len, kept)) < n:
            batch = int(1.2 * n / box_fraction) + 16
            cand = self.lower + sample_unit(batch, 2, sampler, rng) * (self.upper - self.lower)
            kept.append(cand[self.inside(cand, tol=0.0)])
        return np.concatenate(kept)[:n]


class TimeInterval:
    """[t0, t1]: the time axis of a space-time domain (`spatial * TimeInterval(t0, t1)`)."""

    def __init__(self, t0: float, t1: float):
        if not t0 < t1:
            raise ValueError(f"TimeInterval: need t0 < t1, got {t0} and {t1}")
        self.t0, self.t1 = float(t0), float(t1)


class SpaceTime(Domain):
    """A spatial domain times a time interval; coordinates (spatial..., t), parts those of space."""

    def __init__(self, spatial: Domain, time: TimeInterval):
        self.spatial, self.time = spatial, time
        self.dim, self.parts = spatial.dim + 1, spatial.parts
        self.lower = np.append(spatial.lower, time.t0)
        self.upper = np.append(spatial.upper, time.t1)

    def _with_time(self, spatial_points: np.ndarray, sampler: str, rng: np.random.Generator) -> np.ndarray:
        t = self.time.t0 + sample_unit(len(spatial_points), 1, sampler, rng) * (self.time.t1 - self.time.t0)
        return np.concatenate([spatial_points, t], axis=1)

    def sample_interior(self, n: int, sampler: str, rng: np.random.Generator) -> np.ndarray:
        if isinstance(self.spatial, Hyperrectangle):  # joint low-discrepancy draw in space-time
            return super().sample_interior(n, sampler, rng)
        return self._with_time(self.spatial.sample_interior(n, sampler, rng), sampler, rng)

    def sample_boundary(self, n, parts, sampler, rng):
        points, normals = self.spatial.sample_boundary(n, parts, sampler, rng)
        return self._with_time(points, sampler, rng), np.concatenate([normals, np.zeros((n, 1))], axis=1)

    def sample_initial(self, n: int, sampler: str, rng: np.random.Generator) -> np.ndarray:
        """n points at t = t0 over the spatial domain."""
        points = self.spatial.sample_interior(n, sampler, rng)
        return np.concatenate([points, np.full((n, 1), self.time.t0)], axis=1)

    def inside(self, points: np.ndarray, tol: float = 1e-9) -> np.ndarray:
        t = points[:, -1]
        return self.spatial.inside(points[:, :-1], tol) & (t >= self.time.t0 - tol) & (t <= self.time.t1 + tol)

    def resolve_parts(self, parts):
        return self.spatial.resolve_parts(parts)

    def on_boundary(self, points, parts=("boundary",), tol=1e-9):
        return self.spatial.on_boundary(points[:, :-1], parts, tol) & self.inside(points, tol)

    def boundary_normal(self, points):
        return np.concatenate([self.spatial.boundary_normal(points[:, :-1]), np.zeros((len(points), 1))], axis=1)
