"""NEQB sweep cost, warm: 80 v (1e-3 … 1e2) × 4 T at the paper's Fig. 1 bath, best of 3.

Run it against two checkouts side by side to compare (issue 23 item 3 made the window check
run at 2N steps):

    PYTHONPATH=<old tree> python benchmarks/bench_neqb_window_check.py old
    PYTHONPATH=<new tree> python benchmarks/bench_neqb_window_check.py new
"""

import sys
import time

import numpy as np

import lzjax


def main(tag: str) -> None:
    v = np.geomspace(1e-3, 1e2, 80)
    T = np.array([0.0, 1.6, 6.4, 25.6])
    kw = dict(v=v, T=T, gamma=5e-4, s=3, omega_c=5)
    lzjax.sweep("neqb", **kw)  # compiles
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        lzjax.sweep("neqb", **kw)
        times.append(time.perf_counter() - t0)
    print(tag, f"{min(times):.2f} s for {v.size * T.size} points (best of 3, warm)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "lzjax")
