"""Progress of long runs on stderr, with count/total, rate and ETA.

Two forms, chosen by the stream (stderr unless given):

- **a terminal**: one updating line (carriage return), redrawn at most every 0.2 s::

      lzjax sweep: 1200/4096 point (29%), 41.3 point/s, elapsed 0:29, ETA 1:10

  With tqdm installed (``lzjax[progress]``) tqdm draws this line instead (its default
  format carries the same fields: count/total, elapsed<ETA, rate in the bar's unit). In a
  Jupyter kernel tqdm's widget is used as well (``tqdm.auto``).
- **anything else** (a log file, a pipe, CI): plain newline-terminated lines, never ``\\r``,
  with or without tqdm (tqdm has no such mode: it always redraws with ``\\r``). Nothing for a
  run shorter than `interval` (10 s); then one line at most every `interval` seconds, one when
  a long run enters a new phase (:meth:`ProgressLine.phase`), and a final line at close::

      lzjax sweep: 520/4096 point (13%), 51.9 point/s, elapsed 0:10, ETA 1:09
      lzjax sweep: 1040/4096 point (25%), 51.9 point/s, elapsed 0:20, ETA 0:59
      lzjax sweep: 4096/4096 point (100%), 52 point/s, elapsed 1:19, ETA 0:00 (done)

The rate is counted from the start of the current phase (the start of the bar unless
:meth:`ProgressLine.phase` was called); a rate below 1 per second is written as seconds per unit.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import IO, Any

__all__ = ["progress_bar", "ProgressLine", "INTERVAL"]

#: seconds between plain lines when the stream is not a terminal (and before the first one)
INTERVAL = 10.0
#: seconds between redraws of the updating line on a terminal
_REFRESH = 0.2


def _duration(seconds: float) -> str:
    """H:MM:SS or M:SS; '?' when unknown."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    s = round(seconds)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _rate(rate: float | None, unit: str) -> str:
    if rate is None or not rate > 0:
        return f"? {unit}/s"
    return f"{rate:.3g} {unit}/s" if rate >= 1 else f"{1 / rate:.3g} s/{unit}"


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _in_kernel(stream) -> bool:
    """Whether `stream` is a Jupyter kernel's output (where tqdm.auto draws a widget)."""
    return type(stream).__module__.split(".")[0] == "ipykernel"


