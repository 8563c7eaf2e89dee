"""`plot`: every figure that suits a run, written into RUN_DIR/plots."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union

from .animate import animate as animate_run
from .fields import field_maps
from .flow import flow_map
from .grids import RunLike, open_run
from .history import history_plot
from .lines import probe_lines, profiles
from .parameters import parameter_errors
from .render3d import renders
from .style import FORMATS


def plot(run: RunLike, animate: bool = False, out_dir: Optional[Union[str, Path]] = None,
         trust_code: bool = False, formats: Sequence[str] = ("png",)) -> list[Path]:
    """Write the run's figures into `out_dir` (default RUN_DIR/plots) and return their paths: field maps
    (prediction | reference | error), 1D profiles, probe lines, the flow view, the training history, the
    error over a parametric run's range,
    3D slice renders and, with `animate`, a GIF of the first field over time (unsteady runs).
    `formats`: the files each figure is written as, of "png", "pdf", "svg" (vector figures for papers; the
    3D renders and the GIF stay images). `trust_code`: open a run whose problem is Python code."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"formats: {unknown[0] if unknown else 'none given'}; valid: {', '.join(FORMATS)}")
    solution = open_run(run, trust_code)
    folder = Path(out_dir) if out_dir else solution.path / "plots"
    figures = field_maps(solution, folder, formats=formats)
    figures += [profiles(solution, folder, formats=formats), probe_lines(solution, folder, formats=formats),
                flow_map(solution, folder, formats=formats), history_plot(solution, folder, formats=formats),
                parameter_errors(solution, folder, formats=formats)]
    paths = [p.with_suffix(f".{fmt}") for p in figures if p is not None for fmt in formats]
    paths += renders(solution, folder)
    if animate:
        paths.append(animate_run(solution, folder))
    return paths
