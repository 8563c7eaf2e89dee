"""The training history of a run (history.csv) against the global iteration: every loss term and the
total on a log scale, the relative L2 errors where there is a reference, and the trajectories of
trainable parameters (with their true values where known); phase boundaries marked on each panel."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Optional

import numpy as np
from matplotlib.axes import Axes

from .grids import RunLike, open_run
from .style import case_title, figure, save, trainable

BOOKKEEPING = ("phase", "optimizer", "iteration", "step", "evaluations", "time")


def read_history(path: Path) -> dict[str, np.ndarray]:
    """history.csv as columns: `optimizer` as strings, the rest as floats (NaN where a row left it empty)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    columns = list(rows[0]) if rows else []
    return {c: np.array([r[c] for r in rows]) if c == "optimizer" else
            np.array([float(r[c]) if r[c] not in ("", None) else np.nan for r in rows]) for c in columns}


def history_plot(run: RunLike, out_dir: Path) -> Optional[Path]:
    """Write `history.png`; None when the run has no history rows yet."""
    solution = open_run(run)
    path = solution.path / "history.csv"
    history = read_history(path) if path.is_file() else {}
    if not history or not len(history["step"]):
        return None
    parameters = [p for p in trainable(solution) if p in history]
    errors = [c for c in history if c.startswith("rel_l2_")]
    losses = [c for c in history if c not in BOOKKEEPING and c not in errors and c not in parameters]
    panels = [("loss", losses, True)] + ([("relative L2 error", errors, True)] if errors else []) \
        + [(p, [p], False) for p in parameters]
    fig = figure(7.5, 2.4 * len(panels) + 0.6)
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (label, columns, log) in zip(axes, panels):
        for c in columns:
            total = c == "loss"
            ax.plot(history["step"], history[c], label="total" if total else c.removeprefix("rel_l2_"),
                    lw=2.0 if total else 1.2, color="black" if total else None, zorder=3 if total else 2)
        if label in solution.problem.true:
            ax.axhline(solution.problem.true[label], color="tab:red", ls="--", lw=1, label="true value")
        ax.set(ylabel=label, yscale="log" if log else "linear")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize="small", loc="best", ncols=2 if len(columns) > 4 else 1)
        _phases(ax, history)
    axes[-1].set_xlabel("iteration (all phases)")
    fig.suptitle(f"{case_title(solution)}: training history")
    return save(fig, Path(out_dir) / "history.png")


def _phases(ax: Axes, history: dict[str, np.ndarray]) -> None:
    """A dotted line where each phase starts, labelled with its optimizer along the top of the panel."""
    starts = np.flatnonzero(np.diff(history["phase"], prepend=np.nan) != 0)
    for i in starts:
        if i:
            ax.axvline(history["step"][i], color="grey", ls=":", lw=1)
        ax.annotate(history["optimizer"][i], (history["step"][i], 1), xycoords=("data", "axes fraction"),
                    xytext=(3, -3), textcoords="offset points", va="top", fontsize="small", color="grey",
                    bbox=dict(facecolor="white", edgecolor="none", alpha=0.8, pad=1))
