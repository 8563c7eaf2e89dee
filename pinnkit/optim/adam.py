"""Adam (decoupled weight decay when asked): the usual warmup phase of a PINN."""
from __future__ import annotations

from typing import Literal

import torch
from pydantic import BaseModel, Field

from .first_order import FirstOrderOptions, FirstOrderPhase


class AdamKeys(BaseModel):
    """Adam's own keys (shared with SAM over Adam)."""

    beta1: float = Field(0.9, ge=0, lt=1, description="decay of the gradient's moving average")
    beta2: float = Field(0.999, ge=0, lt=1, description="decay of the squared gradient's moving average")
    eps: float = Field(1e-8, gt=0, le=1, description="added to the root of the second moment")


class AdamOptions(FirstOrderOptions, AdamKeys):
    """Adam's keys: the first-order schedule keys and its moments."""

    optimizer: Literal["adam"]


def adamw(groups: list[dict], o: FirstOrderOptions) -> torch.optim.AdamW:
    """torch's AdamW from options with Adam's keys."""
    return torch.optim.AdamW(groups, lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps, weight_decay=o.weight_decay)


class AdamPhase(FirstOrderPhase):
    """`optimizer = "adam"`: torch's AdamW under a learning-rate schedule."""

    Options = AdamOptions

    def make_optimizer(self, groups: list[dict]) -> torch.optim.AdamW:
        return adamw(groups, self.options)
