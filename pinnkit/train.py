"""The Trainer: runs the configured phases in order, each in its dtype, guards against divergence.

Each phase runs under the one phase loop (`optim.run_phase`); the trainer's part of an iteration is
`_after`: a history row every `output.log_every` iterations (a non-finite loss there stops training and
restores the last finite model), a checkpoint every `output.checkpoint_every` iterations, and the
signals. A checkpoint is also written before the first phase and at every phase boundary;
SIGINT/SIGTERM stop after the current iteration with a checkpoint (status `interrupted`), and a
Trainer given a checkpoint continues from it.

Where several processes share the solve (`Setup.processes`), every decision a process could take alone
is settled among them: a signal any process received comes with the sums of each step; at log points (and
every iteration of a phase with a time budget) one all-reduce settles the first process's reason to stop and
budget (its callbacks, its clock: `_agreed`). The first process alone writes.
"""
from __future__ import annotations

import logging
import math
import signal
import time
from typing import Any, Callable, Optional, Sequence

import torch

from . import checkpoint
from .build import DTYPES, Setup
from .distributed import ProcessFailure, settle
from .history import History
from .interrupt import Signals
from .optim import PHASES, Monitor, Phase, PhaseOptions, PhaseResult, Progress, run_phase
from .run import RunWriter
from .version import versions

log = logging.getLogger(__name__)
STOPS = ("diverged", "failed", "interrupted", "stopped")  # phase statuses that end the run
REASONS = (None, "diverged", "stopped", "interrupted")  # a stop reason as an integer, to settle among processes
BUDGETS = (None, "completed", "max_evaluations", "max_seconds")  # an exhausted budget, likewise
Callback = Callable[[dict[str, Any]], Any]  # a history row -> a reason to stop the run (truthy), or None


