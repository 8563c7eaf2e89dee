"""Domains and their named boundary parts: sampling, membership, outward normals.

Points are float64 NumPy arrays `(n, d)` in coordinate order; a space-time domain
(`spatial * TimeInterval(t0, t1)`) puts time last. Every domain's boundary is a set
of named parts (`left`, `right`, `bottom`, `top`, ...); the name `boundary` means all.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np
from scipy.stats import qmc


def _uniform(n: int, dim: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((n, dim))


def _lhs(n: int, dim: int, seed: int) -> np.ndarray:
    return qmc.LatinHypercube(d=dim, seed=seed).random(n)


def _sobol(n: int, dim: int, seed: int) -> np.ndarray:
    """The first n points of a scrambled Sobol sequence, drawn as 2^m points so SciPy keeps quiet about balance."""
    return qmc.Sobol(d=dim, seed=seed).random_base2((n - 1).bit_length())[:n]


SAMPLERS: dict[str, Callable[[int, int, int], np.ndarray]] = {"uniform": _uniform, "lhs": _lhs, "sobol": _sobol}


def _check_count(n: int) -> None:
    if not n > 0:
        raise ValueError(f"number of points must be positive, got {n}")


def sample_unit(n: int, dim: int, sampler: str, rng: np.random.Generator) -> np.ndarray:
    """n points in [0, 1)^dim by the named sampler, seeded from `rng` (deterministic given it)."""
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r} (valid: {', '.join(SAMPLERS)})")
    _check_count(n)
    return SAMPLERS[sampler](int(n), dim, int(rng.integers(2**32)))


def _split(n: int, measures: Sequence[float]) -> np.ndarray:
    """n split into integer counts proportional to `measures` (largest remainders), summing to n."""
    share = np.asarray(measures, float) / np.sum(measures) * n
    counts = np.floor(share).astype(int)
    counts[np.argsort(counts - share, kind="stable")[: n - counts.sum()]] += 1
    return counts


def _rejection(n: int, lower: np.ndarray, upper: np.ndarray, accept: Callable[[np.ndarray], np.ndarray],
               fraction: float, sampler: str, rng: np.random.Generator) -> np.ndarray:
    """n points of the box [lower, upper] that pass `accept`, drawn in batches sized by the accepted `fraction`."""
    kept, count = [], 0
    while count < n:
        batch = int(1.2 * (n - count) / fraction) + 16
        candidates = lower + sample_unit(batch, len(lower), sampler, rng) * (upper - lower)
        kept.append(candidates[accept(candidates)])
        count += len(kept[-1])
    return np.concatenate(kept)[:n]


class Domain:
    """Base: a closed region with named boundary parts.

    A spatial subclass sets `dim`, `parts`, `lower`, `upper`, `_param_dim` (unit coordinates that place
    a point on a part) and defines `_measure`, `_place`, `_distance` and `_normal` per part.
    """

    dim: int
    parts: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray
    _param_dim: int

    def _points(self, points: np.ndarray) -> np.ndarray:
        p = np.asarray(points, dtype=float)
        if p.ndim != 2 or p.shape[1] != self.dim:
            raise ValueError(f"{type(self).__name__}: points must have shape (n, {self.dim}), got {p.shape}")
        return p

    def box_fraction(self) -> float:
        """Share of the bounding box inside the domain (1 for boxes)."""
        return 1.0

    def sample_interior(self, n: int, sampler: str, rng: np.random.Generator) -> np.ndarray:
        """n points of the closed domain, (n, dim): a box maps the sampler directly, other shapes reject."""
        _check_count(n)
        if self.box_fraction() == 1.0:
            return self.lower + sample_unit(n, self.dim, sampler, rng) * (self.upper - self.lower)
        return _rejection(n, self.lower, self.upper, lambda p: self.inside(p, tol=0.0), self.box_fraction(),
                          sampler, rng)

    def _resolve(self, parts: Sequence[str]) -> tuple[str, ...]:
        """The named parts with `boundary` expanded; unknown names raise ValueError listing the valid ones."""
        parts, valid = ((parts,) if isinstance(parts, str) else tuple(parts)), ("boundary",) + self.parts
        if not parts:
            raise ValueError(f"no boundary parts given (valid: {', '.join(valid)})")
        for part in parts:
            if part not in valid:
                raise ValueError(f"unknown boundary part {part!r} (valid: {', '.join(valid)})")
        return tuple(p for p in self.parts if p in parts or "boundary" in parts)

    def boundary_draw(self, n: int, parts: Sequence[str], sampler: str, rng: np.random.Generator,
                      extra: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Points and normals on the parts, spread by measure, plus `extra` unit columns from the same draw."""
        _check_count(n)
        names = self._resolve(parts)
        pieces = []
        for part, k in zip(names, _split(n, [self._measure(p) for p in names])):
            if k:
                d = self._param_dim + extra
                u = sample_unit(k, d, sampler, rng) if d else np.empty((k, 0))
                pieces.append((*self._place(part, u[:, :self._param_dim]), u[:, self._param_dim:]))
        return tuple(np.concatenate(c) for c in zip(*pieces))

    def sample_boundary(self, n: int, parts: Sequence[str], sampler: str,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """n points on the named parts, spread by length/area, and their outward unit normals, both (n, dim)."""
        points, normals, _ = self.boundary_draw(n, parts, sampler, rng)
        return points, normals

    def inside(self, points: np.ndarray, tol: float = 1e-9) -> np.ndarray:
        """Whether each point lies in the closed domain, within `tol`."""
        p = self._points(points)
        return np.all((p >= self.lower - tol) & (p <= self.upper + tol), axis=1)

    def on_boundary(self, points: np.ndarray, parts: Sequence[str] = ("boundary",), tol: float = 1e-9) -> np.ndarray:
        """Whether each point lies, within `tol`, on one of the named parts."""
        p, names = self._points(points), self._resolve(parts)
        return np.any([self._distance(name, p) <= tol for name in names], axis=0) & self.inside(p, tol)

    def boundary_normal(self, points: np.ndarray) -> np.ndarray:
        """Outward unit normals (n, dim) of boundary points: those of the nearest part."""
        p = self._points(points)
        distances = np.stack([self._distance(name, p) for name in self.parts])
        normals = np.stack([self._normal(name, p) for name in self.parts])
        return normals[np.argmin(distances, axis=0), np.arange(len(p))]

    def __mul__(self, other: "TimeInterval") -> "SpaceTime":
        if not isinstance(other, TimeInterval):
            return NotImplemented
        return SpaceTime(self, other)


class Hyperrectangle(Domain):
    """Base of the axis-aligned boxes [lower, upper]; faces are the parts `face_names` (min, max per axis)."""

    face_names: tuple[str, ...] = ()

    def __init__(self, lower: Sequence[float], upper: Sequence[float]):
        name, dim = type(self).__name__, len(self.face_names) // 2
        self.lower, self.upper = np.asarray(lower, float).reshape(-1), np.asarray(upper, float).reshape(-1)
        if self.lower.shape != (dim,) or self.upper.shape != (dim,):
            raise ValueError(f"{name}: need {dim} lower and {dim} upper coordinates, "
                             f"got {self.lower.tolist()} and {self.upper.tolist()}")
        bad = np.flatnonzero(~(self.lower < self.upper) | ~np.isfinite(self.upper - self.lower))
        if bad.size:
            k = bad[0]
            raise ValueError(f"{name}: need finite lower < upper on every axis, axis {k} has "
                             f"{self.lower[k]} and {self.upper[k]}")
        self.dim, self.parts, self._param_dim = dim, self.face_names, dim - 1

    def _face(self, part: str) -> tuple[int, float, float]:
        """Axis, coordinate and outward normal sign of a face."""
        axis, side = divmod(self.parts.index(part), 2)
        return axis, (self.lower, self.upper)[side][axis], 2.0 * side - 1.0

    def _measure(self, part: str) -> float:
        axis, _, _ = self._face(part)
        return float(np.prod(np.delete(self.upper - self.lower, axis)))

    def _place(self, part: str, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        axis, value, _ = self._face(part)
        points = self.lower + np.insert(u, axis, 0.0, axis=1) * (self.upper - self.lower)
        points[:, axis] = value
        return points, self._normal(part, points)

    def _distance(self, part: str, points: np.ndarray) -> np.ndarray:
        axis, value, _ = self._face(part)
        return np.abs(points[:, axis] - value)

    def _normal(self, part: str, points: np.ndarray) -> np.ndarray:
        axis, _, sign = self._face(part)
        normals = np.zeros((len(points), self.dim))
        normals[:, axis] = sign
        return normals


class Interval(Hyperrectangle):
    """[a, b]; parts `left` (x = a, normal -1) and `right` (x = b, normal +1)."""

    face_names = ("left", "right")

    def __init__(self, a: float, b: float):
        super().__init__([a], [b])


class Rectangle(Hyperrectangle):
    """[x0, x1] x [y0, y1]; parts `left`, `right` (x = x0, x1), `bottom`, `top` (y = y0, y1)."""

    face_names = ("left", "right", "bottom", "top")

    def __init__(self, lower: Sequence[float], upper: Sequence[float]):
        super().__init__(lower, upper)


class Box(Hyperrectangle):
    """A 3D box; parts `left`/`right` (x = x0, x1), `front`/`back` (y = y0, y1), `bottom`/`top` (z = z0, z1)."""

    face_names = ("left", "right", "front", "back", "bottom", "top")

    def __init__(self, lower: Sequence[float], upper: Sequence[float]):
        super().__init__(lower, upper)


def _cross(u: np.ndarray, w: np.ndarray) -> np.ndarray:
    return u[..., 0] * w[..., 1] - u[..., 1] * w[..., 0]


def _segment_distance(a: np.ndarray, b: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Distance of each point to the segment from a to b."""
    s = np.clip((points - a) @ (b - a) / np.dot(b - a, b - a), 0.0, 1.0)
    return np.linalg.norm(points - (a + s[:, None] * (b - a)), axis=1)


def _check_simple(v: np.ndarray) -> None:
    """Raise ValueError unless the closed loop of vertices `v` bounds a simple polygon."""
    m, scale = len(v), float(np.ptp(v, axis=0).max())
    a, b = v, np.roll(v, -1, axis=0)
    short = np.flatnonzero(np.linalg.norm(b - a, axis=1) <= 1e-12 * scale)
    if short.size:
        raise ValueError(f"Polygon: edge {short[0]} has zero length (vertex {v[short[0]].tolist()} repeats)")
    if abs(0.5 * np.sum(_cross(a, b))) <= 1e-12 * scale**2:
        raise ValueError(f"Polygon: the vertices {v.tolist()} enclose no area")
    touching = np.stack([_segment_distance(a[i], b[i], v) <= 1e-9 * scale for i in range(m)])  # [edge, vertex]
    touching[np.arange(m), np.arange(m)] = touching[np.arange(m), (np.arange(m) + 1) % m] = False
    straddle = _cross((b - a)[:, None], a[None] - a[:, None]) * _cross((b - a)[:, None], b[None] - a[:, None]) < 0
    i, j = np.nonzero(touching)
    if i.size:
        raise ValueError(f"Polygon: vertex {j[0]} {v[j[0]].tolist()} lies on edge {i[0]}; the polygon must be simple")
    i, j = np.nonzero(straddle & straddle.T)
    if i.size:
        raise ValueError(f"Polygon: edges {i[0]} and {j[0]} cross; the polygon must be simple")


class Polygon(Domain):
    """A simple polygon; edge i runs from vertex i to i+1 and is the part `edge_names[i]` (default `edge<i>`).

    Vertices may run either way round (stored counter-clockwise). Several edges may share a name
    (`walls`); the part is then their union, sampled by arc length.
    """

    _param_dim = 1

    def __init__(self, vertices: Sequence[Sequence[float]], edge_names: Optional[Sequence[str]] = None):
        v = np.asarray(vertices, float)
        if v.ndim != 2 or v.shape[1] != 2 or len(v) < 3 or not np.all(np.isfinite(v)):
            raise ValueError(f"Polygon: need at least 3 finite vertices (x, y), got {np.asarray(vertices).tolist()}")
        names = tuple(edge_names) if edge_names is not None else tuple(f"edge{i}" for i in range(len(v)))
        if len(names) != len(v):
            raise ValueError(f"Polygon: {len(v)} edges but {len(names)} edge names {list(names)}")
        if "boundary" in names:
            raise ValueError("Polygon: 'boundary' is reserved for the whole boundary; name the edges otherwise")
        _check_simple(v)
        self.parts = tuple(dict.fromkeys(names))
        if np.sum(_cross(v, np.roll(v, -1, axis=0))) < 0:  # clockwise: reverse, keeping each name on its edge
            v, names = v[::-1], names[-2::-1] + names[-1:]
        self.vertices, self.edge_names = v, names
        self.dim, self.lower, self.upper = 2, v.min(axis=0), v.max(axis=0)
        self.area = 0.5 * float(np.sum(_cross(v, np.roll(v, -1, axis=0))))
        tangents = np.roll(v, -1, axis=0) - v
        self._lengths = np.linalg.norm(tangents, axis=1)
        self._normals = np.stack([tangents[:, 1], -tangents[:, 0]], axis=1) / self._lengths[:, None]  # right of CCW

    def box_fraction(self) -> float:
        return self.area / float(np.prod(self.upper - self.lower))

    def _edges(self, part: str) -> np.ndarray:
        return np.array([i for i, name in enumerate(self.edge_names) if name == part])

    def _edge_distances(self, edges: np.ndarray, points: np.ndarray) -> np.ndarray:
        """Distances (len(edges), n) of the points to the given edges."""
        ends = np.roll(self.vertices, -1, axis=0)
        return np.stack([_segment_distance(self.vertices[i], ends[i], points) for i in edges])

    def _measure(self, part: str) -> float:
        return float(self._lengths[self._edges(part)].sum())

    def _place(self, part: str, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Points at arc-length fractions u[:, 0] along the part's edges, in order."""
        edges = self._edges(part)
        starts = np.concatenate([[0.0], np.cumsum(self._lengths[edges])])
        s = u[:, 0] * starts[-1]
        k = np.clip(np.searchsorted(starts, s, side="right") - 1, 0, len(edges) - 1)
        e = edges[k]
        along = ((s - starts[k]) / self._lengths[e])[:, None]
        points = self.vertices[e] + along * (np.roll(self.vertices, -1, axis=0)[e] - self.vertices[e])
        return points, self._normals[e]

    def _distance(self, part: str, points: np.ndarray) -> np.ndarray:
        return self._edge_distances(self._edges(part), points).min(axis=0)

    def _normal(self, part: str, points: np.ndarray) -> np.ndarray:
        edges = self._edges(part)
        return self._normals[edges[np.argmin(self._edge_distances(edges, points), axis=0)]]

    def inside(self, points: np.ndarray, tol: float = 1e-9) -> np.ndarray:
        """Even-odd ray casting, plus points within `tol` of an edge."""
        p = self._points(points)
        x, y = p[:, 0:1], p[:, 1:2]
        a, b = self.vertices, np.roll(self.vertices, -1, axis=0)
        crosses = (a[:, 1] > y) != (b[:, 1] > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_cross = a[:, 0] + (y - a[:, 1]) * (b[:, 0] - a[:, 0]) / (b[:, 1] - a[:, 1])
        odd = np.sum(crosses & (x < x_cross), axis=1) % 2 == 1
        return odd | (self._edge_distances(np.arange(len(a)), p).min(axis=0) <= tol)


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

    def boundary_normal(self, points: np.ndarray) -> np.ndarray:
        p = self._points(points)
        return np.hstack([self.spatial.boundary_normal(p[:, :-1]), np.zeros((len(p), 1))])


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

    def boundary_normal(self, points: np.ndarray) -> np.ndarray:
        at, _ = self._split_points(points, 0.0)
        return np.hstack([self.domain.boundary_normal(at), np.zeros((len(at), len(self.low)))])
