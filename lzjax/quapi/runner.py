"""Batch runner for any exact engine: vmapped preparation, chunked steady scans, read-out.

One run = one protocol ("window" or "plain", :data:`lzjax.quapi.window.PROTOCOLS`), one engine
(:mod:`lzjax.quapi.engine`), fixed memory settings and a flat batch of dimensionless problems,
each point with its own step count. The four jitted compositions (prepare, step propagators,
advance, finish) are built once per (engine, protocol) and cached. Only the step propagators
and the scans see the step count, and only through its bucket (:func:`step_bucket`: the counts
rounded up to m·2^e, m ≤ 16, the steps past a point's own count held exactly), so runs at new
sweep speeds or windows mostly compile nothing, and one batch may mix sweep speeds.

Also here: the memory guard (from the engine's estimate, with advice that can help) and the
float32 fast path (the steady steps in complex64; the preparation and the read-out in float64).
"""

from __future__ import annotations

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np

from ..progress import progress_bar
from .influence import eta_coefficients, log_factor_bound
from .window import PROTOCOLS

__all__ = [
    "run_batch",
    "step_bucket",
    "padded_steps",
    "available_memory_bytes",
    "check_memory",
    "check_influence",
    "to_single",
]


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
        fit_memory = max(
            (k for k in range(memory_range[0], memory_range[1] + 1) if engine.memory_bytes(k, batch) <= have),
            default=None,
        )
    gib = 2.0**30
    if fit_batch >= 1:
        advice = (
            f"use batch <= {fit_batch} at this kmax"
            + (f", or kmax <= {fit_memory} at this batch" if fit_memory else "")
            + " (or split the sweep into chunks)"
        )
    else:
        one = (
            max(
                (k for k in range(memory_range[0], memory_range[1] + 1) if engine.memory_bytes(k, 1) <= have),
                default=None,
            )
            if memory_range
            else None
        )
        advice = (
            f"even one point needs {per_point / gib:.2f} GiB"
            + (f": use kmax <= {one}" if one else "")
            + " (a smaller memory, or a machine with more memory)"
        )
    raise ValueError(
        f"kmax={memory} with batch={batch} needs ~{need / gib:.2f} GiB but ~{have / gib:.2f} GiB is available: {advice}"
    )


@functools.partial(jax.jit, static_argnums=(2, 3))
def _log_factor_bounds(bath, dt, memory: int, compensate: bool):
    return jax.vmap(lambda b, d: log_factor_bound(eta_coefficients(b, d, memory, compensate).interior))(bath, dt)


def check_influence(engine, flat, dt, memory, compensate: bool = False, steps: int | None = None) -> None:
    """ValueError before any work when a point's pair factors exp φ reach e^limit at step `dt`,
    the limit and its reason being the engine's (`engine.influence_limit(memory)`: float64's range
    for the ADT, what the compression resolves for the process tensor); names the first such
    point. `steps`: the memory in steps the bound runs over (default: `memory` itself)."""
    limit, why = engine.influence_limit(memory)
    steps = int(memory) if steps is None else int(steps)
    bound = np.asarray(_log_factor_bounds(flat.bath, jnp.asarray(dt), steps, bool(compensate)))
    bad = np.flatnonzero(~(bound <= limit))
    if not bad.size:
        return
    i = int(bad[0])
    pick = lambda a: float(np.asarray(a).reshape(-1)[i])  # noqa: E731
    dt_i = float(np.asarray(dt).reshape(-1)[i])
    raise ValueError(
        f"{bad.size} point(s) are too strongly coupled for QUAPI at this time step: the influence "
        f"factors exp(phi) reach e^{pick(bound):.0f} at dt = {dt_i:.3g}/delta, {why} (limit e^{limit:.3g}; "
        f"first: {jax.tree_util.tree_map(pick, flat.bath).describe()} in units of delta); it shrinks with dt: "
        "use a smaller dt or NEQB"
    )


def to_single(tree):
    """complex128 → complex64, float64 → float32 (the opt-in float32 fast path)."""

    def cast(x):
        x = jnp.asarray(x)
        return x.astype(jnp.complex64) if jnp.iscomplexobj(x) else x.astype(jnp.float32)

    return jax.tree_util.tree_map(cast, tree)


def step_bucket(n_steps: int) -> int:
    """The compiled length of a run of `n_steps` steps: n rounded up to m·2^e with m ≤ 16 (at
    most 1/8 more steps; exact up to 16). Runs whose step counts share a bucket share every
    compiled composition; the steps past a point's own count are held (masked)."""
    n = int(n_steps)
    if n <= 16:
        return n
    e = n.bit_length() - 4
    return -(-n >> e) << e


