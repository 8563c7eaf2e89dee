"""A trained run's solution: its fields, derivatives and PDE residuals at any points."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .config import Config
from .operators import AutogradEngine, parse
from .problem import Problem

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
                batch: int = BATCH) -> dict[str, np.ndarray]:
        """Name -> `(N,)` array at `(N, d)` points in coordinate order (`self.coords`): every field; the
        `derivatives` asked for, named as a residual reads them (`u_x`, `u_xt`, `p_yy`); with `residuals`,
        the problem's PDE residual terms by name (`(N,)`, or `(N, k)` for a vector term). Exact derivatives by
        autograd, `batch` points at a time."""
        x = np.asarray(points, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.coords):
            raise ValueError(f"points must have shape (N, {len(self.coords)}) in the order {self.coords}, "
                             f"got {x.shape}")
        for name in derivatives:
            parse(name, self.coords, self.fields)  # a ValueError naming what a name can be
        wanted = tuple(dict.fromkeys([*derivatives, *(self.problem.derivatives if residuals else ())]))
        pieces = [self._evaluate(x[start:start + batch], tuple(derivatives), wanted, residuals)
                  for start in range(0, len(x), batch)] or [self._evaluate(x, tuple(derivatives), wanted, residuals)]
        return {key: np.concatenate([piece[key] for piece in pieces]) for key in pieces[0]}

    def _evaluate(self, x: np.ndarray, derivatives: tuple[str, ...], wanted: tuple[str, ...],
                  residuals: bool) -> dict[str, np.ndarray]:
        p = next(self.model.parameters())
        points = torch.as_tensor(x).to(p.device, p.dtype)
        if not wanted:
            with torch.no_grad():
                out = self.model(points)
            return {f: out[:, i].double().cpu().numpy() for i, f in enumerate(self.fields)}
        with torch.enable_grad():
            d = AutogradEngine()(self.model, points, self.coords, self.fields, wanted, type(self.problem).__name__)
            values = {name: d[name] for name in (*self.fields, *derivatives)}
            if residuals:
                terms = self.problem.residuals(d)
                clash = sorted(set(terms) & set(values))
                if clash:
                    raise ValueError(f"residual term {clash[0]!r} has the name of a field or derivative")
                values.update(terms)
        return {k: v.detach().double().cpu().numpy() for k, v in values.items()}
