"""What every optimizer phase shares: its options schema, its budget, its result record.

A phase runs one optimizer under a budget (`iterations`, `max_evaluations`,
`max_seconds`) and always returns a `PhaseResult` that says why it stopped.
Phases see parameter groups and a closure; they know nothing about PDEs.
A phase may start part-way (`Progress`, from a checkpoint): it continues counting
from there and hands its optimizer to `Monitor.attach`, which restores its state.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Literal, Optional

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
    resample: Literal["uniform", "rad"] = Field("uniform", description="how: a fresh uniform draw, or RAD "
                                                "(PDE points drawn with density |r|^rad_k / mean + rad_c)")
    rad_k: float = Field(1.0, ge=0, description="RAD exponent of the residual magnitude")
    rad_c: float = Field(1.0, ge=0, description="RAD uniform share: 0 follows the residual only")
    rad_pool: int = Field(10, ge=2, description="RAD candidates drawn per point kept")


@dataclass
class PhaseResult:
    """Why and where a phase stopped (the SciPy `OptimizeResult` idea, for every optimizer)."""

    optimizer: str
    status: str  # "completed" | "converged" | "max_evaluations" | "max_seconds" | "diverged" | "failed" | "interrupted"
    message: str
    iterations: int
    evaluations: int
    loss: float
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Progress:
    """How far a phase got: enough to continue it where it stopped (a checkpoint holds one)."""

    iterations: int = 0
    evaluations: int = 0
    seconds: float = 0.0
    optimizer: Optional[dict[str, Any]] = field(default=None, repr=False)  # its state_dict; None: not kept (SciPy)


class Monitor:
    """The trainer's side of a phase: counts work, enforces the budget, logs.

    A phase calls `evaluated()` once per loss evaluation and `iteration_done(k)`
    after iteration k; the latter returns a stop reason or None. `on_iteration`
    is the trainer's hook (logging, resampling, divergence checks, checkpoints);
    it may return a stop reason such as "diverged" or "interrupted".
    """

    def __init__(self, options: PhaseOptions, on_iteration: Callable[[int], Optional[str]],
                 start: Optional[Progress] = None):
        start = start or Progress()
        self.options = options
        self.on_iteration = on_iteration
        self.evaluations = start.evaluations
        self.iterations = start.iterations
        self.start = time.perf_counter() - start.seconds
        self.resume_state = start.optimizer
        self.optimizer: Optional[torch.optim.Optimizer] = None

    def attach(self, optimizer: torch.optim.Optimizer) -> None:
        """Register the phase's optimizer, restoring its state when the phase continues from a checkpoint."""
        self.optimizer = optimizer
        if self.resume_state is not None:
            optimizer.load_state_dict(self.resume_state)

    def progress(self) -> Progress:
        """Where the phase stands now, with its optimizer's state (for a checkpoint)."""
        state = self.optimizer.state_dict() if self.optimizer is not None else None
        return Progress(self.iterations, self.evaluations, self.seconds, state)

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
    "interrupted": "interrupted by a signal",
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
