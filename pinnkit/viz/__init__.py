"""Plots, VTK export and offscreen 3D renders of a run folder; they read run folders, never the trainer.

`plot(run)` writes RUN_DIR/plots/*.png (and a GIF with `animate=True`); `export(run)` writes RUN_DIR/vtk.
"""
from .report import plot
from .style import FORMATS
from .vtk import export

__all__ = ["FORMATS", "export", "plot"]
