"""The training history: one row per log point (losses, errors, quantities of interest, trainable
parameters), the progress bar, and the last finite model, which a diverged or failed phase is rolled back to.

Losses and errors are read from the device only here, at log points (every `output.log_every`
iterations), so the iterations in between never wait for the host. Where several processes share the
solve, the losses are summed over them, and only the first measures the errors and writes the row.
"""
from __future__ import annotations

import math
import time
from typing import Any, Optional

import torch
from tqdm.auto import tqdm

from .build import Setup
from .optim import PhaseOptions
from .run import RunWriter


class History:
    """Writes history rows for one run and keeps what the summary and a rollback need.

    `last`: the losses and errors of the last row; `snapshot`: the model and PDE parameters of the last
    row whose loss was finite. `started` is the run's clock, so rows carry the run's wall time."""

    def __init__(self, setup: Setup, writer: RunWriter, quiet: bool, started: float):
        self.setup, self.writer, self.quiet, self.started = setup, writer, quiet, started
        self.last: dict[str, dict[str, float]] = {"loss": {}, "rel_l2": {}, "quantities": {}}
        self.snapshot: Optional[dict[str, Any]] = None
        self.bar: Optional[tqdm] = None

    def begin(self, name: str, options: PhaseOptions, done: int) -> None:
        """Phase `name` starts, `done` of its iterations already behind it (a resume): open its progress bar."""
        self.bar = tqdm(total=options.iterations, initial=done, desc=f"{name} {options.optimizer}",
                        disable=self.quiet, dynamic_ncols=True, leave=True)

    def end(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def log(self, index: int, optimizer: str, k: int, step: int, evaluations: int,
            lr: Optional[float] = None) -> dict[str, Any]:
        """Evaluate and record the row of iteration k of phase `index` (run step `step`, learning rate `lr` where
        the phase has one); the row. A row with a finite loss becomes the snapshot a rollback returns to."""
        s = self.setup
        losses = self.losses()
        reports = s.processes is None or s.processes.main
        errors = s.reference.errors(s.model, s.problem.fields) if s.reference is not None and reports else {}
        quantities = s.quantities.values(s.model) if s.quantities is not None and reports else {}
        self.last = {"loss": losses, "rel_l2": {f: float(e) for f, e in errors.items()}, "quantities": quantities}
        row = {**({"window": s.window} if s.marching else {}), "phase": index, "optimizer": optimizer,
               "iteration": k, "step": step, "evaluations": evaluations,
               "time": round(time.perf_counter() - self.started, 4), "lr": lr, **losses}
        row.update({f"rel_l2_{f}": e for f, e in self.last["rel_l2"].items()})
        row.update({f"q_{name}": v for name, v in quantities.items()})
        row.update({name: float(v.detach()) for name, v in s.problem.trainable.items()})
        row.update(s.weighting_row())
        self.writer.history(row)
        if not math.isfinite(row["loss"]):
            return row
        self.snapshot = {"model": {key: v.detach().clone() for key, v in s.model.state_dict().items()},
                         "parameters": s.problem.state_dict()}
        if self.bar is not None:
            self.bar.update(k - self.bar.n)
            self.bar.set_postfix({"loss": f"{row['loss']:.3e}", **{f"err_{f}": f"{e:.2e}" for f, e in  # probes: the
                                  self.last["rel_l2"].items() if "@" not in f}})  # final line and history.csv
        return row

    def losses(self) -> dict[str, float]:
        """The loss and each term's mean square now (summed over the processes that share the solve)."""
        s = self.setup
        if s.processes is None:
            with torch.enable_grad():
                total, terms = s.objective.loss()
            return {"loss": float(total.detach()), **{name: float(v.detach()) for name, v in terms.items()}}

        def local() -> tuple[list[str], torch.Tensor]:
            with torch.enable_grad():
                total, terms = s.objective.loss()
            return list(terms), torch.stack([total.detach(), *(v.detach() for v in terms.values())])

        names, mine = s.processes.settle(local)  # an evaluation that failed anywhere stops every process here
        summed = s.processes.sum(lambda: mine, mine).tolist()
        return dict(zip(["loss", *names], summed))

    @torch.no_grad()
    def roll_back(self) -> None:
        """Put back the model and PDE parameters of the last finite row."""
        if self.snapshot is not None:
            self.setup.model.load_state_dict(self.snapshot["model"])
            self.setup.problem.load_state_dict(self.snapshot["parameters"])
