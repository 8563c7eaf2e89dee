"""Simple polygons whose edges (or groups of edges) are named parts."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from .base import Domain
from .distance import Piece, Segment


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

    def signed_distance(self, points: np.ndarray) -> np.ndarray:
        """Exact signed distance to the edges, negative inside."""
        p = self._points(points)
        distance = self._edge_distances(np.arange(len(self.vertices)), p).min(axis=0)
        return np.where(self.inside(p, tol=0.0), -distance, distance)

    def _pieces(self, part: str) -> list[Piece]:
        ends = np.roll(self.vertices, -1, axis=0)
        return [Segment(self.vertices[i], ends[i]) for i in self._edges(part)]
