"""The interface every exact (path-integral) engine provides; everything else is written once.

An engine is a configured object (a frozen dataclass: its ladder settings, validated once in
its constructor, like diffrax's `solver=`): :class:`lzjax.quapi.engines.ADT`,
:class:`lzjax.quapi.engines.PT`. It propagates the reduced density matrix of the two starts
(ground, excited) through the 4×4 Liouville step propagators K_k of a protocol
(:mod:`lzjax.quapi.window`) under the discretised influence functional of the bath. The window
protocol, the read-out, batching (vmap), chunked scans, progress, precision, the convergence
ladder, sweeps and trajectories (:mod:`lzjax.quapi.runner`, :mod:`lzjax.quapi.ladder`,
:mod:`lzjax.sweep`, :mod:`lzjax.quapi.trajectory`) take any object with these members and never
test an engine's name:

    name: str                        short name ("adt", ...), recorded in results
    kernel                           the configuration-free instance the compiled programs are
                                     cached for (the ladder settings never reach them)
    configured(**settings)           a copy with ladder settings replaced (validated)
    ladder_options: tuple[str, ...]  the settings of :func:`lzjax.quapi.converge_quapi` it takes
    columns: tuple[str, ...]         the result columns a sweep keeps besides P and its errors
    fixed_settings: bool             whether :func:`lzjax.quapi.solve_quapi` runs it at fixed settings
    memory_range                     (lo, hi) of run memories for the memory guard's advice, or None
    shared_influence: bool           False: `influence` is computed per point inside the batch
                                     (vmapped); True: it is built once per bath on the host and
                                     passed unbatched to every point of the batch

  the convergence ladder (plain Python, on the host):
    group_keys(dimless) -> (n, k)    points with equal rows share a plan
    split_groups(dimless, groups, tol) -> groups   (optional) the groups split further where
                                     points of one group need different plans (PT: each
                                     point's own exact window)
    ladder_plans(dimless, groups, tol) -> (plans, merge keys)
                                     per group a dict of named :class:`lzjax.quapi.plan.Run` (the
                                     rule of :func:`lzjax.quapi.ladder.combine` reads "fine",
                                     "coarse", a memory partner, window runs); groups with equal
                                     plans (and merge keys) run as one batch
    refine_plan(plan, part, point) -> plan or None   (optional) the plan one step finer in the
                                     error part ("window", "dt", "memory", "compression") that
                                     dominates a point's bar above tol; None: not refined
    run_influence(bath, run, compensate) -> (shared influence or None, record)
    run_settings(plan, record) -> dict   per-batch settings of the result (PT: memory, χ, pt_tol)
    ladder_settings(record) -> dict      the engine's result settings (dtypes final)
    chunk_points(options) -> int     points per sweep chunk (from its memory estimate)
    ladder_cost(n_points, v) -> (seconds, bytes)   rough, for size estimates before any work
    step_seconds(memory) -> float    rough seconds per point-step of a run (size estimates)

  the propagation (per point, pure; no Python control flow on values):
    check(memory, tol=None)          run-settings check in plain Python (ValueError naming it)
    memory_bytes(memory, batch)      peak bytes of a batch (the memory guard uses it)
    influence_limit(memory) -> (limit, why)
                                     largest ln|pair factor| it can take, and why (checked
                                     before any work, :func:`lzjax.quapi.runner.check_influence`)
    head(memory) -> int              steps consumed by `start` (k_max for the ADT)
    head_trace(k_head, rho0, influence, memory) -> (state, ρ at t_1 … t_head)   for trajectories
    compile_key(memory) -> hashable  what of `memory` the per-point compositions depend on (the
                                     static argument they are compiled for: k_max for the ADT,
                                     None for the process tensor, whose settings reach the
                                     propagation only through the tensor's shapes)
    influence(bath, dt, memory, compensate) -> influence
                                     per point, pure (for shared_influence engines: the host
                                     build, called by the runner once per bath)
    start(k_head, rho0, influence, memory) -> state
                                     k_head (head, 4, 4), rho0 (2, 4) vec(ρ) in the X basis
    steady(influence) -> steady      the part of the influence the steady steps read (cast to
                                     complex64 on the float32 path)
    advance(state, steady, k_seq) -> state
                                     steady steps over k_seq (n, 4, 4), a `lax.scan`
    readout(state, k_last, influence) -> rho (2, 4)
                                     ρ at the end point, the last step's propagator k_last

  fixed settings (optional: :func:`lzjax.fit.fit_curve`, `lzjax fit`, `lzjax trajectory`):
    fixed_options: tuple[str, ...]   run options besides dt, kmax, tmax (PT: taper)
    fixed_memory(dt, kmax=None, **options) -> memory
                                     the validated run memory at step dt (ADT: kmax, required;
                                     PT: PTSettings, K = kmax or round(memory_time/dt))
    fixed_record(memory) -> dict     the run settings a result records (kmax, ...)
    build_seconds(memory) -> float   host work per bath before a run (size estimates)
    fit_traced: bool                 True: a fit runs :func:`lzjax.quapi.quapi_probabilities`
                                     per point under jit; False: the engine's eager
    fit_model(problem, dt, tmax, memory) -> P_LZ (n,)   over problem.drive.v (first derivatives)

`memory` is a static run setting (steps, or the engine's settings tuple); `head`, `start` and
`influence` inside the compiled compositions receive `compile_key(memory)`. The runner vmaps
the propagation and jits each composition once per (engine kernel, protocol), caching by the
static arguments. A third engine: one module in :mod:`lzjax.quapi.engines` and one line in
:data:`lzjax.quapi.engines.ENGINES`.
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["Engine"]


class Engine(Protocol):
    """Structural type of an exact engine (see the module docstring for the contract)."""

    name: str
    shared_influence: bool
    ladder_options: tuple[str, ...]
    columns: tuple[str, ...]
    fixed_settings: bool
    memory_range: tuple[int, int] | None

    @property
    def kernel(self) -> Engine: ...

    def configured(self, **settings) -> Engine: ...

    def group_keys(self, dimless) -> Any: ...

    def ladder_plans(self, dimless, groups, tol: float) -> tuple[list[dict], list | None]: ...

    def run_influence(self, bath, run, compensate: bool) -> tuple[Any, dict]: ...

    def run_settings(self, plan: dict, info: dict) -> dict: ...

    def ladder_settings(self, record: dict) -> dict: ...

    def head_trace(self, k_head, rho0, influence, memory) -> Any: ...

    def ladder_cost(self, n_points: int, v_typical: float) -> tuple[float, float]: ...

    def step_seconds(self, memory: Any) -> float: ...

    def check(self, memory: int, tol: float | None = None) -> None: ...

    def influence_limit(self, memory: Any) -> tuple[float, str]: ...

    def chunk_points(self, options: dict) -> int: ...

    def memory_bytes(self, memory: int, batch: int) -> int: ...

    def head(self, memory: int) -> int: ...

    def compile_key(self, memory: int) -> Any: ...

    def influence(self, bath, dt, memory: int, compensate: bool) -> Any: ...

    def start(self, k_head, rho0, influence, memory: int) -> Any: ...

    def steady(self, influence) -> Any: ...

    def advance(self, state, steady, k_seq) -> Any: ...

    def readout(self, state, k_last, influence) -> Any: ...
