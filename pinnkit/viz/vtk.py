"""VTK export through pyvista: a run's fields on a regular spatial grid, for ParaView.

Each grid is a `.vti` image with point arrays `<field>` (prediction), and where the problem has a
reference `<field>_reference` and `<field>_error` (prediction - reference; mean-free fields with both
means removed), NaN outside the domain. A steady run writes `vtk/fields.vti`; an unsteady one a grid
per time level (`vtk/fields_000.vti`, ...) and the collection `vtk/fields.pvd` that ParaView opens as a
time series.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union
from xml.sax.saxutils import quoteattr

import numpy as np
import pyvista as pv

from ..config import ConfigError
from .flow import velocity
from .grids import RunLike, Sample, lattice, open_run, sample, space_names, time_levels, time_name


MAX_POINTS = 2**26  # grid points of one export: with a few fields, about 2 GiB in float64


def image(s: Sample, space: Sequence[str], vector: Sequence[str] = ()) -> pv.ImageData:
    """A sample over the spatial coordinates `space` (1 to 3, its lattice's axes in that order) as image data;
    the fields `vector` (a flow's u, v [, w]) also as one 3-component array `velocity`, which ParaView draws
    as glyphs and streamlines."""
    ticks = [s.lattice.axes[c] for c in space]
    pad = 3 - len(ticks)
    grid = pv.ImageData(dimensions=[len(t) for t in ticks] + [1] * pad,
                        spacing=[t[1] - t[0] if len(t) > 1 else 1.0 for t in ticks] + [1.0] * pad,
                        origin=[t[0] for t in ticks] + [0.0] * pad)
    for field, values in s.prediction.items():
        grid.point_data[field] = values.ravel(order="F")  # VTK's point order: x fastest
    for field, values in s.reference.items():
        grid.point_data[f"{field}_reference"] = values.ravel(order="F")
        grid.point_data[f"{field}_error"] = s.error(field).ravel(order="F")
    if vector:
        columns = [s.prediction[f].ravel(order="F") for f in vector]
        columns += [np.zeros_like(columns[0])] * (3 - len(columns))
        grid.point_data["velocity"] = np.stack(columns, axis=1)
    return grid


def export(run: RunLike, resolution: int = 64, times: int = 11,
           out_dir: Optional[Union[str, Path]] = None, trust_code: bool = False) -> list[Path]:
    """Write the run's fields on a grid of `resolution` points per spatial axis (at `times` time levels
    when unsteady) into `out_dir` (default RUN_DIR/vtk); return the files written, the .pvd last.
    `trust_code`: open a run whose problem is Python code (`pinnkit.load`)."""
    if resolution < 2 or times < 1:
        raise ValueError(f"need resolution >= 2 and times >= 1, got {resolution} and {times}")
    solution = open_run(run, trust_code)
    space, time = space_names(solution), time_name(solution)
    points = resolution ** len(space) * (times if time else 1)
    if points > MAX_POINTS:
        raise ConfigError(f"--resolution {resolution}: {points:,} grid points over {len(space)} axes"
                          f"{f' and {times} times' if time else ''}, more than the {MAX_POINTS:,} an export writes")
    folder = Path(out_dir) if out_dir else solution.path / "vtk"
    folder.mkdir(parents=True, exist_ok=True)
    vector = velocity(solution)
    if time is None:
        path = folder / "fields.vti"
        image(sample(solution, lattice(solution, space, resolution)), space, vector).save(path)
        return [path]
    paths, levels = [], time_levels(solution, times)
    for k, t in enumerate(levels):
        paths.append(folder / f"fields_{k:03d}.vti")
        image(sample(solution, lattice(solution, space, resolution, {time: t})), space, vector).save(paths[-1])
    collection = folder / "fields.pvd"
    collection.write_text(_pvd([p.name for p in paths], levels))
    return paths + [collection]


def _pvd(files: Sequence[str], times: np.ndarray) -> str:
    """A ParaView collection file listing `files` at `times`."""
    entries = "".join(f'    <DataSet timestep="{t!r}" group="" part="0" file={quoteattr(f)}/>\n'
                      for f, t in zip(files, times.tolist()))
    return ('<?xml version="1.0"?>\n<VTKFile type="Collection" version="0.1" byte_order="LittleEndian">\n'
            f"  <Collection>\n{entries}  </Collection>\n</VTKFile>\n")