class Trainer:
    """Trains `setup.model` (and trainable PDE parameters) through the configured phases.

    `resume`: a checkpoint (`checkpoint.read`) of this run to continue from.
    """

    def __init__(self, setup: Setup, writer: RunWriter, quiet: bool = False, resume: Optional[dict] = None,
                 callbacks: Sequence[Callback] = ()):
        self.setup, self.writer, self.resume, self.callbacks = setup, writer, resume, tuple(callbacks)
        self.stopped_by = ""  # what a callback said when it stopped the run
        self.start = time.perf_counter()
        self.history = History(setup, writer, quiet, self.start)
        self.results: list[PhaseResult] = []
        self.step = 0  # iterations done in earlier phases
        self.resumed: list[int] = []  # steps at which the run was continued from a checkpoint
        self.signals = Signals()
        self.stop_signal: Optional[int] = None  # the signal that stopped the run (any process's, settled)

    def run(self) -> dict[str, Any]:
        """Run every phase (stopping at the first that diverges, fails or is interrupted); return the summary."""
        if self.resume is None:
            first, progress = 0, Progress()
            self._checkpoint(0, progress)
        else:
            first, progress = settle(self.setup.processes, lambda: self._continue(self.resume))
        if self.setup.processes is not None:  # every sum among the processes carries this one's signal
            self.setup.processes.received = lambda: self.signals.received
        try:
            with self.signals:
                status, message = self._phases(first, progress)
        except KeyboardInterrupt:  # a second signal: stop at once, the last checkpoint stays
            raise KeyboardInterrupt(f"stopped at once by a second signal; continue from the last checkpoint "
                                    f"with: {checkpoint.resume_command(self.writer.path)}") from None
        settle(self.setup.processes,
               lambda: self.writer.model(self.setup.model, self.setup.problem.state_dict(), {"status": status}))
        log.info("run %s: %s", status, message)
        return self._summary(status, message)

    def _phases(self, first: int, progress: Progress) -> tuple[str, str]:
        """Phases `first`, ... in order (the first from `progress`), a checkpoint after each; the run's status."""
        schedule = self.setup.config.schedule
        for index in range(first, len(schedule)):
            if self._signalled():
                return "interrupted", self._interrupted(index, 0)
            result = self._phase(index, schedule[index][1], progress)
            progress = Progress()
            self.results.append(result)
            self.step += result.iterations
            if result.status == "interrupted":
                return "interrupted", self._interrupted(index, result.iterations)
            if result.status == "stopped":
                return "stopped", f"stopped by a callback in {self._name(index)} at iteration {result.iterations}" \
                                  f"{': ' + self.stopped_by if self.stopped_by else ''}"
            if result.status in STOPS:
                return result.status, f"{self._name(index)} ({schedule[index][1].optimizer}): {result.message}"
            self._enter(index + 1)  # before the checkpoint: it holds the next window's points
            self._checkpoint(index + 1, progress)
        return "completed", "all phases ran"

    def _name(self, index: int) -> str:
        """`phase 1`, or `window 2, phase 1` for a time-marched run."""
        window, phases = self.setup.config.schedule[index][0], len(self.setup.config.phases)
        return f"window {window}, phase {index % phases}" if self.setup.marching else f"phase {index}"

    def _enter(self, index: int) -> None:
        """Move to the time window of scheduled phase `index` (if there is one and it is another window)."""
        schedule = self.setup.config.schedule
        if index < len(schedule) and schedule[index][0] != self.setup.window:
            log.info("time window %d: t in [%g, %g]", schedule[index][0], *self.setup.marching.edges[
                schedule[index][0]:schedule[index][0] + 2])
            self.setup.enter(schedule[index][0])

    def _phase(self, index: int, options: PhaseOptions, start: Progress) -> PhaseResult:
        """Run phase `index` from `start` in its dtype, with its progress bar; its result."""
        s = self.setup
        s.cast(DTYPES[options.dtype or s.config.dtype])
        phase = PHASES[options.optimizer](options)
        monitor = Monitor(options, lambda k, last: self._after(index, monitor, k, last), lambda: s.redraw(options),
                          start, s.reweight)
        if not start.iterations:
            s.reweight()
        note = self._restart_note(index, options, start) if start.iterations and not phase.restorable else ""
        log.info("%s (%s) starts at iteration %d, %s", self._name(index), options.optimizer, start.iterations,
                 str(s.dtype).replace("torch.", ""))
        self.history.begin(self._name(index), options, start.iterations)
        try:
            result = self._guarded(index, phase, monitor)
        finally:  # a second signal leaves no progress bar behind
            self.history.end()
        result.message += f" ({note})" if note else ""
        log.info("%s (%s) %s after %d iterations, %d evaluations: %s", self._name(index), options.optimizer,
                 result.status, result.iterations, result.evaluations, result.message)
        return result

    def _guarded(self, index: int, phase: Phase, monitor: Monitor) -> PhaseResult:
        """The phase under the loop; an exception becomes a failed result, and a diverged or failed phase is
        rolled back to the last finite history row."""
        options, s = phase.options, self.setup
        if monitor.iterations == 0:
            self._logged(index, phase, 0, 0)  # the starting row; a stop it asks for counts from the first log point
        try:
            result = run_phase(phase, s.parameter_groups(), s.view(), monitor)
        except Exception as err:  # keep the finished work; report what broke in one line, the traceback in run.log
            remote = f"\n{err.traceback}" if isinstance(err, ProcessFailure) and err.traceback else ""
            log.error("%s (%s) failed%s", self._name(index), options.optimizer, remote, exc_info=True)
            what = str(err) if isinstance(err, ProcessFailure) else f"{type(err).__name__}: {err}"
            result = monitor.result("failed", f"{what} (traceback in run.log)", math.nan)
        last_logged = result.iterations % s.config.output.log_every == 0
        if result.status not in STOPS and not last_logged:
            result.status = self._logged(index, phase, result.iterations, monitor.evaluations) or result.status
        if result.status in ("diverged", "failed"):
            self.history.roll_back()
            if result.status == "diverged":
                result.message = f"non-finite loss by iteration {result.iterations}; the last finite model was kept"
        return result

    def _after(self, index: int, monitor: Monitor, k: int, last: bool) -> Optional[str]:
        """The trainer's part of iteration k: log, watch the signals, checkpoint; a reason to stop, if any."""
        out = self.setup.config.output

        def logged() -> Optional[str]:
            return self._log(index, monitor.phase, k, monitor.evaluations) if k % out.log_every == 0 else None

        p = self.setup.processes
        if p is None:
            reason, signum = logged(), self.signals.received
        elif k % out.log_every == 0 or monitor.options.max_seconds is not None:  # what else is the same everywhere
            reason, monitor.exhausted, last = self._agreed(lambda: (logged(), monitor.exhausted, last))
            signum = p.heard
        else:
            reason, signum = None, p.heard  # the signals came with the step's sums
        running = reason is None and not last  # a phase end is checkpointed after it
        if running and signum:
            reason, self.stop_signal = "interrupted", signum
        if reason == "interrupted" or (running and out.checkpoint_every and k % out.checkpoint_every == 0):
            self._checkpoint(index, monitor.progress())
        return reason

    def _agreed(self, decide: Callable[[], tuple[Optional[str], Optional[str], bool]]) \
            -> tuple[Optional[str], Optional[str], bool]:
        """The first process's (reason to stop, exhausted budget, whether the phase ends here) from `decide()`,
        which every process runs, in one all-reduce (an error `decide` raises anywhere is raised on all)."""
        p = self.setup.processes

        def codes() -> torch.Tensor:
            reason, budget, last = decide()
            return torch.tensor([REASONS.index(reason), BUDGETS.index(budget), last] if p.main else [0, 0, 0],
                                dtype=torch.float64)

        agreed = [int(c) for c in p.sum(codes, torch.zeros(3, dtype=torch.float64))]
        return REASONS[agreed[0]], BUDGETS[agreed[1]], bool(agreed[2])

    def _logged(self, index: int, phase: Phase, k: int, evaluations: int) -> Optional[str]:
        """`_log`, with the first process's reason to stop settled among several processes."""
        if self.setup.processes is None:
            return self._log(index, phase, k, evaluations)
        return self._agreed(lambda: (self._log(index, phase, k, evaluations), None, False))[0]

    def _signalled(self) -> bool:
        """Whether a signal asks the run to stop (one any of the processes received), noted in `stop_signal`."""
        signum = self.signals.received
        if self.setup.processes is not None:
            self._agreed(lambda: (None, None, False))
            signum = self.setup.processes.heard
        self.stop_signal = self.stop_signal or signum
        return signum is not None

    def _log(self, index: int, phase: Phase, k: int, evaluations: int) -> Optional[str]:
        """Write the history row of iteration k and show it to the callbacks; "diverged" on a non-finite loss,
        "stopped" when a callback asks for it, else None."""
        lr = phase.learning_rate(max(k - 1, 0))  # that of the step just taken
        row = self.history.log(index % len(self.setup.config.phases), phase.options.optimizer, k, self.step + k,
                               evaluations, lr)
        if not math.isfinite(row["loss"]):
            return "diverged"
        for callback in self.callbacks:
            said = callback(dict(row))
            if said:
                self.stopped_by = said if isinstance(said, str) else ""
                return "stopped"
        return None

    def _interrupted(self, index: int, k: int) -> str:
        return (f"interrupted by {self._signal_name()} in {self._name(index)} at iteration {k} (step {self.step}); "
                f"continue with: {checkpoint.resume_command(self.writer.path)}")

    def _signal_name(self) -> str:
        """The name of the signal that stopped the run (SIGINT, SIGTERM), or "" when none did."""
        return signal.Signals(self.stop_signal).name if self.stop_signal else ""

    def _restart_note(self, index: int, options: PhaseOptions, start: Progress) -> str:
        """For a phase continued part-way whose state cannot be restored (SciPy): say it restarts."""
        note = (f"{options.optimizer} restarted at iteration {start.iterations} from the checkpointed weights "
                f"with the remaining budget: its internal state cannot be restored")
        log.warning("%s: %s", self._name(index), note)
        return note

    def position(self, index: int, progress: Progress) -> dict[str, Any]:
        """The trainer's part of a checkpoint: which phase, how far into it, and what was done before."""
        return {"phase": index, "progress": vars(progress), "step": self.step,
                "results": [r.as_dict() for r in self.results], "history_rows": self.writer.rows,
                "seconds": time.perf_counter() - self.start, "last": self.history.last,
                "snapshot": self.history.snapshot, "resumed": list(self.resumed)}

    def _checkpoint(self, index: int, progress: Progress) -> None:
        """Write the checkpoint (the first process, where several share the solve: it holds every point)."""
        def save() -> None:
            if self.writer.writes:
                checkpoint.save(self.writer.path, {**checkpoint.capture(self.setup), **self.position(index, progress)})

        settle(self.setup.processes, save)

    def _continue(self, state: dict) -> tuple[int, Progress]:
        """Restore a checkpoint: the model, points and RNGs, the history up to it; return (phase, its progress)."""
        s, schedule, index = self.setup, self.setup.config.schedule, state["phase"]
        s.cast(DTYPES[schedule[min(index, len(schedule) - 1)][1].dtype or s.config.dtype])  # float64 keeps every bit
        self._enter(min(index, len(schedule) - 1))  # the checkpoint's window: its points are restored into it
        checkpoint.restore(s, state)
        s.objective.to(s.device, s.dtype)
        self.writer.keep_history(state["history_rows"])
        self.step, self.history.last, self.history.snapshot = state["step"], state["last"], state["snapshot"]
        self.results = [PhaseResult(**r) for r in state["results"]]
        progress = Progress(**state["progress"])
        self.resumed = state["resumed"] + [self.step + progress.iterations]
        self.start = self.history.started = time.perf_counter() - state["seconds"]
        log.info("resumed at step %d (phase %d, iteration %d)", self.resumed[-1], index, progress.iterations)
        return index, progress

    def _summary(self, status: str, message: str) -> dict[str, Any]:
        s = self.setup
        return {
            "status": status,
            "message": message,
            **({"signal": self._signal_name()} if status == "interrupted" else {}),
            "problem": s.config.problem.name,
            "loss": self.history.last["loss"],
            "rel_l2": self.history.last["rel_l2"],
            **({"quantities": s.quantities.report(self.history.last.get("quantities", {}))}
               if s.quantities is not None else {}),
            "parameters": s.problem.parameter_values(),
            **({"ranges": {name: list(span) for name, span in s.problem.ranges.items()}} if s.problem.ranges else {}),
            "identified": s.problem.identified(),
            "phases": [r.as_dict() for r in self.results],
            **({"windows": s.marching.edges} if s.marching else {}),
            "iterations": self.step,
            "resumed": self.resumed,
            "seconds": round(time.perf_counter() - self.start, 3),
            "device": str(s.device),
            **({"processes": s.processes.size} if s.processes is not None else {}),
            "engine": "jet" if s.taps is not None else "autograd",  # forward jets need pinnkit's MLP
            "dtype": str(next(s.model.parameters()).dtype).replace("torch.", ""),
            "seed": s.config.seed,
            "versions": versions(),
        }
