"""What the first-order phases (Adam, SGD, SAM, AdaHessian) share: learning-rate schedules and their step.

One iteration is one optimizer step on one loss evaluation, followed by the projection of bounded
parameters and a learning-rate schedule step. With `last_layer_every`, the network's last linear layer is
fitted by least squares, the rest held, before every k-th step (the hybrid of Cyr, Gulian, Patel, Perego &
Trask 2020, "Robust training and initialization of deep neural networks: an adaptive basis viewpoint"): the
gradient steps then move the hidden layers, the basis, for a last layer that is always the best for it.
"""
from __future__ import annotations

import math
from typing import Literal, Optional

import torch
from pydantic import Field, model_validator

from .closures import ObjectiveView, Residuals, gradient_closure
from .lm import LevenbergMarquardt
from .params import parameters, project
from .phase import OptimizerPhase, PhaseOptions, Sizes, Step

LAST_LAYER_NEEDS = ('last_layer_every needs the linear layers the residual passes through: pinnkit\'s MLP with '
                    'model.engine = "jet"')


class FirstOrderOptions(PhaseOptions):
    """Learning rate and its schedule: constant, exponential decay, or cosine annealing."""

    lr: float = Field(1e-3, gt=0, description="learning rate (at the start of a schedule)")
    schedule: Literal["constant", "exponential", "cosine"] = Field("constant", description="how lr changes over "
                                                                   "the phase")
    decay_rate: float = Field(0.9, gt=0, le=1, description="exponential: lr * decay_rate ** (k / decay_steps)")
    decay_steps: int = Field(1000, gt=0, description="exponential: iterations per decay_rate factor")
    min_lr: float = Field(0.0, ge=0, description="cosine: the learning rate at the last iteration (<= lr)")
    weight_decay: float = Field(0.0, ge=0, description="decoupled (AdamW-style) weight decay")
    last_layer_every: int = Field(0, ge=0, description="fit the network's last linear layer by least squares "
                                  "(damped Gauss-Newton, the rest held) before every k-th iteration and after "
                                  "the last of `iterations`; 0: never")
    last_layer_steps: int = Field(1, gt=0, le=100, description="Levenberg-Marquardt steps per fit: one is exact "
                                  "where the residual is linear in the last layer (a linear PDE)")
    last_layer_damping: Optional[float] = Field(None, gt=0, le=1, description="the fit's first damping, times the "
                                                "largest diagonal entry of J^T J (default: 1e4 times the working "
                                                "precision's machine epsilon)")

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

    def validate(self, sizes: Sizes) -> None:
        if self.options.last_layer_every and not sizes.taps:
            raise ValueError(LAST_LAYER_NEEDS)

    def start(self, groups: list[dict], objective: ObjectiveView) -> None:
        self.groups, self.optimizer = groups, self.make_optimizer(groups)
        self.evaluate = gradient_closure(parameters(groups), objective.loss, self.create_graph, objective.processes)
        self.residuals = objective.residuals
        if self.options.last_layer_every and (self.residuals is None or self.residuals.taps is None):
            raise ValueError(LAST_LAYER_NEEDS)

    def learning_rate(self, k: int) -> float:
        return self.options.lr * lr_factor(self.options, k)

    def step(self, k: int) -> Step:
        if self.options.last_layer_every and k % self.options.last_layer_every == 0:
            fit_last_layer(self.residuals, self.options.last_layer_steps, self.options.last_layer_damping)
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate(k)
        loss = self.optimizer.step(self.evaluate)
        project(self.groups)
        if self.options.last_layer_every and k + 1 == self.options.iterations:  # hand the next phase a fitted layer
            loss = fit_last_layer(self.residuals, self.options.last_layer_steps, self.options.last_layer_damping)
        return Step(loss.detach())


def fit_last_layer(residuals: Residuals, steps: int, damping: Optional[float] = None) -> torch.Tensor:
    """`steps` Levenberg-Marquardt steps over the last linear layer r passes through (`Residuals.taps`), the other
    parameters held, from `damping` (relative; default near the working precision's): where r is linear in that
    layer, the first is its least-squares fit. Each step lowers ||r||^2 or leaves the layer as it was; returns
    ||r||^2 after them."""
    weight, bias = residuals.taps.layers[-1]
    layer = [p for p in (weight, bias) if p is not None]
    solver = LevenbergMarquardt(layer, damping=damping or 1e4 * torch.finfo(weight.dtype).eps)
    for _ in range(steps):
        loss = solver.step(residuals)
    return loss
