"""pinnkit: physics-informed neural networks on PyTorch, from a TOML file or from Python."""
from .version import __version__

from .api import Result, resume, solve
from .conditions import Dirichlet, Initial, Neumann, Observation, Periodic
from .config import Config, ConfigError
from .geometry import Box, Interval, Polygon, Rectangle, TimeInterval
from .problem import Problem
from .run import RunError, Solution, load
from .sweeps import plot_sweep, sweep

__all__ = ["__version__", "Box", "Config", "ConfigError", "Dirichlet", "Initial", "Interval", "Neumann", "Observation",
           "Periodic", "Polygon", "Problem", "Rectangle", "Result", "RunError", "Solution", "TimeInterval", "load",
           "plot_sweep", "resume", "solve", "sweep", "export", "plot"]


def __getattr__(name: str):
    """`plot` and `export` (pinnkit.viz) import matplotlib and pyvista on first use, not at `import pinnkit`."""
    if name in ("plot", "export"):
        from . import viz

        return getattr(viz, name)
    raise AttributeError(f"module 'pinnkit' has no attribute {name!r}")
