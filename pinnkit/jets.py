"""Forward-mode "jets" of the MLP: its outputs with chosen first and second coordinate derivatives.

For z = W h + b and h = act(z): h_i = act'(z) z_i and h_ij = act''(z) z_i z_j + act'(z) z_ij.
The value and the K - 1 derivative rows are stacked in one (width, K, N) tensor, so each layer is
one matrix product plus elementwise work. It is an ordinary differentiable forward pass: training
needs a single backward pass (no nested autograd), and `torch.compile` can fuse the elementwise work.
"""
from __future__ import annotations

import math
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F
from torch.func import jvp

from .nets import MLP, Constrained

Triple = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def _tanh(z: torch.Tensor) -> Triple:
    t = torch.tanh(z)
    d1 = 1 - t * t
    return t, d1, -2 * t * d1


def _sin(z: torch.Tensor) -> Triple:
    s = torch.sin(z)
    return s, torch.cos(z), -s


def _gelu(z: torch.Tensor) -> Triple:
    """Exact (erf) GELU z Phi(z): GELU' = Phi + z phi, GELU'' = phi (2 - z^2)."""
    cdf = 0.5 * (1 + torch.erf(z * math.sqrt(0.5)))
    pdf = torch.exp(-0.5 * z * z) * (1 / math.sqrt(2 * math.pi))
    return F.gelu(z), cdf + z * pdf, pdf * (2 - z * z)


def _silu(z: torch.Tensor) -> Triple:
    """z s(z), s the logistic sigmoid: SiLU' = s (1 + z (1 - s)), SiLU'' = s (1 - s) (2 + z (1 - 2 s))."""
    s = torch.sigmoid(z)
    return F.silu(z), s * (1 + z * (1 - s)), s * (1 - s) * (2 + z * (1 - 2 * s))


def _sincos(z: torch.Tensor) -> Triple:
    """The Fourier feature map [sin z, cos z] (stacked along features, dim 0) and its derivatives."""
    s, c = torch.sin(z), torch.cos(z)
    return torch.cat([s, c]), torch.cat([c, -s]), torch.cat([-s, -c])


# Activation name (as in `nets.ACTIVATIONS`) -> z -> (act(z), act'(z), act''(z)).
DERIVATIVES: dict[str, Callable[[torch.Tensor], Triple]] = {
    "tanh": _tanh, "sin": _sin, "gelu": _gelu, "silu": _silu,
}


def _activate(act: Callable[[torch.Tensor], Triple], z: torch.Tensor, dz: torch.Tensor,
              ddz: Optional[torch.Tensor], pairs: Sequence[tuple[int, int]]) -> torch.Tensor:
    """Jet (w, K, N) of act(z) from z (w, N), its first rows dz (w, D, N or 1) and its second rows
    ddz (w, P, N), None where they vanish; `pairs` index the first rows."""
    a, a1, a2 = act(z)
    rows = [a[:, None], a1[:, None] * dz]
    if pairs:
        second = a2[:, None] * torch.stack([dz[:, i] * dz[:, j] for i, j in pairs], 1)
        rows.append(second if ddz is None else second + a1[:, None] * ddz)
    return torch.cat(rows, 1)


