"""QUAPI at fixed settings: per-point expert calls and the validated batch call.

Three layers (STYLE.md): :func:`quapi_probabilities` and :func:`quapi_window_probabilities` are
pure per-point functions (jit/vmap/grad friendly, no checks); :func:`solve_quapi` validates in
Python, guards memory and runs one vmapped batch through :func:`lzjax.quapi.runner.run_batch`
(whole protocol, projective read-out). The convergence ladder is :mod:`lzjax.quapi.ladder`.
Times (dt, tmax) are in units of 1/Δ of the problem (ħ = 1); probabilities are dimensionless.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..checks import check_number, check_precision, check_step_count
from ..model import LZProblem, check_problem, dimensionless, flatten_problem
from ..results import Result, make_result
from .engines import get_engine
from .engines.adt import ADT
from .runner import check_influence, check_memory, new_bar, padded_steps, run_batch
from .window import QUAPI_SCHEMES

__all__ = ["quapi_probabilities", "quapi_window_probabilities", "solve_quapi", "estimate_memory_bytes", "steps_for"]


def steps_for(dt: float, tmax: float) -> int:
    """Static step count N = round(tmax/dt) of a fixed-step protocol."""
    return int(round(tmax / dt))


def _point(engine, protocol: str, problem: LZProblem, dt, n_steps: int, memory: int, eps_max, compensate: bool = False):
    """(P_LZ, P_ES) of one dimensionless problem through `engine` and `protocol`, no checks.
    Compiled once per static settings (called eagerly, it runs as one program, not op by op);
    a shared-influence engine's host build (and its tangent) happens before, outside the jit."""
    engine = engine.kernel  # compiled once per engine, whatever its ladder settings
    shared = engine.influence(problem.bath, dt, memory, compensate) if engine.shared_influence else None
    return _point_compiled(engine, protocol, problem, dt, shared, eps_max, n_steps, memory, compensate)


@functools.partial(jax.jit, static_argnums=(0, 1, 6, 7, 8))
def _point_compiled(engine, protocol, problem, dt, shared, eps_max, n_steps, memory, compensate):
    setup, finish = QUAPI_SCHEMES[protocol]
    influence = shared if engine.shared_influence else engine.influence(problem.bath, dt, memory, compensate)
    k_steps, rho0, aux = setup(problem, dt, n_steps, eps_max)
    head = engine.head(memory)
    state = engine.start(k_steps[:head], rho0, influence, memory)
    state = engine.advance(state, engine.steady(influence), k_steps[head : n_steps - 1])
    rho = engine.readout(state, k_steps[n_steps - 1], influence)
    return finish(rho, aux, problem, dt, n_steps, eps_max)


def quapi_window_probabilities(
    problem: LZProblem,
    *,
    dt: float,
    kmax: int,
    eps_q: float | None = None,
    eps_max: float,
    compensate: bool = False,
    engine="adt",
    n_steps: int | None = None,
):
    """Expert call: (P_LZ, P_ES) of windowed QUAPI at fixed settings, no checks, no error estimate.

    QUAPI over |ε| ≤ ε_q (N = round(2 ε_q/(v δt)) steps, so ε_q is adjusted to v N δt/2), dressed
    start, asymptotic read-out, and **golden-rule** population tails over ε_q < |ε| ≤ ε_max
    (:mod:`lzjax.quapi.window`). Linear drive only. `eps_q`, `eps_max` in units of Δ, `dt` in 1/Δ,
    all Python numbers except `eps_max` (may be traced); `problem` leaves scalars.
    `compensate`: η from the box-compensated spectral density
    (:func:`lzjax.quapi.influence.eta_coefficients`). `n_steps` (instead of `eps_q`): a fixed
    step count, the window then being ε_q = v N δt/2 — for derivatives in v (jax.grad), where
    N must not depend on the traced v.

    Differentiable (jax.grad, jax.jvp, jacfwd/jacrev; eagerly or under jax.jit / vmap) in v, Θ
    and, with `engine="pt"` and `kmax` a :class:`lzjax.quapi.engines.pt.PTSettings`, in the bath
    leaves γ, s, ω_c, T too: the tensor and its tangent are built on the host
    (:func:`lzjax.quapi.engines.pt.differentiable_tensor`; under jit/vmap through a callback, χ
    padded to chi_max's bucket). First derivatives in the bath only. Measured agreement with
    central differences: 4e-8 relative; jit/vmap equal eager to 1e-14 (tests/test_pt.py).
    """
    d = problem.drive.delta
    if n_steps is None:
        n_steps = steps_for(dt * d, 2.0 * (eps_q / d) / float(problem.drive.v / d**2))
    return _point(get_engine(engine), "window", dimensionless(problem), dt * d, n_steps, kmax, eps_max / d, compensate)


