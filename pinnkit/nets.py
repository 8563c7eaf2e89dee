"""Networks mapping coordinates `(N, d)` to fields `(N, m)`: an MLP with input scaling,
optional random Fourier features, and an optional output transform for hard constraints.
"""
from __future__ import annotations

import math
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh,
    "sin": torch.sin,
    "gelu": F.gelu,
    "silu": F.silu,
}


class MLP(nn.Module):
    """Fully connected network on inputs scaled from the box [lower, upper] to [-1, 1].

    `depth` hidden layers of `width` units, Xavier-normal weights and zero biases.
    With `fourier_features = m > 0`, the scaled input z is first mapped to
    [sin(2 pi z B), cos(2 pi z B)] with a fixed B ~ N(0, fourier_scale^2) of shape (d, m).
    """

    def __init__(self, n_in: int, n_out: int, width: int, depth: int, activation: str,
                 lower: Sequence[float], upper: Sequence[float], fourier_features: int = 0,
                 fourier_scale: float = 1.0, generator: Optional[torch.Generator] = None):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r} (valid: {', '.join(ACTIVATIONS)})")
        self.activation_name = activation  # lets forward-mode engines pick the matching derivatives
        self.activation = ACTIVATIONS[activation]
        lower_t, upper_t = torch.tensor(lower, dtype=torch.float64), torch.tensor(upper, dtype=torch.float64)
        self.register_buffer("center", (lower_t + upper_t) / 2)
        self.register_buffer("half_range", (upper_t - lower_t) / 2)
        features = n_in
        if fourier_features:
            b = torch.randn(n_in, fourier_features, generator=generator, dtype=torch.float64) * fourier_scale
            self.register_buffer("fourier", b)
            features = 2 * fourier_features
        else:
            self.fourier = None
        sizes = [features] + [width] * depth + [n_out]
        self.layers = nn.ModuleList(nn.Linear(a, b, dtype=torch.float64) for a, b in zip(sizes[:-1], sizes[1:]))
        for layer in self.layers:
            nn.init.xavier_normal_(layer.weight, generator=generator)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = (x - self.center) / self.half_range
        if self.fourier is not None:
            z = 2 * math.pi * z @ self.fourier
            z = torch.cat([torch.sin(z), torch.cos(z)], dim=-1)
        for layer in self.layers[:-1]:
            z = self.activation(layer(z))
        return self.layers[-1](z)


Transform = Callable[[dict[str, torch.Tensor], dict[str, torch.Tensor]], dict[str, torch.Tensor]]


class Constrained(nn.Module):
    """A network followed by an output transform on named columns (hard constraints).

    `transform(coords, raw)` gets `{"x": (N, 1), "t": (N, 1)}` and the raw network
    outputs `{"u": (N, 1)}`, and returns the constrained fields by the same names.
    """

    def __init__(self, net: nn.Module, transform: Transform, coords: Sequence[str], fields: Sequence[str]):
        super().__init__()
        self.net = net
        self.transform = transform
        self.coords, self.fields = tuple(coords), tuple(fields)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.constrain(x, self.net(x))

    def constrain(self, x: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        """The constrained fields (N, m) from points x (N, d) and raw network outputs (N, m)."""
        named = self.transform({c: x[:, i:i + 1] for i, c in enumerate(self.coords)},
                               {f: raw[:, i:i + 1] for i, f in enumerate(self.fields)})
        return torch.cat([named[f] for f in self.fields], dim=1)
