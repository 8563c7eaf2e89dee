"""The `pinnkit` logger and the run folder's `run.log`.

Library code logs through `logging.getLogger(__name__)` (children of "pinnkit"): phases starting and
ending, fallbacks an optimizer or a redraw takes, a failed phase's traceback. While a solve runs,
`run_log` keeps every record of INFO and above in RUN_DIR/run.log; the command line also shows
warnings on stderr (`console`).
"""
from __future__ import annotations

import logging
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

logger = logging.getLogger("pinnkit")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextmanager
def run_log(run_dir: Path) -> Iterator[None]:
    """Append the records of the `pinnkit` logger (INFO and above) to RUN_DIR/run.log while open."""
    handler = logging.FileHandler(run_dir / "run.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.setLevel(logging.INFO)
    previous = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
        handler.close()


class ConsoleFormatter(logging.Formatter):
    """`warning: ...` for warnings, the bare message for the few INFO records meant for the console."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        return f"{record.levelname.lower()}: {text}" if record.levelno >= logging.WARNING else text


@contextmanager
def console(shown: bool = True) -> Iterator[None]:
    """While open, show the `pinnkit` logger's warnings, and INFO records marked `extra={"console": True}`
    (compiling), on stderr, one line each (the command line's setting); records carrying a traceback stay in
    run.log, since the command line reports those failures itself. With `shown = False` (the processes of a
    torchrun solve after the first, which reports for all) nothing is shown."""
    handler = logging.StreamHandler(sys.stderr) if shown else logging.NullHandler()
    handler.setFormatter(ConsoleFormatter())
    handler.setLevel(logging.INFO)
    handler.addFilter(lambda record: record.exc_info is None and (record.levelno >= logging.WARNING
                                                                  or getattr(record, "console", False)))
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
