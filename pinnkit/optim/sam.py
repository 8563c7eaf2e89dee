"""Sharpness-aware minimization (Foret et al. 2020) over Adam or SGD (`optimizer = "sam"`)."""
from __future__ import annotations

from typing import Callable, Iterable, Literal

import torch
from pydantic import Field

from .adam import AdamKeys, adamw
from .first_order import FirstOrderOptions, FirstOrderPhase
from .sgd import MomentumKeys, sgd


class SAM(torch.optim.Optimizer):
    """SAM: the gradient at the worst nearby point x + rho g / ||g||, applied from x by a base optimizer.

    One `step(closure)` evaluates the closure twice (it zeroes the gradients, computes the loss, calls
    `backward()` and returns the loss): at x for g, then at the perturbed point; the parameters go back
    to x and the base optimizer steps with the second gradient. Returns the loss at x. The parameter
    groups are the base optimizer's (learning-rate schedules reach it); so is the state dict, since SAM
    keeps nothing between steps.

    Example:
        >>> opt = SAM(net.parameters(), lambda groups: torch.optim.SGD(groups, lr=0.1), rho=0.05)
    """

    def __init__(self, params: Iterable, base: Callable[[list[dict]], torch.optim.Optimizer], rho: float = 0.05):
        if rho <= 0:
            raise ValueError("rho must be > 0")
        super().__init__(params, {})
        self.base, self.rho = base(self.param_groups), rho
        self.param_groups, self.defaults = self.base.param_groups, self.base.defaults

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:  # type: ignore[override]
        """One SAM step (two closure evaluations); returns the loss at the parameters before it."""
        with torch.enable_grad():
            loss = closure()
        params = [p for group in self.param_groups for p in group["params"] if p.grad is not None]
        norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params]))
        shifts = [self.rho * p.grad / norm.clamp(min=torch.finfo(norm.dtype).tiny) for p in params]
        for p, shift in zip(params, shifts):
            p.add_(shift)
        with torch.enable_grad():
            closure()
        for p, shift in zip(params, shifts):
            p.sub_(shift)
        self.base.step()
        return loss

    def state_dict(self) -> dict:
        return self.base.state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        self.base.load_state_dict(state_dict)
        self.param_groups = self.base.param_groups  # loading replaced the base's list of groups


class SAMOptions(FirstOrderOptions, AdamKeys, MomentumKeys):
    """SAM's keys: its base optimizer's, and the perturbation radius."""

    optimizer: Literal["sam"]
    base: Literal["adam", "sgd"] = Field("adam", description="the optimizer SAM steps with (its keys apply)")
    rho: float = Field(0.05, gt=0, description="radius of the perturbation")


BASES = {"adam": adamw, "sgd": sgd}


class SAMPhase(FirstOrderPhase):
    """`optimizer = "sam"`: `SAM` over Adam or SGD, under the base's learning-rate schedule."""

    Options = SAMOptions

    def make_optimizer(self, groups: list[dict]) -> SAM:
        o = self.options
        return SAM(groups, lambda g: BASES[o.base](g, o), rho=o.rho)
