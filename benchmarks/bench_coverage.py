"""Error-bar coverage of the process-tensor convergence ladder (issue 20, item 4).

N random points (fixed seed) of the parameter space, Δ = 1:

    s ∈ [0.5, 4] uniform, Θ ∈ (−π/2, π/2] uniform, T ∈ [0, 25.6] uniform (T = 0 at a tenth of the
    points, chosen at random), ω_c ∈ [2.5, 20], γ ∈ [1e-5, 5e-3], v ∈ [0.1, 10] log-uniform,

each through ``converge_quapi(problem, tol=1e-3)`` and ``tol=1e-4`` (default engine, the process
tensor ``PT``), against a reference through the same engine at settings far finer than the
ladder's. The reference (``--reference tol``, the default) is

    converge_quapi(problem, tol=1e-5, memory_time=12.8)

the ladder asked for 10× less than the smaller tolerance tested, with twice the default memory
(6.4; its memory partner then at 25.6): a wider window (its tails below 30·1e-5 of ∫Γ1 dt), a
step set by that window, a truncation 10× tighter (6e-3·tol/N), and refinements where its bar
exceeds 1e-5. Its own error bar is reported against the bars tested (it is the same error model,
at settings far finer: the check is that its bar is ≪ theirs). ``--reference fine`` instead takes
a fixed-settings ladder built from the settings the tol-1e-4 ladder ended with (value window
eps_q, step dt, truncation pt_tol): eps_q = min(120, 4/3·eps_q(1e-4)) (the reference's value is
read at 4/3 of that), dt = min(dt(1e-4), pt_step(ω_c, eps_q))/1.25² (two grid levels finer than
the ladder's own rule at that window: tried first with the tested dt/1.25² alone, the step was too
coarse for the wider window, E δt ≈ 2 at its edge, and its bar, 9e-4 at s = 3, Θ = 0.3, T = 6.4,
ω_c = 5, γ = 5e-4, v = 2, was larger than the tested one), memory_time = 12.8, pt_tol =
pt_tol(1e-4)/100 (at least 1e-14), tol = 1e-5 (only the verdict: with dt and eps_q given nothing
is refined); it cannot widen its window past 120 (the ladder's own value window reaches 150).

A point is "covered" when |Δ| ≤ err + err_ref (|Δ| against
the reference's value, the reference's own bar counted in the point's favour), "strictly covered"
when |Δ| + err_ref ≤ err, "beyond 2 err" when |Δ| − err_ref > 2 err (certainly outside twice
the bar), for P_LZ and P_ES separately.

Each point runs in its own subprocess (the three calls in order: tol 1e-3, tol 1e-4 in the same
process — it shares the first call's tensors and compiled programs — then the reference), with a
wall-clock limit ``--point-timeout`` (default 300 s) for the three together; results reach the
parent as each call ends, so a timeout keeps what finished. A ValueError (e.g. "too strongly
coupled for QUAPI", "compression failed") is recorded with its message. JAX's persistent
compilation cache and lzjax's tensor cache live in a fresh folder per run (``--cache-dir`` to
choose one), so the cost is that of a first run on a new machine, caches warming over the points.

    python benchmarks/bench_coverage.py --quick                       # 4 points, smoke run
    python benchmarks/bench_coverage.py --n 40 --json /tmp/coverage.json
    python benchmarks/bench_coverage.py --analyze /tmp/coverage.json  # the table again

Prints the load average at start and end, a table per tolerance (coverage, convergence and the
dominant part of non-converged bars, overstatement err/|Δ|, the tol-1e-4/tol-1e-3 bar ratio, cost,
refinements), every point whose bar failed, and writes everything (per-point records too) to
``--json``. Results: benchmarks/RESULTS.md, "Error-bar coverage of the process-tensor ladder".
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

TOLS = (1e-3, 1e-4)
REF_TOL = 1e-5
REF_MEMORY_TIME = 12.8
PARTS = ("dt", "memory", "window", "compression")
MARK = "@@coverage "


# ---- the points ------------------------------------------------------------------------------


def draw_points(n: int, seed: int) -> list[dict]:
    """`n` random points of the issue's parameter space (module docstring), reproducible from
    `seed`; T = 0 at max(1, round(n/10)) of them."""
    rng = np.random.default_rng(seed)
    log_uniform = lambda lo, hi: float(np.exp(rng.uniform(math.log(lo), math.log(hi))))  # noqa: E731
    points = []
    for k in range(n):
        points.append(
            {
                "index": k,
                "s": float(rng.uniform(0.5, 4.0)),
                "theta": float(math.pi / 2 - rng.uniform(0.0, math.pi)),  # (−π/2, π/2]
                "T": float(rng.uniform(0.0, 25.6)),
                "omega_c": log_uniform(2.5, 20.0),
                "gamma": log_uniform(1e-5, 5e-3),
                "v": log_uniform(0.1, 10.0),
            }
        )
    for k in rng.choice(n, size=max(1, round(n / 10)), replace=False):
        points[int(k)]["T"] = 0.0
    return points


def label(p: dict) -> str:
    return (
        f"#{p['index']} s={p['s']:.2f} Θ={p['theta']:+.2f} T={p['T']:.1f} ω_c={p['omega_c']:.1f} "
        f"γ={p['gamma']:.2g} v={p['v']:.3g}"
    )


# ---- the child: one point, three calls --------------------------------------------------------


def _scalar(x):
    a = np.asarray(x)
    if a.size != 1:
        return a.tolist()
    x = a.reshape(()).item()
    return x if isinstance(x, (bool, int, float, str)) else str(x)


def _summary(r) -> dict:
    out = {k: _scalar(getattr(r, k)) for k in ("P_LZ", "P_ES", "P_LZ_err", "P_ES_err", "converged", "status")}
    out["settings"] = {k: _scalar(x) for k, x in r.settings.items()}
    return out


def reference_settings(tested: dict, omega_c: float) -> dict:
    """The fixed settings of the ``fine`` reference from a tested ladder's settings (module doc)."""
    from lzjax.quapi.engines.pt import pt_step

    s = tested["settings"]
    eps_q = min(120.0, 4.0 / 3.0 * float(s["eps_q"]))
    return {
        "dt": max(1e-3, min(float(s["dt"]), pt_step(omega_c, eps_q)) / 1.25**2),
        "eps_q": eps_q,
        "memory_time": REF_MEMORY_TIME,
        "pt_tol": max(1e-14, float(s["pt_tol"]) / 100.0),
    }


