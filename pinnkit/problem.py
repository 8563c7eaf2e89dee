"""The `Problem` base class: what a PDE problem declares, and its parameters.

A subclass declares `coords`, `fields`, `derivatives` (the names its residuals
read) and default `parameters`, and defines `domain()`, `residuals(d)`,
`conditions()` and, optionally, `reference(*coords)`, `probes()`, `quantities()` and
`output_transform`.
Parameters are tensors, reachable as attributes (`self.nu`), on the device and in the
dtype of the phase that runs (user code never needs `float()` to be safe); each keeps
a float64 master from which every cast starts. Trainable ones are leaf tensors with
`requires_grad` and optional box bounds, and may carry a known true value (for
identification studies: the reference is evaluated with it). A parameter given a
range is an input of the network (`inputs`: the coordinates, then the ranged
parameters): while a residual is evaluated, `self.nu` is the column of its points'
values, so the same problem class serves for one value and for a range.
"""
from __future__ import annotations

import copy
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Optional, Sequence, Union

import torch

if TYPE_CHECKING:
    from .conditions import Condition
    from .geometry import Domain
    from .operators import Derivatives
    from .quantities import Quantity


class ProblemError(ValueError):
    """A problem definition that cannot be solved as written (names the problem and what is wrong)."""


class Problem:
    """Base of every PDE problem; see the module docstring for what a subclass declares and defines."""

    coords: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    derivatives: tuple[str, ...] = ()
    parameters: Mapping[str, float] = {}
    description: str = ""
    mean_free: tuple[str, ...] = ()  # fields defined up to a constant (pressure): compared mean-removed
    hard_constrained: tuple[str, ...] = ()  # condition terms `output_transform` satisfies exactly
    periodic: tuple[str, ...] = ()  # coordinates the solution repeats in, over the domain: built into the network

    def __init__(self, parameters: Optional[Mapping[str, Any]] = None):
        """`parameters`: name -> number, or -> an object with `init`, `bounds`, `trainable`, `true`."""
        self.values: dict[str, torch.Tensor] = {}  # working copies, in the phase's device and dtype
        self.masters: dict[str, torch.Tensor] = {}  # float64 masters: every cast starts from these
        self.bounds: dict[str, tuple[float, float]] = {}
        self.true: dict[str, float] = {}
        self.ranges: dict[str, tuple[float, float]] = {}  # parameters that are inputs of the network
        self.evaluated: dict[str, list[float]] = {}  # per ranged parameter, where the error is reported
        self.device, self.dtype = torch.device("cpu"), torch.float64
        self._check_declarations()
        self._check_names()
        given = dict(parameters or {})
        unknown = set(given) - set(self.parameters)
        if unknown:
            raise KeyError(f"{type(self).__name__} has no parameter {sorted(unknown)[0]!r} "
                           f"(valid: {', '.join(self.parameters) or 'none'})")
        for name, default in self.parameters.items():
            self._set(name, given.get(name, default))

    def _check_declarations(self) -> None:
        """`coords` and `fields`: non-empty sequences of distinct names; `derivatives`: names; else ProblemError."""
        name = type(self).__name__
        for attr in ("coords", "fields", "derivatives"):
            value = getattr(self, attr)
            names = isinstance(value, (tuple, list)) and all(isinstance(v, str) and v.isidentifier() for v in value)
            if not names or len(set(value)) != len(value) or (attr != "derivatives" and not value):
                raise ProblemError(f"{name}.{attr} must be a {'' if attr == 'derivatives' else 'non-empty '}tuple "
                                   f"of distinct names, got {value!r}")
        if not isinstance(self.periodic, (tuple, list)) or not set(self.periodic) <= set(self.coords):
            raise ProblemError(f"{name}.periodic must name coordinates of {tuple(self.coords)}, got {self.periodic!r}")

    def _check_names(self) -> None:
        """A parameter named like an attribute or method of the problem would be shadowed by it: refuse."""
        for name in self.parameters:
            if not (isinstance(name, str) and name.isidentifier()) or name.startswith("_"):
                raise ProblemError(f"{type(self).__name__}.parameters: {name!r} is not a valid parameter name "
                                   f"(a Python identifier not starting with '_')")
            if hasattr(type(self), name) or name in vars(self):
                raise ProblemError(f"{type(self).__name__}.parameters: {name!r} is already an attribute of the "
                                   f"problem, which would hide the parameter; rename it")

    def _set(self, name: str, spec: Any) -> None:
        init = getattr(spec, "init", spec)
        trainable = bool(getattr(spec, "trainable", False))
        try:
            self.masters[name] = torch.tensor(float(init), dtype=torch.float64)
        except (TypeError, ValueError):
            raise ProblemError(f"{type(self).__name__}.parameters: {name!r} must be a number, got {init!r}") from None
        self.values[name] = self.masters[name].clone().requires_grad_(trainable)
        if getattr(spec, "bounds", None) is not None:
            self.bounds[name] = tuple(float(b) for b in spec.bounds)
        if getattr(spec, "true", None) is not None:
            self.true[name] = float(spec.true)
        if getattr(spec, "range", None) is not None:
            if name in self.coords or name in self.fields:
                raise ProblemError(f"{type(self).__name__}.parameters: {name!r} has a range, so it becomes an input "
                                   f"of the network, but a coordinate or field has that name")
            self.ranges[name] = tuple(float(v) for v in spec.range)
            self.evaluated[name] = list(spec.evaluated)

    def __getattr__(self, name: str) -> torch.Tensor:
        values = self.__dict__.get("values", {})
        if name in values:
            return values[name]
        raise AttributeError(f"{type(self).__name__} has no attribute or parameter {name!r}")

    @property
    def inputs(self) -> tuple[str, ...]:
        """What the network takes, in column order: the coordinates, then the ranged parameters."""
        return (*self.coords, *self.ranges)

    @contextmanager
    def bound(self, columns: Mapping[str, torch.Tensor]) -> Iterator[None]:
        """Within, each ranged parameter is its column of `columns` (a `Derivatives` record or a dict: the
        values at the points being evaluated) instead of its default value."""
        kept = {name: self.values[name] for name in self.ranges}
        try:
            self.values.update({name: columns[name] for name in self.ranges})
            yield
        finally:
            self.values.update(kept)

    @property
    def trainable(self) -> dict[str, torch.Tensor]:
        """The trainable parameters, by name."""
        return {k: v for k, v in self.values.items() if v.requires_grad}

    @torch.no_grad()
    def _sync(self) -> None:
        """Take a trained working value as its new master (an untouched one keeps its float64 master)."""
        for name, v in self.values.items():
            master = self.masters[name]
            if v.requires_grad and not torch.equal(v, master.to(v.device, v.dtype)):
                self.masters[name] = v.detach().to(master.device, torch.float64)

    def to(self, device: Union[str, torch.device], dtype: torch.dtype) -> "Problem":
        """Move and cast every parameter from its float64 master (new leaf tensors; trainable ones stay
        trainable), so a float32 phase never rounds what a later float64 phase sees."""
        self._sync()
        self.device, self.dtype = torch.device(device), dtype
        for name, master in self.masters.items():
            self.masters[name] = master.to(self.device)
            trainable = self.values[name].requires_grad
            self.values[name] = master.to(self.device, dtype, copy=True).requires_grad_(trainable)
        return self

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The float64 masters, on the CPU (what a checkpoint keeps)."""
        self._sync()
        return {name: master.detach().cpu().clone() for name, master in self.masters.items()}

    @torch.no_grad()
    def load_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        """Put back masters from `state_dict()`, and the working values cast from them."""
        for name, value in state.items():
            self.masters[name] = value.to(self.device, torch.float64)
            self.values[name].copy_(self.masters[name])

    def parameter_values(self) -> dict[str, float]:
        """Every parameter's current value, as a float."""
        return {k: float(v.detach()) for k, v in self.values.items()}

    def truth(self) -> "Problem":
        """A float64 copy, on the problem's device, with every parameter that has a known true value set to it
        and none trainable: what the reference is evaluated with."""
        self._sync()
        twin = copy.copy(self)
        twin.masters = {k: torch.tensor(self.true[k], dtype=torch.float64, device=self.device) if k in self.true
                        else m for k, m in self.masters.items()}
        twin.values = {k: m.clone() for k, m in twin.masters.items()}
        twin.dtype = torch.float64
        return twin

    def identified(self) -> dict[str, dict[str, Optional[float]]]:
        """Each trainable parameter's value, its true value where known, and the relative error."""
        out = {}
        for name, value in self.trainable.items():
            v, t = float(value.detach()), self.true.get(name)
            out[name] = {"value": v, "true": t, "rel_error": abs(v - t) / abs(t) if t else None}
        return out

    def has(self, method: str) -> bool:
        """Whether the subclass defines an optional method (`reference`, `probes`, `quantities`,
        `output_transform`)."""
        return getattr(type(self), method) is not getattr(Problem, method)

    # What a subclass defines.
    def domain(self) -> "Domain":
        """The space (or space-time) domain: `Interval`, `Rectangle`, `Box`, `Polygon`, or one of them times a
        `TimeInterval`, with one dimension per coordinate; its named boundary parts are what conditions use."""
        raise NotImplementedError(f"{type(self).__name__} must define domain()")

    def residuals(self, d: "Derivatives") -> dict[str, torch.Tensor]:
        """The PDE's residuals at the collocation points, by term name (`{"pde": d.u_t - self.k * d.u_xx}`):
        `d` holds the coordinates, the fields and the declared derivatives as `(N,)` tensors (`d.x`, `d.u`,
        `d.u_xx`); a term is `(N,)`, or `(N, k)` for a vector equation. Each term enters the loss as its mean
        square times its weight."""
        raise NotImplementedError(f"{type(self).__name__} must define residuals(d)")

    def conditions(self) -> Sequence["Condition"]:
        """The boundary, initial and periodic conditions (`Dirichlet`, `Neumann`, `Robin`, `Operator`, `Outflow`,
        `Periodic`, `Initial`), each a loss term of its own; none by default."""
        return []

    def reference(self, *coords: torch.Tensor) -> dict[str, Any]:
        """Exact or reference fields at the points given column by column (optional)."""
        raise NotImplementedError

    def probes(self) -> dict[str, tuple[Any, tuple[str, ...]]]:
        """Named point sets `(M, d)` where the error of some fields is reported too (optional): name -> (points, fields)."""
        raise NotImplementedError

    def quantities(self) -> Mapping[str, "Quantity"]:
        """Named quantities of interest (optional): name -> `BoundaryIntegral`, `PointValue`, `LineRoot` or
        `Derived`, each a number computed from the solution, with its published reference where known. They
        are logged in the history (`q_<name>`) and reported in `summary.json`."""
        raise NotImplementedError

    def output_transform(self, coords: dict[str, torch.Tensor], raw: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Hard constraints: fields from raw network outputs (optional; see `nets.Constrained`)."""
        raise NotImplementedError
