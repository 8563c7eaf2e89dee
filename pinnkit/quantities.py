"""Quantities of interest: numbers computed from a solution (a force on a wall, a value at a point, where a
velocity changes sign), each compared with its published reference where there is one.

A problem declares them in `quantities()`, by name. `BoundaryIntegral` integrates an expression of the
fields, their derivatives and the outward normals over boundary parts with the parts' quadrature rule
(`Domain.quadrature`: exact nodes and weights, not random points); `PointValue` reads an expression at one
point; `LineRoot` finds where an expression first changes sign along a segment; `Derived` makes a number
of others (a drag coefficient of a force, a difference of two point values). Derivatives come from nested
autograd on the solution's network, and the problem's parameters read as in its residuals.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np
import torch

from .operators import AutogradEngine, Derivatives, parse

Expression = Union[str, Callable[[Derivatives], torch.Tensor]]  # a field or derivative name, or d -> (N,)
REFINE = 64  # points each sign-change bracket of a LineRoot is resampled on, twice


class Quantity:
    """Base: a number (or a vector) computed from the solution, with the published `reference` value and the
    `interval` of accepted values it is compared with, where known."""

    def __init__(self, reference: Optional[float] = None, interval: Optional[Sequence[float]] = None):
        self.reference = None if reference is None else float(reference)
        self.interval = None if interval is None else tuple(float(v) for v in interval)
        if self.interval is not None and (len(self.interval) != 2 or not self.interval[0] <= self.interval[1]):
            raise ValueError(f"{type(self).__name__}: interval must be (low, high) with low <= high, got {interval}")

    def check(self, problem: Any, domain: Any) -> None:
        """Raise ValueError when the quantity cannot be evaluated on this problem (unknown part, far point)."""

    def evaluate(self, solution: "Evaluation") -> Any:
        """The value: a number, or a vector of them."""
        raise NotImplementedError


class BoundaryIntegral(Quantity):
    """The integral over the named parts of `integrand(d, n)`: `d` the record of coordinates, fields and the
    declared `derivatives` at the quadrature nodes, `n` their outward unit normals (N, dim); it returns
    (N,) values, or (N, k) for a vector (a traction: the integral is then the force). `points` nodes on each
    edge, arc or circle of the parts (about as many on a face or sphere)."""

    def __init__(self, on: Union[str, Sequence[str]], integrand: Callable[[Derivatives, torch.Tensor], torch.Tensor],
                 derivatives: Sequence[str] = (), points: int = 256, *, reference: Optional[float] = None,
                 interval: Optional[Sequence[float]] = None):
        super().__init__(reference, interval)
        self.on, self.integrand = ((on,) if isinstance(on, str) else tuple(on)), integrand
        self.derivatives, self.points = tuple(derivatives), int(points)

    def check(self, problem, domain):
        _check_derivatives(self.derivatives, problem)
        domain.quadrature(self.on, self.points)

    def evaluate(self, solution):
        points, normals, weights = solution.quadrature(self.on, self.points)
        values = solution.apply(points, self.derivatives, self.integrand, normals, owner="BoundaryIntegral")
        if values.ndim not in (1, 2) or values.shape[0] != len(points):
            raise ValueError(f"the integrand returns shape {values.shape}, expected ({len(points)},) or "
                             f"({len(points)}, k): one value (or row) per quadrature node")
        return weights @ values


class PointValue(Quantity):
    """The value of an expression at one point `at` (a probe): a field or derivative name (`"p"`, `"u_x"`),
    or a function of the record `d` there, with the `derivatives` it reads."""

    def __init__(self, at: Sequence[float], expression: Expression, derivatives: Sequence[str] = (), *,
                 reference: Optional[float] = None, interval: Optional[Sequence[float]] = None):
        super().__init__(reference, interval)
        self.at, self.expression, self.derivatives = np.asarray(at, float).reshape(-1), expression, tuple(derivatives)

    def check(self, problem, domain):
        _check_points(np.array([self.at]), problem, domain)
        _check_derivatives(_expression(self.expression, self.derivatives, problem)[1], problem)

    def evaluate(self, solution):
        function, wanted = _expression(self.expression, self.derivatives, solution.problem)
        return solution.apply(self.at[None], wanted, function, owner="PointValue")[0]


class LineRoot(Quantity):
    """The distance from `start` along the segment to `stop` at which an expression (as for `PointValue`)
    first changes sign, NaN where it does not: e.g. the length of a recirculation zone, where the streamwise
    velocity turns positive again behind a body (`crossing="rising"`: from negative to non-negative only;
    `"falling"` the other way; `"any"` either). The expression is sampled at `samples` points after `start`
    (which is left out: it is often a wall, where the expression vanishes); the first bracket is resampled
    twice on `REFINE` points and the root interpolated linearly in the last."""

    CROSSINGS = ("any", "rising", "falling")

    def __init__(self, start: Sequence[float], stop: Sequence[float], expression: Expression,
                 derivatives: Sequence[str] = (), samples: int = 1000, crossing: str = "any", *,
                 reference: Optional[float] = None, interval: Optional[Sequence[float]] = None):
        super().__init__(reference, interval)
        if crossing not in self.CROSSINGS:
            raise ValueError(f"LineRoot: unknown crossing {crossing!r} (valid: {', '.join(self.CROSSINGS)})")
        self.start, self.stop = np.asarray(start, float).reshape(-1), np.asarray(stop, float).reshape(-1)
        self.expression, self.derivatives, self.samples = expression, tuple(derivatives), int(samples)
        self.crossing = crossing

    def _changes(self, v: np.ndarray) -> np.ndarray:
        """Indices k where the sign changes (the chosen way) between samples k and k + 1."""
        below = v < 0
        rising, falling = below[:-1] & ~below[1:], ~below[:-1] & below[1:]
        return np.flatnonzero({"any": rising | falling, "rising": rising, "falling": falling}[self.crossing])

    def check(self, problem, domain):
        _check_points(np.array([self.start, self.stop]), problem, domain)
        _check_derivatives(_expression(self.expression, self.derivatives, problem)[1], problem)

    def evaluate(self, solution):
        function, wanted = _expression(self.expression, self.derivatives, solution.problem)
        s = np.linspace(0.0, 1.0, self.samples + 1)[1:]
        for _ in range(3):
            v = solution.apply(self.start + s[:, None] * (self.stop - self.start), wanted, function, owner="LineRoot")
            change = self._changes(v)
            if not change.size:
                return math.nan
            k = change[0]
            a, b, va, vb = s[k], s[k + 1], v[k], v[k + 1]
            s = np.linspace(a, b, REFINE + 1)
        return (a + (b - a) * va / (va - vb)) * float(np.linalg.norm(self.stop - self.start))


class Derived(Quantity):
    """`function(*values)` of other quantities' values (float64 NumPy numbers or vectors): a coefficient of a
    force (`Derived(lambda f: 2 * f[0] / (U**2 * D), force)`), a difference of two point values. A
    quantity used by several others is evaluated once."""

    def __init__(self, function: Callable[..., Any], *quantities: Quantity, reference: Optional[float] = None,
                 interval: Optional[Sequence[float]] = None):
        super().__init__(reference, interval)
        bad = [type(q).__name__ for q in quantities if not isinstance(q, Quantity)]
        if bad or not quantities:
            raise TypeError(f"Derived: needs quantities to combine, got {', '.join(bad) or 'none'}")
        self.function, self.quantities = function, quantities

    def check(self, problem, domain):
        for quantity in self.quantities:
            quantity.check(problem, domain)

    def evaluate(self, solution):
        return self.function(*(solution.value(q) for q in self.quantities))


class Evaluation:
    """One evaluation of quantities on a model: fields and derivatives at given points, each quantity once.

    `rules` caches the domain's quadrature rules across evaluations (they depend on the domain only)."""

    def __init__(self, model: torch.nn.Module, problem: Any, domain: Any, rules: dict):
        self.model, self.problem, self.domain, self.rules = model, problem, domain, rules
        self.values: dict[int, np.ndarray] = {}
        first = next(model.parameters(), None)
        self.device, self.dtype = (first.device, first.dtype) if first is not None else (problem.device, problem.dtype)

    def value(self, quantity: Quantity) -> np.ndarray:
        """The quantity's value as float64 (computed on first use)."""
        if id(quantity) not in self.values:
            self.values[id(quantity)] = np.asarray(quantity.evaluate(self), dtype=np.float64)
        return self.values[id(quantity)]

    def quadrature(self, parts: Sequence[str], n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The domain's rule on the parts (computed once)."""
        key = (tuple(parts), n)
        if key not in self.rules:
            self.rules[key] = self.domain.quadrature(parts, n)
        return self.rules[key]

    def apply(self, points: np.ndarray, derivatives: Sequence[str], function: Callable[..., torch.Tensor],
              *arrays: np.ndarray, owner: str = "Quantity") -> np.ndarray:
        """`function(d, *arrays)` at (m, dim) points as float64: `d` holds the coordinates, fields and
        `derivatives` there (a ranged parameter at its default value, bound as in the residuals); the arrays
        come as tensors in the model's dtype."""
        problem = self.problem
        defaults = [float(problem.values[name].detach()) for name in problem.ranges]
        x = np.hstack([points, np.tile(defaults, (len(points), 1))])
        tensor = [torch.as_tensor(a).to(self.device, self.dtype) for a in (x, *arrays)]
        with torch.enable_grad():
            d = AutogradEngine()(self.model, tensor[0], problem.inputs, problem.fields, derivatives, owner)
            with problem.bound(d):
                out = function(d, *tensor[1:])
        return out.detach().to(torch.float64).cpu().numpy()


class Quantities:
    """A problem's named quantities, evaluated together on a model, and their report against references."""

    def __init__(self, quantities: Mapping[str, Quantity], problem: Any, domain: Any):
        self.quantities, self.problem, self.domain = dict(quantities), problem, domain
        self.rules: dict = {}

    def check(self, name: str) -> None:
        """ValueError unless the named quantity fits the problem (parts, points, derivative names)."""
        self.quantities[name].check(self.problem, self.domain)

    def values(self, model: torch.nn.Module, names: Optional[Sequence[str]] = None) -> dict[str, float]:
        """Name -> value of each quantity (or of `names`) for the model; each must be one number."""
        evaluation = Evaluation(model, self.problem, self.domain, self.rules)
        out = {}
        for name in names or self.quantities:
            value = evaluation.value(self.quantities[name])
            if value.size != 1:
                raise ValueError(f"it has {value.size} values, expected one number (report a component through "
                                 f"Derived, e.g. Derived(lambda f: f[0], ...))")
            out[name] = float(value.reshape(-1)[0])
        return out

    def report(self, values: Mapping[str, float]) -> dict[str, dict[str, Any]]:
        """For `summary.json`: each value (None if not finite), its reference and interval where declared, the
        relative error against the reference (absolute where the reference is 0), and whether it lies in the
        interval."""
        out = {}
        for name, value in values.items():
            q, finite = self.quantities[name], math.isfinite(value)
            entry: dict[str, Any] = {"value": value if finite else None, "reference": q.reference}
            if q.reference is not None and finite:
                entry["error"] = abs(value - q.reference) / (abs(q.reference) or 1.0)
            else:
                entry["error"] = None
            if q.interval is not None:
                entry["interval"] = list(q.interval)
                entry["within"] = finite and q.interval[0] <= value <= q.interval[1]
            out[name] = entry
        return out


def _expression(expression: Expression, derivatives: Sequence[str], problem: Any) -> tuple[Callable, tuple[str, ...]]:
    """A function of the record `d`, and the derivatives it reads: a name is read from `d` (and computed
    first unless it is a coordinate or field)."""
    if callable(expression):
        return expression, tuple(derivatives)
    if not isinstance(expression, str):
        raise TypeError(f"an expression is a field or derivative name, or a function of d; got "
                        f"{type(expression).__name__}")
    known = (*problem.inputs, *problem.fields)
    return (lambda d: d[expression]), tuple(derivatives) + (() if expression in known else (expression,))


def _check_derivatives(names: Sequence[str], problem: Any) -> None:
    for name in names:
        parse(name, problem.inputs, problem.fields)


def _check_points(points: np.ndarray, problem: Any, domain: Any) -> None:
    """ValueError unless the points have one value per coordinate and lie in the domain."""
    if points.shape[1] != len(problem.coords):
        raise ValueError(f"a point needs one value per coordinate {tuple(problem.coords)}, got {points[0].tolist()}")
    outside = points[~domain.inside(points)]
    if len(outside):
        raise ValueError(f"the point {outside[0].tolist()} lies outside the domain")
