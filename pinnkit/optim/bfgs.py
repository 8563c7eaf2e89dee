"""Dense quasi-Newton refinement: BFGS, self-scaled BFGS and self-scaled Broyden
(`optimizer = "bfgs" | "ssbfgs" | "ssbroyden"`).

A full-memory inverse-Hessian approximation H (n x n, on the parameters' device) is
updated from each accepted step s and gradient change y within the self-scaled Broyden
family (Al-Baali 1998; Urbán, Stefanou & Pons 2025; Kiyani et al. 2025):

    H+ = (H - H y y^T H / (y^T H y) + phi (y^T H y) v v^T) / tau + s s^T / (y^T s),
    v  = s / (y^T s) - H y / (y^T H y).

BFGS is tau = phi = 1. The self-scaled variants pick tau (and, for Broyden, phi) from
b = s^T B s / y^T s and h = y^T H y / y^T s, which measure how far H is off along the
step; they are what takes small PINNs from L-BFGS's ~1e-3 to 1e-5..1e-7 relative error.
Line search, box bounds (projection, active set) and stopping tests are the native L-BFGS's.
"""
from __future__ import annotations

import math
from typing import Iterable, Literal

import torch
from pydantic import Field

from .lbfgs import CURVATURE, LBFGS, LBFGSPhase, QuasiNewtonOptions
from .params import parameters
from .phase import Sizes

UPDATES = ("bfgs", "ssbfgs", "ssbroyden")
MAX_PARAMETERS = 10_000  # a dense H of 10^4 parameters is 0.8 GB in float64
SYMMETRIZE_EVERY = 100  # updates between re-symmetrizations of H (each costs about 2 updates)


