"""One progress bar for long runs: tqdm when installed, else a single carriage-return line on stderr."""

from __future__ import annotations

import sys

__all__ = ["progress_bar"]


class _StderrBar:
    """Minimal stand-in for tqdm: `update`, `close`, `set_description`."""

    def __init__(self, total: int, desc: str, unit: str):
        self.total, self.n, self.desc, self.unit = total, 0, desc, unit

    def update(self, n: int = 1) -> None:
        self.n += n
        sys.stderr.write(f"\r{self.desc}: {self.n}/{self.total} {self.unit}")
        sys.stderr.flush()

    def set_description(self, desc: str) -> None:
        self.desc = desc

    def close(self) -> None:
        sys.stderr.write("\n")


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def set_description(self, desc: str) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, enabled: bool, desc: str, unit: str = "step"):
    """A bar with `update(n)`, `set_description(text)` and `close()`; a no-op when not `enabled`."""
    if not enabled:
        return _NoBar()
    try:
        from tqdm.auto import tqdm  # pyright: ignore[reportMissingModuleSource]  # optional: lzjax[progress]
    except ImportError:
        return _StderrBar(total, desc, unit)
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr)
