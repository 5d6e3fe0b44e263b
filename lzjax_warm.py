"""A warm ``lzjax`` process that serves the next commands: they skip the start-up.

Every ``lzjax`` command pays for starting: importing JAX and lzjax (0.7–1 s on a 2-core CPU),
loading its compiled programs (~10 ms each, up to a few dozen) and the process tensors from the
cache folder. After a command has finished, the console script (:mod:`lzjax_main`) leaves a
*warm process* behind: a Python with lzjax imported that waits on a Unix socket. The next
``lzjax`` command, from any shell of the same user with the same Python, lzjax source and JAX
settings, hands it its arguments, working directory, environment, umask and its stdin, stdout
and stderr (the file descriptors themselves, so terminals, pipes and redirections behave as
they would); the warm process runs the command exactly as the command line would
(:func:`lzjax.cli.main`) and sends back its exit status. Its programs and tensors stay loaded,
so a repeated command costs only its computation. Results are the same bitwise (the same code
on the same inputs; tests/test_warm.py).

* One command at a time: a command that finds the warm process busy, starting for longer than
  :data:`WAIT_S`, or gone, runs itself as before (and leaves a new warm process if none is left).
* Ctrl-C reaches the warm process (the client forwards SIGINT): the command ends with status 130
  and its one line, as in its own process; the warm process then exits (the next command starts
  fresh). So does an unexpected error.
* It exits after ``LZJAX_WARM_IDLE`` seconds without a command (default 600), and when lzjax's
  source changes (a command from an edited checkout is never run by an older process).
* Off with ``LZJAX_WARM=0`` (and with ``LZJAX_NO_CACHE=1``, which keeps nothing between
  commands). ``python -m lzjax`` never uses it (that form imports lzjax before any code of ours).
  ``LZJAX_WARM_VERBOSE=1``: a command run by a warm process says so (one line on stderr with
  its process id, also written in the ``.lock`` file beside the socket).

The socket lives in ``$XDG_RUNTIME_DIR/lzjax`` (else ``$XDG_CACHE_HOME/lzjax/warm``), a folder
only its user may enter; its name is a hash of the user, the Python executable and path, the
source's fingerprint and the environment variables read when JAX or lzjax start (``JAX_*``,
``XLA_*``, ``LZJAX_*``, ``XDG_*``, ...). This module imports nothing heavy: the client side runs
before JAX is imported.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import signal
import socket
import struct
import subprocess
import sys

__all__ = ["run", "start", "serve", "address", "enabled", "WAIT_S", "IDLE_S"]

#: seconds a command waits for the warm process to accept it (one that is still importing, just
#: started by the previous command) before running itself
WAIT_S = 3.0
#: default seconds the warm process waits for a command before it exits (``LZJAX_WARM_IDLE``)
IDLE_S = 600.0
#: environment variables (by prefix) read when Python, JAX or lzjax start: part of the socket's name
_KEY_PREFIXES = ("JAX_", "XLA_", "LZJAX_", "XDG_", "TF_", "CUDA", "NVIDIA", "TPU_", "PYTHON", "OMP_", "MKL_")
#: the commands after which a warm process is left behind
_COMMANDS = ("quapi", "neqb", "fit", "trajectory", "window", "demo")


def _off(value: str | None) -> bool:
    return (value or "").strip().lower() in ("0", "false", "no", "off")


def enabled() -> bool:
    """Whether commands use (and leave) a warm process: not with ``LZJAX_WARM=0`` or
    ``LZJAX_NO_CACHE=1``, nor where Unix sockets cannot pass file descriptors."""
    no_cache = os.environ.get("LZJAX_NO_CACHE", "")
    return (
        not _off(os.environ.get("LZJAX_WARM"))
        and no_cache.strip().lower() in ("", "0", "false", "no")
        and hasattr(socket, "AF_UNIX")
        and hasattr(socket, "send_fds")
    )


def _folder() -> str | None:
    """The user's private folder for the socket (mode 0700), or None."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base:
        path = os.path.join(base, "lzjax")
    else:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        path = os.path.join(cache, "lzjax", "warm")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.stat(path)
    except OSError:
        return None
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        return None  # not ours alone: no socket there
    return path


