"""The size estimate every command makes before its work: rough seconds and bytes, printed above
a soft limit, refused above a hard one unless --yes."""

from __future__ import annotations

import sys

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


#: seconds per point-step of the process tensor (χ ≲ 32) on the 2-core CPU, rough
_PT_POINT_STEP_S = 2e-5


def _adt_step_seconds(kmax: int) -> float:
    """Seconds per step of the plain ADT on the 2-core CPU, rough: 12 ms at k_max 10, ×4 per unit."""
    return 12e-3 * 4.0 ** (kmax - 10)


def _pt_bytes(chi_max: int, batch: int) -> float:
    """Bytes of a process tensor at `chi_max` and the states of `batch` points (complex128)."""
    return 16 * (16 * chi_max**2 + batch * 24 * chi_max)


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
        engine = options.get("engine", "neqb")
        if engine == "neqb":
            return 20.0 + 3e-3 * n * iterations / 100, 25 * 2**10 * n
        from ..quapi import estimate_memory_bytes

        kmax, p = int(options["kmax"]), int(options.get("n_params", 1))
        steps = _steps(options)
        per_step = _PT_POINT_STEP_S if engine == "quapi" else _adt_step_seconds(kmax)
        build = 2e-3 * kmax * (1 + p) if engine == "quapi" else 0.0
        per_eval = n * steps * per_step * (1 + p) + build
        memory = (_pt_bytes(options.get("chi_max", 512), n) if engine == "quapi"
                  else estimate_memory_bytes(kmax, n))
        return 20.0 + (8 + min(iterations, 30)) * per_eval, memory
    from ..quapi import estimate_memory_bytes
    from ..sweep import quapi_method

    if quapi_method(options) == "pt":  # ~20 µs per point-step (χ ≲ 32), six runs, ε_q ~ 60, δt 0.02
        v_typ = float(np.median(v)) if v is not None else 1.0
        steps = 2 * options.get("eps_q", 60.0) / v_typ / 0.02
        return 20.0 + n * 6 * steps * _PT_POINT_STEP_S, _pt_bytes(512, min(n, 256))
    kmax = int(options.get("kmax") or options.get("budget") or 10)
    per_step = _adt_step_seconds(kmax)
    if "dt" in options:
        steps = _steps(options)
        rungs = 1
    else:  # the ladder: about four rungs over the exact window 2 eps_q / v at dt ~ 0.1
        v_typ = float(np.median(v)) if v is not None else 1.0
        steps = 2 * options.get("eps_q", 15.0) / v_typ / 0.1
        rungs = 4
    seconds = 20.0 + n * rungs * steps * per_step
    return seconds, estimate_memory_bytes(kmax, min(n, 4096))


def size_check(kind: str, n: int, options: dict, yes: bool, v=None) -> None:
    soft, hard = LIMITS[kind]
    seconds, memory = _estimate(kind, n, options, v)
    what = "CSV rows" if kind == "fit" else "grid points"
    if n <= soft and seconds < 600:
        return
    line = (f"{n} {what}: estimated {_format_seconds(seconds)} and {_format_bytes(memory)} "
            f"(rough; measured on a 2-core CPU)")
    if (n > hard or seconds > _HARD_SECONDS) and not yes:
        raise InputError(f"{line}; above the limit of {hard} {what} or {_format_seconds(_HARD_SECONDS)}: "
                            "pass --yes to run anyway")
    print(f"lzjax: {line}", file=sys.stderr)


def n_points(grid: dict[str, np.ndarray]) -> int:
    return int(np.prod([len(x) for x in grid.values()], dtype=object))
