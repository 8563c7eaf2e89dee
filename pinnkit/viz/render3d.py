"""Offscreen pyvista renders of 3D runs: three orthogonal slices through the middle of the box,
the prediction beside its absolute error. Every plotter is created with `off_screen=True`, which
the VTK wheel renders without an X server (EGL or OSMesa)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import pyvista as pv

from .grids import RunLike, Sample, bounds, lattice, open_run, sample, space_names, time_name
from .style import case_title, coordinate_text, error_scale, panel_title, rel_l2_note, scale
from .vtk import image

WINDOW = (1400, 620)  # pixels: two views side by side


def renders(run: RunLike, out_dir: Path, n: int = 48) -> list[Path]:
    """Write `render_<field>.png` per field of a 3D run, at its final time when unsteady; [] otherwise."""
    solution = open_run(run)
    space, time = space_names(solution), time_name(solution)
    if len(space) != 3:
        return []
    s = sample(solution, lattice(solution, space, n, {time: bounds(solution)[time][1]} if time else None))
    paths = []
    for field in solution.fields:
        paths.append(Path(out_dir) / f"render_{field}.png")
        slices(s, field, panel_title(f"{case_title(solution)}: {field}", rel_l2_note(solution, field)), path=paths[-1])
    return paths


def slices(s: Sample, field: str, title: str, colours: Optional[tuple] = None,
           path: Optional[Path] = None) -> np.ndarray:
    """Render the sample's field on three mid-plane slices (and its absolute error beside it, where there is
    a reference); `colours` (field scale, error scale) fixes the colour scales. Returns the RGB image (H, W, 3)."""
    grid = image(s, tuple(s.lattice.axes))
    views = [(field, field, panel_title(title, coordinate_text(dict(s.lattice.fixed))))]
    if field in s.reference:
        grid.point_data["abs_error"] = np.abs(grid.point_data[f"{field}_error"])
        views.append(("abs_error", "abs. error", f"absolute error of {field} (prediction - reference)"))
    if colours is None:
        colours = (scale(s.prediction[field]), error_scale(grid.point_data["abs_error"]) if len(views) > 1 else None)
    with pv.vtk_verbosity("error"):  # VTK warns when it finds no X server before it renders with EGL instead
        size = (WINDOW[0] * len(views) // 2, WINDOW[1])
        plotter = pv.Plotter(off_screen=True, shape=(1, len(views)), window_size=size)
        for k, (view, colour) in enumerate(zip(views, colours)):
            plotter.subplot(0, k)
            _view(plotter, grid, view, colour, tuple(s.lattice.axes))
        picture = plotter.screenshot(None if path is None else str(path), return_img=True)
        plotter.close()
    return picture


def _view(plotter: pv.Plotter, grid: pv.ImageData, view: tuple[str, str, str], colours: tuple,
          axes: tuple[str, ...]) -> None:
    """One view: the slices coloured by an array (`view`: array, colour bar title, caption), the box, and
    axes named after the coordinates."""
    array, bar, caption = view
    cmap, low, high = colours
    plotter.add_mesh(grid.slice_orthogonal(), scalars=array, cmap=cmap, clim=(low, high), lighting=False,
                     scalar_bar_args=dict(title=bar, vertical=True, position_x=0.86, position_y=0.15, height=0.7,
                                          width=0.06))
    plotter.add_mesh(grid.outline(), color="black")
    plotter.show_grid(xtitle=axes[0], ytitle=axes[1], ztitle=axes[2], font_size=9)
    plotter.add_text(caption, font_size=10)
    plotter.camera_position = "iso"
