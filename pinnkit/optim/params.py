"""Parameter groups as one flat vector, and their box bounds: what every optimizer phase shares.

A group may carry `lower=` / `upper=` (scalars or tensors shaped like its parameters; absent or None
means unbounded). Flattening follows the groups' order, parameter by parameter.
"""
from __future__ import annotations

import math
from typing import Optional, Union

import numpy as np
import torch
from torch.nn.utils import parameters_to_vector

Bound = Union[None, float, torch.Tensor]


def parameters(groups: list[dict]) -> list[torch.Tensor]:
    """Every parameter of the groups, in order."""
    return [p for group in groups for p in group["params"]]


def flat(params: list[torch.Tensor]) -> torch.Tensor:
    """The parameters' values as one detached vector."""
    return parameters_to_vector([p.detach() for p in params])


def flat_grad(params: list[torch.Tensor]) -> torch.Tensor:
    """The parameters' gradients as one vector, zeros where a parameter has none."""
    return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params])


@torch.no_grad()
def assign(params: list[torch.Tensor], x: Union[torch.Tensor, np.ndarray]) -> None:
    """Copy the flat vector `x` (a tensor or a NumPy array) into the parameters, cast to their dtype and device.

    A copy, not `vector_to_parameters`'s rebinding of `.data`: the parameters never alias `x`."""
    x = torch.as_tensor(x)
    offset = 0
    for p in params:
        p.copy_(x[offset:offset + p.numel()].view_as(p))
        offset += p.numel()


def assign_grads(params: list[torch.Tensor], g: torch.Tensor) -> None:
    """Set the parameters' gradients from the flat vector `g` (each its own copy)."""
    offset = 0
    for p in params:
        p.grad = g[offset:offset + p.numel()].view_as(p).clone()
        offset += p.numel()


def _bound(value: Bound, p: torch.Tensor, default: float) -> torch.Tensor:
    """A group's bound as a flat tensor like `p` (a fill, not a host copy, for scalars)."""
    if value is None or not torch.is_tensor(value):
        return torch.full((p.numel(),), default if value is None else value, dtype=p.dtype, device=p.device)
    return value.to(p.device, p.dtype).expand_as(p).reshape(-1)


def box(groups: list[dict]) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat lower and upper bounds in parameter order, -inf / +inf where a group is unbounded."""
    lows, highs = [], []
    for group in groups:
        for p in group["params"]:
            lows.append(_bound(group.get("lower"), p, -math.inf))
            highs.append(_bound(group.get("upper"), p, math.inf))
    return torch.cat(lows), torch.cat(highs)


def scalar_bounds(groups: list[dict]) -> Optional[list[tuple[Optional[float], Optional[float]]]]:
    """Per-entry (low, high) pairs in flattening order (SciPy's form), or None when nothing is bounded."""
    bounds = []
    for group in groups:
        pair = (group.get("lower"), group.get("upper"))
        for p in group["params"]:
            bounds += [pair] * p.numel()
    return bounds if any(b != (None, None) for b in bounds) else None


def active(x: torch.Tensor, g: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
    """The active set: entries at a bound whose gradient `g` points out of the box (a descent step would leave
    it). Optimizers hold these where they are and move the others as if they were constants."""
    return ((x <= lower) & (g > 0)) | ((x >= upper) & (g < 0))


@torch.no_grad()
def project(groups: list[dict]) -> None:
    """Clamp every parameter into its group's `lower`/`upper` bounds (absent: unbounded)."""
    for group in groups:
        lower, upper = group.get("lower"), group.get("upper")
        if lower is None and upper is None:
            continue
        for p in group["params"]:
            p.clamp_(min=lower, max=upper)
