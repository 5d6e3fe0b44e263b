"""Prepared accelerator benchmark (issue 11): one short script, < 8 minutes on one device.

Prints, on whatever `jax.devices()[0]` is (run it where a GPU is lent; never in CI):

1. the device's memory bandwidth (a large on-device copy) and the plain-ADT steady step at
   k_max = 8 … 12 (batch 2 starts × 4 points): measured time against bytes/bandwidth
   (80·4^k_max bytes per point per step, lzjax/quapi/engines/adt.py);
2. the process tensor: build time (host, numpy) and propagation throughput (points/s) against
   batch size, float64 and the same steps in complex64, plus the device's batched-matmul rate
   measured in the same run (fraction of it reached by the propagation);
3. 10⁵ NEQB points (`solve_neqb`, tol 1e-6): wall time warm, points/s;
4. the issue's 64-point v×Θ sweep through `converge_quapi(tol=1e-3)` (one wide batch per plan on
   an accelerator), against ACE's CPU time recorded in benchmarks/RESULTS.md.

    python benchmarks/bench_gpu.py            # full (< 8 min)
    python benchmarks/bench_gpu.py --quick    # smaller sizes (CPU smoke test)
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

import lzjax  # noqa: F401  (float64)
from lzjax import Bath, Drive, LZProblem, solve_neqb
from lzjax.quapi.engines.adt import adt_steps, factored_influence
from lzjax.quapi.engines.pt import PT, PTSettings
from lzjax.quapi.influence import eta_coefficients
from lzjax.quapi.runner import to_single


def best(f, repeats=3):
    f()  # warm (compile)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(f())
        times.append(time.perf_counter() - t)
    return min(times)


def bandwidth(n_bytes: int) -> float:
    x = jnp.ones(n_bytes // 8, dtype=jnp.float64)
    copy = jax.jit(lambda a: a + 1.0)
    return 2 * n_bytes / best(lambda: copy(x))  # read + write


def adt_section(quick: bool, bw: float) -> None:
    bath = Bath(gamma=5e-3, s=3.0, omega_c=5.0, T=6.4)
    k_step = jnp.asarray(np.linalg.qr(np.random.default_rng(0).normal(size=(4, 4)))[0], dtype=jnp.complex128)
    run = jax.jit(jax.vmap(lambda a, f, k: adt_steps(a, f, k)[0], in_axes=(0, None, None)))
    for kmax in (6, 8) if quick else (8, 10, 12):
        eta = eta_coefficients(bath, 0.1, kmax)
        factors = factored_influence(eta.interior)
        points, n = 4, 16
        a = jnp.ones((points, 2) + (4,) * kmax, dtype=jnp.complex128) / 4**kmax
        seq = jnp.broadcast_to(k_step, (n, 4, 4))
        t = best(lambda: run(a, factors, seq)) / n  # noqa: B023  (called at once, inside this iteration)
        floor = points * 80 * 4**kmax / bw
        print(
            f"  ADT k_max={kmax:2d}: {1e3 * t:8.3f} ms/step for {points} points; bytes/bandwidth "
            f"{1e3 * floor:8.3f} ms -> {100 * floor / t:5.1f} % of the bandwidth floor"
        )


def pt_section(quick: bool) -> None:
    bath = Bath(gamma=5e-4, s=3.0, omega_c=5.0, T=6.4)
    settings = PTSettings(32 if quick else 128, 1e-8, 512)  # δt = 0.05: memory 1.6 / 6.4
    t = time.perf_counter()
    pt, info = PT().info(bath, 0.05, settings, False)
    print(
        f"  PT build (host): {time.perf_counter() - t:.2f} s, chi {info['chi']} (padded {pt.q_int.shape[-1]}), "
        f"memory {info['memory']} steps, discarded {info['discarded']:.1e}"
    )
    chi = pt.q_int.shape[-1]
    k_step = jnp.asarray(np.linalg.qr(np.random.default_rng(0).normal(size=(4, 4)))[0], dtype=jnp.complex128)
    n = 256
    for batch in (16, 256) if quick else (16, 256, 4096, 65536):
        psi = jnp.ones((batch, 2, 4, chi), dtype=jnp.complex128)
        seq = jnp.broadcast_to(k_step, (batch, n, 4, 4))
        for name, cast in (("complex128", lambda x: x), ("complex64", to_single)):
            p, q, s = cast((psi, pt.q_int, seq))
            step = jax.jit(jax.vmap(PT().advance, in_axes=(0, None, 0)))
            t = best(lambda: step(p, q, s)) / n  # noqa: B023  (called at once, inside this iteration)
            print(
                f"  PT propagate batch {batch:6d} {name:10s}: {1e6 * t:9.2f} us/step, {batch / t:12.4g} point-steps/s"
            )
    a = jnp.ones((4, 2 * 4096, chi), dtype=jnp.complex128)
    mm = jax.jit(lambda x, y: jnp.einsum("nbi,nij->nbj", x, y))
    t = best(lambda: mm(a, pt.q_int))
    flops = 8 * 4 * 2 * 4096 * chi * chi
    print(
        f"  batched matmul (4 × (8192 × {chi}) @ ({chi} × {chi}), complex128): {flops / t / 1e9:.1f} GFLOP/s "
        f"(the PT step is this product plus the 4×4 mix)"
    )


def neqb_section(quick: bool) -> None:
    n = 4096 if quick else 100_000
    v = np.geomspace(0.01, 10, n)
    problem = LZProblem(Drive(v=v), Bath(gamma=5e-4, s=3.0, omega_c=5.0, T=6.4), 0.0)
    t = time.perf_counter()
    solve_neqb(problem, tol=1e-6)
    first = time.perf_counter() - t
    t = time.perf_counter()
    r = solve_neqb(problem, tol=1e-6)
    warm = time.perf_counter() - t
    print(
        f"  NEQB {n} points: first {first:.1f} s, warm {warm:.2f} s ({n / warm:.4g} points/s), "
        f"{int(np.sum(r.converged))} converged"
    )


def sweep_section(quick: bool) -> None:
    """The issue's 64-point v×Θ sweep at tol 1e-3 (bench_pt_ace.py's lzjax row: compiled once,
    then timed with every tensor rebuilt): on an accelerator `converge_quapi` runs each plan as
    one wide batch. ACE's CPU time for the same sweep is in benchmarks/RESULTS.md (17–29 s)."""
    from bench_pt_ace import lzjax_sweep

    vs = np.geomspace(0.5, 4.0, 2 if quick else 8)
    thetas = np.linspace(0.0, np.pi / 2, 2 if quick else 8)
    r = lzjax_sweep([(float(v), float(t)) for v in vs for t in thetas])
    print(
        f"  {vs.size * thetas.size} points, tol 1e-3: {r['wall']:.2f} s ({r['builds']} tensor builds), max error "
        f"bar {max(r['P_LZ_err'] + r['P_ES_err']):.1e}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    print(f"device: {jax.devices()[0]} ({jax.default_backend()}), {jax.device_count()} device(s)")
    bw = bandwidth(2**26 if args.quick else 2**30)
    print(f"1. bandwidth {bw / 1e9:.1f} GB/s (on-device copy)")
    adt_section(args.quick, bw)
    print("2. process tensor")
    pt_section(args.quick)
    print("3. NEQB")
    neqb_section(args.quick)
    print("4. the v×Θ sweep through the process-tensor ladder")
    sweep_section(args.quick)


if __name__ == "__main__":
    main()
