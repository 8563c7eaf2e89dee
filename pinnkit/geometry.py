"""TEMPORARY minimal geometry (Interval x TimeInterval) until the full module lands."""
from __future__ import annotations

import numpy as np
from scipy.stats import qmc

SAMPLERS = ("uniform", "lhs", "sobol")


def sample_unit(n, dim, sampler, rng):
    seed = int(rng.integers(2**32))
    if sampler == "uniform":
        return np.random.default_rng(seed).random((n, dim))
    if sampler == "lhs":
        return qmc.LatinHypercube(d=dim, seed=seed).random(n)
    m = int(np.ceil(np.log2(max(n, 2))))
    return qmc.Sobol(d=dim, seed=seed).random_base2(m)[:n]


class Interval:
    def __init__(self, a, b):
        self.a, self.b = float(a), float(b)
        self.dim, self.parts = 1, ("left", "right")
        self.lower, self.upper = np.array([a], float), np.array([b], float)

    def __mul__(self, other):
        return SpaceTime(self, other)


class TimeInterval:
    def __init__(self, t0, t1):
        self.t0, self.t1 = float(t0), float(t1)


class SpaceTime:
    def __init__(self, spatial, time):
        self.spatial, self.time = spatial, time
        self.dim, self.parts = 2, spatial.parts
        self.lower = np.array([spatial.a, time.t0]); self.upper = np.array([spatial.b, time.t1])

    def sample_interior(self, n, sampler, rng):
        return self.lower + sample_unit(n, 2, sampler, rng) * (self.upper - self.lower)

    def sample_boundary(self, n, parts, sampler, rng):
        parts = self.parts if "boundary" in parts else parts
        u = sample_unit(n, 1, sampler, rng)[:, 0]
        side = np.arange(n) % len(parts)
        x = np.array([self.spatial.a if parts[s] == "left" else self.spatial.b for s in side])
        pts = np.stack([x, self.time.t0 + u * (self.time.t1 - self.time.t0)], 1)
        normals = np.stack([np.where(x == self.spatial.a, -1.0, 1.0), np.zeros(n)], 1)
        return pts, normals

    def sample_initial(self, n, sampler, rng):
        u = sample_unit(n, 1, sampler, rng)[:, 0]
        return np.stack([self.spatial.a + u * (self.spatial.b - self.spatial.a), np.full(n, self.time.t0)], 1)

    def inside(self, pts):
        return np.all((pts >= self.lower - 1e-12) & (pts <= self.upper + 1e-12), axis=1)


Rectangle = Box = Polygon = None
