"""K-FAC for PINN losses (Dangel, Mueller & Zeinhofer 2024) and its phase (`optimizer = "kfac"`).

The Gauss-Newton matrix J^T J of a loss ||r||^2 is approximated per linear layer by one Kronecker
product A (x) G: A = E[a a^T] over the layer's inputs a (with a 1 appended for the bias) and G = sum g g^T
over the gradients g of the residual with respect to its outputs. A layer acts on every row of a
forward jet (the value and each derivative row, `jets.py`) with the same W, so for the PDE term each jet
row counts as one more input, as for weight sharing (K-FAC-expand); a plain forward pass (boundary and
initial terms) gives one row per point. Memory grows with the layer widths, not with N x P.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from functools import partial
from typing import Iterable, Iterator, Literal, Optional, Sequence

import torch
from pydantic import Field

from ..nets import MLP, Constrained
from .gauss_newton import GaussNewtonPhase, ResidualClosure, as_residuals, grid_search
from .lbfgs import _assign, _flat
from .phase import PhaseOptions, project

Call = tuple[torch.Tensor, torch.Tensor]  # one call of a layer: inputs a (R, d_in [+ 1]), its output z (with graph)


@contextmanager
def recording(layers: Sequence[torch.nn.Linear]) -> Iterator[list[list[Call]]]:
    """While open, every call of layer i (a plain forward or a jet) appends (a, z) to the i-th list."""
    calls: list[list[Call]] = [[] for _ in layers]
    handles = [layer.register_forward_hook(partial(_record, into)) for layer, into in zip(layers, calls)]
    try:
        yield calls
    finally:
        for handle in handles:
            handle.remove()


def _record(into: list[Call], layer: torch.nn.Linear, args: tuple, output: torch.Tensor) -> None:
    """Inputs as rows, with the bias's input appended: 1 for a plain forward; for a jet (features, rows,
    points), 1 on the value row (row 0) only, since the bias does not enter derivative rows."""
    a = args[0].detach()
    if a.dim() == 3:
        ones = torch.zeros_like(a[:1])
        ones[:, 0] = 1
        a = torch.cat([a, ones]) if layer.bias is not None else a
        into.append((a.flatten(1).T, output))
    else:
        into.append((torch.cat([a, torch.ones_like(a[:, :1])], 1) if layer.bias is not None else a, output))


def _rows(g: torch.Tensor) -> torch.Tensor:
    """Output gradients as rows, in the layout `_record` gives the inputs."""
    return g.flatten(1).T if g.dim() == 3 else g


def factors(calls: list[list[Call]], r: torch.Tensor, signs: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(A, G) per layer from its recorded calls and r (N,), J^T J ~ A (x) G for each layer's block.

    g comes from one backward pass of signs . r: exact when each point has one residual entry (a
    scalar PDE and conditions: a point's outputs reach no other entry), else an unbiased estimate.
    Each call (term) gives mean(a a^T) (x) sum(g g^T); the terms' A are averaged weighted by tr G.
    """
    outputs = [z for layer in calls for _, z in layer]
    grads = iter(torch.autograd.grad(r, outputs, signs, retain_graph=True, allow_unused=True,
                                     materialize_grads=True))
    out = []
    for layer in calls:
        As, Gs = zip(*[(a.T @ a / len(a), _rows(g).T @ _rows(g)) for (a, _), g in zip(layer, grads)])
        traces = torch.stack([G.trace() for G in Gs])
        weights = traces / traces.sum() if traces.sum() > 0 else torch.full_like(traces, 1 / len(traces))
        out.append((sum(w * A for w, A in zip(weights, As)), sum(Gs)))
    return out


def precondition(grad: torch.Tensor, A: torch.Tensor, G: torch.Tensor, damping: float) -> torch.Tensor:
    """(G + l_G I)^{-1} grad (A + l_A I)^{-1} for grad (d_out, d_in [+ 1]); each factor is damped by
    sqrt(damping) times its mean diagonal (Martens & Grosse's pi-split of damping times mean diag(A (x) G))."""
    def damped(F: torch.Tensor) -> torch.Tensor:
        shift = math.sqrt(damping) * F.trace() / len(F) + torch.finfo(F.dtype).tiny
        return torch.linalg.cholesky(F + shift * torch.eye(len(F), dtype=F.dtype, device=F.device))

    left = torch.cholesky_solve(grad, damped(G))
    return torch.cholesky_solve(left.T, damped(A)).T


