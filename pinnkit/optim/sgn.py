"""Sketched Gauss-Newton: Levenberg-Marquardt steps from a count sketch of the Jacobian's rows, which never
holds the N x P Jacobian (`optimizer = "sgn"`).

Each step draws a count sketch S (s x N): residual row i goes to bucket h(i) of s with sign +-1, so that
E ||S v||^2 = ||v||^2. The rows of J come chunk by chunk (`gauss_newton.all_rows`: point by point where
the residuals offer it, else batched backward passes) and are added into A = S J (s x P) at once; the
exact gradient g = J^T r beside it. The step minimizes the model 2 g.d + ||A d||^2 + lam ||d||^2 (the exact gradient, the sketched
curvature): d = -(A^T A + lam I)^{-1} g when P <= s; when s < P, over the row space of A, where the
curvature is known, d = -A^T (K + lam I)^{-1} K^+ A g with K = A A^T (eigendecomposed once per sketch, so
each damping tried costs O(s P)). Either is a descent direction for every lam > 0, and with s >= N (no
sketch) it is `lm`'s step. Each step is accepted or rejected by the ratio of the actual reduction of
||r||^2 to the model's, with Nielsen's damping rule, as in `lm`.

With `columns` = k < P the parameters are sketched too (Webb, Jerad & Cartis 2026): the step is sought in
a random k-dimensional subspace d = W z, W = D C^T R^T with random signs D, the orthonormal DCT C and k
of its rows R (a subsampled randomized cosine transform; W has orthonormal columns). The model becomes
2 (W^T g).z + ||A W z||^2 + lam ||z||^2, whose s x k matrix A W costs one FFT per row of A, and whose
Gramian costs s k min(s, k) instead of s P min(s, P): the solve no longer grows with P.

Memory, in entries of the phase's dtype: s P for A, BACKWARD_ROWS P for one chunk of J, min(s, P)^2 for
the Gramian (min(s, k)^2, plus s k for A W and the FFTs of BACKWARD_ROWS rows, with the column sketch),
plus one evaluation's graph: it grows with s and P, not with N x P.

Where several processes share r, each adds its rows of J into S J at their places in the whole r (every
process draws the same sketch of the whole r), and S J, J^T r and ||r||^2 are summed over them in one
all-reduce (`summed_sketch`): every process takes the step one process holding every row takes.
"""
from __future__ import annotations

from typing import Iterable, Literal, Optional

import torch
from pydantic import Field

from .closures import ResidualClosure, Residuals, as_residuals, squared_norm
from .cosine import dct, idct
from .gauss_newton import (BACKWARD_ROWS, DampedOptimizer, GiB, GaussNewtonOptions, GaussNewtonPhase,
                           MemoryBudgetError, all_rows, damped_trials, spd_solve)
from .params import active, box, flat, parameters
from .phase import Sizes

GRAPH_COPIES = 2  # one evaluation's graph while S J is built, and one for a trial point


def sketch_memory(residuals: int, params: int, sketch: int, columns: int, itemsize: int, graph_bytes: int) -> int:
    """Bytes an `sgn` step needs: S J, a chunk of J, S J W and its transforms (with a column sketch), the
    Gramian, a few vectors, and the graphs."""
    s, k = min(sketch, residuals), min(columns or params, params)
    mixed = s * k + 4 * BACKWARD_ROWS * params if k < params else 0
    return itemsize * (s * params + BACKWARD_ROWS * params + mixed + min(s, k) ** 2 + 4 * (params + residuals)) \
        + GRAPH_COPIES * graph_bytes * itemsize // 8


def check_memory(sizes: Sizes, sketch: int, columns: int, itemsize: int, max_gb: float) -> None:
    """Refuse, in one line, a run whose sketched Jacobian, Gramian and graphs exceed `max_gb`."""
    need = sketch_memory(sizes.residuals, sizes.parameters, sketch, columns, itemsize, sizes.graph_bytes)
    if need > max_gb * GiB:
        s = min(sketch, sizes.residuals)
        raise MemoryBudgetError(
            f"sgn needs about {need / GiB:.2f} GiB (a {s} x {sizes.parameters} sketch of the Jacobian, its "
            f"Gramian and the graph of one evaluation), over max_memory_gb = {max_gb:g}; use a smaller sketch, "
            f"fewer collocation points or a smaller network")


