"""SciPy's L-BFGS-B as a phase: float64 vector in, loss and gradient from one evaluation.

All trainable tensors are flattened into one vector; network weights are unbounded and bounded PDE
parameters get SciPy box bounds. SciPy drives its own iterations, so `scipy.optimize.minimize` runs in
a worker thread that pauses after each iteration until the phase loop asks for the next one: the loop
(budget, logging, checkpoints, signals, redraws) is the one every phase has, and only one thread ever
computes at a time. SciPy's internal state (its L-BFGS history) cannot be saved or carried across a
change of the objective: a phase continued from a checkpoint, or whose points are redrawn, starts
SciPy afresh from the current weights. SciPy's BLAS works on vectors of a few thousand entries here,
where its threads only add wake-up latency (3-6 ms an evaluation on a busy 2-core CPU), so they are
held to one during the phase.

Where several processes share the objective, SciPy runs on the first one, which tells the others each point
SciPy asks for (`EVALUATE`), the end of each iteration and of the minimization, in one all-reduce each;
they evaluate their points there, and the loss and gradient are summed over all of them.
"""
from __future__ import annotations

import queue
import threading
from functools import partial
from typing import Any, Literal, Optional

import numpy as np
import scipy.optimize
import torch
from pydantic import Field
from threadpoolctl import ThreadpoolController

from .closures import ObjectiveView, Processes, gradient_closure
from .params import assign, flat, parameters, scalar_bounds
from .phase import Phase, PhaseOptions, Step

UNLIMITED = 2**31 - 1  # SciPy's iteration and evaluation limits: the phase loop enforces the budget
FLOOR = ("the line search found no lower loss along SciPy's direction: the loss is at its numerical floor "
         "for this gradient")
EVALUATE, ITERATION, DONE = 1, 2, 3  # what the first process tells the others, with a point
STATUSES = ("converged", "completed", "max_evaluations", "failed", "diverged")  # `status_of`'s, by number


def _raise(err: Exception) -> torch.Tensor:
    raise err


class LBFGSBOptions(PhaseOptions):
    """SciPy L-BFGS-B's keys (its own names in parentheses)."""

    optimizer: Literal["lbfgsb"]
    ftol: float = Field(1e-15, ge=0, lt=1, description="stop when the relative loss reduction is below ftol")
    gtol: float = Field(1e-10, ge=0, description="stop when the largest projected gradient entry is below gtol")
    history_size: int = Field(50, gt=0, le=10_000, description="correction pairs kept (SciPy's maxcor)")
    max_line_search: int = Field(50, gt=0, le=1000, description="line-search steps per iteration (SciPy's maxls)")


def status_of(res: scipy.optimize.OptimizeResult, maxiter: int, maxfun: int) -> tuple[str, str]:
    """A phase status and message from SciPy's `status`, `nit`, `nfev` and `fun` (not from its message text).

    SciPy's status 2 covers an abnormal line-search end, which happens when the loss has reached the floor
    its rounding allows (or the gradient is slightly inconsistent with it): converged, as the native
    L-BFGS calls the same event, unless the loss is not finite."""
    said = f"SciPy: {res.message}"
    if res.status == 0:
        return "converged", said
    if res.status == 1:
        return ("completed" if res.nit >= maxiter else "max_evaluations" if res.nfev > maxfun else "failed"), said
    if not np.isfinite(res.fun):
        return "diverged", said
    return "converged", f"{said}; {FLOOR}"


class Minimization:
    """`scipy.optimize.minimize(method="L-BFGS-B")` in a worker thread, paused after each iteration.

    `advance()` lets it run to the end of its next iteration and returns ("iteration", x, loss) or
    ("done", OptimizeResult); an exception raised while evaluating is re-raised in the caller's thread.
    `stop()` ends it (a paused SciPy halts through its callback) and joins the thread.
    """

    def __init__(self, fun, x0: np.ndarray, bounds: Optional[list], options: dict[str, Any]):
        self.requests: queue.Queue[str] = queue.Queue(maxsize=1)
        self.replies: queue.Queue[tuple] = queue.Queue(maxsize=1)
        self.owed = self.paused = False  # owed: the worker is computing a reply; paused: it waits in the callback
        self.thread = threading.Thread(target=self._run, args=(fun, x0, bounds, options), daemon=True,
                                       name="pinnkit-lbfgsb")

    def _run(self, fun, x0: np.ndarray, bounds: Optional[list], options: dict[str, Any]) -> None:
        try:
            with ThreadpoolController().select(prefix="libscipy_openblas").limit(limits=1):  # SciPy's, not torch's
                res = scipy.optimize.minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                                              callback=self._callback, options=options)
            self.replies.put(("done", res))
        except BaseException as err:  # handed to the phase loop's thread, which raises it
            self.replies.put(("error", err))

    def _callback(self, intermediate_result: scipy.optimize.OptimizeResult) -> None:
        self.replies.put(("iteration", intermediate_result.x.copy(), float(intermediate_result.fun)))
        if self.requests.get() == "stop":
            raise StopIteration

    def advance(self) -> tuple:
        if self.paused:
            self.requests.put("go")
        elif not self.thread.is_alive():
            self.thread.start()
        self.owed = True
        reply = self.replies.get()
        self.owed, self.paused = False, reply[0] == "iteration"
        if reply[0] == "error":
            raise reply[1]
        return reply

    def stop(self) -> None:
        if self.owed:  # interrupted while waiting: let the current evaluation finish first
            self.paused = self.replies.get()[0] == "iteration"
        if self.paused:
            self.requests.put("stop")
            self.replies.get()
        if self.thread.is_alive():
            self.thread.join()
        self.owed = self.paused = False


