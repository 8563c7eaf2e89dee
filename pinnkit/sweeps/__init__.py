"""Parameter sweeps: cases (grid, zip, seeds), executors (local processes, Dask), the results table and its plot."""
from .executors import EXECUTORS
from .grid import Case, expand, parse_grid
from .plot import plot_sweep
from .runner import sweep
from .table import read as read_results

__all__ = ["EXECUTORS", "Case", "expand", "parse_grid", "plot_sweep", "read_results", "sweep"]
