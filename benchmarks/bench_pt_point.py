"""The paper's Fig. 1 point through the process-tensor ladder (issue 11), cold and warm.

Θ = 0, s = 3, ω_c = 5, T = 6.4, γ = 5·10⁻⁴, v = 1 (converged value 0.784870 ± 1e-5):
``converge_quapi(tol=1e-4, engine="pt", pt_tol=...)`` with its defaults, first call (tensor
builds + compiles) and second call (tensors cached), the value, error bar and its parts.

    python benchmarks/bench_pt_point.py            # pt_tol 3e-8 and 1e-9 (~2 min on 2 cores)
"""

import time

import numpy as np

import lzjax  # noqa: F401  (float64)
from lzjax import Bath, Drive, LZProblem
from lzjax.quapi import converge_quapi

problem = LZProblem(Drive(v=1.0), Bath(gamma=5e-4, s=3, omega_c=5, T=6.4), theta=0.0)
for pt_tol in (3e-8, 1e-9):
    t = time.perf_counter()
    r = converge_quapi(problem, tol=1e-4, engine="pt", pt_tol=pt_tol)
    cold = time.perf_counter() - t
    t = time.perf_counter()
    converge_quapi(problem, tol=1e-4, engine="pt", pt_tol=pt_tol)
    warm = time.perf_counter() - t
    parts = {k: float(np.asarray(v)) for k, v in r.settings.items()}
    print(
        f"pt_tol {pt_tol:g}: first {cold:.1f} s, warm {warm:.2f} s; P_LZ {float(r.P_LZ):.6f} ± "
        f"{float(r.P_LZ_err):.2g}, P_ES {float(r.P_ES):.6f} ± {float(r.P_ES_err):.2g}; {parts}; {r.status}"
    )