def mlp_jets(model: MLP, x: torch.Tensor, firsts: Sequence[int],
             pairs: Sequence[tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """The outputs of `model` at x (N, d), as (m, N), and their derivative rows (m, D + P, N): first
    derivatives along the coordinate indices `firsts`, then second derivatives along `pairs`
    (positions in `firsts`). Features run along dim 0 and points along the last dim, where the
    matrix products W @ H are about three times faster on CPU than H @ W.T."""
    act = DERIVATIVES[model.activation_name]
    s, ds, dds = _input_jet(model, x, firsts, pairs)
    layers, start = list(model.layers), 0
    if model.fourier is not None:
        m, first_act = 2 * math.pi * model.fourier.T, _sincos
        z, dz = m @ s, _features(m, ds)
        dz, ddz = torch.cat([dz, dz]), None if dds is None else torch.cat([_features(m, dds)] * 2)
    elif dds is None:
        (z, dz), ddz, first_act, start = _first_layer(model, s, ds[:, :, 0]), None, act, 1
    else:
        jet = torch.cat([s[:, None], ds.expand(-1, -1, s.shape[1]), dds], 1)
        value, dz, ddz = layer_product(model, 0, jet).split([1, len(firsts), len(pairs)], 1)
        z, first_act, start = value.squeeze(1) + layers[0].bias[:, None], act, 1
    jets = _activate(first_act, z, dz, ddz, pairs)
    for i in range(start, len(layers) - 1):
        value, dz, ddz = layer_product(model, i, jets).split([1, len(firsts), len(pairs)], 1)
        jets = _activate(act, value.squeeze(1) + layers[i].bias[:, None], dz, ddz, pairs)
    out = layer_product(model, len(layers) - 1, jets)
    return out[:, 0] + layers[-1].bias[:, None], out[:, 1:]


def _input_jet(model: MLP, x: torch.Tensor, firsts: Sequence[int], pairs: Sequence[tuple[int, int]]
               ) -> tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
    """The network's input features at x (N, d) as (f, N) (`ScaledInput.scaled`, before any Fourier features),
    their first rows (f, D, 1) where constant or (f, D, N), and their second rows (f, P, N), None where they
    vanish (no periodic input)."""
    s = ((x - model.center) / model.half_range).T
    unit = torch.diag(1 / model.half_range)[:, list(firsts)]  # column k: ds/dx along firsts[k]
    if not model.periodic:
        return s, unit[:, :, None], None
    values, first, second = [], [], []
    for i in range(s.shape[0]):
        if i not in model.periodic:
            values.append(s[i:i + 1])
            first.append(unit[i:i + 1, :, None].expand(1, -1, s.shape[1]))
            second.append(s.new_zeros(1, len(pairs), s.shape[1]))
            continue
        w = math.pi * unit[i]  # d(pi s_i)/dx along each of firsts
        c, n = torch.cos(math.pi * s[i]), torch.sin(math.pi * s[i])
        values.append(torch.stack([c, n]))
        first.append(torch.stack([-n * w[:, None], c * w[:, None]]))
        ww = torch.stack([w[a] * w[b] for a, b in pairs]) if pairs else w.new_zeros(0)
        second.append(torch.stack([-c * ww[:, None], -n * ww[:, None]]))
    return torch.cat(values), torch.cat(first), torch.cat(second)


def _features(m: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """m @ each row of a jet (f, K, N): (w, K, N)."""
    return torch.einsum("wf,fkn->wkn", m, rows)


def _first_layer(model: MLP, s: torch.Tensor, unit: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """z = W s + b (w, N) of the first layer on the scaled input s (d, N), and its first rows W unit (w, D, 1):
    the derivatives of s are the constant columns of `unit` (d, D), so they cost one product, not one per
    point. While the layers are recorded (K-FAC) it acts on the whole jet of s instead, so every row is seen."""
    layer = model.layers[0]
    if model.recording is None:
        return layer.weight @ s + layer.bias[:, None], (layer.weight @ unit)[:, :, None]
    jet = torch.cat([s[:, None], unit[:, :, None].expand(-1, -1, s.shape[1])], 1)
    value, dz = layer_product(model, 0, jet).split([1, unit.shape[1]], 1)
    return value.squeeze(1) + layer.bias[:, None], dz


def layer_product(model: MLP, index: int, jets: torch.Tensor) -> torch.Tensor:
    """W h of layer `index` for every row of the jet (w, K, N), as one matrix product (the bias is the value
    row's); the MLP observes the call with its 3-D jet (`MLP.observe`)."""
    w, k, n = jets.shape
    out = (model.layers[index].weight @ jets.reshape(w, k * n)).view(-1, k, n)
    model.observe(index, jets, out)
    return out


def taylor(model: Constrained, x0: torch.Tensor, value: torch.Tensor, rows: torch.Tensor, firsts: Sequence[int],
           pairs: Sequence[tuple[int, int]]) -> Callable[[torch.Tensor], torch.Tensor]:
    """x -> the fields (N, m) of `model`'s output transform applied to the quadratic in x - x0 whose
    value, first derivatives along `firsts` and second derivatives along `pairs` (positions in `firsts`)
    at x0 are the net's jets (`mlp_jets` of `model.net` at x0): at x0 it has every derivative asked for."""
    def fields(x: torch.Tensor) -> torch.Tensor:
        dx = x - x0
        raw = value + sum(dx[:, j] * rows[:, k] for k, j in enumerate(firsts))
        for k, (i, j) in enumerate(pairs):
            raw = raw + (0.5 if i == j else 1.0) * dx[:, firsts[i]] * dx[:, firsts[j]] * rows[:, len(firsts) + k]
        return model.constrain(x, raw.T)

    return fields


def constrained_jets(model: Constrained, x: torch.Tensor, firsts: Sequence[int],
                     pairs: Sequence[tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """`mlp_jets` for `Constrained(MLP)`: the net's jets carried through the output transform by
    forward-mode differentiation (`torch.func.jvp`) of their `taylor` model. `torch.compile` traces
    this whole, where nested autograd would need compiled code differentiated twice."""
    rows = [(j,) for j in firsts] + [(firsts[i], firsts[j]) for i, j in pairs]
    return coordinate_jets(taylor(model, x, *mlp_jets(model.net, x, firsts, pairs), firsts, pairs), x, rows)


def coordinate_jets(fields: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                    rows: Sequence[tuple[int, ...]]) -> tuple[torch.Tensor, torch.Tensor]:
    """The values (m, N) of a pointwise map `fields` from x (N, d) to (N, m), and its derivative rows (m, R, N),
    one per tuple of coordinate indices in `rows` (differentiated along each in turn), by forward mode."""
    along = [torch.eye(x.shape[1], dtype=x.dtype, device=x.device)[j].expand_as(x) for j in range(x.shape[1])]

    def derivative(f: Callable[[torch.Tensor], torch.Tensor], axis: int) -> Callable[[torch.Tensor], torch.Tensor]:
        return lambda y: jvp(f, (y,), (along[axis],))[1]

    derivatives = []
    for row in rows:
        f = fields
        for axis in row:
            f = derivative(f, axis)
        derivatives.append(f(x))
    return fields(x).T, torch.stack(derivatives).permute(2, 0, 1)
