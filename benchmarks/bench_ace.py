"""QUAPI against ACE (process tensors, PyPI `ace-oqs`) on one Landau-Zener point, in one run.

Point: Θ = 0, s = 3, γ = 5e-4, ω_c = 5, T = 6.4, v = 0.3 (Δ = 1, ħ = 1).
Protocol (both codes, the same window as benchmarks/bench_quapi.py): start at t0 = −t_max/2 in
the instantaneous ground (P_LZ) or excited (P_ES) state of H_S(t0) = Δ/2 σx + v t0/2 σz, bath
thermal and factorised, end at +t_max/2 (t_max = 60), P = population of the same instantaneous
eigenstate there (projective read-out).

Convention mapping. lzjax/bath.py: G(ω) = γ/π ω^s e^(−ω/ω_c) (units Δ = 1), coupling
−σz/2 ⊗ B, C(t) = ⟨B(t)B⟩ = ∫G(ω)[coth(ω/2T) cos ωt − i sin ωt]dω (no 1/π before the integral).
ACE works in ps and meV (ħ = 0.6582119569 meV·ps, k_B = 0.086173303 meV/K, both from ACE's
Constants.hpp). Choose Δ = ħ·(1 ps⁻¹) = 0.6582 meV, so the time unit 1/Δ is 1 ps and every
dimensionless frequency is a frequency in rad/ps:
    times t, dt, t_max, t_mem → the same numbers in ps;
    H_S = ħ[(Δ/2) σx + (v t/2) σz] meV: `add_Hamiltonian(ħ/2 σx)` plus the sweep as
        `add_Pulse((t_i, f_i), A)`, which adds f(t) A + f(t)* A† with f linearly interpolated
        between the samples (exact for a line): f(t) = v t/2, A = ħ σz/2 → ħ v t σz/2;
    T → T·ħ/k_B kelvin (T = 6.4 → 48.887 K), so coth(ħω/2k_B T_K) = coth(ω/2T);
    bath: `Boson_SysOp {0.5*(|0><0|_2-|1><1|_2)}` (= σz/2; the sign of a Gaussian bath's
        coupling does not matter, and with σz² = 1 ACE's polaron-shift subtraction is a global
        constant); ACE's Gaussian influence uses C(t)/ħ² = ∫J(ω)[coth cos − i sin]dω
        (DiagBB.cpp), so J_ACE = G: `Boson_J_type sohmic`, `Boson_J_alpha` = γ/π,
        `Boson_J_s` = s, `Boson_J_omega_c` = ω_c (ps⁻¹), `Boson_J_cutoff exp`
        (J = α ω^s e^(−ω/ω_c)), `Boson_omega_max 200` (J(200) ~ e^(−40)).
Checks run first (same script run): pure dephasing (Δ = 0, v = 0, start (|↑⟩+|↓⟩)/√2) against
|ρ↑↓(t)| = ½ exp(−Γ(t)), Γ(t) = ∫G coth(ω/2T)(1 − cos ωt)/ω² dω (scipy quad, G checked against
lzjax.bath.spectral_density); a factor 2 in γ or in T would show there as 5.5e-3 or 4.8e-3 at
t = 3. Then the bath-free sweep (γ = 0) against lzjax.

ACE discretisation: symmetric Trotter (ACE's default): half free step, one PT step, half free
step; each half step is split into `Nintermediate` + 1 = 4 sub-steps whose Hamiltonian ACE takes
at the sub-step start, so the sweep samples are shifted by half a sub-step (midpoint rule). The
PT-MPO does not depend on H_S (one build per bath, dt and length; a v sweep reuses it), so its
build time is reported apart from the propagation. Memory: ACE's single PT line holds the
influence coefficients of lags 0 … n_mem − 1 (n_mem = t_mem/dt), lzjax's k_max lags 0 … k_max,
so "matched memory" means t_mem = (k_max + 1)·dt. `use_Gaussian_repeat` (periodic PT-MPO, needs
n_mem a power of 2) is used where n_mem is one, else `use_Gaussian` (same lags, slower build).
ACE's converged value: t_mem = 6.4 (64 steps; checked against 12.8), threshold 1e-8 (checked
against 1e-7 and 1e-9), and dt = 0.1 → 0.05 → 0.025 for the Trotter error.

ACE runs in its own virtual environment through a subprocess (`--ace-python`, default
/work/venv-ace/bin/python or $ACE_PYTHON), pinned to one core (`--ace-cpu`), single-threaded
(the wheel links no BLAS/OpenMP); its import is outside every timed region and it returns JSON.
ACE times are min of `--repeats` inside the subprocess, PT build and propagation (both initial
states) apart. Most of a default PT build is a fixed 2^20-point FFT of the influence
coefficients (`Boson_override_Ndiscr`, default 1e6): the "N" rows repeat the timed runs with
2^16 points (`--ace-ndiscr`), which changes P_LZ by < 1e-7 here.
lzjax runs here (jax CPU, float64, on all cores the process may use, or on one with
`--lzjax-cpu`): first call (compile + run) and warm calls (min of `--repeats`); batched
throughput = one `solve_quapi` call on 16 temperatures (T = 3.2 … 12.8, vmapped), compared with
ACE on the same 16 temperatures (one PT build each: the PT depends on T).

    python benchmarks/bench_ace.py                # ~1.5 min on the loaded 2-core machine
    python benchmarks/bench_ace.py --lzjax-cpu 1  # the same with lzjax on one core
    python benchmarks/bench_ace.py --quick        # k_max 3, 4 temperatures, no ladder: smoke test
    python benchmarks/bench_ace.py --memory-ladder --no-checks  # + memory convergence (~5 min)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

from benchtools import finish

POINT = dict(gamma=5e-4, s=3.0, omega_c=5.0, T=6.4, v=0.3, delta=1.0)
LADDER_K = (4, 6, 8, 10)  # --memory-ladder: k_max at dt = 2 dt
LADDER_LONG = 20  # --memory-ladder: ACE lags 0..19 at dt (OQuPy's dkmax 20 in RESULTS.md)

ACE_DRIVER = textwrap.dedent(r"""
    import json, os, sys, time
    import numpy as np
    cfg = json.loads(sys.argv[1])
    if cfg.get("cpu", -1) >= 0:
        os.sched_setaffinity(0, {cfg["cpu"]})
    import ACE
    from ACE import (Parameters, ProcessTensors, FreePropagator, OutputPrinter, Simulation,
                     TimeGrid, KetBra, hbar)
    KB = 8.6173303e-2  # meV/K, ACE Constants.hpp (hbar = 0.6582119569 meV ps from the module)
    gamma, s, wc, T, v, delta = (cfg[k] for k in ("gamma", "s", "omega_c", "T", "v", "delta"))
    assert delta == 1.0  # unit choice: Delta = hbar * 1/ps, time unit 1 ps
    sx = np.array([[0, 1], [1, 0]], complex); sz = np.array([[1, 0], [0, -1]], complex)
    out = {"hbar": hbar, "kB": KB, "ace": "ace-oqs", "numpy": np.__version__,
           "affinity": sorted(os.sched_getaffinity(0)), "runs": []}
    try:
        from importlib.metadata import version
        out["ace"] = "ace-oqs " + version("ace-oqs")
    except Exception:
        pass

    def bath(dt, te, thr, tmem, method, T=T, g=gamma, ndiscr=0):
        p = [f"dt {dt!r}", "ta 0", f"te {te!r}", f"threshold {thr!r}", f"{method} true",
             "Boson_J_type sohmic", f"Boson_J_alpha {g / np.pi!r}", f"Boson_J_omega_c {wc!r}",
             f"Boson_J_s {s!r}", "Boson_J_cutoff exp", f"Boson_omega_max {cfg['omega_max']!r}",
             f"Boson_temperature {T * hbar / KB!r}", "Boson_SysOp {0.5*(|0><0|_2-|1><1|_2)}"]
        if tmem > 0:
            p.append(f"t_mem {tmem!r}")
        if ndiscr > 0:  # frequency grid of the FFT for the influence coefficients (default 1e6)
            p.append(f"Boson_override_Ndiscr {ndiscr}")
        return Parameters(p)

    def h(t):
        return 0.5 * delta * sx + 0.5 * v * t * sz

    def proj(t, excited):
        w, u = np.linalg.eigh(h(t)); vec = u[:, 1 if excited else 0]
        return np.outer(vec, vec.conj())

    t0s, t1s = -cfg["tmax"] / 2, cfg["tmax"] / 2

    def free(dt, nint=3):
        fp = FreePropagator(Parameters([f"Nintermediate {nint}"]))
        fp.add_Hamiltonian(hbar * 0.5 * delta * sx)
        sub = dt / 2 / (nint + 1)  # symmetric Trotter half step, split into nint + 1 sub-steps
        tt = np.array([t0s - 10.0, t1s + 10.0])
        fp.add_Pulse((tt, (0.5 * v * (tt + 0.5 * sub)).astype(complex)), hbar * 0.5 * sz)
        return fp

    def propagate(PT, dt, excited):
        outp = OutputPrinter([proj(t1s, excited)])
        Simulation(free(dt), PT, proj(t0s, excited), TimeGrid(t0s, t1s, dt), outp)
        times, data = outp.extract()
        return float(data[-1, 0].real), float(times[-1])

    if cfg["mode"] == "checks":
        d = cfg["dephasing"]
        t_a = time.perf_counter()
        PT = ProcessTensors(bath(d["dt"], d["tend"], d["thr"], 0, "use_Gaussian"))
        fp = FreePropagator(); fp.add_Hamiltonian(np.zeros((2, 2), complex))
        outp = OutputPrinter([KetBra(0, 1, 2)])
        Simulation(fp, PT, 0.5 * np.ones((2, 2), complex), TimeGrid(0.0, d["tend"], d["dt"]), outp)
        times, data = outp.extract()
        out["dephasing"] = {**d, "t": [float(x) for x in times],
                            "coh": [float(abs(x)) for x in data[:, 0]],
                            "wall": time.perf_counter() - t_a}
        dt = cfg["coherent_dt"]
        p_lz, t_end = propagate(ProcessTensors(), dt, False)
        p_es, _ = propagate(ProcessTensors(), dt, True)
        out["coherent"] = {"dt": dt, "P_LZ": p_lz, "P_ES": p_es, "t_end": t_end}
    else:
        for run in cfg["runs"]:
            res = dict(run)
            temps = run.get("temperatures", [T])
            res["P_LZ"], res["P_ES"], res["build"], res["prop"] = [], [], [], []
            for temp in temps:
                builds, props = [], []
                for _ in range(run.get("repeats", 1)):
                    PT = None
                    t_a = time.perf_counter()
                    PT = ProcessTensors(bath(run["dt"], run["te"], run["thr"], run["tmem"],
                                             run["method"], T=temp, ndiscr=run.get("ndiscr", 0)))
                    builds.append(time.perf_counter() - t_a)
                for _ in range(run.get("repeats", 1)):
                    t_a = time.perf_counter()
                    p_lz, t_end = propagate(PT, run["dt"], False)
                    p_es, _ = propagate(PT, run["dt"], True)
                    props.append(time.perf_counter() - t_a)
                res["P_LZ"].append(p_lz); res["P_ES"].append(p_es)
                res["build"].append(min(builds)); res["prop"].append(min(props))
                res["t_end"] = t_end
            if "temperatures" not in run:
                for key in ("P_LZ", "P_ES", "build", "prop"):
                    res[key] = res[key][0]
            out["runs"].append(res)
            print(json.dumps(res), file=sys.stderr, flush=True)
    with open(sys.argv[2], "w") as fh:
        json.dump(out, fh)
