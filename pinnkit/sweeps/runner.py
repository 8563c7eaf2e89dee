"""`sweep`: many solves of one config, each case an ordinary run folder, one results table; re-running resumes."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

from .. import catalog
from ..config import Config, ConfigError, SweepSection, first_difference, load as load_config
from ..run import write_atomic
from . import table
from .executors import make_executor
from .grid import expand
from .progress import Progress
from .worker import Task, case_config, run_case


def sweep(config: Union[str, Path], grid: Optional[Mapping[str, Sequence[Any]]] = None,
          cases: Optional[Sequence[Mapping[str, Any]]] = None, seeds: Optional[Sequence[int]] = None, *,
          out: Union[str, Path], workers: int = 1, overrides: Sequence[str] = (), client: Any = None,
          scheduler: Optional[str] = None, executor: Optional[str] = None, force: bool = False,
          quiet: bool = False) -> list[dict[str, Any]]:
    """Run every case of a sweep (explicit `cases` zipped, times the `grid` product, times `seeds`; any left out
    come from the config's `[sweep]` section) into `out/<case>/`, and return results.csv's rows for them.

    `overrides` apply to every case. Cases that completed before with the same config are skipped
    unless `force`. Executors: `local` processes (`workers` of them) unless a Dask `client` or
    `scheduler` address is given (or `executor="dask"`: a LocalCluster of `workers` processes).
    """
    path = catalog.locate(config).resolve()
    spec = load_config(path, tuple(overrides)).sweep or SweepSection()
    todo = expand(spec.grid if grid is None else grid, spec.cases if cases is None else cases,
                  spec.seeds if seeds is None else seeds)
    runner = make_executor(executor, workers, client, scheduler)
    folder = Path(out).resolve()
    keys = list(dict.fromkeys(k for case in todo for k in case.values))
    tasks = [Task(str(path), tuple(overrides), case, str(folder / case.name)) for case in todo]
    results = folder / "results.csv"
    restored, invalid, left = _plan(tasks, results, force)  # before anything is written: it may refuse
    _describe(folder, {"config": str(path), "overrides": list(overrides), "keys": keys,
                       "cases": [c.name for c in todo]})
    table.drop(results, [t.case.name for t in tasks if t.case.name not in restored], keys)
    for new in filter(None, restored.values()):
        table.append(results, new, keys)
    progress = Progress(len(tasks), len(restored), quiet)
    for new in invalid:
        table.append(results, new, keys)
        progress.update(new["status"], timed=False)
    for task, outcome in (runner.run(run_case, left) if left else ()):
        new = _as_row(task, outcome)
        table.append(results, new, keys)  # on disk as soon as the case is done
        progress.update(new["status"])
    rows = {r["run_dir"]: r for r in table.read(results)}
    return [rows[t.case.name] for t in tasks]


def _describe(folder: Path, spec: dict) -> None:
    """sweep.json: what this sweep runs (config, overrides, swept keys, case names), for readers such as the plot."""
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / "sweep.json", (json.dumps(spec, indent=2) + "\n").encode())


def _as_row(task: Task, outcome: Any) -> dict[str, Any]:
    """A worker's row, or a `failed` row for a case the executor could not run (a worker that died)."""
    if isinstance(outcome, dict):
        return outcome
    return table.row(task.case, "failed", f"executor: {type(outcome).__name__}: {outcome}", math.nan)


def _plan(tasks: list[Task], results: Path, force: bool) -> tuple[dict[str, Optional[dict]], list[dict], list[Task]]:
    """Sort the cases: completed before with the same config (name -> its row if results.csv lacks it, else
    None), invalid as given (their rows, found here at once), and those left to run."""
    have = {r["run_dir"] for r in table.read(results) if r.get("status") == "completed"}
    finished: dict[str, Optional[dict]] = {}
    invalid, left = [], []
    for task in tasks:
        try:
            now = case_config(task)
        except ConfigError as err:
            invalid.append(table.row(task.case, "invalid", str(err), 0.0))
            continue
        done = None if force else _completed(task, now)
        if done is None:
            left.append(task)
        else:
            summary, cfg = done
            finished[task.case.name] = None if task.case.name in have else table.row(
                task.case, "completed", summary["message"], summary["seconds"], summary, cfg)
    return finished, invalid, left


def _completed(task: Task, now: Config) -> Optional[tuple[dict, Config]]:
    """(summary, config) of the case's run folder if it completed with the config `now`; None if it did not
    complete. A case that completed with another config is refused: rerunning it would delete that run."""
    folder = Path(task.run_dir)
    try:
        summary = json.loads((folder / "summary.json").read_text())
        ran = load_config(folder / "config.toml")
    except (OSError, ValueError):  # no folder yet, or half-written files
        return None
    if not isinstance(summary, dict) or summary.get("status") != "completed":
        return None
    then, wanted = ran.model_dump(exclude={"device", "sweep"}), now.model_dump(exclude={"device", "sweep"})
    if then != wanted:
        raise ConfigError(f"sweep {folder}: completed with another config ({first_difference(wanted, then)}); "
                          f"use a new --out, or --force to run the case again and replace that run")
    return summary, ran
