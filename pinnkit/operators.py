"""Derivatives of network outputs with respect to coordinates, computed once per forward pass.

A derivative is named like on paper: `u_x`, `u_xx`, `v_xy`, `p_t` (field, underscore,
one coordinate name per differentiation). An engine takes the model, an `(N, d)`
point tensor and the names a residual needs, and returns a `Derivatives` record
holding the coordinates, the fields and exactly those derivatives. Shared
lower-order derivatives are computed once and reused (`u_x` for `u_xx`); nothing
is cached beyond the call, so there is nothing to clear between passes. Engines:
`autograd` (nested autograd, any network) and `jet` (forward jets of the MLP, from
`jets.py`: the same numbers, one backward pass for training, and it compiles).
"""
from __future__ import annotations

from typing import Callable, Iterable, Mapping, Optional, Sequence

import logging

import torch

from .affine import AffineCache, KeptAffine, through
from .axis_jets import MAX_ORDER, ORDERS as AXIS_ORDERS, axis_jets
from .jets import constrained_jets, mlp_jets, taylor
from .nets import MLP, Constrained

log = logging.getLogger(__name__)
Key = tuple[int, tuple[int, ...]]  # (field index, coordinate indices differentiated in order)


class Derivatives:
    """Coordinates, fields and derivatives at a batch of points, by name: `d.x`, `d.u`, `d.u_xx`."""

    def __init__(self, values: Mapping[str, torch.Tensor], owner: str = "problem"):
        self._values = dict(values)
        self._owner = owner

    def __getattr__(self, name: str) -> torch.Tensor:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            known = ", ".join(self._values)
            raise AttributeError(f"'{name}' is not available here: declare it in {self._owner}.derivatives "
                                 f"(available: {known})") from None

    def __getitem__(self, name: str) -> torch.Tensor:
        return getattr(self, name)

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def names(self) -> tuple[str, ...]:
        return tuple(self._values)

    def plus(self, values: Mapping[str, torch.Tensor]) -> "Derivatives":
        """These derivatives with `values` added to those of the same names (a frozen part of the solution)."""
        return Derivatives({**self._values, **{k: self._values[k] + v for k, v in values.items()}}, self._owner)


def parse(name: str, coords: Sequence[str], fields: Sequence[str]) -> Key:
    """`u_xy` -> (index of u, (index of x, index of y)); unknown names raise ValueError."""
    field, _, suffix = name.partition("_")
    if field not in fields or not suffix:
        raise ValueError(f"derivative {name!r}: expected FIELD_COORDS with a field from {tuple(fields)} "
                         f"and coordinates from {tuple(coords)}, e.g. '{fields[0]}_{coords[0]}'")
    order, rest = [], suffix
    by_length = sorted(coords, key=len, reverse=True)
    while rest:
        coord = next((c for c in by_length if rest.startswith(c)), None)
        if coord is None:
            raise ValueError(f"derivative {name!r}: {rest!r} does not start with a coordinate of {tuple(coords)}")
        order.append(coords.index(coord))
        rest = rest[len(coord):]
    return fields.index(field), tuple(order)


