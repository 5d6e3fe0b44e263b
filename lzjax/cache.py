"""The user cache folder: JAX's compiled programs and lzjax's built tensors, kept between calls.

``$XDG_CACHE_HOME/lzjax/<kind>`` (default ``~/.cache/lzjax/<kind>``); ``LZJAX_NO_CACHE=1``
turns every kind off (the test suite sets it). Kinds: ``jax`` (JAX's persistent compilation
cache, enabled by the CLI), ``tensors`` (process tensors, :func:`load_arrays` /
:func:`store_arrays`, used by :mod:`lzjax.quapi.engines.pt`) and ``programs`` (compiled
executables, :mod:`lzjax.programs`). Keys hold :func:`source_hash`: an edited lzjax never
loads what another source built.

Entries are written atomically (a temporary file in the same folder, then ``os.replace``), so
concurrent processes never read a partial entry: at worst two build the same entry and one
replacement wins, with equal contents. A kind is bounded in size: after a write, the least
recently used entries go until it holds at most ``LZJAX_CACHE_MAX_MB`` (default 1024 MiB) —
a load refreshes an entry's time. Any failure to read or write (a full disk, a damaged or
vanished entry) falls back to working without the entry; it never fails a calculation.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile

import numpy as np

__all__ = ["cache_dir", "entry_key", "load_arrays", "store_arrays", "prune", "cache_limit_bytes", "source_hash"]


def cache_dir(kind: str) -> str | None:
    """The folder of cache `kind`, created if needed; None when ``LZJAX_NO_CACHE`` is set or the
    folder cannot be made (no cache rather than no run)."""
    if os.environ.get("LZJAX_NO_CACHE", "").strip().lower() not in ("", "0", "false", "no"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "lzjax", kind)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return None
    return path


def cache_limit_bytes() -> int:
    """Size bound of one cache kind: ``LZJAX_CACHE_MAX_MB`` MiB (default 1024)."""
    try:
        mb = float(os.environ.get("LZJAX_CACHE_MAX_MB", "1024"))
    except ValueError:
        mb = 1024.0
    return int(max(mb, 0.0) * 2**20)


@functools.cache
def source_hash() -> str:
    """sha256 over lzjax's modules (relative path and contents), once per process: part of every
    entry's key, so that an edited checkout never loads what another source built."""
    root = os.path.dirname(os.path.abspath(__file__))
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                digest.update(os.path.relpath(path, root).encode())
                with open(path, "rb") as fh:
                    digest.update(fh.read())
    return digest.hexdigest()


def entry_key(*parts) -> str:
    """A file name for the entry described by `parts` (their repr; pass floats as float.hex()
    so that equal keys mean bitwise equal inputs)."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:40] + ".npz"


def load_arrays(kind: str, key: str) -> dict[str, np.ndarray] | None:
    """The arrays stored under `key`, or None (no cache, no entry, or an unreadable one)."""
    folder = cache_dir(kind)
    if folder is None:
        return None
    path = os.path.join(folder, key)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        os.utime(path)  # least recently used goes first
    except (OSError, ValueError, EOFError, KeyError):
        return None
    return arrays


def store_arrays(kind: str, key: str, arrays: dict[str, np.ndarray]) -> bool:
    """Write `arrays` under `key` atomically, then :func:`prune`; False if it could not."""
    folder = cache_dir(kind)
    if folder is None:
        return False
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".npz")
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)  # pyright: ignore[reportArgumentType]  (names are array keys)
        os.chmod(tmp, 0o644)
        os.replace(tmp, os.path.join(folder, key))
        tmp = None
    except OSError:
        return False
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    prune(kind)
    return True


def prune(kind: str, limit: int | None = None) -> None:
    """Remove the least recently used entries of `kind` until it holds at most `limit` bytes
    (default :func:`cache_limit_bytes`). Entries another process removes meanwhile are skipped."""
    folder = cache_dir(kind)
    if folder is None:
        return
    limit = cache_limit_bytes() if limit is None else int(limit)
    entries = []
    with os.scandir(folder) as it:
        for entry in it:
            if entry.name.endswith(".npz") and not entry.name.startswith(".tmp-"):
                try:
                    st = entry.stat()
                except OSError:
                    continue
                entries.append((st.st_mtime, st.st_size, entry.path))
    total = sum(size for _, size, _ in entries)
    for _, size, path in sorted(entries):
        if total <= limit:
            break
        try:
            os.unlink(path)
        except OSError:
            pass
        total -= size
