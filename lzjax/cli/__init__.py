"""The `lzjax` command line.

    lzjax neqb --v 0.1,0.3,1 --T 6.4 --gamma 5e-4 --s 3 --omega-c 5 --theta 0 [--delta 1]
               [--tol 1e-6] [--out FILE.json|FILE.csv] [--plot FILE.png] [--store FILE.jsonl]
    lzjax quapi (same parameter flags) --dt 0.1 --kmax 6 --tmax 60 | --tol 1e-3 [--budget 8]
    lzjax neqb|quapi|fit|trajectory|window ... --family gaussian|drude-lorentz|brownian (its flags: --lam --gamma-d
               --omega-0 --gamma-b ...) | --spectral-density G.csv [--scale 1]   (another bath)
               | --family gaussian+gaussian --gamma 1e-3:2e-4 --s 3:1 --omega-c 2:2   (a sum: ':' splits parts)
    lzjax trajectory (parameter flags) (--times t1,t2,... | --every N) [--drive linear|tanh|periodic]
               [--engine neqb|quapi] [--out FILE.csv|.json|.nc] [--plot FILE.png]   (see cli.dynamics)
    lzjax window (parameter flags) --tol 1e-4 [--out FILE.csv|.json|.nc]
    lzjax demo [--outdir DIR]
    lzjax --version

Each parameter flag takes one value or a comma-separated list; the run covers their Cartesian
product. `--theta` is in radians and accepts multiples of π (`0.022pi`, `-pi/2`, `pi/4`).
Without `--out` a table is printed. Bad input exits with status 2 and one line on stderr;
every flag and output path is checked before any work, and results are written (atomically)
only when everything, the plot included, has succeeded. Ctrl-C exits with status 130 and one
line. `--store` keeps finished chunks and resumes like :func:`lzjax.sweep`.

One module per command family: :mod:`.sweeps` (neqb, quapi), :mod:`.fit`, :mod:`.dynamics`
(trajectory, window), :mod:`.demo`; :mod:`.common` (input errors, values, paths, outputs) and
:mod:`.size` (the size estimate) are shared. :data:`COMMANDS` maps each subcommand to the
function adding its parser and the function running it; `main` dispatches through it.

Compiled programs are kept between calls in JAX's persistent compilation cache, in
``$XDG_CACHE_HOME/lzjax/jax`` (default ``~/.cache/lzjax/jax``), and built process tensors in
``.../lzjax/tensors`` (:mod:`lzjax.cache`); ``LZJAX_NO_CACHE=1`` turns both off.
"""

from __future__ import annotations

import _thread
import os
import signal
import sys
import threading
import time

from ..cache import cache_dir
from . import demo, dynamics, fit, sweeps
from .common import InputError, Parser, file_error_message, parse_angle, parse_values

__all__ = ["main", "console_main", "COMMANDS", "InputError", "parse_values", "parse_angle"]

#: subcommand -> (function adding its parser to the subparsers, function running it on the args)
COMMANDS = {
    "neqb": (sweeps.add_neqb_parser, sweeps.run_neqb),
    "quapi": (sweeps.add_quapi_parser, sweeps.run_quapi),
    "fit": (fit.add_fit_parser, fit.run_fit),
    "trajectory": (dynamics.add_trajectory_parser, dynamics.run_trajectory),
    "window": (dynamics.add_window_parser, dynamics.run_window),
    "demo": (demo.add_demo_parser, demo.run_demo),
}


def _version() -> str:
    from ..version import __version__

    return __version__


def _build_parser() -> Parser:
    parser = Parser(prog="lzjax", description="Dissipative Landau-Zener dynamics (NEQB, QUAPI).")
    parser.add_argument("--version", action="version", version=f"lzjax {_version()}")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)
    for add_parser, _ in COMMANDS.values():
        add_parser(sub)
    return parser


def _runner(command: str):
    """The function running `command`; an internal error (not the user's) if there is none."""
    try:
        return COMMANDS[command][1]
    except KeyError:
        raise RuntimeError(f"lzjax internal error: subcommand {command!r} was parsed but has no runner") from None


_VALUE_FLAGS = {
    "--v",
    "--T",
    "--gamma",
    "--s",
    "--omega-c",
    "--theta",
    "--delta",
    "--times",
    "--eps-start",
    "--eps-end",
    "--eps0",
    "--t-start",
    "--t-end",
    "--amplitude",
    "--lam",
    "--gamma-d",
    "--omega-0",
    "--gamma-b",
    "--scale",
}


