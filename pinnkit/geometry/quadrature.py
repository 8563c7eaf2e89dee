"""Quadrature rules on boundary parts: nodes and weights whose weighted sums integrate over a part.

Straight pieces get Gauss-Legendre rules (n nodes integrate polynomials of degree 2n - 1 exactly), whole
circles the trapezoid rule in angle (spectrally accurate for smooth integrands, which are periodic there),
arcs Gauss-Legendre in angle, the faces of a box tensor Gauss-Legendre rules and spheres a product rule
(Gauss-Legendre in z, trapezoid in azimuth: exact for polynomials of degree 2m - 1 with m nodes in z).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .distance import Piece


def gauss(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The n-point Gauss-Legendre rule on [0, 1]: nodes (n,) and weights (n,) summing to 1."""
    nodes, weights = np.polynomial.legendre.leggauss(n)
    return (nodes + 1) / 2, weights / 2


def periodic(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The n-point trapezoid rule on the circle [0, 1): nodes k / n and weights 1 / n."""
    return np.arange(n) / n, np.full(n, 1.0 / n)


def per_axis(n: int, axes: int) -> int:
    """Nodes per axis of a tensor rule of about n nodes (at least n) on `axes` axes."""
    return max(1, math.ceil(n ** (1 / axes) - 1e-9)) if axes else 1


def along(curves: Sequence[Piece], n: int) -> tuple[np.ndarray, np.ndarray]:
    """n nodes on each 2D curve (a segment, face, arc or circle: `at(s)` at constant speed, `length`): the
    trapezoid rule on a closed curve, Gauss-Legendre otherwise. Points (m, 2) and weights (m,)."""
    points, weights = [], []
    for curve in curves:
        s, w = periodic(n) if curve.closed else gauss(n)
        points.append(curve.at(s))
        weights.append(w * curve.length)
    return np.concatenate(points), np.concatenate(weights)


def box_face(lower: np.ndarray, upper: np.ndarray, axis: int, value: float,
             n: int) -> tuple[np.ndarray, np.ndarray]:
    """A tensor Gauss-Legendre rule of about n nodes on the face x[axis] = value of the box [lower, upper]
    (one node of weight 1 in 1D, where a face is a point). Points (m, d) and weights (m,)."""
    others = [j for j in range(len(lower)) if j != axis]
    s, w = gauss(per_axis(n, len(others)))
    nodes = np.stack([g.reshape(-1) for g in np.meshgrid(*([s] * len(others)), indexing="ij")], axis=1) \
        if others else np.empty((1, 0))
    weights = np.prod(np.stack([g.reshape(-1) for g in np.meshgrid(*([w] * len(others)), indexing="ij")], axis=1),
                      axis=1) if others else np.ones(1)
    points = np.empty((len(nodes), len(lower)))
    points[:, others] = lower[others] + nodes * (upper - lower)[others]
    points[:, axis] = value
    return points, weights * float(np.prod((upper - lower)[others]))


def sphere(n: int) -> tuple[np.ndarray, np.ndarray]:
    """A product rule of about n nodes on the unit sphere: m Gauss-Legendre nodes in z times 2m trapezoid
    nodes in azimuth, m = ceil(sqrt(n / 2)). Unit directions (2 m^2, 3) and weights summing to 4 pi."""
    m = max(1, math.ceil(math.sqrt(n / 2) - 1e-9))
    s, w = gauss(m)
    t, v = periodic(2 * m)
    z, azimuth = np.meshgrid(2 * s - 1, 2 * np.pi * t, indexing="ij")
    ring = np.sqrt(1 - z**2)
    directions = np.stack([ring * np.cos(azimuth), ring * np.sin(azimuth), z], axis=-1).reshape(-1, 3)
    return directions, (np.outer(2 * w, 2 * np.pi * v)).reshape(-1)
