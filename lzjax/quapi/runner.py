"""Batch runner for any exact engine: vmapped preparation, chunked steady scans, read-out.

One run = one protocol ("window" or "plain", :data:`lzjax.quapi.window.PROTOCOLS`), one engine
(:mod:`lzjax.quapi.engine`), fixed static settings (step count, memory) and a flat batch of
dimensionless problems. The three jitted compositions (prepare, advance, finish) are built once
per (engine, protocol) and cached; their static arguments are the step count and the memory, so
repeating a run of the same shapes compiles nothing.

Also here: the memory guard (from the engine's estimate, with advice that can help) and the
float32 fast path (the steady steps in complex64; the preparation and the read-out in float64).
"""

from __future__ import annotations

import functools
import math
import os

import jax
import jax.numpy as jnp
import numpy as np

from ..progress import progress_bar
from .influence import eta_coefficients, log_factor_bound
from .window import PROTOCOLS

__all__ = ["run_batch", "available_memory_bytes", "check_memory", "check_influence", "to_single",
           "LOG_FACTOR_LIMIT", "pt_log_factor_limit"]


def available_memory_bytes() -> int:
    """Free memory of the default device, or of the host (os.sysconf) where JAX does not say."""
    try:
        stats = jax.devices()[0].memory_stats()
    except Exception:  # noqa: BLE001 - backends without memory stats
        stats = None
    if stats and "bytes_limit" in stats:
        return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))


def check_memory(engine, memory: int, batch: int, memory_range=None, fraction: float = 0.8) -> None:
    """ValueError with advice when `batch` points at `memory` would not fit in `fraction` of the
    free memory. `memory_range` (lo, hi): the accepted memory settings, to suggest a smaller one."""
    need = engine.memory_bytes(memory, batch)
    have = int(fraction * available_memory_bytes())
    if need <= have:
        return
    per_point = engine.memory_bytes(memory, 1)
    fit_batch = have // per_point
    fit_memory = None
    if memory_range is not None:
        fit_memory = max((k for k in range(memory_range[0], memory_range[1] + 1)
                          if engine.memory_bytes(k, batch) <= have), default=None)
    gib = 2.0**30
    if fit_batch >= 1:
        advice = f"use batch <= {fit_batch} at this kmax" + (
            f", or kmax <= {fit_memory} at this batch" if fit_memory else "") + " (or split the sweep into chunks)"
    else:
        one = max((k for k in range(memory_range[0], memory_range[1] + 1)
                   if engine.memory_bytes(k, 1) <= have), default=None) if memory_range else None
        advice = (f"even one point needs {per_point / gib:.2f} GiB"
                  + (f": use kmax <= {one}" if one else "") + " (a smaller memory, or a machine with more memory)")
    raise ValueError(
        f"kmax={memory} with batch={batch} needs ~{need / gib:.2f} GiB but ~{have / gib:.2f} GiB "
        f"is available: {advice}")


#: largest accepted ln|influence factor| (e^600 ≈ 1e260 leaves room for products along a path)
LOG_FACTOR_LIMIT = 600.0


@functools.partial(jax.jit, static_argnums=(2, 3))
def _log_factor_bounds(bath, dt, memory: int, compensate: bool):
    return jax.vmap(lambda b, d: log_factor_bound(eta_coefficients(b, d, memory, compensate).interior))(bath, dt)


def check_influence(flat, dt, memory: int, compensate: bool = False, limit: float = LOG_FACTOR_LIMIT,
                    why: str = "beyond float64") -> None:
    """ValueError before any work when a point's pair factors exp φ reach e^`limit` at step `dt`
    (strong coupling: float64 overflows at ~e^700 for the ADT; the process tensor's relative
    truncation needs far less, see :func:`pt_log_factor_limit`): names the first such point."""
    bound = np.asarray(_log_factor_bounds(flat.bath, jnp.asarray(dt), int(memory), bool(compensate)))
    bad = np.flatnonzero(~(bound <= limit))
    if not bad.size:
        return
    i = int(bad[0])
    pick = lambda a: float(np.asarray(a).reshape(-1)[i])  # noqa: E731
    dt_i = float(np.asarray(dt).reshape(-1)[i])
    raise ValueError(
        f"{bad.size} point(s) are too strongly coupled for QUAPI at this time step: the influence "
        f"factors exp(phi) reach e^{pick(bound):.0f} at dt = {dt_i:.3g}/delta, {why} (limit e^{limit:.3g}; "
        f"first: gamma={pick(flat.bath.gamma):g}, s={pick(flat.bath.s):g}, omega_c={pick(flat.bath.omega_c):g}, "
        f"T={pick(flat.bath.T):g} in units of delta); it shrinks with dt: use a smaller dt or NEQB")


def pt_log_factor_limit(pt_tol: float) -> float:
    """Largest Σ_Δ max Re φ_Δ the process tensor accepts at relative truncation `pt_tol`:
    ½ ln(1/pt_tol) (≈ 10 at 1e-9). Partial products of the pair factors reach e^bound while whole
    paths stay ≤ 1, and a truncation relative to the largest keeps only pt_tol·e^bound absolutely.
    Physical points are far inside (measured at δt = 0.05: Fig. 1 0.004, Fig. 2 0.04, γ = 5e-2
    0.39); the strong-coupling point of issue 11 has 1145 and its tensor loses the trace."""
    return 0.5 * math.log(1.0 / float(pt_tol))


