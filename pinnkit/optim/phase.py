"""The phase contract and the one loop that drives every phase.

A phase runs one optimizer under a budget (`iterations`, `max_evaluations`, `max_seconds`). It declares
what it needs as data (`Phase`: the closure it takes, whether it may run compiled, whether its state can
be checkpointed, what a point redraw does to it, what it checks before training) and supplies one step;
`run_phase` does the rest, in this order after every step: count, redraw the points (or recompute the loss weights) when due, hand over
to the trainer (logging, checkpoints, signals), test the budget. It always returns a `PhaseResult` that
says why the phase stopped. Phases see parameter groups and an objective view; they know nothing about
PDEs or network classes.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, ClassVar, Literal, Optional

import torch
from pydantic import BaseModel, ConfigDict, Field

from .closures import ObjectiveView


class PhaseOptions(BaseModel):
    """Keys every `[[phases]]` table accepts; each optimizer adds its own."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    optimizer: str = Field(description="which optimizer the phase runs (its own keys follow)")
    iterations: int = Field(gt=0, description="iteration budget of the phase")
    max_evaluations: Optional[int] = Field(None, gt=0, description="loss+gradient evaluations budget")
    max_seconds: Optional[float] = Field(None, gt=0, description="wall-time budget in seconds")
    dtype: Optional[Literal["float32", "float64"]] = Field(None, description="phase dtype; default: the run's")
    resample_every: int = Field(0, ge=0, description="redraw collocation points every k iterations (0: never)")
    resample: Literal["uniform", "rad"] = Field("uniform", description="how: a fresh uniform draw, or RAD "
                                                "(PDE points drawn with density |r|^rad_k / mean + rad_c)")
    rad_k: float = Field(1.0, ge=0, le=10, description="RAD exponent of the residual magnitude")
    rad_c: float = Field(1.0, ge=0, description="RAD uniform share: 0 follows the residual only")
    rad_pool: int = Field(10, ge=2, le=1000, description="RAD candidates drawn per point kept")
    reweight_every: int = Field(0, ge=0, description="recompute the loss's causal weights, attention "
                                "multipliers and balanced weights every k "
                                "iterations (0: at the phase's start and at point redraws only)")


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
    state: Optional[dict[str, Any]] = field(default=None, repr=False)  # the phase's state_dict; None: not kept


@dataclass(frozen=True)
class Sizes:
    """What a phase may check before training: the size of the problem it would be handed."""

    residuals: int  # entries of the residual vector r
    parameters: int  # trainable entries (network weights and PDE parameters)
    taps: bool  # whether the objective shows the calls of its linear layers (`closures.LayerTaps`)
    graph_bytes: int = 0  # what autograd keeps for one evaluation of r in float64 (the backward pass's inputs)


@dataclass
class Step:
    """One step's outcome: the loss after it (0-dim, may stay on the device), and the status with which
    the optimizer itself ends the phase, if it does. `iteration = False`: it ended without completing one."""

    loss: torch.Tensor
    status: Optional[str] = None  # "converged", or a budget SciPy enforces itself ("max_evaluations", ...)
    message: str = ""
    iteration: bool = True


