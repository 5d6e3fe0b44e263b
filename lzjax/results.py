"""One result type for every engine: probabilities, error bars, the window used, settings, status.

All fields are numpy arrays of the batch shape (the broadcast shape of the problem's leaves):

- `P_LZ`, `P_ES`: Landau-Zener probability (start and end in the instantaneous ground state) and
  excited-state survival; in [0, 1].
- `P_LZ_err`, `P_ES_err`: error estimates (absolute). NaN where no estimate was made (fixed
  settings); ∞ where the result is not finite.
- `converged`: both errors at or below the requested tolerance (False without an estimate).
- `eps_max`: half-width of the bias window of the whole protocol (units of Δ); `t_max` its
  duration (units 1/Δ; 2 ε_max/v for the linear drive).
- `status`: per point one of :data:`STATUSES`: "converged", "not converged", "unchecked" (fixed
  settings, no error estimate), "not finite" (the engine produced NaN/∞), "unphysical" (P
  outside [0, 1] or |Tr ρ − 1| beyond the stated error, see :func:`classify`) or "beyond weak
  coupling" (NEQB where its model error, measured by κ, exceeds :data:`lzjax.neqb.KAPPA_MAX`).
  The values of a "not finite" or "unphysical" point are never returned as numbers: P is NaN
  there (null in every file) and the error ∞; a "beyond weak coupling" point keeps its numbers
  (the numerics are converged, the model is not valid) with `converged` False.
- `engine`: the engine's name ("neqb", "quapi-adt", "quapi-pt", ...); `settings`: a dict of
  per-point engine settings, arrays of the batch shape, whose keys the built-in engines take from
  :data:`SETTINGS` (name -> meaning; an added engine may record more). ``result.settings["dt"]``
  is the explicit form; ``result.dt`` (attribute access to a setting) is kept as a shorthand.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np

__all__ = ["Result", "STATUSES", "SETTINGS", "PROBABILITY_SLACK", "TRACE_TOL", "classify", "make_result"]

STATUSES = ("converged", "not converged", "unchecked", "not finite", "unphysical", "beyond weak coupling")
#: how far outside [0, 1] a probability may lie by rounding alone, per precision, when the
#: point has no larger error estimate (fixed settings); beyond it the point is "unphysical"
PROBABILITY_SLACK = {"float64": 1e-9, "float32": 1e-3}
#: the trace defect |Tr ρ − 1| accepted without a larger error estimate, per precision
TRACE_TOL = {"float64": 1e-6, "float32": 1e-3}
#: the keys of `Result.settings` that the built-in engines record (per point) and their meaning
SETTINGS = {
    "n_steps": "NEQB: steps of the converged run",
    "kappa": "NEQB: the weak-coupling measure κ (beyond lzjax.neqb.KAPPA_MAX: 'beyond weak coupling')",
    "dt": "QUAPI: Trotter step of the (finest) run, 1/Δ",
    "kmax": "QUAPI ADT: memory length in steps (fixed settings; the ladder's budget)",
    "memory": "QUAPI PT ladder: memory K of the fine run, in steps (the memory time is PT.memory_time)",
    "chi": "QUAPI PT ladder: bond dimension of the fine run's tensor (before padding)",
    "pt_tol": "QUAPI PT ladder: relative truncation of the fine run's compression",
    "eps_q": "QUAPI ladder: half-width of the exact window used, Δ",
    "tail": "QUAPI ladder: ∫Γ1 dt left to the golden-rule tails",
    "trace_err": "QUAPI: |Tr ρ − 1| (the largest over the ladder's runs; added to the error bar)",
    "err_dt": "QUAPI ladder: the time-step part of the error bar (max over P_LZ, P_ES)",
    "err_memory": "QUAPI ladder: the memory part of the error bar",
    "err_window": "QUAPI ladder: the window (golden-rule tail) part of the error bar",
    "err_compression": "QUAPI ladder: the compression part of the error bar (PT; 0 for the ADT)",
}


@dataclasses.dataclass(frozen=True)
class Result:
    """Engine output on a batch (see the module docstring for the fields; the keys of `settings`
    are documented in :data:`SETTINGS`)."""

    P_LZ: Any
    P_ES: Any
    P_LZ_err: Any
    P_ES_err: Any
    converged: Any
    eps_max: Any
    t_max: Any
    status: Any
    engine: str = ""
    settings: dict = dataclasses.field(default_factory=dict)

    def __getattr__(self, name):  # only called when normal lookup fails: result.dt = result.settings["dt"]
        settings = object.__getattribute__(self, "settings")
        if name in settings:
            return settings[name]
        raise AttributeError(f"{type(self).__name__} has no field or setting {name!r}")

    def __repr__(self) -> str:
        shape = np.shape(self.P_LZ)
        counts = {s: int(np.sum(np.asarray(self.status) == s)) for s in STATUSES}
        counts = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        return f"Result(engine={self.engine!r}, shape={shape}, {counts}, settings={sorted(self.settings)})"

    def fields(self) -> dict[str, np.ndarray]:
        """Every per-point array by name (results first, then the settings)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("engine", "settings")}
        out.update(self.settings)
        return out


jax.tree_util.register_dataclass(
    Result,
    data_fields=["P_LZ", "P_ES", "P_LZ_err", "P_ES_err", "converged", "eps_max", "t_max", "status", "settings"],
    meta_fields=["engine"],
)


