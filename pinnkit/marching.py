"""Time-marching (`[time]`): the time range cut into windows, trained one after another, each window
starting from where the previous one ended.

Window i has a network of its own, its input scaled to [t_i, t_{i+1}], and every phase runs in each
window. Its initial values come from window i - 1's network at t_i, in one of two ways:

- as loss terms (`Continuation`): the problem's initial conditions with the previous window's values
  (and rates, for a condition on u_t) at t_i as targets, computed once per draw of the points;
- exactly, where the problem imposes its initial condition by an output transform T(x, t; N) that is
  affine in the network's output N with N's share vanishing at t0: window i is
  u_i(x, t) = u_{i-1}(x, t) + T(x, t - t_i + t0; N_i) - T(x, t - t_i + t0; 0) (`Continued`), so u_i and
  u_i's time derivatives up to the order T fixes equal u_{i-1}'s at t_i, and every condition the
  transform imposes at all times (fixed ends) still holds. The frozen part u_{i-1} and its derivatives
  are computed once per draw of the points and travel with them (`base:` columns, `loss.BASE`); the network
  trained sees only its share (`Share`), so a step costs the same in every window.

`TimeMarched` is the solution over the whole range: each point goes to its window's network.
"""
from __future__ import annotations

import copy
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from torch import nn

from .conditions import Condition, Initial
from .config import Config, ConfigError
from .geometry import Domain, SpaceTime, TimeInterval
from .loss import BASE
from .metrics import ReferenceSet
from .nets import Constrained, Transform
from .operators import AutogradEngine
from .problem import Problem

CHUNK = 1024  # points per nested-autograd pass through a frozen window (`solution_at`)


def window_edges(config: Config, t0: float, t1: float) -> list[float]:
    """The windows' edges t0 = e_0 < ... < e_k = t1 of `[time]`; boundaries that miss the domain's time
    range are a ConfigError."""
    time = config.time
    if time.boundaries is None:
        return [float(t) for t in np.linspace(t0, t1, time.slabs + 1)]
    edges = [float(t) for t in time.boundaries]
    tol = 1e-12 * max(1.0, abs(t0), abs(t1))
    if abs(edges[0] - t0) > tol or abs(edges[-1] - t1) > tol:
        raise ConfigError(f"time.boundaries: must run from the domain's t0 = {t0:g} to its t1 = {t1:g}, "
                          f"got {edges[0]:g} to {edges[-1]:g}")
    return [t0, *edges[1:-1], t1]


def solution_at(model: nn.Module, points: np.ndarray, inputs: Sequence[str], fields: Sequence[str],
                derivatives: Sequence[str], chunk: int = CHUNK) -> dict[str, np.ndarray]:
    """A frozen window's fields and `derivatives` at the points, float64 arrays by name, by nested autograd
    `chunk` points at a time: a high derivative through a chain of windows keeps a graph many times the
    network's size per point, so a RAD candidate pool taken whole would not fit in memory."""
    w = next(model.parameters())
    parts: list[dict[str, np.ndarray]] = []
    for start in range(0, max(len(points), 1), chunk):  # an empty set still gives its (empty) columns
        x = torch.as_tensor(points[start:start + chunk]).to(w.device, w.dtype)
        with torch.enable_grad():
            d = AutogradEngine()(model, x, inputs, fields, derivatives, "time-marching")
        parts.append({name: d[name].detach().double().cpu().numpy() for name in (*fields, *derivatives)})
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


