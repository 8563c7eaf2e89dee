"""Forward jets of the MLP to the fourth order along single coordinates: u_x, u_xx, u_xxx, u_xxxx, u_t.

KdV's u_xxx and Kuramoto-Sivashinsky's u_xxxx by nested autograd cost one more backward graph per order.
Along one coordinate at a time, the derivatives of h = act(z) follow from z's by Faa di Bruno's formula:
    h' = a1 z',  h'' = a2 z'^2 + a1 z'',  h''' = a3 z'^3 + 3 a2 z' z'' + a1 z''',
    h'''' = a4 z'^4 + 6 a3 z'^2 z'' + a2 (3 z''^2 + 4 z' z''') + a1 z''''   (a_k = act^(k)(z)),
so every order travels through the layers with the value, one matrix product per layer as in `jets.py`, and
training needs one backward pass. Mixed derivatives (u_xt) are not covered: `jets.py` takes them to the
second order, nested autograd beyond.
"""
from __future__ import annotations

import math
from typing import Callable, Mapping

import torch

from .jets import layer_product
from .nets import MLP

MAX_ORDER = 4


def _tanh(z: torch.Tensor) -> list[torch.Tensor]:
    """tanh and its first four derivatives, each from the ones before (t' = 1 - t^2)."""
    t = torch.tanh(z)
    a1 = 1 - t * t
    a2 = -2 * t * a1
    a3 = -2 * a1 * a1 - 2 * t * a2
    return [t, a1, a2, a3, -6 * a1 * a2 - 2 * t * a3]


def _sin(z: torch.Tensor) -> list[torch.Tensor]:
    s, c = torch.sin(z), torch.cos(z)
    return [s, c, -s, -c, s]


def _sincos(z: torch.Tensor) -> list[torch.Tensor]:
    """The Fourier feature map [sin z, cos z] and its derivatives, from z stacked twice along features (2 w, N):
    cos z = sin(z + pi / 2)."""
    half = len(z) // 2
    return [torch.cat(p) for p in zip(_sin(z[:half]), _sin(z[half:] + math.pi / 2))]


# Activation name -> z -> [act(z), act'(z), .., act''''(z)]; the others go to nested autograd.
ORDERS: dict[str, Callable[[torch.Tensor], list[torch.Tensor]]] = {"tanh": _tanh, "sin": _sin}


def _compose(a: list[torch.Tensor], dz: list[torch.Tensor]) -> list[torch.Tensor]:
    """The derivatives of act(z) along one coordinate (Faa di Bruno) from a = act's derivatives at z and dz =
    z's derivatives along it, both up to the same order."""
    z1 = dz[0]
    h = [a[1] * z1]
    if len(dz) > 1:
        z2 = dz[1]
        h.append(a[2] * z1 * z1 + a[1] * z2)
    if len(dz) > 2:
        z3 = dz[2]
        h.append(a[3] * z1**3 + 3 * a[2] * z1 * z2 + a[1] * z3)
    if len(dz) > 3:
        h.append(a[4] * z1**4 + 6 * a[3] * z1 * z1 * z2 + a[2] * (3 * z2 * z2 + 4 * z1 * z3) + a[1] * dz[3])
    return h


def _activate(act: Callable[[torch.Tensor], list[torch.Tensor]], jet: torch.Tensor,
              blocks: list[tuple[int, int]]) -> torch.Tensor:
    """act applied to a jet (w, 1 + R, N): row 0 the value, then each block (start row, order) of one
    coordinate's derivative rows 1..order."""
    a = act(jet[:, 0])
    rows = [a[0][:, None]]
    for start, order in blocks:
        rows += [h[:, None] for h in _compose(a, list(jet[:, start:start + order].unbind(1)))]
    return torch.cat(rows, 1)


def _input_jet(model: MLP, x: torch.Tensor, axes: Mapping[int, int]) -> torch.Tensor:
    """The network's input features at x (N, d) (`ScaledInput.scaled`, before any Fourier features) and their
    derivatives along each axis up to its order, as a jet (f, 1 + R, N)."""
    s = ((x - model.center) / model.half_range).T
    rows = [(0, 0)] + [(axis, k) for axis, order in axes.items() for k in range(1, order + 1)]
    return torch.stack([torch.cat([_feature(model, s[i], i, axis, k) for i in range(len(s))]) for axis, k in rows], 1)


def _feature(model: MLP, s: torch.Tensor, i: int, axis: int, k: int) -> torch.Tensor:
    """The k-th derivative (k = 0: the value) along coordinate `axis` of input i's features at its scaled values
    s (N,): s itself, or [cos(pi s), sin(pi s)] for a periodic input; (1 or 2, N)."""
    rate = (1.0 if i == axis else 0.0) / model.half_range[i]
    if i in model.periodic:  # d^k/dy^k cos(w y) = w^k cos(w y + k pi / 2), likewise sin
        shift = k * math.pi / 2
        return (math.pi * rate) ** k * torch.stack([torch.cos(math.pi * s + shift), torch.sin(math.pi * s + shift)])
    return s[None] if k == 0 else (rate if k == 1 else 0 * rate) * torch.ones_like(s)[None]


def axis_jets(model: MLP, x: torch.Tensor, axes: Mapping[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The outputs of `model` at x (N, d), as (m, N), and their derivative rows (m, R, N): for each coordinate
    index in `axes` (in its order), the derivatives of orders 1 .. axes[index] along it."""
    act = ORDERS[model.activation_name]
    blocks, start = [], 1
    for order in axes.values():
        blocks.append((start, order))
        start += order
    jet = _input_jet(model, x, axes)
    if model.fourier is not None:
        m = 2 * math.pi * model.fourier.T
        w, k, n = jet.shape
        z = (m @ jet.reshape(w, k * n)).view(-1, k, n)
        jet = _activate(_sincos, torch.cat([z, z]), blocks)
    layers = list(model.layers)
    for i in range(len(layers) - 1):
        z = layer_product(model, i, jet)
        jet = _activate(act, torch.cat([z[:, :1] + layers[i].bias[:, None, None], z[:, 1:]], 1), blocks)
    out = layer_product(model, len(layers) - 1, jet)
    return out[:, 0] + layers[-1].bias[:, None], out[:, 1:]
