"""NEQB sweep benchmark (issue 2): lzjax.solve_neqb against per-point scipy and vmapped diffrax.

One script run measures all three on the same grid, the same windows (the ε_max that lzjax
chooses is passed to the baselines), the same adiabatic-following start and the same asymptotic
read-out (those of :func:`tests/reference.py: neqb_reference`):

1. lzjax: ``solve_neqb`` on the whole batch; the first call (compile + run) is timed, then the
   median and min of ``--repeats`` warm calls. Points per second from the warm median.
2. scipy (DOP853, ``tests/reference.py: neqb_reference``): its rtol is calibrated first on a few grid
   points against a tight run (rtol = 1e-12) to the loosest value reaching ``--target`` absolute
   accuracy; then the per-point loop is timed at that rtol. The full 1,024-point loop would take
   hours (cost grows like ε_max²/v), so by default a stratified random subset (fixed seed, one
   point per v-stratum) is timed and its per-point mean is extrapolated to the whole grid. The
   output says so.
3. diffrax (``Dopri8`` + ``PIDController``), the same equations written in jnp, vmapped over the
   same subset; tolerance calibrated like scipy's; compile and run timed separately.

Usage::

    python benchmarks/bench_neqb.py            # full run (64 v × 4 T × 4 Θ = 1,024 points)
    python benchmarks/bench_neqb.py --quick    # smoke version, < 1 minute

Units Δ = 1 throughout.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import lzjax  # noqa: E402  (enables float64)
from lzjax import Bath, Drive, LZProblem, solve_neqb  # noqa: E402
from reference import neqb_reference  # noqa: E402  (tests/reference.py, scipy)

# ----------------------------------------------------------------------------------------------
# grid


def make_grid(args):
    """Flat arrays (v, T, theta) of the sweep plus the shared bath constants."""
    if args.quick:
        v = np.logspace(math.log10(1.0), math.log10(10.0), 8)
        temps = np.array([0.0, 6.4])
        thetas = np.array([0.0, math.pi / 2])
    else:
        v = np.logspace(math.log10(args.v_min), math.log10(args.v_max), args.n_v)
        temps = np.array([0.0, 1.0, 6.4, 25.6])
        thetas = np.array([0.0, 0.022 * math.pi, -0.022 * math.pi, math.pi / 2])
    vv, tt, th = np.meshgrid(v, temps, thetas, indexing="ij")
    return vv.ravel(), tt.ravel(), th.ravel(), (len(v), len(temps), len(thetas))


def stratified_subset(v, n_subset, seed):
    """One random point per stratum of the (sorted) v values; fixed seed."""
    rng = np.random.default_rng(seed)
    order = np.argsort(v, kind="stable")
    strata = np.array_split(order, n_subset)
    return np.sort(np.array([rng.choice(s) for s in strata]))


# ----------------------------------------------------------------------------------------------
# diffrax baseline: the reference's equations in jnp


def _rates_jnp(epsilon, v, gamma, s, omega_c, T, theta):
    energy = jnp.sqrt(1.0 + epsilon * epsilon)
    u, w = 1.0 / energy, epsilon / energy
    a_theta = u * jnp.cos(theta) - w * jnp.sin(theta)
    b_theta = w * jnp.cos(theta) + u * jnp.sin(theta)
    hot = T > 0
    coth = jnp.where(hot, 1.0 / jnp.tanh(energy / (2.0 * jnp.where(hot, T, 1.0))), 1.0)
    spectral = gamma / jnp.pi * energy**s * jnp.exp(-energy / omega_c)
    gamma1 = a_theta**2 * jnp.pi / 2.0 * spectral * coth
    gamma_d = jnp.where(s == 1, b_theta**2 * gamma * T, 0.0)
    return energy, v / energy**2, gamma1, 0.5 * gamma1 + gamma_d, 1.0 / coth


def _diffrax_point(v, gamma, s, omega_c, T, theta, eps_max, rtol, atol):
    import diffrax

    params = (v, gamma, s, omega_c, T, theta)

    def rhs(t, y, _):
        energy, phi_dot, g1, g2, r_st = _rates_jnp(v * t, *params)
        rx, ry, rz = y[0], y[1], y[2]  # each (2,): ground and excited start
        return jnp.stack(
            [
                phi_dot * rz - g1 * (rx - r_st),
                -g2 * ry - energy * rz,
                energy * ry - g2 * rz - phi_dot * rx,
            ]
        )

    def coherence(t):
        energy, phi_dot, _, g2, _ = _rates_jnp(v * t, *params)
        kappa2 = 3.0 * v * v * (v * t) / energy**6
        return phi_dot, 1.0 / (g2 + 1j * energy), kappa2

    t0, t1 = -eps_max / v, eps_max / v
    phi_dot, response, kappa2 = coherence(t0)
    rx0 = jnp.array([1.0, -1.0])
    c0 = rx0 * (-phi_dot * response + kappa2)
    y0 = jnp.stack([rx0, c0.imag, c0.real])  # (3, 2)
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(rhs),
        diffrax.Dopri8(),
        t0,
        t1,
        None,
        y0,
        stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
        saveat=diffrax.SaveAt(t1=True),
        max_steps=2**21,
        adjoint=diffrax.ForwardMode(),
        throw=False,
    )
    y = sol.ys[0]
    phi_dot, response, kappa2 = coherence(t1)
    rx = y[0]
    free = y[2] + 1j * y[1] - rx * (-phi_dot * response + kappa2)
    rx = rx + jnp.real(free * (phi_dot * response + kappa2))
    ok = sol.result == diffrax.RESULTS.successful
    return 0.5 * (1.0 + rx[0]), 0.5 * (1.0 - rx[1]), sol.stats["num_steps"], ok


# one jitted vmapped call; rtol/atol are traced, so calibration does not recompile
_diffrax_batch = jax.jit(jax.vmap(_diffrax_point, in_axes=(0, 0, 0, 0, 0, 0, 0, None, None)))


def run_diffrax(pts, rtol):
    args = [jnp.asarray(a, dtype=jnp.float64) for a in pts]
    out = _diffrax_batch(*args, jnp.float64(rtol), jnp.float64(0.1 * rtol))
    return jax.block_until_ready(out)


# ----------------------------------------------------------------------------------------------


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke version (32 points, < 1 minute)")
    ap.add_argument("--n-v", type=int, default=64, help="number of log-spaced sweep speeds")
    ap.add_argument("--v-min", type=float, default=0.05, help="smallest v (units Δ²)")
    ap.add_argument("--v-max", type=float, default=10.0, help="largest v (units Δ²)")
    ap.add_argument("--gamma", type=float, default=5e-4)
    ap.add_argument("--s", type=float, default=3.0)
    ap.add_argument("--omega-c", type=float, default=5.0)
    ap.add_argument("--tol", type=float, default=1e-7, help="lzjax solve_neqb tol")
    ap.add_argument(
        "--target", type=float, default=1e-6, help="absolute accuracy the baselines are calibrated to reach"
    )
    ap.add_argument("--repeats", type=int, default=3, help="warm lzjax calls (median, min)")
    ap.add_argument(
        "--n-subset", type=int, default=32, help="scipy/diffrax points timed (stratified over v); 0 = all points"
    )
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.quick:
        args.n_subset = min(args.n_subset, 3)
        args.repeats = min(args.repeats, 2)

    v, T, theta, shape = make_grid(args)
    n = v.size
    gamma, s, omega_c = args.gamma, args.s, args.omega_c
    print(
        f"lzjax {lzjax.__version__}, jax {jax.__version__}, backend {jax.default_backend()}, "
        f"{os.cpu_count()} CPU cores ({cpu_model()})"
    )
    print(
        f"grid: {shape[0]} v log-spaced in [{v.min():g}, {v.max():g}] Δ² × T {[float(x) for x in sorted(set(T))]} "
        f"× Θ/π {[round(float(x) / math.pi, 4) for x in sorted(set(theta))]} = {n} points; "
        f"γ = {gamma:g}, s = {s:g}, ω_c = {omega_c:g}"
    )

    # ---------------------------------------------------------------- lzjax
    problem = LZProblem(Drive(v), Bath(gamma, s, omega_c, T), theta)
    res, t_first = timed(lambda: solve_neqb(problem, tol=args.tol))
    warm = []
    for _ in range(args.repeats):
        _, dt = timed(lambda: solve_neqb(problem, tol=args.tol))
        warm.append(dt)
    t_warm = statistics.median(warm)
    p_lz, p_es, eps = np.asarray(res.P_LZ), np.asarray(res.P_ES), np.asarray(res.eps_max)
    n_conv = int(np.sum(res.converged))
    print(
        f"\nlzjax solve_neqb(tol={args.tol:g}): first call {t_first:.2f} s (compile + run); "
        f"warm median {t_warm:.2f} s, min {min(warm):.2f} s over {args.repeats} "
        f"-> {n / t_warm:.1f} points/s"
    )
    print(
        f"  compile-time estimate (first − warm median): {t_first - t_warm:.2f} s; "
        f"converged {n_conv}/{n}; max err estimate "
        f"{max(np.max(res.P_LZ_err), np.max(res.P_ES_err)):.2e}; "
        f"n_steps {int(np.min(res.n_steps))}–{int(np.max(res.n_steps))}; "
        f"ε_max {eps.min():.1f}–{eps.max():.1f}"
    )

    # ---------------------------------------------------------------- calibration points
    # cheap points (large v), different T and Θ
    order = np.lexsort((-T, -v))
    calib = [order[0]]
    for i in order:
        if T[i] != T[calib[0]] and theta[i] != theta[calib[0]] and v[i] < 0.6 * v[calib[0]]:
            calib.append(i)
            break
    calib = np.array(calib)
    point = lambda i: (v[i], gamma, s, omega_c, T[i], theta[i], eps[i])  # noqa: E731
    print(
        "\ncalibration points (v, T, Θ/π, ε_max): "
        + "; ".join(f"({v[i]:.3g}, {T[i]:g}, {theta[i] / math.pi:.3f}, {eps[i]:.1f})" for i in calib)
    )
    tight = {i: neqb_reference(*point(i), rtol=1e-12, atol=1e-13) for i in calib}
    candidates = [1e-6, 1e-7, 1e-8, 1e-9, 1e-10]

    rtol_sp = candidates[-1]
    for rtol in candidates:
        err = max(
            max(
                abs(a - b) for a, b in zip(neqb_reference(*point(i), rtol=rtol, atol=0.1 * rtol), tight[i], strict=True)
            )
            for i in calib
        )
        print(f"  scipy DOP853 rtol={rtol:.0e} (atol=rtol/10): max |ΔP| vs rtol=1e-12: {err:.2e}")
        if err <= args.target:
            rtol_sp = rtol
            break

    calib_pts = [np.array([point(i)[k] for i in calib]) for k in range(7)]
    _, t_dx_compile_first = timed(lambda: run_diffrax(calib_pts, candidates[0]))
    rtol_dx = candidates[-1]
    for rtol in candidates:
        out = run_diffrax(calib_pts, rtol)
        err = max(
            max(abs(float(out[0][j]) - tight[i][0]), abs(float(out[1][j]) - tight[i][1])) for j, i in enumerate(calib)
        )
        print(f"  diffrax Dopri8 rtol={rtol:.0e} (atol=rtol/10): max |ΔP| vs scipy rtol=1e-12: {err:.2e}")
        if err <= args.target:
            rtol_dx = rtol
            break
    print(f"  chosen: scipy rtol={rtol_sp:.0e}, diffrax rtol={rtol_dx:.0e}")

    # ---------------------------------------------------------------- subset
    if args.n_subset <= 0 or args.n_subset >= n:
        subset = np.arange(n)
    else:
        subset = stratified_subset(v, args.n_subset, args.seed)
    m = len(subset)
    extrap = m < n

    # scipy loop
    sp = np.empty((m, 2))
    t0 = time.perf_counter()
    for j, i in enumerate(subset):
        sp[j] = neqb_reference(*point(i), rtol=rtol_sp, atol=0.1 * rtol_sp)
    t_sp = time.perf_counter() - t0
    t_sp_point = t_sp / m
    t_sp_full = t_sp_point * n
    d_sp = np.maximum(np.abs(sp[:, 0] - p_lz[subset]), np.abs(sp[:, 1] - p_es[subset]))
    print(
        f"\nscipy per-point loop ({m} points{f', stratified subset, seed {args.seed:d}' if extrap else ''}): "
        f"{t_sp:.1f} s = {t_sp_point:.2f} s/point -> {1 / t_sp_point:.3f} points/s"
        + (f"; extrapolated to {n} points: {t_sp_full:.0f} s" if extrap else "")
    )
    print(f"  max |P_lzjax − P_scipy| over these points: {d_sp.max():.2e}")

    # diffrax vmapped over the subset
    sub_pts = [np.array([point(i)[k] for i in subset]) for k in range(7)]
    out, t_dx_first = timed(lambda: run_diffrax(sub_pts, rtol_dx))
    dx_warm = [timed(lambda: run_diffrax(sub_pts, rtol_dx))[1] for _ in range(max(1, args.repeats - 1))]
    t_dx = statistics.median(dx_warm)
    t_dx_full = t_dx / m * n
    dx = np.stack([np.asarray(out[0]), np.asarray(out[1])], axis=1)
    d_dx = np.maximum(np.abs(dx[:, 0] - p_lz[subset]), np.abs(dx[:, 1] - p_es[subset]))
    d_dx_sp = np.max(np.abs(dx - sp))
    print(
        f"\ndiffrax Dopri8 vmapped over the same {m} points: first call {t_dx_first:.2f} s "
        f"(compile + run; compile alone on the calibration batch {t_dx_compile_first:.2f} s), "
        f"warm median {t_dx:.2f} s over {len(dx_warm)} -> {m / t_dx:.2f} points/s"
        + (f"; extrapolated to {n} points: {t_dx_full:.0f} s" if extrap else "")
    )
    print(
        f"  steps per point {int(np.min(out[2]))}–{int(np.max(out[2]))}, all successful: "
        f"{bool(np.all(out[3]))}; max |P_lzjax − P_diffrax| {d_dx.max():.2e}; "
        f"max |P_diffrax − P_scipy| {d_dx_sp:.2e}"
    )

    # ---------------------------------------------------------------- disagreements
    bad = np.flatnonzero(d_sp > args.target)
    if len(bad):
        print(f"\npoints where |P_lzjax − P_scipy| > {args.target:g}:")
        for j in bad:
            i = subset[j]
            print(
                f"  v={v[i]:.4g} T={T[i]:g} Θ/π={theta[i] / math.pi:.3f} ε_max={eps[i]:.1f}: "
                f"lzjax ({p_lz[i]:.9f}, {p_es[i]:.9f}) scipy ({sp[j, 0]:.9f}, {sp[j, 1]:.9f}) "
                f"diffrax ({dx[j, 0]:.9f}, {dx[j, 1]:.9f}) lzjax err est "
                f"({res.P_LZ_err.ravel()[i]:.1e}, {res.P_ES_err.ravel()[i]:.1e})"
            )

    # ---------------------------------------------------------------- summary
    tag = " (extrapolated)" if extrap else ""
    scope = f"subset of {m:d} timed for the baselines, per-point mean × {n:d}" if extrap else "all timed"
    print(f"\nsummary, {n} points ({scope}):")
    print(f"  {'method':<34}{f'time for {n:d} pts [s]':>22}{'points/s':>12}{'accuracy':>24}")
    print(f"  {'lzjax warm (median)':<34}{t_warm:>22.2f}{n / t_warm:>12.1f}{f'tol {args.tol:.0e} (est.)':>24}")
    print(f"  {'lzjax first call (compile+run)':<34}{t_first:>22.2f}{n / t_first:>12.1f}{'':>24}")
    print(
        f"  {'scipy DOP853 loop' + tag:<34}{t_sp_full:>22.1f}{n / t_sp_full:>12.3f}"
        f"{f'rtol {rtol_sp:.0e}, |Δ| {d_sp.max():.1e}':>24}"
    )
    print(
        f"  {'diffrax Dopri8 vmap' + tag:<34}{t_dx_full:>22.1f}{n / t_dx_full:>12.3f}"
        f"{f'rtol {rtol_dx:.0e}, |Δ| {d_dx.max():.1e}':>24}"
    )
    print(f"  ratio scipy / lzjax warm: {t_sp_full / t_warm:.1f}×   (vs first call: {t_sp_full / t_first:.1f}×)")
    print(f"  ratio diffrax / lzjax warm: {t_dx_full / t_warm:.1f}×   (vs first call: {t_dx_full / t_first:.1f}×)")
    print("  GPU: not measured by this run" if jax.default_backend() == "cpu" else "")


if __name__ == "__main__":
    main()
