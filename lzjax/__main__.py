"""`python -m lzjax ...` runs the command line (same as the `lzjax` script)."""

import os
import sys

try:
    from .cli import console_main
except KeyboardInterrupt:  # Ctrl-C while the command line is imported
    print("lzjax: interrupted", file=sys.stderr)
    sys.stderr.flush()
    os._exit(130)

sys.exit(console_main())
