"""The process-tensor step at the batch sizes a sweep uses, against the machine's matmul rate
(issue 20, item 3).

    python benchmarks/bench_step_rate.py [--json out.json]

1. The 64-point sweep of issue 20 (16 v in [0.3, 10] × Θ ∈ {0, ±0.07, 0.15}; s = 3, ω_c = 5,
   T = 6.4, γ = 5·10⁻⁴; tol 1e-3) runs once through ``lzjax.sweep("quapi", ...)`` with every
   :func:`lzjax.quapi.runner.run_batch` call recorded (its padded batch size, χ, padded steps,
   wall time), then again (warm) to split its time: the runner's calls against the rest.
2. For each (padded batch P, χ) the sweep used, one of its calls is replayed: the runner's own
   compiled chunk program (step propagators and 256 steps, the real tensor) per step, against
   (a) the same complex products alone — four (2P, χ)×(χ, χ) per step in a scan of 256, nothing
   else — and (b) the machine's batched complex matmul rate at this χ, (4, 4096, χ)×(4, χ, χ)
   in one call, in this process (every core) and in a child pinned to one core (the step runs
   on one thread). "fraction" is the chunk's rate of useful flops (8 real flops per complex
   multiply-add of the four products) over (b).
3. The point-step-weighted fraction over the sweep's calls.

The load average is printed at the start and end (the machine is shared: compare ratios of
one run, not times across runs).
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchtools import finish  # noqa: E402

L = 256  # steps per chunk (lzjax.quapi.runner.CHUNK_STEPS)


def best(f, *args, repeats: int = 7) -> float:
    import jax

    jax.block_until_ready(f(*args))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(f(*args))
        times.append(time.perf_counter() - t0)
    return min(times)


_ONE_CORE = r"""
import os, sys, time, json
os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
import numpy as np, jax, jax.numpy as jnp
jax.config.update("jax_enable_x64", True)
out = {}
for chi in json.loads(sys.argv[1]):
    rng = np.random.default_rng(0)
    q = jnp.asarray(rng.standard_normal((4, chi, chi)) + 1j * rng.standard_normal((4, chi, chi)))
    wide = jnp.asarray(rng.standard_normal((4, 4096, chi)) + 0j)
    f = jax.jit(lambda a: jnp.matmul(a, q))
    f(wide).block_until_ready()
    times = []
    for _ in range(41):
        t0 = time.perf_counter(); f(wide).block_until_ready(); times.append(time.perf_counter() - t0)
    out[chi] = 8.0 * 4 * 4096 * chi * chi / min(times)