class ScipyLBFGSBPhase(Phase):
    """`optimizer = "lbfgsb"`: `scipy.optimize.minimize(method="L-BFGS-B", jac=True)`."""

    Options = LBFGSBOptions
    restorable = False  # SciPy's history lives inside its Fortran/C state
    redraws = "restart"
    distributed = True  # SciPy on the first process, the others evaluating where it asks (see the module)

    def start(self, groups: list[dict], objective: ObjectiveView) -> None:
        self.params, self.bounds = parameters(groups), scalar_bounds(groups)
        self.processes: Optional[Processes] = objective.processes
        self.evaluate = gradient_closure(self.params, objective.loss, processes=self.processes)
        self.run: Optional[Minimization] = None
        self.evaluating = False  # inside `_fun`: an error there was raised on every process already

    def _fun(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        self.evaluating = True
        self._tell(EVALUATE, x)
        assign(self.params, x)
        loss = self.evaluate()
        grad = torch.cat([p.grad.reshape(-1) for p in self.params])
        self.evaluating = False
        return float(loss.detach()), grad.detach().to("cpu", torch.float64).numpy()

    def step(self, k: int) -> Step:
        if self.processes is not None and not self.processes.main:
            return self._follow()
        if self.run is None:
            o = self.options
            x0 = flat(self.params).to("cpu", torch.float64).numpy()
            self.run = Minimization(self._fun, x0, self.bounds, {
                "maxiter": UNLIMITED, "maxfun": UNLIMITED, "ftol": o.ftol, "gtol": o.gtol,
                "maxcor": o.history_size, "maxls": o.max_line_search})
        reply = self._advance()
        if reply[0] == "iteration":
            assign(self.params, reply[1])
            self._tell(ITERATION, reply[1], reply[2])
            return Step(torch.tensor(reply[2]))
        res, self.run = reply[1], None
        assign(self.params, res.x)
        status, message = status_of(res, UNLIMITED, UNLIMITED)
        self._tell(DONE, res.x, float(res.fun), STATUSES.index(status))
        return Step(torch.tensor(float(res.fun)), status, message, iteration=False)

    def _advance(self) -> tuple:
        """SciPy's next iteration; an error of SciPy's own (not one of an evaluation, which every process
        raised already) is raised on the other processes too."""
        try:
            return self.run.advance()
        except Exception as err:
            if self.processes is not None and not self.evaluating:
                self.processes.sum(partial(_raise, err), self._message())
            raise

    def _message(self, code: int = 0, x: Optional[np.ndarray] = None, loss: float = 0.0,
                 status: int = 0) -> torch.Tensor:
        """What the first process tells the others: (code, loss, status, the point), float64 on the device."""
        like = self.params[0]
        message = torch.zeros(3 + sum(p.numel() for p in self.params), dtype=torch.float64, device=like.device)
        message[:3] = torch.tensor([code, loss, status], dtype=torch.float64)
        if x is not None:
            message[3:] = torch.as_tensor(x, dtype=torch.float64)
        return message

    def _tell(self, code: int, x: np.ndarray, loss: float = 0.0, status: int = 0) -> None:
        """Tell the other processes (none with one process) what SciPy does next, with its point."""
        if self.processes is not None:
            self.processes.sum(lambda: self._message(code, x, loss, status), self._message())

    def _follow(self) -> Step:
        """A process other than the first: evaluate where SciPy asks, until it ends an iteration or stops."""
        while True:
            empty = self._message()
            message = self.processes.sum(lambda: empty, empty)
            code, loss, status = (float(v) for v in message[:3])
            assign(self.params, message[3:])
            if code == EVALUATE:
                self.evaluate()
            elif code == ITERATION:
                return Step(torch.tensor(loss))
            else:
                return Step(torch.tensor(loss), STATUSES[int(status)], "SciPy L-BFGS-B ran on the first process",
                            iteration=False)

    def redrawn(self) -> None:
        """SciPy cannot carry its history over to the new points: end this minimization; the next step starts one."""
        self.close()

    def close(self) -> None:
        if self.run is not None:
            self.run.stop()
            self.run = None
