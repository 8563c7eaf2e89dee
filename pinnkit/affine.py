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
from dataclasses import dataclass
from typing import Optional, Sequence

import torch

from .jets import coordinate_jets
from .nets import Constrained

Pairs = Sequence[tuple[int, int]]


@dataclass
class AffineJets:
    """The jets of A (value (m, N), rows (m, K, N)) and B (value (m, g, N), rows (m, g, K, N)) of a transform
    fields = A + B raw over m fields and g raw outputs, K = D first and P second derivative rows."""

    a: torch.Tensor
    a_rows: torch.Tensor
    b: torch.Tensor
    b_rows: torch.Tensor

    @classmethod
    def of(cls, model: Constrained, x: torch.Tensor, firsts: Sequence[int], pairs: Pairs) -> Optional["AffineJets"]:
        """The coefficient jets of `model`'s transform at x (N, d); None where it is not affine in the raw outputs
        (a random raw vector is not reproduced to rounding) or depends on anything trainable."""
        x = x.detach()
        n, g = len(x), len(model.fields)
        with torch.enable_grad():
            def at(raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
                return coordinate_jets(lambda y: model.constrain(y, raw), x, firsts, pairs)

            a, a_rows = at(x.new_zeros(n, g))
            unit = [at(torch.eye(g, dtype=x.dtype, device=x.device)[k].expand(n, g)) for k in range(g)]
            probe = torch.randn(n, g, generator=torch.Generator().manual_seed(0), dtype=torch.float64).to(x)
            reached = model.constrain(x, probe)
        b = torch.stack([value - a for value, _ in unit], 1)
        b_rows = torch.stack([rows - a_rows for _, rows in unit], 1)
        if any(t.requires_grad for t in (a, a_rows, b, b_rows, reached)):
            return None
        affine = a + torch.einsum("mgn,ng->mn", b, probe)
        tolerance = 1e3 * torch.finfo(x.dtype).eps * (1 + reached.abs().max())
        return cls(a, a_rows, b, b_rows) if (affine.T - reached).abs().max() <= tolerance else None

    def apply(self, raw: torch.Tensor, raw_rows: torch.Tensor, firsts: Sequence[int],
              pairs: Pairs) -> tuple[torch.Tensor, torch.Tensor]:
        """The fields (m, N) and their rows (m, K, N) from the raw outputs (g, N) and rows (g, K, N), by
        d(A + B r) = dA + dB r + B dr and d2(A + B r) = d2A + d2B r + dB_i dr_j + dB_j dr_i + B d2r."""
        d = len(firsts)
        value = self.a + torch.einsum("mgn,gn->mn", self.b, raw)
        rows = self.a_rows + torch.einsum("mgkn,gn->mkn", self.b_rows, raw) \
            + torch.einsum("mgn,gkn->mkn", self.b, raw_rows)
        if pairs:
            i, j = [p[0] for p in pairs], [p[1] for p in pairs]
            cross = torch.einsum("mgkn,gkn->mkn", self.b_rows[:, :, i], raw_rows[:, j]) \
                + torch.einsum("mgkn,gkn->mkn", self.b_rows[:, :, j], raw_rows[:, i])
            rows = torch.cat([rows[:, :d], rows[:, d:] + cross], 1)
        return value, rows


class AffineCache:
    """`AffineJets` per (model, point tensor, derivatives asked for), computed at a point set's second use (a
    set used once, such as a RAD candidate pool, would pay four differentiations of the transform for one) and
    kept while the model and the points live unchanged: a redraw or a cast makes new point tensors, and with
    them new coefficients. Views (the slices of Gauss-Newton blocks) are not kept."""

    SEEN = "seen once"

    def __init__(self):
        self.entries: dict[tuple, tuple[weakref.ref, weakref.ref, int, object]] = {}

    def get(self, model: Constrained, x: torch.Tensor, firsts: Sequence[int], pairs: Pairs) -> Optional[AffineJets]:
        """The coefficient jets for `model` at x; None at first sight of x, where the transform is not affine, or
        for a view."""
        if x._base is not None:
            return None
        key = (id(model), id(x), tuple(firsts), tuple(pairs))
        kept = self.entries.get(key)
        if kept is None or kept[0]() is not model or kept[1]() is not x or kept[2] != x._version:
            self.entries = {k: e for k, e in self.entries.items() if e[0]() is not None and e[1]() is not None}
            self.entries[key] = (weakref.ref(model), weakref.ref(x), x._version, self.SEEN)
            return None
        if kept[3] is self.SEEN:
            self.entries[key] = kept[:3] + (AffineJets.of(model, x, firsts, pairs),)
        return self.entries[key][3]