class Phase:
    """One optimizer under the shared loop. Subclasses set the declarations and supply `start` and `step`.

    Declarations (read by config, build, the trainer and `run_phase`; never looked up by name):
        Options     the pydantic schema of its `[[phases]]` keys, bounds on every value
        closure     "loss" or "residuals": what it evaluates (the view's `loss`, or its `residuals`)
        compilable  whether the derivative engine may be compiled under it (no second differentiation)
        restorable  whether `state_dict` holds everything an exact resume needs
        redraws     points moving mid-phase: "keep" its state (refreshed by `redrawn`), or "restart" it
        distributed whether it runs where several processes share the objective (`ObjectiveView.processes`),
                    taking on each the step one process holding every point would take
    """

    Options: ClassVar[type[PhaseOptions]] = PhaseOptions
    closure: ClassVar[Literal["loss", "residuals"]] = "loss"
    compilable: ClassVar[bool] = True
    restorable: ClassVar[bool] = True
    redraws: ClassVar[Literal["keep", "restart"]] = "keep"
    distributed: ClassVar[bool] = False

    def __init__(self, options: PhaseOptions):
        self.options = options

    def validate(self, sizes: Sizes) -> None:
        """Raise ValueError, in one line, when the phase cannot run at these sizes (before anything is written)."""

    def start(self, groups: list[dict], objective: ObjectiveView) -> None:
        """Build the optimizer over the parameter groups (`lower`/`upper` bounds per group) and the objective."""
        raise NotImplementedError

    def step(self, k: int) -> Step:
        """Iteration k + 1 (k iterations of the phase are done, counting those before a resume)."""
        raise NotImplementedError

    def redrawn(self) -> None:
        """The collocation points have moved, or their loss weights changed: refresh what was computed on the
        old objective (or restart)."""

    def learning_rate(self, k: int) -> Optional[float]:
        """The learning rate of iteration k + 1, for phases that have one (the history's `lr` column)."""
        return None

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from `state_dict()` of an earlier run of the same phase."""

    def close(self) -> None:
        """Release what `start` acquired (called once the phase ends, however it ends)."""


class OptimizerPhase(Phase):
    """A phase stepping a `torch.optim.Optimizer` (`self.optimizer`, made by `start`), whose state it keeps."""

    optimizer: torch.optim.Optimizer

    def state_dict(self) -> dict[str, Any]:
        return self.optimizer.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state)


AfterIteration = Callable[[int, bool], Optional[str]]


class Monitor:
    """The trainer's side of a phase: counts work, enforces the budget, redraws points, hands over each iteration.

    `after(k, last)` is the trainer's hook after iteration k (logging, checkpoints, signals; `last`: the phase
    ends here anyway); it may return a stop reason such as "diverged" or "interrupted". `redraw()` moves
    the collocation points, `reweight()` recomputes the loss's point weights. A monitor may start part-way
    (`Progress`, from a checkpoint).
    """

    def __init__(self, options: PhaseOptions, after: Optional[AfterIteration] = None,
                 redraw: Optional[Callable[[], None]] = None, start: Optional[Progress] = None,
                 reweight: Optional[Callable[[], None]] = None):
        start = start or Progress()
        self.options = options
        self.after = after or (lambda k, last: None)
        self.redraw = redraw or (lambda: None)
        self.reweight = reweight or (lambda: None)
        self.evaluations = start.evaluations
        self.iterations = start.iterations
        self.start = time.perf_counter() - start.seconds
        self.resume_state = start.state
        self.phase: Optional[Phase] = None
        self.exhausted: Optional[str] = None  # the budget key exhausted at the last iteration (`budget_reason`)

    def attach(self, phase: Phase) -> None:
        """Register the running phase, restoring its state when it continues from a checkpoint."""
        self.phase = phase
        if self.resume_state is not None:
            phase.load_state_dict(self.resume_state)

    def progress(self) -> Progress:
        """Where the phase stands now, with its state when it can be restored (for a checkpoint)."""
        state = self.phase.state_dict() if self.phase is not None and self.phase.restorable else None
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

    def iteration_done(self, iteration: int, last: bool = False) -> Optional[str]:
        """Record iteration k, note whether it exhausted the budget (`exhausted`, which the trainer may settle
        among processes) and hand it to the trainer; its stop reason, if any."""
        self.iterations = iteration
        self.exhausted = self.budget_reason()
        return self.after(iteration, last or self.exhausted is not None)

    def result(self, status: str, message: str, loss: float) -> PhaseResult:
        return PhaseResult(self.options.optimizer, status, message, self.iterations, self.evaluations, loss,
                           self.seconds)


BUDGET_MESSAGES = {
    "completed": "iteration budget reached",
    "max_evaluations": "evaluation budget (max_evaluations) reached",
    "max_seconds": "time budget (max_seconds) reached",
    "diverged": "non-finite loss",
    "interrupted": "interrupted by a signal",
    "stopped": "stopped by a callback",
}


def run_phase(phase: Phase, groups: list[dict], objective: ObjectiveView, monitor: Monitor) -> PhaseResult:
    """Drive `phase` over the parameter groups until its budget, its own stop or the trainer ends it."""
    if phase.closure == "residuals" and objective.residuals is None:
        raise ValueError(f"{phase.options.optimizer} needs the residual vector, and this objective has only a loss")
    phase.start(groups, objective.counted(monitor.evaluated))
    monitor.attach(phase)
    redraws = reweights = 0
    try:
        while True:
            step = phase.step(monitor.iterations)
            if not step.iteration:
                return _result(monitor, step.status, step.message, step.loss, phase, redraws, reweights)
            k = monitor.iterations + 1
            if phase.options.resample_every and k % phase.options.resample_every == 0:
                monitor.redraw()
                phase.redrawn()
                redraws += 1
            elif phase.options.reweight_every and k % phase.options.reweight_every == 0:
                monitor.reweight()
                phase.redrawn()
                reweights += 1
            reason = monitor.iteration_done(k, last=step.status is not None)
            if reason is None and step.status is not None:
                return _result(monitor, step.status, step.message, step.loss, phase, redraws, reweights)
            reason = reason or monitor.exhausted
            if reason is not None:
                return _result(monitor, reason, BUDGET_MESSAGES[reason], step.loss, phase, redraws, reweights)
    finally:
        phase.close()


def _result(monitor: Monitor, status: str, message: str, loss: torch.Tensor, phase: Phase,
            redraws: int, reweights: int) -> PhaseResult:
    """The phase's result; a phase that restarts at redraws says how often it did, and one that converged
    with budget left says how much (its tolerances, not its budget, ended it)."""
    if (redraws or reweights) and phase.redraws == "restart":
        changes = " and ".join(f"{n} {what}" for n, what in ((redraws, "point redraws"), (reweights, "reweights"))
                               if n)
        message += f" (restarted at each of {changes}: its state does not carry over)"
    if status == "converged":
        message += f" ({_unused(monitor)})"
    return monitor.result(status, message, float(loss))


def _unused(monitor: Monitor) -> str:
    """What a phase that ended early leaves of its budget."""
    o = monitor.options
    left = [f"{o.iterations - monitor.iterations:,} of {o.iterations:,} iterations"]
    if o.max_seconds is not None:
        left.append(f"{max(o.max_seconds - monitor.seconds, 0):.0f} of {o.max_seconds:g} s")
    return f"budget left: {', '.join(left)}"
