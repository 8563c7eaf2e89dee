"""The shipped PDE problems by case name, and how a config's `problem.name` finds its class.

`name` is a shipped case (a key of `PROBLEMS`), a file `path/to/file.py:Class`,
or an importable `package.module:Class`.
"""
from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Optional

from ..problem import Problem
from .burgers import Burgers
from .navier_stokes import Beltrami, Cavity, Kovasznay, KovasznayInverse, TaylorGreen
from .poisson import Poisson, PoissonLShape, PoissonMultiscale

PROBLEMS: dict[str, type[Problem]] = {
    "burgers": Burgers,
    "poisson": Poisson,
    "poisson_multiscale": PoissonMultiscale,
    "poisson_lshape": PoissonLShape,
    "kovasznay": Kovasznay,
    "kovasznay_inverse": KovasznayInverse,
    "cavity": Cavity,
    "taylor_green": TaylorGreen,
    "beltrami": Beltrami,
}


def source_file(name: str) -> Optional[Path]:
    """The Python file a `path/to/file.py:Class` name points to (None for shipped cases and modules)."""
    where = name.rsplit(":", 1)[0] if ":" in name else ""
    return Path(where) if where.endswith(".py") else None


def resolve(name: str, source: Optional[Path] = None) -> type[Problem]:
    """The Problem class a config names; ValueError with the valid choices otherwise. `source`: a copy of the
    named file to load instead (the one a run folder keeps)."""
    if ":" not in name:
        if name not in PROBLEMS:
            raise ValueError(f"unknown problem {name!r} (shipped: {', '.join(PROBLEMS)}; "
                             "or 'file.py:Class', 'module:Class')")
        return PROBLEMS[name]
    where, cls_name = name.rsplit(":", 1)
    where = str(source) if source is not None else where
    module = _load_file(where) if where.endswith(".py") else _import(where)
    cls = getattr(module, cls_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Problem)):
        raise ValueError(f"{where} has no Problem subclass named {cls_name!r}")
    return cls


def _import(module: str):
    if not all(part.isidentifier() for part in module.split(".")):
        raise ValueError(f"{module!r} is not an absolute module name (e.g. 'mypackage.pdes:Heat', or a file "
                         f"'path/to/pdes.py:Heat')")
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ValueError(f"cannot import module {module!r}: {err}") from None
    except (Exception, SystemExit) as err:  # a user's module: its error (or its exit) in one line
        raise ValueError(f"error importing module {module!r}: {type(err).__name__}: {err}") from None


def _load_file(path: str):
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"problem file {path} does not exist")
    spec = importlib.util.spec_from_file_location(f"pinnkit_user_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as err:  # a user's file: its error (or its exit) in one line
        raise ValueError(f"error importing {path}: {type(err).__name__}: {err}") from None
    return module
