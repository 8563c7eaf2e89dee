"""One case, run wherever an executor puts it: config in, run folder out, results row back.

Every failure comes back as a row (status `invalid` for a bad value, `failed` for any
exception, or the trainer's own `diverged`/`failed`), never as an exception, so the
sweep goes on.
"""
from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch

from ..api import solve
from ..problem import ProblemError
from ..config import Config, ConfigError, load as load_config
from .grid import Case
from .table import row


@dataclass(frozen=True)
class Task:
    """What a worker needs: the sweep's TOML file (absolute), its overrides, the case and its run folder."""

    config: str
    overrides: tuple[str, ...]
    case: Case
    run_dir: str


def case_config(task: Task, device: Optional[str] = None) -> Config:
    """The case's resolved config, without the `[sweep]` section; `device` replaces `auto`/`cuda` when given."""
    cfg = load_config(task.config, task.overrides + tuple(task.case.overrides()))
    pinned = device is not None and cfg.device in ("auto", "cuda")
    return cfg.model_copy(update={"sweep": None, **({"device": device} if pinned else {})})


def run_case(task: Task, device: Optional[str] = None, threads: Optional[int] = None) -> dict[str, Any]:
    """Solve one case into a fresh run folder (removing what an unfinished earlier try left) -> its results row.

    `threads` sets torch's thread count for the calling thread: a case's numbers depend on it, so
    executors that give it alike give the same table.
    """
    start = time.perf_counter()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        cfg = case_config(task, device)
        shutil.rmtree(task.run_dir, ignore_errors=True)
        result = solve(cfg, out=Path(task.run_dir))
        return row(task.case, result.status, result.summary["message"], time.perf_counter() - start,
                   result.summary, cfg)
    except (ConfigError, ProblemError) as err:
        return row(task.case, "invalid", str(err), time.perf_counter() - start)
    except Exception as err:  # any other failure is this case's, not the sweep's
        return row(task.case, "failed", f"{type(err).__name__}: {err}", time.perf_counter() - start)