def _fingerprint() -> str:
    """A hash of lzjax's source files (path, size, modification time) and of this module's: an
    edited source gives another warm process. Found without importing lzjax."""
    digest = hashlib.sha256()
    spec = importlib.util.find_spec("lzjax")
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs.sort()
            for name in sorted(files):
                if name.endswith(".py"):
                    file = os.path.join(folder, name)
                    info = os.stat(file)
                    digest.update(f"{os.path.relpath(file, root)}:{info.st_size}:{info.st_mtime_ns};".encode())
    for path in (__file__,):
        info = os.stat(path)
        digest.update(f"{path}:{info.st_size}:{info.st_mtime_ns};".encode())
    return digest.hexdigest()


def address() -> str | None:
    """The socket path of this user's warm process for this Python, source and JAX settings;
    None when warm processes are off (:func:`enabled`) or no private folder can hold one."""
    if not enabled():
        return None
    folder = _folder()
    if folder is None:
        return None
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith(_KEY_PREFIXES))
    key = json.dumps([os.getuid(), sys.executable, sys.path[1:], _fingerprint(), env])
    path = os.path.join(folder, hashlib.sha256(key.encode()).hexdigest()[:20] + ".sock")
    return path if len(path.encode()) < 100 else None  # AF_UNIX paths are short


# -- the client: the `lzjax` console script, before JAX is imported ------------------------------


def run(argv: list[str], path: str | None) -> int | None:
    """Run the command `argv` in the warm process at `path` (:func:`address`, taken before
    anything else ran): its exit status, or None when there is none to take it (the caller then
    runs the command itself)."""
    if path is None or not os.path.exists(path) or os.path.exists(path + ".busy"):
        return None
    fds = [fd for fd in (0, 1, 2) if _is_open(fd)]
    if len(fds) != 3:
        return None
    request = json.dumps({"argv": list(argv), "cwd": os.getcwd(), "env": dict(os.environ), "umask": _umask()}).encode()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.settimeout(WAIT_S)
        conn.connect(path)
        socket.send_fds(conn, [struct.pack("!I", len(request)) + request], fds)
        reader = conn.makefile("rb")
        line = reader.readline()
        if not line.startswith(b"pid "):
            conn.close()
            return None
        pid = int(line.split()[1])
        conn.sendall(b"go\n")  # committed: from here the warm process runs the command
    except (OSError, ValueError):
        conn.close()
        return None
    if not _off(os.environ.get("LZJAX_WARM_VERBOSE", "0")):
        print(f"lzjax: run by the warm process {pid}", file=sys.stderr, flush=True)
    previous = signal.signal(signal.SIGINT, lambda signum, frame: _forward(pid))
    try:
        conn.settimeout(None)
        line = reader.readline()  # the handler returns: the read resumes (PEP 475)
    except OSError:
        line = b""
    finally:
        signal.signal(signal.SIGINT, previous)
        conn.close()
    if not line.startswith(b"exit "):
        print(
            "lzjax: error: the warm lzjax process ended without a status (LZJAX_WARM=0 turns it off)", file=sys.stderr
        )
        return 1
    return int(line.split()[1])


def _forward(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGINT)


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def start(argv: list[str], code: int, path: str | None, environ: dict[str, str]) -> None:
    """After a command that ran itself: leave a warm process at `path` for the next ones (a
    finished compute command, when none is running there), started in `environ` (the
    environment before the command ran: JAX and lzjax set variables of their own). Never fails
    the command."""
    if code != 0 or not argv or argv[0] not in _COMMANDS or path is None:
        return
    try:
        if os.path.exists(path):
            return
        subprocess.Popen(
            [sys.executable, "-c", "import sys, lzjax_warm; lzjax_warm.serve(sys.argv[1])", path],
            cwd=os.path.dirname(os.path.abspath(__file__)),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a terminal's Ctrl-C and hang-up do not reach it
            close_fds=True,
            env=environ,
        )
    except OSError:
        pass


# -- the warm process ----------------------------------------------------------------------------


