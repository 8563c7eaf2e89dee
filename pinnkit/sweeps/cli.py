"""`pinnkit sweep` and `pinnkit sweep-plot`: thin wrappers over `sweep` and `plot_sweep`."""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Optional

from ..config import ConfigError
from .executors import EXECUTORS
from .grid import parse_grid
from .plot import plot_sweep
from .runner import sweep


def add_parsers(sub: Any) -> None:
    """The `sweep` and `sweep-plot` subcommands, added to the subparsers of the main parser."""
    s = sub.add_parser("sweep", help="solve one config over a grid of values and seeds (results.csv in --out)")
    s.add_argument("config", help="problem TOML file; its [sweep] section gives what --grid/--seeds leave out")
    s.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="values of one key, e.g. --grid problem.parameters.nu=0.0032,0.0064 (repeatable: product)")
    s.add_argument("--seeds", metavar="S1,S2,...", help="seeds to run every case with, e.g. 0,1,2")
    s.add_argument("--workers", type=int, default=1, help="cases at a time (default 1)")
    s.add_argument("--out", required=True, help="sweep folder: one run folder per case, results.csv; reruns resume")
    s.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key in every case (repeatable)")
    s.add_argument("--executor", choices=list(EXECUTORS), help="local processes (default) or dask")
    s.add_argument("--scheduler", metavar="tcp://HOST:8786", help="run the cases on this Dask scheduler's workers")
    s.add_argument("--force", action="store_true", help="run every case again, also those that completed")
    s.add_argument("--quiet", action="store_true", help="no progress line")
    p = sub.add_parser("sweep-plot", help="plot a results column of a sweep against a swept key (PNG)")
    p.add_argument("sweep_dir", help="a folder written by pinnkit sweep")
    p.add_argument("--x", required=True, help="swept key, e.g. problem.parameters.nu")
    p.add_argument("--y", required=True, help="results column, e.g. rel_l2_u or loss")
    p.add_argument("--out", help="PNG to write (default: SWEEP_DIR/plots/<y>_vs_<x>.png)")


def _seeds(text: Optional[str]) -> Optional[list[int]]:
    if text is None:
        return None
    try:
        return [int(s) for s in text.split(",")]
    except ValueError:
        raise ConfigError(f"--seeds {text}: expected integers like 0,1,2") from None


def run_sweep(args: argparse.Namespace) -> int:
    """Exit 0 when every case completed, 1 otherwise (one line per other case on stderr)."""
    rows = sweep(args.config, parse_grid(args.grid) or None, seeds=_seeds(args.seeds), out=args.out,
                 workers=args.workers, overrides=args.overrides, scheduler=args.scheduler,
                 executor=args.executor, force=args.force, quiet=args.quiet)
    for r in rows:
        if r["status"] != "completed":
            print(f"{r['run_dir']}: {r['status']}: {r['message']}", file=sys.stderr)
    counts = ", ".join(f"{n} {status}" for status, n in Counter(r["status"] for r in rows).items())
    print(f"{len(rows)} cases: {counts}  results: {Path(args.out) / 'results.csv'}")
    return 0 if all(r["status"] == "completed" for r in rows) else 1


def run_plot(args: argparse.Namespace) -> int:
    print(plot_sweep(args.sweep_dir, args.x, args.y, args.out))
    return 0


COMMANDS = {"sweep": run_sweep, "sweep-plot": run_plot}
