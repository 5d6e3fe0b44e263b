"""Time-resolved NEQB dynamics along any drive protocol, as labelled arrays (units Δ = ħ = 1).

Three layers (STYLE.md): :func:`neqb_trajectory` validates, broadcasts the parameters into a
flat batch and returns an ``xarray.Dataset``; one jitted, vmapped core per static grid shape
(:func:`neqb_path`, cached by its static arguments); the per-point pure function
:func:`neqb_path` (Magnus-4 steps of :func:`lzjax.neqb.cf4_step`, nested `lax.scan`: only the
recorded states are stored, never every step).

Starts and read-outs:

* finite protocols (:mod:`lzjax.protocols`): the bare instantaneous ground and excited states
  r = (±1, 0, 0) at t_start; the recorded populations are projective (instantaneous eigenbasis
  at finite bias, no asymptotic correction);
* the infinite linear sweep (:class:`lzjax.model.Drive`, no `eps_start`/`eps_end`): exactly the
  set-up of :func:`lzjax.solve_neqb` — golden-rule tail from −ε_max to −ε_coh, dressed start, full
  Bloch equations on |ε| ≤ ε_coh (recorded), asymptotic read-out and outgoing tail — so the
  dataset's `P_LZ`, `P_ES` equal `solve_neqb`; the recorded projective P_ground at +ε_coh differs
  from them by the coherent oscillation ~ v/E³ and the tail.

Observables per record (both starts, dimension `start` = ground, excited): P_ground, P_excited
(instantaneous eigenstates), P_up (diabatic σz = +1), the adiabatic Bloch vector r_x, r_y, r_z
(ρ = (1 − r·τ)/2, r_x = +1 the ground state), and the trace.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .adiabatic import asymptotic_rx, dressed_state, rate_window, relax_tail
from .checks import MAX_STEPS, check_batch_steps, check_choice, check_integer, check_number
from .model import Drive, LinearDrive
from .neqb import cf4_step, check_neqb_validity, window_eps_max
from .protocols import DrivenSystem
from .trajectories import HashableAxes, drop_ends, observables, prepare_system, trajectory_dataset

__all__ = [
    "neqb_trajectory",
    "neqb_path",
    "crossing_window",
    "windowed_probabilities",
    "windowed_point",
    "rate_window",
    "record_grid",
    "check_neqb_steps",
    "check_window_steps",
    "GRIDS",
    "NEQB_BYTES_PER_STEP",
    "WINDOW_BYTES_PER_STEP",
]

#: time grids: uniform in t, or uniform in u = asinh(ε) (linear drives only)
GRIDS = ("uniform", "asinh")
#: steps of each golden-rule tail of the infinite sweep (as in solve_neqb)
N_OUTER = 256
#: bytes per step and point that :func:`neqb_path` holds at once (grid variable and t, float64)
NEQB_BYTES_PER_STEP = 16
#: bytes per step (of one segment) and point of the crossing-window bisection (measured: two
#: vmapped trials, three asinh segments each)
WINDOW_BYTES_PER_STEP = 112


def check_neqb_steps(n_points: int, *, grid: str, span=None, dt: float = 0.01, n_steps: int = 4096) -> int:
    """Steps per point of an NEQB trajectory, checked before any allocation: `n_steps` on the
    asinh grid, ceil(max `span`/`dt`) on the uniform grid (`span` = t_end − t_start per point,
    1/Δ). Accepted: at most :data:`lzjax.checks.MAX_STEPS` steps per point and n_points × steps
    × :data:`NEQB_BYTES_PER_STEP` within :data:`lzjax.checks.MAX_BATCH_BYTES`
    (:func:`lzjax.checks.check_batch_steps`); `n_steps` an integer in [16, MAX_STEPS], `dt` in
    [1e-5, 1]. Returns the count; ValueError naming the setting otherwise."""
    if grid == "asinh":
        n_steps = check_integer("n_steps", n_steps, 16, MAX_STEPS)
        return check_batch_steps(n_steps, n_points, NEQB_BYTES_PER_STEP, settings="n_steps")
    dt = check_number("dt", dt, 1e-5, 1.0)
    longest = float(np.max(np.asarray(span, dtype=float)))
    return check_batch_steps(longest / dt, n_points, NEQB_BYTES_PER_STEP, settings="(t_end - t_start)/dt")


def check_window_steps(n_seg, n_points: int) -> int:
    """`n_seg` (asinh steps per segment of the crossing-window runs): an integer in [16,
    :data:`lzjax.checks.MAX_STEPS`] with n_points × n_seg × :data:`WINDOW_BYTES_PER_STEP` within
    :data:`lzjax.checks.MAX_BATCH_BYTES`, checked before any allocation. Returns it as int."""
    n_seg = check_integer("n_seg", n_seg, 16, MAX_STEPS)
    return check_batch_steps(n_seg, n_points, WINDOW_BYTES_PER_STEP, settings="n_seg")


# ---- batch preparation (plain Python, before tracing) ----------------------------------------


def _window_of(system) -> tuple[np.ndarray, np.ndarray]:
    """Concrete (t_start, t_end) per point of a finite protocol."""
    drive = system.drive
    n = np.asarray(system.theta).size
    t0 = np.broadcast_to(np.asarray(drive.t_start, float), (n,))
    t1 = np.broadcast_to(np.asarray(drive.t_end, float), (n,))
    return t0, t1


def record_grid(span_lo, span_hi, *, times=None, every=None, step=None):
    """Record boundaries (P, m + 1) in the grid variable and the static sub-steps per segment.

    `span_lo`, `span_hi` (P,): grid-variable range per point; `times` (m,) requested values of
    the grid variable (the same for every point, inside every range) or `every` (records every
    `every` steps of at most `step`). The first boundary is the start, the last the end.
    """
    span = span_hi - span_lo
    if times is not None:
        inner = np.asarray(times, float)[None, :]
        if np.any(inner < span_lo[:, None] - 1e-12 * np.abs(span_lo[:, None])) or np.any(
            inner > span_hi[:, None] + 1e-12 * np.abs(span_hi[:, None])
        ):
            raise ValueError(
                f"times must lie inside the protocol window of every point "
                f"[{float(np.max(span_lo)):g}, {float(np.min(span_hi)):g}] (units 1/delta)"
            )
        bounds = np.concatenate(
            [span_lo[:, None], np.broadcast_to(inner, (len(span), inner.shape[1])), span_hi[:, None]], axis=1
        )
        n_sub = max(1, int(np.ceil(np.max(np.diff(bounds, axis=1)) / step - 1e-9)))
        return bounds, n_sub
    n_total = int(np.ceil(np.max(span) / step - 1e-9))
    n_rec = max(1, -(-n_total // every))  # pyright: ignore[reportOperatorIssue]  # every is given when times is None
    frac = np.linspace(0.0, 1.0, n_rec + 1)
    return span_lo[:, None] + span[:, None] * frac[None, :], every


# ---- the per-point core -----------------------------------------------------------------------


def _to_time(u, drive, grid: str):
    return jnp.sinh(u) / drive.v if grid == "asinh" else u


def neqb_path(system, bounds, state0, n_sub: int, grid: str = "uniform"):
    """Bloch vectors (m + 1, 3, B) at the record boundaries `bounds` (m + 1,) of one point.

    `bounds` in the grid variable (t, or asinh ε for `grid="asinh"`); `n_sub` Magnus-4 steps per
    segment, uniform in the grid variable; `state0` (3, B) at bounds[0]. Pure; nested scans keep
    only the m + 1 records.
    """
    frac = jnp.arange(n_sub + 1) / n_sub
    u = bounds[:-1, None] + (bounds[1:] - bounds[:-1])[:, None] * frac  # (m, n_sub + 1)
    t = _to_time(u, system.drive, grid)

    def segment(state, t_seg):
        state, _ = jax.lax.scan(lambda c, tp: cf4_step(c, tp, system), state, (t_seg[:-1], t_seg[1:]))
        return state, state

    _, states = jax.lax.scan(segment, state0, t)
    return jnp.concatenate([state0[None], states]), _to_time(bounds, system.drive, grid)


def _finite_point(system, bounds, n_sub: int, grid: str):
    state0 = jnp.array([[1.0, -1.0], [0.0, 0.0], [0.0, 0.0]])
    states, t = neqb_path(system, bounds, state0, n_sub, grid)
    return states, t, jnp.full((2,), jnp.nan)


def _infinite_point(system, bounds, eps_max, n_sub: int, grid: str, n_outer: int):
    """Infinite sweep: tails, dressed start, records, asymptotic read-out (as solve_neqb)."""
    t_rec = _to_time(bounds, system.drive, grid)
    eps_lo, eps_hi = system.drive.epsilon(t_rec[0]), system.drive.epsilon(t_rec[-1])
    r_x = relax_tail(jnp.array([1.0, -1.0]), system, -jnp.maximum(eps_max, -eps_lo), eps_lo, n_outer)
    state0 = dressed_state(t_rec[0], r_x, system)
    states, t = neqb_path(system, bounds, state0, n_sub, grid)
    r_end = asymptotic_rx(states[-1], t[-1], system)
    r_end = relax_tail(r_end, system, eps_hi, jnp.maximum(eps_max, eps_hi), n_outer)
    return states, t, jnp.stack([0.5 * (1.0 + r_end[0]), 0.5 * (1.0 - r_end[1])])


@partial(jax.jit, static_argnames=("in_axes", "n_sub", "grid"))
def _finite_batch(system, bounds, *, in_axes, n_sub, grid):
    return jax.vmap(lambda s, b: _finite_point(s, b, n_sub, grid), in_axes=(in_axes.tree, 0))(system, bounds)


@partial(jax.jit, static_argnames=("in_axes", "n_sub", "grid", "n_outer"))
def _infinite_batch(system, bounds, eps_max, *, in_axes, n_sub, grid, n_outer):
    return jax.vmap(lambda s, b, e: _infinite_point(s, b, e, n_sub, grid, n_outer), in_axes=(in_axes.tree, 0, 0))(
        system, bounds, eps_max
    )


def _run(kind, system, axes, *args, **static):
    fn = _finite_batch if kind == "finite" else _infinite_batch
    return fn(system, *args, in_axes=axes, **static)


def snap_record_times(t: np.ndarray, t0, t1, times=None) -> np.ndarray:
    """Recorded times (P, m + 2) of [start, times..., end] (or of [start, ..., end] without
    `times`) set to the exact start, end and requested values they stand for (the grid's
    arithmetic leaves float noise of a few ulp: sinh(asinh(vt))/v, t0 + j·δt)."""
    t = np.array(t, dtype=float)
    t[:, 0], t[:, -1] = np.broadcast_to(t0, t.shape[:1]), np.broadcast_to(t1, t.shape[:1])
    if times is not None:
        t[:, 1:-1] = np.broadcast_to(np.asarray(times, float), (t.shape[0], t.shape[1] - 2))
    return t


def _check_records(times, every):
    if (times is None) == (every is None):
        raise ValueError("give exactly one of times (record times in 1/delta) or every (record every n-th step)")
    if every is not None:
        return None, check_integer("every", every, 1)
    t = np.asarray(times, float)
    if t.ndim != 1 or t.size < 1 or not np.all(np.isfinite(t)) or np.any(np.diff(t) < 0):
        shown = t.tolist() if t.ndim else float(t)
        raise ValueError(f"times must be a non-empty 1-D list of finite, non-decreasing times (1/delta), got {shown!r}")
    return t, None


def neqb_trajectory(
    drive,
    bath,
    theta=0.0,
    *,
    times=None,
    every=None,
    eps_start=None,
    eps_end=None,
    dt: float = 0.01,
    n_steps: int = 4096,
    grid: str | None = None,
    tol: float = 1e-6,
    n_outer: int = N_OUTER,
):
    """NEQB density matrix along a protocol, recorded at `times` or every `every` steps.

    **Arguments:**
    - `drive`: :class:`lzjax.model.Drive` (infinite linear sweep; finite with `eps_start`,
      `eps_end`) or a protocol of :mod:`lzjax.protocols`. Units Δ = 1.
    - `bath`, `theta`: the bath and coupling angle; leaves may be arrays (broadcast together with
      the drive's batched fields) and run as one vmapped batch.
    - `times` (1/Δ, inside the window of every point) or `every` (a positive integer): records.
      The start and the end of the protocol are always recorded (first and last).
    - `dt`: largest step of the uniform grid (1/Δ; accepted: 1e-5 … 1).
    - `n_steps`: steps over the window on the asinh grid (linear drives; accepted ≥ 16).
    - `grid`: "asinh" (default for linear drives: uniform in asinh ε) or "uniform".
    - `tol`: window accuracy of the infinite sweep (as :func:`lzjax.solve_neqb`).

    Returns an ``xarray.Dataset`` (see :func:`trajectory_dataset`); for the infinite sweep also
    `P_LZ`, `P_ES` (point) and attributes with the window (ε_coh, ε_max per point).
    """
    times, every = _check_records(times, every)
    dt = check_number("dt", dt, 1e-5, 1.0)
    n_steps = check_integer("n_steps", n_steps, 16, MAX_STEPS)
    tol = check_number("tol", tol, 1e-12, 1e-2)
    n_outer = check_integer("n_outer", n_outer, 16)
    system, in_axes, shape, params = prepare_system(drive, bath, theta, eps_start=eps_start, eps_end=eps_end)
    check_neqb_validity(system)
    linear = isinstance(system.drive, LinearDrive)  # Drive or LinearSweep
    grid = check_choice("grid", grid or ("asinh" if linear else "uniform"), GRIDS)
    if grid == "asinh" and not linear:
        raise ValueError("grid 'asinh' needs a linear drive (Drive or LinearSweep); use 'uniform'")
    v = np.asarray(system.drive.v, float) if linear else None
    infinite = isinstance(system.drive, Drive)
    extra, attrs = {}, {}
    if infinite:
        coh, wide = (np.asarray(a) for a in jax.vmap(window_eps_max, in_axes=(in_axes, None))(system, tol))
        t0, t1 = -coh / v, coh / v
        attrs = {"eps_coh": coh.tolist(), "eps_max": wide.tolist()}
    else:
        t0, t1 = _window_of(system)
    n_points = int(np.asarray(system.theta).size)
    check_neqb_steps(n_points, grid=grid, span=t1 - t0, dt=dt, n_steps=n_steps)  # before any allocation
    if times is not None:  # the start and end are recorded anyway: a requested time equal to them once
        times = drop_ends(times, t0, t1)
    if grid == "asinh":
        lo, hi = np.arcsinh(v * t0), np.arcsinh(v * t1)  # pyright: ignore[reportOptionalOperand]  # asinh: linear, v set
        u_times = None if times is None else np.arcsinh(np.outer(v, times))  # pyright: ignore[reportArgumentType, reportCallIssue]  # v set (linear)
        step = np.max(hi - lo) / n_steps
        if u_times is not None:  # per-point record values in u
            bounds = np.concatenate([lo[:, None], u_times, hi[:, None]], axis=1)
            if np.any(np.diff(bounds, axis=1) < -1e-12):
                raise ValueError("times must lie inside the protocol window of every point (units 1/delta)")
            n_sub = max(1, int(np.ceil(np.max(np.diff(bounds, axis=1)) / step - 1e-9)))
        else:
            bounds, n_sub = record_grid(lo, hi, every=every, step=step)
    else:
        bounds, n_sub = record_grid(t0, t1, times=times, every=every, step=dt)
    # the records may lengthen the run (n_sub steps in every segment): the count actually run
    check_batch_steps(
        n_sub * (bounds.shape[1] - 1), n_points, NEQB_BYTES_PER_STEP, settings="the records (times)", max_steps=math.inf
    )
    axes = HashableAxes(in_axes)
    if infinite:
        states, t, p_end = _run(
            "infinite", system, axes, jnp.asarray(bounds), jnp.asarray(wide), n_sub=n_sub, grid=grid, n_outer=n_outer
        )
        extra = {"P_LZ": np.asarray(p_end)[:, 0], "P_ES": np.asarray(p_end)[:, 1]}
    else:
        states, t, _ = _run("finite", system, axes, jnp.asarray(bounds), n_sub=n_sub, grid=grid)
    t = snap_record_times(np.asarray(t), t0, t1, times)
    eps = jax.vmap(lambda d, tt: d.epsilon(tt), in_axes=(in_axes.drive, 0))(system.drive, t)
    r = jnp.swapaxes(states, 2, 3)  # (P, m+1, 3, 2) -> (P, m+1, 2, 3)
    obs = observables(r, jnp.broadcast_to(eps[:, :, None], r.shape[:-1]))
    obs = {k: jnp.moveaxis(a, 2, 1) for k, a in obs.items()}  # (P, 2, m+1)
    attrs.update({"grid": grid, "steps_per_record": int(n_sub)})  # pyright: ignore[reportArgumentType]  # never None
    return trajectory_dataset(obs, t, eps, params, shape, engine="neqb", extra=extra, attrs=attrs)


# ---- the crossing window -----------------------------------------------------------------------


def _bath_off(system):
    return DrivenSystem(drive=system.drive, bath=system.bath.scaled(0.0), theta=system.theta)


def _segment(system, state, x0, x1, n_seg: int):
    states, _ = neqb_path(system, jnp.stack([x0, x1]), state, n_seg, "asinh")
    return states[-1]


def windowed_point(system, eps_coh, eps_max, eps_lo, eps_hi, n_seg: int = 1024, n_outer: int = N_OUTER):
    """(P_LZ, P_ES) of the infinite linear sweep with the bath on only for ε ∈ [eps_lo, eps_hi]
    (system-only evolution outside), one point, units Δ = 1. Coherent region |ε| ≤ ε_coh in
    three asinh segments split at the window edges (n_seg steps each), golden-rule tails over
    ε_coh < |ε| ≤ ε_max restricted to the window. Pure (vmap over points and windows)."""
    on, off = system, _bath_off(system)
    lo, hi = jnp.minimum(eps_lo, eps_hi), jnp.maximum(eps_lo, eps_hi)
    r_x = relax_tail(
        jnp.array([1.0, -1.0]), on, jnp.clip(lo, -eps_max, -eps_coh), jnp.clip(hi, -eps_max, -eps_coh), n_outer
    )
    t_in, t_out = -eps_coh / system.drive.v, eps_coh / system.drive.v
    state = jnp.where(lo <= -eps_coh, dressed_state(t_in, r_x, on), dressed_state(t_in, r_x, off))
    x = jnp.arcsinh(jnp.stack([-eps_coh, jnp.clip(lo, -eps_coh, eps_coh), jnp.clip(hi, -eps_coh, eps_coh), eps_coh]))
    state = _segment(off, state, x[0], x[1], n_seg)
    state = _segment(on, state, x[1], x[2], n_seg)
    state = _segment(off, state, x[2], x[3], n_seg)
    r_x = jnp.where(hi >= eps_coh, asymptotic_rx(state, t_out, on), asymptotic_rx(state, t_out, off))
    r_x = relax_tail(r_x, on, jnp.clip(lo, eps_coh, eps_max), jnp.clip(hi, eps_coh, eps_max), n_outer)
    return jnp.stack([0.5 * (1.0 + r_x[0]), 0.5 * (1.0 - r_x[1])])


def _window_search(system, eps_coh, eps_max, full, tol, n_seg: int, iterations: int):
    """Bisection (in asinh ε) of ε₊ ∈ [0, ε_max] and ε₋ ∈ [−ε_max, 0] together (one vmapped
    NEQB per halving), each side allowed tol/2 of max |P − P_full|: returns (ε₋, ε₊, errors)."""
    half = 0.5 * tol
    sign = jnp.array([-1.0, 1.0])
    trial = jax.vmap(lambda lo, hi: windowed_point(system, eps_coh, eps_max, lo, hi, n_seg))

    def body(_, bracket):
        a, b = bracket  # (2,) each, in asinh |ε|: the edge b is known to be good
        mid = 0.5 * (a + b)
        edge = sign * jnp.sinh(mid)
        lo = jnp.stack([edge[0], -eps_max])  # side −: bath on in [edge, ε_max]
        hi = jnp.stack([eps_max, edge[1]])  # side +: bath on in [−ε_max, edge]
        good = jnp.max(jnp.abs(trial(lo, hi) - full), axis=1) <= half
        return jnp.where(good, a, mid), jnp.where(good, mid, b)

    a, b = jax.lax.fori_loop(0, iterations, body, (jnp.zeros(2), jnp.full(2, jnp.arcsinh(eps_max))))
    return sign * jnp.sinh(b), 0.5 * (jnp.sinh(b) - jnp.sinh(a))


@partial(jax.jit, static_argnames=("in_axes", "n_seg", "iterations"))
def _window_batch(system, eps_coh, eps_max, full, tol, *, in_axes, n_seg, iterations):
    return jax.vmap(
        lambda s, c, m, f: _window_search(s, c, m, f, tol, n_seg, iterations), in_axes=(in_axes.tree, 0, 0, 0)
    )(system, eps_coh, eps_max, full)


@partial(jax.jit, static_argnames=("in_axes", "n_seg"))
def _windowed_batch(system, eps_coh, eps_max, lo, hi, *, in_axes, n_seg):
    return jax.vmap(lambda s, c, m, a, b: windowed_point(s, c, m, a, b, n_seg), in_axes=(in_axes.tree, 0, 0, 0, 0))(
        system, eps_coh, eps_max, lo, hi
    )


#: accuracy of the windows (ε_coh, ε_max) of the windowed NEQB runs
_WINDOW_TOL = 1e-8


def _infinite_setup(drive, bath, theta, tol_window):
    if not isinstance(drive, Drive):
        raise ValueError("the crossing window is computed for the linear sweep: drive must be a Drive")
    system, in_axes, shape, params = prepare_system(drive, bath, theta)
    check_neqb_validity(system)
    coh, wide = (np.asarray(a) for a in jax.vmap(window_eps_max, in_axes=(in_axes, None))(system, tol_window))
    return system, in_axes, shape, params, coh, wide


def windowed_probabilities(drive, bath, theta=0.0, *, eps_minus, eps_plus, n_seg: int = 1024):
    """(P_LZ, P_ES) (flat batch) of the infinite linear sweep with the bath switched off outside
    [eps_minus, eps_plus] (units Δ = 1; broadcast with the parameters)."""
    n_seg = check_integer("n_seg", n_seg, 16, MAX_STEPS)
    system, in_axes, shape, _, coh, wide = _infinite_setup(drive, bath, theta, _WINDOW_TOL)
    check_window_steps(n_seg, coh.size)
    n = coh.size
    lo = (
        np.broadcast_to(np.asarray(eps_minus, float), shape).reshape(-1)
        if np.ndim(eps_minus)
        else np.full(n, float(eps_minus))
    )
    hi = (
        np.broadcast_to(np.asarray(eps_plus, float), shape).reshape(-1)
        if np.ndim(eps_plus)
        else np.full(n, float(eps_plus))
    )
    p = np.asarray(
        _windowed_batch(
            system,
            jnp.asarray(coh),
            jnp.asarray(wide),
            jnp.asarray(lo),
            jnp.asarray(hi),
            in_axes=HashableAxes(in_axes),
            n_seg=n_seg,
        )
    )
    return p[:, 0], p[:, 1]


def crossing_window(
    drive, bath, theta: Any = 0.0, *, tol: float = 1e-4, n_seg: int = 1024, iterations: int = 16, engine: Any = "neqb"
):
    """The crossing window [ε₋, ε₊] of the infinite linear sweep, computed from the dynamics.

    `engine`: "neqb" (default; below) or the exact dynamics, "pt" or a configured
    :class:`lzjax.quapi.engines.PT` (:func:`lzjax.quapi.crossing.exact_crossing_window`: the same
    variables with error bars; `n_seg` and `iterations` are the NEQB's and do not apply there).

    Outside the window the bath changes P_LZ and P_ES by less than `tol` (accepted: 1e-8 … 0.1):
    NEQB with the bath switched off beyond a trial edge (system-only evolution there), ε₊ and ε₋
    each found by bisection in asinh ε (`iterations` halvings) with tol/2 allowed per side, all
    points batched (vmap). Returns an ``xarray.Dataset`` over `point` with eps_minus, eps_plus,
    their errors (half the final bracket, units Δ), the rate-based estimate rate_eps_minus/plus
    (∫Γ1 dt beyond the edge = tol/2 per side) and Xi_total = ∫Γ1 dt (γΔ²/v units folded in),
    P_LZ/P_ES with the full bath, with the bath in the window only (…_window) and without bath
    (…_coherent), and the deviation `window_dev` = max |P_window − P_full|. Units Δ = 1.
    """
    import xarray as xr

    if not (isinstance(engine, str) and engine == "neqb"):
        from .quapi.crossing import exact_crossing_window

        return exact_crossing_window(drive, bath, theta, tol=tol, engine=engine)
    tol = check_number("tol", tol, 1e-8, 0.1)
    n_seg = check_integer("n_seg", n_seg, 16, MAX_STEPS)
    iterations = check_integer("iterations", iterations, 1, 60)
    system, in_axes, shape, params, coh, wide = _infinite_setup(drive, bath, theta, _WINDOW_TOL)
    check_window_steps(n_seg, coh.size)  # before any allocation
    axes = HashableAxes(in_axes)
    coh_j, wide_j = jnp.asarray(coh), jnp.asarray(wide)

    def probabilities(lo, hi):
        return np.asarray(
            _windowed_batch(system, coh_j, wide_j, jnp.asarray(lo), jnp.asarray(hi), in_axes=axes, n_seg=n_seg)
        )

    full = probabilities(-wide, wide)
    found = _window_batch(
        system, coh_j, wide_j, jnp.asarray(full), tol, in_axes=axes, n_seg=n_seg, iterations=iterations
    )
    (minus, plus), (minus_err, plus_err) = (np.asarray(a).T for a in found)
    window = probabilities(minus, plus)
    none = probabilities(0.0 * wide, 0.0 * wide)
    r_minus, r_plus, xi = rate_window(system, tol)
    data = {
        "eps_minus": minus,
        "eps_plus": plus,
        "eps_minus_err": minus_err,
        "eps_plus_err": plus_err,
        "rate_eps_minus": r_minus,
        "rate_eps_plus": r_plus,
        "Xi_total": xi,
        "P_LZ": full[:, 0],
        "P_ES": full[:, 1],
        "P_LZ_window": window[:, 0],
        "P_ES_window": window[:, 1],
        "P_LZ_coherent": none[:, 0],
        "P_ES_coherent": none[:, 1],
        "window_dev": np.max(np.abs(window - full), axis=1),
    }
    ds = xr.Dataset(
        {k: ("point", np.asarray(v)) for k, v in data.items()},
        coords={k: ("point", np.asarray(v)) for k, v in params.items()},
    )
    ds.attrs.update(
        {
            "tol": tol,
            "batch_shape": list(shape),
            "units": "delta = hbar = 1",
            "eps_coh": coh.tolist(),
            "eps_max": wide.tolist(),
        }
    )
    return ds
