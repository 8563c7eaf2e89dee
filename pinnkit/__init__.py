"""pinnkit: physics-informed neural networks on PyTorch, from a TOML file or from Python.

The public names load on first use (PEP 562), so `import pinnkit` is quick and `python -m pinnkit`
can answer a Ctrl-C that lands while torch is still importing with one line.
"""
from importlib import import_module
from typing import Any

from .version import __version__

EXPORTS = {  # public name -> the module that defines it
    "Result": "api", "resume": "api", "solve": "api",
    "Dirichlet": "conditions", "Initial": "conditions", "Neumann": "conditions", "Observation": "conditions",
    "Operator": "conditions", "Outflow": "conditions", "Periodic": "conditions", "Robin": "conditions",
    "Config": "config", "ConfigError": "config",
    "Annulus": "geometry", "Ball": "geometry", "Box": "geometry", "Coons": "geometry", "Difference": "geometry",
    "Disk": "geometry", "DistanceFunction": "geometry", "Intersection": "geometry", "Interval": "geometry",
    "Polygon": "geometry", "Rectangle": "geometry", "TimeInterval": "geometry", "Union": "geometry",
    "Problem": "problem", "ProblemError": "problem",
    "BoundaryIntegral": "quantities", "Derived": "quantities", "LineRoot": "quantities", "PointValue": "quantities",
    "Quantity": "quantities",
    "RunError": "run", "Solution": "solution", "load": "run",
    "plot_sweep": "sweeps", "sweep": "sweeps",
    "export": "viz", "plot": "viz",
}

__all__ = ["__version__", *EXPORTS]


def __getattr__(name: str) -> Any:
    """A public name from its module, or a submodule (`pinnkit.config`), imported on first use."""
    if name in EXPORTS:
        value = getattr(import_module(f".{EXPORTS[name]}", __name__), name)
    else:
        try:
            value = import_module(f".{name}", __name__)
        except ModuleNotFoundError:
            raise AttributeError(f"module 'pinnkit' has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
