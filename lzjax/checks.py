"""Validation in plain Python, before any tracing: one place for the checks every entry point shares.

Each check raises a ``ValueError`` whose message starts with the parameter's name and states the
accepted range, so that the command line can print it as one line. Traced values (inside jit,
vmap, grad) pass :func:`check_range` unchecked: validation belongs before tracing.
"""

from __future__ import annotations

import math
import os
from typing import Any

import jax
import jax.core  # explicit submodule import for type checkers (jax imports it itself)
import numpy as np

__all__ = [
    "MAX_STEPS",
    "PRECISIONS",
    "is_traced",
    "real_values",
    "parameter_values",
    "check_path",
    "check_range",
    "check_integer",
    "check_number",
    "check_choice",
    "check_bool",
    "check_precision",
    "check_step_count",
    "MAX_BATCH_BYTES",
    "check_batch_steps",
]

#: largest number of time steps of one fixed-step run (QUAPI protocols, fits through QUAPI)
MAX_STEPS = 2_000_000
#: largest size of the per-step arrays of one vmapped batch (time grids, step propagators):
#: points × steps × bytes per step, counted before allocation by :func:`check_batch_steps`
MAX_BATCH_BYTES = 8 * 2**30
#: accepted values of every `precision` argument
PRECISIONS = ("float64", "float32")


def is_traced(x: Any) -> bool:
    """True for tracers, also inside a list or tuple (validation belongs before tracing)."""
    if isinstance(x, jax.core.Tracer):
        return True
    if isinstance(x, (list, tuple)):
        return any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(list(x)))
    return False


def real_values(name: str, x: Any) -> np.ndarray:
    """`x` as float64 values, or a ValueError naming `name`: real numbers and real arrays only —
    not bool, str, None, complex, or ragged / nested-object lists."""
    what = f"{name} must be a real number (or a rectangular array of them)"
    if x is None or isinstance(x, (bool, np.bool_, str, bytes)):
        raise ValueError(f"{what}, got {x!r} ({type(x).__name__})")
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError):
        raise ValueError(f"{what}, got a ragged or non-numeric sequence {x!r:.60}") from None
    if arr.dtype.kind == "b":
        raise ValueError(f"{what}, got booleans {x!r:.60}")
    if arr.dtype.kind == "c":
        raise ValueError(f"{what}, got a complex value {x!r:.60}")
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{what}, got {x!r:.60} ({arr.dtype.kind!r} kind {type(x).__name__})")
    return arr.astype(np.float64)


def parameter_values(name: str, x: Any) -> Any:
    """The one type policy of every physical parameter (the constructors of :mod:`lzjax.model`
    and the axes of :func:`lzjax.sweep`): a real number or a non-empty rectangular real array.

    Lists and tuples become float64 numpy arrays (a list holding tracers becomes a JAX array);
    bool, str, bytes, None, complex and ragged or nested-object sequences are refused by
    :func:`real_values`, empty ones here — each with a ValueError naming `name`. Numbers and
    numpy/JAX arrays are returned unchanged, and tracers pass through unchecked (validation
    belongs before tracing).
    """
    if isinstance(x, jax.core.Tracer):
        return x
    if isinstance(x, (list, tuple)) and is_traced(x):
        import jax.numpy as jnp

        return jnp.asarray(x)
    arr = real_values(name, x)
    if arr.size == 0:
        raise ValueError(
            f"{name} must be a real number (or a non-empty array of them), got an empty {type(x).__name__} {x!r:.40}"
        )
    return arr if isinstance(x, (list, tuple)) else x


def check_path(name: str, x: Any, *, optional: bool = True) -> str | os.PathLike | None:
    """A file path: str or os.PathLike (or None when `optional`); anything else is a ValueError
    naming `name`."""
    if (x is None and optional) or isinstance(x, (str, os.PathLike)):
        return x
    accepted = "a file path (str or os.PathLike)" + (" or None" if optional else "")
    raise ValueError(f"{name} must be {accepted}, got {x!r:.60} ({type(x).__name__})")


def check_range(
    name: str,
    x: Any,
    *,
    lower: float | None = None,
    upper: float | None = None,
    lower_open: bool = False,
    upper_open: bool = False,
    meaning: str = "",
) -> None:
    """Raise a ValueError naming `name` and its accepted range if `x` is not real (see
    :func:`real_values`) or any element is outside (or not finite). Skipped for traced values."""
    if is_traced(x):
        return
    arr = real_values(name, x)
    lo = "-inf" if lower is None else f"{lower:g}"
    hi = "inf" if upper is None else f"{upper:g}"
    if lower is not None and lower == -math.pi / 2:
        lo = "-pi/2"
    if upper is not None and upper == math.pi / 2:
        hi = "pi/2"
    rng = f"{'(' if lower_open or lower is None else '['}{lo}, {hi}{')' if upper_open or upper is None else ']'}"
    what = f" ({meaning})" if meaning else ""
    bad = ~np.isfinite(arr)
    if lower is not None:
        bad |= (arr <= lower) if lower_open else (arr < lower)
    if upper is not None:
        bad |= (arr >= upper) if upper_open else (arr > upper)
    if np.any(bad):
        offending = arr[bad].ravel()[0] if arr.ndim else arr
        raise ValueError(f"{name}{what} must be finite and in {rng}; got {float(offending)!r}")


