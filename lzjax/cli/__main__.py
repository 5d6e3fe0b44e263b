"""`python -m lzjax.cli ...`: the command line (same as `lzjax` and `python -m lzjax`)."""

import sys

from . import main

sys.exit(main())