def child(point: dict, reference: str) -> None:
    """Run the three calls of one point, one marked JSON line on stdout after each."""
    import jax

    cache = os.environ.get("XDG_CACHE_HOME")
    if cache:  # as the CLI does (lzjax.cli): JAX's persistent compilation cache
        jax.config.update("jax_compilation_cache_dir", os.path.join(cache, "lzjax", "jax"))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.05)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    import lzjax

    print(MARK + json.dumps({"stage": "info", "lzjax": lzjax.__file__, "version": lzjax.__version__}), flush=True)
    problem = lzjax.LZProblem(
        lzjax.Drive(point["v"]), lzjax.Bath(point["gamma"], point["s"], point["omega_c"], point["T"]), point["theta"]
    )
    done: dict = {}
    stages = [(f"tol_{t:g}", t) for t in TOLS] + [("ref", REF_TOL)]
    for name, tol in stages:
        kwargs: dict = {}
        if name == "ref" and reference == "fine":
            tested = next((done[k] for k in ("tol_0.0001", "tol_0.001") if "P_LZ" in done.get(k, {})), None)
            if tested is None:
                rec = {"error": "skipped: no tested result to refine"}
                print(MARK + json.dumps({"stage": name, **rec}), flush=True)
                continue
            kwargs = reference_settings(tested, point["omega_c"])
        elif name == "ref":
            kwargs = {"memory_time": REF_MEMORY_TIME}
        start = time.perf_counter()
        try:
            rec = _summary(lzjax.converge_quapi(problem, tol=tol, **kwargs))
        except ValueError as exc:
            rec = {"error": f"ValueError: {exc}"}
        except Exception as exc:  # recorded, not a crash: the benchmark goes on
            rec = {"error": f"{type(exc).__name__}: {exc}"}
        rec["wall_s"] = time.perf_counter() - start
        rec["kwargs"] = kwargs
        done[name] = rec
        print(MARK + json.dumps({"stage": name, **rec}), flush=True)


