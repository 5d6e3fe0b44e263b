"""Issue 20's two headline comparisons, side by side in one run: lzjax's command line against ACE.

1. **The 64-point sweep**: 16 v log-spaced in [0.3, 10] × Θ ∈ {0, ±0.07, 0.15} at the paper's
   Fig. 1 bath (s = 3, ω_c = 5, T = 6.4, γ = 5·10⁻⁴), to 1e-3:
   * lzjax: one `lzjax quapi --tol 1e-3` call (the console script in a subprocess, as a user
     runs it), first in a fresh cache folder (compiles, builds; it leaves a warm process,
     :mod:`lzjax_warm`), then again, run by the warm process, then again in their own processes
     (LZJAX_WARM=0: the compiled programs and tensors loaded from the cache folder): converged
     count, largest bar, wall.
   * ACE (ace-oqs, its own venv, one core) in its fastest mode (infinite PT, dt 0.05, memory
     6.4, threshold 1e-8) **point by point** (a PT build per point, as a user without lzjax's
     reuse runs it), over |ε| ≤ ε_A (ACE has no golden-rule tails: the smallest of 60 … 250
     whose outside carries ∫Γ1 dt < 1e-4), from and to the instantaneous eigenstates;
   * ACE **reusing its tensor over the sweep** (bench_pt_ace.py's `ace_sweep`: one PT per dt,
     dt by the Nyquist rule E(ε_A) dt ≤ 1.5 on 0.05/2^k).
2. **One point** (v = 1, Θ = 0, the same bath) `lzjax quapi --tol 1e-4`: a first call in a fresh
   cache folder and identical calls after it (warm process, own process), against ACE's fastest
   mode on the point (infinite, dt 0.05, memory 6.4, threshold 1e-8, |ε| ≤ 60), build and
   propagation.

    python benchmarks/bench_issue20.py [--json out.json] [--quick]

`--quick`: 2 × 2 sweep points, a smoke test. Prints the load average at start and end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

from bench_ace import run_ace
from bench_pt_ace import POINT, ace_sweep, ace_window
from benchtools import finish

BATH = ["--T", "6.4", "--gamma", "5e-4", "--s", "3", "--omega-c", "5"]
CONVERGED = 0.784870  # the Fig. 1 point, issue 11 (± 1e-5)


#: the `lzjax` console script as installed (lzjax_main), run by this Python
SCRIPT = [sys.executable, "-c", "import sys, lzjax_main; sys.exit(lzjax_main.console_main())"]


def lzjax_cli(args: list[str], cache: str, warm: bool) -> dict:
    """One `lzjax quapi` command (the console script, a subprocess, as a user runs it) with
    XDG_CACHE_HOME = `cache` and a private XDG_RUNTIME_DIR beside it; `warm`: with warm processes
    (:mod:`lzjax_warm`, the default: the command runs in one if waiting, else itself and leaves
    one), else LZJAX_WARM=0. Wall and CPU seconds (user + system of the command's own process:
    a warm process's CPU is not counted), whether a warm process ran it, and its records."""
    runtime = os.path.join(cache, "run")
    os.makedirs(runtime, mode=0o700, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.json")
        env = dict(os.environ, XDG_CACHE_HOME=cache, XDG_RUNTIME_DIR=runtime, LZJAX_WARM="1" if warm else "0")
        env.update(LZJAX_WARM_VERBOSE="1")
        env.pop("LZJAX_NO_CACHE", None)
        # as a user's Python: bytecode written and reused (this sandbox sets PYTHONDONTWRITEBYTECODE,
        # which recompiles lzjax's 44 modules on every call, 0.15 s)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        t0 = time.perf_counter()
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.run(
            [*SCRIPT, "quapi", *args, "--out", out, "--yes"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        if proc.returncode != 0:
            raise RuntimeError(f"lzjax failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}")
        with open(out) as fh:
            records = json.load(fh)
    return {"wall": wall, "cpu": cpu, "records": records, "served": "run by the warm process" in proc.stderr}


def warm_calls(args: list[str], cache: str, repeats: int, warm: bool) -> dict:
    """`repeats` further identical calls after a first one: the fastest (wall), with the walls of all."""
    calls = [lzjax_cli(args, cache, warm) for _ in range(repeats)]
    best = min(calls, key=lambda c: c["wall"])
    served = [c["served"] for c in calls]
    return dict(best, walls=[c["wall"] for c in calls], cpus=[c["cpu"] for c in calls], served=served)


def stop_warm(cache: str) -> None:
    """End the warm processes of this cache folder (their pid is in the lock file)."""
    folder = os.path.join(cache, "run", "lzjax")
    for name in os.listdir(folder) if os.path.isdir(folder) else []:
        if name.endswith(".lock"):
            try:
                with open(os.path.join(folder, name)) as fh:
                    os.kill(int(fh.read().split()[0]), signal.SIGTERM)
            except (OSError, ValueError, IndexError):
                pass


def three_ways(args: list[str], repeats: int) -> tuple[dict, dict, dict]:
    """(first call in a fresh cache folder, warm-process calls, calls with LZJAX_WARM=0) of one command."""
    with tempfile.TemporaryDirectory() as cache:
        try:
            first = lzjax_cli(args, cache, warm=True)  # runs itself, leaves a warm process
            served = warm_calls(args, cache, repeats, warm=True)
            own = warm_calls(args, cache, repeats, warm=False)
        finally:
            stop_warm(cache)
    return first, served, own


def ace_point_by_point(python: str, points, cpu: int) -> dict:
    """ACE's infinite PT at dt 0.05, one build per point (a group per point of :func:`ace_sweep`)."""
    groups = [[0.05, 2 * eps / v + 1.0, [[v, t, eps]]] for v, t, eps in ([v, t, ace_window(v, t)] for v, t in points)]
    out = ace_sweep(python, points, cpu, groups)
    out["compute"] = out["build"] + sum(p["prop"] for p in out["points"])
    return out


def ace_one_point(python: str, cpu: int) -> dict:
    """ACE's fastest mode on the Fig. 1 point: infinite PT, dt 0.05, memory 6.4, thr 1e-8, |ε| ≤ 60."""
    cfg = dict(
        POINT,
        tmax=120.0,
        omega_max=200.0,
        cpu=cpu,
        mode="runs",
        runs=[dict(dt=0.05, te=120.0, thr=1e-8, tmem=6.4, method="use_Gaussian_infinite", repeats=1)],
    )
    out = run_ace(python, cfg)
    run = out["runs"][0]
    return dict(run, wall=out["subprocess_wall"])


def summary(records) -> dict:
    err = np.array([max(r["P_LZ_err"], r["P_ES_err"]) for r in records])
    return {
        "converged": int(sum(bool(r["converged"]) for r in records)),
        "points": len(records),
        "max_err": float(np.max(err)),
        "median_err": float(np.median(err)),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ace-python", default=os.environ.get("ACE_PYTHON", "/work/venv-ace/bin/python"))
    ap.add_argument("--ace-cpu", type=int, default=0)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", default=None)
    ap.add_argument("--repeats", type=int, default=3, help="warm calls after the first (the fastest is reported)")
    args = ap.parse_args(argv)
    result: dict = {"load_start": os.getloadavg()}
    print(f"{os.cpu_count()} cores; load {os.getloadavg()}", flush=True)
    vs = np.geomspace(0.3, 10.0, 2 if args.quick else 16)
    thetas = [0.0, 0.15] if args.quick else [0.0, 0.07, -0.07, 0.15]
    points = [(float(v), float(t)) for v in vs for t in thetas]
    sweep_args = ["--v", ",".join(f"{v:.12g}" for v in vs), "--theta", ",".join(f"{t:g}" for t in thetas), *BATH]
    point_args = ["--v", "1", *BATH, "--tol", "1e-4"]
    first, second, sweep_own = three_ways([*sweep_args, "--tol", "1e-3"], args.repeats)
    p_first, p_second, point_own = three_ways(point_args, args.repeats)
    ace_pp = ace_point_by_point(args.ace_python, points, args.ace_cpu)
    ace_reuse = ace_sweep(args.ace_python, points, args.ace_cpu)
    ace_reuse_compute = ace_reuse["build"] + sum(p["prop"] for p in ace_reuse["points"])
    ace_pt = ace_one_point(args.ace_python, args.ace_cpu)
    by_point = {(r["v"], r["theta"]): r for r in second["records"]}
    dev = max(
        max(
            abs(p["P_LZ"] - by_point[(p["v"], p["theta"])]["P_LZ"]),
            abs(p["P_ES"] - by_point[(p["v"], p["theta"])]["P_ES"]),
        )
        for p in ace_pp["points"]
        if (p["v"], p["theta"]) in by_point
    )
    s = summary(second["records"])
    rec = p_second["records"][0]
    ace_point_time = ace_pt["build"] + ace_pt["prop"]
    result.update(
        sweep={
            "lzjax_first": first["wall"],
            "lzjax_first_cpu": first["cpu"],
            "lzjax_second": second["wall"],
            "lzjax_warm_walls": second["walls"],
            "lzjax_warm_cpus": second["cpus"],
            "lzjax_served": second["served"],
            "lzjax_own_process": sweep_own["wall"],
            "lzjax_own_walls": sweep_own["walls"],
            "lzjax_own_cpus": sweep_own["cpus"],
            **s,
            "max_dev_vs_ace": dev,
        },
        ace_point_by_point={"wall": ace_pp["wall"], "compute": ace_pp["compute"], "n": len(points)},
        ace_reuse={"compute": ace_reuse_compute, "build": ace_reuse["build"]},
        point={
            "lzjax_first": p_first["wall"],
            "lzjax_first_cpu": p_first["cpu"],
            "lzjax_second": p_second["wall"],
            "lzjax_warm_walls": p_second["walls"],
            "lzjax_warm_cpus": p_second["cpus"],
            "lzjax_served": p_second["served"],
            "lzjax_own_process": point_own["wall"],
            "lzjax_own_walls": point_own["walls"],
            "lzjax_own_cpus": point_own["cpus"],
            "ace_wall": ace_pt["wall"],
            "P_LZ": rec["P_LZ"],
            "P_LZ_err": rec["P_LZ_err"],
            "P_ES": rec["P_ES"],
            "P_ES_err": rec["P_ES_err"],
            "ace_build": ace_pt["build"],
            "ace_prop": ace_pt["prop"],
            "ace_P_LZ": ace_pt["P_LZ"],
        },
        load_end=os.getloadavg(),
    )
    print(
        f"sweep {len(points)} points, tol 1e-3: lzjax CLI first call {first['wall']:.1f} s (fresh cache), "
        f"then by the warm process {second['wall']:.1f} s (walls {', '.join(f'{w:.1f}' for w in second['walls'])}; "
        f"served {second['served']}), in their own process (LZJAX_WARM=0) {sweep_own['wall']:.1f} s (walls "
        f"{', '.join(f'{w:.1f}' for w in sweep_own['walls'])}; CPU "
        f"{', '.join(f'{c:.1f}' for c in sweep_own['cpus'])} s); "
        f"converged {s['converged']}/{s['points']}, "
        f"bars max {s['max_err']:.1e} "
        f"median {s['median_err']:.1e}; max |lzjax - ACE| {dev:.1e}",
        flush=True,
    )
    print(
        f"  ACE point by point (infinite, dt 0.05): {ace_pp['compute']:.1f} s compute ({ace_pp['wall']:.1f} s wall) "
        f"-> {ace_pp['compute'] / second['wall']:.1f}x the warm lzjax call "
        f"({ace_pp['compute'] / sweep_own['wall']:.1f}x in its own process); ACE reusing its PT: "
        f"{ace_reuse_compute:.1f} s -> "
        f"{ace_reuse_compute / second['wall']:.1f}x ({ace_reuse_compute / sweep_own['wall']:.1f}x)",
        flush=True,
    )
    print(
        f"point v = 1, tol 1e-4: lzjax CLI first {p_first['wall']:.2f} s (fresh cache), then by the warm process "
        f"{p_second['wall']:.2f} s (walls {', '.join(f'{w:.2f}' for w in p_second['walls'])}; served "
        f"{p_second['served']}), in their own process {point_own['wall']:.2f} s (walls "
        f"{', '.join(f'{w:.2f}' for w in point_own['walls'])}; CPU "
        f"{', '.join(f'{c:.2f}' for c in point_own['cpus'])} s): "
        f"P_LZ {rec['P_LZ']:.6f} ± {rec['P_LZ_err']:.1e} "
        f"({rec['P_LZ'] - CONVERGED:+.1e} "
        f"from {CONVERGED}), P_ES {rec['P_ES']:.6f} ± {rec['P_ES_err']:.1e}; ACE fastest "
        f"{ace_pt['build']:.2f} + {ace_pt['prop']:.2f} = {ace_point_time:.2f} s (P_LZ {ace_pt['P_LZ']:.6f}) -> "
        f"ACE / lzjax warm call {ace_point_time / p_second['wall']:.2f}x; ACE end to end (its process, "
        f"{ace_pt['wall']:.2f} s wall) / lzjax {ace_pt['wall'] / p_second['wall']:.2f}x (in its own process "
        f"{ace_pt['wall'] / point_own['wall']:.2f}x)",
        flush=True,
    )
    print(f"load at end {os.getloadavg()}", flush=True)
    finish(result, args.json)


if __name__ == "__main__":
    sys.exit(main())