@functools.cache
def _compiled(engine, protocol: str):
    """(prepare, steps, advance, finish): vmapped and jitted once per (engine, protocol).

    Only `steps` (the step propagators) is compiled per padded step count (:func:`step_bucket`);
    the others see the engine's compile key of the memory (`engine.compile_key`) and the
    shapes. Each point's own step count `n` is an array, so a batch may mix sweep speeds and
    repeated runs of other lengths compile only the cheap propagator call."""
    setup, finish = PROTOCOLS[protocol]
    axis = None if engine.shared_influence else 0

    def prepare(problem, dt, eps_max, shared, n, memory, compensate):
        influence = shared if engine.shared_influence else engine.influence(problem.bath, dt, memory, compensate)
        head = engine.head(memory)
        k_head, rho0, aux = setup(problem, dt, max(head, 1), eps_max, n)  # the first steps only
        state = engine.start(k_head[:head], rho0, influence, memory)
        return state, aux, (() if engine.shared_influence else influence)

    def steps(problem, dt, n, n_pad):
        k_steps = setup(problem, dt, n_pad, jnp.zeros(()), n)[0]
        return k_steps, jax.lax.dynamic_index_in_dim(k_steps, n - 1, keepdims=False)

    def advance(state, steady, k_steps, begin, first, last, length: int, masked: bool):
        """Steps begin … begin + length − 1 of k_steps; `masked`: only those in [first, last)
        (after the head, before the point's own last step), the state held otherwise."""

        def body(s, j):
            new = engine.advance(s, steady, jax.lax.dynamic_slice_in_dim(k_steps, j, 1))
            if not masked:
                return new, None
            keep = (j >= first) & (j < last)
            return jax.tree_util.tree_map(lambda a, b: jnp.where(keep, a, b), new, s), None

        return jax.lax.scan(body, state, begin + jnp.arange(length))[0]

    def finish_point(state, k_last, influence, aux, problem, dt, eps_max, n):
        rho = engine.readout(state, k_last, influence)  # (2, 4): vec(ρ) of the two starts
        trace_err = jnp.max(jnp.abs(rho[:, 0] + rho[:, 3] - 1.0))  # |Tr ρ − 1|
        return (*finish(rho, aux, problem, dt, n, eps_max), trace_err)

    vprepare = jax.jit(jax.vmap(prepare, in_axes=(0, 0, 0, axis, 0, None, None)), static_argnums=(5, 6))
    vsteps = jax.jit(jax.vmap(steps, in_axes=(0, 0, 0, None)), static_argnums=(3,))

    @functools.partial(jax.jit, static_argnums=(6, 7))
    def vadvance(state, steady, k_steps, begin, first, last, length, masked):
        return jax.vmap(functools.partial(advance, length=length, masked=masked), in_axes=(0, axis, 0, None, None, 0))(
            state, steady, k_steps, begin, first, last
        )

    vfinish = jax.jit(jax.vmap(finish_point, in_axes=(0, 0, axis, 0, 0, 0, 0, 0)))
    return vprepare, vsteps, vadvance, vfinish


def chunks(n_pad: int, progress: bool, n_chunks: int = 40) -> list[tuple[int, int]]:
    """Equal [begin, end) ranges covering the padded steps [0, n_pad): the largest power of two
    dividing n_pad (:func:`step_bucket` makes it ≥ n_pad/16), halved with `progress` until there
    are ≥ `n_chunks` (a moving bar). One compiled scan length per padded run."""
    length = n_pad & -n_pad
    while progress and length > 1 and n_pad // length < n_chunks:
        length //= 2
    return [(b, b + length) for b in range(0, n_pad, length)]


def run_batch(
    engine,
    protocol: str,
    flat,
    dt,
    n_steps,
    memory,
    *,
    eps_max=None,
    compensate: bool = False,
    shared=None,
    single: bool = False,
    bar=None,
    n_chunks: int = 40,
):
    """(P_LZ, P_ES, |Tr ρ − 1|) device arrays (batch,) for a flat batch of dimensionless problems.

    `dt` (batch,) time steps (1/Δ); `n_steps` the step count, an int or per point (batch,) ints
    (a batch may mix sweep speeds: each point is held once its own steps are done, exactly);
    `memory` static; `eps_max` (batch,) the end of the golden-rule tails (window protocol);
    `shared`: the host-built influence of a shared-influence engine (one bath for the whole
    batch). `bar`: a progress bar (:func:`lzjax.progress.progress_bar`) advanced by the padded
    step count (:func:`padded_steps`) over `n_chunks` chunks; without one the steady steps run in
    as few scans as the chunk lengths allow.
    """
    engine = engine.kernel  # the compiled compositions do not depend on the engine's ladder settings
    vprepare, vsteps, vadvance, vfinish = _compiled(engine, protocol)
    size = jnp.shape(dt)[0]
    n = np.broadcast_to(np.asarray(n_steps, dtype=np.int64), (size,))
    n_pad = step_bucket(int(n.max()))
    n_dev = jnp.asarray(n, dtype=jnp.int32)
    if eps_max is None:
        eps_max = jnp.zeros(size)
    state, aux, influence = vprepare(
        flat,
        dt,
        eps_max,
        shared if engine.shared_influence else (),
        n_dev,
        engine.compile_key(memory),
        bool(compensate),
    )
    k_steps, k_last = vsteps(flat, dt, n_dev, n_pad)
    if engine.shared_influence:
        influence = shared
    steady = engine.steady(influence)
    if single:  # the influence build, propagators and first steps stay float64; the hot loop runs in complex64
        state, steady, k_steps = to_single((state, steady, k_steps))
    first = engine.head(memory)  # point i's steady steps use k_steps[i, first:n_i - 1]
    last = jnp.asarray(n - 1, dtype=jnp.int32)
    running = int(n.min()) - 1  # before this step no point is held
    for begin, end in chunks(n_pad, bar is not None, n_chunks):
        masked = begin < first or end > running
        state = vadvance(state, steady, k_steps, jnp.int32(begin), jnp.int32(first), last, end - begin, masked)
        if bar is not None:
            jax.block_until_ready(state)
            bar.update(end - begin)
    if single:
        state = jax.tree_util.tree_map(lambda x: x.astype(jnp.complex128), state)
    return vfinish(state, k_last, influence, aux, flat, dt, eps_max, n_dev)


def padded_steps(n_steps) -> int:
    """Steps a :func:`run_batch` call reports to its progress bar for these step counts."""
    return step_bucket(int(np.max(n_steps)))


def new_bar(total: int, enabled: bool, desc: str = "QUAPI steps"):
    """The progress bar of a QUAPI call (one per call, with the total of all its runs)."""
    return progress_bar(total, enabled, desc) if enabled else None


__all__ += ["new_bar"]