class BFGS(LBFGS):
    """Full-memory BFGS / self-scaled BFGS / self-scaled Broyden, a `torch.optim.Optimizer`.

    Used as `LBFGS` is (one `step(closure)` per iteration, `stop_code()`, `objective_changed()`
    to keep H across a change of the objective, bounds per group with `lower=` / `upper=`).
    State (`self.state[first parameter]`) as LBFGS's, with the curvature memory
        H          (n, n) inverse-Hessian approximation, rebuilt as (s.y / y.y) I at the first pair
        direction  the last search direction (its step length gives B s for the scaling)
        tau, phi   the scaling and Broyden parameter of the last update (1, 1 for BFGS)
        updates    updates so far (H is made exactly symmetric again every SYMMETRIZE_EVERY)
    A pair with s.y <= curvature_eps |y|^2 is skipped; an update that is not finite is skipped;
    a failed line search restarts from the scaled identity.

    Example:
        >>> opt = BFGS(net.parameters(), update="ssbroyden")
        >>> for i in range(1000):
        ...     opt.step(closure)        # closure: zero_grad, loss, backward, return loss
    """

    def __init__(self, params: Iterable, update: Literal["bfgs", "ssbfgs", "ssbroyden"] = "ssbroyden",
                 lr: float = 1.0, line_search: Literal["strong_wolfe", "backtracking"] = "strong_wolfe",
                 gtol: float = 1e-5, ftol: float = 1e-9, max_line_search: int = 25, curvature_eps: float = 1e-10,
                 wolfe_c2: float = CURVATURE, max_parameters: int = MAX_PARAMETERS):
        if update not in UPDATES:
            raise ValueError(f"update: unknown {update!r} (valid: {', '.join(UPDATES)})")
        super().__init__(params, lr=lr, history_size=1, line_search=line_search, gtol=gtol, ftol=ftol,
                         max_line_search=max_line_search, curvature_eps=curvature_eps, wolfe_c2=wolfe_c2)
        self.update = update
        check_parameters(sum(p.numel() for p in parameters(self.param_groups)), max_parameters)

    def _empty_memory(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        one = x.new_ones(())
        return {"H": x.new_zeros(x.numel(), x.numel()), "direction": torch.zeros_like(x), "tau": one, "phi": one,
                "updates": 0 * one}

    def _direction(self, x, state, lower, upper):
        state["direction"] = super()._direction(x, state, lower, upper)
        return state["direction"]

    def _inverse_hessian_times(self, q: torch.Tensor, state: dict, gamma: torch.Tensor) -> torch.Tensor:
        return torch.where(state["pairs"] > 0, state["H"] @ q, gamma * q)

    def _forget(self, state: dict, failed: torch.Tensor) -> None:
        state["pairs"] = torch.where(failed, 0, state["pairs"])

    def _remember(self, state: dict, s: torch.Tensor, y: torch.Tensor) -> None:
        """The family's update of H with the pair (s, y); one host read to branch on skipping it."""
        sy, yy = s.dot(y), y.dot(y)
        if not bool(sy > self.curvature_eps * yy):
            return
        fresh = bool(state["pairs"] == 0)  # H restarts as (s.y / y.y) I, then a plain BFGS update
        H = torch.eye(len(s), dtype=s.dtype, device=s.device) * (sy / yy) if fresh else state["H"]
        Hy = H @ y
        yHy = y.dot(Hy)
        tau = phi = sy.new_ones(())
        if self.update != "bfgs" and not fresh:
            d = state["direction"]
            step = s.dot(d) / d.dot(d).clamp_min(torch.finfo(d.dtype).tiny)  # s = t d and B d = -g: B s = -t g
            tau, phi = self._scaling(-step * s.dot(state["grad"]) / sy, yHy / sy, len(s))
        v = s / sy - Hy / yHy
        t, p, hy, rho = (float(c) for c in (tau, phi, yHy, 1 / sy))  # one host read for the branch below
        if not (t > 0 and hy > 0 and math.isfinite(p) and math.isfinite(rho) and bool(torch.isfinite(v).all())):
            return  # a non-finite or indefinite update is skipped
        _scale_and_add(H, 1 / t, torch.stack([Hy, v, s], dim=1), (-1 / (t * hy), p * hy / t, rho))
        state["updates"] = state["updates"] + 1
        if bool(state["updates"] % SYMMETRIZE_EVERY == 0):  # rounding makes H drift off symmetry, slowly
            H = 0.5 * (H + H.T)
        state["H"], state["tau"], state["phi"] = H, tau, phi
        state["pairs"] = (state["pairs"] + 1).clamp(max=1)

    def _scaling(self, b: torch.Tensor, h: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(tau, phi) of SSBFGS (Al-Baali's tau = min(1, 1/b), phi = 1) or SSBroyden; (1, 1) where not finite."""
        one = torch.ones_like(b)
        tau_b = torch.minimum(one, 1 / b)
        if self.update == "ssbfgs":
            return _finite_or_one(tau_b), one
        a = (b * h - 1).clamp_min(0)  # >= 0 by Cauchy-Schwarz; rounding can make it slightly negative
        rho_minus = torch.minimum(one, h * (1 - torch.sqrt(a / (1 + a))))
        a_safe = a.clamp_min(1e-14)
        theta_minus, theta_plus = (rho_minus - 1) / a_safe, 1 / rho_minus
        theta = torch.maximum(theta_minus, torch.minimum(theta_plus, (1 - b) / b))
        sigma = 1 + theta * a
        sigma_n = sigma.abs().clamp_min(1e-300) ** (1 / (1 - n)) if n > 1 else one
        tau = torch.where(theta <= 0, torch.minimum(tau_b * sigma_n, sigma), tau_b * torch.minimum(sigma_n, 1 / theta))
        phi = (1 - theta) / (1 + a * theta)
        return _finite_or_one(tau, positive=True), _finite_or_one(phi)


def check_parameters(n: int, max_parameters: int) -> None:
    """Refuse, in one line, a dense n x n inverse Hessian for more than `max_parameters` parameters."""
    if n > max_parameters:
        raise ValueError(f"{n} parameters need a dense {n} x {n} inverse Hessian ({n * n * 8 / 2**20:,.0f} MiB "
                         f"in float64), more than max_parameters = {max_parameters}; use optimizer = \"lbfgs\" "
                         "or a smaller network")


def _scale_and_add(H: torch.Tensor, beta: float, columns: torch.Tensor, weights: tuple[float, ...]) -> None:
    """H <- beta H + sum_k weights[k] a_k a_k^T in place, a_k the columns (n, k): one matrix product with H as its
    accumulator, so H is read and written once; a division and three rank-one updates in turn move it four times,
    and at a few thousand parameters the update is bound by that memory traffic, not by arithmetic. Written as
    (B S) B^T with B = A |W|^(1/2) and S the signs; rounding can leave H[i, j] and H[j, i] apart by an ulp, which
    SYMMETRIZE_EVERY repairs."""
    scale = columns.new_tensor([math.sqrt(abs(w)) for w in weights])
    signs = columns.new_tensor([math.copysign(1.0, w) for w in weights])
    b = columns * scale
    H.addmm_(b * signs, b.T, beta=beta)


def _finite_or_one(value: torch.Tensor, positive: bool = False) -> torch.Tensor:
    """The value where it is finite (and > 0 when asked), else 1: the safeguard falls back to BFGS."""
    ok = torch.isfinite(value) & ((value > 0) if positive else torch.ones_like(value, dtype=torch.bool))
    return torch.where(ok, value, torch.ones_like(value))


class BFGSOptions(QuasiNewtonOptions):
    """The dense quasi-Newton keys: those of the native L-BFGS and the size guard."""

    optimizer: Literal["bfgs", "ssbfgs", "ssbroyden"]
    max_parameters: int = Field(MAX_PARAMETERS, gt=0, le=10**6, description="refuse networks with more "
                                "parameters than this (the dense inverse Hessian is n x n)")


class BFGSPhase(LBFGSPhase):
    """`optimizer = "bfgs" | "ssbfgs" | "ssbroyden"`: dense quasi-Newton refinement, best in float64 on small
    networks. With `resample_every`, the collocation points are redrawn every k iterations and H carries over
    (a warm restart)."""

    Options = BFGSOptions

    def validate(self, sizes: Sizes) -> None:
        """The network must be small enough for a dense inverse Hessian."""
        check_parameters(sizes.parameters, self.options.max_parameters)

    def make_optimizer(self, groups: list[dict]) -> BFGS:
        o = self.options
        return BFGS(groups, update=o.optimizer, lr=o.lr, line_search=o.line_search, gtol=o.gtol, ftol=o.ftol,
                    max_line_search=o.max_line_search, max_parameters=o.max_parameters)
