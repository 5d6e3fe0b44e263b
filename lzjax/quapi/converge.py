"""QUAPI entry points: single point, vmapped batch with a memory guard, convergence ladder.

Three layers (STYLE.md): `quapi_probabilities` is the pure per-point function (jit/vmap/grad
friendly); `solve_quapi` validates in Python, guards memory and runs one vmapped batch, split
into scan chunks for a host-side progress bar; `converge_quapi` runs ladders in (δt, k_max,
t_max) and reports the spread as the error bar.
Times (dt, tmax) are in units of 1/Δ of the problem (ħ = 1); probabilities are dimensionless.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..bath import relaxation_window_energy
from ..model import LZProblem, dimensionless, flatten_problem
from .adt import adt_readout, adt_start, adt_steps, factored_influence
from .influence import eta_coefficients
from .propagator import lz_protocol
from .window import window_protocol, window_readout

__all__ = ["QUAPIResult", "quapi_probabilities", "solve_quapi", "converge_quapi",
           "estimate_memory_bytes", "window_eps_max", "KMAX_RANGE"]

KMAX_RANGE = (1, 14)
_MAX_STEPS = 2_000_000


@partial(jax.tree_util.register_dataclass, data_fields=[
    "P_LZ", "P_ES", "P_LZ_err", "P_ES_err", "dt", "kmax", "tmax", "converged"], meta_fields=[])
@dataclasses.dataclass(frozen=True)
class QUAPIResult:
    """QUAPI probabilities and the settings behind them (arrays of the batch shape).

    `P_LZ_err`, `P_ES_err`: error estimates. NaN from `solve_quapi` (fixed settings, no
    estimate); from `converge_quapi` the spread of the ladder (see there).
    `dt`, `tmax`: time step and protocol duration used (units 1/Δ; tmax = n_steps·dt exactly).
    `kmax`: memory in steps. `converged`: error estimates below the requested tolerance
    (True for fixed settings, meaning "ran"; check the errors).
    """

    P_LZ: Any
    P_ES: Any
    P_LZ_err: Any
    P_ES_err: Any
    dt: Any
    kmax: Any
    tmax: Any
    converged: Any


# ---- per point, dimensionless (Δ = 1) ---------------------------------------------------------

def _prepare(problem: LZProblem, dt, n_steps: int, kmax: int):
    """Protocol, η, influence tensor and the first k_max ADT steps."""
    k_steps, rho0, observe = lz_protocol(problem, dt, n_steps)
    eta = eta_coefficients(problem.bath, dt, kmax)
    tensor = factored_influence(eta.interior)  # ((4, 4), (4,)*kmax)
    a, _ = adt_start(k_steps[:kmax], rho0, eta, kmax)
    return a, tensor, k_steps, eta.edge, observe


def _chunk(a, tensor, k_seq):
    return adt_steps(a, tensor, k_seq)[0]


def _finish(a, k_last, edge, observe):
    rho = adt_readout(a, k_last, edge)  # (2, 4): rows start in ground / excited state
    p = jnp.real(jnp.sum(observe * rho, axis=-1))
    return p[0], p[1]


def _prepare_window(problem: LZProblem, dt, n_steps: int, kmax: int, eps_max):
    """As `_prepare`, on the window |ε| ≤ ε_q = v N δt/2 with the dressed start after the
    golden-rule incoming tail from −ε_max (:mod:`lzjax.quapi.window`)."""
    k_steps, rho0 = window_protocol(problem, dt, n_steps, eps_max)
    eta = eta_coefficients(problem.bath, dt, kmax)
    tensor = factored_influence(eta.interior)
    a, _ = adt_start(k_steps[:kmax], rho0, eta, kmax)
    return a, tensor, k_steps, eta.edge


def _finish_window(a, k_last, edge, problem, dt, n_steps: int, eps_max):
    rho = adt_readout(a, k_last, edge)  # (2, 4)
    return window_readout(rho, problem, 0.5 * n_steps * dt, eps_max)


def quapi_window_probabilities(problem: LZProblem, *, dt: float, kmax: int, eps_q: float,
                               eps_max: float):
    """Expert call: (P_LZ, P_ES) of windowed QUAPI at fixed settings, no checks, no error estimate.

    QUAPI over |ε| ≤ ε_q (N = round(2 ε_q/(v δt)) steps, so ε_q is adjusted to v N δt/2), dressed
    start, asymptotic read-out, and **golden-rule** population tails over ε_q < |ε| ≤ ε_max
    (:mod:`lzjax.quapi.window`). Linear drive only. `eps_q`, `eps_max` in units of Δ, `dt` in 1/Δ,
    all Python numbers except `eps_max` (may be traced); `problem` leaves scalars.
    """
    d = problem.drive.delta
    n_steps = _steps_for(dt * d, 2.0 * (eps_q / d) / float(problem.drive.v / d**2))
    dimless = dimensionless(problem)
    dtl, em = dt * d, eps_max / d
    a, tensor, k_steps, edge = _prepare_window(dimless, dtl, n_steps, kmax, em)
    a = _chunk(a, tensor, k_steps[kmax:n_steps - 1])
    return _finish_window(a, k_steps[n_steps - 1], edge, dimless, dtl, n_steps, em)


def _steps_for(dt: float, tmax: float) -> int:
    return int(round(tmax / dt))


def quapi_probabilities(problem: LZProblem, *, dt: float, kmax: int, tmax: float):
    """Expert call: (P_LZ, P_ES) of one point at fixed settings, no checks, no error estimate.

    `problem` leaves are scalars (vmap it for batches; Δ ≠ 1 is rescaled here), `dt` and
    `tmax` Python numbers in units of 1/Δ (they fix the static step count N = round(tmax/dt)),
    `kmax` the memory in steps. Differentiable in the problem leaves.
    """
    n_steps = _steps_for(dt, tmax)
    dimless = dimensionless(problem)
    a, tensor, k_steps, edge, observe = _prepare(dimless, dt * problem.drive.delta, n_steps, kmax)
    a = _chunk(a, tensor, k_steps[kmax:n_steps - 1])
    return _finish(a, k_steps[n_steps - 1], edge, observe)


# ---- batch: validation, memory guard, chunked vmapped scan --------------------------------------

def _available_memory_bytes() -> int:
    """Free memory of the default device, or of the host (os.sysconf) where JAX does not say."""
    try:
        stats = jax.devices()[0].memory_stats()
    except Exception:  # noqa: BLE001 - backends without memory stats
        stats = None
    if stats and "bytes_limit" in stats:
        return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))


def estimate_memory_bytes(kmax: int, batch: int, dtype=jnp.complex128) -> int:
    """Peak bytes of the ADT for `batch` points: per point the influence tensor 4^(kmax+1)
    plus three ADT copies (in, out, one temporary) of 2·4^kmax elements (two initial states),
    i.e. 10·4^kmax elements of `dtype`. Excludes the O(n_steps) step propagators (256 B/step)."""
    itemsize = jnp.dtype(dtype).itemsize
    return int(batch) * 10 * 4 ** int(kmax) * itemsize


def _check_memory(kmax: int, batch: int, fraction: float = 0.8) -> None:
    need = estimate_memory_bytes(kmax, batch)
    have = int(fraction * _available_memory_bytes())
    if need <= have:
        return
    per_point = estimate_memory_bytes(kmax, 1)
    fit_batch = have // per_point
    fit_kmax = max((k for k in range(KMAX_RANGE[0], KMAX_RANGE[1] + 1)
                    if estimate_memory_bytes(k, batch) <= have), default=None)
    raise ValueError(
        f"kmax={kmax} with batch={batch} needs ~{need / 2**30:.2f} GiB but ~{have / 2**30:.2f} GiB "
        f"is available: use batch <= {fit_batch} at this kmax"
        + (f", or kmax <= {fit_kmax} at this batch" if fit_kmax else "")
        + " (or split the sweep into chunks)"
    )


def _validate(dt, kmax, tmax) -> int:
    if isinstance(kmax, bool) or not isinstance(kmax, (int, np.integer)) or not (
            KMAX_RANGE[0] <= kmax <= KMAX_RANGE[1]):
        raise ValueError(f"kmax must be an integer in [{KMAX_RANGE[0]}, {KMAX_RANGE[1]}], got {kmax!r}")
    for name, value in (("dt", dt), ("tmax", tmax)):
        if not isinstance(value, (int, float, np.floating, np.integer)) or not (
                math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite number > 0 (units 1/delta), got {value!r}")
    n_steps = _steps_for(dt, tmax)
    if not (kmax + 1 <= n_steps <= _MAX_STEPS):
        raise ValueError(
            f"tmax/dt must give a step count in [kmax + 1, {_MAX_STEPS}] = [{kmax + 1}, {_MAX_STEPS}]; "
            f"got tmax={tmax!r}, dt={dt!r} -> {n_steps} steps")
    return n_steps


_vprepare = jax.jit(jax.vmap(_prepare, in_axes=(0, 0, None, None)), static_argnums=(2, 3))
_vchunk = jax.jit(jax.vmap(_chunk))
_vfinish = jax.jit(jax.vmap(_finish))
_vprepare_window = jax.jit(jax.vmap(_prepare_window, in_axes=(0, 0, None, None, 0)),
                           static_argnums=(2, 3))
_vfinish_window = jax.jit(jax.vmap(_finish_window, in_axes=(0, 0, 0, 0, 0, None, 0)),
                          static_argnums=(5,))


def _progress_bar(total: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _StderrBar(total)
    return tqdm(total=total, desc="QUAPI steps", unit="step")


class _StderrBar:
    """Minimal stand-in for tqdm: one carriage-return line on stderr."""

    def __init__(self, total):
        self.total, self.n = total, 0

    def update(self, n):
        self.n += n
        sys.stderr.write(f"\rQUAPI steps {self.n}/{self.total}")
        sys.stderr.flush()

    def close(self):
        sys.stderr.write("\n")


def _run_batch(flat: LZProblem, dt_dimless, n_steps: int, kmax: int, progress: bool,
               n_chunks: int = 40, eps_max=None):
    """(P_LZ, P_ES) for a flat batch; the steady steps run in chunks of one jitted function.

    With `eps_max` (dimensionless, (batch,)) the step grid is the QUAPI window of
    :mod:`lzjax.quapi.window` (golden-rule tails up to ε_max), else the plain protocol."""
    if eps_max is None:
        a, tensor, k_steps, edge, observe = _vprepare(flat, dt_dimless, n_steps, kmax)
    else:
        a, tensor, k_steps, edge = _vprepare_window(flat, dt_dimless, n_steps, kmax, eps_max)
    first, last = kmax, n_steps - 1  # steady steps use k_steps[first:last]
    size = max(1, math.ceil((last - first) / n_chunks)) if progress else max(1, last - first)
    bar = _progress_bar(n_steps, progress)
    if bar is not None:
        bar.update(kmax)
    for begin in range(first, last, size):
        end = min(begin + size, last)
        a = _vchunk(a, tensor, k_steps[:, begin:end])
        if bar is not None:
            a.block_until_ready()
            bar.update(end - begin)
    if eps_max is None:
        p_lz, p_es = _vfinish(a, k_steps[:, n_steps - 1], edge, observe)
    else:
        p_lz, p_es = _vfinish_window(a, k_steps[:, n_steps - 1], edge, flat, dt_dimless, n_steps,
                                     eps_max)
    if bar is not None:
        bar.update(1)
        bar.close()
    return p_lz, p_es


def solve_quapi(problem: LZProblem, *, dt: float, kmax: int, tmax: float,
                progress: bool = False) -> QUAPIResult:
    """P_LZ and P_ES by QUAPI at fixed settings, for one point or a broadcast batch.

    **Arguments:**
    - `problem`: an :class:`LZProblem`; leaves may be arrays, broadcast together and run as one
      vmapped batch (same static kmax and step count).
    - `dt`: time step (units 1/Δ; accepted: > 0).
    - `kmax`: memory in steps (accepted: integer in [1, 14]; cost ∝ 4^kmax, see
      :func:`estimate_memory_bytes`).
    - `tmax`: protocol duration, from −tmax/2 to +tmax/2 (units 1/Δ; accepted: > 0 with
      kmax + 1 ≤ round(tmax/dt) ≤ 2·10⁶).
    - `progress`: show a progress bar over scan chunks (tqdm if installed); same numbers.

    Errors are NaN and `converged` is False: fixed settings are not checked (use
    :func:`converge_quapi` for error bars and a convergence verdict).
    """
    n_steps = _validate(dt, kmax, tmax)
    flat, shape = flatten_problem(problem)
    batch = int(np.prod(shape, dtype=int))
    _check_memory(kmax, batch)
    delta = np.asarray(flat.drive.delta)
    p_lz, p_es = _run_batch(dimensionless(flat), jnp.asarray(dt * delta), n_steps, kmax, progress)
    tmax_used = n_steps * dt
    nan = np.full(shape, np.nan)
    return QUAPIResult(
        P_LZ=np.asarray(p_lz).reshape(shape), P_ES=np.asarray(p_es).reshape(shape),
        P_LZ_err=nan, P_ES_err=nan.copy(), dt=np.full(shape, float(dt)),
        kmax=np.full(shape, int(kmax)), tmax=np.full(shape, tmax_used),
        converged=np.zeros(shape, dtype=bool),
    )


def window_eps_max(problem: LZProblem, tol):
    """Half-width ε_max (units Δ = 1, dimensionless `problem`) of the QUAPI protocol window.

    max of 20, the coherent tail E³ ≥ 8v/tol (the projective read-out oscillates with amplitude
    ~ v/E³) and the bath tail (γ/2) E^s e^{−E/ω_c} coth(E/2T) · 4ω_c/v ≤ tol (a bound on ∫Γ1 dt
    beyond ε_max, :func:`lzjax.bath.relaxation_window_energy`).
    """
    v, bath = problem.drive.v, problem.bath
    coherent = (8.0 * v / tol) ** (1.0 / 3.0)
    thermal = relaxation_window_energy(bath, v, tol)
    return jnp.maximum(jnp.maximum(coherent, thermal), 20.0)


def converge_quapi(problem: LZProblem, *, tol: float = 1e-3, budget: int = 8,
                   max_rungs: int = 4, progress: bool = False) -> QUAPIResult:
    """P_LZ and P_ES by QUAPI with a convergence ladder in (δt, k_max, t_max) and error bars.

    **Arguments:**
    - `problem`: an :class:`LZProblem` (leaves may be arrays: one batch, shared step counts).
    - `tol`: target absolute error of P_LZ and P_ES (accepted: 1e-6 ≤ tol ≤ 0.1).
    - `budget`: largest k_max the ladder may use (accepted: integer in [2, 14]); the cost is
      ∝ 4^budget per step (:func:`estimate_memory_bytes` for memory).
    - `max_rungs`: number of δt rungs (accepted: integer in [2, 8]).

    Ladder, per point:
    1. t_max = 2 ε_max/v with ε_max from :func:`window_eps_max` (coherent and bath tails at
       `tol`). δt must keep the largest level splitting below the Nyquist limit,
       E_max δt < π: beyond it the discrete path aliases the system frequency and the bath
       drives spurious transitions (measured: P_LZ error growing with t_max at δt = 0.2, v = 1,
       T = 0). Start δt_0 = min(0.2, 1/ω_c, 2/(1.25 E_max)); all points share the step count.
    2. Rungs δt_j = δt_0 · 0.8^j with k_max = budget and budget − 1: the memory error is
       |P(budget) − P(budget − 1)|.
    3. Richardson in δt² over the last two rungs (QUAPI's symmetric Trotter error is O(δt²));
       error = |Richardson correction| + memory error + |P(1.25 t_max) − P(t_max)| (window
       check at δt_0). Stops when every point is below `tol`, else `converged` = False.
    The returned `dt` is the finest rung (units 1/Δ), `kmax` = budget.
    """
    if not (1e-6 <= tol <= 0.1):
        raise ValueError(f"tol must be in [1e-6, 0.1], got {tol!r}")
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or not 2 <= budget <= 14:
        raise ValueError(f"budget (largest kmax) must be an integer in [2, 14], got {budget!r}")
    if not isinstance(max_rungs, (int, np.integer)) or not 2 <= max_rungs <= 8:
        raise ValueError(f"max_rungs must be an integer in [2, 8], got {max_rungs!r}")
    flat, shape = flatten_problem(problem)
    batch = int(np.prod(shape, dtype=int))
    _check_memory(budget, batch)
    dimless = dimensionless(flat)
    delta = np.asarray(flat.drive.delta)
    eps_max = np.asarray(jax.jit(jax.vmap(partial(window_eps_max, tol=tol)))(dimless))
    v = np.asarray(dimless.drive.v)
    tmax = 2.0 * eps_max / v  # (batch,) units 1/Δ
    e_max = np.sqrt(1.0 + (1.25 * eps_max) ** 2)
    dt0 = np.minimum(np.minimum(0.2, 1.0 / np.asarray(dimless.bath.omega_c)), 2.0 / e_max)
    n0 = int(np.max(np.ceil(tmax / dt0)))

    def run(n_steps, kmax, stretch=1.0):
        dt = stretch * tmax / n_steps
        p = _run_batch(dimless, jnp.asarray(dt), n_steps, kmax, progress)
        return np.stack([np.asarray(p[0]), np.asarray(p[1])]), dt

    base, _ = run(n0, budget - 1)
    wide, _ = run(int(math.ceil(1.25 * n0)), budget - 1, stretch=1.25 * n0 / math.ceil(1.25 * n0))
    window_err = np.abs(wide - base)
    rungs = []  # (dt, P at budget, memory error)
    for j in range(max_rungs):
        n_steps = int(math.ceil(n0 / 0.8**j))
        p_hi, dt = run(n_steps, budget)
        p_lo = run(n_steps, budget - 1)[0] if j > 0 else base
        rungs.append((dt, p_hi, np.abs(p_hi - p_lo)))
        if j == 0:
            continue
        (dt1, p1, _), (dt2, p2, mem2) = rungs[-2], rungs[-1]
        ratio = dt2**2 / (dt1**2 - dt2**2)
        value = p2 + (p2 - p1) * ratio
        err = np.abs(value - p2) + mem2 + window_err
        converged = np.all(err <= tol, axis=0)
        if np.all(converged):
            break
    final_dt = rungs[-1][0] / delta
    return QUAPIResult(
        P_LZ=value[0].reshape(shape), P_ES=value[1].reshape(shape),
        P_LZ_err=err[0].reshape(shape), P_ES_err=err[1].reshape(shape),
        dt=final_dt.reshape(shape), kmax=np.full(shape, int(budget)),
        tmax=(tmax / delta).reshape(shape), converged=converged.reshape(shape),
    )
