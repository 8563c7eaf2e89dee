"""The Domain contract (a closed region with named boundary parts) and renaming of parts."""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from .distance import DistanceFunction, Piece
from .quadrature import along
from .sampling import check_count, rejection, sample_unit, split_counts

if TYPE_CHECKING:
    from .csg import Difference, Intersection, Union
    from .spacetime import SpaceTime, TimeInterval


class Domain:
    """Base: a closed region with named boundary parts.

    A spatial subclass sets `dim`, `parts`, `lower`, `upper` (its bounding box) and `_param_dim` (unit
    coordinates that place a point on a part), and defines per part `_measure`, `_distance`, `_normal`,
    `_pieces` (the primitives an approximate distance function is built from) and either `_place` (a part
    as a map of unit coordinates) or `_draw` (for parts sampled otherwise, e.g. by rejection). A 2D part is
    integrated along its `_curves` (its pieces, unless a shape cuts them); other shapes define `_quadrature`.
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
        check_count(n)

        def box(k: int) -> np.ndarray:
            return self.lower + sample_unit(k, self.dim, sampler, rng) * (self.upper - self.lower)

        if self.box_fraction() == 1.0:
            return box(n)
        return rejection(n, lambda k: (box(k),), lambda p: self.inside(p, tol=0.0), self.box_fraction())[0]

    def _resolve(self, parts: Sequence[str]) -> tuple[str, ...]:
        """The named parts with `boundary` expanded; unknown names raise ValueError listing the valid ones."""
        parts, valid = ((parts,) if isinstance(parts, str) else tuple(parts)), ("boundary",) + self.parts
        if not parts:
            raise ValueError(f"no boundary parts given (valid: {', '.join(valid)})")
        for part in parts:
            if part not in valid:
                raise ValueError(f"unknown boundary part {part!r} (valid: {', '.join(valid)})")
        return tuple(p for p in self.parts if p in parts or "boundary" in parts)

    def measure(self, parts: Sequence[str] = ("boundary",)) -> float:
        """Total length (2D) or area (3D) of the named parts; a count of end points in 1D."""
        return float(sum(self._measure(part) for part in self._resolve(parts)))

    def _draw(self, part: str, k: int, sampler: str, rng: np.random.Generator,
              extra: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """k points and normals on one part, and `extra` unit columns, from one joint draw."""
        d = self._param_dim + extra
        u = sample_unit(k, d, sampler, rng) if d else np.empty((k, 0))
        return (*self._place(part, u[:, :self._param_dim]), u[:, self._param_dim:])

    def boundary_draw(self, n: int, parts: Sequence[str], sampler: str, rng: np.random.Generator,
                      extra: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Points and normals on the parts, spread by measure, plus `extra` unit columns from the same draw."""
        check_count(n)
        names = self._resolve(parts)
        counts = split_counts(n, [self._measure(p) for p in names])
        drawn = [self._draw(part, k, sampler, rng, extra) for part, k in zip(names, counts) if k]
        return tuple(np.concatenate(c) for c in zip(*drawn))

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
        return (self.boundary_distance(points, parts) <= tol) & self.inside(points, tol)

    def boundary_distance(self, points: np.ndarray, parts: Sequence[str] = ("boundary",)) -> np.ndarray:
        """Distance (n,) of each point to the nearest of the named parts."""
        p = self._points(points)
        return np.min([self._distance(name, p) for name in self._resolve(parts)], axis=0)

    def boundary_normal(self, points: np.ndarray, parts: Sequence[str] = ("boundary",)) -> np.ndarray:
        """Outward unit normals (n, dim) of boundary points: those of the nearest of the named parts."""
        p, names = self._points(points), self._resolve(parts)
        distances = np.stack([self._distance(name, p) for name in names])
        normals = np.stack([self._normal(name, p) for name in names])
        return normals[np.argmin(distances, axis=0), np.arange(len(p))]

    def signed_distance(self, points: np.ndarray) -> np.ndarray:
        """Exact signed distance (n,) to the boundary, negative inside; only shapes where it is exact have one."""
        raise NotImplementedError(f"{type(self).__name__} has no exact signed distance; "
                                  "distance_function() gives an approximate one")

    def boundary_pieces(self, parts: Sequence[str] = ("boundary",)) -> list[Piece]:
        """The primitives (segments, faces, spheres, arcs) the named parts are made of."""
        return [piece for part in self._resolve(parts) for piece in self._pieces(part)]

    def distance_function(self, parts: Sequence[str] = ("boundary",), m: float = 2.0) -> DistanceFunction:
        """An approximate distance phi(x) to the named parts: exactly 0 on them, positive inside, smooth there
        and normalized (d phi / d inward normal = 1 on the parts); for exact Dirichlet conditions through an
        output transform, u = g + phi * net (Sukumar & Srivastava 2022)."""
        return DistanceFunction(self.boundary_pieces(parts), m)

    def quadrature(self, parts: Sequence[str] = ("boundary",), n: int = 64) -> tuple[np.ndarray, np.ndarray,
                                                                                      np.ndarray]:
        """Nodes (m, dim), their outward unit normals (m, dim) and weights (m,) such that sum_i w_i f(x_i)
        integrates f over the named parts (the weights sum to their length or area): what an integral over a
        part is computed with (a force on a wall), rather than random points. `n` nodes on each straight
        edge, arc or circle; about n on each face or sphere (`geometry.quadrature` gives the rules).
        ValueError for a part it cannot integrate exactly (a 3D part another shape cuts)."""
        if not n > 0:
            raise ValueError(f"quadrature: need n > 0 nodes, got {n}")
        rules = [self._quadrature(part, int(n)) for part in self._resolve(parts)]
        return tuple(np.concatenate(column) for column in zip(*rules))

    def _quadrature(self, part: str, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The rule on one part: along the curves it is made of, in 2D."""
        if self.dim != 2:
            raise ValueError(f"{type(self).__name__}: no quadrature rule on the {self.dim}D part {part!r}")
        points, weights = along(self._curves(part), n)
        return points, self._normal(part, points), weights

    def boundary_curves(self, parts: Sequence[str] = ("boundary",)) -> list[Piece]:
        """The 2D pieces (segments, faces, arcs, circles) that make up exactly the named parts."""
        return [curve for part in self._resolve(parts) for curve in self._curves(part)]

    def _curves(self, part: str) -> list[Piece]:
        """The curves of a primitive shape's part: its pieces."""
        return self._pieces(part)

    def renamed(self, **names: str) -> Domain:
        """The same domain with parts renamed (`left="inlet"`); parts given the same name merge into one."""
        return Renamed(self, names)

    def __or__(self, other: Domain) -> Union:
        from .csg import Union
        return Union(self, other)

    def __and__(self, other: Domain) -> Intersection:
        from .csg import Intersection
        return Intersection(self, other)

    def __sub__(self, other: Domain) -> Difference:
        from .csg import Difference
        return Difference(self, other)

    def __mul__(self, other: TimeInterval) -> SpaceTime:
        from .spacetime import SpaceTime, TimeInterval
        if not isinstance(other, TimeInterval):
            return NotImplemented
        return SpaceTime(self, other)


class Renamed(Domain):
    """A domain whose parts carry new names; a new part is the union of the old parts mapped to it."""

    def __init__(self, domain: Domain, names: dict[str, str]):
        unknown = [old for old in names if old not in domain.parts]
        if unknown:
            raise ValueError(f"renamed: unknown boundary part {unknown[0]!r} (valid: {', '.join(domain.parts)})")
        if "boundary" in names.values():
            raise ValueError("renamed: 'boundary' is reserved for the whole boundary; name the parts otherwise")
        new = [names.get(old, old) for old in domain.parts]
        self.domain, self.parts = domain, tuple(dict.fromkeys(new))
        self._old = {part: tuple(old for old, n in zip(domain.parts, new) if n == part) for part in self.parts}
        self.dim, self.lower, self.upper = domain.dim, domain.lower, domain.upper

    def box_fraction(self) -> float:
        return self.domain.box_fraction()

    def sample_interior(self, n: int, sampler: str, rng: np.random.Generator) -> np.ndarray:
        return self.domain.sample_interior(n, sampler, rng)

    def inside(self, points: np.ndarray, tol: float = 1e-9) -> np.ndarray:
        return self.domain.inside(points, tol)

    def signed_distance(self, points: np.ndarray) -> np.ndarray:
        return self.domain.signed_distance(points)

    def _measure(self, part: str) -> float:
        return self.domain.measure(self._old[part])

    def _draw(self, part: str, k: int, sampler: str, rng: np.random.Generator,
              extra: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.domain.boundary_draw(k, self._old[part], sampler, rng, extra)

    def _distance(self, part: str, points: np.ndarray) -> np.ndarray:
        return self.domain.boundary_distance(points, self._old[part])

    def _normal(self, part: str, points: np.ndarray) -> np.ndarray:
        return self.domain.boundary_normal(points, self._old[part])

    def _pieces(self, part: str) -> list[Piece]:
        return self.domain.boundary_pieces(self._old[part])

    def _curves(self, part: str) -> list[Piece]:
        return self.domain.boundary_curves(self._old[part])

    def _quadrature(self, part: str, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.domain.quadrature(self._old[part], n)