def to_single(tree):
    """complex128 → complex64, float64 → float32 (the opt-in float32 fast path)."""
    def cast(x):
        x = jnp.asarray(x)
        return x.astype(jnp.complex64) if jnp.iscomplexobj(x) else x.astype(jnp.float32)
    return jax.tree_util.tree_map(cast, tree)


@functools.cache
def _compiled(engine, protocol: str):
    """(prepare, advance, finish): vmapped and jitted once per (engine, protocol)."""
    setup, finish = PROTOCOLS[protocol]
    axis = None if engine.shared_influence else 0

    def prepare(problem, dt, eps_max, shared, n_steps, memory, compensate):
        influence = shared if engine.shared_influence else engine.influence(problem.bath, dt, memory, compensate)
        k_steps, rho0, aux = setup(problem, dt, n_steps, eps_max)
        state = engine.start(k_steps[:engine.head(memory)], rho0, influence, memory)
        return state, k_steps, aux, (() if engine.shared_influence else influence)

    def finish_point(state, k_last, influence, aux, problem, dt, eps_max, n_steps):
        rho = engine.readout(state, k_last, influence)  # (2, 4): vec(ρ) of the two starts
        trace_err = jnp.max(jnp.abs(rho[:, 0] + rho[:, 3] - 1.0))  # |Tr ρ − 1|
        return (*finish(rho, aux, problem, dt, n_steps, eps_max), trace_err)

    vprepare = jax.jit(jax.vmap(prepare, in_axes=(0, 0, 0, axis, None, None, None)),
                       static_argnums=(4, 5, 6))
    vadvance = jax.jit(jax.vmap(engine.advance, in_axes=(0, axis, 0)))
    vfinish = jax.jit(jax.vmap(finish_point, in_axes=(0, 0, axis, 0, 0, 0, 0, None)),
                      static_argnums=(7,))
    return vprepare, vadvance, vfinish


#: longest steady scan of one compiled call (steps)
MAX_CHUNK = 4096


def chunk_bounds(first: int, last: int, progress: bool, n_chunks: int = 40) -> list[tuple[int, int]]:
    """[begin, end) step ranges covering [first, last) whose lengths are powers of two (at most
    :data:`MAX_CHUNK`; with `progress` also at most ~1/n_chunks of the run, for a moving bar):
    every run, of any length, reuses a few compiled scan lengths instead of compiling its own."""
    total = last - first
    top = MAX_CHUNK if not progress else max(1, min(MAX_CHUNK, total // n_chunks))
    top = 1 << (top.bit_length() - 1)  # a power of two
    bounds, begin = [], first
    while begin < last:
        length = min(top, 1 << ((last - begin).bit_length() - 1))
        bounds.append((begin, begin + length))
        begin += length
    return bounds


def run_batch(engine, protocol: str, flat, dt, n_steps: int, memory: int, *, eps_max=None,
              compensate: bool = False, shared=None, single: bool = False, bar=None,
              n_chunks: int = 40):
    """(P_LZ, P_ES, |Tr ρ − 1|) device arrays (batch,) for a flat batch of dimensionless problems.

    `dt` (batch,) time steps (1/Δ); `n_steps`, `memory` static; `eps_max` (batch,) the end of the
    golden-rule tails (window protocol); `shared`: the host-built influence of a
    shared-influence engine (one bath for the whole batch). `bar`: a progress bar
    (:func:`lzjax.progress.progress_bar`) advanced by `n_steps` over `n_chunks` chunks; without
    one the steady steps run as a single scan.
    """
    vprepare, vadvance, vfinish = _compiled(engine, protocol)
    size = jnp.shape(dt)[0]
    if eps_max is None:
        eps_max = jnp.zeros(size)
    state, k_steps, aux, influence = vprepare(flat, dt, eps_max, shared if engine.shared_influence else (),
                                              n_steps, memory, bool(compensate))
    if engine.shared_influence:
        influence = shared
    steady = engine.steady(influence)
    if single:  # the influence build, propagators and first steps stay float64; the hot loop runs in complex64
        state, steady, k_steps = to_single((state, steady, k_steps))
    first, last = engine.head(memory), n_steps - 1  # steady steps use k_steps[first:last]
    if bar is not None:
        bar.update(first)
    for begin, end in chunk_bounds(first, last, bar is not None, n_chunks):
        state = vadvance(state, steady, k_steps[:, begin:end])
        if bar is not None:
            jax.block_until_ready(state)
            bar.update(end - begin)
    if single:
        state = jax.tree_util.tree_map(lambda x: x.astype(jnp.complex128), state)
        k_steps = k_steps.astype(jnp.complex128)
    out = vfinish(state, k_steps[:, n_steps - 1], influence, aux, flat, dt, eps_max, n_steps)
    if bar is not None:
        bar.update(1)
    return out


def new_bar(total: int, enabled: bool, desc: str = "QUAPI steps"):
    """The progress bar of a QUAPI call (one per call, with the total of all its runs)."""
    return progress_bar(total, enabled, desc) if enabled else None


__all__ += ["new_bar"]
