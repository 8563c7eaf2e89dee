"""Networks mapping coordinates `(N, d)` to fields `(N, m)`: an MLP with input scaling,
optional random Fourier features, and an optional output transform for hard constraints.

The MLP shows the calls of its linear layers to whoever records them (`LinearTaps`, the public hook
K-FAC reads), whether it runs as a plain forward pass or as forward jets (`jets.py`).
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh,
    "sin": torch.sin,
    "gelu": F.gelu,
    "silu": F.silu,
}


class ScaledInput(nn.Module):
    """What pinnkit's networks share: inputs scaled from the box [lower, upper] to [-1, 1], each `periodic`
    input (a column index) replaced by [cos(pi z), sin(pi z)] so that the network, and every derivative of
    it, repeats exactly over the box's extent, then optionally mapped to random Fourier features
    [sin(2 pi z B), cos(2 pi z B)] with a fixed B ~ N(0, fourier_scale^2) of shape (features, m), and an
    activation by name."""

    def __init__(self, n_in: int, activation: str, lower: Sequence[float], upper: Sequence[float],
                 fourier_features: int = 0, fourier_scale: float = 1.0, generator: Optional[torch.Generator] = None,
                 periodic: Sequence[int] = ()):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r} (valid: {', '.join(ACTIVATIONS)})")
        self.activation_name = activation  # lets forward-mode engines pick the matching derivatives
        self.activation = ACTIVATIONS[activation]
        lower_t, upper_t = torch.tensor(lower, dtype=torch.float64), torch.tensor(upper, dtype=torch.float64)
        self.register_buffer("center", (lower_t + upper_t) / 2)
        self.register_buffer("half_range", (upper_t - lower_t) / 2)
        if any(not 0 <= i < n_in for i in periodic) or len(set(periodic)) != len(periodic):
            raise ValueError(f"periodic inputs must be distinct column indices below {n_in}, got {tuple(periodic)}")
        self.periodic = tuple(sorted(periodic))
        self.features = n_in + len(self.periodic)
        if fourier_features:
            b = torch.randn(self.features, fourier_features, generator=generator, dtype=torch.float64) * fourier_scale
            self.register_buffer("fourier", b)
            self.features = 2 * fourier_features
        else:
            self.fourier = None

    def scaled(self, x: torch.Tensor) -> torch.Tensor:
        """The network's input features of points x (N, d)."""
        z = (x - self.center) / self.half_range
        if self.periodic:
            columns = [z[:, i:i + 1] for i in range(z.shape[1])]
            for i in self.periodic:
                columns[i] = torch.cat([torch.cos(math.pi * columns[i]), torch.sin(math.pi * columns[i])], dim=1)
            z = torch.cat(columns, dim=1)
        if self.fourier is not None:
            z = 2 * math.pi * z @ self.fourier
            z = torch.cat([torch.sin(z), torch.cos(z)], dim=-1)
        return z


def linear_layers(sizes: Sequence[int], generator: Optional[torch.Generator]) -> nn.ModuleList:
    """Linear layers between consecutive sizes, Xavier-normal weights and zero biases, in float64."""
    layers = nn.ModuleList(nn.Linear(a, b, dtype=torch.float64) for a, b in zip(sizes[:-1], sizes[1:]))
    for layer in layers:
        nn.init.xavier_normal_(layer.weight, generator=generator)
        nn.init.zeros_(layer.bias)
    return layers


