"""A toy objective for the weighting schemes' tests: u = 0.3 x - 0.2 (a linear layer) on fixed points of [0, 1]."""
from typing import Callable

import numpy as np
import torch

from pinnkit.loss import Objective, TermGroup
from pinnkit.operators import Derivatives


def group(name: str, residual: Callable, points: int = 16, adaptive: bool = False) -> TermGroup:
    """One term `name` = residual(d) on `points` evenly spaced points of [0, 1]."""
    return TermGroup(sample=lambda rng: {"points": np.linspace(0, 1, points)[:, None]}, derivatives=(),
                     residuals=lambda d, batch: {name: residual(d)}, owner=name, adaptive=adaptive)


def linear_objective(groups: list[TermGroup]) -> Objective:
    """The groups' objective for u = 0.3 x - 0.2, sampled, in float64 on the CPU."""
    model = torch.nn.Linear(1, 1, dtype=torch.float64)
    with torch.no_grad():
        model.weight.fill_(0.3)
        model.bias.fill_(-0.2)

    def engine(model, points, coords, fields, derivatives, owner="problem"):
        return Derivatives({"x": points[:, 0], "u": model(points)[:, 0]})

    engine.eager = lambda: engine  # what the objective's engines offer: an uncompiled twin
    objective = Objective(model, groups, ("x",), ("u",), {}, engine)
    objective.sample(np.random.default_rng(0))
    objective.to(torch.device("cpu"), torch.float64)
    return objective
