"""The training history of a run (history.csv) against the global iteration: every loss term and the
total on a log scale, the relative L2 errors where there is a reference, and the trajectories of
trainable parameters (with their true values where known) and of quantities of interest (with their
references); phase boundaries marked on each panel."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import LogFormatterSciNotation

from ..solution import Solution
from .grids import RunLike, open_run
from .style import case_title, figure, save, summary, trainable

BOOKKEEPING = ("phase", "optimizer", "iteration", "step", "evaluations", "time", "lr")


def read_history(path: Path) -> dict[str, np.ndarray]:
    """history.csv as columns: `optimizer` as strings, the rest as floats (NaN where a row left it empty)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    columns = list(rows[0]) if rows else []
    return {c: np.array([r[c] for r in rows]) if c == "optimizer" else
            np.array([float(r[c]) if r[c] not in ("", None) else np.nan for r in rows]) for c in columns}


def history_plot(run: RunLike, out_dir: Path, formats: Sequence[str] = ("png",)) -> Optional[Path]:
    """Write `history.png`; None when the run has no history rows yet."""
    solution = open_run(run)
    path = solution.path / "history.csv"
    history = read_history(path) if path.is_file() else {}
    if not history or not len(history["step"]):
        return None
    parameters = [p for p in trainable(solution) if p in history]
    errors = [c for c in history if c.startswith("rel_l2_")]
    quantities = [c for c in history if c.startswith("q_")]
    losses = [c for c in history if c not in BOOKKEEPING and c not in errors and c not in parameters
              and c not in quantities]
    lr = history.get("lr", np.array([np.nan]))
    rates = ["lr"] if np.isfinite(lr).any() and np.nanmax(lr) > np.nanmin(lr) else []  # a schedule, not a constant
    panels = [("loss", losses, True)] + ([("relative L2 error", errors, True)] if errors else []) \
        + ([("learning rate", rates, True)] if rates else []) + [(p, [p], False) for p in parameters] \
        + [(q.removeprefix("q_"), [q], False) for q in quantities]
    references = {name: q.get("reference") for name, q in summary(solution).get("quantities", {}).items()}
    fig = figure(7.5, 2.4 * len(panels) + 0.8)
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (label, columns, log) in zip(axes, panels):
        for c in columns:
            total = c == "loss"
            ax.plot(history["step"], history[c], label=_label(solution, c), lw=2.0 if total else 1.2,
                    color="black" if total else None, zorder=3 if total else 2)
        if label in solution.problem.true:
            ax.axhline(solution.problem.true[label], color="tab:red", ls="--", lw=1, label="true value")
        if f"q_{label}" in columns and references.get(label) is not None:
            ax.axhline(references[label], color="tab:red", ls="--", lw=1, label="reference")
        ax.set(ylabel=label, yscale="log" if log else "linear")
        if log:
            _decades(ax)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize="small", loc="upper right", ncols=2 if len(columns) > 4 else 1,
                  title="terms: unweighted mean squares" if label == "loss" and len(columns) > 1 else None,
                  title_fontsize="x-small")
        _phase_lines(ax, history)
    _phase_names(axes[0], history)
    axes[-1].set_xlabel("iteration (all phases)")
    fig.suptitle(f"{case_title(solution)}: training history")
    return save(fig, Path(out_dir) / "history.png", formats)


def _label(solution: Solution, column: str) -> str:
    """A legend entry: the total as a weighted sum, a term with its weight where it is not 1."""
    if column == "loss":
        return "total (weighted sum)"
    weight = solution.config.loss.weights.get(column, 1.0)
    return column.removeprefix("rel_l2_") + (f" (weight {weight:g})" if weight != 1.0 else "")


def _decades(ax: Axes) -> None:
    """Label some intermediate ticks when the axis spans under three decades, so a log axis never shows
    one label only."""
    low, high = ax.get_ylim()
    if low > 0 and high / low < 1e3:
        ax.yaxis.set_minor_formatter(LogFormatterSciNotation(labelOnlyBase=False, minor_thresholds=(3, 0.5)))


def _phase_lines(ax: Axes, history: dict[str, np.ndarray]) -> None:
    """A dotted line where each phase after the first starts."""
    for i in _starts(history)[1:]:
        ax.axvline(history["step"][i], color="grey", ls=":", lw=1)


def _phase_names(ax: Axes, history: dict[str, np.ndarray]) -> None:
    """Each phase's optimizer above the top panel, where no curve runs."""
    for i in _starts(history):
        ax.annotate(history["optimizer"][i], (history["step"][i], 1), xycoords=("data", "axes fraction"),
                    xytext=(2, 2), textcoords="offset points", va="bottom", fontsize="small", color="grey")


def _starts(history: dict[str, np.ndarray]) -> np.ndarray:
    return np.flatnonzero(np.diff(history["phase"], prepend=np.nan) != 0)