def classify(
    P_LZ, P_ES, P_LZ_err, P_ES_err, converged, *, trace_err=None, beyond=None, precision: str = "float64"
) -> tuple[np.ndarray, ...]:
    """The physical check every result passes: (P_LZ, P_ES, P_LZ_err, P_ES_err, converged, status).

    Flat arrays in, flat arrays out. `converged` None means fixed settings (no error estimate:
    "unchecked"). A point is "not finite" if a P is NaN/∞; "unphysical" if a P lies below
    −a or above 1 + a, or its trace defect `trace_err` exceeds b, with a = max(error,
    :data:`PROBABILITY_SLACK`) and b = max(error, :data:`TRACE_TOL`) (NaN errors count as
    none): both points get P = NaN, error ∞, converged False. `beyond` (bool, NEQB's
    validity) marks the rest "beyond weak coupling", converged False, values kept.
    """
    p_lz, p_es = (np.array(a, copy=True).reshape(-1) for a in (P_LZ, P_ES))
    err_lz, err_es = (np.array(np.broadcast_to(a, p_lz.shape), dtype=float) for a in (P_LZ_err, P_ES_err))
    checked = converged is not None
    converged = (
        np.zeros(p_lz.shape, dtype=bool)
        if converged is None
        else np.array(np.broadcast_to(converged, p_lz.shape), dtype=bool)
    )
    finite = np.isfinite(p_lz) & np.isfinite(p_es)
    known = lambda err: np.where(np.isnan(err), 0.0, err)  # noqa: E731  (no estimate: none)
    slack_lz = np.maximum(known(err_lz), PROBABILITY_SLACK[precision])
    slack_es = np.maximum(known(err_es), PROBABILITY_SLACK[precision])
    with np.errstate(invalid="ignore"):
        outside = (p_lz < -slack_lz) | (p_lz > 1.0 + slack_lz) | (p_es < -slack_es) | (p_es > 1.0 + slack_es)
        if trace_err is not None:
            trace = np.broadcast_to(np.asarray(trace_err, dtype=float), p_lz.shape)
            allowed = np.maximum(np.maximum(known(err_lz), known(err_es)), TRACE_TOL[precision])
            outside |= ~(trace <= allowed)  # a NaN trace defect is unphysical too
    unphysical = finite & outside
    hidden = ~finite | unphysical
    p_lz[hidden] = np.nan
    p_es[hidden] = np.nan
    err_lz[hidden] = np.inf
    err_es[hidden] = np.inf
    converged &= ~hidden
    weak = np.zeros(p_lz.shape, dtype=bool) if beyond is None else np.broadcast_to(np.asarray(beyond, bool), p_lz.shape)
    weak = weak & ~hidden
    converged &= ~weak
    status = np.where(converged, "converged", "not converged" if checked else "unchecked")
    status = np.where(weak, "beyond weak coupling", status)
    status = np.where(unphysical, "unphysical", status)
    status = np.where(~finite, "not finite", status)
    return p_lz, p_es, err_lz, err_es, converged, status.astype(str)


def make_result(
    *,
    P_LZ,
    P_ES,
    P_LZ_err,
    P_ES_err,
    tol,
    eps_max,
    t_max,
    engine,
    settings,
    shape,
    beyond=None,
    clip: bool = False,
    precision: str | None = None,
) -> Result:
    """Assemble a :class:`Result` of batch `shape` from flat arrays; sets `converged` and `status`
    through :func:`classify` (the trace defect is read from ``settings["trace_err"]`` if present).

    `tol` None means fixed settings (status "unchecked"). `beyond`: NEQB's validity flag.
    `clip`: values that pass the check (outside [0, 1] by less than their error) are reported
    clipped to [0, 1] (extrapolated values; the error bar keeps the full correction).
    `precision`: the engine's ("float64" or "float32": the rounding slack of the check); None
    reads it from the dtype of `P_LZ` (an engine whose float32 path returns float64 must say so).
    """
    p_lz = np.array(P_LZ).reshape(-1)  # dtype follows the engine's precision
    if precision is None:
        precision = "float32" if p_lz.dtype in (np.float32, np.complex64) else "float64"
    err_lz, err_es = (np.array(np.broadcast_to(a, p_lz.shape), dtype=float) for a in (P_LZ_err, P_ES_err))
    converged = None if tol is None else (err_lz <= tol) & (err_es <= tol)
    trace = settings.get("trace_err")
    p_lz, p_es, err_lz, err_es, converged, status = classify(
        p_lz, P_ES, err_lz, err_es, converged, trace_err=trace, beyond=beyond, precision=precision
    )
    if clip:
        p_lz, p_es = np.clip(p_lz, 0.0, 1.0), np.clip(p_es, 0.0, 1.0)  # NaN stays NaN
    reshape = lambda a: np.asarray(a).reshape(shape)  # noqa: E731
    return Result(
        P_LZ=reshape(p_lz),
        P_ES=reshape(p_es),
        P_LZ_err=reshape(err_lz),
        P_ES_err=reshape(err_es),
        converged=reshape(converged),
        eps_max=reshape(np.broadcast_to(eps_max, p_lz.shape)),
        t_max=reshape(np.broadcast_to(t_max, p_lz.shape)),
        status=reshape(status),
        engine=engine,
        settings={k: reshape(np.broadcast_to(v, p_lz.shape)) for k, v in settings.items()},
    )
