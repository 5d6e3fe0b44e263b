"""Process-tensor build: χ and build time vs (K, tol, γ); propagation time per step (batch 1, 64).

s = 3, ω_c = 5, T = 6.4, memory time 6.4 (K = 6.4/δt). Usage:
    python benchmarks/bench_pt_build.py [--quick]
Times are wall seconds on this machine (warm-up excluded, min of 3 for propagation).
"""

from __future__ import annotations

import sys
import time

import jax
import jax.numpy as jnp

from lzjax.model import Bath, Drive, LZProblem
from lzjax.quapi.influence import eta_coefficients
from lzjax.quapi.process_tensor import build_process_tensor, pt_propagate
from lzjax.quapi.propagator import lz_protocol


def build_row(gamma, dt, tol, chi_max=1024):
    memory = int(round(6.4 / dt))
    eta = eta_coefficients(Bath(gamma=gamma, s=3.0, omega_c=5.0, T=6.4), dt, memory)
    t0 = time.perf_counter()
    pt = build_process_tensor(eta, tol=tol, chi_max=chi_max)
    build = time.perf_counter() - t0
    print(
        f"gamma={gamma:g} dt={dt:g} K={memory} tol={tol:g}: chi={pt.chi} build={build:.1f}s "
        f"discarded={float(pt.discarded):.1e} |lam-1|={float(pt.eig_err):.1e} "
        f"trace_defect={float(pt.trace_defect):.1e}",
        flush=True,
    )
    return pt


def step_time(pt, dt, batch, n_steps=400):
    problem = LZProblem(Drive(v=1.0), Bath(gamma=5e-4, s=3.0, omega_c=5.0, T=6.4), 0.0)
    k_steps, rho0, _ = lz_protocol(problem, dt, n_steps)
    rho0 = jnp.tile(rho0, (batch // 2, 1))
    run = jax.jit(pt_propagate)
    run(pt, k_steps, rho0).block_until_ready()
    best = min(
        (lambda t0: (run(pt, k_steps, rho0).block_until_ready(), time.perf_counter() - t0)[1])(time.perf_counter())
        for _ in range(3)
    )
    print(f"  propagate chi={pt.chi} batch={batch}: {1e6 * best / n_steps:.1f} us/step", flush=True)


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    dts = [0.05] if quick else [0.05, 0.025]
    tols = [1e-6, 1e-8] if quick else [1e-6, 1e-8, 1e-10]
    last = None
    for dt in dts:
        for tol in tols:
            last = build_row(5e-4, dt, tol)
            for batch in (2, 64):
                step_time(last, dt, batch)
    for gamma in (5e-4, 5e-3, 5e-2):
        build_row(gamma, 0.05, 1e-8)