def sketched_jacobian(residuals: Residuals, params: list[torch.Tensor], sketch: int, generator: torch.Generator,
                      layout: Optional[tuple[int, torch.Tensor]] = None) -> tuple[torch.Tensor, torch.Tensor,
                                                                                 torch.Tensor]:
    """r (N,), the exact J^T r (P,), and the count sketch S J (s, P), built chunk by chunk over the rows of J
    (none of it kept); s = min(sketch, N), and s = N is no sketch at all (S = I). With `layout` (the length of
    the whole r and the index in it of each row here: `Residuals.layout`), S sketches the whole r and these
    rows go where they sit in it."""
    rows_here, chunks = all_rows(residuals, params)
    n, index = layout if layout is not None else (rows_here, None)
    first = params[0]
    if n > sketch:
        buckets = torch.randint(sketch, (n,), generator=generator).to(first.device)
        signs = (torch.randint(2, (n,), generator=generator) * 2 - 1).to(first.device, first.dtype)
    else:
        buckets, signs = torch.arange(n, device=first.device), torch.ones(n, dtype=first.dtype, device=first.device)
    s = min(sketch, n)
    r_all = first.new_empty(rows_here)
    gradient = first.new_zeros(sum(p.numel() for p in params))
    SJ = first.new_zeros(s, len(gradient))
    for rows, r, J in chunks:
        rows = rows.to(first.device)
        r_all[rows] = r
        gradient += J.T @ r
        at = rows if index is None else index.to(first.device)[rows]
        SJ.index_add_(0, buckets[at], signs[at, None] * J)
    return r_all, gradient, SJ


def summed_sketch(residuals: Residuals, params: list[torch.Tensor], sketch: int,
                  generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """||r||^2, J^T r and S J (`sketched_jacobian` of the whole r), summed over the processes that share r."""
    processes = residuals.processes
    layout = processes.settle(residuals.layout)
    P, s = sum(p.numel() for p in params), min(sketch, layout[0])

    def local() -> torch.Tensor:
        r, gradient, SJ = sketched_jacobian(residuals, params, sketch, generator, layout)
        return torch.cat([r.dot(r).reshape(1), gradient, SJ.reshape(-1)])

    summed = processes.sum(local, params[0].new_zeros(1 + P + s * P))
    return summed[0], summed[1:1 + P], summed[1 + P:].view(s, P)


class SketchedSystem:
    """The damped step of the model 2 g.d + ||A d||^2 + lam ||d||^2 (see the module), for several lam."""

    def __init__(self, A: torch.Tensor, g: torch.Tensor):
        self.A, self.g, self.fallbacks = A, g, 0
        self.sample = A.shape[0] < A.shape[1]
        if self.sample:
            eigenvalues, self.Q = torch.linalg.eigh(A @ A.T)
            keep = eigenvalues > eigenvalues[-1] * len(eigenvalues) * torch.finfo(A.dtype).eps  # K^+: rank of A
            self.eigenvalues, self.Q = eigenvalues[keep], self.Q[:, keep]
            self.Ag = self.Q.T @ (A @ g)
        else:
            self.gramian = A.T @ A

    def scale(self) -> float:
        """max diag(A^T A): the unit of the damping."""
        return float(self.A.square().sum(0).max())

    def step(self, damping: float) -> torch.Tensor:
        if self.sample:
            return -self.A.T @ (self.Q @ (self.Ag / (self.eigenvalues * (self.eigenvalues + damping))))
        identity = torch.eye(len(self.gramian), dtype=self.A.dtype, device=self.A.device)
        x, solved = spd_solve(self.gramian + damping * identity, self.g)
        self.fallbacks += not solved
        return -x


class ColumnSketch:
    """W = D C^T R^T (P x k), the subsampled randomized cosine transform (see the module): random signs D,
    the orthonormal DCT C, k of its P rows R. Its columns are orthonormal, so ||W z|| = ||z||."""

    def __init__(self, size: int, columns: int, generator: torch.Generator, like: torch.Tensor):
        self.size = size
        self.signs = (torch.randint(2, (size,), generator=generator) * 2 - 1).to(like)
        self.columns = torch.randperm(size, generator=generator)[:columns].to(like.device)

    def reduce(self, M: torch.Tensor) -> torch.Tensor:
        """M W for a matrix (row by row, BACKWARD_ROWS rows per FFT) or W^T m for a vector."""
        if M.dim() == 1:
            return dct(M * self.signs)[self.columns]
        return torch.cat([dct(rows * self.signs)[:, self.columns] for rows in M.split(BACKWARD_ROWS)])

    def expand(self, z: torch.Tensor) -> torch.Tensor:
        """W z: the step in parameter space of the subspace step z."""
        spread = z.new_zeros(self.size)
        spread[self.columns] = z
        return self.signs * idct(spread)


class SubspaceSystem:
    """The damped step of the model restricted to d = W z (`ColumnSketch`); parameters held at a bound
    are kept where they are."""

    def __init__(self, A: torch.Tensor, g: torch.Tensor, sketch: ColumnSketch, held: torch.Tensor):
        self.inner, self.sketch, self.held = SketchedSystem(sketch.reduce(A), sketch.reduce(g)), sketch, held

    @property
    def fallbacks(self) -> int:
        return self.inner.fallbacks

    def scale(self) -> float:
        return self.inner.scale()

    def step(self, damping: float) -> torch.Tensor:
        return torch.where(self.held, 0.0, self.sketch.expand(self.inner.step(damping)))


class SketchedGaussNewton(DampedOptimizer):
    """Levenberg-Marquardt on ||r||^2 with the Jacobian's rows count-sketched to `sketch` (see the module),
    a `torch.optim.Optimizer`.

    One `step(closure)` draws a sketch (seeded by `seed` and the step count, so a resumed run draws the
    same ones), builds S J (and, with `columns` below the parameter count, the subspace), and tries damped steps until the gain ratio rho = actual / predicted reduction
    accepts one: the damping shrinks by max(1/3, 1 - (2 rho - 1)^3) then, and grows by nu (nu doubling
    on each rejection in a row) otherwise. The closure returns r (N,) (or is a `Residuals`). Bounds per
    group (`lower`/`upper`): parameters held at a bound (by the exact gradient) do not move, and every
    trial is projected.

    State (`self.state[first parameter]`): `damping`, `nu`, `draws` (sketches drawn), `loss` at the last
    accepted point; `stalled` 1 when no trial lowered the loss up to `max_damping`.

    Example (an exponential fit, 200 residuals sketched to 50 rows):
        >>> a = torch.zeros(2, dtype=torch.float64, requires_grad=True)
        >>> opt = SketchedGaussNewton([a], sketch=50)
        >>> for _ in range(30):
        ...     opt.step(lambda: a[0] * torch.exp(a[1] * t) - y)
    """

    def __init__(self, params: Iterable, sketch: int = 2000, damping: float = 1e-3, seed: int = 0,
                 max_trials: int = 10, max_damping: float = 1e16, columns: int = 0):
        if sketch < 1 or damping <= 0 or max_trials < 1 or columns < 0:
            raise ValueError("sketch and max_trials must be >= 1, damping > 0, columns >= 0")
        super().__init__(params, {"lower": None, "upper": None})
        self.sketch, self.damping, self.seed, self.columns = sketch, damping, seed, columns
        self.max_trials, self.max_damping = max_trials, max_damping

    @torch.no_grad()
    def step(self, closure: ResidualClosure) -> torch.Tensor:  # type: ignore[override]
        """One sketch, up to `max_trials` damped steps; returns the loss at the new parameters."""
        residuals, groups = as_residuals(closure), self.param_groups
        params = parameters(groups)
        state = self.state[params[0]]
        draws = int(state.get("draws", 0))
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + draws)
        if residuals.processes is None:
            r, gradient, A = sketched_jacobian(residuals, params, self.sketch, generator)
            f = r.dot(r)
        else:
            f, gradient, A = summed_sketch(residuals, params, self.sketch, generator)
        x, (lower, upper) = flat(params), box(groups)
        held = active(x, gradient, lower, upper)
        if held.any():
            A, gradient = torch.where(held, 0.0, A), torch.where(held, 0.0, gradient)
        if 0 < self.columns < len(x):
            system = SubspaceSystem(A, gradient, ColumnSketch(len(x), self.columns, generator, x), held)
        else:
            system = SketchedSystem(A, gradient)
        if "damping" not in state:
            state.update(damping=self.damping * system.scale(), nu=2.0, stalled=0.0)
        state["draws"] = draws + 1
        return damped_trials(groups, x, f, system, lambda d: -(2 * gradient.dot(d) + (A @ d).square().sum()),
                             squared_norm(residuals, x), state, self.max_trials,
                             self.max_damping)  # the model's reduction


