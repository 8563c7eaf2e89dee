"""The `Problem` base class: what a PDE problem declares, and its parameters.

A subclass declares `coords`, `fields`, `derivatives` (the names its residuals
read) and default `parameters`, and defines `domain()`, `residuals(d)`,
`conditions()` and, optionally, `reference(*coords)`, `probes()` and `output_transform`.
Parameters are tensors, reachable as attributes (`self.nu`); trainable ones are
leaf tensors with `requires_grad` and optional box bounds, and may carry a known
true value (for identification studies: the reference is evaluated with it).
"""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence, Union

import torch

if TYPE_CHECKING:
    from .conditions import Condition
    from .geometry import Domain
    from .operators import Derivatives


class Problem:
    """Base of every PDE problem; see the module docstring and DESIGN.md for an example."""

    coords: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    derivatives: tuple[str, ...] = ()
    parameters: Mapping[str, float] = {}
    description: str = ""
    mean_free: tuple[str, ...] = ()  # fields defined up to a constant (pressure): compared mean-removed
    hard_constrained: tuple[str, ...] = ()  # condition terms `output_transform` satisfies exactly

    def __init__(self, parameters: Optional[Mapping[str, Any]] = None):
        """`parameters`: name -> number, or -> an object with `init`, `bounds`, `trainable`, `true`."""
        self.values: dict[str, torch.Tensor] = {}
        self.bounds: dict[str, tuple[float, float]] = {}
        self.true: dict[str, float] = {}
        given = dict(parameters or {})
        unknown = set(given) - set(self.parameters)
        if unknown:
            raise KeyError(f"{type(self).__name__} has no parameter {sorted(unknown)[0]!r} "
                           f"(valid: {', '.join(self.parameters) or 'none'})")
        for name, default in self.parameters.items():
            self._set(name, given.get(name, default))

    def _set(self, name: str, spec: Any) -> None:
        init = getattr(spec, "init", spec)
        trainable = bool(getattr(spec, "trainable", False))
        self.values[name] = torch.tensor(float(init), dtype=torch.float64, requires_grad=trainable)
        if getattr(spec, "bounds", None) is not None:
            self.bounds[name] = tuple(float(b) for b in spec.bounds)
        if getattr(spec, "true", None) is not None:
            self.true[name] = float(spec.true)

    def __getattr__(self, name: str) -> torch.Tensor:
        values = self.__dict__.get("values", {})
        if name in values:
            return values[name]
        raise AttributeError(f"{type(self).__name__} has no attribute or parameter {name!r}")

    @property
    def trainable(self) -> dict[str, torch.Tensor]:
        """The trainable parameters, by name."""
        return {k: v for k, v in self.values.items() if v.requires_grad}

    def to(self, device: Union[str, torch.device], dtype: torch.dtype) -> "Problem":
        """Move and cast every parameter (new leaf tensors; trainable ones stay trainable)."""
        for name, v in self.values.items():
            self.values[name] = v.detach().to(device, dtype).requires_grad_(v.requires_grad)
        return self

    def parameter_values(self) -> dict[str, float]:
        return {k: float(v.detach()) for k, v in self.values.items()}

    def truth(self) -> "Problem":
        """A copy with every parameter that has a known true value set to it (for the reference)."""
        twin = copy.copy(self)
        twin.values = {k: torch.tensor(self.true[k], dtype=v.dtype, device=v.device) if k in self.true else v
                       for k, v in self.values.items()}
        return twin

    def identified(self) -> dict[str, dict[str, Optional[float]]]:
        """Each trainable parameter's value, its true value where known, and the relative error."""
        out = {}
        for name, value in self.trainable.items():
            v, t = float(value.detach()), self.true.get(name)
            out[name] = {"value": v, "true": t, "rel_error": abs(v - t) / abs(t) if t else None}
        return out

    def has(self, method: str) -> bool:
        """Whether the subclass defines an optional method (`reference`, `probes`, `output_transform`)."""
        return getattr(type(self), method) is not getattr(Problem, method)

    # What a subclass defines.
    def domain(self) -> "Domain":
        raise NotImplementedError(f"{type(self).__name__} must define domain()")

    def residuals(self, d: "Derivatives") -> dict[str, torch.Tensor]:
        raise NotImplementedError(f"{type(self).__name__} must define residuals(d)")

    def conditions(self) -> Sequence["Condition"]:
        return []

    def reference(self, *coords: torch.Tensor) -> dict[str, Any]:
        """Exact or reference fields at the points given column by column (optional)."""
        raise NotImplementedError

    def probes(self) -> dict[str, tuple[Any, tuple[str, ...]]]:
        """Named point sets `(M, d)` where the error of some fields is reported too (optional): name -> (points, fields)."""
        raise NotImplementedError

    def output_transform(self, coords: dict[str, torch.Tensor], raw: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Hard constraints: fields from raw network outputs (optional; see `nets.Constrained`)."""
        raise NotImplementedError
