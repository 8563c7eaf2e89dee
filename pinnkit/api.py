"""`solve`: config in, trained run folder out; `resume`: an unfinished run folder continued; the Python face
of `pinnkit solve`. Started by torchrun (`torchrun --nproc-per-node N ...`), each process runs the same call
and they share the solve (`distributed.py`): the first writes the run folder, every one returns the result."""
from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import torch

from . import checkpoint
from .build import Setup, build
from .config import Config, ConfigError, load as load_config
from .distributed import Processes, first, joined, settle
from .loggers import check as check_loggers, open_loggers
from .logs import run_log
from .run import RunWriter, kept_code, new_run_dir
from .solution import Solution
from .problem import Problem
from .train import Callback, Trainer
from .usercode import Code, name_of

log = logging.getLogger(__name__)


@dataclass
class Result:
    """A finished solve: its folder, its summary (as in summary.json) and the trained solution."""

    run_dir: Path
    summary: dict[str, Any]
    solution: Solution
    plot_error: Optional[str] = None  # why RUN_DIR/plots could not be written, when `plots` was asked for
    main: bool = True  # whether this process wrote the run folder (the first of several, or the only one)

    @property
    def status(self) -> str:
        """completed, stopped, interrupted, diverged or failed."""
        return self.summary["status"]

    @property
    def rel_l2(self) -> dict[str, float]:
        """The final relative L2 error per field (and per probe), against the problem's reference."""
        return self.summary["rel_l2"]


def solve(config: Union[Config, str, Path, dict], overrides: Sequence[str] = (),
          out: Optional[Union[str, Path]] = None, quiet: bool = True, plots: bool = False,
          callbacks: Sequence[Callback] = (), problem: Optional[type[Problem]] = None,
          model: Optional[torch.nn.Module] = None) -> Result:
    """Validate and build everything first (nothing is written on bad input), then train and write the run;
    with `plots`, then draw its figures into RUN_DIR/plots (`pinnkit.plot`).

    `problem`: a Problem subclass to solve (a class as the config's `problem.name` works too); `model`: a
    network of your own (any torch.nn.Module from (N, coordinates) to (N, fields)), trained in place. The
    run keeps the source file of a problem class; one defined interactively cannot be kept, which is said
    at the start, and `load` or `resume` of the run take the class (or the network) again.

    `callbacks` are called with each history row (a dict: phase, iteration, step, loss, each term,
    rel_l2_<field>, lr, ...) at every log point; one that returns something truthy (a string: the reason)
    stops the run there, with status `stopped` (early stopping, an error target reached). Under torchrun the
    callbacks are called on the first process only, and the errors are measured there only."""
    with joined() as processes:
        def prepared() -> Setup:
            cfg, code = configured(config, tuple(overrides), problem, model)
            check_loggers(cfg)
            return build(cfg, code, processes)

        setup = settle(processes, prepared)
        path = first(processes, lambda: new_run_dir(setup.config, out))
        writer = settle(processes, lambda: RunWriter(path, setup.config, _main(processes)))
        return _finished(_train(setup, writer, quiet, callbacks=callbacks), plots, processes)


def configured(config: Union[Config, str, Path, dict], overrides: tuple[str, ...], problem: Optional[type],
               model: Optional[torch.nn.Module]) -> tuple[Config, Code]:
    """The validated config, with a problem class and a network given from Python recorded in it, and them."""
    raw = config.model_dump() if isinstance(config, Config) else config
    if isinstance(raw, dict) and isinstance(raw.get("problem"), dict) and isinstance(raw["problem"].get("name"), type):
        problem = problem or raw["problem"]["name"]
        raw = {**raw, "problem": {k: v for k, v in raw["problem"].items() if k != "name"}}
    values: dict[str, Any] = {}
    if problem is not None:
        if not (isinstance(problem, type) and issubclass(problem, Problem)):
            raise ConfigError(f"problem: a Problem subclass, got {problem!r}")
        values["problem.name"] = name_of(problem) or f"__main__:{problem.__qualname__}"
        if name_of(problem) is None:
            log.warning("%s was defined interactively: the run folder cannot keep its source, so pinnkit.load "
                        "and resume of the run need the class again (problem=%s)", problem.__name__,
                        problem.__name__)
    if model is not None:
        if not isinstance(model, torch.nn.Module):
            raise ConfigError(f"model: a torch.nn.Module, got {type(model).__name__}")
        values.update({"model.name": "given", "model.options": {"class": type(model).__qualname__}})
    return load_config(raw, overrides, values), Code(problem=problem, network=model)


