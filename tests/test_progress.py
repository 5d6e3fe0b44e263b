"""lzjax.progress (issue 23, item 12): count/total, rate and ETA; an updating line on a terminal,
plain newline-terminated lines (never a carriage return) at most every INTERVAL s elsewhere.
The clock is injected: no sleeps, no timing assertions."""

from __future__ import annotations

import io
import re
import sys
import types

import pytest

from lzjax.progress import INTERVAL, ProgressLine, progress_bar

FIELDS = re.compile(r"(\d+)/(\d+) point \((\d+)%\), (\S+) (point/s|s/point), elapsed \S+, ETA (\S+)")


class FakeClock:
    def __init__(self, step: float):
        self.t, self.step = 1000.0, step

    def __call__(self) -> float:
        self.t += self.step
        return self.t


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(stream, n_updates: int, step: float, **kw) -> str:
    bar = progress_bar(n_updates, True, "lzjax sweep", unit="point", stream=stream, clock=FakeClock(step), **kw)
    for _ in range(n_updates):
        bar.update(1)
    bar.close()
    return stream.getvalue() if isinstance(stream, io.StringIO) else ""


def test_not_a_terminal_writes_few_plain_lines_with_rate_and_eta():
    """10⁴ updates 0.05 s apart (500 s): lines at most every INTERVAL s plus the final one,
    no carriage return, each with count/total, percent, rate and ETA."""
    out = run(io.StringIO(), 10_000, 0.05)
    assert "\r" not in out and out.endswith("\n")
    lines = out.splitlines()
    assert 2 <= len(lines) <= 500 / INTERVAL + 2, len(lines)
    for line in lines:
        assert FIELDS.search(line), line
    n, total, percent, rate, unit, eta = FIELDS.search(lines[-1]).groups()  # pyright: ignore[reportOptionalMemberAccess]
    assert (n, total, percent, eta) == ("10000", "10000", "100", "0:00")
    assert float(rate) == pytest.approx(20, rel=0.01) and unit == "point/s"
    assert lines[-1].endswith("(done)")
    # a line in between carries a finite ETA
    assert re.search(r"ETA \d+:\d\d$", lines[len(lines) // 2])


def test_not_a_terminal_short_run_is_silent():
    """A run shorter than INTERVAL writes nothing into a log (tqdm-less and tqdm alike)."""
    assert run(io.StringIO(), 50, 0.01) == ""


def test_file_stream(tmp_path):
    with open(tmp_path / "log.txt", "w") as f:
        run(f, 1000, 0.1)
    text = (tmp_path / "log.txt").read_text()
    assert "\r" not in text and 2 <= len(text.splitlines()) <= 100 / INTERVAL + 2


def test_slow_rate_in_seconds_per_unit_and_phase_line():
    stream = io.StringIO()
    clock = FakeClock(30.0)
    bar = ProgressLine(100, "lzjax fit", "iteration", stream, clock=clock)
    bar.phase("lzjax fit: L-BFGS")  # 30 s in: a line at once
    bar.update(1)
    bar.set_postfix("chi2 1.5")
    bar.phase("lzjax fit: error bars", total=1)  # no unit in this phase: the L-BFGS rate stays
    with pytest.raises(KeyboardInterrupt), bar:
        raise KeyboardInterrupt
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("lzjax fit: L-BFGS: 0/100 iteration (0%), ? iteration/s")
    assert lines[-1].startswith("lzjax fit: error bars: 1/1 iteration (100%), 60 s/iteration")
    assert lines[-1].endswith("(stopped); chi2 1.5") and len(lines) == 4


def test_terminal_gets_one_updating_line():
    out = run(Terminal(), 200, 0.05, use_tqdm=False)
    assert out.count("\n") == 1 and out.endswith("\n")
    frames = out.rstrip("\n").split("\r")[1:]
    assert 2 <= len(frames) <= 200
    assert FIELDS.search(frames[-1]) and "200/200 point (100%)" in frames[-1]
    assert "ETA" in frames[len(frames) // 2]


def test_terminal_without_tqdm_even_when_allowed(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import fails: as if not installed
    stream = Terminal()
    bar = progress_bar(5, True, "x", stream=stream)
    assert isinstance(bar, ProgressLine)
    bar.update(5)
    bar.close()
    assert "\r" in stream.getvalue() and "5/5 step (100%)" in stream.getvalue()


def test_tqdm_only_on_a_terminal(monkeypatch):
    """With tqdm installed: tqdm on a terminal (its own rate and ETA), ProgressLine elsewhere."""
    made = []

    class FakeTqdm:
        def __init__(self, **kw):
            made.append(kw)

        def update(self, n):
            pass

        def close(self):
            pass

    auto = types.ModuleType("tqdm.auto")
    auto.tqdm = FakeTqdm  # pyright: ignore[reportAttributeAccessIssue]
    monkeypatch.setitem(sys.modules, "tqdm", types.ModuleType("tqdm"))
    monkeypatch.setitem(sys.modules, "tqdm.auto", auto)
    terminal = Terminal()
    progress_bar(3, True, "x", unit="point", stream=terminal).close()
    assert made and made[0]["file"] is terminal and made[0]["unit"] == "point" and made[0]["total"] == 3
    assert isinstance(progress_bar(3, True, "x", stream=io.StringIO()), ProgressLine)


def test_disabled_is_silent():
    bar = progress_bar(3, False, "x")
    bar.update(3)
    bar.phase("y")
    bar.set_postfix("z")
    bar.close()
