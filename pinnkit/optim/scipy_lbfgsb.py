"""SciPy's L-BFGS-B as a phase: float64 vector in, loss and gradient from one evaluation.

All trainable tensors are flattened into one vector; network weights are
unbounded and bounded PDE parameters get SciPy box bounds. SciPy's own
termination message is kept in the result. SciPy's internal state (its L-BFGS
history) cannot be saved: a phase continued from a checkpoint starts SciPy afresh
from the current weights with the remaining budget. SciPy's BLAS works on vectors of a few thousand
entries here, where its threads only add wake-up latency (3-6 ms an evaluation on a busy
2-core CPU: SciPy took 4% of the shipped Burgers phase, under 1% with one thread), so they
are held to one during the phase.
"""
from __future__ import annotations

import math
from typing import Literal, Optional

import numpy as np
import scipy.optimize
import torch
from pydantic import Field
from threadpoolctl import ThreadpoolController

from .phase import BUDGET_MESSAGES, Closure, Monitor, PhaseOptions, PhaseResult


class LBFGSBOptions(PhaseOptions):
    optimizer: Literal["lbfgsb"]
    ftol: float = Field(1e-15, ge=0, description="stop when the relative loss reduction is below ftol")
    gtol: float = Field(1e-10, ge=0, description="stop when the largest projected gradient entry is below gtol")
    history_size: int = Field(50, gt=0, description="correction pairs kept (SciPy's maxcor)")
    max_line_search: int = Field(50, gt=0, description="line-search steps per iteration (SciPy's maxls)")


def _bounds(groups: list[dict]) -> Optional[list[tuple]]:
    """Per-entry (low, high) bounds in flattening order, or None when nothing is bounded."""
    bounds = []
    for group in groups:
        lo, hi = group.get("lower"), group.get("upper")
        for p in group["params"]:
            bounds += [(lo, hi)] * p.numel()
    return bounds if any(b != (None, None) for b in bounds) else None


class ScipyLBFGSBPhase:
    """`optimizer = "lbfgsb"`: `scipy.optimize.minimize(method="L-BFGS-B", jac=True)`."""

    Options = LBFGSBOptions

    def __init__(self, options: LBFGSBOptions):
        self.options = options

    def run(self, groups: list[dict], closure: Closure, monitor: Monitor) -> PhaseResult:
        params = [p for g in groups for p in g["params"]]
        stop = {}

        def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
            _assign(params, x)
            for p in params:
                p.grad = None
            loss = closure()
            loss.backward()
            monitor.evaluated()
            grad = torch.cat([p.grad.reshape(-1) for p in params])
            return float(loss.detach()), grad.detach().to("cpu", torch.float64).numpy()

        def callback(intermediate_result) -> None:
            _assign(params, intermediate_result.x)
            stop["reason"] = monitor.iteration_done(monitor.iterations + 1)
            if stop["reason"] is not None:
                raise StopIteration

        o = self.options
        x0 = torch.cat([p.detach().reshape(-1) for p in params]).to("cpu", torch.float64).numpy()
        maxfun = o.max_evaluations - monitor.evaluations if o.max_evaluations else 2**31 - 1
        with ThreadpoolController().select(prefix="libscipy_openblas").limit(limits=1):  # SciPy's, not torch's
            res = scipy.optimize.minimize(
                fun, x0, jac=True, method="L-BFGS-B", bounds=_bounds(groups), callback=callback,
                options={"maxiter": o.iterations - monitor.iterations, "maxfun": maxfun, "ftol": o.ftol,
                         "gtol": o.gtol, "maxcor": o.history_size, "maxls": o.max_line_search})
        _assign(params, res.x)
        return self._result(res, stop.get("reason"), monitor)

    def _result(self, res, reason: Optional[str], monitor: Monitor) -> PhaseResult:
        loss = float(res.fun) if np.isfinite(res.fun) else math.nan
        if reason is not None:
            return monitor.result("lbfgsb", reason, BUDGET_MESSAGES[reason], loss)
        message = str(res.message)
        if "ITERATIONS REACHED LIMIT" in message.upper():
            status = "completed"
        elif "NUMBER OF FUNCTION EVALUATIONS" in message.upper():
            status = "max_evaluations"
        elif res.success:
            status = "converged"
        else:
            status = "failed" if np.isfinite(res.fun) else "diverged"
        return monitor.result("lbfgsb", status, f"SciPy: {message}", loss)


@torch.no_grad()
def _assign(params: list[torch.Tensor], x: np.ndarray) -> None:
    """Copy the float64 vector `x` into the parameters, casting to their dtype and device."""
    flat = torch.from_numpy(np.asarray(x))
    offset = 0
    for p in params:
        n = p.numel()
        p.copy_(flat[offset:offset + n].view_as(p))
        offset += n
