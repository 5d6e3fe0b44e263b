"""QUAPI against OQuPy (TEMPO) on one Landau-Zener point, in one script run (issue 3).

Point: Θ = 0, s = 3, γ = 5e-4, ω_c = 5, T = 6.4, v = 0.3 (Δ = 1, ħ = 1).
Protocol (both codes, the same window): start at t0 = −t_max/2 in the instantaneous ground
state of H_S(t0) = Δ/2 σx + v t0/2 σz, bath thermal and factorised, end at +t_max/2, P_LZ =
population of the instantaneous ground state there (projective read-out).

Convention mapping (checked by `--check-dephasing`): our coupling −σz/2 ⊗ B with
⟨B(t)B⟩ = ∫G(ω)[coth(ω/2T) cos ωt − i sin ωt]dω; OQuPy's `Bath(0.5 σz, corr)` means
H_int = 0.5σz ⊗ B' with the same C(t) formula for its J(ω). Hence J_OQuPy = G, i.e.
2α ω^s ω_c^(1−s) e^(−ω/ω_c) = γ/π ω^s e^(−ω/ω_c)  →  α = γ ω_c^(s−1) / (2π)  (Δ = 1).

OQuPy runs in its own virtual environment (its releases pin numpy < 2) through a subprocess
and returns JSON; its import time is outside its timed region. Both codes run the same time step
`--dt` and the same memory length `--kmax` (lzjax k_max = OQuPy dkmax); lzjax also runs k_max − 2
to show its memory convergence. lzjax is timed on a first call (compile + run) and warm calls
(min of 2); compile ≈ first − warm. OQuPy computes P_LZ only, lzjax P_LZ and P_ES together.
Finally `converge_quapi(tol=1e-2)` (whole protocol, golden-rule tails) is timed on the point.
Results and the convergence ladder: benchmarks/RESULTS.md, "QUAPI against OQuPy and ACE".

    python benchmarks/bench_quapi.py --check-dephasing   # dt 0.1, k 10 (~8 min loaded)
    python benchmarks/bench_quapi.py --kmax 6 --no-converge
    python benchmarks/bench_quapi.py --quick             # k 6, converge budget 6: smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import textwrap
import time

import numpy as np

from benchtools import finish

POINT = dict(gamma=5e-4, s=3.0, omega_c=5.0, T=6.4, v=0.3, delta=1.0)

OQUPY_DRIVER = textwrap.dedent(r"""
    import json, sys, time
    import numpy as np
    import oqupy
    cfg = json.loads(sys.argv[1])
    gamma, s, wc, T, v, delta = (cfg[k] for k in ("gamma", "s", "omega_c", "T", "v", "delta"))
    alpha = gamma * wc ** (s - 1) * delta ** (1 - s) / (2 * np.pi)  # J_OQuPy = G_lzjax
    sx = np.array([[0, 1], [1, 0]], complex); sz = np.array([[1, 0], [0, -1]], complex)
    corr = oqupy.PowerLawSD(alpha=alpha, zeta=s, cutoff=wc, cutoff_type="exponential",
                            temperature=T)
    bath = oqupy.Bath(0.5 * sz, corr)
    out = {"alpha": alpha, "oqupy": oqupy.__version__, "numpy": np.__version__, "runs": []}
    if cfg.get("mode") == "dephasing":
        system = oqupy.System(0.0 * sx)
        rho0 = 0.5 * np.ones((2, 2), complex)
        for run in cfg["runs"]:
            par = oqupy.TempoParameters(dt=run["dt"], dkmax=run["dkmax"], epsrel=run["epsrel"])
            t0 = time.perf_counter()
            dyn = oqupy.Tempo(system, bath, par, rho0, start_time=0.0).compute(
                end_time=cfg["tend"], progress_type="silent")
            out["runs"].append({**run, "t": [float(x) for x in dyn.times],
                                "coh": [float(abs(r[0, 1])) for r in dyn.states],
                                "wall": time.perf_counter() - t0})
    else:
        h = lambda t: 0.5 * delta * sx + 0.5 * v * t * sz
        def proj(t, excited=False):
            w, u = np.linalg.eigh(h(t)); vec = u[:, 1 if excited else 0]
            return np.outer(vec, vec.conj())
        system = oqupy.TimeDependentSystem(h)
        t0s, t1s = -cfg["tmax"] / 2, cfg["tmax"] / 2
        for run in cfg["runs"]:
            par = oqupy.TempoParameters(dt=run["dt"], dkmax=run["dkmax"], epsrel=run["epsrel"])
            res = dict(run)
            for name, exc in (("P_LZ", False), ("P_ES", True))[: 2 if run.get("es") else 1]:
                tw = time.perf_counter()
                dyn = oqupy.Tempo(system, bath, par, proj(t0s, exc), start_time=t0s).compute(
                    end_time=t1s, progress_type="silent")
                res["wall_" + name] = time.perf_counter() - tw
                res["t_end"] = float(dyn.times[-1])
                res[name] = float(np.real(np.trace(proj(dyn.times[-1], exc) @ dyn.states[-1])))
            out["runs"].append(res)
            print(json.dumps(res), file=sys.stderr, flush=True)
    print(json.dumps(out))
