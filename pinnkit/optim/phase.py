"""What every optimizer phase shares: its options schema, its budget, its result record.

A phase runs one optimizer under a budget (`iterations`, `max_evaluations`,
`max_seconds`) and always returns a `PhaseResult` that says why it stopped.
Phases see parameter groups and a closure; they know nothing about PDEs.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Callable, Literal, Optional

import torch
from pydantic import BaseModel, ConfigDict, Field

Closure = Callable[[], torch.Tensor]


class PhaseOptions(BaseModel):
    """Keys every `[[phases]]` table accepts; each optimizer adds its own."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    optimizer: str
    iterations: int = Field(gt=0, description="iteration budget of the phase")
    max_evaluations: Optional[int] = Field(None, gt=0, description="loss+gradient evaluations budget")
    max_seconds: Optional[float] = Field(None, gt=0, description="wall-time budget in seconds")
    dtype: Optional[Literal["float32", "float64"]] = Field(None, description="phase dtype; default: the run's")
    resample_every: int = Field(0, ge=0, description="redraw collocation points every k iterations (0: never)")


@dataclass
class PhaseResult:
    """Why and where a phase stopped (the SciPy `OptimizeResult` idea, for every optimizer)."""

    optimizer: str
    status: str  # "completed" | "converged" | "max_evaluations" | "max_seconds" | "diverged" | "failed"
    message: str
    iterations: int
    evaluations: int
    loss: float
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


class Monitor:
    """The trainer's side of a phase: counts work, enforces the budget, logs.

    A phase calls `evaluated()` once per loss evaluation and `iteration_done(k)`
    after iteration k; the latter returns a stop reason or None. `on_iteration`
    is the trainer's hook (logging, resampling, divergence checks); it may
    return a stop reason such as "diverged".
    """

    def __init__(self, options: PhaseOptions, on_iteration: Callable[[int], Optional[str]]):
        self.options = options
        self.on_iteration = on_iteration
        self.evaluations = 0
        self.iterations = 0
        self.start = time.perf_counter()

    def evaluated(self) -> None:
        self.evaluations += 1

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start

    def budget_reason(self) -> Optional[str]:
        """The budget key that is exhausted, if any (`iterations` counts as completed)."""
        opt = self.options
        if self.iterations >= opt.iterations:
            return "completed"
        if opt.max_evaluations is not None and self.evaluations >= opt.max_evaluations:
            return "max_evaluations"
        if opt.max_seconds is not None and self.seconds >= opt.max_seconds:
            return "max_seconds"
        return None

    def iteration_done(self, iteration: int) -> Optional[str]:
        self.iterations = iteration
        return self.on_iteration(iteration) or self.budget_reason()

    def result(self, optimizer: str, status: str, message: str, loss: float) -> PhaseResult:
        return PhaseResult(optimizer, status, message, self.iterations, self.evaluations, loss, self.seconds)


BUDGET_MESSAGES = {
    "completed": "iteration budget reached",
    "max_evaluations": "evaluation budget (max_evaluations) reached",
    "max_seconds": "time budget (max_seconds) reached",
    "diverged": "non-finite loss",
}


@torch.no_grad()
def project(groups: list[dict]) -> None:
    """Clamp every parameter into its group's `lower`/`upper` bounds (absent: unbounded)."""
    for group in groups:
        lower, upper = group.get("lower"), group.get("upper")
        if lower is None and upper is None:
            continue
        for p in group["params"]:
            p.clamp_(min=lower, max=upper)