def _join_negative_values(argv: list[str]) -> list[str]:
    """`--theta -pi/2` → `--theta=-pi/2`: argparse would take '-pi/2' for a flag."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] in _VALUE_FLAGS and i + 1 < len(argv) and argv[i + 1].startswith("-"):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def _enable_compilation_cache() -> str | None:
    """JAX's persistent compilation cache in a user cache folder (opt out: LZJAX_NO_CACHE=1)."""
    path = cache_dir("jax")
    if path is None:
        return None
    import jax

    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.05)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path


class _CtrlC:
    """Ctrl-C while `main` runs: a KeyboardInterrupt that reaches `main`, never one that is lost.

    Python raises KeyboardInterrupt wherever the main thread happens to be; inside a garbage
    collector callback (JAX registers one) or a ``__del__`` it is printed as "Exception ignored"
    and dropped, and the run went on to exit 0. Here such a dropped interrupt is delivered again
    (it is raised at the next ordinary line), silently. A second Ctrl-C
    within a second of the first, while the run unwinds (the store and outputs cleaning up), is
    ignored, as is one after `main` has caught the first. Installed only over Python's own
    handler in the main thread (an embedding program's handler, or SIG_IGN, is left alone)."""

    def __init__(self):
        self.raised_at: float | None = None
        self.handled = False
        self._handler = None
        self._hook = sys.unraisablehook

    def __enter__(self):
        if threading.current_thread() is threading.main_thread() and (
            signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            self._handler = signal.signal(signal.SIGINT, self._on_sigint)
            self._hook = sys.unraisablehook
            sys.unraisablehook = self._unraisable
        return self

    def __exit__(self, *exc):
        if self._handler is not None:
            signal.signal(signal.SIGINT, self._handler)
            sys.unraisablehook = self._hook
            self._handler = None
        return False

    def _on_sigint(self, signum, frame):
        now = time.monotonic()
        if self.handled or (self.raised_at is not None and now - self.raised_at < 1.0):
            return
        self.raised_at = now
        raise KeyboardInterrupt

    def _resend(self) -> None:
        time.sleep(0.02)
        if self._handler is not None and not self.handled:  # still running, not yet stopping
            os.kill(os.getpid(), signal.SIGINT)

    def _unraisable(self, unraisable):
        if unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt):
            self.raised_at = None
            # again, a moment later from another thread: the main thread takes it at its next
            # ordinary line (`signal.raise_signal` would run the handler here, inside the hook,
            # and `threading.Thread.start` waits, where the signal could land as well)
            _thread.start_new_thread(self._resend, ())
            return
        self._hook(unraisable)


def main(argv: list[str] | None = None) -> int:
    """The command line on `argv` (default ``sys.argv[1:]``); returns the exit status: 0, 2 for
    bad input or a file error (one line ``lzjax: error: ...``), 130 for Ctrl-C (one line)."""
    argv = _join_negative_values(list(sys.argv[1:] if argv is None else argv))
    with _CtrlC() as ctrl_c:
        return _main(argv, ctrl_c)


def _main(argv: list[str], ctrl_c: _CtrlC) -> int:
    args = None
    try:
        parser = _build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as done:  # --help, --version
            return int(done.code or 0)
        if args.command is None:
            raise InputError(f"choose a command: {', '.join(COMMANDS)} (see lzjax --help)")
        run = _runner(args.command)
        _enable_compilation_cache()
        return run(args)
    except InputError as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"lzjax: error: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`lzjax ... | head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as error:  # a full disk, a folder removed or made read-only during the run
        flags = {f"--{k}": getattr(args, k, None) for k in ("out", "plot", "store")}
        print(f"lzjax: error: {file_error_message(error, flags)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:
        ctrl_c.handled = True
        from ..store import SweepInterrupted

        print(
            f"lzjax: {interrupt}" if isinstance(interrupt, SweepInterrupted) else "lzjax: interrupted", file=sys.stderr
        )
        return 130


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can be said
            pass


def console_main() -> int:
    """The `lzjax` console script and ``python -m lzjax``: `main`, then leave.

    After Ctrl-C (status 130) the process ends with ``os._exit(130)`` once its line is flushed:
    the interpreter's teardown raced XLA's threads and crashed (SIGSEGV) in about one interrupt
    in four. Nothing is left to tear down by then (outputs are committed or removed, the store
    closed). After any other status a late Ctrl-C is ignored: the run has finished, its files
    are written, and the status it returns is the true one. `main` itself returns the status
    (tests call it in-process)."""
    try:
        code = main()
    except KeyboardInterrupt:  # one that came before `main` took Ctrl-C over, or after it let go
        print("lzjax: interrupted", file=sys.stderr)
        code = 130
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # finished: a late Ctrl-C changes nothing
    _flush()
    if code == 130:
        os._exit(130)
    return code
