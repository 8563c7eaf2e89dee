"""Constructive solid geometry: union, intersection and difference of 2D or 3D domains, part names kept."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .base import Domain
from .distance import Piece
from .quadrature import along
from .sampling import rejection, sample_unit, split_counts
from .spacetime import Parametric, SpaceTime

SURVEY = 2**16  # Sobol points that estimate the box fraction and the surviving share of each operand part
GRID = 2**12    # samples along a 2D piece that find where a union cuts it, before bisection refines the ends


class _Source(NamedTuple):
    """An operand part's contribution to a part of the result."""

    index: int      # which operand
    part: str       # the operand's part
    flip: float     # -1 where the normals turn over (a subtracted shape), else +1
    share: float    # surviving share of the operand part's measure
    measure: float  # length/area that survives


def _survey(dim: int) -> np.ndarray:
    return sample_unit(SURVEY, dim, "sobol", np.random.default_rng(0))


class Combination(Domain):
    """Base of the set operations on two spatial domains of one dimension (2D or 3D).

    A point x of an operand part with outward normal n (turned over on a subtracted shape) lies on the
    result's boundary when the probes x - eps n and x + eps n fall inside and outside the result, eps
    1e-7 of the bounding box; where both operands' boundaries coincide, the first operand's copy counts
    (`_keeps`). Parts keep the operands' names, same names merging. A part's length/area is the operand
    part's times the share of 2^16 Sobol points on it that survive: exact when nothing cuts it, within a
    few 2^-16 of it otherwise (shares under 4 points count as cut away). Boundary points are drawn on the
    operand parts and rejected off the result's boundary, so they stay uniform in length/area. The distance
    to a part (`boundary_distance`) is exact on and near it, and infinite from points whose nearest operand
    part is cut away there.

    A distance function to a part uses the operands' pieces. A difference or intersection keeps cut pieces
    whole (their cut-away bits lie outside the domain, where phi = 0 does no harm). A union, which reaches
    past each operand, takes the pieces unsigned, trims 2D ones to the runs that survive on a 2^12-point grid
    along each (ends refined by bisection) and refuses 3D pieces it cuts.

    A quadrature rule on a part is each operand part's own rule where nothing cuts it (a hole inside a
    plate: exact); in 2D, a cut part is integrated along the runs that survive, found as a union's pieces
    are (so to rounding). A 3D part another shape cuts has no rule (ValueError).
    """

    flip = 1.0            # sign of the second operand's normals on the result's boundary
    reaches_past = False  # whether the result reaches past an operand's boundary (a union does)

    def __init__(self, a: Domain, b: Domain):
        name = type(self).__name__
        for op in (a, b):
            if not (isinstance(op, Domain) and not isinstance(op, (SpaceTime, Parametric)) and op.dim in (2, 3)):
                raise ValueError(f"{name}: operands must be 2D or 3D spatial domains (take the product with a "
                                 f"TimeInterval after the set operations), got {type(op).__name__}")
        if a.dim != b.dim:
            raise ValueError(f"{name}: operands of dimensions {a.dim} and {b.dim}")
        self.operands, self.dim, self._param_dim = (a, b), a.dim, a.dim - 1
        self.lower, self.upper = self._bounds(a, b)
        self._probe = 1e-7 * float(np.max(np.maximum(a.upper, b.upper) - np.minimum(a.lower, b.lower)))
        inside = self.inside(self.lower + _survey(self.dim) * (self.upper - self.lower), tol=0.0)
        self._fraction = float(np.mean(inside))
        if self._fraction == 0.0:
            raise ValueError(f"{name}: the result is empty")
        self._sources: dict[str, list[_Source]] = {}
        for index, operand in enumerate(self.operands):
            for part in operand.parts:
                self._add_source(index, operand, part)
        self.parts = tuple(self._sources)

    def _bounds(self, a: Domain, b: Domain) -> tuple[np.ndarray, np.ndarray]:
        """The result's bounding box."""
        raise NotImplementedError

    def _keeps(self, index: int, inward: np.ndarray, outward: np.ndarray) -> np.ndarray:
        """Whether points of operand `index` with probes `inward` and `outward` lie on the result's boundary."""
        raise NotImplementedError

    def _survives(self, index: int, points: np.ndarray, normals: np.ndarray) -> np.ndarray:
        return self._keeps(index, points - self._probe * normals, points + self._probe * normals)

    def _add_source(self, index: int, operand: Domain, part: str) -> None:
        """Survey how much of an operand part survives; keep it as a source of the part of its name if any does."""
        flip = self.flip if index else 1.0
        points, normals, _ = operand.boundary_draw(SURVEY, (part,), "sobol", np.random.default_rng(0))
        share = float(np.mean(self._survives(index, points, flip * normals)))
        if share * SURVEY >= 4:
            source = _Source(index, part, flip, share, share * operand.measure((part,)))
            self._sources.setdefault(part, []).append(source)

    def box_fraction(self) -> float:
        """Share of the bounding box inside, estimated from 2^16 Sobol points."""
        return self._fraction

    def _measure(self, part: str) -> float:
        return sum(source.measure for source in self._sources[part])

    def _draw(self, part: str, k: int, sampler: str, rng: np.random.Generator,
              extra: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        sources = self._sources[part]
        counts = split_counts(k, [source.measure for source in sources])
        drawn = [self._draw_source(source, count, sampler, rng, extra) for source, count in zip(sources, counts)
                 if count]
        return tuple(np.concatenate(c) for c in zip(*drawn))

    def _draw_source(self, source: _Source, k: int, sampler: str, rng: np.random.Generator,
                     extra: int) -> tuple[np.ndarray, ...]:
        """k points on the surviving bits of one operand part: drawn on all of it, kept where they survive."""
        operand = self.operands[source.index]

        def draw(batch: int) -> tuple[np.ndarray, ...]:
            points, normals, u = operand.boundary_draw(batch, (source.part,), sampler, rng, extra)
            return points, source.flip * normals, u

        return rejection(k, draw, lambda p, n, u: self._survives(source.index, p, n), source.share)

    def _nearest(self, part: str, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distance of each point to the part (inf where the nearest operand part is cut away at the point)
        and the nearest operand part's normals."""
        distances, normals = [], []
        for source in self._sources[part]:
            operand = self.operands[source.index]
            normal = source.flip * operand.boundary_normal(points, (source.part,))
            distance = operand.boundary_distance(points, (source.part,))
            distances.append(np.where(self._survives(source.index, points, normal), distance, np.inf))
            normals.append(normal)
        return np.min(distances, axis=0), np.stack(normals)[np.argmin(distances, axis=0), np.arange(len(points))]

    def _distance(self, part: str, points: np.ndarray) -> np.ndarray:
        return self._nearest(part, points)[0]

    def _normal(self, part: str, points: np.ndarray) -> np.ndarray:
        return self._nearest(part, points)[1]

    def _pieces(self, part: str) -> list[Piece]:
        pieces = []
        for source in self._sources[part]:
            own = self.operands[source.index].boundary_pieces((source.part,))
            if source.flip < 0:
                own = [piece.flipped() for piece in own]
            if self.reaches_past:
                own = [bit for piece in own for bit in self._trim(source, piece.unsigned())]
            pieces += own
        return pieces

    def _quadrature(self, part: str, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rules = []
        for source in self._sources[part]:
            operand = self.operands[source.index]
            if source.share == 1.0:
                points, normals, weights = operand.quadrature((source.part,), n)
            elif self.dim == 2:
                points, weights = along(self._cut(source), n)
                normals = operand.boundary_normal(points, (source.part,))
            else:
                raise ValueError(f"{type(self).__name__}: no quadrature rule on part {part!r}: another shape cuts "
                                 f"it, and only uncut 3D parts are integrated exactly")
            rules.append((points, source.flip * normals, weights))
        return tuple(np.concatenate(column) for column in zip(*rules))

    def _curves(self, part: str) -> list[Piece]:
        return [curve for source in self._sources[part] for curve in self._cut(source)]

    def _cut(self, source: _Source) -> list[Piece]:
        """The 2D curves of an operand part that survive on the result's boundary."""
        curves = self.operands[source.index].boundary_curves((source.part,))
        return [bit for curve in curves for bit in self._trim(source, curve)]

    def _trim(self, source: _Source, piece: Piece) -> list[Piece]:
        """The sub-pieces of a 2D piece on the result's boundary: runs of survivors on a grid along it, their
        ends refined by bisection (the piece itself where its operand part survives whole)."""
        if source.share == 1.0:
            return [piece]
        if self.dim != 2:
            raise ValueError(f"{type(self).__name__}: no distance function to 3D parts a union cuts "
                             f"(part {source.part!r})")
        operand = self.operands[source.index]

        def survives(s: np.ndarray) -> np.ndarray:
            points = piece.at(s)
            return self._survives(source.index, points, source.flip * operand.boundary_normal(points, (source.part,)))

        s = np.linspace(0.0, 1.0, GRID + 1)
        kept = survives(s)
        change = np.flatnonzero(kept[1:] != kept[:-1])
        if not change.size:
            return [piece] if kept[0] else []
        lo, hi = s[change], s[change + 1]
        for _ in range(40):
            mid = (lo + hi) / 2
            same = survives(mid) == kept[change]
            lo, hi = np.where(same, mid, lo), np.where(same, hi, mid)
        ends = np.concatenate([[0.0], (lo + hi) / 2, [1.0]])
        runs = [(ends[i], ends[i + 1]) for i in range(len(ends) - 1) if kept[0] != (i % 2 == 1)]
        if piece.closed and kept[0] and kept[-1]:  # the first and last runs meet across s = 0
            runs = [(runs[-1][0], 1.0 + runs[0][1])] + runs[1:-1]
        return [piece.sub(s0, s1) for s0, s1 in runs]


class Union(Combination):
    """a | b: the points of either domain; the boundary is each one's boundary outside the other."""

    reaches_past = True

    def _bounds(self, a: Domain, b: Domain) -> tuple[np.ndarray, np.ndarray]:
        return np.minimum(a.lower, b.lower), np.maximum(a.upper, b.upper)

    def inside(self, points: np.ndarray, tol: float = 1e-9) -> np.ndarray:
        a, b = self.operands
        return a.inside(points, tol) | b.inside(points, tol)

    def _keeps(self, index: int, inward: np.ndarray, outward: np.ndarray) -> np.ndarray:
        other = self.operands[1 - index]
        kept = ~other.inside(outward, 0.0)
        return kept & ~other.inside(inward, 0.0) if index else kept


class Intersection(Combination):
    """a & b: the points of both domains; the boundary is each one's boundary inside the other."""

    def _bounds(self, a: Domain, b: Domain) -> tuple[np.ndarray, np.ndarray]:
        lower, upper = np.maximum(a.lower, b.lower), np.minimum(a.upper, b.upper)
        if np.any(lower >= upper):
            raise ValueError("Intersection: the result is empty (the bounding boxes do not overlap)")
        return lower, upper

    def inside(self, points: np.ndarray, tol: float = 1e-9) -> np.ndarray:
        a, b = self.operands
        return a.inside(points, tol) & b.inside(points, tol)

    def _keeps(self, index: int, inward: np.ndarray, outward: np.ndarray) -> np.ndarray:
        other = self.operands[1 - index]
        kept = other.inside(inward, 0.0)
        return kept & other.inside(outward, 0.0) if index else kept


class Difference(Combination):
    """a - b: the points of a not inside b (b's boundary stays); the boundary is a's outside b and b's inside
    a, whose normals turn over to point into b."""

    flip = -1.0

    def _bounds(self, a: Domain, b: Domain) -> tuple[np.ndarray, np.ndarray]:
        return a.lower, a.upper

    def inside(self, points: np.ndarray, tol: float = 1e-9) -> np.ndarray:
        a, b = self.operands
        return a.inside(points, tol) & ~(b.inside(points, 0.0) & ~b.on_boundary(points, tol=tol))

    def _keeps(self, index: int, inward: np.ndarray, outward: np.ndarray) -> np.ndarray:
        a, b = self.operands
        if index:
            return a.inside(inward, 0.0) & a.inside(outward, 0.0)
        return ~b.inside(inward, 0.0)
