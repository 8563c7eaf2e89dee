"""The error of a parametric run at each evaluated combination of its ranged parameters' values: how
well one trained network answers across the range."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from .grids import RunLike, open_run
from ..run import case_name
from .style import figure, save, summary


def parameter_errors(run: RunLike, out_dir: Path, formats: Sequence[str] = ("png",)) -> Optional[Path]:
    """Write `parameters.png`: the relative L2 error of each field against the ranged parameter's value
    (or, with several ranged parameters, against each combination); None for a run with no range."""
    solution = open_run(run)
    ranged = tuple(solution.problem.ranges)
    errors = summary(solution).get("rel_l2", {})
    if not ranged or not errors:
        return None
    labels = list(dict.fromkeys(key.split("@", 1)[1] for key in errors if "@" in key and "=" in key))
    fig = figure(5.5, 3.6)
    ax = fig.add_subplot()
    one = len(ranged) == 1
    x = [float(label.split("=", 1)[1]) for label in labels] if one else np.arange(len(labels))
    for field in solution.fields:
        values = [errors.get(f"{field}@{label}", np.nan) for label in labels]
        ax.plot(x, values, marker="o", label=field)
    ax.set_yscale("log")
    ax.set_xlabel(ranged[0] if one else "parameter values")
    if not one:
        ax.set_xticks(x, labels, rotation=30, ha="right")
    ax.set_ylabel("relative L2 error")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    spans = ", ".join(f"{name} in [{low:.4g}, {high:.4g}]" for name, (low, high) in solution.problem.ranges.items())
    ax.set_title(f"{case_name(solution.config.problem.name)}: error over {spans}", fontsize="medium")
    return save(fig, Path(out_dir) / "parameters.png", formats)
