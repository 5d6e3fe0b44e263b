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
  settings, no error estimate) or "not finite" (the engine produced NaN/∞ — never returned
  as a number: P is NaN there and the error ∞).
- `engine`: the engine's name ("neqb", "quapi-adt", ...); `settings`: a dict of per-point engine
  settings (NEQB: n_steps; QUAPI: dt, kmax, ...), also readable as attributes (`result.dt`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np

__all__ = ["Result", "STATUSES", "make_result"]

STATUSES = ("converged", "not converged", "unchecked", "not finite")


@dataclasses.dataclass(frozen=True)
class Result:
    """Engine output on a batch (see the module docstring for the fields)."""

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

    def __getattr__(self, name):  # only called when normal lookup fails
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
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
               if f.name not in ("engine", "settings")}
        out.update(self.settings)
        return out


jax.tree_util.register_dataclass(
    Result, data_fields=["P_LZ", "P_ES", "P_LZ_err", "P_ES_err", "converged", "eps_max", "t_max",
                         "status", "settings"], meta_fields=["engine"])


def make_result(*, P_LZ, P_ES, P_LZ_err, P_ES_err, tol, eps_max, t_max, engine, settings,
                shape) -> Result:
    """Assemble a :class:`Result` of batch `shape` from flat arrays; sets `converged` and `status`.

    `tol` None means fixed settings (status "unchecked"). Points whose P is not finite get
    error ∞, converged False, status "not finite".
    """
    p_lz, p_es = (np.array(a).reshape(-1) for a in (P_LZ, P_ES))  # dtype follows the engine's precision
    err_lz, err_es = (np.array(np.broadcast_to(a, p_lz.shape), dtype=float) for a in (P_LZ_err, P_ES_err))
    finite = np.isfinite(p_lz) & np.isfinite(p_es)
    err_lz[~finite] = np.inf
    err_es[~finite] = np.inf
    if tol is None:
        converged = np.zeros(p_lz.shape, dtype=bool)
        status = np.where(finite, "unchecked", "not finite")
    else:
        converged = (err_lz <= tol) & (err_es <= tol)
        status = np.where(converged, "converged", np.where(finite, "not converged", "not finite"))
    reshape = lambda a: np.asarray(a).reshape(shape)  # noqa: E731
    return Result(
        P_LZ=reshape(p_lz), P_ES=reshape(p_es), P_LZ_err=reshape(err_lz), P_ES_err=reshape(err_es),
        converged=reshape(converged), eps_max=reshape(np.broadcast_to(eps_max, p_lz.shape)),
        t_max=reshape(np.broadcast_to(t_max, p_lz.shape)), status=reshape(status.astype(str)),
        engine=engine, settings={k: reshape(np.broadcast_to(v, p_lz.shape)) for k, v in settings.items()},
    )
