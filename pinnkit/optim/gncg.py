"""Gauss-Newton by conjugate gradients: Levenberg-Marquardt steps that never form the Jacobian
(`optimizer = "gncg"`).

The damped step d minimizes ||r + J d||^2 + lam ||d||^2. CGLS (conjugate gradients on the normal
equations, in the form that applies J and J^T separately) solves it with one product J v and one product
J^T u per iteration, both by autograd: J^T u is a backward pass through the graph of r, and J v is the
derivative of the linear map u -> J^T u along v, a backward pass through that pass's graph. Memory is the
graph of r, the graph of its backward pass, and a few vectors of N and P entries, whatever N x P is:
about GRAPH_FACTOR times what autograd keeps for one evaluation of r (measured: 4.0-4.2x on Kovasznay
4 x 100 with 5,000 and 20,000 points, 6.2x on Burgers 8 x 20), refused before training above
`max_memory_gb`. The damping follows the gain ratio actual / predicted reduction, as in `lm`. Where
several processes share r, each holding some of its rows, J^T u and the dot products of residual-sized
vectors are summed over them: every process runs the same CGLS iterations.
"""
from __future__ import annotations

import math
from typing import Iterable, Literal, Optional

import torch
from pydantic import Field

from .closures import Processes, ResidualClosure, Residuals, as_residuals, squared_norm
from .gauss_newton import (DampedOptimizer, GiB, GaussNewtonOptions, GaussNewtonPhase, MemoryBudgetError,
                           gain_ratio_update)
from .grid_search import try_step
from .params import active, assign, box, flat, parameters
from .phase import Sizes

GRAPH_FACTOR = 6  # peak memory over one evaluation's saved tensors: r's graph, the backward graph, CG vectors


def check_memory(sizes: Sizes, itemsize: int, max_gb: float) -> None:
    """Refuse, in one line, a run whose graphs (`GRAPH_FACTOR` times one evaluation's) and vectors exceed `max_gb`."""
    graph = sizes.graph_bytes * itemsize / 8
    need = GRAPH_FACTOR * graph + itemsize * (8 * sizes.parameters + 4 * sizes.residuals)
    if need > max_gb * GiB:
        raise MemoryBudgetError(
            f"gncg keeps the graph of the residual ({graph / GiB:.2f} GiB for one evaluation) and that of its "
            f"backward pass: about {need / GiB:.2f} GiB, over max_memory_gb = {max_gb:g}; use fewer collocation "
            f"points or a smaller network")


