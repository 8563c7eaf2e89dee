"""Animated GIFs of unsteady runs: one field over time, on scales fixed for the whole animation.

1D: the profile against the reference; 2D: the maps of prediction, reference and error; 3D: the
slice renders. Frames are RGB arrays (matplotlib's Agg canvas or pyvista's offscreen screenshot),
joined by Pillow.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from PIL import Image

from .fields import comparison
from ..solution import Solution
from .grids import RunLike, Sample, lattice, open_run, sample, space_names, time_levels, time_name
from .lines import line_figure
from .render3d import slices
from .style import case_title, error_scale, pixels, scale

FRAME_DPI = 110  # frames are smaller than the still PNGs (150 dpi): a GIF holds many


def animate(run: RunLike, out_dir: Path, field: Optional[str] = None, frames: int = 21,
            n: Optional[int] = None) -> Optional[Path]:
    """Write `animation_<field>.gif` (default: the first field) over `frames` time levels, on `n` points
    per axis (default 120, 40 in 3D); None for a steady run."""
    solution = open_run(run)
    space, time = space_names(solution), time_name(solution)
    if time is None:
        return None
    field = field or solution.fields[0]
    if field not in solution.fields:
        raise ValueError(f"no field {field!r} (fields: {', '.join(solution.fields)})")
    n = n or (40 if len(space) == 3 else 120)
    samples = [sample(solution, lattice(solution, space, n, {time: t})) for t in time_levels(solution, frames)]
    path = Path(out_dir) / f"animation_{field}.gif"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_gif(_frames(solution, samples, field), path)
    return path


def _frames(solution: Solution, samples: Sequence[Sample], field: str) -> list[np.ndarray]:
    """One picture per sample (time level), all on the same value axis or colour scales."""
    shown = [s.prediction[field] for s in samples] + [s.reference[field] for s in samples if field in s.reference]
    if len(space_names(solution)) == 1:
        low, high = min(np.nanmin(v) for v in shown), max(np.nanmax(v) for v in shown)
        limits = {field: (low - 0.05 * (high - low), high + 0.05 * (high - low))}
        return [pixels(line_figure(solution, [(s, (field,))], "over time", limits), FRAME_DPI) for s in samples]
    errors = [abs(s.error(field)) for s in samples if field in s.reference]
    colours = (scale(*shown), error_scale(*errors) if errors else None)
    if len(space_names(solution)) == 2:
        return [pixels(comparison(solution, [s], field, colours), FRAME_DPI) for s in samples]
    return [slices(s, field, f"{case_title(solution)}: {field}", colours) for s in samples]


def write_gif(pictures: Sequence[np.ndarray], path: Path, seconds_per_frame: float = 0.2) -> None:
    """Join RGB frames (H, W, 3) of one size into a looping GIF."""
    images = [Image.fromarray(p) for p in pictures]
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 * seconds_per_frame), loop=0)