class KFAC(torch.optim.Optimizer):
    """K-FAC on a least-squares loss ||r||^2 whose closure is a `Residuals` naming its linear `layers`.

    Per step: r and its gradient; every `update_every` steps, fresh factors (`factors`) blended into an
    exponential moving average (weight `ema` on the old); the direction is the gradient preconditioned
    per layer (`precondition`), and the plain negative gradient for parameters outside the layers
    (trainable PDE constants). Then the best step size 2^-k over `steps` (a line search, one loss
    evaluation each; no improvement leaves the parameters and marks the optimizer stalled), or `lr`
    when `steps` is empty. Bounds per group are kept by projection. The forward jets of `jets.py` show
    each layer every jet row, so the PDE term's factors see the derivatives it takes.

    State: `self.state[layer.weight]`: `A`, `G` its averaged factors; `self.state[first parameter]`:
    `step` steps taken, `eta` the last step size (0: stalled).
    """

    STALLED = "no step size of the grid lowers the loss: the loss is at its numerical floor"

    def __init__(self, params: Iterable, damping: float = 1e-3, ema: float = 0.95, update_every: int = 1,
                 lr: float = 1.0, steps: Sequence[float] = tuple(2.0**-k for k in range(31))):
        if damping <= 0 or not 0 <= ema < 1 or update_every < 1 or lr <= 0:
            raise ValueError("damping and lr must be > 0, 0 <= ema < 1, update_every >= 1")
        super().__init__(params, {"lower": None, "upper": None})
        self.damping, self.ema, self.update_every, self.lr, self.steps = damping, ema, update_every, lr, tuple(steps)

    @torch.no_grad()
    def step(self, closure: ResidualClosure) -> torch.Tensor:  # type: ignore[override]
        """One gradient (and factor refresh when due), one direction, a line search; returns the loss
        after the step (with `lr`: before it, which costs no extra evaluation)."""
        residuals, params = as_residuals(closure), self._params()
        if not residuals.layers:
            raise ValueError("K-FAC needs the linear layers the residual passes through (Residuals.layers)")
        state = self.state[params[0]]
        k = int(state.get("step", 0))
        with torch.enable_grad(), recording(residuals.layers if k % self.update_every == 0 else ()) as calls:
            r = residuals.vector()
            if calls:
                signs = torch.randint(0, 2, r.shape, generator=torch.Generator().manual_seed(k)).to(r) * 2 - 1
                self._average(residuals.layers, factors(calls, r, signs))
            loss = r.detach().dot(r.detach())
            grads = dict(zip(params, torch.autograd.grad(r.dot(r), params, allow_unused=True,
                                                         materialize_grads=True)))
        d = torch.cat([-v.reshape(-1) for v in self._directions(residuals.layers, grads).values()])
        state["step"] = torch.tensor(k + 1)
        if self.steps:
            loss, eta = grid_search(self.param_groups, _flat(params), d, loss, self.steps, residuals)
            state["eta"] = torch.tensor(eta)
            return loss
        _assign(params, _flat(params) + self.lr * d)
        project(self.param_groups)
        return loss

    def _average(self, layers: Sequence[torch.nn.Linear], fresh: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        for layer, (A, G) in zip(layers, fresh):
            state = self.state[layer.weight]
            if "A" in state:
                A, G = self.ema * state["A"] + (1 - self.ema) * A, self.ema * state["G"] + (1 - self.ema) * G
            state["A"], state["G"] = A, G

    def _directions(self, layers: Sequence[torch.nn.Linear],
                    grads: dict[torch.Tensor, torch.Tensor]) -> dict[torch.Tensor, torch.Tensor]:
        """Each parameter's preconditioned gradient, in parameter order (the plain one outside the layers)."""
        out = dict(grads)
        for layer in layers:
            with_bias = layer.bias is not None
            grad = torch.cat([grads[layer.weight], grads[layer.bias][:, None]], 1) if with_bias else grads[layer.weight]
            state = self.state[layer.weight]
            step = precondition(grad, state["A"], state["G"], self.damping)
            out[layer.weight] = step[:, :layer.in_features]
            if with_bias:
                out[layer.bias] = step[:, -1]
        return out

    def stalled(self) -> bool:
        return bool(self.state[self._params()[0]].get("eta", 1) == 0)

    def _params(self) -> list[torch.Tensor]:
        return [p for group in self.param_groups for p in group["params"]]


class KFACOptions(PhaseOptions):
    optimizer: Literal["kfac"]
    dtype: Optional[Literal["float32", "float64"]] = Field("float64", description="phase dtype")
    damping: float = Field(1e-3, gt=0, description="Kronecker-factor damping, relative to the factors' mean diagonals")
    ema: float = Field(0.95, ge=0, lt=1, description="weight of the old factors in their moving average")
    update_every: int = Field(1, gt=0, description="refresh the factors every k steps")
    line_search: Literal["grid", "none"] = Field("grid", description="grid: best of 2^-k, k < grid; none: lr")
    grid: int = Field(31, gt=0, description="line search over the step sizes 2^-k, k = 0 .. grid - 1")
    lr: float = Field(1.0, gt=0, description="step size without a line search")


class KFACPhase(GaussNewtonPhase):
    """`optimizer = "kfac"`: `KFAC` on an MLP (or one under an output transform), float64 by default."""

    Options = KFACOptions

    @staticmethod
    def check_model(model: torch.nn.Module, engine: str) -> None:
        """K-FAC reads the layers of an MLP through the forward jets: refuse anything else before training."""
        if not isinstance(model.net if isinstance(model, Constrained) else model, MLP):
            raise ValueError(f"kfac needs an MLP (or an MLP under an output transform), not {type(model).__name__}")
        if engine != "jet":
            raise ValueError('kfac reads the derivative rows of the forward jets: set model.engine = "jet"')

    def optimizer(self, groups: list[dict]) -> KFAC:
        o = self.options
        steps = [2.0**-k for k in range(o.grid)] if o.line_search == "grid" else []
        return KFAC(groups, damping=o.damping, ema=o.ema, update_every=o.update_every, lr=o.lr, steps=steps)
