"""NEQB sweep cost, warm: 80 v (1e-3 … 1e2) × 4 T at the paper's Fig. 1 bath, best of 3.

Run it against two checkouts side by side to compare (issue 23 item 3 made the window check
run at 2N steps):

    PYTHONPATH=<old tree> python benchmarks/bench_neqb_window_check.py old
    PYTHONPATH=<new tree> python benchmarks/bench_neqb_window_check.py new
"""

import time, sys, numpy as np, lzjax
v = np.geomspace(1e-3, 1e2, 80); T = np.array([0.0, 1.6, 6.4, 25.6])
kw = dict(v=v, T=T, gamma=5e-4, s=3, omega_c=5)
lzjax.sweep("neqb", **kw)  # compiles
best = min((lambda t0: (lzjax.sweep("neqb", **kw), time.perf_counter() - t0)[1])(time.perf_counter()) for _ in range(3))
print(sys.argv[1], f"{best:.2f} s for 320 points (best of 3, warm)")
