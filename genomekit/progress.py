"""Progress on stderr: a bar on a terminal, a log line every so often otherwise."""

from __future__ import annotations

import os
import sys
import time


def _human(n: float) -> str:
    for unit in ("", "k", "M", "G"):
        if abs(n) < 1000:
            return f"{n:.0f}{unit}" if unit == "" else f"{n:.1f}{unit}"
        n /= 1000
    return f"{n:.1f}T"


class Progress:
    """Report records processed, the current position, rate and (when known) ETA."""

    def __init__(self, label: str, total: int | None = None, *, unit: str = "records",
                 quiet: bool = False, stream=None, interval: float | None = None):
        self.label = label
        self.unit = unit
        self.total = total
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        default = 0.2 if self.tty else float(os.environ.get("GENOMEKIT_LOG_INTERVAL", "30"))
        self.interval = default if interval is None else interval
        self.start = time.monotonic()
        self._last = self.start
        self.done = 0
        self.where = ""

    def update(self, n: int, where: str = "") -> None:
        self.done += n
        self.where = where or self.where
        now = time.monotonic()
        if self.quiet or now - self._last < self.interval:
            return
        self._last = now
        self._emit(now)

    def _emit(self, now: float, final: bool = False) -> None:
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        text = f"{self.label}: {_human(self.done)} {self.unit}"
        if self.where:
            text += f" at {self.where}"
        text += f", {_human(rate)}/s, {elapsed:.0f}s"
        if self.total and not final:
            frac = min(1.0, self.done / self.total)
            eta = (self.total - self.done) / rate if rate > 0 else float("nan")
            bar = "#" * int(frac * 20)
            text = f"[{bar:<20}] {frac * 100:3.0f}% " + text + f", ETA {eta:.0f}s"
        if self.tty:
            self.stream.write("\r\x1b[K" + text + ("\n" if final else ""))
        else:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            self.stream.write(f"genomekit: {stamp} {text}\n")
        self.stream.flush()

    def close(self) -> None:
        if not self.quiet and (self.tty or self.done and time.monotonic() - self.start >= self.interval):
            self._emit(time.monotonic(), final=True)
