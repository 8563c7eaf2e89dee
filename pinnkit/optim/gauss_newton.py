"""What the Gauss-Newton phases (`lm`, `engd`, `kfac`) share: the dense Jacobian J (N, P) of the residual
vector, the damped Gauss-Newton step, the memory guard and the phase base.

A least-squares loss is ||r||^2. Its damped Gauss-Newton step d minimizes ||r + J d||^2 + lam ||d||^2:
d = -(J^T J + lam I)^{-1} J^T r in parameter space (P x P), or equivalently, by the Woodbury identity,
d = -J^T (J J^T + lam I)^{-1} r in sample space (N x N); the smaller of the two is solved, by Cholesky.
Where several processes share r, each holding some of its rows, J^T J and J^T r are summed over them in
one all-reduce (`summed_system`) and the step is solved in parameter space, the same on every process.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Iterator, Literal, Optional

import torch
from pydantic import Field

from .closures import ObjectiveView, Residuals, Rows
from .grid_search import try_step
from .params import active, assign, box, flat, parameters
from .phase import OptimizerPhase, PhaseOptions, Sizes, Step

log = logging.getLogger(__name__)
Space = Literal["auto", "parameter", "sample"]
GiB = 2**30
BACKWARD_ROWS = 256  # rows of J per batched backward pass over a block that comes whole


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


def evaluated_blocks(residuals: Residuals) -> tuple[list[tuple[Optional[torch.Tensor], torch.Tensor]], int]:
    """Every block (rows, r[rows]) of the residual evaluated with its graph (the whole vector as one block
    when it comes in none), and the number of residual rows N."""
    with torch.enable_grad():
        blocks = list(residuals.blocks()) if residuals.blocks is not None else [(None, residuals.vector())]
    return blocks, sum(r.numel() for _, r in blocks)


def jacobian_rows(blocks: list[tuple[Optional[torch.Tensor], torch.Tensor]], n: int,
                  params: list[torch.Tensor]) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """The rows of r and of its Jacobian over `params` (flattened in order), detached, BACKWARD_ROWS at a
    time from batched backward passes: (row indices, r[rows], J[rows]); at most one chunk of J exists at a
    time. The graphs are retained: the terms of one group (momentum and continuity) share their points'
    graph, and `blocks` holds them all anyway until the caller drops it."""
    with torch.enable_grad():
        for rows, r in blocks:
            rows = torch.arange(n) if rows is None else rows
            for start in range(0, len(rows), BACKWARD_ROWS):
                chunk = rows[start:start + BACKWARD_ROWS]
                eye = torch.zeros(len(chunk), r.numel(), dtype=r.dtype, device=r.device)
                eye[torch.arange(len(chunk)), torch.arange(start, start + len(chunk))] = 1
                grads = torch.autograd.grad(r, params, eye, is_grads_batched=True, allow_unused=True,
                                            materialize_grads=True, retain_graph=True)
                yield chunk, r[start:start + len(chunk)].detach(), torch.cat(  # unused: one unbatched zero
                    [g.reshape(len(chunk), -1) if g.dim() > p.dim() else g.new_zeros(len(chunk), p.numel())
                     for g, p in zip(grads, params)], dim=1)


def all_rows(residuals: Residuals, params: list[torch.Tensor]) -> tuple[int, Iterator[Rows]]:
    """N, and the rows of r and of its Jacobian in chunks: point by point where the residuals offer it
    (`Residuals.jacobian`), else by batched backward passes over every block, evaluated first."""
    offered = residuals.jacobian(params) if residuals.jacobian is not None else None
    if offered is not None:
        return offered
    blocks, n = evaluated_blocks(residuals)
    return n, jacobian_rows(blocks, n, params)


def jacobian(residuals: Residuals, params: list[torch.Tensor], max_gb: float) -> tuple[torch.Tensor, torch.Tensor]:
    """r (N,) and its Jacobian J (N, P) over `params` flattened in order, both detached; the memory guard runs
    once N is known, before J is allocated."""
    n, chunks = all_rows(residuals, params)
    check_memory(n, sum(p.numel() for p in params), params[0].element_size(), max_gb)
    r_all = params[0].new_empty(n)
    J = params[0].new_empty(n, sum(p.numel() for p in params))
    for rows, r, rows_of_J in chunks:
        r_all[rows], J[rows] = r, rows_of_J
    return r_all, J


def hold_active(groups: list[dict], J: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """J with zero columns for the parameters held at a bound (`params.active`, for the gradient J^T r):
    the damped step then leaves them where they are, and the others move as if they were constants."""
    lower, upper = box(groups)
    held = active(flat([p for g in groups for p in g["params"]]), J.T @ r, lower, upper)
    return torch.where(held, 0.0, J) if held.any() else J


class DampedSystem:
    """J and its Gramian in the smaller space (or the one asked for), to solve for several damping values."""

    def __init__(self, J: torch.Tensor, r: torch.Tensor, space: Space = "auto"):
        self.J, self.r = J, r
        self.fallbacks = 0  # solves in which Cholesky failed (least squares instead)
        self.sample = space == "sample" or (space == "auto" and J.shape[0] < J.shape[1])
        self.gramian = J @ J.T if self.sample else J.T @ J
        self.gradient = J.T @ r  # half the gradient of ||r||^2

    def scale(self) -> torch.Tensor:
        """max diag(J^T J): the natural unit of the damping (Nielsen's tau * this starts LM)."""
        return self.J.square().sum(0).max()

    def reduction(self, d: torch.Tensor) -> torch.Tensor:
        """The predicted reduction ||r||^2 - ||r + J d||^2 of the step d."""
        Jd = self.J @ d
        return -(2 * self.r.dot(Jd) + Jd.square().sum())

    def step(self, damping: torch.Tensor) -> torch.Tensor:
        """d = -(J^T J + damping I)^{-1} J^T r, the same in either space."""
        A = self.gramian + damping * torch.eye(len(self.gramian), dtype=self.gramian.dtype, device=self.gramian.device)
        x, solved = spd_solve(A, self.r if self.sample else self.gradient)
        self.fallbacks += not solved
        return -self.J.T @ x if self.sample else -x


class SummedSystem(DampedSystem):
    """The damped system of the normal equations alone: J^T J and J^T r summed over the processes that hold r's
    rows (`summed_system`), in parameter space."""

    def __init__(self, gramian: torch.Tensor, gradient: torch.Tensor):
        self.gramian, self.gradient, self.sample, self.fallbacks = gramian, gradient, False, 0

    def scale(self) -> torch.Tensor:
        return self.gramian.diagonal().max()

    def reduction(self, d: torch.Tensor) -> torch.Tensor:
        return -(2 * self.gradient.dot(d) + d.dot(self.gramian @ d))


def summed_system(groups: list[dict], residuals: Residuals, max_gb: float) -> tuple[SummedSystem, torch.Tensor]:
    """J^T J, J^T r and ||r||^2 of this process's rows, summed over the processes in one all-reduce, with the
    parameters held at a bound (`params.active`) zeroed; and ||r||^2."""
    params = parameters(groups)
    P = sum(p.numel() for p in params)
    check_memory(P, P, params[0].element_size(), max_gb)  # the summed Gramian, and the damped one solved

    def local() -> torch.Tensor:
        r, J = jacobian(residuals, params, max_gb)
        return torch.cat([(J.T @ J).reshape(-1), J.T @ r, r.dot(r).reshape(1)])

    summed = residuals.processes.sum(local, params[0].new_zeros(P * P + P + 1))
    gramian, gradient, f = summed[:P * P].view(P, P), summed[P * P:-1], summed[-1]
    held = active(flat(params), gradient, *box(groups))
    if held.any():
        gramian, gradient = torch.where(held[:, None] | held[None, :], 0.0, gramian), torch.where(held, 0.0, gradient)
    return SummedSystem(gramian, gradient), f


def gauss_newton_system(groups: list[dict], residuals: Residuals, space: Space,
                        max_gb: float) -> tuple[DampedSystem, torch.Tensor]:
    """The damped Gauss-Newton system at the current parameters (those held at a bound kept there), and the
    loss ||r||^2: from r and its Jacobian, or where processes share r from the summed normal equations."""
    if residuals.processes is not None:
        return summed_system(groups, residuals, max_gb)
    r, J = jacobian(residuals, parameters(groups), max_gb)
    J = hold_active(groups, J, r)
    return DampedSystem(J, r, space), r.dot(r)


def spd_solve(A: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """A^{-1} b for symmetric positive (semi)definite A, and whether Cholesky solved it (else least squares)."""
    L, info = torch.linalg.cholesky_ex(A)
    if int(info) == 0:
        return torch.cholesky_solve(b[:, None], L)[:, 0], True
    driver = "gelsd" if A.device.type == "cpu" else None
    return torch.linalg.lstsq(A, b[:, None], driver=driver).solution[:, 0], False


def note_fallbacks(state: dict, system: DampedSystem) -> None:
    """Count the system's least-squares fallbacks in an optimizer's `state["fallbacks"]`; say so in the log
    at the first one and at every hundredth (a near-singular Gramian: raise the damping)."""
    before = int(state.get("fallbacks", 0))
    state["fallbacks"] = before + system.fallbacks
    if system.fallbacks and (before == 0 or before // 100 < (before + system.fallbacks) // 100):
        log.warning("the damped Gauss-Newton matrix is not numerically positive definite (%d times so far): "
                    "solved by least squares instead of Cholesky; a larger damping avoids it",
                    state["fallbacks"])


def gain_ratio_update(state: dict, f: torch.Tensor, f_new: torch.Tensor, predicted: torch.Tensor,
                      max_damping: float) -> bool:
    """Nielsen's damping rule after one trial step; whether the step is accepted.

    Accepted when the loss fell from f to a finite f_new and the model predicted a fall: the damping
    shrinks by max(1/3, 1 - (2 rho - 1)^3), rho = actual / predicted reduction, and nu resets to 2.
    Rejected otherwise: the damping grows by nu, nu doubles, and `stalled` is set above `max_damping`.
    """
    if torch.isfinite(f_new) and predicted > 0 and f_new < f:
        rho = float((f - f_new) / predicted)
        state["damping"] *= max(1 / 3, 1 - (2 * rho - 1) ** 3)
        state["nu"], state["loss"] = 2.0, f_new
        return True
    state["damping"] *= state["nu"]
    state["nu"] *= 2
    if state["damping"] > max_damping:
        state["stalled"] = 1.0
    return False


class DampedOptimizer(torch.optim.Optimizer):
    """Base of the optimizers damped by the gain ratio (`lm`, `gncg`, `sgn`): their state's `stalled` is set
    when no trial lowered the loss up to the largest damping (`gain_ratio_update`)."""

    STALLED = "no damped step lowers the loss (damping above max_damping): the loss is at its numerical floor"

    def stalled(self) -> bool:
        return bool(self.state[parameters(self.param_groups)[0]].get("stalled", 0))


def damped_trials(groups: list[dict], x: torch.Tensor, f: torch.Tensor, system: "DampedSystem | Any",
                  reduction: Callable[[torch.Tensor], torch.Tensor], loss: Callable[[], torch.Tensor],
                  state: dict, max_trials: int, max_damping: float) -> torch.Tensor:
    """Try damped steps from x (loss f) until the gain ratio accepts one, and return its loss; `reduction(d)`
    is the model's predicted reduction for the step d taken, `loss()` the loss at the current parameters
    (`closures.squared_norm`). When none is accepted, x is put back and f returned (the damping has grown,
    and `stalled` is set above `max_damping`)."""
    for _ in range(max_trials):
        d, f_new = try_step(groups, x, system.step(state["damping"]), loss)
        note_fallbacks(state, system)
        if gain_ratio_update(state, f, f_new, reduction(d), max_damping):
            return f_new
        if state["stalled"]:
            break
    assign(parameters(groups), x)
    return f


class GaussNewtonOptions(PhaseOptions):
    """Keys of the Gauss-Newton phases; they run in float64 unless told otherwise."""

    dtype: Optional[Literal["float32", "float64"]] = Field("float64", description="phase dtype")


class JacobianOptions(GaussNewtonOptions):
    """Keys of the phases that form the dense Jacobian."""

    space: Space = Field("auto", description="solve in parameter space (P x P) or sample space (N x N); "
                                             "auto: the smaller")
    max_memory_gb: float = Field(2.0, gt=0, le=2**20, description="refuse a Jacobian plus Gramian larger "
                                                                 "than this")


class GaussNewtonPhase(OptimizerPhase):
    """A phase that steps a Gauss-Newton optimizer (`make_optimizer`) on the residual vector; it ends
    converged when the optimizer finds no step that lowers the loss (`stalled()`)."""

    closure = "residuals"
    compilable = False  # the Jacobian takes batched backward passes through the derivative engine

    def make_optimizer(self, groups: list[dict]) -> torch.optim.Optimizer:
        raise NotImplementedError

    def start(self, groups: list[dict], objective: ObjectiveView) -> None:
        self.optimizer, self.residuals = self.make_optimizer(groups), objective.residuals

    def step(self, k: int) -> Step:
        loss = self.optimizer.step(self.residuals)
        if self.optimizer.stalled():
            return Step(loss, "converged", self.optimizer.STALLED)
        return Step(loss)


class JacobianPhase(GaussNewtonPhase):
    """A Gauss-Newton phase that forms the dense Jacobian (lm, engd): guarded by `max_memory_gb`."""

    def validate(self, sizes: Sizes) -> None:
        """The memory guard before training starts (raises `MemoryBudgetError`)."""
        check_memory(sizes.residuals, sizes.parameters, 4 if self.options.dtype == "float32" else 8,
                     self.options.max_memory_gb)
