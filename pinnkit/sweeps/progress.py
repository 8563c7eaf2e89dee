"""One progress line for a whole sweep: cases done / failed / left, elapsed time and an estimate of what is left."""
from __future__ import annotations

import sys
import time


def _clock(seconds: float) -> str:
    minutes, s = divmod(int(round(seconds)), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{s:02d}" if minutes >= 60 else f"{minutes}:{s:02d}"


class Progress:
    """Counts finished cases; `skipped` ones (finished earlier) count as done, and only `timed` ones (run by a
    worker, not found invalid at once) towards the estimate."""

    def __init__(self, total: int, skipped: int, quiet: bool = False):
        self.total, self.skipped, self.quiet = total, skipped, quiet
        self.ran, self.timed, self.failed = 0, 0, 0
        self.start = time.perf_counter()
        self._show()

    def update(self, status: str, timed: bool = True) -> None:
        self.ran += 1
        self.timed += timed
        self.failed += status != "completed"
        self._show()

    def line(self) -> str:
        done, elapsed = self.skipped + self.ran, time.perf_counter() - self.start
        left = self.total - done
        estimate = f", about {_clock(elapsed / self.timed * left)} left" if self.timed and left else ""
        skipped = f" ({self.skipped} finished before)" if self.skipped else ""
        return (f"sweep: {done}/{self.total} done{skipped}, {self.failed} failed, {left} left, "
                f"{_clock(elapsed)} elapsed{estimate}")

    def _show(self) -> None:
        if self.quiet:
            return
        tty = sys.stderr.isatty()
        end = "\n" if not tty or self.skipped + self.ran == self.total else ""
        print(("\r\033[K" if tty else "") + self.line(), end=end, file=sys.stderr, flush=True)
