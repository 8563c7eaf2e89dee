"""pinnkit's version (the one source: pyproject.toml reads it), and the versions a run records."""
from __future__ import annotations

import platform

__version__ = "0.1.0"


def versions() -> dict[str, str]:
    """pinnkit's and its numerical dependencies' versions, as a run's summary records them."""
    import numpy
    import scipy
    import torch

    return {"pinnkit": __version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "scipy": scipy.__version__, "python": platform.python_version()}
