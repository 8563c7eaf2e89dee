"""What the Gauss-Newton phases (`lm`, `engd`) share: the residual closure they get, the dense Jacobian
J (N, P) of the residual vector, the damped Gauss-Newton step, the memory guard and the phase loop.

A least-squares loss is ||r||^2. Its damped Gauss-Newton step d minimizes ||r + J d||^2 + lam ||d||^2:
d = -(J^T J + lam I)^{-1} J^T r in parameter space (P x P), or equivalently, by the Woodbury identity,
d = -J^T (J J^T + lam I)^{-1} r in sample space (N x N); the smaller of the two is solved, by Cholesky.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable, Literal, Optional, Sequence, Union

import torch
from pydantic import Field

from .lbfgs import _assign, _bound, _flat
from .phase import BUDGET_MESSAGES, Monitor, PhaseOptions, PhaseResult, project

Block = tuple[torch.Tensor, torch.Tensor]  # (row indices into r, the residual entries of those rows)
Space = Literal["auto", "parameter", "sample"]
GiB = 2**30
BACKWARD_ROWS = 256  # rows of J per batched backward pass over a block that comes whole


@dataclass
class Residuals:
    """What a Gauss-Newton phase gets instead of a loss closure: the residual vector r, loss = ||r||^2.

    `vector()` evaluates r (N,). `blocks()`, when given, yields (rows, r[rows]) pieces that cover r, each
    with its own graph (rows that depend on a few inputs each, such as collocation points): the Jacobian
    of a piece then costs a backward pass over that piece only, instead of one over all of r per row.
    `layers`, when given, are the linear layers r passes through, in order (K-FAC preconditions them).
    """

    vector: Callable[[], torch.Tensor]
    blocks: Optional[Callable[[], Iterable[Block]]] = None
    layers: Sequence[torch.nn.Linear] = ()

    def __call__(self) -> torch.Tensor:
        return self.vector()


ResidualClosure = Union[Residuals, Callable[[], torch.Tensor]]


def as_residuals(closure: ResidualClosure) -> Residuals:
    """A plain function returning r becomes `Residuals` (one block: fine for small problems)."""
    return closure if isinstance(closure, Residuals) else Residuals(closure)


class MemoryBudgetError(ValueError):
    """The dense Jacobian and Gramian would exceed `max_memory_gb`."""


def check_memory(rows: int, cols: int, itemsize: int, max_gb: float) -> None:
    """Refuse, in one line, a Jacobian (rows x cols) plus the Gramian of its smaller side over `max_gb` GiB."""
    need = itemsize * (rows * cols + min(rows, cols) ** 2)
    if need > max_gb * GiB:
        raise MemoryBudgetError(
            f"the Gauss-Newton Jacobian ({rows} residuals x {cols} parameters) and its Gramian need "
            f"{need / GiB:.2f} GiB, over max_memory_gb = {max_gb:g}; use fewer collocation points, a smaller "
            f"network, or an optimizer that forms no Jacobian (lbfgs, adam)")


def jacobian(residuals: Residuals, params: list[torch.Tensor], max_gb: float) -> tuple[torch.Tensor, torch.Tensor]:
    """r (N,) and its Jacobian J (N, P) over `params` flattened in order, both detached.

    Every block is evaluated first (the graphs of one loss evaluation), then N is known and the memory
    guard runs before J is allocated; each block's rows come from batched backward passes.
    """
    with torch.enable_grad():
        blocks = list(residuals.blocks()) if residuals.blocks is not None else [(None, residuals.vector())]
        n = sum(r.numel() for _, r in blocks)
        cols = sum(p.numel() for p in params)
        check_memory(n, cols, params[0].element_size(), max_gb)
        r_all = params[0].new_empty(n)
        J = params[0].new_empty(n, cols)
        for rows, r in blocks:
            rows = torch.arange(n) if rows is None else rows
            r_all[rows] = r.detach()
            for start in range(0, len(rows), BACKWARD_ROWS):
                chunk = rows[start:start + BACKWARD_ROWS]
                eye = torch.zeros(len(chunk), r.numel(), dtype=r.dtype, device=r.device)
                eye[torch.arange(len(chunk)), torch.arange(start, start + len(chunk))] = 1
                grads = torch.autograd.grad(r, params, eye, is_grads_batched=True, allow_unused=True,
                                            materialize_grads=True, retain_graph=start + BACKWARD_ROWS < len(rows))
                J[chunk] = torch.cat([g.reshape(len(chunk), -1) for g in grads], dim=1)
    return r_all, J


def hold_active(groups: list[dict], J: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """J with zero columns for the parameters held at a bound (at it, the gradient J^T r pointing outward):
    the damped step then leaves them where they are, and the others move as if they were constants."""
    x = torch.cat([p.detach().reshape(-1) for g in groups for p in g["params"]])
    lower = torch.cat([_bound(g.get("lower"), p, -math.inf) for g in groups for p in g["params"]])
    upper = torch.cat([_bound(g.get("upper"), p, math.inf) for g in groups for p in g["params"]])
    g = J.T @ r
    active = ((x <= lower) & (g > 0)) | ((x >= upper) & (g < 0))
    return torch.where(active, 0.0, J) if active.any() else J


def try_step(groups: list[dict], x: torch.Tensor, d: torch.Tensor,
             residuals: Residuals) -> tuple[torch.Tensor, torch.Tensor]:
    """Move the parameters to the projection of x + d onto the bounds; the step taken, and the loss there."""
    params = [p for group in groups for p in group["params"]]
    _assign(params, x + d)
    project(groups)
    with torch.enable_grad():
        loss = residuals.vector().detach().square().sum()
    return _flat(params) - x, loss


def grid_search(groups: list[dict], x: torch.Tensor, d: torch.Tensor, loss: torch.Tensor, steps: Sequence[float],
                residuals: Residuals) -> tuple[torch.Tensor, float]:
    """Move the parameters to the best of x + eta d over the step sizes `steps` (x itself, with eta = 0,
    when none lowers `loss`, the loss at x); returns that loss and eta. One loss evaluation per step size."""
    best, best_f, best_eta = x, loss, 0.0
    for eta in steps:
        step, f = try_step(groups, x, eta * d, residuals)
        if f < best_f:
            best, best_f, best_eta = x + step, f, eta
    _assign([p for group in groups for p in group["params"]], best)
    return best_f, best_eta


class DampedSystem:
    """J and its Gramian in the smaller space (or the one asked for), to solve for several damping values."""

    def __init__(self, J: torch.Tensor, r: torch.Tensor, space: Space = "auto"):
        self.J, self.r = J, r
        self.sample = space == "sample" or (space == "auto" and J.shape[0] < J.shape[1])
        self.gramian = J @ J.T if self.sample else J.T @ J
        self.gradient = J.T @ r  # half the gradient of ||r||^2

    def scale(self) -> torch.Tensor:
        """max diag(J^T J): the natural unit of the damping (Nielsen's tau * this starts LM)."""
        return self.J.square().sum(0).max()

    def step(self, damping: torch.Tensor) -> torch.Tensor:
        """d = -(J^T J + damping I)^{-1} J^T r, the same in either space."""
        A = self.gramian + damping * torch.eye(len(self.gramian), dtype=self.J.dtype, device=self.J.device)
        if self.sample:
            return -self.J.T @ spd_solve(A, self.r)
        return -spd_solve(A, self.gradient)


def spd_solve(A: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """A^{-1} b for symmetric positive (semi)definite A: Cholesky, least squares where Cholesky fails."""
    L, info = torch.linalg.cholesky_ex(A)
    if int(info) == 0:
        return torch.cholesky_solve(b[:, None], L)[:, 0]
    return torch.linalg.lstsq(A, b[:, None], driver="gelsd" if A.device.type == "cpu" else None).solution[:, 0]


class GaussNewtonOptions(PhaseOptions):
    """Keys of the dense Gauss-Newton phases; they run in float64 unless told otherwise."""

    dtype: Optional[Literal["float32", "float64"]] = Field("float64", description="phase dtype")
    space: Space = Field("auto", description="solve in parameter space (P x P) or sample space (N x N); "
                                             "auto: the smaller")
    max_memory_gb: float = Field(2.0, gt=0, description="refuse a Jacobian plus Gramian larger than this")


class GaussNewtonPhase:
    """A phase that steps a Gauss-Newton optimizer on the residual vector (set `residuals = True`:
    the trainer hands it `Residuals`, not a loss closure). Subclasses name the optimizer."""

    residuals = True

    def __init__(self, options: PhaseOptions):
        self.options = options

    def optimizer(self, groups: list[dict]) -> torch.optim.Optimizer:
        raise NotImplementedError

    def run(self, groups: list[dict], closure: ResidualClosure, monitor: Monitor) -> PhaseResult:
        residuals, o = as_residuals(closure), self.options
        optimizer = self.optimizer(groups)
        monitor.attach(optimizer)

        def counted(fn: Callable) -> Callable:
            def call():
                monitor.evaluated()
                return fn()
            return call

        counting = Residuals(counted(residuals.vector), residuals.blocks and counted(residuals.blocks), residuals.layers)
        k, reason, loss = monitor.iterations, None, torch.tensor(math.nan)
        while reason is None:
            loss = optimizer.step(counting)
            k += 1
            reason = monitor.iteration_done(k)
            if reason is None and optimizer.stalled():
                return monitor.result(o.optimizer, "converged", optimizer.STALLED, float(loss))
        return monitor.result(o.optimizer, reason, BUDGET_MESSAGES[reason], float(loss))


class JacobianPhase(GaussNewtonPhase):
    """A Gauss-Newton phase that forms the dense Jacobian (lm, engd): guarded by `max_memory_gb`."""

    @staticmethod
    def check_size(options: GaussNewtonOptions, rows: int, cols: int) -> None:
        """The memory guard before training starts (raises `MemoryBudgetError`)."""
        check_memory(rows, cols, 4 if options.dtype == "float32" else 8, options.max_memory_gb)
