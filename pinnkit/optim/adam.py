"""Adam (decoupled weight decay when asked): the usual warmup phase of a PINN."""
from __future__ import annotations

from typing import Literal

import torch

from .first_order import FirstOrderOptions, run_steps
from .phase import Closure, Monitor, PhaseResult


class AdamOptions(FirstOrderOptions):
    optimizer: Literal["adam"]
    beta1: float = 0.9
    beta2: float = 0.999


class AdamPhase:
    """`optimizer = "adam"`: torch's AdamW under a learning-rate schedule."""

    Options = AdamOptions

    def __init__(self, options: AdamOptions):
        self.options = options

    def run(self, groups: list[dict], closure: Closure, monitor: Monitor) -> PhaseResult:
        o = self.options
        optimizer = torch.optim.AdamW(groups, lr=o.lr, betas=(o.beta1, o.beta2), weight_decay=o.weight_decay)
        return run_steps(optimizer, o, groups, closure, monitor)
