"""Axis-aligned boxes: Interval, Rectangle, Box; each face is a named part."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .base import Domain
from .distance import Face, Piece
from .quadrature import box_face


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

    def _pieces(self, part: str) -> list[Piece]:
        axis, value, sign = self._face(part)
        return [Face(axis, float(value), -sign, self.lower, self.upper)]

    def _quadrature(self, part: str, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Tensor Gauss-Legendre on the face (the end point itself in 1D)."""
        axis, value, _ = self._face(part)
        points, weights = box_face(self.lower, self.upper, axis, value, n)
        return points, self._normal(part, points), weights

    def signed_distance(self, points: np.ndarray) -> np.ndarray:
        """Exact signed distance to the box's surface, negative inside."""
        q = np.abs(self._points(points) - (self.lower + self.upper) / 2) - (self.upper - self.lower) / 2
        return np.linalg.norm(np.maximum(q, 0.0), axis=1) + np.minimum(q.max(axis=1), 0.0)


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
