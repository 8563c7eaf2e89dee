"""A trained run's solution: its fields, derivatives and PDE residuals at any points, and its quantities."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

import numpy as np
import torch

from .config import Config
from .operators import AutogradEngine, parse
from .problem import Problem
from .quantities import Quantities

BATCH = 65_536  # points per forward pass of `predict`


class Solution:
    """A trained run: `predict` evaluates its fields (and their derivatives, and the PDE's residuals) at any
    points; `problem` and `model` are the run's, `path` its folder."""

    def __init__(self, path: Path, config: Config, problem: Problem, model: torch.nn.Module):
        self.path, self.config, self.problem, self.model = path, config, problem, model

    @property
    def coords(self) -> tuple[str, ...]:
        """The coordinate names, in the column order `predict` takes."""
        return self.problem.coords

    @property
    def fields(self) -> tuple[str, ...]:
        """The field names `predict` returns."""
        return self.problem.fields

    @property
    def summary(self) -> dict:
        """The run's summary.json."""
        return json.loads((self.path / "summary.json").read_text())

    def predict(self, points: np.ndarray, derivatives: Sequence[str] = (), residuals: bool = False,
                batch: int = BATCH, parameters: Optional[Mapping[str, Union[float, np.ndarray]]] = None
                ) -> dict[str, np.ndarray]:
        """Name -> `(N,)` array at `(N, d)` points in coordinate order (`self.coords`): every field; the
        `derivatives` asked for, named as a residual reads them (`u_x`, `u_xt`, `p_yy`; for a parametric
        problem also along a ranged parameter, `u_nu`); with `residuals`, the problem's PDE residual terms by
        name (`(N,)`, or `(N, k)` for a vector term). Exact derivatives by autograd, `batch` points at a time.
        `parameters`: a value (or `(N,)` values) of each ranged parameter; a missing one takes its default
        (`config.toml`'s `init`, the middle of its range unless set)."""
        x = np.asarray(points, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.coords):
            raise ValueError(f"points must have shape (N, {len(self.coords)}) in the order {self.coords}, "
                             f"got {x.shape}")
        x = np.hstack([x, self._parameter_columns(len(x), dict(parameters or {}))])
        for name in derivatives:
            parse(name, self.problem.inputs, self.fields)  # a ValueError naming what a name can be
        wanted = tuple(dict.fromkeys([*derivatives, *(self.problem.derivatives if residuals else ())]))
        pieces = [self._evaluate(x[start:start + batch], tuple(derivatives), wanted, residuals)
                  for start in range(0, len(x), batch)] or [self._evaluate(x, tuple(derivatives), wanted, residuals)]
        return {key: np.concatenate([piece[key] for piece in pieces]) for key in pieces[0]}

    def quantities(self) -> dict[str, float]:
        """The problem's quantities of interest (`Problem.quantities`) for the trained network, by name; {} for
        a problem that declares none."""
        if not self.problem.has("quantities"):
            return {}
        return Quantities(self.problem.quantities(), self.problem, self.problem.domain()).values(self.model)

    def _parameter_columns(self, n: int, given: dict[str, Union[float, np.ndarray]]) -> np.ndarray:
        """(n, ranged parameters): each ranged parameter's given values, or its default."""
        unknown = sorted(set(given) - set(self.problem.ranges))
        if unknown:
            ranged = ", ".join(self.problem.ranges) or "none"
            raise ValueError(f"parameters: {unknown[0]!r} is not a ranged parameter of this run (ranged: {ranged}); "
                             f"the network was trained for one value of the others")
        columns = []
        for name in self.problem.ranges:
            value = np.asarray(given.get(name, float(self.problem.values[name])), dtype=np.float64).reshape(-1)
            if len(value) not in (1, n):
                raise ValueError(f"parameters: {name!r} needs one value or one per point ({n}), got {len(value)}")
            columns.append(np.broadcast_to(value, (n,)))
        return np.stack(columns, axis=1) if columns else np.empty((n, 0))

    def _evaluate(self, x: np.ndarray, derivatives: tuple[str, ...], wanted: tuple[str, ...],
                  residuals: bool) -> dict[str, np.ndarray]:
        p = next(self.model.parameters())
        points = torch.as_tensor(x).to(p.device, p.dtype)
        if not wanted:
            with torch.no_grad():
                out = self.model(points)
            return {f: out[:, i].double().cpu().numpy() for i, f in enumerate(self.fields)}
        with torch.enable_grad():
            d = AutogradEngine()(self.model, points, self.problem.inputs, self.fields, wanted,
                                 type(self.problem).__name__)
            values = {name: d[name] for name in (*self.fields, *derivatives)}
            if residuals:
                with self.problem.bound(d):
                    terms = self.problem.residuals(d)
                clash = sorted(set(terms) & set(values))
                if clash:
                    raise ValueError(f"residual term {clash[0]!r} has the name of a field or derivative")
                values.update(terms)
        return {k: v.detach().double().cpu().numpy() for k, v in values.items()}
