"""`python -m lzjax ...` runs the command line (same as the `lzjax` script and `python -m lzjax.cli`)."""

from .cli import __main__ as _cli_main  # noqa: F401  (runs the command line on import)