""")


def run_ace(python: str, cfg: dict) -> dict:
    """One ACE subprocess (stdout of the C++ core discarded); returns its JSON and wall time."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ace.json")
        t0 = time.perf_counter()
        proc = subprocess.run(
            [python, "-c", ACE_DRIVER, json.dumps(cfg), path],
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - t0
        if proc.returncode != 0 or not os.path.exists(path):
            raise RuntimeError(f"ACE subprocess failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}")
        with open(path) as fh:
            out = json.load(fh)
    out["subprocess_wall"] = wall
    return out


def gamma_exact(t: float) -> float:
    """Γ(t) = ∫G coth(ω/2T)(1 − cos ωt)/ω² dω with lzjax's G = γ/π ω^s e^(−ω/ω_c) (Δ = 1)."""
    from scipy.integrate import quad

    g, s, wc, temp = POINT["gamma"], POINT["s"], POINT["omega_c"], POINT["T"]
    f = lambda w: g / np.pi * w**s * np.exp(-w / wc) / np.tanh(w / (2 * temp)) * (1 - np.cos(w * t)) / w**2  # noqa: E731
    return quad(f, 0, np.inf, limit=500, epsabs=1e-14, epsrel=1e-12)[0]


def _problem(**bath_overrides):
    from lzjax.model import Bath, Drive, LZProblem

    b = dict(gamma=POINT["gamma"], s=POINT["s"], omega_c=POINT["omega_c"], T=POINT["T"])
    b.update(bath_overrides)
    return LZProblem(Drive(v=POINT["v"]), Bath(**b), theta=0.0)


def checks(python: str, cpu: int, tmax: float, quick: bool) -> dict:
    """ACE pure dephasing vs ½e^(−Γ(t)), and the bath-free sweep vs lzjax (γ = 0)."""
    import jax.numpy as jnp

    from lzjax.bath import spectral_density
    from lzjax.model import Bath
    from lzjax.quapi import solve_quapi

    # the quad integrand above is lzjax's G: check at a few frequencies
    bath = Bath(gamma=POINT["gamma"], s=POINT["s"], omega_c=POINT["omega_c"], T=POINT["T"])
    w = np.array([0.3, 1.0, 5.0, 20.0])
    mine = POINT["gamma"] / np.pi * w ** POINT["s"] * np.exp(-w / POINT["omega_c"])
    assert np.allclose(np.asarray(spectral_density(jnp.asarray(w), bath)), mine, rtol=1e-13)

    deph = dict(dt=0.05, tend=1.0 if quick else 3.0, thr=1e-10)
    out = run_ace(
        python,
        {
            **POINT,
            "mode": "checks",
            "cpu": cpu,
            "tmax": tmax,
            "omega_max": 200.0,
            "dephasing": deph,
            "coherent_dt": 0.1,
        },
    )
    d = out["dephasing"]
    dev = [abs(c - 0.5 * math.exp(-gamma_exact(t))) for t, c in zip(d["t"], d["coh"], strict=True)]
    res = {
        "dephasing_max_abs_dev": max(dev),
        "dephasing_points": len(dev),
        "Gamma_tend": gamma_exact(d["tend"]),
        **deph,
        "ace_wall": d["wall"],
    }
    lz0 = solve_quapi(_problem(gamma=0.0), dt=0.1, kmax=1, tmax=tmax)
    c = out["coherent"]
    res.update(
        coherent_ace_P_LZ=c["P_LZ"],
        coherent_lzjax_P_LZ=float(lz0.P_LZ),
        coherent_diff_P_LZ=c["P_LZ"] - float(lz0.P_LZ),
        coherent_diff_P_ES=c["P_ES"] - float(lz0.P_ES),
        ace=out["ace"],
        ace_affinity=out["affinity"],
    )
    return res


def _timed(call, repeats: int):
    """(result, first-call seconds, min warm seconds over `repeats` further calls; nan if none)."""
    t0 = time.perf_counter()
    result = call()
    first = time.perf_counter() - t0
    warm = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = call()
        warm.append(time.perf_counter() - t0)
    return result, first, min(warm) if warm else float("nan")


def lzjax_single(kmax: int, dt: float, tmax: float, repeats: int) -> dict:
    from lzjax.quapi import solve_quapi

    p = _problem()
    r, first, warm = _timed(lambda: solve_quapi(p, dt=dt, kmax=kmax, tmax=tmax), repeats)
    return dict(kmax=kmax, dt=dt, P_LZ=float(r.P_LZ), P_ES=float(r.P_ES), first=first, warm=warm)


def lzjax_batch(kmax: int, dt: float, tmax: float, temps, repeats: int) -> dict:
    from lzjax.quapi import solve_quapi

    p = _problem(T=np.asarray(temps, dtype=float))
    r, first, warm = _timed(lambda: solve_quapi(p, dt=dt, kmax=kmax, tmax=tmax), max(repeats, 1))
    n = len(temps)
    return dict(
        kmax=kmax,
        dt=dt,
        n=n,
        P_LZ=[float(x) for x in r.P_LZ],
        P_ES=[float(x) for x in r.P_ES],
        first=first,
        warm=warm,
        per_point=warm / n,
    )


def ace_memory_run(dt: float, kmax: int, tmax: float, thr: float) -> dict:
    """ACE run with the same memory lags 0 … k_max as lzjax's k_max."""
    n_mem = kmax + 1
    power2 = (n_mem & (n_mem - 1)) == 0 and 2 * n_mem <= round(tmax / dt)
    return dict(
        dt=dt, te=tmax, thr=thr, tmem=round(n_mem * dt, 12), method="use_Gaussian_repeat" if power2 else "use_Gaussian"
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="k_max 3, 4 temperatures, no ladder")
    ap.add_argument("--ace-python", default=os.environ.get("ACE_PYTHON", "/work/venv-ace/bin/python"))
    ap.add_argument("--ace-cpu", type=int, default=0, help="core to pin ACE to (-1: no pinning)")
    ap.add_argument("--tmax", type=float, default=60.0)
    ap.add_argument("--dt", type=float, default=0.1, help="time step of the matched runs")
    ap.add_argument(
        "--kmax", type=int, default=None, help="lzjax memory (ACE t_mem = (kmax + 1) dt); default 7, quick 3"
    )
    ap.add_argument(
        "--kmax-long", type=int, default=None, help="extra lzjax single point at this k_max (default 10, quick: none)"
    )
    ap.add_argument("--ace-threshold", type=float, default=1e-8)
    ap.add_argument(
        "--ace-ndiscr",
        type=int,
        default=65536,
        help="FFT grid of ACE's influence coefficients for the tuned rows "
        "(ACE's default 1e6 in the others; 2^16 changes P_LZ by < 1e-7)",
    )
    ap.add_argument("--repeats", type=int, default=None, help="timing repeats (default 3, quick 1)")
    ap.add_argument(
        "--lzjax-cpu",
        type=int,
        default=-1,
        help="pin this process (lzjax, before jax starts) to one core (-1: no pinning)",
    )
    ap.add_argument("--no-checks", action="store_true", help="skip the mapping checks")
    ap.add_argument(
        "--memory-ladder",
        action="store_true",
        help="also ACE and lzjax at equal lags 0..k, k = 4 … 10, at dt = 2 dt, and ACE "
        "at dt with 20 lags (~3 min more)",
    )
    ap.add_argument("--json", default=None, help="write all numbers to this file")
    args = ap.parse_args(argv)
    q = args.quick
    k = args.kmax or (3 if q else 7)
    k_long = args.kmax_long if args.kmax_long is not None else (0 if q else 10)
    reps = args.repeats or (1 if q else 3)
    temps = np.linspace(3.2, 12.8, 4 if q else 16)
    dt, tmax, thr = args.dt, args.tmax, args.ace_threshold

    if args.lzjax_cpu >= 0:  # before jax creates its CPU thread pool
        os.sched_setaffinity(0, {args.lzjax_cpu})
    import jax

    jax.config.update("jax_enable_x64", True)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, lzjax process affinity "
        f"{sorted(os.sched_getaffinity(0))}; load {os.getloadavg()}",
        flush=True,
    )
    result = {"point": POINT, "tmax": tmax, "dt": dt, "kmax": k, "jax": jax.__version__, "load_start": os.getloadavg()}

    if not args.no_checks:
        c = checks(args.ace_python, args.ace_cpu, tmax, q)
        result["checks"] = c
        print(
            f"check, pure dephasing (ACE dt {c['dt']}, threshold {c['thr']:g}, full memory, "
            f"t <= {c['tend']}): max |ACE - 1/2 exp(-Gamma)| = {c['dephasing_max_abs_dev']:.1e} "
            f"over {c['dephasing_points']} times (Gamma({c['tend']}) = {c['Gamma_tend']:.5f})",
            flush=True,
        )
        print(
            f"check, no bath (dt 0.1): ACE P_LZ {c['coherent_ace_P_LZ']:.8f}, lzjax "
            f"{c['coherent_lzjax_P_LZ']:.8f}: diff {c['coherent_diff_P_LZ']:+.1e} "
            f"(P_ES {c['coherent_diff_P_ES']:+.1e}); {c['ace']}",
            flush=True,
        )

    # ---- ACE: matched memory (timed), convergence ladder, 16 temperatures ----------------------
    nd = args.ace_ndiscr
    matched = {**ace_memory_run(dt, k, tmax, thr), "repeats": reps, "tag": "matched"}
    conv = dict(dt=dt, te=tmax, thr=thr, tmem=6.4, method="use_Gaussian_repeat", repeats=reps, tag="converged")
    temp_run = {
        **ace_memory_run(dt, k, tmax, thr),
        "repeats": 1,
        "tag": "temperatures",
        "temperatures": [float(x) for x in temps],
    }
    runs = [matched, dict(matched, ndiscr=nd, tag="matched N"), conv, dict(conv, ndiscr=nd, tag="converged N")]
    if not q:
        runs += [
            dict(conv, thr=1e-7, repeats=1, tag="thr 1e-7"),
            dict(conv, thr=1e-9, repeats=1, tag="thr 1e-9"),
            dict(conv, tmem=12.8, repeats=1, tag="t_mem 12.8"),
            dict(conv, dt=dt / 2, thr=1e-9, repeats=1, ndiscr=nd, tag="dt/2"),
            dict(conv, dt=dt / 4, thr=1e-9, repeats=1, ndiscr=nd, tag="dt/4"),
        ]
    runs += [temp_run, dict(temp_run, ndiscr=nd, tag="temperatures N")]
    ladder = [(2 * dt, kk) for kk in LADDER_K] if args.memory_ladder else []
    for dtl, kk in ladder:  # memory ladder: lags 0..kk at dt = 2 dt, plus memory-converged ACE
        runs.append({**ace_memory_run(dtl, kk, tmax, thr), "ndiscr": nd, "tag": f"ladder {kk}"})
    if ladder:
        runs += [
            dict(conv, dt=2 * dt, ndiscr=nd, repeats=1, tag="ladder conv"),
            {**ace_memory_run(dt, LADDER_LONG - 1, tmax, thr), "ndiscr": nd, "tag": "ladder long"},
        ]
    print(f"ACE (subprocess, pinned to core {args.ace_cpu}): {len(runs)} runs", flush=True)
    ace = run_ace(
        args.ace_python, {**POINT, "mode": "lz", "cpu": args.ace_cpu, "tmax": tmax, "omega_max": 200.0, "runs": runs}
    )
    result["ace"] = ace
    by_tag = {r["tag"]: r for r in ace["runs"]}
    print(f"  {ace['ace']}, affinity {ace['affinity']}, subprocess wall {ace['subprocess_wall']:.1f} s", flush=True)
    print(
        "  | run | dt | t_mem (steps) | threshold | Ndiscr | method | P_LZ | P_ES | PT build s | "
        "propagate s (both states) |"
    )
    for r in ace["runs"]:
        if "temperatures" in r:
            continue
        print(
            f"  | {r['tag']} | {r['dt']:g} | {r['tmem']:g} ({round(r['tmem'] / r['dt'])}) | "
            f"{r['thr']:g} | {r.get('ndiscr') or 'default'} | {r['method']} | {r['P_LZ']:.7f} | "
            f"{r['P_ES']:.7f} | {r['build']:.3f} | {r['prop']:.3f} |",
            flush=True,
        )
    ace_conv = by_tag["converged"]
    if "dt/4" in by_tag:
        p2, p4 = by_tag["dt/2"]["P_LZ"], by_tag["dt/4"]["P_LZ"]
        result["ace_dt0_extrapolated"] = p4 + (p4 - p2) / 3.0  # Richardson in dt²
        print(
            f"  ACE P_LZ at dt -> 0 (Richardson dt², dt/2 and dt/4): {result['ace_dt0_extrapolated']:.6f}", flush=True
        )

    # ---- lzjax ---------------------------------------------------------------------------------
    print(f"lzjax: solve_quapi(dt={dt}, kmax={k}, tmax={tmax}), first call + min of {reps} warm", flush=True)
    lz = lzjax_single(k, dt, tmax, reps)
    print(
        f"  P_LZ {lz['P_LZ']:.6f} P_ES {lz['P_ES']:.6f} first {lz['first']:.2f} s warm {lz['warm']:.3f} s", flush=True
    )
    result["lzjax"] = lz
    if k_long:
        lzl = lzjax_single(k_long, dt, tmax, max(1, min(reps, 2)))
        result["lzjax_long"] = lzl
        print(
            f"  kmax={k_long}: P_LZ {lzl['P_LZ']:.6f} P_ES {lzl['P_ES']:.6f} first "
            f"{lzl['first']:.2f} s warm {lzl['warm']:.2f} s",
            flush=True,
        )
    lzb = lzjax_batch(k, dt, tmax, temps, max(1, min(reps, 2)))
    result["lzjax_batch"] = lzb
    print(
        f"  batch of {lzb['n']} temperatures, kmax={k}: first {lzb['first']:.2f} s, warm "
        f"{lzb['warm']:.3f} s = {lzb['per_point']:.4f} s per point",
        flush=True,
    )

    # ---- agreement and ratios ------------------------------------------------------------------
    m = by_tag["matched"]
    at = by_tag["temperatures"]
    diff = lz["P_LZ"] - m["P_LZ"]
    diff_es = lz["P_ES"] - m["P_ES"]
    diff_t = np.max(np.abs(np.asarray(lzb["P_LZ"]) - np.asarray(at["P_LZ"])))
    result.update(
        diff=diff,
        diff_es=diff_es,
        diff_temperatures_max=float(diff_t),
        lzjax_minus_ace_converged=lz["P_LZ"] - ace_conv["P_LZ"],
    )

    def point(tag):  # ACE seconds per point: PT build + propagation (both states)
        r = by_tag[tag]
        if "temperatures" in r:
            return (np.sum(r["build"]) + np.sum(r["prop"])) / len(r["build"])
        return r["build"] + r["prop"]

    print(
        f"agreement at matched dt = {dt} and memory (lags 0..{k}; ACE t_mem {m['tmem']:g}, "
        f"{m['method']}): lzjax - ACE = {diff:+.1e} (P_LZ), {diff_es:+.1e} (P_ES); "
        f"over {len(temps)} temperatures max |diff P_LZ| = {diff_t:.1e}",
        flush=True,
    )
    print(
        f"memory: ACE converged (t_mem 6.4, thr {thr:g}) P_LZ = {ace_conv['P_LZ']:.6f}; "
        f"lzjax kmax={k} - that = {lz['P_LZ'] - ace_conv['P_LZ']:+.1e}"
        + (f", kmax={k_long}: {result['lzjax_long']['P_LZ'] - ace_conv['P_LZ']:+.1e}" if k_long else ""),
        flush=True,
    )
    rows = [
        (
            f"k={k} warm vs ACE matched memory, new bath (PT build + propagation)",
            lz["warm"],
            point("matched"),
            point("matched N"),
        ),
        (
            f"k={k} warm vs ACE matched memory, PT reused (v sweep): propagation only",
            lz["warm"],
            m["prop"],
            by_tag["matched N"]["prop"],
        ),
        (
            f"batch of {len(temps)} temperatures, k={k}, per point (ACE: one PT each)",
            lzb["per_point"],
            point("temperatures"),
            point("temperatures N"),
        ),
        (f"k={k} first call (compile) vs ACE matched, new bath", lz["first"], point("matched"), point("matched N")),
        (f"k={k} warm vs ACE converged (t_mem 6.4)", lz["warm"], point("converged"), point("converged N")),
    ]
    if k_long:
        rows.append(
            (
                f"k={k_long} warm vs ACE converged (t_mem 6.4)",
                result["lzjax_long"]["warm"],
                point("converged"),
                point("converged N"),
            )
        )
    print(
        f"| comparison | lzjax s/point | ACE s/point (Ndiscr 1e6, default) | lzjax/ACE | "
        f"ACE s/point (Ndiscr {nd}) | lzjax/ACE |"
    )
    result["ratios"] = []
    for name, a, b, c in rows:
        print(f"| {name} | {a:.4g} | {b:.4g} | {a / b:.3g} | {c:.4g} | {a / c:.3g} |", flush=True)
        result["ratios"].append(dict(name=name, lzjax=a, ace=b, ratio=a / b, ace_ndiscr=c, ratio_ndiscr=a / c))
    if ladder:
        print(f"memory ladder (ACE and lzjax at equal lags, dt = {2 * dt:g}):")
        print("| lags 0..k | ACE P_LZ | lzjax P_LZ | lzjax - ACE |")
        result["ladder"] = []
        for dtl, kk in ladder:
            a = by_tag[f"ladder {kk}"]["P_LZ"]
            b = lzjax_single(kk, dtl, tmax, 0)["P_LZ"]
            result["ladder"].append(dict(dt=dtl, kmax=kk, ace=a, lzjax=b))
            print(f"| {kk} | {a:.7f} | {b:.7f} | {b - a:+.1e} |", flush=True)
        print(f"| ACE t_mem 6.4 | {by_tag['ladder conv']['P_LZ']:.7f} | | |")
        r = by_tag["ladder long"]
        print(
            f"ACE at dt = {dt:g}, lags 0..{LADDER_LONG - 1} (t_mem {r['tmem']:g}, {r['method']}): "
            f"P_LZ {r['P_LZ']:.7f} (PT build {r['build']:.1f} s)",
            flush=True,
        )
    return finish(result, args.json)


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
