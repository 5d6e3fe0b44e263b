"""The size estimate every command makes before its work: rough seconds and bytes, printed above
a soft limit, refused above a hard one unless --yes."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from .common import InputError

__all__ = ["LIMITS", "size_check", "n_points"]


# -- size estimate -----------------------------------------------------------------------------
#: soft (print the estimate) and hard (refuse without --yes) limits in points / CSV rows
LIMITS = {"neqb": (10_000, 1_000_000), "quapi": (64, 4_096), "fit": (2_000, 20_000)}
_HARD_SECONDS = 12 * 3600.0


def _format_seconds(t: float) -> str:
    return f"{t:.0f} s" if t < 120 else f"{t / 60:.0f} min" if t < 7200 else f"{t / 3600:.1f} h"


def _format_bytes(b: float) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= size:
            return f"{b / size:.1f} {unit}"
    return f"{b:.0f} B"


def _steps(options: dict) -> float:
    """t_max/δt; 0 for a δt that is not > 0 (no estimate: the engine refuses it, naming dt)."""
    dt = options["dt"]
    return options["tmax"] / dt if dt > 0 else 0.0


def _estimate(kind: str, n: int, options: dict, v=None) -> tuple[float, float]:
    """(seconds, bytes), rough: measured on a busy 2-core CPU (NEQB ~4 ms/point warm + ~15 s
    compiling; QUAPI ~12 ms per step at k_max 10, ×4 per unit of k_max, the process tensor
    ~20 µs per point-step; an NEQB fit ~3 ms and ~25 KiB per CSV row; a QUAPI fit, per model
    evaluation (≈ 8 start-grid points + up to 30 iterations), every row over t_max/dt steps
    with 1 + p tangents and, for the process tensor, a build and its tangent ~2 ms per memory
    step)."""
    if kind == "neqb":
        return 15.0 + 4e-3 * n, 400.0 * n + 64 * 2**20
    if kind == "fit":
        iterations = max(1, options.get("max_iter", 100))
        engine: Any = options.get("engine", "neqb")  # "neqb" or a configured exact engine
        if isinstance(engine, str):
            return 20.0 + 3e-3 * n * iterations / 100, 25 * 2**10 * n
        p = int(options.get("n_params", 1))
        memory = engine.fixed_memory(options["dt"], options.get("kmax"))  # checked before (fit's check)
        per_eval = (n * _steps(options) * engine.step_seconds(memory) + engine.build_seconds(memory)) * (1 + p)
        return 20.0 + (8 + min(iterations, 30)) * per_eval, engine.memory_bytes(memory, n)
    from ..sweeps import quapi_engine

    engine = options.get("engine") or quapi_engine(options)  # a trajectory passes its engine
    v_typ = float(np.median(v)) if v is not None else 1.0
    if "dt" in options:  # fixed settings: one run of t_max/dt steps (the engine's run memory)
        kmax = options["kmax"]
        return 20.0 + n * _steps(options) * engine.step_seconds(kmax), engine.memory_bytes(kmax, min(n, 4096))
    seconds, memory = engine.ladder_cost(n, v_typ)
    return 20.0 + seconds, memory


def size_check(kind: str, n: int, options: dict, yes: bool, v=None) -> None:
    soft, hard = LIMITS[kind]
    seconds, memory = _estimate(kind, n, options, v)
    what = "CSV rows" if kind == "fit" else "grid points"
    if n <= soft and seconds < 600:
        return
    line = (
        f"{n} {what}: estimated {_format_seconds(seconds)} and {_format_bytes(memory)} "
        f"(rough; measured on a 2-core CPU)"
    )
    if (n > hard or seconds > _HARD_SECONDS) and not yes:
        raise InputError(
            f"{line}; above the limit of {hard} {what} or {_format_seconds(_HARD_SECONDS)}: pass --yes to run anyway"
        )
    print(f"lzjax: {line}", file=sys.stderr)


def n_points(grid: dict[str, np.ndarray]) -> int:
    return int(np.prod([len(x) for x in grid.values()], dtype=object))