class ProgressLine:
    """The progress of `total` units: an updating line on a terminal, plain lines elsewhere
    (see the module). `update(n)`, `set_description(text)`, `set_postfix(text)`,
    `phase(text)`, `close()`; `clock` (seconds, monotonic) may be injected for tests."""

    def __init__(
        self,
        total: int,
        desc: str,
        unit: str = "step",
        stream: IO[str] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        interval: float = INTERVAL,
        tty: bool | None = None,
    ):
        self.total, self.desc, self.unit, self.postfix = int(total), desc, unit, ""
        self.stream = sys.stderr if stream is None else stream
        self.tty = _isatty(self.stream) if tty is None else tty
        self.clock, self.interval = clock, float(interval)
        self.n = 0
        self.start = clock()
        self._base = (self.start, 0)  # (time, count) the rate is counted from
        self._rate: float | None = None  # the rate of the previous phase
        self._last = self.start  # when the last line was written (or the start)
        self._lines = 0  # lines written (plain form) or redraws (terminal)
        self._width = 0
        self.closed = False

    # -- text --
    def rate(self, now: float) -> float | None:
        """Units per second since the phase began (the previous phase's rate before the
        phase's first unit); None when unknown."""
        t0, n0 = self._base
        return (self.n - n0) / (now - t0) if now > t0 and self.n > n0 else self._rate

    def text(self, now: float, final: bool = False, stopped: bool = False) -> str:
        rate = self.rate(now)
        left = max(self.total - self.n, 0)
        eta = 0.0 if left == 0 or final else (left / rate if rate else math.nan)
        percent = 100.0 * self.n / self.total if self.total > 0 else 100.0
        line = (
            f"{self.desc}: {self.n}/{self.total} {self.unit} ({percent:.0f}%), {_rate(rate, self.unit)}, "
            f"elapsed {_duration(now - self.start)}, ETA {_duration(eta)}"
        )
        if final:
            line += " (stopped)" if stopped else " (done)"
        return line + (f"; {self.postfix}" if self.postfix else "")

    def _line(self, now: float, final: bool = False, stopped: bool = False) -> None:
        """One newline-terminated line (not a terminal)."""
        self.stream.write(self.text(now, final, stopped) + "\n")
        self.stream.flush()
        self._last, self._lines = now, self._lines + 1

    def _draw(self, now: float, final: bool = False, stopped: bool = False) -> None:
        """Redraw the updating line (terminal)."""
        text = self.text(now, final, stopped)
        pad = max(self._width - len(text), 0)
        self.stream.write("\r" + text + " " * pad + ("\n" if final else ""))
        self.stream.flush()
        self._width, self._last, self._lines = len(text), now, self._lines + 1

    # -- the tqdm-like interface --
    def update(self, n: int = 1) -> None:
        if self.closed:
            return
        self.n += n
        now = self.clock()
        if self.tty:
            if now - self._last >= _REFRESH or self._lines == 0 or self.n >= self.total:
                self._draw(now)
        elif now - self._last >= self.interval:
            self._line(now)

    def set_description(self, desc: str) -> None:
        self.desc = desc
        if self.tty and not self.closed:
            self._draw(self.clock())

    def set_postfix(self, text: str) -> None:
        """A short status after the fields (e.g. the current χ²); no line of its own."""
        self.postfix = text

    def phase(self, desc: str, total: int | None = None) -> None:
        """A new phase of the run: the description becomes `desc` (and the total `total` when
        given, e.g. the count done when no more units will come) and the rate is counted from
        now. Off a terminal a line is written at once when the run is already long."""
        if self.closed:
            return
        now = self.clock()
        self._rate = self.rate(now)
        self.desc, self._base = desc, (now, self.n)
        if total is not None:
            self.total = int(total)
        if self.tty:
            self._draw(now)
        elif now - self.start >= self.interval:
            self._line(now)

    def close(self, stopped: bool = False) -> None:
        """The final line: "(done)", or "(stopped)" when `stopped` (an exception left the run)."""
        if self.closed:
            return
        now = self.clock()
        if self.tty:
            self._draw(now, final=True, stopped=stopped)
        elif self._lines or now - self.start >= self.interval:
            self._line(now, final=True, stopped=stopped)
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(stopped=exc_type is not None)


class _Tqdm:
    """tqdm behind the same interface (terminal or Jupyter only)."""

    def __init__(self, bar: Any):
        self.bar = bar

    def update(self, n: int = 1) -> None:
        self.bar.update(n)

    def set_description(self, desc: str) -> None:
        self.bar.set_description_str(desc)

    def set_postfix(self, text: str) -> None:
        self.bar.set_postfix_str(text)

    def phase(self, desc: str, total: int | None = None) -> None:
        if total is not None:
            self.bar.total = total
        self.bar.set_description_str(desc)

    def close(self) -> None:
        self.bar.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def set_description(self, desc: str) -> None:
        pass

    def set_postfix(self, text: str) -> None:
        pass

    def phase(self, desc: str, total: int | None = None) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


def progress_bar(
    total: int,
    enabled: bool,
    desc: str,
    unit: str = "step",
    *,
    stream: IO[str] | None = None,
    clock: Callable[[], float] | None = None,
    interval: float = INTERVAL,
    use_tqdm: bool = True,
):
    """A bar with `update(n)`, `set_description(text)`, `set_postfix(text)`,
    `phase(text[, total])` and `close()` (also a context manager that closes it) on `stream`
    (default stderr); a no-op when not `enabled`. tqdm draws it on a terminal or in a Jupyter
    kernel when installed and `use_tqdm`; otherwise, and always when the stream is not a
    terminal, a :class:`ProgressLine` (see the module)."""
    if not enabled:
        return _NoBar()
    stream = sys.stderr if stream is None else stream
    if use_tqdm and clock is None and (_isatty(stream) or _in_kernel(stream)):
        try:
            from tqdm.auto import tqdm  # pyright: ignore[reportMissingModuleSource]  # optional: lzjax[progress]
        except ImportError:
            pass
        else:
            return _Tqdm(tqdm(total=total, desc=desc, unit=unit, file=stream, dynamic_ncols=True))
    return ProgressLine(total, desc, unit, stream, clock=clock or time.monotonic, interval=interval)
