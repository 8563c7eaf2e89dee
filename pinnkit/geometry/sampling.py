"""Unit draws by a named sampler, counts split by measure, and rejection sampling over them."""
from __future__ import annotations

from typing import Callable, Sequence

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


def check_count(n: int) -> None:
    """Raise ValueError unless n is a positive number of points."""
    if not n > 0:
        raise ValueError(f"number of points must be positive, got {n}")


def sample_unit(n: int, dim: int, sampler: str, rng: np.random.Generator) -> np.ndarray:
    """n points in [0, 1)^dim by the named sampler, seeded from `rng` (deterministic given it)."""
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r} (valid: {', '.join(SAMPLERS)})")
    check_count(n)
    return SAMPLERS[sampler](int(n), dim, int(rng.integers(2**32)))


def split_counts(n: int, measures: Sequence[float]) -> np.ndarray:
    """n split into integer counts proportional to `measures` (largest remainders), summing to n."""
    share = np.asarray(measures, float) / np.sum(measures) * n
    counts = np.floor(share).astype(int)
    counts[np.argsort(counts - share, kind="stable")[: n - counts.sum()]] += 1
    return counts


def rejection(n: int, draw: Callable[[int], tuple[np.ndarray, ...]], accept: Callable[..., np.ndarray],
              fraction: float) -> tuple[np.ndarray, ...]:
    """The first n rows of `draw(batch)` (row-aligned arrays) that pass `accept(*arrays)`, drawn in batches
    sized by the share `fraction` expected to pass."""
    kept, count = [], 0
    while count < n:
        arrays = draw(int(1.2 * (n - count) / fraction) + 16)
        mask = accept(*arrays)
        kept.append(tuple(a[mask] for a in arrays))
        count += int(mask.sum())
    return tuple(np.concatenate(column)[:n] for column in zip(*kept))
