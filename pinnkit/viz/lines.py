"""Line plots where they are the standard view: profiles of a 1D problem (Burgers' u(x) at a few
times) and the fields along a problem's straight probe lines (the cavity's centre lines), each
prediction against the reference."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..solution import Solution
from .grids import Lattice, RunLike, Sample, bounds, lattice, open_run, sample, space_names, time_name
from .style import PANEL, case_title, coordinate_text, figure, panel_title, pi_ticks, save

PROFILE_TIMES = (0.25, 0.5, 0.75)  # fractions of the time interval


def profiles(run: RunLike, out_dir: Path, n: int = 400, formats: Sequence[str] = ("png",)) -> Optional[Path]:
    """Write `profiles.png` for a run with one spatial coordinate: each field against it, at
    t = 0.25, 0.5, 0.75 of the time interval when unsteady (columns); None for other runs."""
    solution = open_run(run)
    space, time = space_names(solution), time_name(solution)
    if len(space) != 1:
        return None
    box = bounds(solution)
    times = [box[time][0] + f * (box[time][1] - box[time][0]) for f in PROFILE_TIMES] if time else [None]
    panels = [(sample(solution, lattice(solution, space, n, {time: t} if time else None)), solution.fields)
              for t in times]
    return save(line_figure(solution, panels, "profiles"), Path(out_dir) / "profiles.png", formats)


def probe_lines(run: RunLike, out_dir: Path, formats: Sequence[str] = ("png",)) -> Optional[Path]:
    """Write `probes.png`: the fields of each straight, axis-aligned probe line (`problem.probes()`)
    against the coordinate that runs along it; None when the problem has none."""
    solution = open_run(run)
    if not solution.problem.has("probes"):
        return None
    panels = []
    for points, fields in solution.problem.probes().values():
        grid = _line_lattice(solution.coords, np.asarray(points, float))
        if grid is not None:
            panels.append((sample(solution, grid), fields))
    if not panels:
        return None
    return save(line_figure(solution, panels, "probe lines"), Path(out_dir) / "probes.png", formats)


def _line_lattice(coords: Sequence[str], points: np.ndarray) -> Optional[Lattice]:
    """The lattice of probe points along one coordinate, the others constant; None for other shapes."""
    spread = np.ptp(points, axis=0)
    along = int(np.argmax(spread))
    if len(points) < 2 or np.count_nonzero(spread) != 1 or np.any(np.diff(points[:, along]) <= 0):
        return None
    fixed = {c: float(points[0, j]) for j, c in enumerate(coords) if j != along}
    return Lattice(tuple(coords), {coords[along]: points[:, along]}, fixed)


def line_figure(solution: Solution, panels: Sequence[tuple[Sample, Sequence[str]]], what: str,
                limits: Optional[Mapping[str, tuple[float, float]]] = None) -> Figure:
    """One panel per (sample, field): columns are the samples, rows the fields; `limits` fixes the
    value axis per field (e.g. across the frames of an animation)."""
    rows = max(len(fields) for _, fields in panels)
    fig = figure(PANEL[0] * len(panels) + 0.4, PANEL[1] * rows + 0.5)
    axes = fig.subplots(rows, len(panels), squeeze=False)
    for column, (s, fields) in zip(axes.T, panels):
        for ax, field in zip(column, fields):
            _draw(ax, s, field)
            if limits:
                ax.set_ylim(limits[field])
        for ax in column[len(fields):]:
            ax.set_visible(False)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, frameon=False)
    fig.suptitle(f"{case_title(solution)}: {what}")
    return fig


def _draw(ax: Axes, s: Sample, field: str) -> None:
    """The field along the sample's one axis: prediction solid, reference dashed."""
    (name, ticks), = s.lattice.axes.items()
    ax.plot(ticks, s.prediction[field], color="tab:blue", lw=1.8, label="prediction")
    note = None
    if field in s.reference:
        ax.plot(ticks, s.reference[field], color="tab:red", lw=1.4, ls="--", label="reference")
        note = f"rel L2 {s.rel_l2(field):.1e}"
    ax.set(xlabel=name, ylabel=field, title=panel_title(field, coordinate_text(dict(s.lattice.fixed)), note))
    pi_ticks(ax.xaxis, float(ticks[0]), float(ticks[-1]))
    ax.title.set_fontsize("medium")
    ax.grid(True, alpha=0.3)
