"""`solve`: config in, trained run folder out; the Python face of `pinnkit solve`."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence, Union

from .build import build
from .config import Config, load as load_config
from .run import RunWriter, Solution, new_run_dir
from .train import Trainer


@dataclass
class Result:
    """A finished solve: its folder, its summary (as in summary.json) and the trained solution."""

    run_dir: Path
    summary: dict[str, Any]
    solution: Solution

    @property
    def status(self) -> str:
        return self.summary["status"]

    @property
    def rel_l2(self) -> dict[str, float]:
        return self.summary["rel_l2"]


def solve(config: Union[Config, str, Path, dict], overrides: Sequence[str] = (),
          out: Optional[Union[str, Path]] = None, quiet: bool = True) -> Result:
    """Validate and build everything first (nothing is written on bad input), then train and write the run."""
    cfg = config if isinstance(config, Config) else load_config(config, tuple(overrides))
    setup = build(cfg)
    path = new_run_dir(cfg, out)
    writer = RunWriter(path, cfg)
    summary = Trainer(setup, writer, quiet).run()
    summary["run_dir"] = str(path)
    writer.summary(summary)
    return Result(path, summary, Solution(path, cfg, setup.problem, setup.model))
