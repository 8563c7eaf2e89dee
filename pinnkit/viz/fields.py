"""Maps of each field over a plane of the domain: prediction, reference and absolute error side by side.

One PNG per field; unsteady runs get a row per time level. Prediction and reference share one colour
scale across the figure, and the error has its own sequential scale, so rows and panels compare
at a glance.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..solution import Solution
from .grids import RunLike, Sample, open_run, planes, sample, space_names
from .style import (PANEL, case_title, coordinate_text, error_scale, figure, panel_title, pi_ticks, rel_l2_note,
                    save, scale)

Scale = tuple[str, float, float]


def field_maps(run: RunLike, out_dir: Path, n: int = 200, formats: Sequence[str] = ("png",)) -> list[Path]:
    """Write `field_<name>.png` per field into out_dir (none for a 1D steady run); return the paths."""
    solution = open_run(run)
    samples = [sample(solution, g) for g in planes(solution, n)]
    if not samples:
        return []
    return [save(comparison(solution, samples, f), Path(out_dir) / f"field_{f}.png", formats) for f in solution.fields]


def comparison(solution: Solution, samples: Sequence[Sample], field: str,
               scales: Optional[tuple[Scale, Optional[Scale]]] = None) -> Figure:
    """Rows of samples (time levels), columns prediction | reference | |error| where there is a reference.
    `scales` (field, error) fixes the colour scales, e.g. across the frames of an animation."""
    has_ref = field in samples[0].reference
    if scales is None:
        shown = [s.prediction[field] for s in samples] + [s.reference[field] for s in samples if has_ref]
        scales = scale(*shown), error_scale(*(abs(s.error(field)) for s in samples)) if has_ref else None
    equal = set(samples[0].lattice.axes) <= set(space_names(solution))
    width, height = panel_size(samples[0], equal)
    fig = figure(width * (3 if has_ref else 1) + 1.2, height * len(samples) + 0.6)
    axes = fig.subplots(len(samples), 3 if has_ref else 1, squeeze=False)
    for row, s in zip(axes, samples):
        images = _row(row, s, field, scales, equal, len(samples) > 1)
    bars = dict(shrink=0.9, aspect=20 * len(samples))
    fig.colorbar(images[0], ax=axes[:, :2 if has_ref else 1].ravel().tolist(), label=field, **bars)
    if has_ref:
        fig.colorbar(images[-1], ax=axes[:, 2].tolist(), label=f"|{field} - reference|", **bars)
    mean_free = " (mean removed)" if field in solution.problem.mean_free else ""
    fig.suptitle(panel_title(f"{case_title(solution)}: {field}{mean_free}", rel_l2_note(solution, field)))
    return fig


def _row(row: Sequence[Axes], s: Sample, field: str, scales: tuple[Scale, Optional[Scale]], equal: bool,
         slice_error: bool) -> list:
    """One sample's panels; `slice_error`: note this sample's own rel L2 error. Returns the images drawn."""
    where = coordinate_text(dict(s.lattice.fixed))
    if field not in s.reference:
        return [draw_map(row[0], s, s.prediction[field], scales[0], panel_title("prediction (no reference)", where),
                         equal)]
    note = f"rel L2 {s.rel_l2(field):.1e}" if slice_error else None
    return [draw_map(row[0], s, s.prediction[field], scales[0], panel_title("prediction", where), equal),
            draw_map(row[1], s, s.reference[field], scales[0], panel_title("reference", where), equal),
            draw_map(row[2], s, abs(s.error(field)), scales[1], panel_title("|error|", where, note), equal)]


def panel_size(s: Sample, equal: bool) -> tuple[float, float]:
    """Inches of one map panel: the plane's aspect ratio when both axes are lengths (`equal`), else standard."""
    (_, hs), (_, vs) = s.lattice.axes.items()
    if not equal:
        return PANEL
    ratio = np.clip(np.ptp(vs) / np.ptp(hs), 0.4, 2.5)
    return (PANEL[0], PANEL[0] * ratio * 0.9) if ratio <= 1 else (PANEL[1] / ratio + 0.6, PANEL[1])


def draw_map(ax: Axes, s: Sample, values: np.ndarray, colours: Scale, title: str, equal: bool):
    """Draw one field over the sample's plane (first lattice axis across, second up; `equal`: same length
    scale on both); return the image."""
    (h, hs), (v, vs) = s.lattice.axes.items()
    cmap, low, high = colours
    image = ax.imshow(values.T, origin="lower", extent=(hs[0], hs[-1], vs[0], vs[-1]), cmap=cmap, vmin=low,
                      vmax=high, interpolation="nearest", aspect="equal" if equal else "auto")
    ax.set(xlabel=h, ylabel=v, title=title)
    pi_ticks(ax.xaxis, hs[0], hs[-1])
    pi_ticks(ax.yaxis, vs[0], vs[-1])
    ax.title.set_fontsize("medium")
    return image
