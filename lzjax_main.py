"""The ``lzjax`` console script's entry point, outside the package.

Importing :mod:`lzjax` imports JAX (1–3 s); a Ctrl-C then, before :func:`lzjax.cli.console_main`
has taken Ctrl-C over, printed a traceback (or, inside a C extension's initialisation, aborted
the interpreter). Here Ctrl-C is handled from the start: during the import it ends the process
at once with status 130 and the one line every later interrupt prints, ``lzjax: interrupted``
(nothing has been written yet); the command line then takes Ctrl-C over.
"""

import os
import signal
import sys


def _stop(signum, frame) -> None:
    """Ctrl-C before the command line runs: one line, status 130 (no exception is raised, so no
    extension being initialised sees one)."""
    print("lzjax: interrupted", file=sys.stderr, flush=True)
    os._exit(130)


def console_main() -> int:
    """Hand the command to a warm lzjax process if one is waiting (:mod:`lzjax_warm`: no start-up
    at all), else import the command line with Ctrl-C handled by :func:`_stop`, run it, and leave
    a warm process for the next command."""
    previous = signal.signal(signal.SIGINT, _stop)
    try:
        import lzjax_warm

        environ, path = dict(os.environ), lzjax_warm.address()  # before JAX and lzjax set their own
        code = lzjax_warm.run(sys.argv[1:], path)
        if code is not None:
            return code
        from lzjax.cli import console_main as run
    finally:
        signal.signal(signal.SIGINT, previous)
    code = run()
    lzjax_warm.start(sys.argv[1:], code, path, environ)
    return code


if __name__ == "__main__":
    sys.exit(console_main())