""")


def run_oqupy(python: str, cfg: dict) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run([python, "-c", OQUPY_DRIVER, json.dumps(cfg)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"OQuPy subprocess failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["subprocess_wall"] = time.perf_counter() - t0
    return out


def dephasing_check(python: str, tend: float = 3.0) -> dict:
    """OQuPy at Δ = 0 against |ρ↑↓(t)| = ½ exp(−Γ(t)), Γ = ∫G coth(ω/2T)(1 − cos ωt)/ω² (quad)."""
    from scipy.integrate import quad

    out = run_oqupy(
        python, {**POINT, "mode": "dephasing", "tend": tend, "runs": [{"dt": 0.05, "dkmax": 60, "epsrel": 1e-7}]}
    )
    g, s, wc, temp = POINT["gamma"], POINT["s"], POINT["omega_c"], POINT["T"]

    def big_gamma(t):
        def f(w):
            return g / np.pi * w**s * np.exp(-w / wc) / np.tanh(w / (2 * temp)) * (1 - np.cos(w * t)) / w**2

        return quad(f, 0, np.inf, limit=500, epsabs=1e-14, epsrel=1e-12)[0]

    r = out["runs"][0]
    dev = max(abs(c - 0.5 * np.exp(-big_gamma(t))) for t, c in zip(r["t"], r["coh"], strict=True))
    return {"max_abs_dev": dev, "Gamma_tend": big_gamma(tend), "tend": tend, "alpha": out["alpha"]}


def lzjax_runs(settings, tmax, repeats=1):
    """solve_quapi at each (dt, kmax): value, first-call time, warm time (min of `repeats`)."""
    import jax

    from lzjax.model import Bath, Drive, LZProblem
    from lzjax.quapi import solve_quapi

    p = LZProblem(
        Drive(v=POINT["v"]), Bath(gamma=POINT["gamma"], s=POINT["s"], omega_c=POINT["omega_c"], T=POINT["T"]), theta=0.0
    )
    rows = []
    for dt, k in settings:
        t0 = time.perf_counter()
        r = solve_quapi(p, dt=dt, kmax=k, tmax=tmax)
        first = time.perf_counter() - t0
        warm = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            r = solve_quapi(p, dt=dt, kmax=k, tmax=tmax)
            warm.append(time.perf_counter() - t0)
        rows.append(dict(dt=dt, kmax=k, P_LZ=float(r.P_LZ), P_ES=float(r.P_ES), first=first, warm=min(warm)))
        print(
            f"  lzjax dt={dt} kmax={k}: P_LZ={float(r.P_LZ):.6f} P_ES={float(r.P_ES):.6f} "
            f"first {first:.2f} s, warm {min(warm):.2f} s",
            flush=True,
        )
    return rows, p, jax.__version__


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="coarse settings (smoke test)")
    ap.add_argument("--oqupy-python", default=os.environ.get("OQUPY_PYTHON", "/work/venv-oqupy/bin/python"))
    ap.add_argument("--tmax", type=float, default=60.0)
    ap.add_argument("--dt", type=float, default=0.1, help="time step, both codes")
    ap.add_argument(
        "--kmax", type=int, default=None, help="memory in steps, both codes (lzjax kmax = OQuPy dkmax); default 10"
    )
    ap.add_argument("--oqupy-epsrel", type=float, default=1e-6)
    ap.add_argument("--no-converge", action="store_true", help="skip converge_quapi timing")
    ap.add_argument(
        "--check-dephasing", action="store_true", help="verify the OQuPy mapping on pure dephasing first (~20 s)"
    )
    ap.add_argument("--json", default=None, help="write all numbers to this file")
    args = ap.parse_args(argv)
    q = args.quick
    k = args.kmax or (6 if q else 10)
    budget = 6 if q else 10

    import jax

    jax.config.update("jax_enable_x64", True)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; load {os.getloadavg()}", flush=True)
    result = {"point": POINT, "tmax": args.tmax, "dt": args.dt, "kmax": k, "load_start": os.getloadavg()}
    if args.check_dephasing:
        result["dephasing"] = dephasing_check(args.oqupy_python)
        print("dephasing check:", result["dephasing"], flush=True)

    print(f"OQuPy (subprocess): dt={args.dt} dkmax={k} epsrel={args.oqupy_epsrel}", flush=True)
    oq = run_oqupy(
        args.oqupy_python,
        {**POINT, "tmax": args.tmax, "runs": [{"dt": args.dt, "dkmax": k, "epsrel": args.oqupy_epsrel}]},
    )
    oqr = oq["runs"][0]
    print(
        f"  OQuPy P_LZ={oqr['P_LZ']:.6f} wall {oqr['wall_P_LZ']:.2f} s "
        f"(subprocess {oq['subprocess_wall']:.2f} s), oqupy {oq['oqupy']}, numpy {oq['numpy']}",
        flush=True,
    )
    result["oqupy"] = oq

    rows, problem, jax_version = lzjax_runs([(args.dt, k - 2), (args.dt, k)], args.tmax, repeats=2)
    lz = rows[-1]
    diff = lz["P_LZ"] - oqr["P_LZ"]
    ratio = oqr["wall_P_LZ"] / lz["warm"]
    print(
        f"agreement (dt={args.dt}, kmax={k}): lzjax - OQuPy = {diff:+.2e}; memory k-2 -> k "
        f"changes lzjax by {lz['P_LZ'] - rows[0]['P_LZ']:+.1e}",
        flush=True,
    )
    print(
        f"speed: OQuPy {oqr['wall_P_LZ']:.2f} s (P_LZ only) / lzjax warm {lz['warm']:.2f} s "
        f"(P_LZ and P_ES) = {ratio:.1f}x; lzjax first call {lz['first']:.2f} s "
        f"(compile ~{lz['first'] - lz['warm']:.2f} s)",
        flush=True,
    )
    result.update(lzjax_rows=rows, jax=jax_version, diff=diff, ratio=ratio)

    if not args.no_converge:
        from lzjax.quapi import converge_quapi

        t0 = time.perf_counter()
        c = converge_quapi(problem, tol=1e-2, budget=budget)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        c = converge_quapi(problem, tol=1e-2, budget=budget)
        warm = time.perf_counter() - t0
        result["converge_quapi"] = dict(
            P_LZ=float(c.P_LZ),
            P_LZ_err=float(c.P_LZ_err),
            P_ES=float(c.P_ES),
            P_ES_err=float(c.P_ES_err),
            dt=float(c.dt),
            kmax=int(c.kmax),
            tmax=float(c.tmax),
            converged=bool(c.converged),
            first=first,
            warm=warm,
        )
        print(f"converge_quapi(tol=1e-2, budget={budget:d}):", result["converge_quapi"], flush=True)
    return finish(result, args.json)


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
