"""Exact-engine trajectories: ρ(t) along any drive protocol through any engine of
:mod:`lzjax.quapi.engine` (units Δ = ħ = 1).

The protocol runs on the uniform grid t_j = t_start + j δt, j = 0 … N (δt ≤ the requested `dt`,
equal to span/N per point), from the bare instantaneous ground and excited states at t_start
(system and bath factorised, bath thermal); the step propagators are the Magnus-4 ones of
:func:`lzjax.quapi.propagator.magnus4_propagators` for the protocol's ε(t). Records:

* `every` n: ρ at j = 0, n, 2n, …, N (N a multiple of n): the steady steps run in blocks of n
  (`engine.advance`) with one `engine.readout` per block — cost of the plain run plus one
  read-out per record, memory = the records;
* `times`: ρ at the grid points nearest to the requested times: one read-out per step (about
  twice the cost of a plain run), stored only into the m record slots.

ρ at the first `engine.head(memory)` steps comes from the engine's head trace
(`engine.head_trace`; the ADT's `adt_start(trace=True)`). Any engine of
:data:`lzjax.quapi.engines.ENGINES` (a name, or a configured engine) runs here.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..adiabatic import bloch_from_rho
from ..checks import check_batch_steps, check_bool, check_integer, check_number
from ..model import Drive
from ..trajectories import HashableAxes, drop_ends, observables, prepare_system, trajectory_dataset
from .engines import get_engine
from .propagator import adiabatic_projectors, liouville, magnus4_propagators
from .runner import check_memory

__all__ = ["exact_trajectory", "exact_rho_path", "check_exact_steps", "EXACT_BYTES_PER_STEP"]

#: bytes per step and point held at once by :func:`exact_rho_path`: the step propagators in the
#: system (2×2) and Liouville (4×4) forms, complex128, and the time grid
EXACT_BYTES_PER_STEP = 384


def check_exact_steps(span, dt: float, n_points: int) -> int:
    """Steps per point of an exact trajectory, ceil(max `span`/`dt`) (`span` = t_end − t_start
    per point, 1/Δ), checked before any allocation: at most :data:`lzjax.checks.MAX_STEPS` and
    n_points × steps × :data:`EXACT_BYTES_PER_STEP` within :data:`lzjax.checks.MAX_BATCH_BYTES`
    (:func:`lzjax.checks.check_batch_steps`); `dt` in (0, 1]. Returns the count; ValueError
    naming the setting otherwise."""
    dt = check_number("dt", dt, 0.0, 1.0, lower_open=True, unit="units 1/delta")
    longest = float(np.max(np.asarray(span, dtype=float)))
    return check_batch_steps(longest / dt, n_points, EXACT_BYTES_PER_STEP, settings="(t_end - t_start)/dt")


def exact_rho_path(
    engine,
    system,
    t_grid,
    dt,
    rho0,
    memory: int,
    *,
    every: int | None = None,
    record=None,
    compensate: bool = False,
    delta=1.0,
    shared=None,
):
    """ρ (X basis, vec (..., B, 4)) along the uniform grid `t_grid` (N + 1,) of one point.

    `every`: records at j = 0, every, …, N (static; N a multiple of it) → (N/every + 1, B, 4);
    or `record` (m,) step indices (traced) → (m, B, 4). `rho0` (B, 4) at t_grid[0]; `dt` the
    step (1/Δ); `delta` may be 0 (pure dephasing); `shared`: the host-built influence of a
    shared-influence engine (the process tensor), else computed here. Pure: vmap it over points.
    """
    n = t_grid.shape[0] - 1
    h = engine.head(memory)
    if n < h + 1:
        raise ValueError(f"the grid needs at least head + 1 = {h + 1} steps (kmax + 1 for the ADT), got {n}")
    if every is not None and n % every:
        raise ValueError(f"the number of steps {n} must be a multiple of every = {every}")
    k_steps = liouville(magnus4_propagators(system.drive, t_grid, system.theta, delta))  # (N, 4, 4)
    influence = shared if engine.shared_influence else engine.influence(system.bath, dt, memory, compensate)
    steady = engine.steady(influence)
    state, head_rho = engine.head_trace(k_steps[:h], rho0, influence, memory)
    full_head = jnp.concatenate([rho0[None], head_rho])  # (h + 1, B, 4): ρ at j = 0 … h
    if every is not None:
        j0 = every * (h // every + 1)  # first record after the head
        early = full_head[::every]  # j = 0, every, … ≤ h
        state = engine.advance(state, steady, k_steps[h : j0 - 1])
        blocks = k_steps[j0 - 1 : n - 1].reshape((n - j0) // every, every, 4, 4)

        def block(s, ks):
            rho = engine.readout(s, ks[0], influence)
            return engine.advance(s, steady, ks), rho

        state, middle = jax.lax.scan(block, state, blocks)
        final = engine.readout(state, k_steps[n - 1], influence)
        return jnp.concatenate([early, middle, final[None]])
    record = jnp.asarray(record)
    buffer = full_head[jnp.clip(record, 0, h)]

    def step(carry, xs):
        s, buf = carry
        j, k = xs
        rho = engine.readout(s, k, influence)
        buf = jnp.where((record == j)[:, None, None], rho[None], buf)
        return (engine.advance(s, steady, k[None]), buf), None

    (_, buffer), _ = jax.lax.scan(step, (state, buffer), (jnp.arange(h + 1, n + 1), k_steps[h:n]))
    return buffer


def _point(engine, memory, n, every, compensate, system, t0, dt, record, shared):
    t_grid = t0 + dt * jnp.arange(n + 1)
    start = adiabatic_projectors(system.drive.epsilon(t_grid[0]), system.theta)
    rho0 = jnp.stack(start).reshape(2, 4).astype(jnp.complex128)  # ground, excited
    rho = exact_rho_path(
        engine, system, t_grid, dt, rho0, memory, every=every, record=record, compensate=compensate, shared=shared
    )
    j = jnp.arange(0, n + 1, every) if every is not None else record
    t = t0 + dt * j
    eps = system.drive.epsilon(t)
    r = jax.vmap(bloch_from_rho, in_axes=(0, 0, None))(rho, eps, system.theta)  # (m, 2, 3)
    trace = jnp.real(rho[..., 0] + rho[..., 3])
    return observables(r, jnp.broadcast_to(eps[:, None], trace.shape), trace), t, eps


@functools.lru_cache(maxsize=64)
def _batch_fn(engine, memory: int, n: int, every, compensate: bool, axes):
    point = functools.partial(_point, engine, memory, n, every, compensate)
    return jax.jit(jax.vmap(point, in_axes=(axes.tree, 0, 0, 0, None)))


def _exact_record_times(system, in_axes, t, eps, t0, t1, steps, t_req):
    """Recorded times without the grid's float noise: the start and end exactly, a requested
    time where the grid point recorded is it (to 1e-9 of a step); ε(t) recomputed there."""
    clean = np.array(t, dtype=float)
    clean[:, 0], clean[:, -1] = t0, t1
    if t_req is not None:
        inner = clean[:, 1:-1]
        hit = np.abs(inner - t_req[None]) <= 1e-9 * steps[:, None]
        clean[:, 1:-1] = np.where(hit, t_req[None], inner)
    if np.array_equal(clean, t):
        return t, eps
    eps = jax.vmap(lambda d, tt: d.epsilon(tt), in_axes=(in_axes.drive, 0))(system.drive, jnp.asarray(clean))
    return clean, np.asarray(eps)


def exact_trajectory(
    drive,
    bath,
    theta=0.0,
    *,
    dt: float,
    kmax,
    times=None,
    every=None,
    eps_start=None,
    eps_end=None,
    engine: Any = "adt",
    compensate: bool = False,
):
    """Exact (path-integral) density matrix along a finite protocol, as an ``xarray.Dataset``.

    **Arguments:**
    - `drive`: a protocol of :mod:`lzjax.protocols`, or :class:`lzjax.model.Drive` with
      `eps_start`, `eps_end` (the finite linear sweep; the infinite one needs the NEQB's tails).
    - `bath`, `theta`: broadcast with the drive's batched fields into one vmapped batch.
    - `dt`: largest time step (1/Δ; accepted: (0, 1]); per point δt = span/N.
    - `kmax`: the engine's memory setting (its check; ADT: steps, integer in [1, 14]; PT: a
      :class:`lzjax.quapi.engines.pt.PTSettings`).
    - `times` (1/Δ; nearest grid points) or `every` (integer ≥ 1): the records; start and end
      always recorded with `every`.
    - `engine`: an engine name of :data:`lzjax.quapi.ENGINES` (or an engine object).

    Same variables as :func:`lzjax.dynamics.neqb_trajectory` (P_ground, P_excited, P_up, r_x,
    r_y, r_z, trace), dims (point, start, time); `t` the grid times actually recorded.
    """
    engine = get_engine(engine)
    engine.check(kmax)
    dt = check_number("dt", dt, 0.0, 1.0, lower_open=True, unit="units 1/delta")
    compensate = check_bool("compensate", compensate)
    if (times is None) == (every is None):
        raise ValueError("give exactly one of times (record times in 1/delta) or every (record every n-th step)")
    if every is not None:
        every = check_integer("every", every, 1)
    if isinstance(drive, Drive) and eps_start is None:
        raise ValueError(
            "eps_start and eps_end are needed for the exact engine with a linear Drive "
            "(finite sweep; the infinite sweep is solve_quapi / converge_quapi)"
        )
    system, in_axes, shape, params = prepare_system(drive, bath, theta, eps_start=eps_start, eps_end=eps_end)
    n_points = int(np.prod(shape, dtype=int))
    check_memory(engine, kmax, n_points)
    drive_flat = system.drive
    t0 = np.broadcast_to(np.asarray(drive_flat.t_start, float), (n_points,))
    t1 = np.broadcast_to(np.asarray(drive_flat.t_end, float), (n_points,))
    span = t1 - t0
    check_exact_steps(span, dt, n_points)  # before any allocation
    n = int(np.ceil(np.max(span) / dt - 1e-9))
    if every is not None:
        n = every * max(1, -(-n // every))
    head = engine.head(kmax)
    if n < head + 1:
        raise ValueError(
            f"the protocol must have at least kmax + 1 = {head + 1} steps of dt; got {n} "
            f"(span {float(np.max(span)):g}/delta, dt {dt:g})"
        )
    steps = span / n
    t_req = None
    if times is not None:
        t_req = np.asarray(times, float)
        if t_req.ndim != 1 or t_req.size < 1 or not np.all(np.isfinite(t_req)):
            shown = t_req.tolist() if t_req.ndim else float(t_req)
            raise ValueError(f"times must be a non-empty 1-D list of finite times (1/delta), got {shown!r}")
        if np.any(t_req[None] < t0[:, None] - 1e-9) or np.any(t_req[None] > t1[:, None] + 1e-9):
            raise ValueError(
                f"times must lie inside the protocol window of every point "
                f"[{float(np.max(t0)):g}, {float(np.min(t1)):g}] (units 1/delta)"
            )
        t_req = drop_ends(t_req, t0, t1)  # the start and end are recorded anyway (as by NEQB)
        inner = np.clip(np.rint((t_req[None] - t0[:, None]) / steps[:, None]), 0, n).astype(np.int64)
        ends = np.broadcast_to(np.array([[0]], dtype=np.int64), (n_points, 1))
        record = np.concatenate([ends, inner, ends + n], axis=1)  # start, the requested times, end
    else:
        record = np.zeros((n_points, 1), dtype=np.int64)
    shared = ()
    if engine.shared_influence:  # one tensor for the whole batch: one bath and one δt
        baths = np.stack(
            [np.broadcast_to(np.asarray(leaf, float), (n_points,)) for leaf in jax.tree_util.tree_leaves(system.bath)]
        )
        if np.any(baths != baths[:, :1]) or np.any(np.abs(steps - steps[0]) > 1e-12 * steps[0]):
            raise ValueError(
                f"engine {engine.name!r} shares one tensor per bath and time step: give one bath "
                "and protocols of equal duration (equal dt) per call"
            )
        scalar = jax.tree_util.tree_map(lambda a: np.asarray(a).reshape(-1)[0], system.bath)
        shared = engine.influence(scalar, float(steps[0]), kmax, compensate)
    key = engine.compile_key(kmax) if engine.shared_influence else kmax  # PT: shapes only, not its settings
    fn = _batch_fn(engine.kernel, key, n, every, compensate, HashableAxes(in_axes))
    obs, t, eps = fn(system, jnp.asarray(t0), jnp.asarray(steps), jnp.asarray(record), shared)
    t, eps = _exact_record_times(system, in_axes, np.asarray(t), np.asarray(eps), t0, t1, steps, t_req)
    obs = {k: jnp.swapaxes(a, 1, 2) for k, a in obs.items()}  # (P, m, 2) -> (P, 2, m)
    return trajectory_dataset(
        obs,
        t,
        eps,
        params,
        shape,
        engine=f"quapi-{engine.name}",
        attrs={"dt": steps.tolist(), "kmax": kmax if isinstance(kmax, int) else str(kmax), "n_steps": n},
    )