class TimeMarched(nn.Module):
    """The solution of a time-marched run: window i's model on times [e_i, e_{i+1}) (the last window's
    end included); time is input column `column`."""

    def __init__(self, windows: Sequence[nn.Module], edges: Sequence[float], column: int):
        super().__init__()
        self.windows = nn.ModuleList(windows)
        self.register_buffer("inner", torch.tensor(list(edges[1:-1]), dtype=torch.float64))
        self.column = column

    def window_of(self, t: torch.Tensor) -> torch.Tensor:
        """The window index of each time."""
        return torch.bucketize(t, self.inner.to(t.dtype), right=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        which = self.window_of(x[:, self.column].contiguous())
        out: Optional[torch.Tensor] = None
        for i, model in enumerate(self.windows):
            keep = which == i
            values = model(x[keep])
            out = x.new_zeros(len(x), values.shape[1]) if out is None else out
            out = out.index_put((keep,), values)
        return out


class Share:
    """The network's share of the problem's output transform, started at a window's start `t0 + shift`:
    T(x, t - shift; N) - T(x, t - shift; 0), zero (with the time derivatives T fixes) at the window's start."""

    def __init__(self, transform: Transform, shift: float, time: str):
        self.transform, self.shift, self.time = transform, shift, time

    def __call__(self, coords: dict[str, torch.Tensor], raw: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        shifted = {**coords, self.time: coords[self.time] - self.shift}
        moved = self.transform(shifted, raw)
        still = self.transform(shifted, {f: 0 * v for f, v in raw.items()})
        return {f: moved[f] - still[f] for f in raw}


class Continued:
    """The output transform of window i > 0 under hard constraints, as the solution evaluates it: the previous
    window's solution carried on plus this window's `Share`. A plain object, not a module, so the previous
    window's weights are not this window's."""

    def __init__(self, previous: nn.Module, share: Share, fields: Sequence[str]):
        self.previous, self.share, self.fields = previous, share, tuple(fields)

    def __call__(self, coords: dict[str, torch.Tensor], raw: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        share = self.share(coords, raw)
        base = self.previous(torch.cat(list(coords.values()), dim=1))
        return {f: base[:, i:i + 1] + share[f] for i, f in enumerate(self.fields)}


class Continuation(Condition):
    """An initial condition of window i > 0: the fields (or, for a condition on the rate, their time
    derivatives) at the window's start equal the previous window's there. The targets are computed when the
    points are drawn (float64 arrays, checkpointed with them)."""

    def __init__(self, condition: Initial, previous: nn.Module, inputs: Sequence[str], fields: Sequence[str]):
        super().__init__(condition.name, 0.0, condition.field)
        self.rate, self.previous, self.inputs = condition.rate, previous, tuple(inputs)
        self.points_key = condition.points_key
        self.wanted = tuple(f"{f}_{inputs[-1]}" if self.rate else f for f in condition.targets(fields))
        self._fields = tuple(fields)

    def derivatives(self, coords, fields):
        return self.wanted if self.rate else ()

    def sample(self, domain, n, sampler, rng):
        points = domain.sample_initial(n, sampler, rng)
        return {"points": points, "target": self.targets_at(points)}

    def targets_at(self, points: np.ndarray) -> np.ndarray:
        """The previous window's values (or rates) at the points, (n, fields) in float64."""
        d = solution_at(self.previous, points, self.inputs, self._fields, self.derivatives(self.inputs, ()))
        return np.stack([d[w] for w in self.wanted], axis=1)

    def residual(self, d, batch, coords, fields):
        return torch.stack([d[w] for w in self.wanted], dim=1) - batch["target"]


class TimeMarching:
    """The windows of a time-marched run and what changes from one to the next: the points' domain, the
    network trained, the initial conditions and the time range the error is measured over."""

    def __init__(self, config: Config, problem: Problem, domain: Domain, edges: Sequence[float], hard: bool):
        self.config, self.problem, self.domain, self.edges, self.hard = config, problem, domain, list(edges), hard
        self.shares: dict[int, nn.Module] = {}  # under hard constraints: window i's network and its share only

    @classmethod
    def of(cls, config: Config, problem: Problem, domain: Domain, conditions: Sequence[Condition]) -> "TimeMarching":
        """The marching `[time]` asks for (the problem's `conditions`); a ConfigError where it cannot apply."""
        name = type(problem).__name__
        if not isinstance(domain, SpaceTime):
            raise ConfigError(f"time: time-marching needs a space-time domain, and {name}'s has no time axis")
        if problem.ranges:
            raise ConfigError(f"time: time-marching does not take ranged parameters (problem.parameters."
                              f"{next(iter(problem.ranges))}.range)")
        if config.data is not None:
            raise ConfigError("time: time-marching does not take observations ([data]) yet")
        exact = [c for c in conditions if isinstance(c, Initial) and c.name in problem.hard_constrained]
        hard = config.model.hard_constraints and bool(exact)
        marching = cls(config, problem, domain, window_edges(config, domain.time.t0, domain.time.t1), hard)
        if hard:
            marching.check_transform(rate=any(c.rate for c in exact))
        return marching

    @property
    def count(self) -> int:
        return len(self.edges) - 1

    def window(self, i: int) -> SpaceTime:
        """Window i's space-time domain."""
        return SpaceTime(self.domain.spatial, TimeInterval(self.edges[i], self.edges[i + 1]))

    def model(self, make: Callable[[Domain], nn.Module], given: Optional[nn.Module] = None) -> TimeMarched:
        """The marched network: `make(window domain)` for each window (the network given from Python, trained
        in place, as window 0, copies of it after), chained by `Continued` under hard constraints."""
        windows: list[nn.Module] = []
        p = self.problem
        for i in range(self.count):
            model = make(self.window(i)) if given is None or i == 0 else copy.deepcopy(windows[0])
            if self.hard and i > 0:
                share = Share(p.output_transform, self.edges[i] - self.edges[0], p.coords[-1])
                self.shares[i] = Constrained(model.net, share, p.coords, p.fields)
                model = Constrained(model.net, Continued(windows[-1], share, p.fields), p.coords, p.fields)
            windows.append(model)
        return TimeMarched(windows, self.edges, len(p.coords) - 1)

    def frozen(self, i: int, marched: TimeMarched) -> Optional[Callable[[tuple[str, ...]], Callable]]:
        """Under hard constraints, for window i > 0: derivative names -> (points -> the `base:` columns of the
        previous window's solution there: the fields and those derivatives), else None."""
        if not (self.hard and i > 0):
            return None
        previous, p = marched.windows[i - 1], self.problem

        def columns(derivatives: tuple[str, ...]) -> Callable[[np.ndarray], dict[str, np.ndarray]]:
            def at(points: np.ndarray) -> dict[str, np.ndarray]:
                return {f"{BASE}{name}": v for name, v in solution_at(previous, points, p.inputs, p.fields,
                                                                      derivatives).items()}
            return at

        return columns

    def conditions(self, i: int, conditions: Sequence[Condition], marched: TimeMarched) -> list[Condition]:
        """Window i's conditions: the problem's, each initial one (not imposed exactly) continuing the
        previous window."""
        if i == 0:
            return list(conditions)
        return [Continuation(c, marched.windows[i - 1], self.problem.inputs, self.problem.fields)
                if isinstance(c, Initial) else c for c in conditions]

    @torch.no_grad()
    def start(self, i: int, marched: TimeMarched) -> nn.Module:
        """Make window i the one trained: the others frozen, its weights the previous window's with
        `time.warm_start`; window i's model."""
        model = marched.windows[i]
        for j, other in enumerate(marched.windows):
            other.requires_grad_(j == i)
        if i > 0 and self.config.time.warm_start:
            for mine, theirs in zip(model.parameters(), marched.windows[i - 1].parameters()):
                mine.copy_(theirs)
        return self.shares.get(i, model)

    def reference(self, i: int, full: Optional[ReferenceSet]) -> Optional[ReferenceSet]:
        """The reference over the times solved by the end of window i: the error the history reports."""
        if full is None or i == self.count - 1:
            return full
        return full.subset(full.arrays["points"][:, len(self.problem.coords) - 1] <= self.edges[i + 1])

    def check_transform(self, rate: bool) -> None:
        """Refuse an output transform whose network share (and, with `rate`, its time derivative) does not
        vanish at t0: a window could not start exactly where the previous one ended."""
        p, name = self.problem, type(self.problem).__name__
        rng = np.random.default_rng(0)
        lower, upper = self.domain.spatial.lower, self.domain.spatial.upper
        x = lower + rng.random((16, len(lower))) * (upper - lower)
        coords = {c: torch.as_tensor(x[:, j:j + 1]) for j, c in enumerate(p.coords[:-1])}
        coords[p.coords[-1]] = torch.full((16, 1), self.edges[0], dtype=torch.float64, requires_grad=True)
        raw = {f: torch.as_tensor(rng.standard_normal((16, 1))) for f in p.fields}
        zero = {f: torch.zeros(16, 1, dtype=torch.float64) for f in p.fields}
        share = torch.cat([p.output_transform(coords, raw)[f] - p.output_transform(coords, zero)[f]
                           for f in p.fields], dim=1)
        slope = torch.autograd.grad(share.sum(), coords[p.coords[-1]], allow_unused=True)[0] if rate else None
        if float(share.detach().abs().max()) > 1e-12 or (slope is not None and float(slope.abs().max()) > 1e-12):
            raise ConfigError(f"time: {name}.output_transform does not leave its initial values independent of "
                              f"the network (its share must vanish at t0), so a window cannot start exactly where "
                              f"the previous one ended; set model.hard_constraints = false to march with "
                              f"initial-condition terms")