class SGNOptions(GaussNewtonOptions):
    """sgn's keys: the sketch, the damping, and the memory guard."""

    optimizer: Literal["sgn"]
    sketch: int = Field(2000, gt=0, le=10**6, description="rows of the Jacobian's sketch (at least the number "
                                                          "of residuals: no sketch, the lm step)")
    damping: float = Field(1e-3, gt=0, le=1e6, description="initial damping, times the largest diagonal entry "
                                                            "of the sketched J^T J")
    seed: int = Field(0, ge=0, lt=2**31, description="seeds the sketches (with the step count: a resumed run "
                                                     "draws the same ones)")
    columns: int = Field(0, ge=0, le=10**6, description="dimension of the random subspace of the parameters each "
                                                        "step is sought in; 0: all parameters")
    max_trials: int = Field(10, gt=0, le=100, description="damped steps tried per sketch")
    max_memory_gb: float = Field(8.0, gt=0, le=2**20, description="refuse a run whose sketch, Gramian and graphs "
                                                                  "would exceed this")


class SGNPhase(GaussNewtonPhase):
    """`optimizer = "sgn"`: `SketchedGaussNewton`, float64 by default; memory grows with sketch x parameters."""

    Options = SGNOptions
    distributed = True  # S J, J^T r and ||r||^2 summed over the processes (`summed_sketch`)

    def validate(self, sizes: Sizes) -> None:
        o = self.options
        check_memory(sizes, o.sketch, o.columns, 4 if o.dtype == "float32" else 8, o.max_memory_gb)

    def make_optimizer(self, groups: list[dict]) -> SketchedGaussNewton:
        o = self.options
        return SketchedGaussNewton(groups, sketch=o.sketch, damping=o.damping, seed=o.seed,
                                   max_trials=o.max_trials, columns=o.columns)
