"""The line search of the natural-gradient and Kronecker-factored phases: the best of x + eta d over a fixed
grid of step sizes eta = 1, 1/2, ..., 2^-(n-1) (Mueller & Zeinhofer 2023), one loss evaluation per step size.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch

from .params import assign, flat, parameters, project


def step_grid(n: int) -> tuple[float, ...]:
    """The step sizes 2^-k, k = 0 .. n - 1."""
    return tuple(2.0**-k for k in range(n))


def try_step(groups: list[dict], x: torch.Tensor, d: torch.Tensor,
             loss: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Move the parameters to the projection of x + d onto the bounds; the step taken, and the loss ||r||^2 there
    (`loss()`: `closures.squared_norm`)."""
    params = parameters(groups)
    assign(params, x + d)
    project(groups)
    with torch.enable_grad():
        value = loss()
    return flat(params) - x, value


def grid_search(groups: list[dict], x: torch.Tensor, d: torch.Tensor, loss: torch.Tensor, steps: Sequence[float],
                trial: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, float]:
    """Move the parameters to the best of x + eta d over the step sizes `steps` (x itself, with eta = 0,
    when none lowers `loss`, the loss at x; `trial()`: the loss at the current parameters); returns that loss
    and eta."""
    best, best_f, best_eta = x, loss, 0.0
    for eta in steps:
        step, f = try_step(groups, x, eta * d, trial)
        if f < best_f:
            best, best_f, best_eta = x + step, f, eta
    assign(parameters(groups), best)
    return best_f, best_eta