def gradient(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """dy/dx for each row: y (N,) depending row-wise on x (N, d) -> (N, d), differentiable again."""
    (g,) = torch.autograd.grad(y, x, torch.ones_like(y), create_graph=True, materialize_grads=True)
    return g


class AutogradEngine:
    """Nested `torch.autograd.grad`: works for any network, one backward pass per distinct parent."""

    def eager(self) -> "AutogradEngine":
        """This engine: it never compiles."""
        return self

    def __call__(self, model: Callable[[torch.Tensor], torch.Tensor], points: torch.Tensor,
                 coords: Sequence[str], fields: Sequence[str], wanted: Iterable[str],
                 owner: str = "problem") -> Derivatives:
        wanted = tuple(wanted)
        x = points.detach().requires_grad_(True) if wanted else points  # nothing to differentiate: plain forward
        out = model(x)
        known: dict[Key, torch.Tensor] = {(i, ()): out[:, i] for i in range(len(fields))}
        values = {c: x[:, j] for j, c in enumerate(coords)}
        values.update({f: out[:, i] for i, f in enumerate(fields)})
        for name in wanted:
            values[name] = self._derivative(parse(name, coords, fields), x, known)
        return Derivatives(values, owner)

    def _derivative(self, key: Key, x: torch.Tensor, known: dict[Key, torch.Tensor]) -> torch.Tensor:
        if key not in known:
            field, order = key
            parent = self._derivative((field, order[:-1]), x, known)
            g = gradient(parent, x)
            for j in range(x.shape[1]):
                known[(field, order[:-1] + (j,))] = g[:, j]
        return known[key]


class JetEngine:
    """Forward jets for `MLP` and `Constrained(MLP)`: up to second order in any coordinates (`jets.py`), and
    to the fourth along single coordinates where no mixed derivative is asked for (`axis_jets.py`, tanh and
    sin); any other model, order or activation, or no derivative at all (a plain forward pass) goes to
    `AutogradEngine`.

    For `Constrained`, a transform affine in the raw outputs has its coordinate jets kept per point set
    (`affine.AffineCache`) and combined with the net's. Any other transform is differentiated each call:
    the net's jets define a Taylor model of the raw outputs (`jets.taylor`) and only the output transform
    of it is differentiated, eagerly by nested autograd, the fastest way without compiling; with
    `compile`, by forward mode (`jets.constrained_jets`), which compiles whole. Beyond the second order
    such a transform goes to `AutogradEngine`.
    """

    JETS = {"mlp": mlp_jets, "constrained": constrained_jets, "axis": axis_jets,
            "affine mlp": through(mlp_jets), "affine axis": through(axis_jets)}

    def __init__(self, compile: bool = False, cuda_graphs: bool = False, affine: Optional[KeptAffine] = None):
        """`cuda_graphs`: on CUDA, compiled jets replay as CUDA graphs (torch.compile's "reduce-overhead"
        mode), which removes the launch cost of the many small kernels a small network's step is made of.
        `affine`: the coefficient jets of an affine transform to use at any points (default: computed and kept
        per point set)."""
        self.fallback = AutogradEngine()
        self.compiled, self.cuda_graphs = compile, cuda_graphs
        self.cache: dict[tuple[str, str], Callable] = {}
        self.seen: set[tuple] = set()  # (kind, device, dtype, shape) compiled for: a new one compiles again
        self.affine = AffineCache(first_use=compile) if affine is None else affine  # jets of affine transforms

    def eager(self) -> "JetEngine":
        """The same engine without compiling (for point sets whose shape changes from call to call)."""
        return self if not self.compiled else JetEngine()

    def _announce(self, kind: str, points: torch.Tensor) -> None:
        """Say, on the console too, when a call will compile: the progress bar stands still meanwhile."""
        key = (kind, points.device.type, points.dtype, tuple(points.shape))
        if key not in self.seen:
            self.seen.add(key)
            log.info("compiling the forward jets for %d points in %s (once for each size and dtype; 10-35 s on a "
                     "CPU)", len(points), str(points.dtype).replace("torch.", ""), extra={"console": True})

    def jets(self, kind: str, device: torch.device) -> Callable:
        """The jet function of a kind (a key of JETS) on a device: eager, or compiled once per (kind, device
        type)."""
        if not self.compiled:
            return self.JETS[kind]
        key = (kind, device.type)
        if key not in self.cache:
            graphs = self.cuda_graphs and device.type == "cuda"
            self.cache[key] = torch.compile(self.JETS[kind], dynamic=False, mode="reduce-overhead" if graphs else None)
        return self.cache[key]

    def __call__(self, model: Callable[[torch.Tensor], torch.Tensor], points: torch.Tensor,
                 coords: Sequence[str], fields: Sequence[str], wanted: Iterable[str],
                 owner: str = "problem") -> Derivatives:
        keys = {name: parse(name, coords, fields) for name in wanted}
        net = model.net if isinstance(model, Constrained) else model
        plan = plan_jets(net, orders_of(keys.values())) if keys and isinstance(net, MLP) else None
        if plan is None:
            return self.fallback(model, points, coords, fields, tuple(keys), owner)
        kind, rows, args = plan
        # beyond the second order the alternative to the coefficients is nested autograd through the network
        # (the whole graph to the fourth order at every point), so they are worth taking even for a set used once
        affine = self.affine.get(model, points, rows, first_use=kind == "axis") if isinstance(model, Constrained) \
            else None
        if isinstance(model, Constrained) and affine is None:
            if kind == "axis":
                return self.fallback(model, points, coords, fields, tuple(keys), owner)
            if not self.compiled:
                near = taylor(model, points, *self.jets("mlp", points.device)(net, points, *args), *args)
                return self.fallback(near, points, coords, fields, tuple(keys), owner)
            kind, net = "constrained", model
        kept = {} if affine is None else {"rows": tuple(rows), **vars(affine)}  # the transform's jets, kept
        kind = kind if affine is None else f"affine {kind}"
        if self.compiled:
            self._announce(kind, points)
        value, jet_rows = self.jets(kind, points.device)(net, points, *args, **kept)
        row = {r: k for k, r in enumerate(rows)}
        values = {c: points[:, j] for j, c in enumerate(coords)}
        values.update({f: value[i] for i, f in enumerate(fields)})
        values.update({name: jet_rows[i, row[tuple(sorted(order))]] for name, (i, order) in keys.items() if order})
        return Derivatives(values, owner)


def orders_of(parsed: Iterable[tuple[int, tuple[int, ...]]]) -> set[tuple[int, ...]]:
    """The derivative orders (sorted tuples of coordinate indices) among parsed names (`parse`); fields have none."""
    return {tuple(sorted(order)) for _, order in parsed if order}


def plan_jets(net: MLP, orders: set[tuple[int, ...]]) -> Optional[tuple[str, list[tuple[int, ...]], tuple]]:
    """How jets compute the derivatives `orders` (sorted tuples of coordinate indices) of `net`: ("mlp", rows,
    (firsts, pairs)) to the second order, ("axis", rows, (axes,)) for higher orders along single coordinates,
    None where neither can (autograd then); rows name the derivative rows in the order the jets give them."""
    if not orders:
        return None
    if all(len(order) <= 2 for order in orders):
        firsts = tuple(sorted({j for order in orders for j in order}))
        pairs = tuple(sorted(order for order in orders if len(order) == 2))
        at = tuple((firsts.index(i), firsts.index(j)) for i, j in pairs)
        return "mlp", [(j,) for j in firsts] + list(pairs), (firsts, at)
    if all(len(set(order)) == 1 for order in orders) and net.activation_name in AXIS_ORDERS \
            and max(map(len, orders)) <= MAX_ORDER:
        axes = {c: max(len(order) for order in orders if order[0] == c) for c in sorted({o[0] for o in orders})}
        return "axis", [(c,) * k for c, top in axes.items() for k in range(1, top + 1)], (axes,)
    return None


ENGINES = {"autograd": AutogradEngine, "jet": JetEngine}


def laplacian(d: Derivatives, field: str, coords: Sequence[str]) -> torch.Tensor:
    """sum_i d2 field / d coord_i^2 (the second derivatives must be declared)."""
    return sum(d[f"{field}_{c}{c}"] for c in coords)


def divergence(d: Derivatives, fields: Sequence[str], coords: Sequence[str]) -> torch.Tensor:
    """sum_i d field_i / d coord_i (the first derivatives must be declared)."""
    return sum(d[f"{f}_{c}"] for f, c in zip(fields, coords))
