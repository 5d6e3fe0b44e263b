"""Batch runner for any exact engine: vmapped preparation, chunked steady scans, read-out.

One run = one protocol ("window" or "plain", :data:`lzjax.quapi.window.QUAPI_SCHEMES`), one engine
(:mod:`lzjax.quapi.engine`), fixed memory settings and a flat batch of dimensionless problems,
each point with its own step count. The jitted compositions (influence, begin, chunk, end) are
built once per (engine, protocol) and cached. Only the step propagators
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

from ..programs import Program
from ..progress import progress_bar
from .influence import eta_coefficients, pair_log_factor
from .window import QUAPI_SCHEMES, step_propagators

__all__ = [
    "run_batch",
    "run_programs",
    "step_bucket",
    "padded_steps",
    "available_memory_bytes",
    "check_memory",
    "check_influence",
    "to_single",
    "chunk_length",
    "chunk_plan",
    "batch_bucket",
    "CHUNK_STEPS",
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


#: lag counts of the influence checks are padded to a multiple of this (one program per bucket)
LAG_BUCKET = 64


def _log_factor_bounds_fn(bath, dt, steps, bucket: int, compensate: bool):
    """:func:`lzjax.quapi.influence.log_factor_bound` over the lags 0 … `steps` (traced), η
    computed for `bucket` lags and the rest masked (added as exact zeros)."""

    def one(b, d):
        phi = pair_log_factor(eta_coefficients(b, d, bucket, compensate).interior)
        per_lag = jnp.max(jnp.real(phi), axis=(-2, -1))
        return jnp.sum(jnp.where(jnp.arange(bucket + 1) <= steps, per_lag, 0.0))

    return jax.vmap(one)(bath, dt)


_log_factor_bounds = Program("quapi.runner.log_factor_bounds", _log_factor_bounds_fn, (3, 4))


def check_influence(engine, flat, dt, memory, compensate: bool = False, steps: int | None = None) -> None:
    """ValueError before any work when a point's pair factors exp φ reach e^limit at step `dt`,
    the limit and its reason being the engine's (`engine.influence_limit(memory)`: float64's range
    for the ADT, what the compression resolves for the process tensor); names the first such
    point. `steps`: the memory in steps the bound runs over (default: `memory` itself)."""
    limit, why = engine.influence_limit(memory)
    steps = int(memory) if steps is None else int(steps)
    bucket = LAG_BUCKET * -(-steps // LAG_BUCKET)
    bound = np.asarray(_log_factor_bounds(flat.bath, jnp.asarray(dt), jnp.int32(steps), bucket, bool(compensate)))
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


#: steps per compiled chunk of a run
CHUNK_STEPS = 256


#: the chunk length of short runs (fewer than CHUNK_STEPS steps)
SHORT_CHUNK_STEPS = 64


def chunk_length(n_max: int) -> int:
    """The compiled chunk length of a run whose longest point has `n_max` steps: 256, or 64 for
    runs shorter than that (two compiled lengths in all)."""
    return CHUNK_STEPS if int(n_max) >= CHUNK_STEPS else SHORT_CHUNK_STEPS


def chunk_plan(n_max: int) -> list[tuple[int, int]]:
    """(begin, length) of the chunks of steady steps of a run whose longest point has `n_max`
    steps (steps 0 … n_max − 2 are covered, the rest held): chunks of :func:`chunk_length`,
    the remainder in chunks of 64 (a run of 800 steps computes 832, not 1024)."""
    total, length = max(int(n_max) - 1, 0), chunk_length(n_max)
    plan, begin = [], 0
    while begin < total:
        step = length if total - begin >= length else SHORT_CHUNK_STEPS
        plan.append((begin, step))
        begin += step
    return plan


def batch_bucket(size: int) -> int:
    """The compiled batch size of `size` points: the next of 2^k and 3·2^k (rows past `size`
    repeat the first point and are dropped; at most a third of the rows wasted, where powers of
    two alone wasted up to half: the ladder's batches of 3 points ran as 4), above 1024 the next
    multiple of 1024."""
    size = int(size)
    if size > 1024:
        return -(-size // 1024) * 1024
    power = 1 << max(size - 1, 0).bit_length()
    return 3 * power // 4 if power >= 4 and 3 * power // 4 >= size else power


@functools.cache
def run_programs(engine, protocol: str):
    """The compiled pieces of a run, vmapped over the points and jitted once per (engine,
    protocol), each seeing only what it needs, so that little is traced again, and as few as
    possible, since each call of a program costs ~0.1-1 ms on the host (one run = two
    programs and one per chunk):

    - `influence` (engines without a shared influence): per point, per memory setting;
    - `begin` (the protocol's start: incoming tails, dressed state, the first steps' propagators
      of the engine's head; then the engine's start): per batch size, head length and influence
      shapes;
    - `chunk` (the step propagators of a chunk of steady steps,
      :func:`lzjax.quapi.window.step_propagators`, then the steps, each point held outside
      [head, n − 1)): per batch size, influence shapes and chunk length;
    - `end` (the last step's propagator, the engine's read-out, the protocol's read-out and
      outgoing tails, |Tr ρ − 1|): per batch size and influence shapes.

    None sees the step count: runs of any length, and batches of mixed sweep speeds, share them."""
    setup, finish = QUAPI_SCHEMES[protocol]
    axis = None if engine.shared_influence else 0
    key = (type(engine).__module__, type(engine).__qualname__, repr(engine), protocol)

    def program(name: str, fn, static_argnums=()):
        return Program(f"quapi.runner.{name}", fn, static_argnums, key)

    vinfluence = program(
        "influence",
        jax.vmap(
            lambda bath, dt, memory, compensate: engine.influence(bath, dt, memory, compensate), (0, 0, None, None)
        ),
        (2, 3),
    )

    def begin_point(problem, dt, eps_max, n, influence, head, memory):
        k_head, rho0, aux = setup(problem, dt, max(head, 1), eps_max, n)  # the first steps only
        return engine.start(k_head[:head], rho0, influence, memory), aux

    vbegin = program("begin", jax.vmap(begin_point, (0, 0, 0, 0, axis, None, None)), (5, 6))

    def chunk_point(state, steady, problem, dt, n, begin, first, length, single):
        """Steps begin … begin + length − 1, each only where it lies in [first, n − 1) (after
        the head, before the point's last step), the state held otherwise."""
        k = step_propagators(problem, dt, n, begin, length)
        if single:
            k = k.astype(jnp.complex64)

        def body(s, x):
            k_j, j = x
            new = engine.advance(s, steady, k_j[None])
            keep = (j >= first) & (j < n - 1)
            return jax.tree_util.tree_map(lambda a, b: jnp.where(keep, a, b), new, s), None

        return jax.lax.scan(body, state, (k, begin + jnp.arange(length)))[0]

    vchunk = program("chunk", jax.vmap(chunk_point, (0, axis, 0, 0, 0, None, None, None, None)), (7, 8))

    def end_point(state, influence, aux, problem, dt, eps_max, n):
        k_last = step_propagators(problem, dt, n, n - 1, 1)[0]
        rho = engine.readout(state, k_last, influence)
        trace_err = jnp.max(jnp.abs(rho[:, 0] + rho[:, 3] - 1.0))  # |Tr ρ − 1|
        return (*finish(rho, aux, problem, dt, n, eps_max), trace_err)

    vend = program("end", jax.vmap(end_point, (0, axis, 0, 0, 0, 0, 0)))
    return vinfluence, vbegin, vchunk, vend


def chunks(n_pad: int, progress: bool, n_chunks: int = 40) -> list[tuple[int, int]]:
    """Equal [begin, end) ranges covering the padded steps [0, n_pad): the largest power of two
    dividing n_pad (:func:`step_bucket` makes it ≥ n_pad/16), halved with `progress` until there
    are ≥ `n_chunks` (a moving bar)."""
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
    host: bool = False,
):
    """(P_LZ, P_ES, |Tr ρ − 1|) device arrays (batch,) for a flat batch of dimensionless problems.

    `dt` (batch,) time steps (1/Δ); `n_steps` the step count, an int or per point (batch,) ints
    (a batch may mix sweep speeds: each point is held once its own steps are done, exactly);
    `memory` static; `eps_max` (batch,) the end of the golden-rule tails (window protocol);
    `shared`: the host-built influence of a shared-influence engine (one bath for the whole
    batch). The steady steps run in chunks of :func:`chunk_plan`, one compiled program
    for every chunk (and every run of the same batch size and influence shapes); the batch is
    padded to :func:`batch_bucket`. `bar`: a progress bar (:func:`lzjax.progress.progress_bar`)
    advanced by each chunk's length (:func:`padded_steps` in all). `n_chunks` is kept for
    callers of the former interface and unused. `host`: return numpy arrays (no derivatives).
    """
    del n_chunks
    engine = engine.kernel  # the compiled compositions do not depend on the engine's ladder settings
    vinfluence, vbegin, vchunk, vend = run_programs(engine, protocol)
    # the small per-point arrays stay on the host (numpy): an eager device op costs ~0.1-1 ms
    size = np.shape(dt)[0]
    padded = batch_bucket(size)
    rows = np.concatenate([np.arange(size), np.zeros(padded - size, dtype=int)])
    pad = (lambda tree: jax.tree_util.tree_map(lambda a: a[rows], tree)) if padded > size else (lambda tree: tree)  # noqa: E731
    n = np.broadcast_to(np.asarray(n_steps, dtype=np.int64), (size,))[rows]
    n_dev = n.astype(np.int32)
    eps_max = np.zeros(padded) if eps_max is None else np.asarray(eps_max, dtype=np.float64)[rows]
    flat, dt = pad(flat), np.asarray(dt, dtype=np.float64)[rows]
    key = engine.compile_key(memory)
    if engine.shared_influence:
        influence = shared
    else:
        influence = vinfluence(flat.bath, dt, key, bool(compensate))
    head = engine.head(memory)
    state, aux = vbegin(flat, dt, eps_max, n_dev, influence, head, key)
    steady = engine.steady(influence)
    if single:  # the influence build and first steps stay float64; the hot loop runs in complex64
        state, steady = to_single((state, steady))
    first = np.int32(head)  # point i's steady steps are head … n_i − 2
    done, last = None, 0  # the bar follows one chunk behind, so the next chunk is queued while one runs
    for begin, length in chunk_plan(int(n.max())):
        state = vchunk(state, steady, flat, dt, n_dev, np.int32(begin), first, length, bool(single))
        if bar is not None:
            if done is not None:
                jax.block_until_ready(done)
                bar.update(last)
            done, last = state, length
    if bar is not None and done is not None:
        jax.block_until_ready(done)
        bar.update(last)
    if single:
        state = jax.tree_util.tree_map(lambda x: x.astype(jnp.complex128), state)
    out = vend(state, influence, aux, flat, dt, eps_max, n_dev)
    if host:  # one transfer, then numpy slicing (an eager device slice per output costs ~0.3 ms)
        return tuple(np.asarray(o)[:size] for o in out)
    return tuple(o[:size] for o in out) if padded > size else out


def padded_steps(n_steps) -> int:
    """Steps a :func:`run_batch` call reports to its progress bar for these step counts."""
    return sum(length for _, length in chunk_plan(int(np.max(n_steps))))


def new_bar(total: int, enabled: bool, desc: str = "QUAPI steps"):
    """The progress bar of a QUAPI call (one per call, with the total of all its runs)."""
    return progress_bar(total, enabled, desc) if enabled else None


__all__ += ["new_bar"]