def run_point(point: dict, args, env) -> dict:
    """One point in a subprocess with the wall-clock limit; {stage: record} (missing stages
    marked as timeouts or as the child's crash)."""
    cmd = [sys.executable, os.path.abspath(__file__), "--child", json.dumps(point), "--reference", args.reference]
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
    )
    timed_out = False
    try:
        out, err = proc.communicate(timeout=args.point_timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)  # the child's own session: only what this run started
        out, err = proc.communicate()
    wall = time.perf_counter() - start
    stages, info = {}, {}
    for line in out.splitlines():
        if line.startswith(MARK):
            rec = json.loads(line[len(MARK) :])
            stages[rec.pop("stage")] = rec
    info = stages.pop("info", {})
    for name in [f"tol_{t:g}" for t in TOLS] + ["ref"]:
        if name not in stages:
            why = (
                f"timeout after {args.point_timeout:g} s"
                if timed_out
                else f"child exited {proc.returncode}: {err.strip()[-400:]}"
            )
            stages[name] = {"error": why, "timeout": timed_out}
    return {"point": point, "stages": stages, "wall_s": wall, "timed_out": timed_out, "lzjax": info}


# ---- the analysis ----------------------------------------------------------------------------


def _ok(rec: dict) -> bool:
    return "P_LZ" in rec and all(np.isfinite([rec["P_LZ"], rec["P_ES"], rec["P_LZ_err"], rec["P_ES_err"]]))


def _stats(x) -> dict | None:
    x = np.asarray([y for y in x if y is not None and np.isfinite(y)], dtype=float)
    if not x.size:
        return None
    return {"n": int(x.size), "median": float(np.median(x)), "min": float(np.min(x)), "max": float(np.max(x))}


def _dominant(rec: dict) -> str:
    s = rec["settings"]
    return max(PARTS, key=lambda p: float(s.get(f"err_{p}", 0.0)))


def analyze(records: list[dict]) -> dict:
    """Per tolerance: coverage, convergence, overstatement, cost, refinements; the bar ratio;
    the reference's own bar against the tested ones; the failures (module docstring)."""
    summary: dict = {"points": len(records), "per_tol": {}, "failures": []}
    for tol in TOLS:
        name = f"tol_{tol:g}"
        answered = [r for r in records if _ok(r["stages"][name])]
        errors = [r for r in records if not _ok(r["stages"][name])]
        conv = [r for r in answered if r["stages"][name]["converged"]]
        dominant: dict = {}
        for r in answered:
            if not r["stages"][name]["converged"]:
                part = _dominant(r["stages"][name])
                dominant[part] = dominant.get(part, 0) + 1
        walls = [r["stages"][name]["wall_s"] for r in answered]
        refinements: dict = {}
        for r in answered:
            k = str(r["stages"][name]["settings"].get("refinements"))
            refinements[k] = refinements.get(k, 0) + 1
        per = {
            "answered": len(answered),
            "errors": [
                {"index": r["point"]["index"], "error": r["stages"][name].get("error", "not finite")} for r in errors
            ],
            "timeouts": sum(bool(r["stages"][name].get("timeout")) for r in errors),
            "converged": len(conv),
            "dominant_part_not_converged": dominant,
            "wall_s": _stats(walls),
            "wall_total_s": float(np.sum(walls)) if walls else 0.0,
            "refinements": dict(sorted(refinements.items())),
        }
        compared = [r for r in answered if _ok(r["stages"]["ref"])]
        per["compared"] = len(compared)
        for q in ("LZ", "ES"):
            rows = []
            for r in compared:
                t, ref = r["stages"][name], r["stages"]["ref"]
                d = abs(t[f"P_{q}"] - ref[f"P_{q}"])
                e, er = t[f"P_{q}_err"], ref[f"P_{q}_err"]
                rows.append((r, d, e, er))
                if d > e + er:
                    summary["failures"].append(
                        {
                            "tol": tol,
                            "quantity": f"P_{q}",
                            "point": r["point"],
                            "value": t[f"P_{q}"],
                            "ref": ref[f"P_{q}"],
                            "delta": d,
                            "err": e,
                            "err_ref": er,
                            "excess": (d - er) / e if e > 0 else math.inf,
                            "converged": t["converged"],
                            "parts": {p: t["settings"].get(f"err_{p}") for p in PARTS + ("trace",)},
                            "dominant": _dominant(t),
                            "settings": t["settings"],
                        }
                    )
            per[q] = {
                "covered": sum(d <= e + er for _, d, e, er in rows),
                "covered_raw": sum(d <= e for _, d, e, er in rows),
                "covered_strict": sum(d + er <= e for _, d, e, er in rows),
                "beyond_2err": sum(d - er > 2 * e for _, d, e, er in rows),
                "overstatement": _stats([e / d if d > 0 else math.inf for _, d, e, er in rows]),
                "overstatement_lower": _stats([e / (d + er) if d + er > 0 else math.inf for _, d, e, er in rows]),
                "delta": _stats([d for _, d, e, er in rows]),
                "err": _stats([e for _, d, e, er in rows]),
                "ref_bar_over_bar": _stats([er / e if e > 0 else math.inf for _, d, e, er in rows]),
                "ref_bar_above_0.3": sum(er > 0.3 * e for _, d, e, er in rows),
            }
        summary["per_tol"][name] = per
    both = [r for r in records if _ok(r["stages"]["tol_0.001"]) and _ok(r["stages"]["tol_0.0001"])]
    ratio = {}
    for q in ("LZ", "ES"):
        x = [r["stages"]["tol_0.0001"][f"P_{q}_err"] / r["stages"]["tol_0.001"][f"P_{q}_err"] for r in both]
        ratio[q] = {**(_stats(x) or {}), "at_most_half": sum(y <= 0.5 for y in x), "of": len(x)}
    summary["bar_ratio_1e-4_over_1e-3"] = ratio
    refs = [r["stages"]["ref"] for r in records if _ok(r["stages"]["ref"])]
    summary["reference"] = {
        "answered": len(refs),
        "converged_at_1e-5": sum(bool(r["converged"]) for r in refs),
        "err_LZ": _stats([r["P_LZ_err"] for r in refs]),
        "err_ES": _stats([r["P_ES_err"] for r in refs]),
        "wall_s": _stats([r["wall_s"] for r in refs]),
        "errors": [
            {"index": r["point"]["index"], "error": r["stages"]["ref"].get("error", "not finite")}
            for r in records
            if not _ok(r["stages"]["ref"])
        ],
    }
    summary["point_wall_s"] = _stats([r["wall_s"] for r in records])
    summary["point_wall_total_s"] = float(sum(r["wall_s"] for r in records))
    summary["point_timeouts"] = sum(r["timed_out"] for r in records)
    return summary


