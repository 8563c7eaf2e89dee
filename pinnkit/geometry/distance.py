"""Approximate distance functions (ADFs) to boundary pieces, for exact Dirichlet conditions.

After Sukumar & Srivastava, "Exact imposition of boundary conditions with distance functions in
physics-informed deep neural networks", CMAME 389 (2022): each piece has an ADF that is exactly 0 on it,
positive on the domain side and normalized (unit gradient on the piece); a straight piece or an arc is
its curve's ADF trimmed to the piece, and the pieces join by R-equivalence, which keeps both properties.
Torch operations only, so autograd and forward mode (`torch.func.jvp`) carry through, in the input's
dtype and on its device.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import torch


def _sqrt(z: torch.Tensor) -> torch.Tensor:
    """sqrt(z) for z >= 0, with derivative 0 instead of infinity (and NaN downstream) at z = 0."""
    positive = z > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, z, torch.ones_like(z))), torch.zeros_like(z))


def _trimmed(f: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The ADF to the part of the zero set of f where t >= 0 (f, t normalized): sqrt(f^2 + ((psi - t) / 2)^2)
    with psi = sqrt(t^2 + f^4); it equals |f| near the piece and |t| on the zero set of f away from it."""
    psi = _sqrt(t**2 + f**4)
    return _sqrt(f**2 + ((psi - t) / 2) ** 2)


