"""Native L-BFGS in torch, with box bounds kept by projection, and its phase (`optimizer = "lbfgs"`).

All optimizer state is tensors on the parameters' device, so a GPU run needs no
host round trip per iteration with the backtracking line search; the strong
Wolfe search must branch on each trial's values and reads them once per trial.
The stopping tests are computed on the device and read only when asked
(`stop_code`), which the phase does every `check_every` iterations.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable, Literal, Optional

import torch
from pydantic import Field

from .closures import ObjectiveView, gradient_closure
from .params import active, assign, box, flat, flat_grad, parameters
from .phase import OptimizerPhase, PhaseOptions, Step

ARMIJO = 1e-4  # sufficient-decrease constant c1
CURVATURE = 0.9  # strong Wolfe curvature constant c2
LINE_SEARCHES = ("strong_wolfe", "backtracking")
STOP_MESSAGES = {
    1: "projected gradient max-abs <= gtol",
    2: "relative loss change <= ftol",
    3: "no decrease found along the search direction (loss at its numerical floor)",
}


class LBFGS(torch.optim.Optimizer):
    """Limited-memory BFGS with optional box bounds per parameter group, all state on the device.

    One `step(closure)` is one iteration: a two-loop-recursion direction, projected
    onto the box, then a line search along the projected path `P(x + t d)`. The closure
    zeroes the gradients, computes the loss, calls `backward()` and returns the loss;
    it is evaluated at trial points (several times with strong Wolfe). The loss and
    gradient of the accepted point are kept for the next step: after changing the
    objective or the parameters between steps, call `objective_changed()`.

    Bounds: a group may carry `lower=` / `upper=` (scalars or tensors shaped like its
    parameters; absent or None means unbounded). Variables at a bound whose gradient
    points outward are held there (active set), the direction never points outward
    from a bound, and every trial point is projected onto the box, so parameters stay
    feasible and can end exactly on a bound.

    Line searches: `"strong_wolfe"` (bracketing and zoom by cubic interpolation,
    Nocedal & Wright Alg. 3.5-3.6) reads (loss, slope, predicted decrease) to the host
    once per trial. `"backtracking"` evaluates one Armijo trial per step and never syncs:
    a rejected trial leaves the parameters and history as they were and shrinks the next
    trial step by quadratic interpolation, so a step is then one line-search trial.

    State (`self.state[first parameter]`, flat over all parameters in group order):
        S, Y          (history_size, n) accepted steps and gradient changes, oldest row first
        rho           (history_size,) 1 / s.y of each pair; 0 marks an empty row (a no-op in the two-loop)
        pairs, gamma  number of stored pairs; s.y / y.y of the newest (the initial inverse-Hessian scale)
        loss, grad    loss and gradient at the current parameters
        t             next trial step of the backtracking search
        pg_max        max |P(x - g) - x|, the projected-gradient measure tested against gtol
        rel_change    (f_old - f_new) / max(|f_old|, |f_new|, 1) of the last accepted step, against ftol
        stalled       1 when a search found no decrease even from an empty history
    Counters are stored as floats because `load_state_dict` casts state to the parameters' dtype.

    Example:
        >>> opt = LBFGS([{"params": net.parameters()}, {"params": [k], "lower": 0.0, "upper": 1.0}])
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = ((net(x) * k - y) ** 2).mean()
        ...     loss.backward()
        ...     return loss
        >>> for i in range(1, 501):
        ...     loss = opt.step(closure)
        ...     if i % 20 == 0 and opt.stop_code():  # reading it is a host sync: not every step
        ...         break
    """

    def __init__(self, params: Iterable, lr: float = 1.0, history_size: int = 10,
                 line_search: Literal["strong_wolfe", "backtracking"] = "strong_wolfe", gtol: float = 1e-5,
                 ftol: float = 1e-9, max_line_search: int = 25, curvature_eps: float = 1e-10,
                 wolfe_c2: float = CURVATURE):
        """`wolfe_c2`: the strong Wolfe curvature constant; a small one (1e-6) makes the search nearly exact."""
        if line_search not in LINE_SEARCHES:
            raise ValueError(f"line_search: unknown {line_search!r} (valid: {', '.join(LINE_SEARCHES)})")
        if lr <= 0 or history_size < 1 or max_line_search < 1:
            raise ValueError("lr must be > 0, history_size and max_line_search >= 1")
        super().__init__(params, {"lower": None, "upper": None})
        self.lr, self.history_size, self.line_search = lr, history_size, line_search
        self.gtol, self.ftol, self.max_line_search, self.curvature_eps = gtol, ftol, max_line_search, curvature_eps
        self.wolfe_c2 = wolfe_c2

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:  # type: ignore[override]
        """One L-BFGS iteration; returns the loss at the new parameters (0-dim, on the device)."""
        params = parameters(self.param_groups)
        state = self.state[params[0]]
        lower, upper = box(self.param_groups)
        x = flat(params).clamp(lower, upper)
        if "pairs" not in state:
            state.update(self._empty_state(x))
        if "grad" not in state:
            state["loss"], state["grad"] = self._evaluate(closure, params, x)
        d = self._direction(x, state, lower, upper)
        search = self._strong_wolfe if self.line_search == "strong_wolfe" else self._backtracking
        x_new, f_new, g_new, accepted, failed = search(closure, params, x, d, state, lower, upper)
        self._advance(state, x, x_new, f_new, g_new, accepted, failed, lower, upper)
        assign(params, x_new)
        return f_new

    def stop_code(self) -> torch.Tensor:
        """0-dim int tensor on the device: 0 go on, else a key of `STOP_MESSAGES` (gtol, ftol, stalled)."""
        state = self.state[parameters(self.param_groups)[0]]
        if "pg_max" not in state:
            return torch.zeros((), dtype=torch.long)
        return torch.where(state["pg_max"] <= self.gtol, 1, torch.where(
            state["rel_change"] <= self.ftol, 2, torch.where(state["stalled"] > 0, 3, 0)))

    def objective_changed(self) -> None:
        """Forget the stored loss and gradient (not the history): the next step re-evaluates them."""
        state = self.state[parameters(self.param_groups)[0]]
        state.pop("loss", None)
        state.pop("grad", None)

    def _empty_state(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        zero = x.new_zeros(())
        return {"pairs": zero, "gamma": zero + 1, "t": zero + self.lr, "pg_max": zero + math.inf,
                "rel_change": zero + math.inf, "stalled": zero, **self._empty_memory(x)}

    def _empty_memory(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The curvature memory: `history_size` rows of steps and gradient changes."""
        m = self.history_size
        return {"S": x.new_zeros(m, x.numel()), "Y": x.new_zeros(m, x.numel()), "rho": x.new_zeros(m)}

    def _evaluate(self, closure: Callable[[], torch.Tensor], params: list[torch.Tensor],
                  x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Loss and flat gradient at `x` (written into the parameters first)."""
        assign(params, x)
        with torch.enable_grad():
            loss = closure()
        return loss.detach().reshape(()).to(x.dtype), flat_grad(params)

    def _direction(self, x: torch.Tensor, state: dict, lower: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
        """Two-loop direction on the free variables, never pointing out of the box; -gradient if not descent."""
        g = state["grad"]
        at_lower, at_upper = x <= lower, x >= upper
        held = active(x, g, lower, upper)
        free_g = torch.where(held, 0, g)
        first_scale = free_g.abs().sum().reciprocal().clamp(max=1)  # first step: |d|_1 <= 1, as torch does
        gamma = torch.where(state["pairs"] > 0, state["gamma"], first_scale)
        d = -self._inverse_hessian_times(free_g, state, gamma)
        d = torch.where(held | (at_lower & (d < 0)) | (at_upper & (d > 0)), 0, d)
        return torch.where(g.dot(d) < 0, d, -gamma * free_g)

    def _inverse_hessian_times(self, q: torch.Tensor, state: dict, gamma: torch.Tensor) -> torch.Tensor:
        """H q, H the inverse-Hessian approximation; `gamma` I before any curvature pair is stored."""
        return _two_loop(q, state["S"], state["Y"], state["rho"], gamma)

    def _backtracking(self, closure, params, x, d, state, lower, upper):
        """One Armijo trial at the stored step; a rejected trial keeps x and shrinks the step (no sync)."""
        f, g, t = state["loss"], state["grad"], state["t"]
        x_t = (x + t * d).clamp(lower, upper)
        f_t, g_t = self._evaluate(closure, params, x_t)
        slope, moved = g.dot(d), (x_t != x).any()
        ok = moved & torch.isfinite(f_t) & torch.isfinite(g_t).all() & (
            f_t <= f + ARMIJO * _decrease(g, x_t - x, t * slope))
        quadratic = -slope * t * t / (2 * (f_t - f - t * slope))  # minimizer of the interpolating parabola
        shrunk = torch.where(torch.isfinite(quadratic), quadratic.clamp(0.1 * t, 0.5 * t), 0.1 * t)
        failed = ~moved  # the step no longer moves the parameters: restart from an empty history (see _advance)
        state["t"] = torch.where(ok | failed, self.lr, shrunk)
        return torch.where(ok, x_t, x), torch.where(ok, f_t, f), torch.where(ok, g_t, g), ok, failed

    def _strong_wolfe(self, closure, params, x, d, state, lower, upper):
        """Strong Wolfe search along P(x + t d); one host read per trial (the branch it cannot avoid)."""
        f, g = state["loss"], state["grad"]
        f0, slope0, d_max, x_max = torch.stack((f, g.dot(d), d.abs().max(), x.abs().max())).tolist()
        min_width = torch.finfo(x.dtype).eps * (1 + x_max) / d_max if d_max > 0 else math.inf

        def trial(t: float) -> _Trial:
            x_t = (x + t * d).clamp(lower, upper)
            f_t, g_t = self._evaluate(closure, params, x_t)
            moving = torch.where(x + t * d == x_t, d, 0)  # clipped variables no longer move with t
            values = torch.stack((f_t, g_t.dot(moving), g.dot(x_t - x))).tolist()
            return _Trial(t, *values, point=(x_t, f_t, g_t))

        best = _wolfe_search(trial, _Trial(0.0, f0, slope0, 0.0), self.lr, self.max_line_search, min_width,
                             self.wolfe_c2)
        x_new, f_new, g_new = best.point if best is not None else (x, f, g)
        accepted = torch.full((), best is not None, device=x.device)
        return x_new, f_new, g_new, accepted, ~accepted

    def _advance(self, state, x, x_new, f_new, g_new, accepted, failed, lower, upper) -> None:
        """Store the new point, the curvature pair and the stopping measures; reset the history on failure."""
        f = state["loss"]
        self._remember(state, x_new - x, g_new - state["grad"])
        relative = (f - f_new) / torch.maximum(torch.maximum(f.abs(), f_new.abs()), torch.ones_like(f))
        state["rel_change"] = torch.where(accepted, relative, state["rel_change"])
        state["stalled"] = torch.where(failed & (state["pairs"] == 0), 1.0, state["stalled"])
        self._forget(state, failed)
        state["pg_max"] = ((x_new - g_new).clamp(lower, upper) - x_new).abs().max()
        state["loss"], state["grad"] = f_new, g_new

    def _forget(self, state: dict, failed: torch.Tensor) -> None:
        """After a failed search, drop the curvature history (the next direction is steepest descent)."""
        state["rho"] = torch.where(failed, 0, state["rho"])
        state["pairs"] = torch.where(failed, 0, state["pairs"])

    def _remember(self, state: dict, s: torch.Tensor, y: torch.Tensor) -> None:
        """Append (s, y), dropping the oldest pair, unless the curvature s.y <= eps |y|^2 (then skip)."""
        sy, yy = s.dot(y), y.dot(y)
        good = sy > self.curvature_eps * yy  # false for a rejected step (s = y = 0)
        for key, row in (("S", s), ("Y", y), ("rho", sy.reciprocal())):
            state[key] = torch.where(good, torch.cat((state[key][1:], row[None])), state[key])
        state["gamma"] = torch.where(good, sy / yy, state["gamma"])
        state["pairs"] = torch.where(good, (state["pairs"] + 1).clamp(max=self.history_size), state["pairs"])


@dataclass
class _Trial:
    """One line-search point: step t, loss f, slope dphi/dt, predicted decrease g0.(x_t - x0)."""

    t: float
    f: float
    slope: float
    arc: float
    point: Optional[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = None  # (x_t, loss, gradient) on device


def _wolfe_search(trial: Callable[[float], _Trial], start: _Trial, t: float, max_trials: int,
                  min_width: float, c2: float = CURVATURE) -> Optional[_Trial]:
    """Bracket a strong Wolfe step, then zoom; None when no trial decreased the loss."""
    prev = start
    for i in range(max_trials):
        cur = trial(t)
        if not _sufficient(cur, start) or (i > 0 and cur.f >= prev.f):
            return _zoom(trial, prev, cur, start, max_trials - i - 1, min_width, c2)
        if abs(cur.slope) <= -c2 * start.slope:
            return cur
        if cur.slope >= 0:
            return _zoom(trial, cur, prev, start, max_trials - i - 1, min_width, c2)
        prev, t = cur, _cubic(prev, cur, cur.t + 0.01 * (cur.t - prev.t), 10 * cur.t)
    return prev if prev.t > 0 else None


def _zoom(trial: Callable[[float], _Trial], lo: _Trial, hi: _Trial, start: _Trial, max_trials: int,
          min_width: float, c2: float) -> Optional[_Trial]:
    """Shrink the bracket [lo, hi] (lo: the best sufficient-decrease trial) until strong Wolfe holds."""
    for _ in range(max_trials):
        if abs(hi.t - lo.t) < min_width:
            break
        a, b = sorted((lo.t, hi.t))
        cur = trial(_cubic(lo, hi, a + 0.1 * (b - a), b - 0.1 * (b - a)))
        if not _sufficient(cur, start) or cur.f >= lo.f:
            hi = cur
            continue
        if abs(cur.slope) <= -c2 * start.slope:
            return cur
        if cur.slope * (hi.t - lo.t) >= 0:
            hi = lo
        lo = cur
    return lo if lo.t > 0 else None


def _sufficient(cur: _Trial, start: _Trial) -> bool:
    """Finite, and Armijo along the projected path (straight-line prediction if the path predicts no decrease)."""
    decrease = cur.arc if cur.arc < 0 else cur.t * start.slope
    return math.isfinite(cur.f) and math.isfinite(cur.slope) and cur.f <= start.f + ARMIJO * decrease


def _cubic(a: _Trial, b: _Trial, low: float, high: float) -> float:
    """Minimizer of the cubic matching f and slope at a and b, clipped to [low, high]; the midpoint if none."""
    middle = 0.5 * (low + high)
    if a.t == b.t or not all(map(math.isfinite, (a.f, b.f, a.slope, b.slope))):
        return middle
    d1 = a.slope + b.slope - 3 * (a.f - b.f) / (a.t - b.t)
    discriminant = d1 * d1 - a.slope * b.slope
    if discriminant < 0:
        return middle
    d2 = math.copysign(math.sqrt(discriminant), b.t - a.t)
    denominator = b.slope - a.slope + 2 * d2
    if denominator == 0:
        return middle
    t = b.t - (b.t - a.t) * (b.slope + d2 - d1) / denominator
    return min(max(t, low), high) if math.isfinite(t) else middle


def _decrease(g: torch.Tensor, step: torch.Tensor, straight: torch.Tensor) -> torch.Tensor:
    """Predicted decrease g.step along the projected path, or the straight-line one if that is not negative."""
    arc = g.dot(step)
    return torch.where(arc < 0, arc, straight)


def _two_loop(q: torch.Tensor, S: torch.Tensor, Y: torch.Tensor, rho: torch.Tensor,
              gamma: torch.Tensor) -> torch.Tensor:
    """H q for the L-BFGS inverse-Hessian approximation (Nocedal & Wright Alg. 7.4), newest pair last."""
    alphas = []
    for i in reversed(range(len(rho))):
        alphas.append(rho[i] * S[i].dot(q))
        q = q - alphas[-1] * Y[i]
    r = gamma * q
    for i, alpha in zip(range(len(rho)), reversed(alphas)):
        r = r + (alpha - rho[i] * Y[i].dot(r)) * S[i]
    return r


class QuasiNewtonOptions(PhaseOptions):
    """What every native quasi-Newton phase takes (L-BFGS, and the dense BFGS family in `bfgs.py`)."""

    lr: float = Field(1.0, gt=0, description="first trial step of each line search")
    ftol: float = Field(1e-15, ge=0, description="stop when the relative loss reduction is below ftol")
    gtol: float = Field(1e-10, ge=0, description="stop when the largest projected gradient entry is below gtol")
    line_search: Literal["strong_wolfe", "backtracking"] = Field("strong_wolfe", description="strong Wolfe "
                                                                 "(one host read per trial) or Armijo backtracking "
                                                                 "(none: for GPUs)")
    max_line_search: int = Field(25, gt=0, description="strong Wolfe trials per iteration")
    check_every: int = Field(10, gt=0, description="read the stopping tests every k iterations (a host sync)")


class LBFGSOptions(QuasiNewtonOptions):
    """The native L-BFGS keys."""

    optimizer: Literal["lbfgs"]
    history_size: int = Field(50, gt=0, description="correction pairs kept")


class LBFGSPhase(OptimizerPhase):
    """`optimizer = "lbfgs"`: the native `LBFGS`, on the model's device and dtype, bounds included.
    At a point redraw the curvature memory carries over and the loss and gradient are evaluated afresh."""

    Options = LBFGSOptions
    distributed = True  # losses and gradients summed over the processes: every trial and branch the same

    def make_optimizer(self, groups: list[dict]) -> LBFGS:
        o = self.options
        return LBFGS(groups, lr=o.lr, history_size=o.history_size, line_search=o.line_search, gtol=o.gtol,
                     ftol=o.ftol, max_line_search=o.max_line_search)

    def start(self, groups: list[dict], objective: ObjectiveView) -> None:
        self.optimizer = self.make_optimizer(groups)
        self.evaluate = gradient_closure(parameters(groups), objective.loss, processes=objective.processes)

    def step(self, k: int) -> Step:
        """One iteration; every `check_every` iterations the stopping tests are read (one host sync)."""
        loss = self.optimizer.step(self.evaluate)
        if (k + 1) % self.options.check_every == 0 and (code := int(self.optimizer.stop_code())):
            return Step(loss, "converged", STOP_MESSAGES[code])
        return Step(loss)

    def redrawn(self) -> None:
        self.optimizer.objective_changed()
