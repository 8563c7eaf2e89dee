"""pinnkit: physics-informed neural networks on PyTorch, from a TOML file or from Python."""
__version__ = "0.1.0"

from .api import Result, solve
from .conditions import Dirichlet, Initial, Neumann, Observation, Periodic
from .config import Config, ConfigError
from .geometry import Box, Interval, Polygon, Rectangle, TimeInterval
from .problem import Problem
from .run import Solution, load
from .sweeps import plot_sweep, sweep

__all__ = ["Box", "Config", "ConfigError", "Dirichlet", "Initial", "Interval", "Neumann", "Observation",
           "Periodic", "Polygon", "Problem", "Rectangle", "Result", "Solution", "TimeInterval", "load", "plot_sweep",
           "solve", "sweep"]
