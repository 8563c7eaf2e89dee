"""The shipped cases: the TOML files of `problems/`, which travel inside the package as `pinnkit/cases`.

`pinnkit solve burgers` finds `burgers.toml` here from any directory; `pinnkit list` lists them with the
first line of their comment; `pinnkit init burgers my.toml` copies one (and the data file it reads) to edit.
"""
from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path
from typing import Optional, Union

HERE = Path(__file__).resolve().parent
FOLDERS = (HERE / "cases", HERE.parent / "problems")  # an installed package; a source checkout


def folder() -> Optional[Path]:
    """Where the shipped cases are: inside the installed package, or in the source checkout."""
    return next((f for f in FOLDERS if f.is_dir() and any(f.glob("*.toml"))), None)


def names() -> list[str]:
    """Every shipped case, by the name `solve` takes."""
    where = folder()
    return sorted(p.stem for p in where.glob("*.toml")) if where else []


def path(name: str) -> Optional[Path]:
    """The TOML file of the case `name` (a bare name, no suffix or folder), or None."""
    where = folder()
    if where is None or not re.fullmatch(r"[A-Za-z0-9_]+", name):
        return None
    file = where / f"{name}.toml"
    return file if file.is_file() else None


def locate(source: Union[str, Path]) -> Path:
    """A TOML file's path: `source` itself, or the shipped case it names when there is no such file."""
    if not Path(source).exists() and path(str(source)) is not None:
        return path(str(source))
    return Path(source)


def accurate(source: Union[str, Path]) -> Optional[str]:
    """The shipped accurate configuration of the case `source` names or is a file of (`burgers` ->
    `burgers_accurate`), or None: what a solve of a default suggests next."""
    stem = Path(source).stem
    return f"{stem}_accurate" if not stem.endswith("_accurate") and path(f"{stem}_accurate") else None


def description(name: str, width: int = 100) -> str:
    """The first sentence of the case's leading comment, cut to `width` characters."""
    lines = path(name).read_text().splitlines() if path(name) else []
    comment = " ".join(line.lstrip("# ") for line in lines[:next((i for i, line in enumerate(lines)
                                                                   if not line.startswith("#")), len(lines))])
    sentence = re.split(r"\.\s+(?=[A-Z])", comment)[0].rstrip(".")  # "et al. 2019" and "u . grad" go on
    return sentence if len(sentence) <= width else sentence[:width - 3].rsplit(" ", 1)[0] + "..."


def copy(name: str, destination: Path) -> list[Path]:
    """Copy the case to `destination` (a new file), with the data file it names beside it; the files written.
    Refuses (FileExistsError) to overwrite anything."""
    source = path(name)
    if source is None:
        raise KeyError(name)
    data = tomllib.loads(source.read_text()).get("data", {}).get("file")
    files = [(source, destination)]
    if data and not Path(data).is_absolute():
        files.append((source.parent / data, destination.parent / data))
    for _, target in files:
        if target.exists():
            raise FileExistsError(target)
    for origin, target in files:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(origin, target)
    return [target for _, target in files]