def _fmt(st: dict | None, f: str = ".2g") -> str:
    if not st:
        return "—"
    return f"{st['median']:{f}} [{st['min']:{f}}, {st['max']:{f}}]"


def report(summary: dict) -> None:
    """The compact table and the failures."""
    print(f"\n{summary['points']} points; {summary['point_timeouts']} hit the point timeout")
    head = ["", *summary["per_tol"]]
    per = summary["per_tol"]
    rows = []

    def row(name, cell):
        rows.append([name] + [cell(p) for p in per.values()])

    row("answered / errors / timeouts", lambda p: f"{p['answered']} / {len(p['errors'])} / {p['timeouts']}")
    row("compared (reference answered)", lambda p: str(p["compared"]))
    for q in ("LZ", "ES"):
        for key, what in [
            ("covered", "|Δ| ≤ err + err_ref"),
            ("covered_raw", "|Δ| ≤ err (raw)"),
            ("covered_strict", "|Δ| + err_ref ≤ err"),
            ("beyond_2err", "|Δ| − err_ref > 2 err"),
        ]:
            row(f"P_{q} {what}", lambda p, q=q, key=key: f"{p[q][key]}/{p['compared']}")
        for key, what in [
            ("overstatement", "err/|Δ| median [min, max]"),
            ("overstatement_lower", "err/(|Δ|+err_ref)"),
            ("delta", "|Δ|"),
            ("err", "err"),
            ("ref_bar_over_bar", "err_ref/err"),
        ]:
            row(f"P_{q} {what}", lambda p, q=q, key=key: _fmt(p[q][key]))
    row("converged", lambda p: f"{p['converged']}/{p['answered']}")
    row(
        "not converged: dominant part",
        lambda p: ", ".join(f"{k} {n}" for k, n in sorted(p["dominant_part_not_converged"].items())) or "—",
    )
    row("wall s/point median [min, max]", lambda p: _fmt(p["wall_s"], ".3g"))
    row("wall s total", lambda p: f"{p['wall_total_s']:.0f}")
    row("refinements: points", lambda p: ", ".join(f"{k}: {n}" for k, n in p["refinements"].items()))
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))
    for q, st in summary["bar_ratio_1e-4_over_1e-3"].items():
        print(
            f"bar ratio tol 1e-4 / tol 1e-3, P_{q}: {_fmt(st if 'median' in st else None)}; "
            f"≤ 0.5 at {st['at_most_half']}/{st['of']}"
        )
    ref = summary["reference"]
    print(
        f"reference: {ref['answered']} answered, converged at 1e-5: {ref['converged_at_1e-5']}; err P_LZ "
        f"{_fmt(ref['err_LZ'])}, P_ES {_fmt(ref['err_ES'])}; wall s {_fmt(ref['wall_s'], '.3g')}; "
        f"errors {len(ref['errors'])}"
    )
    wall = summary["point_wall_s"]
    print(f"per point (three calls) wall s {_fmt(wall, '.3g')}, total {summary['point_wall_total_s']:.0f}")
    for name, p in per.items():
        for e in p["errors"]:
            print(f"  {name} #{e['index']}: {e['error'][:160]}")
    for e in ref["errors"]:
        print(f"  ref #{e['index']}: {e['error'][:160]}")
    if summary["failures"]:
        print("bars exceeded (|Δ| > err + err_ref):")
    for f in summary["failures"]:
        parts = ", ".join(f"{k} {v:.2g}" for k, v in f["parts"].items() if v is not None)
        print(
            f"  tol {f['tol']:g} {f['quantity']} {label(f['point'])}: value {f['value']:.6f} ref {f['ref']:.6f} "
            f"|Δ| {f['delta']:.2g} err {f['err']:.2g} err_ref {f['err_ref']:.2g} ((|Δ|−err_ref)/err "
            f"{f['excess']:.2f}); converged {f['converged']}; parts {parts}; dominant {f['dominant']}; "
            f"dt {f['settings'].get('dt'):.3g} eps_q {f['settings'].get('eps_q'):.3g} "
            f"refinements {f['settings'].get('refinements')}"
        )


