"""Execute the reproduction notebooks in place and write figures/*.png.

    python notebooks/run_all.py --full            # all notebooks, full resolution (default)
    python notebooks/run_all.py --fast fig1_longitudinal_weak xi_table

Full mode keeps QUAPI results in notebooks/data/*.jsonl and reuses them on a rerun with the
same parameters (delete a file to recompute). Runs headless (MPLBACKEND=Agg).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
NAMES = (
    "fig1_longitudinal_weak",
    "fig2_longitudinal_strong",
    "fig3_transversal",
    "fig4_mixed_angle",
    "fig5_relaxation_rates",
    "fig6_cutoff",
    "xi_table",
    "beyond_paper",
    "crossing_window",
    "bring_your_own_bath",
)


def execute(path, mode, *, workdir=None, timeout=None, write=True):
    """Run one notebook with nbclient in `mode` ('fast' or 'full'); returns seconds taken."""
    import nbformat
    from nbclient import NotebookClient

    os.environ["LZJAX_NOTEBOOK_MODE"] = mode
    os.environ.setdefault("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    t0 = time.perf_counter()
    NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": workdir or os.path.dirname(path)}}
    ).execute()
    if write:
        nbformat.write(nb, path)
    return time.perf_counter() - t0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--full", action="store_true", help="full resolution (default)")
    group.add_argument("--fast", action="store_true", help="the quick CI mode")
    parser.add_argument("names", nargs="*", help=f"notebooks to run (default: all of {', '.join(NAMES)})")
    args = parser.parse_args(argv)
    mode = "fast" if args.fast else "full"
    for name in args.names or NAMES:
        path = os.path.join(HERE, name if name.endswith(".ipynb") else f"{name}.ipynb")
        print(f"{os.path.basename(path)} ({mode}) ...", flush=True)
        print(f"  done in {execute(path, mode):.0f} s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
