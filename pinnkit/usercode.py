"""Classes a config names by `path/to/file.py:Class` or `package.module:Class`: a user's problem or network.

Importing them runs the user's code, so every failure (a missing file, a syntax error, an exception or a
`sys.exit` at import, a name that is not a subclass of what is wanted) is one ValueError line naming it.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional


def source_file(name: str) -> Optional[Path]:
    """The Python file a `path/to/file.py:Class` name points to (None for other names)."""
    where = name.rsplit(":", 1)[0] if ":" in name else ""
    return Path(where) if where.endswith(".py") else None


def load_class(name: str, base: type, what: str, source: Optional[Path] = None) -> type:
    """The subclass of `base` that `name` ("file.py:Class" or "module:Class") points to; `source`: a copy of
    the named file to import instead (the one a run folder keeps). `what` names it in messages."""
    where, cls_name = name.rsplit(":", 1)
    where = str(source) if source is not None else where
    module = _load_file(where, what) if where.endswith(".py") else _import(where)
    cls = getattr(module, cls_name, None)
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ValueError(f"{where} has no {base.__name__} subclass named {cls_name!r}")
    return cls


def name_of(cls: type) -> Optional[str]:
    """`path/to/file.py:Class` for a class defined at the top of a Python file; None for one defined
    interactively (a notebook cell, the interpreter), whose source cannot be kept or imported again."""
    module = sys.modules.get(cls.__module__)
    file = _defining_file(cls)
    if file is None or not Path(file).is_file() or "<" in cls.__qualname__ or (
            cls.__module__ == "__main__" and not getattr(module, "__file__", None)):
        return None
    return f"{Path(file).resolve()}:{cls.__qualname__}"


def _defining_file(cls: type) -> Optional[str]:
    """The file a class was defined in: its module's, or that of a function defined in its body (a module
    loaded from a path need not be in sys.modules)."""
    try:
        return inspect.getsourcefile(cls)
    except (TypeError, OSError):
        pass
    codes = [value.__code__ for value in vars(cls).values() if hasattr(value, "__code__")]
    return codes[0].co_filename if codes else None


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


def _load_file(path: str, what: str):
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"{what} file {path} does not exist")
    spec = importlib.util.spec_from_file_location(f"pinnkit_user_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as err:  # a user's file: its error (or its exit) in one line
        raise ValueError(f"error importing {path}: {type(err).__name__}: {err}") from None
    return module


@dataclass(frozen=True)
class Code:
    """The user code of a solve besides its config: classes given from Python, or the copies of the named
    files that a run folder keeps (imported instead of the originals, which may have moved or changed)."""

    problem: Optional[type] = None  # a Problem subclass given from Python
    network: Any = None  # a torch.nn.Module given from Python (trained in place)
    problem_file: Optional[Path] = None
    network_file: Optional[Path] = None