class JacobianProducts:
    """J v and J^T u for the Jacobian J (N, P) of r (N,) over `params`, from r's graph (kept). With `processes`,
    r holds this process's rows: J^T u and the dot products of residual-sized vectors are summed over them."""

    def __init__(self, r: torch.Tensor, params: list[torch.Tensor], processes: Optional[Processes] = None):
        self.r, self.params, self.processes = r, params, processes
        self.u = torch.zeros_like(r, requires_grad=True)
        grads = torch.autograd.grad(r, params, self.u, create_graph=True, allow_unused=True, materialize_grads=True)
        self.linked = [(i, g) for i, g in enumerate(grads) if g.requires_grad]  # J^T u as a function of u

    def transposed(self, u: torch.Tensor) -> torch.Tensor:
        """J^T u (P,)."""
        if self.processes is None:
            return self.local_transposed(u)
        return self.processes.sum(lambda: self.local_transposed(u), torch.cat([p.reshape(-1) for p in self.params]))

    def local_transposed(self, u: torch.Tensor) -> torch.Tensor:
        """J^T u over this process's rows."""
        grads = torch.autograd.grad(self.r, self.params, u, retain_graph=True, allow_unused=True,
                                    materialize_grads=True)
        return torch.cat([g.reshape(-1) for g in grads])

    def inner(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """a . b of two residual-sized vectors (N,)."""
        if self.processes is None:
            return a.dot(b)
        return self.processes.sum(lambda: a.dot(b), a.new_zeros(()))

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        """J v (N,)."""
        pieces = v.split([p.numel() for p in self.params])
        outputs, along = zip(*[(g, pieces[i].view_as(g)) for i, g in self.linked])
        (jv,) = torch.autograd.grad(outputs, self.u, along, retain_graph=True, allow_unused=True,
                                    materialize_grads=True)
        return jv


def cgls(J: JacobianProducts, r: torch.Tensor, damping: float, free: torch.Tensor, iterations: int,
         tol: float) -> tuple[torch.Tensor, torch.Tensor]:
    """d minimizing ||r + J d||^2 + damping ||d||^2 over the `free` entries (the others stay 0), and J d.

    Stops after `iterations` or when the normal-equation residual falls below `tol` times its start."""
    d, Jd = torch.zeros_like(free, dtype=r.dtype), torch.zeros_like(r)
    rest = -r  # -r - J d
    s = J.transposed(rest) * free
    p, gamma = s, s.dot(s)
    target = tol * tol * float(gamma)
    for _ in range(iterations):
        q = J.forward(p)
        delta = J.inner(q, q) + damping * p.dot(p)
        if not float(delta) > 0:
            break
        alpha = gamma / delta
        d, Jd, rest = d + alpha * p, Jd + alpha * q, rest - alpha * q
        s = J.transposed(rest) * free - damping * d
        gamma, previous = s.dot(s), gamma
        if float(gamma) <= target:
            break
        p = s + (gamma / previous) * p
    return d, Jd


class GaussNewtonCG(DampedOptimizer):
    """Levenberg-Marquardt on ||r||^2 with matrix-free steps (`cgls`), a `torch.optim.Optimizer`.

    One `step(closure)` evaluates r, solves for the damped step by CGLS (up to `cg_iterations` pairs of
    Jacobian products), and tries it: the gain ratio rho = actual / predicted reduction accepts it and
    shrinks the damping by max(1/3, 1 - (2 rho - 1)^3), or rejects it, grows the damping by nu (nu doubling
    on each rejection in a row) and solves again on a fresh graph of r. The closure returns r (N,) (or is a
    `Residuals`). Bounds per group (`lower`/`upper`): parameters held at a bound (`params.active`) do not
    move and every trial is projected; the predicted reduction is that of the unprojected step.

    State (`self.state[first parameter]`): `damping` lam (its start: `damping` times a one-sample Hutchinson
    estimate of the mean diagonal of J^T J), `nu`, `loss` at the last accepted point; `stalled` 1 when no
    trial lowered the loss up to `max_damping`.

    Example (an exponential fit):
        >>> a = torch.zeros(2, dtype=torch.float64, requires_grad=True)
        >>> opt = GaussNewtonCG([a], cg_iterations=10)
        >>> for _ in range(20):
        ...     opt.step(lambda: a[0] * torch.exp(a[1] * t) - y)
    """

    def __init__(self, params: Iterable, damping: float = 1e-3, cg_iterations: int = 100, cg_tol: float = 1e-6,
                 max_trials: int = 10, max_damping: float = 1e16):
        if damping <= 0 or cg_iterations < 1 or not 0 <= cg_tol < 1 or max_trials < 1:
            raise ValueError("damping must be > 0, cg_iterations and max_trials >= 1, 0 <= cg_tol < 1")
        super().__init__(params, {"lower": None, "upper": None})
        self.damping, self.cg_iterations, self.cg_tol = damping, cg_iterations, cg_tol
        self.max_trials, self.max_damping = max_trials, max_damping

    @torch.no_grad()
    def step(self, closure: ResidualClosure) -> torch.Tensor:  # type: ignore[override]
        """Up to `max_trials` damped steps from the current parameters; returns the loss after the step."""
        residuals, groups = as_residuals(closure), self.param_groups
        params, state = parameters(groups), self.state[parameters(groups)[0]]
        x, (lower, upper) = flat(params), box(groups)
        for _ in range(self.max_trials):
            J, r, f, gradient = linearized(residuals, params)
            free = ~active(x, gradient, lower, upper)
            if "damping" not in state:
                state.update(damping=self.damping * self._scale(J, x), nu=2.0, stalled=0.0)
            d, Jd = cgls(J, r, state["damping"], free, self.cg_iterations, self.cg_tol)
            _, f_new = try_step(groups, x, d, squared_norm(residuals, x))
            predicted = -(2 * J.inner(r, Jd) + J.inner(Jd, Jd))  # ||r||^2 - ||r + J d||^2
            if gain_ratio_update(state, f, f_new, predicted, self.max_damping):
                return f_new
            assign(params, x)
            if state["stalled"]:
                break
        return f

    @staticmethod
    def _scale(J: JacobianProducts, x: torch.Tensor) -> float:
        """Mean diagonal of J^T J, estimated by Hutchinson with one Rademacher vector (seeded: repeatable)."""
        z = torch.randint(0, 2, x.shape, generator=torch.Generator().manual_seed(0)).to(x) * 2 - 1
        Jz = J.forward(z)
        return max(float(J.inner(Jz, Jz)) / len(x), math.ulp(1.0))


def linearized(residuals: Residuals, params: list[torch.Tensor]) -> tuple[JacobianProducts, torch.Tensor,
                                                                           torch.Tensor, torch.Tensor]:
    """r (detached), the products of its Jacobian, ||r||^2 and J^T r at the current parameters (the last two
    summed over the processes that share r, in one all-reduce that also carries a failed evaluation)."""
    processes = residuals.processes
    if processes is None:
        with torch.enable_grad():
            r = residuals.vector()
            J = JacobianProducts(r, params)
        r = r.detach()
        return J, r, r.dot(r), J.transposed(r)
    found = {}

    def local() -> torch.Tensor:
        with torch.enable_grad():
            r = residuals.vector()
            found["J"] = JacobianProducts(r, params, processes)
        found["r"] = r = r.detach()
        return torch.cat([found["J"].local_transposed(r), r.dot(r).reshape(1)])

    summed = processes.sum(local, params[0].new_zeros(1 + sum(p.numel() for p in params)))
    return found["J"], found["r"], summed[-1], summed[:-1]


class GNCGOptions(GaussNewtonOptions):
    """gncg's keys: damping, the CGLS budget, and the memory guard."""

    optimizer: Literal["gncg"]
    damping: float = Field(1e-3, gt=0, le=1e6, description="initial damping, times the mean diagonal of J^T J")
    cg_iterations: int = Field(100, gt=0, le=100_000, description="CGLS iterations per solve (two Jacobian "
                                                                   "products each)")
    cg_tol: float = Field(1e-6, ge=0, lt=1, description="stop CGLS when the normal-equation residual falls "
                                                        "below this fraction of its start")
    max_trials: int = Field(10, gt=0, le=100, description="damped steps tried per iteration")
    max_memory_gb: float = Field(8.0, gt=0, le=2**20, description="refuse a run whose graphs would exceed this")


class GNCGPhase(GaussNewtonPhase):
    """`optimizer = "gncg"`: `GaussNewtonCG`, float64 by default; memory grows with the graph of r, not N x P."""

    Options = GNCGOptions
    distributed = True  # J^T u and the residual-space dot products summed over the processes

    def validate(self, sizes: Sizes) -> None:
        check_memory(sizes, 4 if self.options.dtype == "float32" else 8, self.options.max_memory_gb)

    def make_optimizer(self, groups: list[dict]) -> GaussNewtonCG:
        o = self.options
        return GaussNewtonCG(groups, damping=o.damping, cg_iterations=o.cg_iterations, cg_tol=o.cg_tol,
                             max_trials=o.max_trials)