def resume(run_dir: Union[str, Path], quiet: bool = True, plots: bool = False,
           callbacks: Sequence[Callback] = (), problem: Optional[type[Problem]] = None,
           model: Optional[torch.nn.Module] = None) -> Result:
    """Continue an interrupted or crashed run from its last checkpoint, with the run's own config.toml (and
    the problem class or network given from Python when it was solved, given again here).

    For Adam, AdaHessian and the native L-BFGS the result is the one the run would have reached
    without the stop; a SciPy L-BFGS-B phase restarts from the checkpointed weights (its message says so).
    Under torchrun the run may continue on another number of processes than it started with: the
    checkpoint holds every point, and the first process reads it for all.
    """
    with joined() as processes:
        cfg, state = first(processes, lambda: checkpoint.open_run(run_dir, problem, model)[:2])

        def prepared() -> Setup:
            check_loggers(cfg)
            return build(cfg, kept_code(Path(run_dir), cfg, problem, model), processes)

        setup = settle(processes, prepared)
        writer = RunWriter(Path(run_dir), writes=_main(processes))
        return _finished(_train(setup, writer, quiet, state, callbacks), plots, processes)


def _main(processes: Optional[Processes]) -> bool:
    """Whether this process writes the run folder: the only one, or the first of several."""
    return processes is None or processes.main


def _train(setup: Setup, writer: RunWriter, quiet: bool, state: Optional[dict] = None,
           callbacks: Sequence[Callback] = ()) -> Result:
    """Train, writing run.log, the loggers and summary.json on the first process (the only one writing)."""
    main = writer.writes
    with run_log(writer.path) if main else nullcontext():
        watchers = settle(setup.processes, lambda: open_loggers(setup.config, writer.path) if main else [])
        status = "failed"
        try:
            summary = Trainer(setup, writer, quiet or not main, state, [*callbacks, *watchers] if main else []).run()
            status = summary["status"]
        finally:
            for watcher in watchers:
                watcher.close(status)
    summary["run_dir"] = str(writer.path)
    settle(setup.processes, lambda: writer.summary(summary))
    return Result(writer.path, summary, Solution(writer.path, setup.config, setup.problem, setup.model), main=main)


def _finished(result: Result, plots: bool, processes: Optional[Processes]) -> Result:
    """The result once its figures are drawn (`_plotted`, by the first process); the others wait for it, so
    that none ends while the first still writes."""
    return settle(processes, lambda: _plotted(result, plots and result.main))


def _plotted(result: Result, plots: bool) -> Result:
    """Draw the figures of a finished (not interrupted) run; a plotting failure is kept in `plot_error`,
    one line, and never costs the run, which is complete on disk by now."""
    if plots and result.status != "interrupted":
        from .viz import plot  # here: matplotlib and pyvista load only when plotting

        try:
            plot(result.solution)
        except KeyboardInterrupt:
            raise KeyboardInterrupt(f"while drawing the figures; the run is complete in {result.run_dir} "
                                    f"(pinnkit plot draws them)") from None
        except Exception as err:  # any failure of the figures: the run stands, the message says what broke
            first = str(err).strip().splitlines()[:1]
            result.plot_error = f"{type(err).__name__}: {first[0] if first else ''}"
    return result
