"""The Trainer: runs the configured phases in order, logs history, guards against divergence, checkpoints.

Between phases the model, the PDE parameters and the point sets move to the
next phase's dtype. Losses and errors are read from the device only at log
points (every `output.log_every` iterations); a non-finite loss there stops
training and restores the last finite model. A checkpoint is written before the
first phase, every `output.checkpoint_every` iterations and at every phase
boundary; SIGINT/SIGTERM stop after the current iteration with a checkpoint
(status `interrupted`), and a Trainer given a checkpoint continues from it.
"""
from __future__ import annotations

import math
import platform
import sys
import time
from typing import Any, Callable, Optional

import numpy as np
import scipy
import torch
from tqdm.auto import tqdm

from . import checkpoint
from .adaptive import resample
from .build import Setup
from .interrupt import Signals
from .optim import PHASES, Monitor, PhaseOptions, PhaseResult, Progress, Residuals
from .run import RunWriter

DTYPES = {"float32": torch.float32, "float64": torch.float64}
STOPS = ("diverged", "failed", "interrupted")  # phase statuses that end the run


class Trainer:
    """Trains `setup.model` (and trainable PDE parameters) through the configured phases.

    `resume`: a checkpoint (`checkpoint.read`) of this run to continue from.
    """

    def __init__(self, setup: Setup, writer: RunWriter, quiet: bool = False, resume: Optional[dict] = None):
        self.setup, self.writer, self.quiet = setup, writer, quiet
        self.results: list[PhaseResult] = []
        self.step = 0  # iterations done in earlier phases
        self.last: dict[str, dict[str, float]] = {"loss": {}, "rel_l2": {}}  # at the last history row
        self.snapshot: Optional[dict] = None
        self.resumed: list[int] = []  # steps at which the run was continued from a checkpoint
        self.start = time.perf_counter()
        self.signals = Signals()
        self.resume = resume

    def run(self) -> dict[str, Any]:
        """Run every phase (stopping at the first that diverges, fails or is interrupted); return the summary."""
        first, progress = self._continue(self.resume) if self.resume else (0, Progress())
        if self.resume is None:
            self._checkpoint(0, progress)
        try:
            with self.signals:
                status, message = self._phases(first, progress)
        except KeyboardInterrupt:  # a second signal: stop at once, the last checkpoint stays
            raise KeyboardInterrupt(f"stopped at once by a second signal; continue from the last checkpoint "
                                    f"with: {checkpoint.resume_command(self.writer.path)}") from None
        self.writer.model(self.setup.model, self.setup.problem.values, {"status": status})
        return self._summary(status, message)

    def _phases(self, first: int, progress: Progress) -> tuple[str, str]:
        """Phases `first`, ... in order (the first from `progress`), a checkpoint after each; the run's status."""
        phases = self.setup.config.phases
        for index in range(first, len(phases)):
            if self.signals.received:
                return "interrupted", self._interrupted(index, 0)
            result = self._phase(index, phases[index], progress)
            progress = Progress()
            self.results.append(result)
            self.step += result.iterations
            if result.status == "interrupted":
                return "interrupted", self._interrupted(index, result.iterations)
            if result.status in STOPS:
                return result.status, f"phase {index} ({phases[index].optimizer}): {result.message}"
            self._checkpoint(index + 1, progress)
        return "completed", "all phases ran"

    def _interrupted(self, index: int, k: int) -> str:
        return (f"interrupted by {self.signals.name} in phase {index} at iteration {k} (step {self.step}); "
                f"continue with: {checkpoint.resume_command(self.writer.path)}")

    def position(self, index: int, progress: Progress) -> dict[str, Any]:
        """The trainer's part of a checkpoint: which phase, how far into it, and what was done before."""
        return {"phase": index, "progress": vars(progress), "step": self.step,
                "results": [r.as_dict() for r in self.results], "history_rows": self.writer.rows,
                "seconds": time.perf_counter() - self.start, "last": self.last, "snapshot": self.snapshot,
                "resumed": list(self.resumed)}

    def _checkpoint(self, index: int, progress: Progress) -> None:
        checkpoint.save(self.writer.path, {**checkpoint.capture(self.setup), **self.position(index, progress)})

    def _continue(self, state: dict) -> tuple[int, Progress]:
        """Restore a checkpoint: the model, points and RNGs, the history up to it; return (phase, its progress)."""
        s, phases, index = self.setup, self.setup.config.phases, state["phase"]
        dtype = DTYPES[phases[min(index, len(phases) - 1)].dtype or s.config.dtype]
        self._cast(dtype)  # before loading, so that float64 weights keep every bit
        checkpoint.restore(s, state)
        s.objective.to(s.device, dtype)
        self.writer.keep_history(state["history_rows"])
        self.step, self.last, self.snapshot = state["step"], state["last"], state["snapshot"]
        self.results = [PhaseResult(**r) for r in state["results"]]
        progress = Progress(**state["progress"])
        self.resumed = state["resumed"] + [self.step + progress.iterations]
        self.start = time.perf_counter() - state["seconds"]
        return index, progress

    def _cast(self, dtype: torch.dtype) -> None:
        s = self.setup
        s.model.to(s.device, dtype)
        s.problem.to(s.device, dtype)
        s.objective.to(s.device, dtype)
        if s.reference is not None:
            s.reference.to(s.device, dtype)

    def _groups(self) -> list[dict]:
        """Network weights unbounded; each trainable PDE parameter in its own group with its bounds."""
        problem = self.setup.problem
        groups = [{"params": list(self.setup.model.parameters())}]
        for name, value in problem.trainable.items():
            low, high = problem.bounds.get(name, (None, None))
            groups.append({"params": [value], "lower": low, "upper": high, "name": name, "weight_decay": 0.0})
        return groups

    def _phase(self, index: int, options: PhaseOptions, start: Progress) -> PhaseResult:
        s, out = self.setup, self.setup.config.output
        self._cast(DTYPES[options.dtype or s.config.dtype])
        bar = tqdm(total=options.iterations, initial=start.iterations, desc=f"phase {index} {options.optimizer}",
                   disable=self.quiet, dynamic_ncols=True, leave=True)
        monitor: Monitor

        def on_iteration(k: int) -> Optional[str]:
            if options.resample_every and k % options.resample_every == 0:
                resample(s.objective, s.rng, options.resample, options.rad_k, options.rad_c, options.rad_pool)
                s.objective.to(s.device, DTYPES[options.dtype or s.config.dtype])
            logged = k % out.log_every == 0
            reason = self._log(index, options.optimizer, k, monitor.evaluations, bar) if logged else None
            running = reason is None and monitor.budget_reason() is None  # a phase end is checkpointed after it
            if running and self.signals.received:
                reason = "interrupted"
            if reason == "interrupted" or (running and out.checkpoint_every and k % out.checkpoint_every == 0):
                self._checkpoint(index, monitor.progress())
            return reason

        monitor = Monitor(options, on_iteration, start)
        note = self._restart_note(index, options, start)
        if start.iterations == 0:
            self._log(index, options.optimizer, 0, 0, bar)
        try:
            phase = PHASES[options.optimizer](options)
            result = phase.run(self._groups(), self._closure(phase), monitor)
        except Exception as err:  # keep the finished work; report what broke in one line
            result = monitor.result(options.optimizer, "failed", f"{type(err).__name__}: {err}", math.nan)
        if result.status not in STOPS and result.iterations % out.log_every:
            if self._log(index, options.optimizer, result.iterations, monitor.evaluations, bar):
                result.status = "diverged"
        if result.status in ("diverged", "failed"):
            self._restore()
            if result.status == "diverged":
                result.message = f"non-finite loss by iteration {result.iterations}; the last finite model was kept"
        if note:
            result.message += f" ({note})"
        bar.close()
        return result

    def _closure(self, phase: Any) -> Callable[[], torch.Tensor]:
        """The loss, or for a phase that declares `residuals = True` (Gauss-Newton) the residual vector."""
        objective = self.setup.objective
        if getattr(phase, "residuals", False):
            layers = [m for m in self.setup.model.modules() if isinstance(m, torch.nn.Linear)]
            return Residuals(lambda: objective.residual_vector()[0], objective.residual_blocks, layers)
        return lambda: objective.loss()[0]

    def _restart_note(self, index: int, options: PhaseOptions, start: Progress) -> str:
        """For a phase continued part-way whose optimizer keeps no state (SciPy): say it restarts, on stderr too."""
        if start.iterations == 0 or start.optimizer is not None:
            return ""
        note = (f"{options.optimizer} restarted at iteration {start.iterations} from the checkpointed weights "
                f"with the remaining budget: its internal state cannot be restored")
        print(f"phase {index}: {note}", file=sys.stderr)
        return note

    def _log(self, index: int, optimizer: str, k: int, evaluations: int, bar) -> Optional[str]:
        """Evaluate and record one history row; return "diverged" if the loss is not finite."""
        s = self.setup
        with torch.enable_grad():
            total, terms = s.objective.loss()
        errors = s.reference.errors(s.model, s.problem.fields) if s.reference is not None else {}
        losses = {"loss": float(total.detach()), **{name: float(v.detach()) for name, v in terms.items()}}
        self.last = {"loss": losses, "rel_l2": {f: float(e) for f, e in errors.items()}}
        row = {"phase": index, "optimizer": optimizer, "iteration": k, "step": self.step + k,
               "evaluations": evaluations, "time": round(time.perf_counter() - self.start, 4), **losses}
        row.update({f"rel_l2_{f}": e for f, e in self.last["rel_l2"].items()})
        row.update({name: float(v.detach()) for name, v in s.problem.trainable.items()})
        self.writer.history(row)
        if not math.isfinite(row["loss"]):
            return "diverged"
        self.snapshot = {"model": {k: v.detach().clone() for k, v in s.model.state_dict().items()},
                         "parameters": {k: v.detach().clone() for k, v in s.problem.values.items()}}
        bar.update(k - bar.n)
        bar.set_postfix({"loss": f"{row['loss']:.3e}", **{f"err_{f}": f"{float(e):.2e}" for f, e in errors.items()}})
        return None

    @torch.no_grad()
    def _restore(self) -> None:
        """Put back the model and parameters of the last finite history row."""
        if self.snapshot is None:
            return
        self.setup.model.load_state_dict(self.snapshot["model"])
        for name, value in self.snapshot["parameters"].items():
            self.setup.problem.values[name].copy_(value)

    def _summary(self, status: str, message: str) -> dict[str, Any]:
        s = self.setup
        return {
            "status": status,
            "message": message,
            **({"signal": self.signals.name} if status == "interrupted" else {}),
            "problem": s.config.problem.name,
            "loss": self.last["loss"],
            "rel_l2": self.last["rel_l2"],
            "parameters": s.problem.parameter_values(),
            "identified": s.problem.identified(),
            "phases": [r.as_dict() for r in self.results],
            "iterations": self.step,
            "resumed": self.resumed,
            "seconds": round(time.perf_counter() - self.start, 3),
            "device": str(s.device),
            "dtype": str(next(s.model.parameters()).dtype).replace("torch.", ""),
            "seed": s.config.seed,
            "versions": versions(),
        }


def versions() -> dict[str, str]:
    from . import __version__

    return {"pinnkit": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "scipy": scipy.__version__, "python": platform.python_version()}
