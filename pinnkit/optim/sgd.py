"""SGD with (Nesterov) momentum under the learning-rate schedules of Adam (`optimizer = "sgd"`)."""
from __future__ import annotations

from typing import Literal

import torch
from pydantic import BaseModel, Field, model_validator

from .first_order import FirstOrderOptions, FirstOrderPhase


class MomentumKeys(BaseModel):
    """SGD's own keys (shared with SAM over SGD)."""

    momentum: float = Field(0.9, ge=0, lt=1, description="heavy-ball momentum (0: plain gradient descent)")
    nesterov: bool = Field(False, description="Nesterov's look-ahead form of the momentum")

    @model_validator(mode="after")
    def _check_nesterov(self) -> "MomentumKeys":
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov = true needs momentum > 0")
        return self


class SGDOptions(FirstOrderOptions, MomentumKeys):
    """SGD's keys: the first-order schedule keys and its momentum."""

    optimizer: Literal["sgd"]


def sgd(groups: list[dict], o: FirstOrderOptions) -> torch.optim.SGD:
    """torch's SGD from options with SGD's keys (`weight_decay` enters the gradient, as torch's SGD does)."""
    return torch.optim.SGD(groups, lr=o.lr, momentum=o.momentum, nesterov=o.nesterov, weight_decay=o.weight_decay)


class SGDPhase(FirstOrderPhase):
    """`optimizer = "sgd"`: torch's SGD with momentum under a learning-rate schedule."""

    Options = SGDOptions

    def make_optimizer(self, groups: list[dict]) -> torch.optim.SGD:
        return sgd(groups, self.options)
