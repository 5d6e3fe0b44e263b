"""The resumable results file of :func:`lzjax.sweep`: JSON lines, one finished chunk a line.

    {"lzjax_sweep": 2, "identity": "9f1c…", "engine": …, "coords": …, "options": …,
     "chunk_size": 8, "n_points": 40, "n_chunks": 5, "lzjax_version": "0.1.0"}      # header
    {"identity": "9f1c…", "chunk": 3, "n": 8, "check": "…", "data": {"P_LZ": [...], ...}}  # a chunk

The identity is a hash of everything that decides the numbers (engine, grid, options, chunk
size, lzjax version); "check" hashes the line's values. On resume a chunk line is used only
when it carries this identity, a chunk index of this sweep, the right point count and a
complete, well-typed set of values matching its check;
any other line (foreign, damaged, short, cut off by a kill) is ignored — said once on stderr —
and its chunk recomputed. A header of another sweep is refused with a ValueError; an empty file
counts as new.

Several processes may work on one store: a chunk is claimed with an exclusive POSIX record lock
(``fcntl.lockf``) on one byte of ``FILE.lock`` before it is computed, so no chunk is computed
twice while its claimer lives; a claim dies with its process, so a killed worker's chunk is
picked up again. Lines are appended under a lock of their own, so writers never interleave.
(Platforms without ``fcntl``: no locking, one writer at a time.)

The lock file is removed when a run ends (finished, failed or interrupted) by the last process
using it, safely for any number of them, without counting users (a count is wrong once a user
is killed): a process that ends takes a lock on the *whole* file without waiting; it gets it
only when no other process holds any lock on it at that instant, and only then unlinks it. A
process that is still running but holds no lock at that instant (between chunks, waiting for
another's chunk) keeps a descriptor of the unlinked file, so every lock a process takes is
checked afterwards: if its descriptor no longer is the file at ``FILE.lock`` (device and inode),
it reopens that path (creating it again) and locks anew. The check is sound because an unlink
happens only under the whole-file lock, which excludes every other lock: once a lock is taken
on the file that the path names, the path keeps naming it while the lock is held. A killed
process leaves the lock file behind, harmless: the next run uses it and removes it.

A failed write leaves the store as it was: a header that cannot be written (a full disk)
removes the file this run created, a chunk line that cannot be written is cut off again, and
the error (an OSError naming the store) goes to the caller; a store that this run created and
that holds no chunk when the run fails is removed with the lock by the last process out.

Stores written before chunk identities existed (format 1) are upgraded once with
``python -m lzjax.store migrate FILE...`` (:func:`migrate`).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterable

import numpy as np

from .version import __version__
from .writers import name_file_errors

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None

__all__ = ["FORMAT", "SweepStore", "SweepInterrupted", "sweep_header", "migrate"]

FORMAT = 2


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep: `kept` of `total` chunks are in `store` (None: no store)."""

    def __init__(self, kept: int, total: int, store: str | None):
        super().__init__(f"interrupted; {kept} of {total} chunks kept in {store}" if store else "interrupted")
        self.kept, self.total, self.store = kept, total, store


def _version() -> str:
    return __version__


def _identity(fields: dict) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


