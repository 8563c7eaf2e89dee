"""Boundary, periodic, initial and data conditions: each samples its points and turns them into a residual.

A value is a number, a callable of the coordinate columns (in the problem's
coordinate order; for `Initial`, the spatial ones only), or a dict of those by
field name. Without `field`, a scalar or callable value applies to every field.
Beyond these, `Operator` imposes any expression of the declared derivatives and
the normals on boundary parts, and `Outflow` the do-nothing condition of a flow.
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np
import torch

from .operators import Derivatives, parse

if TYPE_CHECKING:
    from .problem import Problem

Value = Union[float, Callable[..., Any], Mapping[str, Union[float, Callable[..., Any]]]]


def _as_tuple(on: Union[str, Sequence[str]]) -> tuple[str, ...]:
    return (on,) if isinstance(on, str) else tuple(on)


class Condition:
    """Base: a named loss term on its own points. `points_key` picks its count from `[points]`."""

    points_key: Optional[str] = "boundary"
    pointwise = True  # each residual row depends on its own point only

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
        """The derivative names the residual reads (a Neumann condition's first derivatives)."""
        return ()

    def bind(self, problem: "Problem") -> None:
        """Called once by build, before `check`, with the problem the condition belongs to (a condition that
        reads the problem's parameters by name keeps them); nothing by default."""

    def sample(self, domain: Any, n: int, sampler: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """The condition's points (and what goes with them: normals, targets), as float64 arrays by name."""
        raise NotImplementedError

    def residual(self, d: Derivatives, batch: Mapping[str, torch.Tensor], coords: Sequence[str],
                 fields: Sequence[str]) -> torch.Tensor:
        """The residual at the sampled points, `(N,)` or `(N, k)`: zero where the condition holds."""
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


class Robin(_OnBoundary):
    """a u + b du/dn = g on the named parts (n the outward normal): Dirichlet for b = 0, Neumann for a = 0."""

    def __init__(self, on: Union[str, Sequence[str]] = "boundary", a: float = 1.0, b: float = 1.0, value: Value = 0.0,
                 field: Optional[str] = None, name: Optional[str] = None):
        super().__init__(on, value, field, name, "robin")
        self.a, self.b = float(a), float(b)

    def derivatives(self, coords, fields):
        return tuple(f"{f}_{c}" for f in self.targets(fields) for c in coords)

    def residual(self, d, batch, coords, fields):
        columns, normals = [d[c] for c in coords], batch["normals"]
        return torch.stack([self.a * d[f] + self.b * sum(normals[:, j] * d[f"{f}_{c}"] for j, c in enumerate(coords))
                            - evaluate(g, columns) for f, g in self.targets(fields).items()], dim=1)


class Operator(_OnBoundary):
    """B(u) = 0 on the named parts, for any expression B of the coordinates, fields and declared derivatives
    there and the outward unit normals: `residual(d, n)` gets the record `d` (`d.x`, `d.u`, `d.u_x`, as
    `(N,)` tensors) and the normals `n` `(N, dim)`, and returns `(N,)` or `(N, k)`, zero where it holds;
    e.g. `Operator("right", lambda d, n: d.u * n[:, 0] + d.u_x, derivatives=("u_x",))`. A problem's
    parameters are read as in its residuals (`self.k`), with ranged ones bound to the points' values."""

    def __init__(self, on: Union[str, Sequence[str]], residual: Callable[[Derivatives, torch.Tensor], torch.Tensor],
                 derivatives: Sequence[str] = (), name: Optional[str] = None):
        if not callable(residual):
            raise TypeError(f"Operator: residual must be a function of (d, n), got {type(residual).__name__}")
        super().__init__(on, 0.0, None, name, "operator")
        self.operator, self.wanted = residual, tuple(derivatives)

    def check(self, domain: Any, coords: Sequence[str], fields: Sequence[str]) -> None:
        super().check(domain, coords, fields)
        for name in self.wanted:
            try:
                parse(name, coords, fields)
            except ValueError as err:
                raise ValueError(f"condition {self.name!r}: {err}") from None

    def derivatives(self, coords, fields):
        return self.wanted

    def residual(self, d, batch, coords, fields):
        return self.operator(d, batch["normals"])


class Outflow(_OnBoundary):
    """-p n_i + nu sum_j n_j du_i/dx_j = 0 on the named parts, one residual column per velocity component:
    the do-nothing outflow condition of the incompressible Navier-Stokes equations in their Laplacian form
    (unit density, p the kinematic pressure), which a fully developed flow leaving the domain satisfies and
    which fixes the pressure's level. `viscosity`: a number, or a parameter of the problem, by name or as
    the problem's own tensor (`self.nu`), read at every evaluation (so a trainable or ranged one works)."""

    def __init__(self, on: Union[str, Sequence[str]], viscosity: Union[float, str, torch.Tensor],
                 velocity: Sequence[str] = ("u", "v"), pressure: str = "p", name: Optional[str] = None):
        self.velocity, self.pressure = tuple(velocity), pressure
        super().__init__(on, {f: 0.0 for f in (*self.velocity, pressure)}, None, name, "outflow")
        self.viscosity = viscosity
        self.parameter: Optional[str] = viscosity if isinstance(viscosity, str) else None
        self.parameters: Mapping[str, torch.Tensor] = {}

    def bind(self, problem: "Problem") -> None:
        """Find the viscosity among the problem's parameters: by name, or by identity for a tensor."""
        if torch.is_tensor(self.viscosity) and self.parameter is None:
            self.parameter = next((k for k, v in problem.values.items() if v is self.viscosity), None)
        if self.parameter is not None and self.parameter not in problem.values:
            raise ValueError(f"condition {self.name!r}: unknown parameter {self.parameter!r} for the viscosity "
                             f"(parameters: {', '.join(problem.values) or 'none'})")
        self.parameters = problem.values  # the live values: cast with each phase, bound to ranged columns

    def check(self, domain: Any, coords: Sequence[str], fields: Sequence[str]) -> None:
        super().check(domain, coords, fields)
        if len(self.velocity) > len(coords):
            raise ValueError(f"condition {self.name!r}: {len(self.velocity)} velocity components but "
                             f"{len(coords)} coordinates {tuple(coords)}")
        if isinstance(self.viscosity, str) and not self.parameters:
            raise ValueError(f"condition {self.name!r}: the viscosity {self.viscosity!r} names a parameter, so the "
                             f"condition needs its problem (it is bound by build)")

    def derivatives(self, coords, fields):
        return tuple(f"{f}_{c}" for f in self.velocity for c in coords[:len(self.velocity)])

    def residual(self, d, batch, coords, fields):
        n, space = batch["normals"], coords[:len(self.velocity)]
        nu = self.parameters[self.parameter] if self.parameter is not None else self.viscosity
        return torch.stack([-d[self.pressure] * n[:, i] + nu * sum(n[:, j] * d[f"{f}_{c}"] for j, c in enumerate(space))
                            for i, f in enumerate(self.velocity)], dim=1)


class Periodic(Condition):
    """u(x) = u(x') on two opposite faces, x' the image of x on the other face; with `derivative`,
    also du/da(x) = du/da(x') along the face normal a (what a second-order PDE needs)."""

    pointwise = False  # each row pairs a point with its image

    def __init__(self, on: Sequence[str], field: Optional[str] = None, derivative: bool = True,
                 name: Optional[str] = None):
        self.on, self.derivative = tuple(on), derivative
        super().__init__(name or f"periodic_{'_'.join(self.on)}", 0.0, field)

    def _axis(self, domain: Any) -> int:
        """The axis joining the two faces; ValueError unless they are opposite faces of a box."""
        faces = getattr(getattr(domain, "spatial", domain), "face_names", ())
        if len(self.on) != 2 or not set(self.on) <= set(faces) or \
                faces.index(self.on[0]) // 2 != faces.index(self.on[1]) // 2 or self.on[0] == self.on[1]:
            raise ValueError(f"condition {self.name!r}: needs two opposite faces of an axis-aligned domain, "
                             f"got {self.on} (faces: {', '.join(faces) or 'none'})")
        return faces.index(self.on[0]) // 2

    def check(self, domain: Any, coords: Sequence[str], fields: Sequence[str]) -> None:
        super().check(domain, coords, fields)
        self._axis(domain)

    def derivatives(self, coords, fields):
        return tuple(f"{f}_{c}" for f in self.targets(fields) for c in coords) if self.derivative else ()

    def sample(self, domain: Any, n: int, sampler: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """n points on the first face, then their n images on the second (reflected across the middle)."""
        axis = self._axis(domain)
        points, normals = domain.sample_boundary(n, self.on[:1], sampler, rng)
        images = points.copy()
        images[:, axis] = domain.lower[axis] + domain.upper[axis] - points[:, axis]
        return {"points": np.vstack([points, images]), "direction": np.abs(np.vstack([normals, normals]))}

    def residual(self, d, batch, coords, fields):
        """Each point against its image, both ways round: (2n, k), mean square = that of the n differences."""
        def jump(q: torch.Tensor) -> torch.Tensor:
            return q - q.roll(len(q) // 2, 0)

        columns = []
        for f in self.targets(fields):
            columns.append(jump(d[f]))
            if self.derivative:
                columns.append(jump(sum(batch["direction"][:, j] * d[f"{f}_{c}"] for j, c in enumerate(coords))))
        return torch.stack(columns, dim=1)


class Initial(Condition):
    """u(x, t0) = g(x), with the time coordinate last; g takes the spatial coordinates. With `rate = True`,
    the initial rate u_t(x, t0) = g(x) instead (what a second-order equation in time, the wave equation,
    needs besides u(x, t0))."""

    points_key = "initial"

    def __init__(self, value: Value, field: Optional[str] = None, name: Optional[str] = None, rate: bool = False):
        self.rate = rate
        super().__init__(name or ("ic_rate" if rate else "ic"), value, field)

    def sample(self, domain: Any, n: int, sampler: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
        if not hasattr(domain, "sample_initial"):
            raise ValueError(f"condition {self.name!r}: an initial condition needs a space-time domain")
        return {"points": domain.sample_initial(n, sampler, rng)}

    def derivatives(self, coords, fields):
        return tuple(f"{f}_{coords[-1]}" for f in self.targets(fields)) if self.rate else ()

    def residual(self, d, batch, coords, fields):
        columns = [d[c] for c in coords[:-1]]
        return torch.stack([d[f"{f}_{coords[-1]}" if self.rate else f] - evaluate(g, columns)
                            for f, g in self.targets(fields).items()], dim=1)


class Observation(Condition):
    """u(x_i) = u_i at fixed data points (measurements); never resampled."""

    points_key = None

    def __init__(self, points: np.ndarray, values: Mapping[str, np.ndarray], name: str = "data"):
        super().__init__(name, dict(values))
        self.points = np.asarray(points, dtype=np.float64)
        self.data = {f: np.asarray(v, dtype=np.float64).reshape(-1) for f, v in values.items()}

    @classmethod
    def from_file(cls, path: Union[str, Path], coords: Sequence[str], fields: Sequence[str], noise: float = 0.0,
                  rng: Optional[np.random.Generator] = None, name: str = "data") -> "Observation":
        """Observations from a `.npz` or `.csv` file with one column per coordinate and per observed field.

        `noise` > 0 adds Gaussian noise of standard deviation `noise` times each field's standard
        deviation (for studies; Raissi et al. 2019), drawn from `rng`. Bad files raise ValueError.
        """
        columns = _read_columns(Path(path))
        observed = [f for f in fields if f in columns]
        unknown = sorted(set(columns) - set(coords) - set(fields))
        missing = [c for c in coords if c not in columns]
        if missing or unknown or not observed:
            what = f"no column {missing[0]!r}" if missing else (
                f"column {unknown[0]!r} is neither a coordinate nor a field" if unknown else "no field column")
            raise ValueError(f"{path}: {what} (coordinates: {', '.join(coords)}; fields: {', '.join(fields)}; "
                             f"columns: {', '.join(columns)})")
        for key, column in columns.items():
            bad = int(np.sum(~np.isfinite(column)))
            if bad:
                raise ValueError(f"{path}: column {key!r} has {bad} NaN or infinite values")
        rng = rng if rng is not None else np.random.default_rng(0)
        values = {f: columns[f] + noise * np.std(columns[f]) * rng.standard_normal(len(columns[f])) for f in observed}
        return cls(np.stack([columns[c] for c in coords], axis=1), values, name)

    def check(self, domain: Any, coords: Sequence[str], fields: Sequence[str]) -> None:
        """Fields known, and every point in the domain (within 1% of its extent: data carry rounding)."""
        super().check(domain, coords, fields)
        tol = 0.01 * float(np.max(np.asarray(domain.upper) - np.asarray(domain.lower)))
        outside = int(np.sum(~domain.inside(self.points, tol=tol)))
        if outside:
            raise ValueError(f"condition {self.name!r}: {outside} of {len(self.points)} observation points lie "
                             f"outside the domain")

    def sample(self, domain: Any, n: int, sampler: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {"points": self.points, **{f"target_{f}": v for f, v in self.data.items()}}

    def residual(self, d, batch, coords, fields):
        return torch.stack([d[f] - batch[f"target_{f}"] for f in self.data], dim=1)


def _read_columns(path: Path) -> dict[str, np.ndarray]:
    """Named float64 columns of equal length from a `.npz` (one array per name) or a `.csv` with a header row."""
    if path.suffix not in (".npz", ".csv"):
        raise ValueError(f"{path}: observations must be a .npz or .csv file")
    try:
        columns = _npz_columns(path) if path.suffix == ".npz" else _csv_columns(path)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such observation file") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"{path}: cannot read observations: {err}") from None
    if len({len(c) for c in columns.values()}) > 1 or not columns or not len(next(iter(columns.values()))):
        raise ValueError(f"{path}: columns must be non-empty and of equal length")
    return columns


def _npz_columns(path: Path) -> dict[str, np.ndarray]:
    """One real column per array of a `.npz`: each array holds one value per row, (n,) or (n, 1)."""
    columns = {}
    with np.load(path) as archive:
        for key in archive.files:
            array = archive[key]
            if array.ndim > 2 or (array.ndim == 2 and array.shape[1] != 1):
                raise ValueError(f"array {key!r} has shape {array.shape}, expected one value per row")
            if not np.isrealobj(array) or array.dtype.kind not in "biuf":
                raise ValueError(f"array {key!r} holds {array.dtype} values, expected real numbers")
            columns[key] = array.astype(np.float64).reshape(-1)
    return columns


def _csv_columns(path: Path) -> dict[str, np.ndarray]:
    """The named columns of a `.csv` with one header row (a UTF-8 byte-order mark allowed)."""
    with open(path, encoding="utf-8-sig") as f:
        names = [h.strip() for h in f.readline().split(",")]
        table = np.loadtxt(f, delimiter=",", ndmin=2)
    duplicate = sorted({n for n in names if names.count(n) > 1})
    if duplicate:
        raise ValueError(f"column {duplicate[0]!r} appears twice in the header")
    if table.shape[1] != len(names):
        raise ValueError(f"{len(names)} names in the header but {table.shape[1]} values a row")
    return {k: table[:, j] for j, k in enumerate(names)}
