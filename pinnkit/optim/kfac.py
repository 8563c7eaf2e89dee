"""K-FAC for PINN losses (Dangel, Mueller & Zeinhofer 2024) and its phase (`optimizer = "kfac"`).

The Gauss-Newton matrix J^T J of a loss ||r||^2 is approximated per linear layer by one Kronecker
product A (x) G: A = E[a a^T] over the layer's inputs a (with a 1 appended where the bias enters) and
G = sum g g^T over the gradients g of the residual with respect to its outputs. The layers come from
the objective view (`closures.LayerTaps`): a network evaluated by forward jets shows each layer every
jet row (the value and each derivative row, with the same W), so for the PDE term each row counts as
one more input, as for weight sharing (K-FAC-expand); a plain forward pass (boundary and initial terms)
gives one row per point. Memory grows with the layer widths, not with N x P.
"""
from __future__ import annotations

import math
from contextlib import nullcontext
from typing import Iterable, Literal, Optional, Sequence

import torch
from pydantic import Field

from .closures import LayerCall, ResidualClosure, as_residuals, squared_norm
from .gauss_newton import GaussNewtonOptions, GaussNewtonPhase
from .grid_search import grid_search, step_grid
from .params import assign, flat, parameters, project
from .phase import Sizes

Layer = tuple[torch.Tensor, Optional[torch.Tensor]]  # (weight, bias or None)


