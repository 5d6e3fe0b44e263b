"""Compiled programs kept between processes: a warm call loads its executables instead of tracing.

A :class:`Program` is a jitted function whose executables are kept per input signature — the
static arguments, the pytree structure and every array's shape, dtype and weak type — in memory
and, where that signature has a stable text, in the user cache (kind ``programs``,
:mod:`lzjax.cache`). JAX's own persistent cache saves compiling but not tracing and lowering,
which cost a warm command-line call most of its time; a loaded executable costs a millisecond.

The disk key holds a hash of lzjax's source (every module of the package), the JAX and jaxlib
versions, the machine (processor, device kind and count, ``XLA_FLAGS``) and the float64 flag,
so an edited checkout or another machine never loads a stale program. Anything unusual — a
tracer among the arguments (a call inside another trace), an array spread over several devices,
keyword arguments, a failed load or store — takes the plain jitted call or compiles afresh.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import os
import pickle
import platform
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.core  # explicit submodule import for type checkers (jax imports it itself)
import numpy as np

from . import cache

__all__ = ["Program", "environment_key"]

#: bump when the stored layout changes
_FORMAT = 1


def _processor() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith(("model name", "flags")):
                    return hashlib.sha256(line.encode()).hexdigest()[:16] + platform.machine()
    except OSError:
        pass
    return platform.machine() + platform.processor()


@functools.cache
def environment_key() -> tuple:
    """What a stored executable was built for besides its own signature (see the module doc)."""
    devices = jax.devices()
    return (
        _FORMAT,
        cache.source_hash(),
        jax.__version__,
        importlib.metadata.version("jaxlib"),
        _processor(),
        devices[0].platform,
        devices[0].device_kind,
        len(devices),
        os.environ.get("XLA_FLAGS", ""),
        bool(jax.config.values["jax_enable_x64"]),
    )


@functools.cache
def _default_device():
    return jax.devices()[0]


def _aval(x) -> tuple | None:
    """(shape, dtype, weak type, device) of a leaf; None for a tracer or an array on several
    devices. The device is that of an array on a device other than the default one (None for
    host values and the default device, which run the same executable)."""
    if isinstance(x, np.ndarray):
        return (x.shape, x.dtype, False, None)
    if isinstance(x, jax.core.Tracer):
        return None
    if isinstance(x, jax.Array):
        devices = x.sharding.device_set
        if len(devices) > 1:
            return None
        device = next(iter(devices))
        device = None if device == _default_device() else device.id
        return (x.shape, x.dtype, bool(x.weak_type), device)  # pyright: ignore[reportAttributeAccessIssue]
    a = jax.api_util.shaped_abstractify(x)
    return (tuple(a.shape), np.dtype(a.dtype), bool(a.weak_type), None)  # pyright: ignore[reportAttributeAccessIssue]


@contextlib.contextmanager
def _fresh_compilation():
    """JAX's persistent compilation cache off for the duration: an executable that cache hands
    back cannot be serialised again (on the CPU its re-serialised form lacks the compiled
    functions), so a program that will be stored is compiled afresh."""
    from jax.experimental.compilation_cache import compilation_cache

    enabled = bool(jax.config.values["jax_enable_compilation_cache"])
    jax.config.update("jax_enable_compilation_cache", False)
    compilation_cache.reset_cache()
    try:
        yield
    finally:
        jax.config.update("jax_enable_compilation_cache", enabled)
        compilation_cache.reset_cache()


def _as_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.uint8)


class Program:
    """`jax.jit(fn, static_argnums=...)` whose executables are kept per signature, in memory and
    on disk (see the module doc). Call it like the jitted function, arguments by position."""

    def __init__(self, name: str, fn: Callable, static_argnums: Sequence[int] = (), key: Any = ()):
        """`name` and `key` (a value with a stable repr: what the traced function closes over)
        identify the program on disk; `fn` is traced with `static_argnums` as in ``jax.jit``."""
        self.name = name
        self.key = key
        self.static_argnums = tuple(sorted(int(i) for i in static_argnums))
        self.jitted = jax.jit(fn, static_argnums=self.static_argnums)
        self._executables: dict = {}
        #: how many signatures were loaded from disk and compiled (this process)
        self.loaded = 0
        self.compiled = 0

    def __call__(self, *args, **kwargs):
        if kwargs:
            return self.jitted(*args, **kwargs)
        statics = tuple(args[i] for i in self.static_argnums)
        dynamic = tuple(a for i, a in enumerate(args) if i not in self.static_argnums)
        leaves, treedef = jax.tree_util.tree_flatten(dynamic)
        avals = tuple(_aval(x) for x in leaves)
        if any(a is None for a in avals):
            return self.jitted(*args)
        signature = (statics, treedef, avals)
        executable = self._executables.get(signature)
        if executable is None:
            executable = self._load_or_compile(args, signature)
            self._executables[signature] = executable
        return executable(*dynamic)

    def _disk_key(self, signature) -> str | None:
        statics, treedef, avals = signature
        text = repr((environment_key(), self.name, self.key, statics, str(treedef), avals))
        return None if " at 0x" in text else cache.entry_key(text)

    def _load_or_compile(self, args, signature):
        from jax.experimental import serialize_executable

        key = self._disk_key(signature) if cache.cache_dir("programs") is not None else None
        stored = cache.load_arrays("programs", key) if key is not None else None
        if stored is not None:
            try:
                executable = serialize_executable.deserialize_and_load(
                    stored["payload"].tobytes(),
                    pickle.loads(stored["in_tree"].tobytes()),
                    pickle.loads(stored["out_tree"].tobytes()),
                )
            except Exception:  # noqa: BLE001 - a damaged or foreign entry: compile afresh
                pass
            else:
                self.loaded += 1
                return executable
        self.compiled += 1
        if key is None:
            return self.jitted.lower(*args).compile()
        with _fresh_compilation():
            executable = self.jitted.lower(*args).compile()
        try:
            payload, in_tree, out_tree = serialize_executable.serialize(executable)
            arrays = {
                "payload": _as_bytes(payload),
                "in_tree": _as_bytes(pickle.dumps(in_tree)),
                "out_tree": _as_bytes(pickle.dumps(out_tree)),
            }
        except Exception:  # noqa: BLE001 - a backend that cannot serialise: memory only
            return executable
        cache.store_arrays("programs", key, arrays)
        return executable
