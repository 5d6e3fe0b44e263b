"""The interface every exact (path-integral) engine provides; everything else is written once.

An engine propagates the reduced density matrix of the two starts (ground, excited) through the
4×4 Liouville step propagators K_k of a protocol (:mod:`lzjax.quapi.window`) under the
discretised influence functional of the bath. The window protocol, the read-out, batching
(vmap), chunked scans, progress, precision and the convergence ladder
(:mod:`lzjax.quapi.runner`, :mod:`lzjax.quapi.ladder`) take any object with these members:

    name: str                        short name ("adt", ...), recorded in results
    shared_influence: bool           False: `influence` is computed per point inside the batch
                                     (vmapped); True: it is built once per bath on the host and
                                     passed unbatched to every point of the batch
    ladder_options: tuple[str, ...]  the settings of :func:`lzjax.quapi.converge_quapi` it takes
    columns: tuple[str, ...]         the result columns a sweep keeps besides P and its errors
    fixed_settings: bool             whether :func:`lzjax.quapi.solve_quapi` runs it at fixed settings
    check(memory, tol=None)          settings check in plain Python (ValueError naming the setting)
    influence_limit(memory) -> (limit, why)
                                     largest ln|pair factor| it can take, and why (checked
                                     before any work, :func:`lzjax.quapi.runner.check_influence`)
    chunk_points(options) -> int     points per sweep chunk (from its memory estimate)
    memory_bytes(memory, batch)      peak bytes of a batch (the memory guard uses it)
    head(memory) -> int              steps consumed by `start` (k_max for the ADT)
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

All array functions are per point and pure (no Python control flow on values); `memory` is a
static setting (steps, or the engine's settings tuple); `head`, `start` and `influence` inside
the compiled compositions receive `compile_key(memory)`. The runner vmaps them and jits each composition once per
(engine, protocol), caching by the static arguments. The plain augmented density tensor
(:data:`lzjax.quapi.engines.adt.ADT`) is the reference implementation.
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
