"""Ctrl-C and SIGTERM during training: the first asks the trainer to stop after the current step, the second stops
at once.

`Signals` is a context manager: inside it SIGINT and SIGTERM only set `received`, which the trainer
polls after each iteration (to checkpoint and stop cleanly); a second signal raises KeyboardInterrupt
where the program is. The previous handlers are put back on exit, so training from Python leaves
none installed. Outside the main thread (where Python allows no handlers) it does nothing, and a
signal the process ignores (started with nohup, say) stays ignored.
"""
from __future__ import annotations

import logging
import signal
import threading
from typing import Any, Optional

log = logging.getLogger(__name__)

CAUGHT = (signal.SIGINT, signal.SIGTERM)


class Signals:
    """Catch SIGINT/SIGTERM for the duration of a `with` block; `received` is the first one's number."""

    def __init__(self) -> None:
        self.received: Optional[int] = None
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> "Signals":
        if threading.current_thread() is threading.main_thread():  # a signal the process ignores (nohup) stays so
            self.previous = {s: signal.signal(s, self._handle) for s in CAUGHT
                             if signal.getsignal(s) is not signal.SIG_IGN}
        return self

    def __exit__(self, *exc: Any) -> None:
        self._restore()

    @property
    def name(self) -> str:
        return signal.Signals(self.received).name if self.received is not None else ""

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received is None:
            self.received = signum
            log.warning("%s received: stopping after the current iteration with a checkpoint (which can take a "
                        "while when it is being compiled); a second one stops at once", self.name)
            return
        self._restore()
        raise KeyboardInterrupt(f"second {signal.Signals(signum).name}: stopped at once")

    def _restore(self) -> None:
        for s, handler in self.previous.items():
            signal.signal(s, handler)
        self.previous = {}


def exit_code(name: str) -> int:
    """The shell's exit status for a process stopped by the named signal: 130 for SIGINT, 143 for SIGTERM."""
    return 128 + signal.Signals[name].value
