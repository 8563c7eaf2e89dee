"""`python -m pinnkit solve|list|sweep|sweep-plot`: thin wrappers over the Python API.

Exit status: 0 solved, 1 training diverged or failed (the run folder says why),
2 bad input (one line on stderr naming file, key path and value; nothing written).
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from .api import solve
from .build import ProblemError
from .config import ConfigError
from .pdes import PROBLEMS
from .sweeps import cli as sweeps_cli


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pinnkit", description="Physics-informed neural network solver.")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("solve", help="train a PINN on a TOML problem file and write a run folder")
    s.add_argument("config", help="problem TOML file, e.g. problems/burgers.toml")
    s.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set phases[0].iterations=200 (repeatable)")
    s.add_argument("--out", help="run folder to write (default: <output.dir>/<case>-<timestamp>)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    sub.add_parser("list", help="list the shipped problem cases")
    sweeps_cli.add_parsers(sub)
    return parser


def _solve(args: argparse.Namespace) -> int:
    result = solve(args.config, args.overrides, out=args.out, quiet=args.quiet)
    errors = "  ".join(f"rel_l2 {f} = {e:.3e}" for f, e in result.rel_l2.items())
    if result.status != "completed":
        print(f"error: {result.summary['message']}", file=sys.stderr)
    print(f"{result.status}: {errors or 'loss = %.3e' % result.summary['loss']['loss']}  run folder: {result.run_dir}")
    return 0 if result.status == "completed" else 1


def _list() -> int:
    width = max(map(len, PROBLEMS))
    for name, cls in PROBLEMS.items():
        print(f"{name:<{width}}  {cls.description}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command in sweeps_cli.COMMANDS:
            return sweeps_cli.COMMANDS[args.command](args)
        return _solve(args) if args.command == "solve" else _list()
    except (ConfigError, ProblemError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
