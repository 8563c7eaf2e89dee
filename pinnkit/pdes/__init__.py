"""The shipped PDE problems by case name, and how a config's `problem.name` finds its class.

`name` is a shipped case (a key of `PROBLEMS`), a file `path/to/file.py:Class`,
or an importable `package.module:Class`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..problem import Problem
from ..usercode import load_class
from .burgers import Burgers
from .cylinder import CylinderFlow
from .navier_stokes import Beltrami, Cavity, Kovasznay, KovasznayInverse, TaylorGreen
from .poisson import PlateWithHoles, Poisson, PoissonLShape, PoissonMultiscale
from .time_dependent import AllenCahn, Advection, KdV, KuramotoSivashinsky, Wave

PROBLEMS: dict[str, type[Problem]] = {
    "burgers": Burgers,
    "poisson": Poisson,
    "poisson_multiscale": PoissonMultiscale,
    "poisson_lshape": PoissonLShape,
    "plate_with_holes": PlateWithHoles,
    "kovasznay": Kovasznay,
    "kovasznay_inverse": KovasznayInverse,
    "cavity": Cavity,
    "cylinder": CylinderFlow,
    "taylor_green": TaylorGreen,
    "beltrami": Beltrami,
    "allen_cahn": AllenCahn,
    "advection": Advection,
    "kdv": KdV,
    "kuramoto_sivashinsky": KuramotoSivashinsky,
    "wave": Wave,
}


def resolve(name: str, source: Optional[Path] = None) -> type[Problem]:
    """The Problem class a config names; ValueError with the valid choices otherwise. `source`: a copy of the
    named file to load instead (the one a run folder keeps)."""
    if ":" not in name:
        if name not in PROBLEMS:
            raise ValueError(f"unknown problem {name!r} (shipped: {', '.join(PROBLEMS)}; "
                             "or 'file.py:Class', 'module:Class')")
        return PROBLEMS[name]
    return load_class(name, Problem, "problem", source)
