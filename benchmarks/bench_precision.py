"""float32 fast paths against float64: speed and error at equal settings, one script run.

    python benchmarks/bench_precision.py [--n-v 256]     # NEQB
    python benchmarks/bench_precision.py --quapi         # QUAPI ADT (fixed settings)

Same grid (n_v v log-spaced in [0.01, 10] × T ∈ {0, 1, 6.4, 25.6}, γ = 5e-4, s = 3, ω_c = 5),
same tolerance (1e-3, so both use the same step counts); warm-up first, median of 3 repeats.
"""

import argparse
import time

import numpy as np

from lzjax import Bath, Drive, LZProblem, solve_neqb


def quapi():
    """4 points (v = 0.3, 1, 3 at γ = 5e-4 and v = 1 at 5e-3; s = 3, ω_c = 5, T = 6.4),
    δt = 0.1, t_max = 40, k_max 6 and 8; median of 3 warm runs."""
    from lzjax.quapi import solve_quapi

    problem = LZProblem(
        Drive(np.array([0.3, 1.0, 3.0, 1.0])), Bath(np.array([5e-4, 5e-4, 5e-4, 5e-3]), 3.0, 5.0, 6.4), 0.0
    )
    for kmax in (6, 8):
        out = {}
        for precision in ("float64", "float32"):
            solve_quapi(problem, dt=0.1, kmax=kmax, tmax=40.0, precision=precision)
            runs = []
            for _ in range(3):
                start = time.perf_counter()
                result = solve_quapi(problem, dt=0.1, kmax=kmax, tmax=40.0, precision=precision)
                runs.append(time.perf_counter() - start)
            out[precision] = (result, float(np.median(runs)))
        err = max(
            np.abs(out["float32"][0].P_LZ - out["float64"][0].P_LZ).max(),
            np.abs(out["float32"][0].P_ES - out["float64"][0].P_ES).max(),
        )
        t64, t32 = out["float64"][1], out["float32"][1]
        print(
            f"QUAPI k_max {kmax}: float64 {t64:.3f} s, float32 {t32:.3f} s, speed-up {t64 / t32:.2f}x, "
            f"max |P_float32 − P_float64| {err:.2e}"
        )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-v", type=int, default=256)
    parser.add_argument("--quapi", action="store_true", help="measure the QUAPI ADT instead of NEQB")
    args = parser.parse_args()
    if args.quapi:
        return quapi()
    problem = LZProblem(
        Drive(np.geomspace(0.01, 10, args.n_v)), Bath(5e-4, 3.0, 5.0, np.array([[0.0], [1.0], [6.4], [25.6]])), 0.0
    )
    results, times = {}, {}
    for precision in ("float64", "float32"):
        solve_neqb(problem, precision=precision, tol=1e-3)  # compile
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            results[precision] = solve_neqb(problem, precision=precision, tol=1e-3)
            runs.append(time.perf_counter() - start)
        times[precision] = float(np.median(runs))
        steps = results[precision].n_steps
        print(
            f"{precision}: median {times[precision]:.3f} s for {steps.size} points, steps {steps.min()}–{steps.max()}"
        )
    err_lz = np.abs(results["float32"].P_LZ - results["float64"].P_LZ).max()
    err_es = np.abs(results["float32"].P_ES - results["float64"].P_ES).max()
    print(
        f"speed-up float32/float64: {times['float64'] / times['float32']:.2f}x; "
        f"max |P_float32 − P_float64|: P_LZ {err_lz:.2e}, P_ES {err_es:.2e}"
    )


if __name__ == "__main__":
    main()
