"""The loop shared by the first-order phases (Adam, and later SGD and AdaHessian).

One iteration is one optimizer step on one loss evaluation, followed by the
projection of bounded parameters and a learning-rate schedule step.
"""
from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import Field

from .phase import BUDGET_MESSAGES, Closure, Monitor, PhaseOptions, PhaseResult, project


class FirstOrderOptions(PhaseOptions):
    """Learning rate and its schedule: constant, exponential decay, or cosine annealing."""

    lr: float = Field(1e-3, gt=0)
    schedule: Literal["constant", "exponential", "cosine"] = "constant"
    decay_rate: float = Field(0.9, gt=0, le=1, description="exponential: lr * decay_rate ** (k / decay_steps)")
    decay_steps: int = Field(1000, gt=0)
    min_lr: float = Field(0.0, ge=0, description="cosine: the learning rate at the last iteration")
    weight_decay: float = Field(0.0, ge=0, description="decoupled (AdamW-style) weight decay")


def lr_factor(options: FirstOrderOptions, k: int) -> float:
    """Multiplier of the base learning rate at iteration k."""
    if options.schedule == "exponential":
        return options.decay_rate ** (k / options.decay_steps)
    if options.schedule == "cosine":
        floor = options.min_lr / options.lr
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(k / options.iterations, 1.0)))
    return 1.0


def run_steps(optimizer: torch.optim.Optimizer, options: FirstOrderOptions, groups: list[dict],
              closure: Closure, monitor: Monitor, backward: dict | None = None) -> PhaseResult:
    """Step `optimizer` until the budget or the trainer stops it; return the phase result.

    `backward` holds keyword arguments for `loss.backward` (AdaHessian needs `create_graph=True`).
    """
    monitor.attach(optimizer)
    first = monitor.iterations  # > 0 when the phase continues from a checkpoint
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: lr_factor(options, first + k))

    def evaluate() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        loss = closure()
        loss.backward(**(backward or {}))
        monitor.evaluated()
        return loss

    k, reason, loss = first, None, torch.tensor(math.nan)
    while reason is None:
        loss = optimizer.step(evaluate)
        project(groups)
        scheduler.step()
        k += 1
        reason = monitor.iteration_done(k)
    return monitor.result(options.optimizer, reason, BUDGET_MESSAGES[reason], float(loss.detach()))
