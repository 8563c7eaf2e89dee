"""`plot`: every figure that suits a run, written into RUN_DIR/plots."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

from .animate import animate as animate_run
from .fields import field_maps
from .flow import flow_map
from .grids import RunLike, open_run
from .history import history_plot
from .lines import probe_lines, profiles
from .render3d import renders


def plot(run: RunLike, animate: bool = False, out_dir: Optional[Union[str, Path]] = None,
         trust_code: bool = False) -> list[Path]:
    """Write the run's figures into `out_dir` (default RUN_DIR/plots) and return their paths: field maps
    (prediction | reference | error), 1D profiles, probe lines, the flow view, the training history,
    3D slice renders and, with `animate`, a GIF of the first field over time (unsteady runs).
    `trust_code`: open a run whose problem is Python code (`pinnkit.load`)."""
    solution = open_run(run, trust_code)
    folder = Path(out_dir) if out_dir else solution.path / "plots"
    paths = field_maps(solution, folder)
    paths += [profiles(solution, folder), probe_lines(solution, folder), flow_map(solution, folder),
              history_plot(solution, folder)]
    paths += renders(solution, folder)
    if animate:
        paths.append(animate_run(solution, folder))
    return [p for p in paths if p is not None]
