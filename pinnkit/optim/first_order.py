"""What the first-order phases (Adam, SGD, SAM, AdaHessian) share: learning-rate schedules and their step.

One iteration is one optimizer step on one loss evaluation, followed by the projection of bounded
parameters and a learning-rate schedule step.
"""
from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import Field, model_validator

from .closures import ObjectiveView, gradient_closure
from .params import parameters, project
from .phase import OptimizerPhase, PhaseOptions, Step


class FirstOrderOptions(PhaseOptions):
    """Learning rate and its schedule: constant, exponential decay, or cosine annealing."""

    lr: float = Field(1e-3, gt=0, description="learning rate (at the start of a schedule)")
    schedule: Literal["constant", "exponential", "cosine"] = Field("constant", description="how lr changes over "
                                                                   "the phase")
    decay_rate: float = Field(0.9, gt=0, le=1, description="exponential: lr * decay_rate ** (k / decay_steps)")
    decay_steps: int = Field(1000, gt=0, description="exponential: iterations per decay_rate factor")
    min_lr: float = Field(0.0, ge=0, description="cosine: the learning rate at the last iteration (<= lr)")
    weight_decay: float = Field(0.0, ge=0, description="decoupled (AdamW-style) weight decay")

    @model_validator(mode="after")
    def _check_min_lr(self) -> "FirstOrderOptions":
        if self.min_lr > self.lr:
            raise ValueError(f"min_lr ({self.min_lr}) must not exceed lr ({self.lr})")
        return self


def lr_factor(options: FirstOrderOptions, k: int) -> float:
    """Multiplier of the base learning rate at iteration k."""
    if options.schedule == "exponential":
        return options.decay_rate ** (k / options.decay_steps)
    if options.schedule == "cosine":
        floor = options.min_lr / options.lr
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(k / options.iterations, 1.0)))
    return 1.0


class FirstOrderPhase(OptimizerPhase):
    """A `torch.optim` optimizer (`make_optimizer`) under a learning-rate schedule, bounds by projection."""

    options: FirstOrderOptions
    create_graph = False  # keep the gradient's graph for the optimizer (Hessian-vector products)
    distributed = True  # the loss and its gradient summed over the processes (`gradient_closure`)

    def make_optimizer(self, groups: list[dict]) -> torch.optim.Optimizer:
        raise NotImplementedError

    def start(self, groups: list[dict], objective: ObjectiveView) -> None:
        self.groups, self.optimizer = groups, self.make_optimizer(groups)
        self.evaluate = gradient_closure(parameters(groups), objective.loss, self.create_graph, objective.processes)

    def learning_rate(self, k: int) -> float:
        return self.options.lr * lr_factor(self.options, k)

    def step(self, k: int) -> Step:
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate(k)
        loss = self.optimizer.step(self.evaluate)
        project(self.groups)
        return Step(loss.detach())