def serve(path: str) -> None:
    """The warm process at socket `path` (:func:`address`): one command at a time until idle for
    ``LZJAX_WARM_IDLE`` seconds, an interrupt, an unexpected error or a changed source."""
    import fcntl

    lock = open(path + ".lock", "a")  # noqa: SIM115 - held for the process's life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return  # another warm process holds this address
    lock.truncate(0)
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    for stale in (path, path + ".busy"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(stale)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)  # clients may connect now; they wait (WAIT_S) while lzjax is imported
    server.listen(8)
    try:
        idle = float(os.environ.get("LZJAX_WARM_IDLE", IDLE_S))
    except ValueError:
        idle = IDLE_S
    fingerprint = _fingerprint()
    try:
        from lzjax.cli import main  # the import the commands skip

        signal.signal(signal.SIGINT, signal.default_int_handler)
        server.settimeout(idle)
        while True:
            try:
                conn, _ = server.accept()
            except TimeoutError:
                break
            except KeyboardInterrupt:  # a forwarded Ctrl-C that arrived after its command ended
                continue
            with conn:
                request, fds = _receive(conn)
                if request is None:
                    continue
                if _fingerprint() != fingerprint:  # the source changed: the client runs itself
                    _close(fds)
                    break
                try:
                    conn.sendall(f"pid {os.getpid()}\n".encode())
                    if conn.recv(3) != b"go\n":
                        _close(fds)
                        continue
                except (OSError, KeyboardInterrupt):
                    _close(fds)
                    continue
                open(path + ".busy", "w").close()
                code, keep = _execute(main, request, fds)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path + ".busy")
                with contextlib.suppress(OSError):
                    conn.sendall(f"exit {code}\n".encode())
                if not keep:  # after an interrupt or an unexpected error: the next command starts fresh
                    break
    finally:
        server.close()
        for name in (path, path + ".busy"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
        lock.close()
    os._exit(0)  # no interpreter teardown racing XLA's threads (see lzjax.cli.console_main)


def _receive(conn) -> tuple[dict | None, list[int]]:
    """The request (length-prefixed JSON) and the three file descriptors of a client."""
    fds: list[int] = []
    try:
        conn.settimeout(WAIT_S)
        data, fds, _, _ = socket.recv_fds(conn, 1 << 16, 3)
        while len(data) >= 4 and len(data) < 4 + struct.unpack("!I", data[:4])[0]:
            more = conn.recv(1 << 16)
            if not more:
                break
            data += more
        request = json.loads(data[4 : 4 + struct.unpack("!I", data[:4])[0]])
        if len(fds) != 3 or not isinstance(request, dict):
            raise ValueError("malformed request")
        conn.settimeout(None)
        return request, list(fds)
    except (OSError, ValueError, struct.error, KeyboardInterrupt):
        _close(fds)
        return None, []


def _close(fds) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def _execute(main, request: dict, fds: list[int]) -> tuple[int, bool]:
    """Run one command as its own process would: the client's stdin/stdout/stderr, working
    directory, environment, umask and argv; everything put back afterwards. Returns (exit
    status, whether this process may serve another command: not after Ctrl-C or an error
    that escaped the command line)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    saved = [os.dup(fd) for fd in (0, 1, 2)]
    environ, cwd, argv, mask = dict(os.environ), os.getcwd(), sys.argv, _umask()
    code, keep = 1, False
    try:
        for fd, target in zip(fds, (0, 1, 2), strict=True):
            os.dup2(fd, target)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        os.umask(int(request["umask"]))
        sys.argv = ["lzjax", *request["argv"]]
        with contextlib.suppress(AttributeError, ValueError):
            sys.stdout.reconfigure(line_buffering=sys.stdout.isatty())  # type: ignore[union-attr]
        try:
            code = main(list(request["argv"]))
            keep = code in (0, 2)
        except KeyboardInterrupt:  # before or after main took Ctrl-C over
            print("lzjax: interrupted", file=sys.stderr)
            code = 130
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 1
        except Exception as error:  # noqa: BLE001 - reported to the client, then this process ends
            print(f"lzjax: error: {type(error).__name__}: {error}", file=sys.stderr)
            code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        for fd, target in zip(saved, (0, 1, 2), strict=True):
            os.dup2(fd, target)
        _close(saved + fds)
        os.environ.clear()
        os.environ.update(environ)
        sys.argv = argv
        os.umask(mask)
        with contextlib.suppress(OSError):
            os.chdir(cwd)
    return code, keep