def _conjunction(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """R-conjunction: >= 0 exactly where both are."""
    return a + b - _sqrt(a**2 + b**2)


def _join(a: torch.Tensor, b: torch.Tensor, m: float) -> torch.Tensor:
    """R-equivalence a b / (|a|^m + |b|^m)^(1/m): zero where either is, with the nonzero one's normalization."""
    total = a.abs() ** m + b.abs() ** m
    positive = total > 0
    norm = torch.where(positive, total, torch.ones_like(total)) ** (1 / m)
    return torch.where(positive, a * b / norm, torch.zeros_like(total))


def _const(x: torch.Tensor, value: np.ndarray) -> torch.Tensor:
    """A constant in x's dtype and device, built from Python floats (torch.compile traces those as constants;
    a NumPy array would become a graph input that breaks its guards under forward mode)."""
    return torch.tensor(np.asarray(value, dtype=float).tolist(), dtype=x.dtype, device=x.device)


def _angle(theta: np.ndarray) -> np.ndarray:
    return np.stack([np.cos(theta), np.sin(theta)], axis=-1)


class Piece:
    """A primitive of a boundary part: `piece(x)` is its ADF (N,) at points x (N, >= d), read from the first d
    columns. Pieces of 2D parts also give points `at(s)` for s in [0, 1] (at constant speed), their `length`
    and the sub-piece `sub(s0, s1)`."""

    closed = False  # whether at(0) == at(1), so a sub-piece may wrap past s = 1

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def flipped(self) -> Piece:
        """The piece with the domain on its other side (a hole's boundary); unsigned ADFs stay the same."""
        return self

    def unsigned(self) -> Piece:
        """The piece with an ADF positive on both sides, for a domain that reaches past it (a union's)."""
        return self


@dataclass(frozen=True, eq=False)
class Segment(Piece):
    """The straight segment from a to b (2D): distance to the line, trimmed by the disk with diameter ab."""

    a: np.ndarray
    b: np.ndarray

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        a, b, length = _const(x, self.a), _const(x, self.b), float(np.linalg.norm(self.b - self.a))
        rel, mid = x[:, :2] - a, x[:, :2] - (a + b) / 2
        f = (rel[:, 0] * (b - a)[1] - rel[:, 1] * (b - a)[0]) / length
        return _trimmed(f, ((length / 2) ** 2 - (mid**2).sum(dim=1)) / length)

    def at(self, s: np.ndarray) -> np.ndarray:
        return self.a + np.asarray(s)[:, None] * (self.b - self.a)

    @property
    def length(self) -> float:
        return float(np.linalg.norm(self.b - self.a))

    def sub(self, s0: float, s1: float) -> Segment:
        return Segment(*self.at(np.array([s0, s1])))


@dataclass(frozen=True, eq=False)
class Face(Piece):
    """The face x[axis] = value of the box [lower, upper], domain on the side sign * (x[axis] - value) > 0:
    distance to the plane trimmed by the slabs of the other axes (in 1D, the signed distance itself)."""

    axis: int
    value: float
    sign: float
    lower: np.ndarray
    upper: np.ndarray

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        f = float(self.sign) * (x[:, self.axis] - float(self.value))
        trims = [((h / 2) ** 2 - (x[:, j] - c) ** 2) / h for j, (c, h) in enumerate(
            zip(((self.lower + self.upper) / 2).tolist(), (self.upper - self.lower).tolist())) if j != self.axis]
        return _trimmed(f, functools.reduce(_conjunction, trims)) if trims else f

    def flipped(self) -> Face:
        return replace(self, sign=-self.sign)

    def at(self, s: np.ndarray) -> np.ndarray:
        """Points of a 2D face, s running along its other axis."""
        points = self.lower + np.asarray(s)[:, None] * (self.upper - self.lower)
        points[:, self.axis] = self.value
        return points

    @property
    def length(self) -> float:
        """The length of a 2D face."""
        return float(np.linalg.norm(np.delete(self.upper - self.lower, self.axis)))

    def sub(self, s0: float, s1: float) -> Face:
        ends = self.at(np.array([s0, s1]))
        return replace(self, lower=ends[0], upper=ends[1])


@dataclass(frozen=True, eq=False)
class Sphere(Piece):
    """The circle (2D) or sphere (3D) |x - center| = radius: sign * (radius^2 - |x - center|^2) / (2 radius),
    smooth and signed, domain inside for sign +1 and outside (a hole) for sign -1; its absolute value for
    sign 0."""

    center: np.ndarray
    radius: float
    sign: float
    closed = True

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        rel, radius = x[:, :len(self.center)] - _const(x, self.center), float(self.radius)
        f = (radius**2 - (rel**2).sum(dim=1)) / (2 * radius)
        return float(self.sign) * f if self.sign else _sqrt(f**2)

    def flipped(self) -> Sphere:
        return replace(self, sign=-self.sign)

    def unsigned(self) -> Sphere:
        return replace(self, sign=0.0)

    def at(self, s: np.ndarray) -> np.ndarray:
        return self.center + self.radius * _angle(2 * np.pi * np.asarray(s))

    @property
    def length(self) -> float:
        """The circumference of a circle."""
        return 2 * np.pi * self.radius

    def sub(self, s0: float, s1: float) -> Arc:
        return Arc(self.center, self.radius, 2 * np.pi * s0, 2 * np.pi * s1)


@dataclass(frozen=True, eq=False)
class Arc(Piece):
    """The arc of the circle |x - center| = radius from angle `start` to `stop` (counter-clockwise, 2D): the
    circle's ADF trimmed by the half-plane beyond the chord, which holds exactly the arc."""

    center: np.ndarray
    radius: float
    start: float
    stop: float

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        rel, radius = x[:, :2] - _const(x, self.center), float(self.radius)
        f = (radius**2 - (rel**2).sum(dim=1)) / (2 * radius)
        half, mid = (self.stop - self.start) / 2, _const(x, _angle((self.start + self.stop) / 2))
        return _trimmed(f, rel @ mid - radius * float(np.cos(half)))

    def at(self, s: np.ndarray) -> np.ndarray:
        return self.center + self.radius * _angle(self.start + np.asarray(s) * (self.stop - self.start))

    @property
    def length(self) -> float:
        return self.radius * (self.stop - self.start)

    def sub(self, s0: float, s1: float) -> Arc:
        span = self.stop - self.start
        return Arc(self.center, self.radius, self.start + s0 * span, self.start + s1 * span)


class DistanceFunction:
    """phi(x) (N,) at points x (N, d): the R-equivalence join of the pieces' ADFs, exactly 0 on every piece,
    positive inside the domain and normalized to first order there (`m` sets how fast the join forgets the
    farther pieces; higher m, more orders of normalization). Extra columns (time, parameters) are ignored."""

    def __init__(self, pieces: Sequence[Piece], m: float = 2.0):
        if not pieces:
            raise ValueError("DistanceFunction: no boundary pieces to measure the distance to")
        if not m >= 1:
            raise ValueError(f"DistanceFunction: need m >= 1, got {m}")
        self.pieces, self.m = tuple(pieces), float(m)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return functools.reduce(lambda a, b: _join(a, b, self.m), (piece(x) for piece in self.pieces))
