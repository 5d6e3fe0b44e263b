"""QUAPI entry points: single point, vmapped batch with a memory guard, convergence ladder.

Three layers (STYLE.md): `quapi_probabilities` is the pure per-point function (jit/vmap/grad
friendly); `solve_quapi` validates in Python, guards memory and runs one vmapped batch, split
into scan chunks for a host-side progress bar (whole protocol, projective read-out);
`converge_quapi` runs windowed QUAPI (:mod:`lzjax.quapi.window`: QUAPI over |ε| ≤ ε_q,
golden-rule population tails beyond) with Richardson extrapolation in δt and k_max and reports
the corrections and the window spread as the error bar; `quapi_window_probabilities` is its
per-point expert call.
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


def _prepare_window(problem: LZProblem, dt, n_steps: int, kmax: int, eps_max, compensate: bool = False):
    """As `_prepare`, on the window |ε| ≤ ε_q = v N δt/2 with the dressed start after the
    golden-rule incoming tail from −ε_max (:mod:`lzjax.quapi.window`)."""
    k_steps, rho0 = window_protocol(problem, dt, n_steps, eps_max)
    eta = eta_coefficients(problem.bath, dt, kmax, compensate)
    tensor = factored_influence(eta.interior)
    a, _ = adt_start(k_steps[:kmax], rho0, eta, kmax)
    return a, tensor, k_steps, eta.edge


def _finish_window(a, k_last, edge, problem, dt, n_steps: int, eps_max):
    rho = adt_readout(a, k_last, edge)  # (2, 4)
    return window_readout(rho, problem, 0.5 * n_steps * dt, eps_max)


def quapi_window_probabilities(problem: LZProblem, *, dt: float, kmax: int, eps_q: float,
                               eps_max: float, compensate: bool = False):
    """Expert call: (P_LZ, P_ES) of windowed QUAPI at fixed settings, no checks, no error estimate.

    QUAPI over |ε| ≤ ε_q (N = round(2 ε_q/(v δt)) steps, so ε_q is adjusted to v N δt/2), dressed
    start, asymptotic read-out, and **golden-rule** population tails over ε_q < |ε| ≤ ε_max
    (:mod:`lzjax.quapi.window`). Linear drive only. `eps_q`, `eps_max` in units of Δ, `dt` in 1/Δ,
    all Python numbers except `eps_max` (may be traced); `problem` leaves scalars.
    `compensate`: η from the box-compensated spectral density
    (:func:`lzjax.quapi.influence.eta_coefficients`).
    """
    d = problem.drive.delta
    n_steps = _steps_for(dt * d, 2.0 * (eps_q / d) / float(problem.drive.v / d**2))
    dimless = dimensionless(problem)
    dtl, em = dt * d, eps_max / d
    a, tensor, k_steps, edge = _prepare_window(dimless, dtl, n_steps, kmax, em, compensate)
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
    """Peak bytes of the ADT for `batch` points: per point the factored influence tensor 4^kmax
    (:func:`lzjax.quapi.adt.factored_influence`) plus three ADT copies (in, out, one temporary)
    of 2·4^kmax elements (two initial states), i.e. 7·4^kmax elements of `dtype`. Excludes the O(n_steps) step propagators (256 B/step)."""
    itemsize = jnp.dtype(dtype).itemsize
    return int(batch) * 7 * 4 ** int(kmax) * itemsize


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
_vprepare_window = jax.jit(jax.vmap(_prepare_window, in_axes=(0, 0, None, None, 0, None)),
                           static_argnums=(2, 3, 5))
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


def _to_single(tree):
    """complex128 → complex64, float64 → float32 (the opt-in float32 ADT path)."""
    def cast(x):
        x = jnp.asarray(x)
        return x.astype(jnp.complex64) if jnp.iscomplexobj(x) else x.astype(jnp.float32)
    return jax.tree_util.tree_map(cast, tree)


def _run_batch(flat: LZProblem, dt_dimless, n_steps: int, kmax: int, progress: bool,
               n_chunks: int = 40, eps_max=None, single: bool = False, compensate: bool = False):
    """(P_LZ, P_ES) for a flat batch; the steady steps run in chunks of one jitted function.

    With `eps_max` (dimensionless, (batch,)) the step grid is the QUAPI window of
    :mod:`lzjax.quapi.window` (golden-rule tails up to ε_max), else the plain protocol."""
    if eps_max is None:
        a, tensor, k_steps, edge, observe = _vprepare(flat, dt_dimless, n_steps, kmax)
    else:
        a, tensor, k_steps, edge = _vprepare_window(flat, dt_dimless, n_steps, kmax, eps_max,
                                                    compensate)
    if single:  # η, propagators and the first steps stay float64; the hot loop runs in complex64
        a, tensor, k_steps = _to_single((a, tensor, k_steps))
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
    if single:
        a = a.astype(jnp.complex128)
        k_steps = k_steps.astype(jnp.complex128)
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
                progress: bool = False, precision: str = "float64") -> QUAPIResult:
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
    - `precision`: "float64" (default) or "float32": the ADT iteration (the hot loop) in
      complex64, η and propagators still computed in float64 — an opt-in fast path whose error
      is measured in tests/test_quapi_precision.py and benchmarks/RESULTS.md.

    Errors are NaN and `converged` is False: fixed settings are not checked (use
    :func:`converge_quapi` for error bars and a convergence verdict).
    """
    n_steps = _validate(dt, kmax, tmax)
    if precision not in ("float64", "float32"):
        raise ValueError(f"precision must be 'float64' or 'float32', got {precision!r}")
    flat, shape = flatten_problem(problem)
    batch = int(np.prod(shape, dtype=int))
    _check_memory(kmax, batch)
    delta = np.asarray(flat.drive.delta)
    p_lz, p_es = _run_batch(dimensionless(flat), jnp.asarray(dt * delta), n_steps, kmax, progress,
                            single=precision == "float32")
    tmax_used = n_steps * dt
    nan = np.full(shape, np.nan)
    return QUAPIResult(
        P_LZ=np.asarray(p_lz).reshape(shape), P_ES=np.asarray(p_es).reshape(shape),
        P_LZ_err=nan, P_ES_err=nan.copy(), dt=np.full(shape, float(dt)),
        kmax=np.full(shape, int(kmax)), tmax=np.full(shape, tmax_used),
        converged=np.zeros(shape, dtype=bool),
    )


