"""`lzjax fit`: fit γ (and ω_c, T) to a measured P_LZ(v) curve from a CSV file (:func:`lzjax.fit_curve`)."""

from __future__ import annotations

import json
import sys
from typing import Any

from .common import (
    InputError,
    Outputs,
    check_distinct,
    check_output_path,
    save_figure,
    single,
    user_input,
)
from .size import size_check

__all__ = ["add_fit_parser", "run_fit", "FIT_PT_TOL"]

#: compression tolerance of `lzjax fit --engine quapi` unless --pt-tol is given
FIT_PT_TOL = 1e-9


def add_fit_parser(sub) -> None:
    fit = sub.add_parser("fit", help="fit gamma (and omega_c, T) to a measured P_LZ(v) curve (CSV)")
    fit.add_argument("data", help="CSV file with a header line v,P_LZ[,sigma]")
    fit.add_argument("--s", required=True, help="spectral exponent s (fixed)")
    fit.add_argument("--omega-c", dest="omega_c", required=True, help="cutoff ω_c in Δ (start value if fitted)")
    fit.add_argument("--T", required=True, help="temperature k_B T in Δ (start value if fitted)")
    fit.add_argument("--theta", default="0", help="coupling angle Θ in radians; 0.022pi, -pi/2 accepted")
    fit.add_argument("--delta", default="1", help="tunnel splitting Δ (sets the unit; default 1)")
    fit.add_argument("--gamma0", help="start value of γ (added to the start grid 1e-6..1e-1)")
    fit.add_argument("--fit", default="gamma", help="fitted parameters: gamma[,omega_c][,T] (default gamma)")
    fit.add_argument(
        "--engine",
        default="neqb",
        choices=["neqb", "quapi", "adt"],
        help="forward model: neqb (default), quapi (the exact process tensor) or adt (the plain "
        "augmented density tensor, memory 4^kmax)",
    )
    fit.add_argument("--n-steps", dest="n_steps", type=int, help="neqb: steps of the fixed window (default 512)")
    fit.add_argument("--dt", type=float, help="quapi/adt: Trotter step δt in 1/Δ (with --kmax, --tmax)")
    fit.add_argument("--kmax", type=int, help="quapi/adt: memory length in steps")
    fit.add_argument(
        "--pt-tol", dest="pt_tol", type=float, help="quapi: compression tolerance of the process tensor (default 1e-9)"
    )
    fit.add_argument("--tmax", type=float, help="quapi/adt: protocol duration in 1/Δ (covers the slowest sweep)")
    fit.add_argument(
        "--max-iter", dest="max_iter", type=int, default=100, help="L-BFGS iterations at most (default 100)"
    )
    fit.add_argument("--out", help="write the result to this .json file (else print it)")
    fit.add_argument("--plot", help="draw data with error bars and the fitted curve to this PNG/PDF/SVG")
    fit.add_argument("--yes", action="store_true", help="run even when the size estimate is above the hard limit")


def _engine_options(args) -> dict:
    quapi_flags = {"dt": args.dt, "kmax": args.kmax, "tmax": args.tmax}
    if args.engine in ("quapi", "adt"):
        if args.n_steps is not None:
            raise InputError(f"--n-steps belongs to --engine neqb, not to --engine {args.engine}")
        if any(x is None for x in quapi_flags.values()):
            raise InputError(f"--engine {args.engine} needs --dt, --kmax and --tmax (fixed settings)")
        options = dict(quapi_flags)
        if args.engine == "quapi":
            options["pt_tol"] = FIT_PT_TOL if args.pt_tol is None else args.pt_tol
        elif args.pt_tol is not None:
            raise InputError("--pt-tol belongs to --engine quapi (the process tensor), not to --engine adt")
        return options
    given = [f"--{k.replace('_', '-')}" for k, x in dict(quapi_flags, pt_tol=args.pt_tol).items() if x is not None]
    if given:
        raise InputError(f"{', '.join(given)} {'belongs' if len(given) == 1 else 'belong'} to --engine quapi/adt")
    return {"n_steps": 512 if args.n_steps is None else args.n_steps}


def run_fit(args) -> int:
    """Validate everything (paths, flags, the whole CSV) before fitting; write only at the end."""
    from ..fit import FITTABLE, check_engine_options, fit_curve, load_curve_csv
    from ..plotting import plot_fit
    from ..writers import write_records

    check_output_path(args.out, (".json",), "--out")
    check_output_path(args.plot, (".png", ".pdf", ".svg"), "--plot")
    check_distinct(**{"--out": args.out, "--plot": args.plot})
    names = tuple(x.strip() for x in args.fit.split(","))
    if not all(names) or any(n not in FITTABLE for n in names) or len(set(names)) != len(names):
        raise InputError(f"--fit must be distinct names from {','.join(FITTABLE)}, got {args.fit!r}")
    known: dict[str, Any] = {
        "s": single("--s", args.s),
        "omega_c": single("--omega-c", args.omega_c),
        "T": single("--T", args.T),
        "theta": single("--theta", args.theta, angle=True),
        "delta": single("--delta", args.delta),
    }
    gamma0 = None if args.gamma0 is None else single("--gamma0", args.gamma0)
    options = _engine_options(args)
    engine = "neqb" if args.engine == "neqb" else "quapi"
    with user_input():
        check_engine_options(engine, options)  # before the size estimate
        v, P, sigma = load_curve_csv(args.data, n_params=len(names))
    size_check("fit", len(v), dict(options, max_iter=args.max_iter, engine=args.engine, n_params=len(names)), args.yes)
    # fit_curve checks its remaining arguments (the model parameters, gamma0, max_iter) first
    # thing, before any model evaluation, and lzjax exposes no separate validator for them yet.
    with user_input():
        result = fit_curve(
            v,
            P,
            sigma,
            gamma0=gamma0,
            fit=names,
            engine=engine,
            engine_options=options,
            max_iter=args.max_iter,
            progress=True,  # on a terminal at once; in a log only a fit longer than 10 s
            **known,
        )
    record = result.to_dict()
    outputs = Outputs()
    try:
        if args.plot:
            save_figure(lambda: plot_fit(result, v, P, sigma), outputs, args.plot)
        if args.out:
            write_records(outputs.temporary(args.out), record, ".json", indent=2, final_newline=True)
        outputs.commit()
    finally:
        outputs.discard()
    if not args.out:
        print(json.dumps(record, indent=2))
    summary = ", ".join(f"{n} = {record[n]:.6g} ± {record[n + '_err']:.2g}" for n in result.names)
    print(
        f"lzjax fit: {summary}; chi2/dof = {result.chi2_dof:.3g}, {result.iterations} iterations, "
        f"converged = {result.converged}",
        file=sys.stderr,
    )
    for warning in result.warnings:
        print(f"lzjax: warning: {warning}", file=sys.stderr)
    return 0
