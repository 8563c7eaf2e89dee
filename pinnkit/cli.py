"""`python -m pinnkit solve|plot|export|list|sweep|sweep-plot`: thin wrappers over the Python API.

Exit status: 0 solved, 1 training diverged or failed (the run folder says why),
2 bad input (one line on stderr naming file, key path and value; nothing written),
130 / 143 stopped by SIGINT / SIGTERM (checkpointed: `solve --resume RUN_DIR` continues).

`torchrun --nproc-per-node N -m pinnkit solve ...` runs one solve on N processes: each exits with the same
status, and only the first prints (and writes the run folder).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from . import catalog
from .api import resume, solve
from .config import ConfigError
from .distributed import ProcessFailure, first_process
from .interrupt import exit_code
from .logs import console
from .pdes import PROBLEMS
from .problem import ProblemError
from .run import RunError
from .sweeps import cli as sweeps_cli
from .version import __version__


TRUST = "open a run whose problem is Python code of its own (which opening it runs)"
MAX_RESOLUTION = 4096  # grid points per axis of an export


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pinnkit", description="Physics-informed neural network solver.")
    parser.add_argument("--version", action="version", version=f"pinnkit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("solve", help="train a PINN on a TOML problem file and write a run folder")
    s.add_argument("config", nargs="?", help="problem TOML file, or a shipped case by name (pinnkit list)")
    s.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted or crashed run from its checkpoint")
    s.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set phases[0].iterations=200 (repeatable)")
    s.add_argument("--out", help="run folder to write (default: <output.dir>/<case>-<timestamp>)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.add_argument("--no-plots", dest="plots", action="store_false", help="skip the figures (RUN_DIR/plots)")
    p = sub.add_parser("plot", help="draw a run's figures into RUN_DIR/plots")
    p.add_argument("run_dir", help="a run folder")
    p.add_argument("--animate", action="store_true", help="also a GIF of the first field over time (unsteady runs)")
    p.add_argument("--trust-code", action="store_true", help=TRUST)
    p.add_argument("--format", default="png", help="the files each figure is written as: png, pdf, svg, or a "
                                                   "comma list (default png)")
    e = sub.add_parser("export", help="write a run's fields on a regular grid as VTK into RUN_DIR/vtk")
    e.add_argument("run_dir", help="a run folder")
    e.add_argument("--resolution", type=int, default=64, help="grid points per spatial axis (default 64)")
    e.add_argument("--trust-code", action="store_true", help=TRUST)
    sub.add_parser("list", help="list the shipped cases (the names solve and init take)")
    i = sub.add_parser("init", help="copy a shipped case to a TOML file of your own, to edit")
    i.add_argument("case", help="a shipped case, e.g. burgers (see pinnkit list)")
    i.add_argument("file", help="the new TOML file (it must not exist)")
    sweeps_cli.add_parsers(sub)
    return parser


def _solve(args: argparse.Namespace) -> int:
    if (args.config is None) == (args.resume is None) or (args.resume and (args.overrides or args.out)):
        raise ConfigError("solve: give a config file (with any --set, --out) or --resume RUN_DIR alone")
    if args.resume:
        result = resume(args.resume, quiet=args.quiet, plots=args.plots)
    else:
        result = solve(args.config, args.overrides, out=args.out, quiet=args.quiet, plots=args.plots)
    if result.status == "interrupted":
        _say(result.summary["message"])
        return exit_code(result.summary["signal"])
    if not result.main:  # another process of a torchrun solve: the first one reports
        return 0 if result.status == "completed" else 1
    errors = "  ".join(f"rel_l2 {f} = {e:.3e}" for f, e in result.rel_l2.items())
    if result.status != "completed":
        print(f"error: {result.summary['message']}", file=sys.stderr)
    print(f"{result.status}: {errors or 'loss = %.3e' % result.summary['loss']['loss']}  run folder: {result.run_dir}")
    if result.plot_error:  # the run itself is complete: a warning, not a failure
        print(f"warning: plots not written: {result.plot_error}", file=sys.stderr)
    if result.status == "completed" and args.config and (better := catalog.accurate(args.config)):
        print(f"more accurate, and slower: python -m pinnkit solve {better}")
    return 0 if result.status == "completed" else 1


def _plot(args: argparse.Namespace) -> int:
    from . import viz  # here: matplotlib and pyvista load only for the commands that draw

    formats = tuple(f.strip().lower() for f in args.format.split(",") if f.strip())
    unknown = [f for f in formats if f not in viz.FORMATS]
    if unknown or not formats:
        raise ConfigError(f"--format {args.format}: each of {', '.join(viz.FORMATS)}, comma-separated")
    paths = viz.plot(args.run_dir, animate=args.animate, trust_code=args.trust_code, formats=formats)
    print(f"{len(paths)} files written to {Path(args.run_dir) / 'plots'}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from . import viz

    if not 2 <= args.resolution <= MAX_RESOLUTION:
        raise ConfigError(f"--resolution: must be between 2 and {MAX_RESOLUTION}, got {args.resolution}")
    paths = viz.export(args.run_dir, resolution=args.resolution, trust_code=args.trust_code)
    print(f"{len(paths)} files written to {Path(args.run_dir) / 'vtk'} (open {paths[-1].name} in ParaView)")
    return 0


def _list() -> int:
    cases = catalog.names()
    width = max(map(len, cases), default=0)
    for name in cases:
        print(f"{name:<{width}}  {catalog.description(name)}")
    print(f"\nproblem classes for [problem] name in your own TOML: {', '.join(PROBLEMS)}")
    return 0


def _init(args: argparse.Namespace) -> int:
    if catalog.path(args.case) is None:
        raise ConfigError(f"init: unknown case {args.case!r} (shipped: {', '.join(catalog.names())})")
    try:
        written = catalog.copy(args.case, Path(args.file))
    except FileExistsError as err:
        raise ConfigError(f"init: {err.args[0]} exists already; choose another file") from None
    except OSError as err:
        raise ConfigError(f"init: cannot write {args.file} ({err.strerror})") from None
    print(f"wrote {', '.join(map(str, written))}: edit it, then python -m pinnkit solve {written[0]}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The command line (`argv`, default sys.argv); the exit status of the module docstring."""
    args = _parser().parse_args(argv)
    with console(shown=first_process()):
        return _run(args)


def _say(text: str) -> None:
    """One line on stderr, from the first process only where torchrun started several."""
    if first_process():
        print(text, file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    try:
        if args.command in sweeps_cli.COMMANDS:
            return sweeps_cli.COMMANDS[args.command](args)
        commands = {"solve": _solve, "plot": _plot, "export": _export, "list": lambda _: _list(), "init": _init}
        return commands[args.command](args)
    except (ConfigError, ProblemError, RunError) as err:
        _say(f"error: {err}")
        return 2
    except KeyboardInterrupt as err:  # a second Ctrl-C, or one before training started
        _say(f"interrupted: {str(err) or 'before training started, nothing written'}")
        return exit_code("SIGINT")
    except OSError as err:  # a full disk or a folder taken away while writing: the last checkpoint stays whole
        _say(f"error: cannot write {err.filename or 'the run folder'}: {err.strerror or err}")
        return 1
    except ProcessFailure as err:  # one process of a torchrun solve failed outside training: all stop with it
        _say(f"error: {err}")
        return 1