print(json.dumps(out))
"""


def one_core_peaks(chis) -> dict:
    """The same batched matmul rate in a child process pinned to one core (the step runs on one
    thread; the matmul of this script may use every core)."""
    import json
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", _ONE_CORE, json.dumps(sorted(chis))], capture_output=True, text=True, check=True
    )
    return {int(k): x for k, x in json.loads(done.stdout.strip().splitlines()[-1]).items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    result: dict = {"load_start": os.getloadavg()}
    print(f"{os.cpu_count()} cores; load {os.getloadavg()}", flush=True)

    import jax
    import jax.numpy as jnp

    import lzjax
    from lzjax.quapi import ladder, runner

    calls: list = []
    original = runner.run_batch

    def recorded(engine, protocol, flat, dt, n_steps, memory, **kw):
        t0 = time.perf_counter()
        out = original(engine, protocol, flat, dt, n_steps, memory, **kw)
        jax.block_until_ready(out)
        size = int(np.shape(dt)[0])
        chi = int(kw["shared"].q_int.shape[-1])
        calls.append(
            {
                "args": (engine, protocol, flat, dt, n_steps, memory, kw),
                "pad": runner.batch_bucket(size),
                "chi": chi,
                "steps": runner.padded_steps(n_steps),
                "wall": time.perf_counter() - t0,
            }
        )
        return out

    ladder.run_batch = recorded
    sweep = dict(
        v=np.geomspace(0.3, 10.0, 16), theta=[0.0, 0.07, -0.07, 0.15], T=6.4, gamma=5e-4, s=3, omega_c=5, tol=1e-3
    )
    lzjax.sweep("quapi", **sweep)  # first: builds, compiles
    calls.clear()
    t0, c0 = time.perf_counter(), time.process_time()
    lzjax.sweep("quapi", **sweep)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    ladder.run_batch = original
    in_runner = sum(c["wall"] for c in calls)
    point_steps = sum(c["pad"] * c["steps"] for c in calls)
    result["sweep"] = {
        "wall": wall,
        "cpu": cpu,
        "runner_wall": in_runner,
        "calls": len(calls),
        "padded_point_steps": point_steps,
    }
    print(
        f"sweep (warm): {wall:.2f} s wall, {cpu:.2f} s CPU; {len(calls)} runner calls {in_runner:.2f} s "
        f"({point_steps} padded point-steps, {1e6 * in_runner / point_steps:.2f} us each)",
        flush=True,
    )

    groups: dict = collections.defaultdict(list)
    for c in calls:
        groups[(c["pad"], c["chi"])].append(c)
    rows = []
    peaks: dict = {}  # χ -> the batched matmul rate, once per χ (best of many: the big call suffers most from load)
    _, _, vchunk, _ = runner.run_programs(calls[0]["args"][0].kernel, "window")  # the runner's own chunk program
    for (pad, chi), group in sorted(groups.items()):
        engine, protocol, flat, dt, n_steps, memory, kw = max(group, key=lambda c: c["steps"])["args"]
        size = int(np.shape(dt)[0])
        index = np.concatenate([np.arange(size), np.zeros(pad - size, dtype=int)])
        flat_p = jax.tree_util.tree_map(lambda a, index=index: np.asarray(a)[index], flat)
        dt_p = np.asarray(dt, dtype=np.float64)[index]
        n = np.full(pad, 10**6, dtype=np.int32)  # every step active (no point held)
        tensor = kw["shared"]
        rng = np.random.default_rng(0)
        state = jnp.asarray(rng.standard_normal((pad, 2, 4, chi)) + 1j * rng.standard_normal((pad, 2, 4, chi))) / chi
        steady = tensor.q_int
        t_chunk = best(vchunk, state, steady, flat_p, dt_p, n, np.int32(0), np.int32(0), L, False, repeats=15) / L

        q = steady

        @jax.jit
        def products(psi, q=q):
            def body(p, _):
                return jnp.einsum("pbni,nij->pbnj", p, q), None

            return jax.lax.scan(body, psi, None, length=L)[0]

        t_products = best(products, state, repeats=15) / L
        if chi not in peaks:
            wide = jnp.asarray(rng.standard_normal((4, 4096, chi)) + 0j)
            peak = jax.jit(lambda a, q=q: jnp.matmul(a, q))
            peaks[chi] = 8.0 * 4 * 4096 * chi * chi / best(peak, wide, repeats=41)
        rate_peak = peaks[chi]
        flops = 8.0 * 4 * 2 * pad * chi * chi
        share = sum(c["pad"] * c["steps"] for c in group) / point_steps
        row = {
            "pad": pad,
            "chi": chi,
            "calls": len(group),
            "share_of_point_steps": share,
            "chunk_us_per_step": 1e6 * t_chunk,
            "products_us_per_step": 1e6 * t_products,
            "peak_gflops": rate_peak / 1e9,
            "chunk_gflops": flops / t_chunk / 1e9,
            "fraction": flops / t_chunk / rate_peak,
            "fraction_products": flops / t_products / rate_peak,
        }
        rows.append(row)
        print(
            f"P {pad:3d} chi {chi:3d} ({len(group):3d} calls, {100 * share:4.1f} % of point-steps): chunk "
            f"{row['chunk_us_per_step']:6.2f} us/step = {row['chunk_gflops']:5.2f} GFLOP/s = {row['fraction']:.2f} "
            f"of the matmul rate {row['peak_gflops']:.1f} GFLOP/s (its products alone "
            f"{row['products_us_per_step']:6.2f} us/step, {row['fraction_products']:.2f})",
            flush=True,
        )
    weighted = sum(r["fraction"] * r["share_of_point_steps"] for r in rows)
    single = one_core_peaks(peaks)
    for r in rows:
        r["peak_one_core_gflops"] = single[r["chi"]] / 1e9
        r["fraction_one_core"] = r["chunk_gflops"] / r["peak_one_core_gflops"]
    weighted_one = sum(r["fraction_one_core"] * r["share_of_point_steps"] for r in rows)
    result["rows"] = rows
    result["weighted_fraction"] = weighted
    result["weighted_fraction_one_core"] = weighted_one
    print(
        "matmul rate on one core (GFLOP/s): "
        + ", ".join(f"chi {chi} {single[chi] / 1e9:.1f}" for chi in sorted(single))
        + "; the chunk against it: "
        + ", ".join(f"P {r['pad']} chi {r['chi']} {r['fraction_one_core']:.2f}" for r in rows),
        flush=True,
    )
    print(
        f"point-step-weighted fraction of the matmul rate: {weighted:.2f} (this process), "
        f"{weighted_one:.2f} (one core)",
        flush=True,
    )
    finish(result, args.json)


if __name__ == "__main__":
    main()
