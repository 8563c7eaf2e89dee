"""Output transforms that are affine in the network's raw outputs, differentiated once per point set.

Most hard constraints read u = A(x) + B(x) N(x): a lift of the boundary values plus a distance-like factor
times the network. A(x), B(x) and their coordinate derivatives do not change while the points stay put, so
they are computed once per point set (`AffineJets.of`), and each step only combines them with the network's
own jets by the product rule (`AffineJets.apply`), instead of differentiating the transform again (an
approximate distance function built from a domain's parts costs more than the network it wraps). A
transform that is not affine in the raw outputs, or that reads trainable parameters, is left to the caller.
"""
from __future__ import annotations

import weakref
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch

from .jets import coordinate_jets
from .nets import Constrained

Rows = Sequence[tuple[int, ...]]  # derivative rows, each a sorted tuple of coordinate indices (x_xy: (0, 1))


@dataclass
class AffineJets:
    """The jets of A (value (m, N), rows (m, R, N)) and B (value (m, g, N), rows (m, g, R, N)) of a transform
    fields = A + B raw over m fields and g raw outputs, one row per tuple of coordinate indices."""

    a: torch.Tensor
    a_rows: torch.Tensor
    b: torch.Tensor
    b_rows: torch.Tensor

    @classmethod
    def of(cls, model: Constrained, x: torch.Tensor, rows: Rows) -> Optional["AffineJets"]:
        """The coefficient jets of `model`'s transform at x (N, d); None where it is not affine in the raw outputs
        (a random raw vector is not reproduced to rounding) or depends on anything trainable."""
        x = x.detach()
        n, g = len(x), len(model.fields)
        with torch.enable_grad():
            def at(raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
                return coordinate_jets(lambda y: model.constrain(y, raw), x, rows)

            a, a_rows = at(x.new_zeros(n, g))
            unit = [at(torch.eye(g, dtype=x.dtype, device=x.device)[k].expand(n, g)) for k in range(g)]
            probe = torch.randn(n, g, generator=torch.Generator().manual_seed(0), dtype=torch.float64).to(x)
            reached = model.constrain(x, probe)
        b = torch.stack([value - a for value, _ in unit], 1)
        b_rows = torch.stack([jets - a_rows for _, jets in unit], 1)
        if any(t.requires_grad for t in (a, a_rows, b, b_rows, reached)):
            return None
        affine = a + torch.einsum("mgn,ng->mn", b, probe)
        tolerance = 1e3 * torch.finfo(x.dtype).eps * (1 + reached.abs().max())
        return cls(a, a_rows, b, b_rows) if (affine.T - reached).abs().max() <= tolerance else None

    def apply(self, raw: torch.Tensor, raw_rows: torch.Tensor, rows: Rows) -> tuple[torch.Tensor, torch.Tensor]:
        """The fields (m, N) and their rows (m, R, N) from the raw outputs (g, N) and rows (g, R, N), by the
        product rule: the derivative of B r along a tuple T sums B's along S times r's along T - S over the
        subsets S of T (d(Br) = dB r + B dr; d2(Br) = d2B r + dB_i dr_j + dB_j dr_i + B d2r; ...)."""
        index = {row: k for k, row in enumerate(rows)}

        def b_along(part: tuple[int, ...]) -> torch.Tensor:
            return self.b if not part else self.b_rows[:, :, index[part]]

        def raw_along(part: tuple[int, ...]) -> torch.Tensor:
            return raw if not part else raw_rows[:, index[part]]

        def times(b: torch.Tensor, r: torch.Tensor) -> torch.Tensor:  # (m, g, N) by (g, N), summed over g
            return (b * r).sum(1)  # elementwise: a compiling engine fuses it with the rest

        value = self.a + times(self.b, raw)
        out = []
        for k, row in enumerate(rows):
            splits = Counter(_splits(row))
            out.append(self.a_rows[:, k] + sum(count * times(b_along(s), raw_along(rest))
                                               for (s, rest), count in splits.items()))
        return value, torch.stack(out, 1)


@dataclass
class KeptAffine:
    """An `AffineCache` stand-in that hands out given coefficient jets, whatever the point tensor: the per-point
    Jacobian rows (`point_jacobians`) vectorize over the points, so each point's own are handed in beside it."""

    jets: AffineJets
    rows: tuple[tuple[int, ...], ...]

    def get(self, model: Constrained, x: torch.Tensor, rows: Rows, first_use: bool = False) -> Optional[AffineJets]:
        return self.jets if tuple(rows) == self.rows else None


def through(jets: Callable[..., tuple[torch.Tensor, torch.Tensor]]) -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """`jets(net, x, *args)` -> (value, rows) of the raw outputs, followed by the product rule with the kept
    coefficients of an affine transform (`AffineJets.apply`), as one function: a compiling engine fuses both."""
    def combined(net: torch.nn.Module, x: torch.Tensor, *args, rows: tuple[tuple[int, ...], ...], a: torch.Tensor,
                 a_rows: torch.Tensor, b: torch.Tensor, b_rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return AffineJets(a, a_rows, b, b_rows).apply(*jets(net, x, *args), rows)

    return combined


def _splits(row: tuple[int, ...]) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Every split of a sorted index tuple into (subset, rest), both sorted, one per subset of positions."""
    return [(tuple(c for i, c in enumerate(row) if mask >> i & 1), tuple(c for i, c in enumerate(row) if not mask >> i & 1))
            for mask in range(2 ** len(row))]


class AffineCache:
    """`AffineJets` per (model, point tensor, derivatives asked for), computed at a point set's second use (a
    set used once, such as a RAD candidate pool, would pay four differentiations of the transform for one), or
    at its first with `first_use` (a compiling engine, whose first use would otherwise compile the transform
    too), and kept while the model and the point tensor live. pinnkit never changes points in place: a redraw or
    a cast makes new point tensors, and with them new coefficients. Views (the slices of Gauss-Newton blocks)
    are not kept."""

    SEEN = "seen once"

    def __init__(self, first_use: bool = False):
        self.first_use = first_use
        self.entries: dict[tuple, tuple[weakref.ref, weakref.ref, object]] = {}

    def get(self, model: Constrained, x: torch.Tensor, rows: Rows, first_use: bool = False) -> Optional[AffineJets]:
        """The coefficient jets for `model` at x; None at first sight of x (unless `first_use`, here or for the
        cache), where the transform is not affine, or for a view."""
        if x.storage_offset() or x.untyped_storage().nbytes() != x.numel() * x.element_size():
            return None  # a view into a larger tensor
        key = (id(model), id(x), tuple(rows))
        kept = self.entries.get(key)
        if kept is None or kept[0]() is not model or kept[1]() is not x:
            self.entries = {k: e for k, e in self.entries.items() if e[0]() is not None and e[1]() is not None}
            kept = self.entries[key] = (weakref.ref(model), weakref.ref(x), self.SEEN)
            if not (self.first_use or first_use):
                return None
        if kept[2] is self.SEEN:
            self.entries[key] = kept[:2] + (AffineJets.of(model, x, rows),)
        return self.entries[key][2]