def _write(path: str | None, result: dict) -> None:
    if path:
        tmp = path + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(result, fh, indent=1)
        os.replace(tmp, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=40, help="random points (default 40)")
    ap.add_argument("--seed", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="4 points: a smoke run")
    ap.add_argument("--point-timeout", type=float, default=300.0, help="wall-clock s per point (three calls)")
    ap.add_argument("--reference", choices=("tol", "fine"), default="tol")
    ap.add_argument("--cache-dir", default=None, help="XDG_CACHE_HOME of the children (default: a fresh folder)")
    ap.add_argument("--max-minutes", type=float, default=None, help="start no new point after this wall time")
    ap.add_argument("--json", default=None)
    ap.add_argument("--analyze", default=None, help="print the table of an earlier --json and exit")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        child(json.loads(args.child), args.reference)
        return
    if args.analyze:
        with open(args.analyze) as fh:
            old = json.load(fh)
        summary = analyze(old["records"])
        report(summary)
        return
    n = 4 if args.quick else args.n
    result: dict = {
        "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
        "n": n,
        "seed": args.seed,
        "reference": args.reference,
        "point_timeout_s": args.point_timeout,
        "load_start": os.getloadavg(),
        "cpus": os.cpu_count(),
        "records": [],
    }
    print(f"load at start {result['load_start']}", flush=True)
    env = dict(os.environ)
    env["XDG_CACHE_HOME"] = args.cache_dir or tempfile.mkdtemp(prefix="lzjax-coverage-cache-")
    env.pop("LZJAX_NO_CACHE", None)
    result["cache_dir"] = env["XDG_CACHE_HOME"]
    start = time.perf_counter()
    for point in draw_points(n, args.seed):
        if args.max_minutes is not None and time.perf_counter() - start > 60.0 * args.max_minutes:
            print(f"stopped after {len(result['records'])} points: --max-minutes {args.max_minutes:g}", flush=True)
            result["stopped_after"] = len(result["records"])
            break
        rec = run_point(point, args, env)
        if not result["records"]:
            result["lzjax"] = rec["lzjax"]
            print(f"lzjax: {rec['lzjax']}", flush=True)
        result["records"].append(rec)
        st = rec["stages"]
        line = []
        for name in [f"tol_{t:g}" for t in TOLS] + ["ref"]:
            s = st[name]
            if _ok(s):
                line.append(
                    f"{name} {s['P_LZ']:.6f}±{s['P_LZ_err']:.1e} {s['P_ES']:.6f}±{s['P_ES_err']:.1e} "
                    f"{'c' if s['converged'] else 'NC'} {s['wall_s']:.0f}s"
                )
            else:
                line.append(f"{name} {s.get('error', '?')[:60]}")
        print(f"{label(point)} [{rec['wall_s']:.0f} s]\n    " + "\n    ".join(line), flush=True)
        result["elapsed_s"] = time.perf_counter() - start
        _write(args.json, result)  # kept after every point: a cut run keeps what finished
    result["elapsed_s"] = time.perf_counter() - start
    result["summary"] = analyze(result["records"])
    report(result["summary"])
    result["load_end"] = os.getloadavg()
    print(f"load at end {result['load_end']}", flush=True)
    _write(args.json, result)


if __name__ == "__main__":
    main()
