"""Round shapes: Disk, Annulus (2D) and Ball (3D), with exact radial normals and area-preserving draws."""
from __future__ import annotations

from math import gamma, pi
from typing import Sequence

import numpy as np

from .base import Domain
from .distance import Piece, Sphere
from .quadrature import sphere
from .sampling import check_count, sample_unit


def _directions(u: np.ndarray) -> np.ndarray:
    """Unit vectors uniform on the circle (u: n x 1) or sphere (u: n x 2; z uniform in [-1, 1] keeps area)."""
    angle = 2 * np.pi * u[:, -1]
    if u.shape[1] == 1:
        return np.stack([np.cos(angle), np.sin(angle)], axis=1)
    z = 1 - 2 * u[:, 0]
    ring = np.sqrt(np.maximum(1 - z**2, 0.0))
    return np.stack([ring * np.cos(angle), ring * np.sin(angle), z], axis=1)


class Round(Domain):
    """Base of the points whose distance to `center` lies in [inner, outer]: each sphere (circle in 2D) of a
    named radius is a part, with normals away from the center on the outer one and toward it on the inner."""

    def __init__(self, center: Sequence[float], inner: float, spheres: dict[str, tuple[float, float]], dim: int):
        name = type(self).__name__
        self.center = np.asarray(center, float).reshape(-1)
        if self.center.shape != (dim,) or not np.all(np.isfinite(self.center)):
            raise ValueError(f"{name}: need a finite center of {dim} coordinates, got {np.asarray(center).tolist()}")
        if "boundary" in spheres:
            raise ValueError(f"{name}: 'boundary' is reserved for the whole boundary; name the part otherwise")
        outer = next(radius for radius, sign in spheres.values() if sign > 0)
        if not (np.isfinite(outer) and 0 <= inner < outer):
            raise ValueError(f"{name}: need a finite radius > 0, got {outer}" if inner == 0 else
                             f"{name}: need finite radii 0 < inner < outer, got {inner} and {outer}")
        self.inner, self.outer, self._spheres = float(inner), float(outer), spheres
        self.dim, self.parts, self._param_dim = dim, tuple(spheres), dim - 1
        self.lower, self.upper = self.center - self.outer, self.center + self.outer

    def _radius(self, points: np.ndarray) -> np.ndarray:
        return np.linalg.norm(points - self.center, axis=1)

    def box_fraction(self) -> float:
        ball = pi ** (self.dim / 2) / gamma(self.dim / 2 + 1)  # volume of the unit ball
        return ball * (self.outer**self.dim - self.inner**self.dim) / (2 * self.outer) ** self.dim

    def sample_interior(self, n: int, sampler: str, rng: np.random.Generator) -> np.ndarray:
        """n points (n, dim), uniform in area/volume: radius^dim uniform between inner^dim and outer^dim."""
        check_count(n)
        u = sample_unit(n, self.dim, sampler, rng)
        radius = (self.inner**self.dim + u[:, 0] * (self.outer**self.dim - self.inner**self.dim)) ** (1 / self.dim)
        return self.center + radius[:, None] * _directions(u[:, 1:])

    def inside(self, points: np.ndarray, tol: float = 1e-9) -> np.ndarray:
        radius = self._radius(self._points(points))
        return (radius >= self.inner - tol) & (radius <= self.outer + tol)

    def signed_distance(self, points: np.ndarray) -> np.ndarray:
        """Exact signed distance to the spheres, negative inside."""
        radius = self._radius(self._points(points))
        outer = radius - self.outer
        return np.maximum(self.inner - radius, outer) if self.inner > 0 else outer

    def _measure(self, part: str) -> float:
        radius, _ = self._spheres[part]
        return (2 * pi if self.dim == 2 else 4 * pi) * radius ** (self.dim - 1)

    def _place(self, part: str, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        radius, sign = self._spheres[part]
        directions = _directions(u)
        return self.center + radius * directions, sign * directions

    def _distance(self, part: str, points: np.ndarray) -> np.ndarray:
        radius, _ = self._spheres[part]
        return np.abs(self._radius(points) - radius)

    def _normal(self, part: str, points: np.ndarray) -> np.ndarray:
        _, sign = self._spheres[part]
        rel = points - self.center
        return sign * rel / np.maximum(np.linalg.norm(rel, axis=1), np.finfo(float).tiny)[:, None]

    def _pieces(self, part: str) -> list[Piece]:
        radius, sign = self._spheres[part]
        return [Sphere(self.center, radius, sign)]

    def _quadrature(self, part: str, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The trapezoid rule in angle on a circle; on a sphere, the product rule of `quadrature.sphere`."""
        if self.dim == 2:
            return super()._quadrature(part, n)
        radius, sign = self._spheres[part]
        directions, weights = sphere(n)
        return self.center + radius * directions, sign * directions, weights * radius**2


class Disk(Round):
    """The disk |x - center| <= radius; its circle is the part `name`."""

    def __init__(self, center: Sequence[float], radius: float, name: str = "circle"):
        super().__init__(center, 0.0, {name: (radius, 1.0)}, dim=2)


class Ball(Round):
    """The 3D ball |x - center| <= radius; its sphere is the part `name`."""

    def __init__(self, center: Sequence[float], radius: float, name: str = "sphere"):
        super().__init__(center, 0.0, {name: (radius, 1.0)}, dim=3)


class Annulus(Round):
    """The ring inner <= |x - center| <= outer (2D); parts `inner` and `outer`."""

    def __init__(self, center: Sequence[float], inner: float, outer: float):
        if not inner > 0:
            raise ValueError(f"Annulus: need an inner radius > 0, got {inner} (a Disk has none)")
        super().__init__(center, inner, {"inner": (inner, -1.0), "outer": (outer, 1.0)}, dim=2)
