"""What a solve will need in memory, estimated from the config before anything is allocated.

The estimate is an upper bound of the largest pieces, in float64 (what build evaluates in): the network's
weights, the point sets, one evaluation of the residuals (the activations a forward jet keeps for its
backward pass: points x jet rows x width x depth, times a few tensors per layer), the evaluation grid and
its forward pass, and the RAD candidate pool. A config above `max_memory_gb` is refused in one line that
names the largest piece, so that `points.interior = 10**12` fails in a millisecond instead of in an
allocation of terabytes.
"""
from __future__ import annotations

from .config import Config, ConfigError

GiB = 2**30
FLOAT = 8  # bytes: build evaluates in float64
SAVED_PER_LAYER = 4  # tensors a jet layer keeps per row and unit (product, activation and its derivatives)


def estimate(config: Config, dims: int, fields: int) -> dict[str, int]:
    """Bytes of the large pieces of a solve with `dims` coordinates and `fields` outputs, by name."""
    m, p = config.model, config.points
    inputs = 2 * m.fourier_features if m.fourier_features else dims
    sizes = [inputs] + [m.width] * m.depth + [fields]
    rows = 1 + dims + dims * (dims + 1) // 2  # a jet's value, first and second derivative rows
    pool = max((ph.rad_pool for ph in config.phases if ph.resample_every and ph.resample == "rad"), default=1)
    return {
        "network": FLOAT * sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:])),
        "collocation points": FLOAT * dims * (p.interior + 4 * max(p.boundary, p.initial)),
        "one evaluation of the residuals": FLOAT * SAVED_PER_LAYER * p.interior * rows * m.width * max(m.depth, 1),
        "evaluation grid": FLOAT * p.evaluation * (dims + 2 * fields + 2 * m.width),
        "RAD candidates": FLOAT * dims * p.interior * pool,
    }


def check(config: Config, dims: int, fields: int) -> None:
    """Refuse, in one line, a config whose estimate exceeds `max_memory_gb`."""
    pieces = estimate(config, dims, fields)
    total = sum(pieces.values())
    if total > config.max_memory_gb * GiB:
        largest = max(pieces, key=pieces.get)
        raise ConfigError(f"max_memory_gb: this problem would need about {total / GiB:,.1f} GiB ({largest}: "
                          f"{pieces[largest] / GiB:,.1f} GiB), over max_memory_gb = {config.max_memory_gb:g}; "
                          f"use fewer points or a smaller network, or raise max_memory_gb if the machine has "
                          f"the memory")
