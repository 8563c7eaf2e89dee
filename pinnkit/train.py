"""The Trainer: runs the configured phases in order, logs history, guards against divergence.

Between phases the model, the PDE parameters and the point sets move to the
next phase's dtype. Losses and errors are read from the device only at log
points (every `output.log_every` iterations); a non-finite loss there stops
training and restores the last finite model.
"""
from __future__ import annotations

import math
import platform
import time
from typing import Any, Optional

import numpy as np
import scipy
import torch
from tqdm.auto import tqdm

from .build import Setup
from .optim import PHASES, Monitor, PhaseOptions, PhaseResult
from .run import RunWriter

DTYPES = {"float32": torch.float32, "float64": torch.float64}


class Trainer:
    """Trains `setup.model` (and trainable PDE parameters) through the configured phases."""

    def __init__(self, setup: Setup, writer: RunWriter, quiet: bool = False):
        self.setup, self.writer, self.quiet = setup, writer, quiet
        self.results: list[PhaseResult] = []
        self.step = 0  # iterations done in earlier phases
        self.last: dict[str, dict[str, float]] = {"loss": {}, "rel_l2": {}}  # at the last history row
        self.snapshot: Optional[dict] = None
        self.start = time.perf_counter()

    def run(self) -> dict[str, Any]:
        """Run every phase (stopping at the first that diverges or fails); return the summary."""
        status, message = "completed", "all phases ran"
        for index, options in enumerate(self.setup.config.phases):
            result = self._phase(index, options)
            self.results.append(result)
            self.step += result.iterations
            if result.status in ("diverged", "failed"):
                status, message = result.status, f"phase {index} ({options.optimizer}): {result.message}"
                break
        self.writer.model(self.setup.model, self.setup.problem.values, {"status": status})
        return self._summary(status, message)

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

    def _phase(self, index: int, options: PhaseOptions) -> PhaseResult:
        s, log_every = self.setup, self.setup.config.output.log_every
        self._cast(DTYPES[options.dtype or s.config.dtype])
        bar = tqdm(total=options.iterations, desc=f"phase {index} {options.optimizer}", disable=self.quiet,
                   dynamic_ncols=True, leave=True)
        monitor: Monitor

        def on_iteration(k: int) -> Optional[str]:
            if options.resample_every and k % options.resample_every == 0:
                s.objective.sample(s.rng, only_resampled=True)
                s.objective.to(s.device, DTYPES[options.dtype or s.config.dtype])
            if k % log_every == 0:
                return self._log(index, options.optimizer, k, monitor.evaluations, bar)
            return None

        monitor = Monitor(options, on_iteration)
        self._log(index, options.optimizer, 0, 0, bar)
        try:
            result = PHASES[options.optimizer](options).run(self._groups(), lambda: s.objective.loss()[0], monitor)
        except Exception as err:  # keep the finished work; report what broke in one line
            result = monitor.result(options.optimizer, "failed", f"{type(err).__name__}: {err}", math.nan)
        if result.status not in ("diverged", "failed") and result.iterations % log_every:
            if self._log(index, options.optimizer, result.iterations, monitor.evaluations, bar):
                result.status = "diverged"
        if result.status in ("diverged", "failed"):
            self._restore()
            if result.status == "diverged":
                result.message = f"non-finite loss by iteration {result.iterations}; the last finite model was kept"
        bar.close()
        return result

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
            "problem": s.config.problem.name,
            "loss": self.last["loss"],
            "rel_l2": self.last["rel_l2"],
            "parameters": s.problem.parameter_values(),
            "identified": s.problem.identified(),
            "phases": [r.as_dict() for r in self.results],
            "iterations": self.step,
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