def quapi_probabilities(problem: LZProblem, *, dt: float, kmax: Any, tmax: float, engine: Any = "adt"):
    """Expert call: (P_LZ, P_ES) of one point at fixed settings, no checks, no error estimate.

    `problem` leaves are scalars (vmap it for batches; Δ ≠ 1 is rescaled here), `dt` and
    `tmax` Python numbers in units of 1/Δ (they fix the static step count N = round(tmax/dt)),
    `kmax` the engine's run memory (steps for the ADT; :class:`lzjax.quapi.engines.pt.PTSettings`
    for the process tensor), `engine` a name of :data:`lzjax.quapi.ENGINES` or an engine object.
    Differentiable in the problem leaves.
    """
    n_steps = steps_for(dt, tmax)
    return _point(get_engine(engine), "plain", dimensionless(problem), dt * problem.drive.delta, n_steps, kmax, None)


def estimate_memory_bytes(kmax: int, batch: int, dtype=jnp.complex128) -> int:
    """Peak bytes of the plain ADT for `batch` points: 7·4^kmax elements of `dtype` per point
    (:meth:`lzjax.quapi.engines.adt.ADT.memory_bytes`)."""
    return ADT().memory_bytes(kmax, batch, jnp.dtype(dtype).itemsize)


def solve_quapi(
    problem: LZProblem,
    *,
    dt: float,
    kmax: int,
    tmax: float,
    progress: bool = False,
    precision: str = "float64",
    engine="adt",
) -> Result:
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
    - `precision`: "float64" (default) or "float32": the steady steps (the hot loop) in
      complex64, η and propagators still computed in float64 — an opt-in fast path whose error
      is measured in tests/test_quapi_precision.py and benchmarks/RESULTS.md.
    - `engine`: "adt" (the plain augmented density tensor).

    Returns a :class:`lzjax.results.Result` (settings dt, kmax); errors are NaN, `converged`
    False and status "unchecked": fixed settings are not checked (use
    :func:`lzjax.quapi.converge_quapi` for error bars and a convergence verdict).
    """
    engine = get_engine(engine)
    check_problem(problem)
    engine.check(kmax)
    dt = check_number("dt", dt, 0.0, lower_open=True, unit="units 1/delta")
    tmax = check_number("tmax", tmax, 0.0, lower_open=True, unit="units 1/delta")
    n_steps = check_step_count(dt, tmax, kmax + 1)
    single = check_precision(precision) == np.float32
    flat, shape = flatten_problem(problem)
    batch = int(np.prod(shape, dtype=int))
    check_memory(engine, kmax, batch, engine.memory_range)
    delta = np.asarray(flat.drive.delta)
    check_influence(engine, dimensionless(flat), np.full(batch, dt) * delta, kmax)
    bar = new_bar(padded_steps(n_steps), progress)
    p_lz, p_es, trace_err = run_batch(
        engine, "plain", dimensionless(flat), jnp.asarray(dt * delta), n_steps, kmax, single=single, bar=bar
    )
    if bar is not None:
        bar.close()
    t_max = n_steps * dt
    v = np.asarray(flat.drive.v)
    return make_result(
        P_LZ=np.asarray(p_lz),
        P_ES=np.asarray(p_es),
        P_LZ_err=np.nan,
        P_ES_err=np.nan,
        tol=None,
        eps_max=0.5 * v * t_max,
        t_max=t_max,
        engine=f"quapi-{engine.name}",
        settings={"dt": float(dt), "kmax": int(kmax), "trace_err": np.asarray(trace_err)},
        shape=shape,
        precision=precision,  # the steady steps ran in complex64: float32's slack, float64 values
    )
