"""`python -m lzjax ...` runs the command line (same as the `lzjax` script)."""

import sys

from .cli import main

sys.exit(main())
