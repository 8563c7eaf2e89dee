"""results.csv: one row per case, appended (and fsynced) as each case finishes, so a crash loses nothing done.

Columns: the swept keys, seed, status, message, the final loss terms (`loss`, `pde`, ...
as in history.csv), `rel_l2_<field>`, identified (trainable) parameters, `seconds` (wall
time of the case) and `run_dir` (the case's folder, relative to the sweep folder).
The file is the record: a row that brings new columns widens it from what is on disk.
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence

from ..config import Config
from ..run import write_atomic
from .grid import Case, toml_value

HEAD, TAIL = ("seed", "status", "message"), ("seconds", "run_dir")


def row(case: Case, status: str, message: str, seconds: float, summary: Optional[Mapping[str, Any]] = None,
        config: Optional[Config] = None) -> dict[str, Any]:
    """The results row of one case; `summary` and `config` are absent when it failed before training."""
    out: dict[str, Any] = {**case.values, "seed": config.seed if config else case.seed,
                           "status": status, "message": message}
    if summary is not None and config is not None:
        out.update(summary["loss"])
        out.update({f"rel_l2_{f}": e for f, e in summary["rel_l2"].items()})
        out.update({n: summary["parameters"][n] for n, p in config.problem.parameters.items() if p.trainable})
    out.update(seconds=round(seconds, 3), run_dir=case.name)
    return out


def append(path: Path, new: Mapping[str, Any], keys: Sequence[str]) -> None:
    """Append one row to results.csv; new columns rewrite the file (atomically, from disk) with a wider header."""
    cells = {k: _cell(v) for k, v in new.items()}
    columns = _header(path)
    if columns and set(cells) <= set(columns):
        with open(path, "a", newline="") as f:
            csv.DictWriter(f, columns, restval="").writerow(cells)
            f.flush()
            os.fsync(f.fileno())
        return
    rows = _read_cells(path)
    _write(path, _order(columns + [k for k in cells if k not in columns], keys), rows + [cells])


def drop(path: Path, names: Iterable[str], keys: Sequence[str]) -> None:
    """Drop the rows of the cases `names` (they are about to run again), atomically."""
    drop = set(names)
    if path.exists():
        _write(path, _order(_header(path), keys), [r for r in _read_cells(path) if r.get("run_dir") not in drop])


def read(path: Path) -> list[dict[str, Any]]:
    """The rows of results.csv with numbers, booleans and empty cells (None) read back as values."""
    return [{k: _value(v) for k, v in r.items()} for r in _read_cells(path)]


def _header(path: Path) -> list[str]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return next(csv.reader(f), [])


def _read_cells(path: Path) -> list[dict[str, str]]:
    """The whole rows: a row cut short by a crash mid-append (or with cells beyond the header) is left out,
    and the next rewrite (`drop`, at every start of a sweep) removes it from the file."""
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return [r for r in csv.DictReader(f, restval=None) if None not in r.values() and None not in r
                and r.get("run_dir") and r.get("status")]


def _write(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    text = io.StringIO()
    writer = csv.DictWriter(text, columns, restval="")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(path, text.getvalue().encode())


def _order(columns: list[str], keys: Sequence[str]) -> list[str]:
    """Swept keys, seed, status, message, then results in the order first seen, then seconds and run_dir."""
    fixed = set(keys) | set(HEAD) | set(TAIL)
    return ([k for k in keys if k in columns] + [k for k in HEAD if k in columns]
            + [k for k in columns if k not in fixed] + [k for k in TAIL if k in columns])


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (bool, list)):
        return toml_value(value)
    return repr(value) if isinstance(value, float) else str(value)


def _value(text: str) -> Any:
    if text == "":
        return None
    if text in ("true", "false"):
        return text == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