def check_integer(name: str, value: Any, lower: int, upper: int | None = None, *, what: str = "") -> int:
    """An integer (not bool) in [lower, upper]; returns it as int."""
    ok = not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, np.integer))
    if ok and value >= lower and (upper is None or value <= upper):
        return int(value)
    rng = f"[{lower}, {upper}]" if upper is not None else f">= {lower}"
    label = f"{name} ({what})" if what else name
    raise ValueError(
        f"{label} must be an integer in {rng}, got {value!r}"
        if upper is not None
        else f"{label} must be an integer {rng}, got {value!r}"
    )


def check_number(
    name: str,
    value: Any,
    lower: float | None = None,
    upper: float | None = None,
    *,
    lower_open: bool = False,
    unit: str = "",
) -> float:
    """A finite real Python/numpy scalar (not bool, str, complex or an array) in the given range."""
    if (
        isinstance(value, (np.ndarray, jax.Array))
        and not isinstance(value, jax.core.Tracer)
        and value.ndim == 0
        and value.dtype.kind in "iuf"
    ):
        value = value.item()  # a 0-d real array is a number
    ok = (
        not isinstance(value, (bool, np.bool_))
        and isinstance(value, (int, float, np.integer, np.floating))
        and math.isfinite(float(value))
    )
    if ok:
        x = float(value)
        ok = (lower is None or (x > lower if lower_open else x >= lower)) and (upper is None or x <= upper)
    if ok:
        return x
    if lower is not None and upper is not None:
        rng = f"in {'(' if lower_open else '['}{lower:g}, {upper:g}]"
    elif lower is not None:
        rng = f"{'>' if lower_open else '>='} {lower:g}"
    elif upper is not None:
        rng = f"<= {upper:g}"
    else:
        rng = "finite"
    units = f" ({unit})" if unit else ""
    kind = "a number" if lower is not None and upper is not None else "a finite number"
    raise ValueError(f"{name} must be {kind} {rng}{units}, got {value!r}")


def check_choice(name: str, value: Any, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(repr(c) for c in choices)}, got {value!r}")
    return value


def check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_precision(precision: Any) -> np.dtype:
    """'float64' or 'float32' → the real dtype."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be 'float64' or 'float32', got {precision!r}")
    return np.dtype(np.float32 if precision == "float32" else np.float64)


def check_step_count(dt: float, tmax: float, lowest: int) -> int:
    """N = round(tmax/dt) for a fixed-step protocol, in [lowest, MAX_STEPS]."""
    n_steps = int(round(tmax / dt))
    if not lowest <= n_steps <= MAX_STEPS:
        raise ValueError(
            f"tmax/dt must give a step count in [kmax + 1, {MAX_STEPS}] = [{lowest}, {MAX_STEPS}]; "
            f"got tmax={tmax!r}, dt={dt!r} -> {n_steps} steps"
        )
    return n_steps


def check_batch_steps(
    steps: float, n_points: int, bytes_per_step: int, *, settings: str, max_steps: float = MAX_STEPS
) -> int:
    """The step count of one fixed-step run per point, checked before any allocation.

    Accepted: ``1 <= steps <= max_steps`` (default :data:`MAX_STEPS`) and ``n_points * steps * bytes_per_step <=
    MAX_BATCH_BYTES`` (the per-step arrays the vmapped batch holds at once). `settings` names
    what sets the count (e.g. "(t_end - t_start)/dt"); it leads the ValueError. Returns the
    count as int. `steps` may be a float (a huge or non-finite count is refused, not converted).
    """
    count = float(steps)
    if not math.isfinite(count) or count > max_steps:
        raise ValueError(f"{settings} must give at most {max_steps:.0f} steps per point; got {count:.4g} steps")
    count_int = max(1, int(math.ceil(count)))
    total = float(n_points) * count_int * float(bytes_per_step)
    if total > MAX_BATCH_BYTES:
        raise ValueError(
            f"{settings}: {n_points} point(s) x {count_int} steps x {bytes_per_step} B = {total / 2**30:.3g} GiB "
            f"exceeds the batch limit of {MAX_BATCH_BYTES / 2**30:g} GiB (lzjax.checks.MAX_BATCH_BYTES); "
            "fewer steps or points per call"
        )
    return count_int
