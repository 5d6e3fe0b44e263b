"""`python -m lzjax.cli ...`: the command line (same as `lzjax` and `python -m lzjax`)."""

import os
import sys

try:
    from . import console_main
except KeyboardInterrupt:  # Ctrl-C while the command line is imported
    print("lzjax: interrupted", file=sys.stderr)
    sys.stderr.flush()
    os._exit(130)

sys.exit(console_main())
