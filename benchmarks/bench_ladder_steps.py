"""What the process-tensor ladder spends on issue 20's 64-point sweep, counted rather than timed.

16 v log-spaced in [0.3, 10] × Θ ∈ {0, ±0.07, 0.15} at the paper's Fig. 1 bath (s = 3, ω_c = 5,
T = 6.4, γ = 5·10⁻⁴, Δ = 1) through ``converge_quapi(tol=...)`` in this process, twice (the
second call warm: compiled programs and tensors in memory). Counted over every ``run_batch``
call of the ladder: point-steps (Σ over points of their step count), the same weighted by the
padded bond dimension (χ/24)² (the step costs ∝ χ²), and the point-steps per χ; then the
converged count and the bars. Counts do not depend on the machine's load, unlike the CPU and
wall seconds printed beside them. Compare two checkouts by running this script in each.

    python benchmarks/bench_ladder_steps.py [--tol 1e-3] [--json out.json]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np

import lzjax.quapi.ladder as ladder
from benchtools import finish
from lzjax import Bath, Drive, LZProblem
from lzjax.quapi import converge_quapi


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tol", type=float, default=1e-3)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    count = {"steps": 0, "work": 0.0, "chi": {}}
    run_batch = ladder.run_batch

    def counting(engine, protocol, flat, dt, n_steps, *rest, **options):
        n = int(np.sum(np.broadcast_to(np.asarray(n_steps), np.shape(dt))))
        chi = int(options["shared"].q_int.shape[-1])
        count["steps"] += n
        count["work"] += n * chi**2 / 24**2
        count["chi"][chi] = count["chi"].get(chi, 0) + n
        return run_batch(engine, protocol, flat, dt, n_steps, *rest, **options)

    ladder.run_batch = counting
    vs, thetas = np.geomspace(0.3, 10.0, 16), np.array([0.0, 0.07, -0.07, 0.15])
    v, theta = np.meshgrid(vs, thetas, indexing="ij")
    problem = LZProblem(Drive(v=v.ravel(), delta=1.0), Bath(gamma=5e-4, s=3.0, omega_c=5.0, T=6.4), theta=theta.ravel())
    result: dict = {"tol": args.tol, "calls": []}
    for call in ("cold", "warm"):
        count.update(steps=0, work=0.0, chi={})
        r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        res = converge_quapi(problem, tol=args.tol)
        wall, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
        err = np.maximum(np.asarray(res.P_LZ_err), np.asarray(res.P_ES_err))
        row = {
            "call": call,
            "wall": wall,
            "cpu": r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime,
            "point_steps": count["steps"],
            "work_chi24": count["work"],
            "steps_by_chi": dict(sorted(count["chi"].items())),
            "converged": int(np.sum(err <= args.tol)),
            "max_err": float(err.max()),
            "median_err": float(np.median(err)),
            "refined": int(np.sum(np.asarray(res.settings["refinements"]) > 0)),
        }
        result["calls"].append(row)
        print(
            f"{call}: {row['point_steps']} point-steps, {row['work_chi24']:.0f} in (chi/24)^2 units, by chi "
            f"{row['steps_by_chi']}; converged {row['converged']}/{err.size}, {row['refined']} refined, bars max "
            f"{row['max_err']:.2e} median {row['median_err']:.2e}; {row['cpu']:.2f} s CPU, {row['wall']:.2f} s wall",
            flush=True,
        )
    return finish(result, args.json)


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