def factors(calls: list[list[LayerCall]], r: torch.Tensor,
            signs: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(A, G) per layer from its recorded calls and r (N,), J^T J ~ A (x) G for each layer's block.

    g comes from one backward pass of signs . r: exact when each point has one residual entry (a
    scalar PDE and conditions: a point's outputs reach no other entry), else an unbiased estimate.
    Each call (term) gives mean(a a^T) (x) sum(g g^T); the terms' A are averaged weighted by tr G.
    """
    outputs = [call.output for layer in calls for call in layer]
    grads = iter(torch.autograd.grad(r, outputs, signs, retain_graph=True, allow_unused=True,
                                     materialize_grads=True))
    out = []
    for layer in calls:
        As, Gs = [], []
        for call, g in zip(layer, grads):
            rows = call.rows(g)
            As.append(call.inputs.T @ call.inputs / len(call.inputs))
            Gs.append(rows.T @ rows)
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
    """K-FAC on a least-squares loss ||r||^2 whose closure is a `Residuals` showing its linear layers (`taps`).

    Per step: r and its gradient; every `update_every` steps, fresh factors (`factors`) blended into an
    exponential moving average (weight `ema` on the old); the direction is the gradient preconditioned
    per layer (`precondition`), and the plain negative gradient for parameters outside the layers
    (trainable PDE constants). Then the best step size 2^-k over `steps` (a line search, one loss
    evaluation each; no improvement leaves the parameters and marks the optimizer stalled), or `lr`
    when `steps` is empty. Bounds per group are kept by projection.

    State: `self.state[weight]`: `A`, `G` the layer's averaged factors; `self.state[first parameter]`:
    `step` steps taken, `eta` the last step size (0: stalled).
    """

    STALLED = "no step size of the grid lowers the loss: the loss is at its numerical floor"

    def __init__(self, params: Iterable, damping: float = 1e-3, ema: float = 0.95, update_every: int = 1,
                 lr: float = 1.0, steps: Sequence[float] = step_grid(31)):
        if damping <= 0 or not 0 <= ema < 1 or update_every < 1 or lr <= 0:
            raise ValueError("damping and lr must be > 0, 0 <= ema < 1, update_every >= 1")
        super().__init__(params, {"lower": None, "upper": None})
        self.damping, self.ema, self.update_every, self.lr, self.steps = damping, ema, update_every, lr, tuple(steps)

    @torch.no_grad()
    def step(self, closure: ResidualClosure) -> torch.Tensor:  # type: ignore[override]
        """One gradient (and factor refresh when due), one direction, a line search; returns the loss
        after the step (with `lr`: before it, which costs no extra evaluation)."""
        residuals, params = as_residuals(closure), parameters(self.param_groups)
        if residuals.taps is None:
            raise ValueError("K-FAC needs the linear layers the residual passes through (Residuals.taps)")
        layers, state = residuals.taps.layers, self.state[params[0]]
        k = int(state.get("step", 0))
        with torch.enable_grad(), (residuals.taps.record() if k % self.update_every == 0 else nullcontext()) as calls:
            r = residuals.vector()
            if calls:
                signs = torch.randint(0, 2, r.shape, generator=torch.Generator().manual_seed(k)).to(r) * 2 - 1
                self._average(layers, factors(calls, r, signs))
            loss = r.detach().dot(r.detach())
            grads = dict(zip(params, torch.autograd.grad(r.dot(r), params, allow_unused=True,
                                                         materialize_grads=True)))
        d = torch.cat([-v.reshape(-1) for v in self._directions(layers, grads).values()])
        state["step"] = torch.tensor(k + 1)
        if self.steps:
            loss, eta = grid_search(self.param_groups, flat(params), d, loss, self.steps,
                                    squared_norm(residuals, loss))
            state["eta"] = torch.tensor(eta)
            return loss
        assign(params, flat(params) + self.lr * d)
        project(self.param_groups)
        return loss

    def _average(self, layers: Sequence[Layer], fresh: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        for (weight, _), (A, G) in zip(layers, fresh):
            state = self.state[weight]
            if "A" in state:
                A, G = self.ema * state["A"] + (1 - self.ema) * A, self.ema * state["G"] + (1 - self.ema) * G
            state["A"], state["G"] = A, G

    def _directions(self, layers: Sequence[Layer],
                    grads: dict[torch.Tensor, torch.Tensor]) -> dict[torch.Tensor, torch.Tensor]:
        """Each parameter's preconditioned gradient, in parameter order (the plain one outside the layers)."""
        out = dict(grads)
        for weight, bias in layers:
            grad = torch.cat([grads[weight], grads[bias][:, None]], 1) if bias is not None else grads[weight]
            state = self.state[weight]
            step = precondition(grad, state["A"], state["G"], self.damping)
            out[weight] = step[:, :weight.shape[1]]
            if bias is not None:
                out[bias] = step[:, -1]
        return out

    def stalled(self) -> bool:
        return bool(self.state[parameters(self.param_groups)[0]].get("eta", 1) == 0)


class KFACOptions(GaussNewtonOptions):
    """K-FAC's keys: damping, the factors' moving average and the step size."""

    optimizer: Literal["kfac"]
    damping: float = Field(1e-3, gt=0, le=1e6, description="Kronecker-factor damping, relative to the factors' "
                                                            "mean diagonals")
    ema: float = Field(0.95, ge=0, lt=1, description="weight of the old factors in their moving average")
    update_every: int = Field(1, gt=0, le=10**6, description="refresh the factors every k steps")
    line_search: Literal["grid", "none"] = Field("grid", description="grid: best of 2^-k, k < grid; none: lr")
    grid: int = Field(31, gt=0, le=64, description="line search over the step sizes 2^-k, k = 0 .. grid - 1")
    lr: float = Field(1.0, gt=0, description="step size without a line search")


class KFACPhase(GaussNewtonPhase):
    """`optimizer = "kfac"`: `KFAC`, float64 by default, on a network that shows its linear layers."""

    Options = KFACOptions

    def validate(self, sizes: Sizes) -> None:
        """K-FAC preconditions the linear layers the objective shows: refuse an objective that shows none."""
        if not sizes.taps:
            raise ValueError('kfac needs a network that shows the calls of its linear layers to the optimizer, '
                             'every derivative row included: pinnkit\'s MLP under model.engine = "jet"')

    def make_optimizer(self, groups: list[dict]) -> KFAC:
        o = self.options
        steps = step_grid(o.grid) if o.line_search == "grid" else ()
        return KFAC(groups, damping=o.damping, ema=o.ema, update_every=o.update_every, lr=o.lr, steps=steps)
