"""How the figures look: titles naming the case, colour scales, size and resolution, saving.

Figures are plain `matplotlib.figure.Figure` objects drawn by the Agg canvas: no pyplot, no GUI
backend and no global backend switch, so plotting works with no display and leaves a user's
interactive matplotlib alone.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..metrics import parameter_label
from ..run import case_name
from ..solution import Solution

DPI = 150
FORMATS = ("png", "pdf", "svg")  # the files a figure can be written as; PDF and SVG are vector figures
PANEL = (3.6, 3.0)  # inches per map panel
SEQUENTIAL, DIVERGING, ERROR = "viridis", "RdBu_r", "magma_r"


def figure(width: float, height: float) -> Figure:
    """A figure of that size (inches) on an Agg canvas, laid out by constrained layout."""
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save(fig: Figure, path: Path, formats: Sequence[str] = ("png",)) -> Path:
    """Write the figure as `path` in each of `formats` (its suffix replaced); the first file's path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for fmt in formats:
        fig.savefig(path.with_suffix(f".{fmt}"), dpi=DPI)
    return path.with_suffix(f".{formats[0]}")


def pi_ticks(axis: Axis, low: float, high: float) -> None:
    """Ticks at multiples of pi/2, labelled so, on an axis whose ends are such multiples (a periodic
    domain such as [0, 2 pi]); other axes are left as they are."""
    quarter = np.pi / 2
    ends = np.array([low, high]) / quarter
    if high - low < quarter or not np.allclose(ends, np.round(ends), atol=1e-9):
        return
    step = 1 if high - low <= 2 * np.pi else 2
    ticks = np.arange(round(ends[0]), round(ends[1]) + 1, step)
    axis.set_ticks(ticks * quarter, [_pi_label(k) for k in ticks])


def _pi_label(halves: int) -> str:
    """k pi/2 as text: 0, pi/2, pi, 3pi/2, 2pi, -pi/2 ..."""
    if halves == 0:
        return "0"
    if halves % 2:
        return f"{'-' if halves < 0 else ''}{abs(halves) if abs(halves) != 1 else ''}π/2"
    whole = halves // 2
    return f"{'-' if whole < 0 else ''}{abs(whole) if abs(whole) != 1 else ''}π"


def pixels(fig: Figure, dpi: float = DPI) -> np.ndarray:
    """The figure rendered at `dpi` as an RGB array (H, W, 3), for animation frames."""
    fig.set_dpi(dpi)
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def summary(solution: Solution) -> dict:
    """summary.json, or {} for a run that has none yet."""
    return solution.summary if (solution.path / "summary.json").is_file() else {}


def trainable(solution: Solution) -> list[str]:
    """The names of the parameters the run trained (from its config: a loaded model's are plain tensors)."""
    return [name for name, spec in solution.config.problem.parameters.items() if spec.trainable]


def case_title(solution: Solution) -> str:
    """`burgers (nu = 0.003183)`; a trained parameter shows its true value where known, a ranged one its range."""
    problem, parts = solution.problem, []
    for name, value in problem.parameter_values().items():
        note = f" (true {problem.true[name]:.4g})" if name in problem.true and name in trainable(solution) else ""
        if name in problem.ranges:
            note = " of [{:.4g}, {:.4g}]".format(*problem.ranges[name])
        parts.append(f"{name} = {value:.4g}{note}")
    params = f" ({', '.join(parts)})" if parts else ""
    return f"{case_name(solution.config.problem.name)}{params}"


def rel_l2_note(solution: Solution, field: str) -> str:
    """`rel L2 = 1.2e-03` from the run's summary (the evaluation grid's error; for a parametric problem, the
    one at the default values the maps show), or '' without one."""
    ranged = {name: float(solution.problem.values[name]) for name in solution.problem.ranges}
    key = f"{field}@{parameter_label(ranged)}" if ranged else field
    value = summary(solution).get("rel_l2", {}).get(key)
    return "" if value is None else f"rel L2 = {value:.2e}"


def scale(*arrays: np.ndarray) -> tuple[str, float, float]:
    """One colour map and limits for all `arrays`: diverging about zero when the values take both signs
    (each side at least 5% of the largest magnitude), else sequential over their range."""
    low = min(float(np.nanmin(a)) for a in arrays)
    high = max(float(np.nanmax(a)) for a in arrays)
    big = max(abs(low), abs(high))
    if low < -0.05 * big and high > 0.05 * big:
        return DIVERGING, -big, big
    return SEQUENTIAL, low, high if high > low else low + 1.0


def error_scale(*arrays: np.ndarray) -> tuple[str, float, float]:
    """The sequential map and limits [0, max] of absolute errors."""
    high = max(float(np.nanmax(a)) for a in arrays)
    return ERROR, 0.0, high if high > 0 else 1.0


def coordinate_text(values: dict[str, float]) -> Optional[str]:
    """`t = 0.50, z = 0` for the coordinates a panel holds fixed, or None."""
    return ", ".join(f"{k} = {v:.3g}" for k, v in values.items()) or None


def panel_title(*parts: Optional[str]) -> str:
    """The non-empty parts joined: `prediction, t = 0.5, rel L2 1.2e-02`."""
    return ", ".join(p for p in parts if p)
