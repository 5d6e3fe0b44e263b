"""Fit benchmark (issue 4): one 32-point NEQB fit of γ, wall time and iterations.

Synthetic curve: the converged NEQB P_LZ (``solve_neqb``, tol 1e-8) at the paper's Fig. 1
bath (γ = 5·10⁻⁴, s = 3, ω_c = 5Δ, T = 6.4Δ, Θ = 0) on 32 log-spaced v in [0.01, 10] Δ², plus
1 % relative Gaussian noise (seed 0). The fit (``lzjax.fit.fit_curve``, default options: NEQB
fixed window, n_steps = 512, start grid of 16 γ, L-BFGS) is timed

1. on its first call in a fresh process (compilation of the χ² grid and of the forward-mode
   χ² + gradient + Jacobian, plus the run),
2. warm: the median and min of ``--repeats`` further calls on the same data,

each with and without the ``check_model`` comparison against ``solve_neqb`` at the optimum.
The warm time is split into the start grid, the L-BFGS loop and the error bars by timing the
jitted pieces on their own.

Usage::

    python benchmarks/bench_fit.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import lzjax  # noqa: E402,F401  (float64)
from lzjax import Bath, Drive, LZProblem, solve_neqb  # noqa: E402
from lzjax import fit as fitmod  # noqa: E402

GAMMA, S, OMEGA_C, T, THETA = 5e-4, 3.0, 5.0, 6.4, 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--points", type=int, default=32)
    args = parser.parse_args()

    v = np.geomspace(0.01, 10.0, args.points)
    truth = solve_neqb(LZProblem(Drive(v), Bath(GAMMA, S, OMEGA_C, T), THETA), tol=1e-8).P_LZ
    sigma = 0.01 * truth
    P = truth + sigma * np.random.default_rng(0).standard_normal(v.size)
    kwargs = dict(s=S, omega_c=OMEGA_C, T=T, theta=THETA)

    print(
        f"# lzjax fit benchmark: {args.points} points, jax {jax.__version__}, "
        f"{platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, devices {jax.devices()}"
    )
    t0 = time.perf_counter()
    res = fitmod.fit_curve(v, P, sigma, check_model=False, **kwargs)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    res_checked = fitmod.fit_curve(v, P, sigma, check_model=True, **kwargs)
    first_checked = time.perf_counter() - t0  # fit warm + check_model's first (compiling) call

    warm, warm_checked = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        fitmod.fit_curve(v, P, sigma, check_model=False, **kwargs)
        warm.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        fitmod.fit_curve(v, P, sigma, check_model=True, **kwargs)
        warm_checked.append(time.perf_counter() - t0)

    # the pieces, warm
    spec = res.spec
    data = res.data(v, P, sigma)
    z = jnp.log(jnp.asarray([res.params["gamma"]]))
    z_grid = jnp.log(jnp.asarray(fitmod.GAMMA_GRID))[:, None]

    def best_of(f, n=3):
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            jax.block_until_ready(f())
            times.append(time.perf_counter() - t0)
        return min(times)

    t_grid = best_of(lambda: fitmod.chi2_grid(z_grid, data, spec))
    t_vg = best_of(lambda: fitmod.value_and_grad(z, data, spec))
    reverse = jax.jit(jax.value_and_grad(fitmod.chi2), static_argnames="spec")
    t_rev = best_of(lambda: reverse(z, data, spec))

    g, e = res.params["gamma"], res.errors["gamma"]
    print(
        f"truth gamma = {GAMMA:g}; fit gamma = {g:.6g} ± {e:.3g} ({(g / GAMMA - 1) * 100:+.2f} %, "
        f"{(g - GAMMA) / e:+.2f} se); chi2/dof = {res.chi2_dof:.3f}; iterations = {res.iterations}; "
        f"converged = {res.converged}; eps_max = {res.engine_options['eps_max']:.1f}; "
        f"model_error = {res_checked.model_error:.2g}"
    )
    print(f"loss history: {', '.join(f'{x:.6g}' for x in res.loss_history)}")
    print(f"first call (compile + run), check_model off: {first:.2f} s")
    print(f"warm, check_model off: median {statistics.median(warm):.3f} s, min {min(warm):.3f} s")
    print(
        f"check_model on: first {first_checked:.2f} s; warm median {statistics.median(warm_checked):.3f} s, "
        f"min {min(warm_checked):.3f} s"
    )
    print(
        f"pieces (warm, min of 3): start grid (16 gamma x {args.points} v) {t_grid:.3f} s; "
        f"one chi2 + gradient + Jacobian (forward mode, as used) {t_vg:.3f} s; "
        f"the same chi2 + gradient by reverse mode (jax.value_and_grad, for comparison) {t_rev:.3f} s"
    )


if __name__ == "__main__":
    main()
