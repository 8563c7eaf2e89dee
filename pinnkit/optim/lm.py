"""Levenberg-Marquardt (damped Gauss-Newton with adaptive damping) and its phase (`optimizer = "lm"`)."""
from __future__ import annotations

from typing import Iterable, Literal

import torch
from pydantic import Field

from .closures import ResidualClosure, as_residuals, squared_norm
from .gauss_newton import DampedOptimizer, JacobianOptions, JacobianPhase, Space, damped_trials, gauss_newton_system
from .params import flat, parameters


class LevenbergMarquardt(DampedOptimizer):
    """Levenberg-Marquardt on a least-squares loss ||r||^2, with Nielsen's damping rule.

    One `step(closure)` forms r and its Jacobian J at the current parameters, then tries damped
    Gauss-Newton steps (`gauss_newton.DampedSystem`) until one lowers the loss: the gain ratio
    rho = actual / predicted reduction accepts it and shrinks the damping by max(1/3, 1 - (2 rho - 1)^3),
    or rejects it and grows the damping by nu (nu doubling on each rejection in a row). The closure
    returns r (N,) (or is a `Residuals`, which also gives r in independent blocks: J is then cheaper).
    Bounds per group (`lower`/`upper`) are kept by projecting every trial point.

    State (`self.state[first parameter]`): `damping` lam, `nu` its growth factor, `loss` at the last
    accepted point; `stalled` 1 when no trial lowered the loss up to `max_damping`.

    Example (an exponential fit):
        >>> a = torch.zeros(2, dtype=torch.float64, requires_grad=True)
        >>> opt = LevenbergMarquardt([a])
        >>> for _ in range(20):
        ...     opt.step(lambda: a[0] * torch.exp(a[1] * t) - y)
    """

    def __init__(self, params: Iterable, damping: float = 1e-3, space: Space = "auto", max_memory_gb: float = 2.0,
                 max_trials: int = 10, max_damping: float = 1e16):
        if damping <= 0 or max_trials < 1 or max_memory_gb <= 0:
            raise ValueError("damping and max_memory_gb must be > 0, max_trials >= 1")
        super().__init__(params, {"lower": None, "upper": None})
        self.damping, self.space, self.max_memory_gb = damping, space, max_memory_gb
        self.max_trials, self.max_damping = max_trials, max_damping

    @torch.no_grad()
    def step(self, closure: ResidualClosure) -> torch.Tensor:  # type: ignore[override]
        """One Jacobian, up to `max_trials` damped steps; returns the loss at the new parameters."""
        residuals, params = as_residuals(closure), parameters(self.param_groups)
        state = self.state[params[0]]
        system, f = gauss_newton_system(self.param_groups, residuals, self.space, self.max_memory_gb)
        x = flat(params)
        if "damping" not in state:
            state.update(damping=self.damping * float(system.scale()), nu=2.0, stalled=0.0)
        return damped_trials(self.param_groups, x, f, system, system.reduction, squared_norm(residuals, x), state,
                             self.max_trials, self.max_damping)


class LMOptions(JacobianOptions):
    """Levenberg-Marquardt's keys."""

    optimizer: Literal["lm"]
    damping: float = Field(1e-3, gt=0, le=1e6, description="initial damping, times the largest diagonal entry "
                                                            "of J^T J")
    max_trials: int = Field(10, gt=0, le=100, description="damped steps tried per Jacobian")


class LMPhase(JacobianPhase):
    """`optimizer = "lm"`: `LevenbergMarquardt`, float64 by default, bounds by projection."""

    Options = LMOptions
    distributed = True  # J^T J and J^T r summed over the processes (`gauss_newton.summed_system`)

    def make_optimizer(self, groups: list[dict]) -> LevenbergMarquardt:
        o = self.options
        return LevenbergMarquardt(groups, damping=o.damping, space=o.space, max_memory_gb=o.max_memory_gb,
                                  max_trials=o.max_trials)