def sweep_header(
    engine: str,
    coords: dict,
    options: dict,
    chunk_size: int,
    n_points: int,
    version: str | None = None,
    bath: dict | None = None,
) -> dict:
    """The header line of a sweep; its "identity" hashes engine, grid, options, chunk size,
    version and, for a family other than the paper's, `bath` (its name, a table's points:
    :func:`lzjax.sweeps.sweep_family`; None leaves the paper's headers as they were)."""
    version = _version() if version is None else version
    fields = {
        "engine": engine,
        "coords": {k: np.asarray(c, dtype=float).tolist() for k, c in coords.items()},
        "options": {k: options[k] for k in sorted(options)},
        "chunk_size": int(chunk_size),
        "lzjax_version": version,
    }
    if bath is not None:
        fields["bath"] = bath
    fields = json.loads(json.dumps(fields))  # exactly what a reader gets back
    n_chunks = -(-int(n_points) // int(chunk_size))
    return {
        "lzjax_sweep": FORMAT,
        "identity": _identity(fields),
        **fields,
        "n_points": int(n_points),
        "n_chunks": n_chunks,
    }


def _jsonable(values: np.ndarray) -> list:
    values = np.asarray(values).reshape(-1)
    if values.dtype == bool or values.dtype.kind in "iuUS":
        return values.tolist()
    return [float(x) if np.isfinite(x) else None for x in values.astype(float)]


def _checksum(data: dict) -> str:
    """Hash of a chunk's values as written (json round trips floats exactly, so a reader
    recomputes it from the parsed line): any edited or damaged value is detected."""
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _decode(vals: list) -> np.ndarray:
    if all(isinstance(x, str) for x in vals):
        return np.array(vals, dtype=str)
    if all(isinstance(x, bool) for x in vals):
        return np.array(vals, dtype=bool)
    if all(isinstance(x, int) and not isinstance(x, bool) for x in vals):
        return np.array(vals, dtype=np.int64)
    return np.array([np.nan if x is None else x for x in vals], dtype=float)


def _with_status(data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A chunk written before results carried a status (same lzjax version): its status and
    checked values from :func:`lzjax.results.classify`, as the engine would give them now."""
    from .results import classify

    checked = not np.all(np.isnan(data["P_LZ_err"]))
    p_lz, p_es, err_lz, err_es, converged, status = classify(
        data["P_LZ"],
        data["P_ES"],
        data["P_LZ_err"],
        data["P_ES_err"],
        data["converged"] if checked else None,
        trace_err=data.get("trace_err"),
    )
    return {
        **data,
        "P_LZ": p_lz,
        "P_ES": p_es,
        "P_LZ_err": err_lz,
        "P_ES_err": err_es,
        "converged": converged,
        "status": status,
    }


def _is_value(x) -> bool:
    return x is None or isinstance(x, (bool, int, float, str))


class SweepStore:
    """One sweep's view of a store file: read, claim, append (see the module docstring).

    `names` are the result columns; `counts[i]` the number of points of chunk i.
    Use as a context manager (holds the lock file open).
    """

    def __init__(self, path, header: dict, names: Iterable[str], counts: list[int]):
        self.path = os.fspath(path)
        if not isinstance(self.path, str) or not self.path.strip() or self.path.endswith(("/", os.sep)):
            raise ValueError(f"store must name a file, got {self.path!r}")
        self.header = header
        self.identity = header["identity"]
        self.names = tuple(names)
        self.counts = list(counts)
        self.done: dict[int, dict[str, np.ndarray]] = {}
        self._offset = 0  # bytes of the file already read (complete lines only)
        self._dropped: list[str] = []
        self._lock_fd = None
        self._claimed: set[int] = set()
        self._created = False  # this run created the store file

    # -- locking ----------------------------------------------------------------------------
    @property
    def lock_path(self) -> str:
        return self.path + ".lock"

    def __enter__(self):
        if fcntl is not None:
            self._open_lock()
        return self

    def __exit__(self, exc_type, *exc):
        try:
            if self._lock_fd is not None:
                self._leave(failed=exc_type is not None)
        finally:
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # releases every record lock of this process on the file
                self._lock_fd = None
            self._claimed.clear()
        return False

    def _open_lock(self) -> None:
        with name_file_errors(self.lock_path):
            self._lock_fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o666)  # less the umask

    def _lock_is_current(self) -> bool:
        """Whether our descriptor is still the file at ``FILE.lock`` (see the module docstring)."""
        assert self._lock_fd is not None
        mine = os.fstat(self._lock_fd)
        try:
            there = os.stat(self.lock_path)
        except FileNotFoundError:
            return False
        return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)

    def _lock(self, byte: int, blocking: bool) -> bool:
        if self._lock_fd is None or fcntl is None:  # (the file is opened only where fcntl exists)
            return True
        flags = fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB)
        while True:
            fd = self._lock_fd
            assert fd is not None  # (opened again below when it went stale)
            try:
                fcntl.lockf(fd, flags, 1, byte, os.SEEK_SET)
            except OSError as error:
                if error.errno in (errno.EACCES, errno.EAGAIN):
                    return False
                raise
            if self._lock_is_current():
                return True
            # the last process out removed the lock file while we held no lock: our locks are on
            # a file nobody else sees; take them on the one at the path (created again if needed)
            os.close(fd)
            self._lock_fd = None
            self._open_lock()

    def _leave(self, failed: bool) -> None:
        """Remove the lock file if no other process holds a lock on it (the last one out), and,
        when the run failed, a store that this run created and that holds no chunk."""
        assert self._lock_fd is not None and fcntl is not None
        try:
            fcntl.lockf(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 0, 0, os.SEEK_SET)  # all of it
        except OSError:
            return  # another process is at work on this store: it removes the lock when it ends
        if not self._lock_is_current():
            return  # removed already (and maybe made anew by another process: not ours to remove)
        if failed and self._created and not self.done:
            try:
                if os.path.getsize(self.path) <= len(self._header_bytes()):
                    os.remove(self.path)
            except OSError:
                pass
        try:
            os.remove(self.lock_path)
        except FileNotFoundError:
            pass

    def _unlock(self, byte: int) -> None:
        if self._lock_fd is not None and fcntl is not None:
            fcntl.lockf(self._lock_fd, fcntl.LOCK_UN, 1, byte, os.SEEK_SET)

    def claim(self, index: int) -> bool:
        """Claim chunk `index` for computing; False if another live process holds it or it is done."""
        if index in self.done:
            return False
        if not self._lock(index + 1, blocking=False):
            return False
        self._claimed.add(index)
        self.refresh()  # finished by someone between our last read and the claim?
        if index in self.done:
            self.release(index)
            return False
        return True

    def release(self, index: int) -> None:
        if index in self._claimed:
            self._claimed.discard(index)
            self._unlock(index + 1)

    # -- reading ----------------------------------------------------------------------------
    def open(self) -> dict[int, dict[str, np.ndarray]]:
        """Create the file (absent or empty) or check its header and read its finished chunks."""
        self._lock(0, blocking=True)
        try:
            missing = False
            try:
                with name_file_errors(self.path), open(self.path, "rb") as f:
                    first = f.readline()
            except FileNotFoundError:
                first, missing = b"", True
            if not first.strip() or (not first.endswith(b"\n") and self._header_bytes().startswith(first)):
                self._write_header(missing)  # new, empty, or a header cut off while written
                self._offset = len(self._header_bytes())
                return self.done
            self._check_header(first)
            self._offset = len(first)
            self._read_new()
        finally:
            self._unlock(0)
        self._report_dropped()
        return self.done

    def refresh(self) -> None:
        """Read chunk lines appended since the last read (by this or another process)."""
        self._lock(0, blocking=True)
        try:
            self._read_new()
        finally:
            self._unlock(0)
        self._report_dropped()

    def _write_header(self, missing: bool) -> None:
        try:
            with name_file_errors(self.path), open(self.path, "wb") as f:
                f.write(self._header_bytes())
                f.flush()
                os.fsync(f.fileno())
        except BaseException:  # a full disk: leave no empty or cut store behind
            try:
                if missing:
                    os.remove(self.path)
                else:
                    os.truncate(self.path, 0)
            except OSError:
                pass
            raise
        self._created = self._created or missing

    def _header_bytes(self) -> bytes:
        return (json.dumps(self.header) + "\n").encode()

    def _check_header(self, first: bytes) -> None:
        try:
            stored = json.loads(first)
            assert isinstance(stored, dict) and "lzjax_sweep" in stored
        except (ValueError, AssertionError):
            raise ValueError(f"store {self.path!r} is not an lzjax sweep file; refusing to write into it") from None
        if stored.get("lzjax_sweep") == 1:
            raise ValueError(
                f"store {self.path!r} is in the old format without chunk identities; upgrade it once with "
                f"`python -m lzjax.store migrate {self.path}` (or delete it)"
            )
        if stored.get("identity") == self.identity:
            return
        if stored.get("lzjax_version") != self.header["lzjax_version"] and all(
            stored.get(k) == self.header[k] for k in ("engine", "coords", "options", "chunk_size")
        ):
            raise ValueError(
                f"store {self.path!r} was written by lzjax {stored.get('lzjax_version')}, this is "
                f"{self.header['lzjax_version']}; refusing to mix results (delete it or choose another file)"
            )
        raise ValueError(
            f"store {self.path!r} holds a sweep with other parameters, options or chunk size; refusing "
            "to mix results (delete it or choose another file)"
        )

    def _read_new(self) -> None:
        with name_file_errors(self.path), open(self.path, "rb") as f:
            f.seek(self._offset)
            raw = f.read()
        end = raw.rfind(b"\n") + 1  # complete lines only
        for line in raw[:end].split(b"\n")[:-1]:
            if line.strip():
                self._take(line)
        self._offset += end
        if end < len(raw):
            # we hold the append lock, so a tail without newline is a write cut short by a kill
            with name_file_errors(self.path):
                os.truncate(self.path, self._offset)

    def _take(self, line: bytes) -> None:
        why = None
        try:
            record = json.loads(line)
        except ValueError:
            record, why = None, "damaged"
        if why is None:
            why = self._invalid(record)
        if why is not None:
            self._dropped.append(
                why
                if record is None or not isinstance(record.get("chunk"), int)
                else f"{why} (chunk {record['chunk']})"
            )
            return
        index = record["chunk"]  # pyright: ignore[reportOptionalSubscript]  # why is None: record parsed
        if index not in self.done:  # the first valid line of a chunk wins
            data = {n: _decode(vals) for n, vals in record["data"].items()}  # pyright: ignore[reportOptionalSubscript]
            if "status" in self.names and "status" not in data:
                data = _with_status(data)
            self.done[index] = {n: data[n] for n in self.names}

    def _invalid(self, record) -> str | None:
        if not isinstance(record, dict):
            return "damaged"
        if record.get("identity") != self.identity:
            return "from another sweep"
        index, n, data = record.get("chunk"), record.get("n"), record.get("data")
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(self.counts):
            return "with a chunk index outside this sweep"
        if (
            n != self.counts[index]
            or not isinstance(data, dict)
            or set(data) not in (set(self.names), set(self.names) - {"status"})
        ):
            return "with the wrong shape"
        for vals in data.values():
            if not isinstance(vals, list) or len(vals) != n or not all(_is_value(x) for x in vals):
                return "with the wrong number or kind of values"
        if record.get("check") != _checksum(data):
            return "with damaged values (checksum)"
        return None

    def _report_dropped(self) -> None:
        if self._dropped:
            reasons = sorted(set(self._dropped))
            print(
                f"lzjax: store {self.path}: ignored {len(self._dropped)} line(s) that do not belong to "
                f"this sweep or are damaged: {'; '.join(reasons[:4])}{' ...' if len(reasons) > 4 else ''}; "
                "those chunks are recomputed",
                file=sys.stderr,
            )
            self._dropped.clear()

    # -- writing ----------------------------------------------------------------------------
    def append(self, index: int, data: dict[str, np.ndarray]) -> None:
        """Append chunk `index` (flushed and fsynced) and release its claim."""
        values = {n: _jsonable(data[n]) for n in self.names}
        record = {
            "identity": self.identity,
            "chunk": int(index),
            "n": int(self.counts[index]),
            "check": _checksum(values),
            "data": values,
        }
        line = (json.dumps(record) + "\n").encode()
        self._lock(0, blocking=True)
        try:
            self._read_new()  # also cuts off a partial tail, so our line starts on its own
            if index not in self.done:
                try:
                    with name_file_errors(self.path), open(self.path, "ab") as f:
                        f.write(line)
                        f.flush()
                        os.fsync(f.fileno())
                except OSError:  # a full disk: cut off what part of the line got written (after a
                    # Ctrl-C the line stays: complete, it counts; cut, the next reader drops it)
                    try:
                        os.truncate(self.path, self._offset)
                    except OSError:
                        pass
                    raise
                # done before the offset: a Ctrl-C between the two is repaired by `refresh`,
                # which re-reads the line (idempotent), so the kept count is never one short
                self.done[index] = {n: np.asarray(data[n]).reshape(-1) for n in self.names}
                self._offset += len(line)
        finally:
            self._unlock(0)
            self.release(index)

    def wait(self, seconds: float = 0.2) -> None:
        time.sleep(seconds)
        self.refresh()


# -- migration of format-1 stores -----------------------------------------------------------------
def migrate(path, names: Iterable[str] | None = None) -> int:
    """Rewrite a format-1 store (header without identity) in the current format; returns the
    number of chunks kept. Lines that do not parse, have a chunk index outside the grid or the
    wrong number of values are dropped (said on stderr). Atomic (temporary file + rename).

    The identity uses the running lzjax version: migrate with the version that wrote the store.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    old = json.loads(lines[0])
    if old.get("lzjax_sweep") != 1:
        raise ValueError(f"{path!r} is not a format-1 lzjax store (header {str(old)[:80]})")
    n_points = int(np.prod([len(c) for c in old["coords"].values()]))
    header = sweep_header(old["engine"], old["coords"], old["options"], old["chunk_size"], n_points)
    counts = [min(old["chunk_size"], n_points - i * old["chunk_size"]) for i in range(header["n_chunks"])]
    chunks, dropped = {}, 0
    for line in lines[1:]:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            index, data = record["chunk"], record["data"]
            ok = (
                isinstance(index, int)
                and 0 <= index < len(counts)
                and isinstance(data, dict)
                and (names is None or set(data) == set(names))
                and all(isinstance(v, list) and len(v) == counts[index] for v in data.values())
            )
        except (ValueError, KeyError, TypeError):
            ok = False
        if not ok:
            dropped += 1
            continue
        chunks.setdefault(index, data)
    if names is None and chunks:
        names = list(next(iter(chunks.values())))
    out = [json.dumps(header)]
    for index in sorted(chunks):
        values = {n: chunks[index][n] for n in names}  # pyright: ignore[reportOptionalIterable]  # set once chunks exist
        out.append(
            json.dumps(
                {
                    "identity": header["identity"],
                    "chunk": index,
                    "n": counts[index],
                    "check": _checksum(values),
                    "data": values,
                }
            )
        )
    tmp = path + ".migrate.tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(out) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    if dropped:
        print(f"lzjax: {path}: dropped {dropped} damaged line(s) while migrating", file=sys.stderr)
    return len(chunks)


def _main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "migrate":
        print("usage: python -m lzjax.store migrate FILE.jsonl...", file=sys.stderr)
        return 2
    for path in argv[1:]:
        print(f"{path}: {migrate(path)} chunks kept")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