class MLP(ScaledInput):
    """Fully connected network (`ScaledInput` first): `depth` hidden layers of `width` units."""

    def __init__(self, n_in: int, n_out: int, width: int, depth: int, activation: str,
                 lower: Sequence[float], upper: Sequence[float], fourier_features: int = 0,
                 fourier_scale: float = 1.0, generator: Optional[torch.Generator] = None, periodic: Sequence[int] = ()):
        super().__init__(n_in, activation, lower, upper, fourier_features, fourier_scale, generator, periodic)
        self.layers = linear_layers([self.features] + [width] * depth + [n_out], generator)
        self.recording: Optional[list[list[LinearCall]]] = None  # per layer, while `LinearTaps.record` is open

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.scaled(x)
        for i, layer in enumerate(self.layers):
            out = layer(z)
            self.observe(i, z, out)
            z = self.activation(out) if i < len(self.layers) - 1 else out
        return z

    def observe(self, index: int, inputs: torch.Tensor, output: torch.Tensor) -> None:
        """Record one call of layer `index` while recording: `inputs` (N, d_in) of a plain forward pass, or a
        jet (d_in, K, N) whose row 0 is the value (the only row the bias enters), and the layer's output."""
        if self.recording is not None:
            self.recording[index].append(LinearCall.of(inputs.detach(), output, self.layers[index].bias is not None))


@dataclass
class LinearCall:
    """One call of a linear layer as rows (`optim.closures.LayerCall`): inputs (R, d_in [+ 1]) with a last
    column of 1 where the bias enters, and the output as it sits in the graph."""

    inputs: torch.Tensor
    output: torch.Tensor

    @classmethod
    def of(cls, a: torch.Tensor, output: torch.Tensor, bias: bool) -> "LinearCall":
        if a.dim() == 3:  # a jet (features, rows, points): one row per (jet row, point)
            if bias:
                ones = torch.zeros_like(a[:1])
                ones[:, 0] = 1
                a = torch.cat([a, ones])
            return cls(a.flatten(1).T, output)
        return cls(torch.cat([a, torch.ones_like(a[:, :1])], 1) if bias else a, output)

    def rows(self, grad: torch.Tensor) -> torch.Tensor:
        """The gradient with respect to `output`, as (R, d_out) rows in the order of `inputs`."""
        return grad.flatten(1).T if grad.dim() == 3 else grad


class LinearTaps:
    """The linear layers of an MLP (`optim.closures.LayerTaps`): `layers` (weight, bias) in order, and
    `record()`, inside which every call of layer i is appended to the i-th list it yields."""

    def __init__(self, mlp: MLP):
        self.mlp = mlp
        self.layers = [(layer.weight, layer.bias) for layer in mlp.layers]

    @contextmanager
    def record(self) -> Iterator[list[list[LinearCall]]]:
        calls: list[list[LinearCall]] = [[] for _ in self.layers]
        self.mlp.recording = calls
        try:
            yield calls
        finally:
            self.mlp.recording = None


class ModifiedMLP(ScaledInput):
    """The modified MLP of Wang, Teng & Perdikaris (2021): two encoders of the input, U = act(W_u s + b_u)
    and V = act(W_v s + b_v), and hidden layers that mix them, h <- (1 - z) U + z V with z = act(W h + b),
    so the input reaches every layer (`model.name = "modified_mlp"`; same keys as the MLP). Derivatives
    through nested autograd."""

    def __init__(self, n_in: int, n_out: int, width: int, depth: int, activation: str,
                 lower: Sequence[float], upper: Sequence[float], fourier_features: int = 0,
                 fourier_scale: float = 1.0, generator: Optional[torch.Generator] = None, periodic: Sequence[int] = ()):
        super().__init__(n_in, activation, lower, upper, fourier_features, fourier_scale, generator, periodic)
        self.encoders = linear_layers([self.features, 2 * width], generator)
        self.layers = linear_layers([self.features] + [width] * depth + [n_out], generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.scaled(x)
        u, v = self.activation(self.encoders[0](s)).chunk(2, dim=-1)
        h = s
        for layer in self.layers[:-1]:
            z = self.activation(layer(h))
            h = (1 - z) * u + z * v
        return self.layers[-1](h)


NETWORKS = {"mlp": MLP, "modified_mlp": ModifiedMLP}  # built in, by `model.name`


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


def layer_taps(model: nn.Module) -> Optional[LinearTaps]:
    """The taps of an MLP, or of the MLP under an output transform; None for a network that has none."""
    net = model.net if isinstance(model, Constrained) else model
    return LinearTaps(net) if isinstance(net, MLP) else None
