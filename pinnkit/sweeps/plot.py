"""A metric of a sweep against one swept key: one line per combination of the other swept values,
the mean over seeds as the line and their range (min to max) as error bars."""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

import numpy as np

from ..config import ConfigError
from .grid import labels_for
from .table import read

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def plot_sweep(sweep_dir: Union[str, Path], x: str, y: str, out: Optional[Union[str, Path]] = None) -> Path:
    """Draw column `y` of results.csv (completed cases) against swept key `x`; write a PNG (default
    `<sweep_dir>/plots/<y>_vs_<x>.png`) and return its path."""
    folder = Path(sweep_dir)
    path = Path(out) if out else None
    if path is not None and path.suffix.lower() not in SUFFIXES:
        raise ConfigError(f"--out {path}: a plot is written as {', '.join(SUFFIXES)}, not {path.suffix or 'no suffix'}")
    spec = _spec(folder)
    names = set(spec["cases"])
    rows = [r for r in read(folder / "results.csv") if r["run_dir"] in names]
    columns = list(dict.fromkeys(k for r in rows for k in r))
    for flag, name in (("--x", x), ("--y", y)):
        if name not in columns:
            raise ConfigError(f"{flag} {name}: no such column (columns: {', '.join(columns)})")
    rows = [r for r in rows if r["status"] == "completed" and r.get(y) is not None and r.get(x) is not None]
    if not rows:
        raise ConfigError(f"{folder}: no completed case has both {x} and {y}")
    text = sorted({str(r[y]) for r in rows if not isinstance(r[y], (int, float)) or isinstance(r[y], bool)})
    if text:
        raise ConfigError(f"--y {y}: not a number in every completed case (e.g. {text[0]!r})")
    others = [k for k in spec["keys"] if k != x]
    labels = labels_for(list(dict.fromkeys(spec["keys"] + [x])))
    lines: dict[tuple, dict[Any, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        lines[tuple(r.get(k) for k in others)][r[x]].append(float(r[y]))
    path = path or folder / "plots" / f"{y}_vs_{labels[x]}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    _draw(lines, [labels[k] for k in others], labels[x], y, len({r.get("seed") for r in rows})).savefig(path)
    return path


SUFFIXES = (".png", ".pdf", ".svg")


def _spec(folder: Path) -> dict[str, Any]:
    """sweep.json of a sweep folder: its case names and swept keys; anything else is a ConfigError."""
    try:
        spec = json.loads((folder / "sweep.json").read_text())
    except FileNotFoundError:
        raise ConfigError(f"{folder}: not a sweep folder (no sweep.json)") from None
    except (OSError, ValueError) as err:
        raise ConfigError(f"{folder / 'sweep.json'}: cannot be read ({err})") from None
    if not (isinstance(spec, dict) and isinstance(spec.get("cases"), list) and isinstance(spec.get("keys"), list)):
        raise ConfigError(f"{folder / 'sweep.json'}: not a pinnkit sweep description (cases and keys missing)")
    return spec


def _draw(lines: dict, names: list[str], x: str, y: str, seeds: int) -> Figure:
    from matplotlib.figure import Figure  # here, not at the top: `import pinnkit` and sweep workers skip it

    xs_all = sorted({v for points in lines.values() for v in points}, key=_sort_key)
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in xs_all)
    fig = Figure(figsize=(7.0, 4.6), dpi=150, layout="constrained")
    ax = fig.add_subplot()
    for group, points in sorted(lines.items(), key=lambda item: tuple(map(_sort_key, item[0]))):
        xs = [v for v in xs_all if v in points]
        pos = xs if numeric else [xs_all.index(v) for v in xs]
        values = [np.array(points[v]) for v in xs]
        label = ", ".join(f"{n} = {v}" for n, v in zip(names, group)) or None  # one line: no legend
        mean = np.array([v.mean() for v in values])
        spread = [mean - [v.min() for v in values], [v.max() for v in values] - mean]
        ax.errorbar(pos, mean, yerr=spread, marker="o", capsize=4, label=label)
    if not numeric:
        ax.set_xticks(range(len(xs_all)), [str(v) for v in xs_all])
    elif _wide([float(v) for v in xs_all]):
        ax.set_xscale("log")
    if _wide([v for points in lines.values() for vs in points.values() for v in vs]):
        ax.set_yscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(readable(y))
    spread = f"mean over {seeds} seeds, bars: min to max" if seeds > 1 else "one seed"
    ax.set_title(f"{readable(y)} against {x} ({spread})", fontsize="medium")
    ax.grid(True, which="both", alpha=0.3)
    if len(lines) > 1:
        ax.legend(fontsize="small")
    return fig


def readable(column: str) -> str:
    """A results column as an axis label: `rel_l2_u` -> `relative L2 error of u`, `seconds` -> `wall time (s)`."""
    if column.startswith("rel_l2_"):
        return f"relative L2 error of {column.removeprefix('rel_l2_')}"
    return {"loss": "final loss", "seconds": "wall time (s)"}.get(column, column)


def _wide(values: list[float]) -> bool:
    """Positive values spanning at least a factor 20: a log axis reads better."""
    return min(values) > 0 and max(values) / min(values) >= 20


def _sort_key(value: Any) -> tuple:
    return (0, value, "") if isinstance(value, (int, float)) and not isinstance(value, bool) else (1, 0, str(value))
