"""Bitwise regression check: every number of a fixed set of small lzjax cases, written exactly.

Purpose: prove that a refactor leaves the numbers unchanged, bit for bit. The cases use only the
public call forms of lzjax as of commit fab4c13 (NEQB batch and fixed window, fixed-settings ADT
QUAPI, the ADT and process-tensor convergence ladders, a process-tensor trajectory, a γ fit, a
NEQB sweep), so the same script runs against the baseline and against refactored code.

    PYTHONPATH=<tree> python benchmarks/check_numbers.py --out numbers.json
        computes every case with the lzjax of <tree> and writes each resulting number exactly
        (floats as float.hex() strings, ints, bools, strings; arrays as nested lists), keyed by
        case and field, plus the commit of the tree lzjax was imported from. A case that raises
        is recorded as an error string (field "__error__") and the others still run.

    python benchmarks/check_numbers.py --compare A.json B.json
        prints, per case and field present in both files, "identical" or the max absolute
        difference; fields present in only one file are listed separately (not failures: new
        result fields may appear). Exit 0 if every common field is bitwise identical (and no case
        raised in only one file, or with a different error), 1 otherwise.

Runtime: 1.5-2.5 minutes on a busy 2-core CPU (measured 83-131 s; see meta.timings_s in the output).
Determinism: two baseline runs (fresh processes, no compilation cache) gave bitwise equal files.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import subprocess
import sys
import time
import traceback

import numpy as np

FORMAT = "lzjax-check-numbers/1"


# ---- exact encoding ---------------------------------------------------------------------------


def enc(x):
    """JSON value holding `x` exactly: floats as float.hex(), complex as {"re", "im"} hex."""
    if x is None or isinstance(x, (bool, np.bool_)):
        return None if x is None else bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x).hex()
    if isinstance(x, (complex, np.complexfloating)):
        return {"re": float(x.real).hex(), "im": float(x.imag).hex()}
    if isinstance(x, (str, np.str_)):
        return str(x)
    if isinstance(x, bytes):
        return x.decode("utf-8", "replace")
    if isinstance(x, dict):
        return {str(k): enc(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [enc(v) for v in x]
    if hasattr(x, "__array__") or isinstance(x, np.ndarray):  # numpy, jax, xarray values
        a = np.asarray(x)
        if a.dtype == object:
            return enc(a.tolist())
        return enc(a.tolist())  # tolist gives Python scalars; float32 -> float is exact
    if dataclasses.is_dataclass(x):
        return {f.name: enc(getattr(x, f.name)) for f in dataclasses.fields(x) if not f.name.startswith("_")}
    return repr(x)


def result_fields(res) -> dict:
    """Every field of a lzjax Result (dataclass fields, settings flattened as settings.<name>)."""
    out = {}
    for f in dataclasses.fields(res):
        value = getattr(res, f.name)
        if f.name == "settings":
            for k, v in value.items():
                out[f"settings.{k}"] = enc(v)
        else:
            out[f.name] = enc(value)
    return out


def dataset_fields(ds) -> dict:
    """Every variable, coordinate and attribute of an xarray Dataset."""
    out = {}
    for name, var in ds.data_vars.items():
        out[f"var.{name}"] = enc(var.values)
        out[f"dims.{name}"] = list(var.dims)
    for name, coord in ds.coords.items():
        out[f"coord.{name}"] = enc(coord.values)
    for name, value in ds.attrs.items():
        out[f"attr.{name}"] = enc(value)
    return out


# ---- the cases --------------------------------------------------------------------------------

FIG1 = dict(gamma=5e-4, s=3, omega_c=5)  # the paper's Fig. 1 bath (T per case)


def case_neqb_batch(lzjax):
    from lzjax import Bath, Drive, LZProblem

    v = np.array([0.03, 0.3, 1.0, 3.0])[:, None, None]
    T = np.array([1.6, 6.4])[None, :, None]
    theta = np.array([0.0, 0.022 * np.pi])[None, None, :]
    res = lzjax.solve_neqb(LZProblem(Drive(v=v), Bath(T=T, **FIG1), theta=theta))
    return result_fields(res)


def case_neqb_fixed_window(lzjax):
    from lzjax import Bath, Drive, LZProblem

    v = np.array([0.3, 1.0, 3.0])[:, None]
    theta = np.array([0.0, 0.5 * np.pi])[None, :]
    res = lzjax.solve_neqb(LZProblem(Drive(v=v), Bath(T=6.4, **FIG1), theta=theta), eps_max=60.0)
    return result_fields(res)


def case_quapi_fixed(lzjax):
    from lzjax import Bath, Drive, LZProblem

    problem = LZProblem(Drive(v=np.array([1.0, 2.0, 4.0])), Bath(T=6.4, **FIG1), theta=0.0)
    res = lzjax.quapi.solve_quapi(problem, dt=0.1, kmax=5, tmax=40)
    return result_fields(res)


def _ladder_point():
    from lzjax import Bath, Drive, LZProblem

    return LZProblem(Drive(v=1.0), Bath(T=6.4, **FIG1), theta=0.0)


def case_adt_ladder(lzjax):
    res = lzjax.quapi.converge_quapi(_ladder_point(), tol=1e-2, budget=6)
    return result_fields(res)


def case_pt_ladder(lzjax):
    res = lzjax.quapi.converge_quapi(_ladder_point(), tol=1e-3)  # default engine: the process tensor
    return result_fields(res)


def case_pt_trajectory(lzjax):
    from lzjax import Bath, Drive
    from lzjax.quapi.engines.pt import PTSettings
    from lzjax.quapi.trajectory import exact_trajectory

    ds = exact_trajectory(
        Drive(v=1.0),
        Bath(T=6.4, **FIG1),
        0.0,
        dt=0.1,
        kmax=PTSettings(32, 1e-9, 128, 0.5),
        every=10,
        eps_start=-10.0,
        eps_end=10.0,
        engine="pt",
    )
    return dataset_fields(ds)


def case_fit(lzjax):
    from lzjax import Bath, Drive, LZProblem

    v = np.array([0.1, 0.3, 1.0, 3.0])
    truth = lzjax.solve_neqb(LZProblem(Drive(v=v), Bath(gamma=1e-3, s=3, omega_c=5, T=6.4), theta=0.0))
    P = np.asarray(truth.P_LZ)
    sigma = np.full(v.shape, 1e-3)
    fit = lzjax.fit_curve(v, P, sigma, s=3, omega_c=5, T=6.4)
    out = {"data.P": enc(P)}
    out.update(
        {
            k: enc(getattr(fit, k))
            for k in (
                "params",
                "errors",
                "covariance",
                "names",
                "chi2",
                "dof",
                "chi2_dof",
                "iterations",
                "converged",
                "loss_history",
                "engine",
                "engine_options",
                "sigma_estimated",
                "sigma",
                "start",
                "error_method",
                "model_error",
                "warnings",
            )
        }
    )
    out["predict"] = enc(fit.predict(v))
    return out


def case_sweep_neqb(lzjax):
    res = lzjax.sweep("neqb", v=[0.1, 0.3, 1.0], T=[1.6, 6.4], theta=[0.0, 0.022 * np.pi], **FIG1)
    out = {f"data.{k}": enc(v) for k, v in res.data.items()}
    out.update({f"coord.{k}": enc(v) for k, v in res.coords.items()})
    out.update({f"attr.{k}": enc(v) for k, v in res.attrs.items()})
    return out


CASES = {
    "neqb_batch": case_neqb_batch,
    "neqb_fixed_window": case_neqb_fixed_window,
    "quapi_fixed": case_quapi_fixed,
    "adt_ladder": case_adt_ladder,
    "pt_ladder": case_pt_ladder,
    "pt_trajectory": case_pt_trajectory,
    "fit": case_fit,
    "sweep_neqb": case_sweep_neqb,
}


# ---- run --------------------------------------------------------------------------------------


def _git(tree, *args):
    try:
        return subprocess.run(["git", "-C", tree, *args], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        return f"unknown ({exc})"


def run(out_path, only=None):
    import jax

    import lzjax

    tree = os.path.dirname(os.path.dirname(os.path.abspath(lzjax.__file__)))
    meta = {
        "format": FORMAT,
        "lzjax_file": lzjax.__file__,
        "commit": _git(tree, "rev-parse", "HEAD"),
        "dirty": bool(_git(tree, "status", "--porcelain", "--untracked-files=no", "--", "lzjax")),
        "lzjax_version": getattr(lzjax, "__version__", None),
        "jax": jax.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "x64": bool(jax.config.jax_enable_x64),
        "devices": [str(d) for d in jax.devices()],
        "timings_s": {},
    }
    print(f"lzjax from {tree} at {meta['commit']}{' (dirty)' if meta['dirty'] else ''}", file=sys.stderr)
    cases = {}
    start = time.perf_counter()
    for name, fn in CASES.items():
        if only and name not in only:
            continue
        t0 = time.perf_counter()
        try:
            cases[name] = fn(lzjax)
        except Exception as exc:  # one broken case must not stop the others
            cases[name] = {"__error__": f"{type(exc).__name__}: {exc}"}
            traceback.print_exc()
        meta["timings_s"][name] = round(time.perf_counter() - t0, 2)
        state = "ERROR" if "__error__" in cases[name] else "ok"
        print(f"  {name:20s} {state:5s} {meta['timings_s'][name]:7.1f} s", file=sys.stderr)
    meta["timings_s"]["total"] = round(time.perf_counter() - start, 2)
    doc = {"meta": meta, "cases": cases}
    tmp = out_path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(doc, fh, indent=1, sort_keys=False)
        fh.write("\n")
    os.replace(tmp, out_path)
    print(f"wrote {out_path} ({len(cases)} cases, {meta['timings_s']['total']:.1f} s)", file=sys.stderr)


# ---- compare ----------------------------------------------------------------------------------


def _number(x):
    """float of an encoded leaf (hex string, int, bool), or None for a non-number."""
    if isinstance(x, bool):
        return float(x)
    if isinstance(x, int):
        return float(x)
    if isinstance(x, str):
        try:
            return float.fromhex(x)
        except ValueError:
            return None
    return None


def _diff(a, b):
    """(identical, max |a − b| over numeric leaves or None, note) of two encoded values."""
    if a == b:
        return True, 0.0, ""
    worst = [0.0]
    notes = []

    def walk(x, y, where):
        if isinstance(x, list) and isinstance(y, list):
            if len(x) != len(y):
                notes.append(f"length {len(x)} vs {len(y)} at {where or 'top'}")
                return
            for i, (u, w) in enumerate(zip(x, y, strict=False)):
                walk(u, w, f"{where}[{i}]")
        elif isinstance(x, dict) and isinstance(y, dict):
            if set(x) != set(y):
                notes.append(f"keys differ at {where or 'top'}: {sorted(set(x) ^ set(y))}")
            for k in set(x) & set(y):
                walk(x[k], y[k], f"{where}.{k}")
        elif x != y:
            u, w = _number(x), _number(y)
            if u is None or w is None:
                notes.append(f"{x!r} vs {y!r} at {where or 'top'}")
            elif math.isnan(u) or math.isnan(w) or math.isinf(u) or math.isinf(w):
                if not (u == w):
                    worst[0] = math.inf
            else:
                worst[0] = max(worst[0], abs(u - w))

    walk(a, b, "")
    return False, worst[0], "; ".join(notes[:3]) + (f" (+{len(notes) - 3} more)" if len(notes) > 3 else "")


def compare(path_a, path_b) -> int:
    docs = []
    for p in (path_a, path_b):
        with open(p) as fh:
            docs.append(json.load(fh))
    (a, b) = docs
    for label, d, p in (("A", a, path_a), ("B", b, path_b)):
        m = d.get("meta", {})
        print(
            f"{label}: {p}  commit {m.get('commit')}{' (dirty)' if m.get('dirty') else ''}  "
            f"total {m.get('timings_s', {}).get('total')} s"
        )
    ca, cb = a["cases"], b["cases"]
    failures, only = 0, []
    for case in [c for c in ca if c in cb]:
        fa, fb = ca[case], cb[case]
        ea, eb = fa.get("__error__"), fb.get("__error__")
        print(f"\n[{case}]")
        if ea is not None or eb is not None:
            if ea != eb:
                failures += 1
                print(f"  ERROR  A: {ea}\n         B: {eb}")
                continue
            print(f"  error in both (same): {ea}")
            continue
        for field in [f for f in fa if f in fb]:
            same, worst, note = _diff(fa[field], fb[field])
            if same:
                print(f"  {field:28s} identical")
            else:
                failures += 1
                print(f"  {field:28s} DIFFERS  max |diff| = {worst:.3e}" + (f"  ({note})" if note else ""))
        only += [f"{case}.{f} (only in A)" for f in fa if f not in fb]
        only += [f"{case}.{f} (only in B)" for f in fb if f not in fa]
    only += [f"{c} (case only in A)" for c in ca if c not in cb]
    only += [f"{c} (case only in B)" for c in cb if c not in ca]
    if only:
        print("\nfields in one file only (not compared, not failures):")
        for line in only:
            print(f"  {line}")
    print(f"\n{'IDENTICAL: every common field bitwise equal' if not failures else f'{failures} field(s) differ'}")
    return 1 if failures else 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--out", metavar="FILE.json", help="compute the cases, write their numbers")
    g.add_argument("--compare", nargs=2, metavar=("A.json", "B.json"), help="compare two such files")
    p.add_argument("--only", nargs="+", choices=list(CASES), help="(with --out) run only these cases")
    args = p.parse_args(argv)
    if args.compare:
        return compare(*args.compare)
    run(args.out, args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