def _richardson(fine, dt_fine, coarse, dt_coarse):
    """Extrapolation to δt → 0 of a result with a δt² leading error (symmetric Trotter split)."""
    return fine + (fine - coarse) * dt_fine**2 / (dt_coarse**2 - dt_fine**2)


def window_eps_max(problem: LZProblem, tol):
    """Half-width ε_max (units Δ = 1, dimensionless `problem`) of a plain (un-windowed) QUAPI
    protocol, for callers of :func:`solve_quapi`; :func:`converge_quapi` uses the window instead.

    max of 20, the coherent tail E³ ≥ 8v/tol (the projective read-out oscillates with amplitude
    ~ v/E³) and the bath tail (γ/2) E^s e^{−E/ω_c} coth(E/2T) · 4ω_c/v ≤ tol (a bound on ∫Γ1 dt
    beyond ε_max, :func:`lzjax.bath.relaxation_window_energy`).
    """
    v, bath = problem.drive.v, problem.bath
    coherent = (8.0 * v / tol) ** (1.0 / 3.0)
    thermal = relaxation_window_energy(bath, v, tol)
    return jnp.maximum(jnp.maximum(coherent, thermal), 20.0)


def converge_quapi(problem: LZProblem, *, tol: float = 1e-3, budget: int = 10,
                   max_rungs: int = 4, eps_q: float = 15.0, compensate: bool = False,
                   progress: bool = False) -> QUAPIResult:
    """P_LZ and P_ES by windowed QUAPI with extrapolation in (δt, k_max) and error bars.

    **Arguments:**
    - `problem`: an :class:`LZProblem` with the linear drive (leaves may be arrays; points are
      grouped by (v/Δ², ω_c/Δ), each group one vmapped batch).
    - `tol`: target absolute error of P_LZ and P_ES (accepted: 1e-6 ≤ tol ≤ 0.1); it only sets
      the `converged` verdict.
    - `budget`: largest k_max (accepted: integer in [3, 14]); cost ∝ 4^budget per step
      (:func:`estimate_memory_bytes`). The default 10 takes ~12 ms per step (2 initial states, busy 2-core CPU).
    - `max_rungs`: accepted for compatibility (integer in [2, 8]) and unused: the ladder below
      is fixed.
    - `eps_q`: half-width of the QUAPI window in units of Δ (accepted: 5 ≤ ε_q ≤ 40).
    - `compensate`: η from G(ω)/sinc²(ωδt/2) (:func:`lzjax.quapi.influence.box_compensation`):
      the discretised relaxation rates are then golden-rule exact at O(γ) for E < 3π/(4δt), so
      the δt correction shrinks where relaxation at large E dominates (transversal super-Ohmic
      baths); pure dephasing loses its exactness at finite δt. Opt-in; the ladder is the same.
    - `progress`: progress bars over the scan chunks of each run.

    Method (:mod:`lzjax.quapi.window`): QUAPI over |ε| ≤ ε_q from the dressed adiabatic-following
    state, asymptotic read-out, and **golden-rule** population tails (weak-coupling, Markovian)
    over ε_q < |ε| ≤ ε_max, with ε_max where ∫Γ1 dt beyond is below 1e-6
    (:func:`lzjax.bath.relaxation_window_energy`). With K = `budget`, δt = min(0.1, 0.5/ω_c,
    1.5/E(ε_q)) and δt' = δt K/(K − 2) (the same memory time τ = K δt), five runs:

        R1 = (δt', K − 2, ε_q)   R2 = (δt, K, ε_q)   R3 = (δt, K − 2, ε_q)
        R4 = (δt, K − 2, 4ε_q/3)   R5 = (δt', K − 2, 4ε_q/3)

    * Trotter: Richardson in δt² at fixed τ, P_R = R2 + (R2 − R1) δt²/(δt'² − δt²).
    * Memory: the truncated bath correlation C(t) ~ t^−(s+1) makes the memory error fall as τ^−p,
      p = clip(s, 1, 3); extrapolated from R3 → R2: c_mem = (R2 − R3)(K−2)^p/(K^p − (K−2)^p).
      Its uncertainty is the p = 1 extrapolation, e_mem = |R2 − R3|(K−2)/2 ≥ |c_mem|: at practical
      memory times the approach is slower than the asymptotic τ^−s (benchmarks/RESULTS.md, ACE:
      at δt = 0.1, s = 3, K = 10 the memory-converged value lies 8.5e-4 below R2, where
      c_mem = −2.3e-4 and the p = 1 estimate −8.8e-4).
    * Window: the golden-rule tail replaces exact dynamics beyond ε_q; the change of the
      δt-extrapolated value when the window widens, c_win = Rich(R4, R5) − Rich(R3, R1),
      estimates it. (Un-extrapolated, R4 − R3 is dominated by the Trotter error of the added
      range: the discretised path sees the bath through a box filter, rates × sinc²(E δt/2).)

    Value P_R + c_mem; error |P_R − R2| + e_mem + |c_win| (each correction counted in full
    as its own uncertainty). Measured (tests/test_quapi.py): Wubs' point (T = 0, γ = 5e-3, s = 3,
    ω_c = 5, v = 1) and the paper's Fig. 1 points, see there.
    Returns `dt` = δt, `kmax` = K, `tmax` = 2 ε_max/v (the whole protocol, tails included).
    Values are clipped to [0, 1] after extrapolation; the error bar is not reduced by the clip.
    """
    if not (1e-6 <= tol <= 0.1):
        raise ValueError(f"tol must be in [1e-6, 0.1], got {tol!r}")
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or not 3 <= budget <= 14:
        raise ValueError(f"budget (largest kmax) must be an integer in [3, 14], got {budget!r}")
    if not isinstance(max_rungs, (int, np.integer)) or not 2 <= max_rungs <= 8:
        raise ValueError(f"max_rungs must be an integer in [2, 8], got {max_rungs!r}")
    if not isinstance(compensate, (bool, np.bool_)):
        raise ValueError(f"compensate must be True or False, got {compensate!r}")
    if not (isinstance(eps_q, (int, float, np.floating, np.integer)) and 5.0 <= eps_q <= 40.0):
        raise ValueError(f"eps_q must be a number in [5, 40] (units of delta), got {eps_q!r}")
    flat, shape = flatten_problem(problem)
    dimless = dimensionless(flat)
    delta = np.asarray(flat.drive.delta)
    v = np.asarray(dimless.drive.v)
    omega_c = np.asarray(dimless.bath.omega_c)
    s_exp = np.asarray(dimless.bath.s)
    eps_max = np.asarray(jax.jit(jax.vmap(
        lambda p: relaxation_window_energy(p.bath, p.drive.v, 1e-6)))(dimless))
    eps_max = np.maximum(eps_max, 2.0 * eps_q)
    big, small = budget, budget - 2
    out = np.zeros((2, 2, v.size))  # (value, error) × (LZ, ES) × points
    dt_used = np.zeros(v.size)
    keys = np.stack([v, omega_c], axis=1)
    for key in np.unique(keys, axis=0):
        index = np.nonzero(np.all(keys == key, axis=1))[0]
        _check_memory(big, len(index))
        group = jax.tree_util.tree_map(lambda a: a[index], dimless)
        grp_v, grp_wc = float(key[0]), float(key[1])

        def run(eq, dt_target, kmax):
            n_steps = max(int(math.ceil(2.0 * eq / (grp_v * dt_target))), kmax + 1)
            dt = 2.0 * eq / (grp_v * n_steps)
            p = _run_batch(group, jnp.full(len(index), dt), n_steps, kmax, progress,
                           eps_max=jnp.asarray(eps_max[index]), compensate=bool(compensate))
            return np.stack([np.asarray(p[0]), np.asarray(p[1])]), dt

        dt = min(0.1, 0.5 / grp_wc, 1.5 / math.sqrt(1.0 + eps_q**2))
        wide = 4.0 * eps_q / 3.0
        r2, dt2 = run(eps_q, dt, big)
        r1, dt1 = run(eps_q, dt * big / small, small)
        r3, dt3 = run(eps_q, dt, small)
        r4, dt4 = run(wide, dt, small)
        r5, dt5 = run(wide, dt * big / small, small)
        richardson = _richardson(r2, dt2, r1, dt1)
        p = np.clip(s_exp[index], 1.0, 3.0)
        memory = (r2 - r3) * small**p / (big**p - small**p)
        memory_err = np.abs(r2 - r3) * small / (big - small)  # the p = 1 extrapolation (≥ |memory|)
        # window: both windows Richardson-extrapolated in δt, so that the Trotter error of the
        # added |ε| range (largest there, E δt up to 2) is not mistaken for a tail error
        window = _richardson(r4, dt4, r5, dt5) - _richardson(r3, dt3, r1, dt1)
        out[0][:, index] = richardson + memory
        out[1][:, index] = np.abs(richardson - r2) + memory_err + np.abs(window)
        dt_used[index] = dt2
    value, err = out
    # the extrapolations may step outside [0, 1] by less than their error bar (seen: 1.0007 ±
    # 0.0018); a probability is reported inside [0, 1], the error bar keeps the full correction
    value = np.clip(value, 0.0, 1.0)
    converged = np.all(err <= tol, axis=0)
    return QUAPIResult(
        P_LZ=value[0].reshape(shape), P_ES=value[1].reshape(shape),
        P_LZ_err=err[0].reshape(shape), P_ES_err=err[1].reshape(shape),
        dt=(dt_used / delta).reshape(shape), kmax=np.full(shape, int(budget)),
        tmax=(2.0 * eps_max / v / delta).reshape(shape), converged=converged.reshape(shape),
    )
