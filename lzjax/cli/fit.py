"""`lzjax fit`: fit γ (and ω_c, T), or a parameter of another spectral density (--family,
--spectral-density), to a measured P_LZ(v) curve from a CSV file (:func:`lzjax.fit_curve`)."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from .common import (
    ENGINE_FLAGS,
    InputError,
    Outputs,
    add_engine_flags,
    add_family_flags,
    check_distinct,
    check_output_path,
    engine_settings,
    exact_engine,
    family_from_args,
    parameter_flag,
    save_figure,
    single,
    user_input,
)
from .size import size_check

__all__ = ["add_fit_parser", "run_fit"]


def add_fit_parser(sub) -> None:
    fit = sub.add_parser("fit", help="fit gamma (and omega_c, T) or a family parameter to a measured P_LZ(v) curve")
    fit.add_argument("data", help="CSV file with a header line v,P_LZ[,sigma]")
    fit.add_argument("--s", help="spectral exponent s (fixed; exponential, gaussian)")
    fit.add_argument("--omega-c", dest="omega_c", help="cutoff ω_c in Δ (start value if fitted; exponential, gaussian)")
    fit.add_argument("--T", required=True, help="temperature k_B T in Δ (start value if fitted)")
    fit.add_argument("--gamma", help="coupling γ (gaussian: start or fixed value; exponential: as --gamma0)")
    add_family_flags(fit)  # a family's parameters: start values of the fitted, values of the fixed
    fit.add_argument("--theta", default="0", help="coupling angle Θ in radians; 0.022pi, -pi/2 accepted")
    fit.add_argument("--delta", default="1", help="tunnel splitting Δ (sets the unit; default 1)")
    fit.add_argument("--gamma0", help="start value of γ (added to the start grid 1e-6..1e-1)")
    fit.add_argument(
        "--fit",
        help="fitted parameters: gamma[,omega_c][,T] (the default gamma), or the family's (e.g. lam, "
        "gamma_d, omega_0, gamma_b, scale, T; drude-lorentz and brownian default lam, tabulated scale)",
    )
    add_engine_flags(
        fit,
        "forward model: neqb (default), pt (the exact process tensor; quapi is its alias) or adt "
        "(the plain augmented density tensor, memory 4^kmax), at fixed settings",
    )
    fit.add_argument("--n-steps", dest="n_steps", type=int, help="neqb: steps of the fixed window (default 512)")
    fit.add_argument(
        "--eps-max",
        dest="eps_max",
        help="neqb: half-width ε_max of the fixed window in Δ (default: the window every visited parameter "
        "needs, which for a density falling as slowly as Drude-Lorentz reaches ~1e6 Δ; the model check "
        "then runs on this window and a warning names the window the fit needs)",
    )
    fit.add_argument("--dt", type=float, help="pt/adt: Trotter step δt in 1/Δ (with --tmax)")
    fit.add_argument("--tmax", type=float, help="pt/adt: protocol duration in 1/Δ (covers the slowest sweep)")
    fit.add_argument(
        "--max-iter", dest="max_iter", type=int, default=100, help="L-BFGS iterations at most (default 100)"
    )
    fit.add_argument("--out", help="write the result to this .json file (else print it)")
    fit.add_argument("--plot", help="draw data with error bars and the fitted curve to this PNG/PDF/SVG")
    fit.add_argument("--yes", action="store_true", help="run even when the size estimate is above the hard limit")


def _fit_engine(args) -> tuple[Any, dict]:
    """(engine: "neqb" or a configured exact engine, engine_options), every flag checked."""
    if args.engine == "neqb":
        fixed = [f for f, x in (("--dt", args.dt), ("--kmax", args.kmax), ("--tmax", args.tmax)) if x is not None]
        given = fixed + [f for f, key in ENGINE_FLAGS.items() if key in engine_settings(args)]
        if given:
            raise InputError(
                f"{', '.join(given)} {'belongs' if len(given) == 1 else 'belong'} to the exact engines "
                "(--engine pt/adt), not to --engine neqb"
            )
        options = {"n_steps": 512 if args.n_steps is None else args.n_steps}
        return "neqb", options if args.eps_max is None else {**options, "eps_max": _eps_max(args.eps_max)}
    neqb_only = [f for f, x in (("--n-steps", args.n_steps), ("--eps-max", args.eps_max)) if x is not None]
    if neqb_only:
        raise InputError(
            f"{', '.join(neqb_only)} {'belongs' if len(neqb_only) == 1 else 'belong'} to --engine neqb, "
            f"not to --engine {args.engine}"
        )
    if args.dt is None or args.tmax is None:
        raise InputError(f"--engine {args.engine} needs --dt and --tmax (fixed settings)")
    engine = exact_engine(args)
    return engine, {"dt": args.dt, "tmax": args.tmax, **({} if args.kmax is None else {"kmax": args.kmax})}


def _eps_max(text: str) -> float:
    """--eps-max: one finite number > 0 (units of Δ)."""
    value = single("--eps-max", text)
    if not (math.isfinite(value) and value > 0):
        raise InputError(f"--eps-max (the NEQB window half-width in Δ) must be a finite number > 0, got {text!r}")
    return value


#: the parameter fitted by default: γ for the power laws, else the family's coupling
_DEFAULT_FIT = {"drude_lorentz": "lam", "brownian": "lam", "tabulated": "scale"}


def _model_args(args) -> tuple[dict[str, Any], tuple[str, ...], tuple[str, ...]]:
    """(the model's keywords of :func:`lzjax.fit_curve`, the fitted names, the names accepted),
    from the family flags (:func:`family_from_args`), each one value."""
    from ..fit import FITTABLE, fittable
    from ..spectral import SUM_SEPARATOR, build_family, load_table_csv

    family, given = family_from_args(args, skip=("gamma",))  # a sum's are "gamma[0]", ...: not skipped
    summed = SUM_SEPARATOR in family
    if summed and args.fit is None:
        raise InputError(f"--family {args.family} needs --fit: the fitted parameters, named by part (e.g. gamma[0])")
    names = tuple(x.strip() for x in (args.fit or _DEFAULT_FIT.get(family, "gamma")).split(","))
    angles = {"theta": single("--theta", args.theta, angle=True), "delta": single("--delta", args.delta)}
    if family == "exponential":
        if args.gamma is not None and args.gamma0 is not None:
            raise InputError("--gamma and --gamma0 both give γ's start value: give one")
        start = args.gamma0 if args.gamma is None else args.gamma
        known: dict[str, Any] = {n: single(parameter_flag(n), getattr(args, n)) for n in ("s", "omega_c", "T")}
        known["gamma0"] = None if start is None else single("--gamma0" if args.gamma is None else "--gamma", start)
        return {**known, **angles}, names, FITTABLE
    if args.gamma0 is not None:
        raise InputError(f"--gamma0 belongs to --family exponential; --family {family} takes its values by its flags")
    if args.gamma is not None and not summed:
        given = {"gamma": ("--gamma", args.gamma), **given}
    elif family == "gaussian":
        raise InputError("the following arguments are required: --gamma")
    values = {n: single(flag, text) for n, (flag, text) in given.items()}
    with user_input():  # the table's file and the family's ranges: one line naming the problem
        table = load_table_csv(args.spectral_density) if family == "tabulated" else ()
        bath = build_family(family, values, table)
    return {"bath": bath, **angles}, names, fittable(bath)


def run_fit(args) -> int:
    """Validate everything (paths, flags, the whole CSV) before fitting; write only at the end."""
    from ..fit import check_engine_options, fit_curve, load_curve_csv
    from ..plotting import plot_fit
    from ..writers import write_records

    check_output_path(args.out, (".json",), "--out")
    check_output_path(args.plot, (".png", ".pdf", ".svg"), "--plot")
    check_distinct(**{"--out": args.out, "--plot": args.plot})
    known, names, accepted = _model_args(args)
    if not all(names) or any(n not in accepted for n in names) or len(set(names)) != len(names):
        raise InputError(f"--fit must be distinct names from {','.join(accepted)}, got {args.fit!r}")
    engine, options = _fit_engine(args)
    with user_input():
        check_engine_options(engine, options)  # before the size estimate
        v, P, sigma = load_curve_csv(args.data, n_params=len(names))
    size_check("fit", len(v), dict(options, max_iter=args.max_iter, engine=engine, n_params=len(names)), args.yes)
    # fit_curve checks its remaining arguments (the model parameters, gamma0, max_iter) first
    # thing, before any model evaluation, and lzjax exposes no separate validator for them yet.
    with user_input():
        result = fit_curve(
            v,
            P,
            sigma,
            fit=names,
            engine=engine,
            engine_options=options,
            max_iter=args.max_iter,
            progress=True,  # on a terminal at once; in a log only a fit longer than 10 s
            **known,
        )
    record = result.to_dict()
    if args.spectral_density is not None:  # the table's file, beside its family
        record = {"family": record.pop("family"), "spectral_density": args.spectral_density, **record}
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
