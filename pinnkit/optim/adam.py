"""Adam (decoupled weight decay when asked): the usual warmup phase of a PINN."""
from __future__ import annotations

from typing import Literal

import torch
from pydantic import BaseModel

from .first_order import FirstOrderOptions, run_steps
from .phase import Closure, Monitor, PhaseResult


class AdamKeys(BaseModel):
    """Adam's own keys (shared with SAM over Adam)."""

    beta1: float = 0.9
    beta2: float = 0.999


class AdamOptions(FirstOrderOptions, AdamKeys):
    optimizer: Literal["adam"]


def adamw(groups: list[dict], o: FirstOrderOptions) -> torch.optim.AdamW:
    """torch's AdamW from options with Adam's keys."""
    return torch.optim.AdamW(groups, lr=o.lr, betas=(o.beta1, o.beta2), weight_decay=o.weight_decay)


class AdamPhase:
    """`optimizer = "adam"`: torch's AdamW under a learning-rate schedule."""

    Options = AdamOptions

    def __init__(self, options: AdamOptions):
        self.options = options

    def run(self, groups: list[dict], closure: Closure, monitor: Monitor) -> PhaseResult:
        return run_steps(adamw(groups, self.options), self.options, groups, closure, monitor)
