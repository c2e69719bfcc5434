"""Progress of a long transfer: bytes done, rate, time left.

On a terminal one bar is redrawn in place (at most ~10 times a second); otherwise (CI logs, pipes)
a plain line is printed every few seconds, so logs stay short and readable. Thread-safe: workers may
report bytes directly.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

_BAR_WIDTH = 28


class Progress:
    def __init__(
        self,
        label: str,
        total_bytes: int,
        *,
        stream: TextIO | None = None,
        tty: bool | None = None,
        line_interval_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.total = max(total_bytes, 0)
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self._interval = 0.1 if self.tty else line_interval_s
        self._clock = clock
        self._start = clock()
        self._last_draw = self._start
        self._lock = threading.Lock()
        self._finished = False

    def advance(self, nbytes: int) -> None:
        with self._lock:
            self.done += nbytes
            now = self._clock()
            if now - self._last_draw >= self._interval:
                self._last_draw = now
                self._draw(now, final=False)

    def finish(self) -> None:
        with self._lock:
            if not self._finished:
                self._finished = True
                self._draw(self._clock(), final=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()

    def line(self, now: float | None = None) -> str:
        """The status text: label, bytes done of total, percent, rate, time left."""
        now = self._clock() if now is None else now
        elapsed = max(now - self._start, 1e-9)
        rate = self.done / elapsed
        percent = 100.0 * self.done / self.total if self.total else 100.0
        left = (self.total - self.done) / rate if rate > 0 and self.total > self.done else 0.0
        return (
            f"{self.label}: {format_bytes(self.done)} / {format_bytes(self.total)} ({percent:5.1f}%) "
            f"{format_bytes(rate)}/s, {format_duration(left)} left"
        )

    def _draw(self, now: float, *, final: bool) -> None:
        text = self.line(now)
        if self.tty:
            filled = int(_BAR_WIDTH * min(self.done / self.total, 1.0)) if self.total else _BAR_WIDTH
            bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
            self.stream.write(f"\r\x1b[K[{bar}] {text}" + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def format_duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
