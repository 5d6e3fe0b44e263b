"""NEQB float32 fast path against float64: speed and error at equal settings, one script run.

    python benchmarks/bench_precision.py [--n-v 256]

Same grid (n_v v log-spaced in [0.01, 10] × T ∈ {0, 1, 6.4, 25.6}, γ = 5e-4, s = 3, ω_c = 5),
same tolerance (1e-3, so both use the same step counts); warm-up first, median of 3 repeats.
"""

import argparse
import time

import numpy as np

from lzjax import Bath, Drive, LZProblem, solve_neqb


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-v", type=int, default=256)
    args = parser.parse_args()
    problem = LZProblem(Drive(np.geomspace(0.01, 10, args.n_v)),
                        Bath(5e-4, 3.0, 5.0, np.array([[0.0], [1.0], [6.4], [25.6]])), 0.0)
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
        print(f"{precision}: median {times[precision]:.3f} s for {steps.size} points, steps {steps.min()}–{steps.max()}")
    err_lz = np.abs(results["float32"].P_LZ - results["float64"].P_LZ).max()
    err_es = np.abs(results["float32"].P_ES - results["float64"].P_ES).max()
    print(f"speed-up float32/float64: {times['float64'] / times['float32']:.2f}x; "
          f"max |P_float32 − P_float64|: P_LZ {err_lz:.2e}, P_ES {err_es:.2e}")


if __name__ == "__main__":
    main()
