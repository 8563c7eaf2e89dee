"""The flow view of a Navier-Stokes run: speed with streamlines, and pressure, on the plane of the maps.

A run is a flow when its fields include the velocity components `u, v` (`w` in 3D) along spatial
coordinates `x, y` (`z`), as every shipped Navier-Stokes case names them. In 3D the plane is the
mid-height x-y plane: its streamlines follow the in-plane velocity and the colour is the full speed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from matplotlib.axes import Axes

from .fields import draw_map, panel_size
from .grids import RunLike, Sample, open_run, planes, sample, space_names
from .style import case_title, coordinate_text, figure, panel_title, pi_ticks, save, scale

VELOCITY, SPACE = ("u", "v", "w"), ("x", "y", "z")


def velocity(run: RunLike) -> tuple[str, ...]:
    """The run's velocity components (`u, v` or `u, v, w`), or () when it is not a flow."""
    solution = open_run(run)
    space = space_names(solution)
    components = VELOCITY[:len(space)]
    flow = len(space) >= 2 and space == SPACE[:len(space)] and set(components) <= set(solution.fields)
    return components if flow else ()


def flow_map(run: RunLike, out_dir: Path, n: int = 150, formats: Sequence[str] = ("png",)) -> Optional[Path]:
    """Write `flow.png`: speed and streamlines (prediction, and reference where the velocity has one),
    then pressure (likewise), a row per time level; None when the run is not a flow."""
    solution = open_run(run)
    components = velocity(solution)
    if not components:
        return None
    samples = [sample(solution, g) for g in planes(solution, n)]
    sources = ["prediction"] + (["reference"] if set(components) <= set(samples[0].reference) else [])
    speeds = [[_speed(getattr(s, src), components) for src in sources] for s in samples]
    pressure = [src for src in ("prediction", "reference") if "p" in getattr(samples[0], src)]
    columns = len(sources) + len(pressure)
    width, height = panel_size(samples[0], equal=True)
    fig = figure(width * columns + 1.6, height * len(samples) + 0.6)
    axes = fig.subplots(len(samples), columns, squeeze=False)
    speed_scale = ("viridis", 0.0, max(float(np.nanmax(v)) for row in speeds for v in row))
    p_scale = scale(*(getattr(s, src)["p"] for s in samples for src in pressure)) if pressure else None
    for row, s, row_speeds in zip(axes, samples, speeds):
        where = coordinate_text(dict(s.lattice.fixed))
        for ax, src, speed in zip(row, sources, row_speeds):
            image = draw_map(ax, s, speed, speed_scale, panel_title("speed", src, where), equal=True)
            _streamlines(ax, s, getattr(s, src), components)
        for ax, src in zip(row[len(sources):], pressure):
            p_image = draw_map(ax, s, getattr(s, src)["p"], p_scale, panel_title("p", src, where), equal=True)
    bars = dict(shrink=0.9, aspect=20 * len(samples))
    fig.colorbar(image, ax=axes[:, :len(sources)].ravel().tolist(), label="speed |velocity|", **bars)
    if pressure:
        fig.colorbar(p_image, ax=axes[:, len(sources):].ravel().tolist(), label="p (mean removed)", **bars)
    fig.suptitle(f"{case_title(solution)}: flow")
    return save(fig, Path(out_dir) / "flow.png", formats)


def _speed(values: dict[str, np.ndarray], components: tuple[str, ...]) -> np.ndarray:
    return np.sqrt(sum(values[c] ** 2 for c in components))


def _streamlines(ax: Axes, s: Sample, values: dict[str, np.ndarray], components: tuple[str, ...]) -> None:
    """Streamlines of the in-plane velocity (the first two components) over the sample's plane."""
    (_, hs), (_, vs) = s.lattice.axes.items()
    u, v = (np.ma.masked_invalid(values[c].T) for c in components[:2])
    ax.streamplot(hs, vs, u, v, color="white", density=1.1, linewidth=0.6, arrowsize=0.7, broken_streamlines=True)
    ax.set(xlim=(hs[0], hs[-1]), ylim=(vs[0], vs[-1]))
    pi_ticks(ax.xaxis, hs[0], hs[-1])
    pi_ticks(ax.yaxis, vs[0], vs[-1])
