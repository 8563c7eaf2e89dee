"""Boundary, initial and data conditions: each samples its points and turns them into a residual.

A value is a number, a callable of the coordinate columns (in the problem's
coordinate order; for `Initial`, the spatial ones only), or a dict of those by
field name. Without `field`, a scalar or callable value applies to every field.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np
import torch

from .operators import Derivatives

Value = Union[float, Callable[..., Any], Mapping[str, Union[float, Callable[..., Any]]]]


def _as_tuple(on: Union[str, Sequence[str]]) -> tuple[str, ...]:
    return (on,) if isinstance(on, str) else tuple(on)


class Condition:
    """Base: a named loss term on its own points. `points_key` picks its count from `[points]`."""

    points_key: Optional[str] = "boundary"

    def __init__(self, name: str, value: Value = 0.0, field: Optional[str] = None):
        self.name, self.value, self.field = name, value, field

    def targets(self, fields: Sequence[str]) -> dict[str, Union[float, Callable[..., Any]]]:
        """Field name -> value, from `value` and `field`."""
        if isinstance(self.value, Mapping):
            return dict(self.value)
        return {f: self.value for f in ((self.field,) if self.field else fields)}

    def check(self, domain: Any, coords: Sequence[str], fields: Sequence[str]) -> None:
        """Raise ValueError naming this condition when it refers to unknown fields or parts."""
        for f in self.targets(fields):
            if f not in fields:
                raise ValueError(f"condition {self.name!r}: unknown field {f!r} (fields: {', '.join(fields)})")

    def derivatives(self, coords: Sequence[str], fields: Sequence[str]) -> tuple[str, ...]:
        return ()

    def sample(self, domain: Any, n: int, sampler: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def residual(self, d: Derivatives, batch: Mapping[str, torch.Tensor], coords: Sequence[str],
                 fields: Sequence[str]) -> torch.Tensor:
        raise NotImplementedError


def evaluate(value: Union[float, Callable[..., Any]], columns: Sequence[torch.Tensor]) -> Any:
    """A condition value at the points: a number as is, a callable on the coordinate columns."""
    return value(*columns) if callable(value) else value


class _OnBoundary(Condition):
    def __init__(self, on: Union[str, Sequence[str]], value: Value, field: Optional[str], name: Optional[str],
                 prefix: str):
        self.on = _as_tuple(on)
        default = prefix if self.on == ("boundary",) else f"{prefix}_{'_'.join(self.on)}"
        super().__init__(name or default, value, field)

    def check(self, domain: Any, coords: Sequence[str], fields: Sequence[str]) -> None:
        super().check(domain, coords, fields)
        valid = ("boundary",) + tuple(domain.parts)
        for part in self.on:
            if part not in valid:
                raise ValueError(f"condition {self.name!r}: unknown boundary part {part!r} (valid: {', '.join(valid)})")

    def sample(self, domain: Any, n: int, sampler: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
        points, normals = domain.sample_boundary(n, self.on, sampler, rng)
        return {"points": points, "normals": normals}


class Dirichlet(_OnBoundary):
    """u = g on the named boundary parts."""

    def __init__(self, on: Union[str, Sequence[str]] = "boundary", value: Value = 0.0,
                 field: Optional[str] = None, name: Optional[str] = None):
        super().__init__(on, value, field, name, "bc")

    def residual(self, d, batch, coords, fields):
        columns = [d[c] for c in coords]
        return torch.stack([d[f] - evaluate(g, columns) for f, g in self.targets(fields).items()], dim=1)


class Neumann(_OnBoundary):
    """du/dn = g on the named boundary parts, n the outward unit normal."""

    def __init__(self, on: Union[str, Sequence[str]] = "boundary", value: Value = 0.0,
                 field: Optional[str] = None, name: Optional[str] = None):
        super().__init__(on, value, field, name, "neumann")

    def derivatives(self, coords, fields):
        return tuple(f"{f}_{c}" for f in self.targets(fields) for c in coords)

    def residual(self, d, batch, coords, fields):
        columns, normals = [d[c] for c in coords], batch["normals"]
        return torch.stack([sum(normals[:, j] * d[f"{f}_{c}"] for j, c in enumerate(coords)) - evaluate(g, columns)
                            for f, g in self.targets(fields).items()], dim=1)


class Initial(Condition):
    """u(x, t0) = g(x), with the time coordinate last; g takes the spatial coordinates."""

    points_key = "initial"

    def __init__(self, value: Value, field: Optional[str] = None, name: str = "ic"):
        super().__init__(name, value, field)

    def sample(self, domain: Any, n: int, sampler: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
        if not hasattr(domain, "sample_initial"):
            raise ValueError(f"condition {self.name!r}: an initial condition needs a space-time domain")
        return {"points": domain.sample_initial(n, sampler, rng)}

    def residual(self, d, batch, coords, fields):
        columns = [d[c] for c in coords[:-1]]
        return torch.stack([d[f] - evaluate(g, columns) for f, g in self.targets(fields).items()], dim=1)


class Observation(Condition):
    """u(x_i) = u_i at fixed data points (measurements); never resampled."""

    points_key = None

    def __init__(self, points: np.ndarray, values: Mapping[str, np.ndarray], name: str = "data"):
        super().__init__(name, dict(values))
        self.points = np.asarray(points, dtype=np.float64)
        self.data = {f: np.asarray(v, dtype=np.float64).reshape(-1) for f, v in values.items()}

    def sample(self, domain: Any, n: int, sampler: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {"points": self.points, **{f"target_{f}": v for f, v in self.data.items()}}

    def residual(self, d, batch, coords, fields):
        return torch.stack([d[f] - batch[f"target_{f}"] for f in self.data], dim=1)
