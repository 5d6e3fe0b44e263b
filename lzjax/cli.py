"""The `lzjax` command line.

    lzjax neqb --v 0.1,0.3,1 --T 6.4 --gamma 5e-4 --s 3 --omega-c 5 --theta 0 [--delta 1]
               [--tol 1e-6] [--out FILE.json|FILE.csv] [--plot FILE.png]
    lzjax quapi (same parameter flags) --dt 0.1 --kmax 6 --tmax 60 | --tol 1e-3 [--budget 8]
    lzjax demo [--outdir DIR]

Each parameter flag takes one value or a comma-separated list; the run covers their Cartesian
product. `--theta` is in radians and accepts multiples of π (`0.022pi`, `-pi/2`, `pi/4`).
Without `--out` a table is printed. Bad input exits with status 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys

import numpy as np

__all__ = ["main", "parse_values", "parse_angle"]

_PI_FORM = re.compile(r"^([+-]?)([0-9.eE+-]*)\*?pi(?:/([0-9.eE+-]+))?$")


class _OneLineError(Exception):
    pass


def parse_angle(text: str) -> float:
    """'0.3' → 0.3; '0.022pi', '-pi/2', 'pi', '2*pi/3' → multiples of π (radians)."""
    t = text.strip().lower().replace(" ", "").replace("π", "pi")
    match = _PI_FORM.match(t)
    if match:
        sign, factor, divisor = match.groups()
        try:
            value = (float(factor) if factor else 1.0) * math.pi / (float(divisor) if divisor else 1.0)
        except ValueError:
            raise _OneLineError(f"cannot read angle {text!r} (use radians or e.g. 0.022pi, -pi/2)") from None
        return -value if sign == "-" else value
    try:
        return float(t)
    except ValueError:
        raise _OneLineError(f"cannot read angle {text!r} (use radians or e.g. 0.022pi, -pi/2)") from None


def parse_values(flag: str, text: str, angle: bool = False) -> np.ndarray:
    """A comma-separated list of numbers (or angles) for `flag`."""
    items = [x for x in text.split(",")]
    if not items or any(not x.strip() for x in items):
        raise _OneLineError(f"{flag} needs a number or a comma-separated list of numbers, got {text!r}")
    values = []
    for x in items:
        if angle:
            values.append(parse_angle(x))
        else:
            try:
                values.append(float(x))
            except ValueError:
                raise _OneLineError(f"{flag}: cannot read {x.strip()!r} as a number") from None
    return np.asarray(values, dtype=float)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit status 2
        raise _OneLineError(message)


def _add_parameter_flags(p: argparse.ArgumentParser, *, required: bool = True) -> None:
    p.add_argument("--v", required=required, help="sweep speed(s) v in Δ² (list: 0.1,0.3,1)")
    p.add_argument("--T", required=required, help="temperature(s) k_B T in Δ (0 allowed)")
    p.add_argument("--gamma", required=required, help="coupling strength(s) γ")
    p.add_argument("--s", required=required, help="spectral exponent(s) s")
    p.add_argument("--omega-c", dest="omega_c", required=required, help="cutoff frequency ω_c in Δ")
    p.add_argument("--theta", default="0", help="coupling angle(s) Θ in radians; 0.022pi, -pi/2 accepted")
    p.add_argument("--delta", default="1", help="tunnel splitting Δ (sets the unit; default 1)")
    p.add_argument("--out", help="write results: .json (list of records) or .csv")
    p.add_argument("--plot", help="draw P_LZ (solid) and P_ES (dashed) against v to this PNG")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lzjax", description="Dissipative Landau-Zener dynamics (NEQB, QUAPI).")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    neqb = sub.add_parser("neqb", help="nonequilibrium Bloch equations over a parameter grid")
    _add_parameter_flags(neqb)
    neqb.add_argument("--tol", type=float, default=1e-6, help="absolute accuracy target (default 1e-6)")
    quapi = sub.add_parser("quapi", help="QUAPI path integral over a parameter grid")
    _add_parameter_flags(quapi)
    quapi.add_argument("--dt", type=float, help="fixed Trotter step δt in 1/Δ (with --kmax, --tmax)")
    quapi.add_argument("--kmax", type=int, help="fixed memory length in steps (with --dt, --tmax)")
    quapi.add_argument("--tmax", type=float, help="fixed protocol duration in 1/Δ (with --dt, --kmax)")
    quapi.add_argument("--tol", type=float, help="convergence mode: target error (ladder in δt, k_max, t_max)")
    quapi.add_argument("--budget", type=int, default=10, help="convergence mode: largest k_max (default 10)")
    quapi.add_argument("--eps-q", dest="eps_q", type=float, default=15.0,
                       help="convergence mode: half-width of the exact QUAPI window in Δ, 5-40 (default 15;"
                            " 20 for transversal super-Ohmic baths, whose relaxation reaches E ≈ 3ω_c and beyond)")
    quapi.add_argument("--compensate", action="store_true",
                       help="convergence mode: η from G(ω)/sinc²(ωδt/2), golden-rule-exact discrete rates"
                            " at O(γ) (smaller δt corrections where relaxation at large E dominates)")
    fit = sub.add_parser("fit", help="fit gamma (and omega_c, T) to a measured P_LZ(v) curve (CSV)")
    fit.add_argument("data", help="CSV file with a header line v,P_LZ[,sigma]")
    fit.add_argument("--s", required=True, help="spectral exponent s (fixed)")
    fit.add_argument("--omega-c", dest="omega_c", required=True, help="cutoff ω_c in Δ (start value if fitted)")
    fit.add_argument("--T", required=True, help="temperature k_B T in Δ (start value if fitted)")
    fit.add_argument("--theta", default="0", help="coupling angle Θ in radians; 0.022pi, -pi/2 accepted")
    fit.add_argument("--delta", default="1", help="tunnel splitting Δ (sets the unit; default 1)")
    fit.add_argument("--gamma0", help="start value of γ (added to the start grid 1e-6..1e-1)")
    fit.add_argument("--fit", default="gamma", help="fitted parameters: gamma[,omega_c][,T] (default gamma)")
    fit.add_argument("--engine", default="neqb", choices=["neqb", "quapi"], help="forward model (default neqb)")
    fit.add_argument("--n-steps", dest="n_steps", type=int, default=512, help="neqb: steps of the fixed window (default 512)")
    fit.add_argument("--dt", type=float, help="quapi: Trotter step δt in 1/Δ (with --kmax, --tmax)")
    fit.add_argument("--kmax", type=int, help="quapi: memory length in steps")
    fit.add_argument("--tmax", type=float, help="quapi: protocol duration in 1/Δ (covers the slowest sweep)")
    fit.add_argument("--max-iter", dest="max_iter", type=int, default=100, help="L-BFGS iterations at most (default 100)")
    fit.add_argument("--out", help="write the result to this .json file (else print it)")
    fit.add_argument("--plot", help="draw data with error bars and the fitted curve to this PNG/PDF/SVG")
    demo = sub.add_parser("demo", help="the paper's Fig. 1 parameters with NEQB: CSV + PNG")
    demo.add_argument("--outdir", default="lzjax-demo", help="output folder (default ./lzjax-demo)")
    return parser


def _grid_from_args(args) -> dict[str, np.ndarray]:
    grid = {
        "v": parse_values("--v", args.v),
        "T": parse_values("--T", args.T),
        "gamma": parse_values("--gamma", args.gamma),
        "s": parse_values("--s", args.s),
        "omega_c": parse_values("--omega-c", args.omega_c),
        "theta": parse_values("--theta", args.theta, angle=True),
        "delta": parse_values("--delta", args.delta),
    }
    # validate the whole grid eagerly (names the parameter and its range)
    from .sweep import grid_problem

    grid_problem(**grid)
    return grid


def _check_output_path(path: str | None, allowed: tuple[str, ...], flag: str) -> None:
    if path is None:
        return
    ext = os.path.splitext(path)[1].lower()
    if ext not in allowed:
        raise _OneLineError(f"{flag} must end in {' or '.join(allowed)}, got {path!r}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise _OneLineError(f"{flag}: folder {folder!r} does not exist")


def _print_table(result) -> None:
    records = result.records()
    columns = ["v", "T", "gamma", "s", "omega_c", "theta", "delta", "P_LZ", "P_ES", "P_LZ_err", "P_ES_err",
               "dt", "kmax", "t_max", "converged"]
    columns = [c for c in columns if c in records[0]]
    print("  ".join(f"{c:>11}" for c in columns))
    for rec in records:
        print("  ".join(f"{rec[c]:>11.6g}" if isinstance(rec[c], float) else f"{rec[c]!s:>11}" for c in columns))


def _run_neqb(args) -> int:
    from .sweep import sweep

    _check_output_path(args.out, (".json", ".csv"), "--out")
    _check_output_path(args.plot, (".png", ".pdf", ".svg"), "--plot")
    if not (1e-12 <= args.tol <= 1e-2):
        raise _OneLineError(f"--tol must be in [1e-12, 1e-2], got {args.tol!r}")
    grid = _grid_from_args(args)
    result = sweep("neqb", tol=args.tol, **grid)
    _emit(result, args.out, args.plot)
    return 0


def _run_quapi(args) -> int:
    from .sweep import sweep

    _check_output_path(args.out, (".json", ".csv"), "--out")
    _check_output_path(args.plot, (".png", ".pdf", ".svg"), "--plot")
    fixed = [args.dt, args.kmax, args.tmax]
    if args.tol is not None:
        if any(x is not None for x in fixed):
            raise _OneLineError("give either --tol (convergence mode) or --dt, --kmax, --tmax (fixed), not both")
        options = {"tol": args.tol, "budget": args.budget, "eps_q": args.eps_q}
        if args.compensate:
            options["compensate"] = True
    elif all(x is not None for x in fixed):
        options = {"dt": args.dt, "kmax": args.kmax, "tmax": args.tmax}
    else:
        raise _OneLineError("quapi needs --dt, --kmax and --tmax together, or --tol")
    grid = _grid_from_args(args)
    result = sweep("quapi", progress=True, **options, **grid)
    _emit(result, args.out, args.plot)
    return 0


def _emit(result, out, plot) -> None:
    finite = np.isfinite(np.asarray(result["P_LZ"], float)) & np.isfinite(np.asarray(result["P_ES"], float))
    if not np.all(finite):
        first = result.records()[int(np.argmin(finite.ravel()))]
        where = ", ".join(f"{k}={first[k]:g}" for k in ("v", "T", "gamma", "s", "omega_c", "theta"))
        raise _OneLineError(
            f"{int(np.sum(~finite))} point(s) gave non-finite probabilities (first: {where}; "
            "the rates overflow float64); nothing written"
        )
    if out:
        result.save(out)
    else:
        _print_table(result)
    if plot:
        result.plot(plot)
    checked = np.isfinite(np.asarray(result["P_LZ_err"], dtype=float))
    bad = int(np.sum(checked & ~np.asarray(result["converged"])))
    if bad:
        print(f"lzjax: warning: {bad} point(s) did not reach the requested tolerance (see *_err)", file=sys.stderr)
    if not np.all(checked):
        print("lzjax: note: fixed settings, convergence not checked (P_*_err null); use --tol", file=sys.stderr)


def _single(flag: str, text: str, angle: bool = False) -> float:
    values = parse_values(flag, text, angle=angle)
    if values.size != 1:
        raise _OneLineError(f"{flag} takes one value for a fit, got {text!r}")
    return float(values[0])


def _run_fit(args) -> int:
    """Validate everything (paths, flags, the whole CSV) before fitting; write only at the end."""
    import json

    from .fit import FITTABLE, fit_curve, load_curve_csv
    from .plotting import plot_fit

    _check_output_path(args.out, (".json",), "--out")
    _check_output_path(args.plot, (".png", ".pdf", ".svg"), "--plot")
    names = tuple(x.strip() for x in args.fit.split(","))
    if not all(names) or any(n not in FITTABLE for n in names) or len(set(names)) != len(names):
        raise _OneLineError(f"--fit must be distinct names from {','.join(FITTABLE)}, got {args.fit!r}")
    known = {"s": _single("--s", args.s), "omega_c": _single("--omega-c", args.omega_c),
             "T": _single("--T", args.T), "theta": _single("--theta", args.theta, angle=True),
             "delta": _single("--delta", args.delta)}
    gamma0 = None if args.gamma0 is None else _single("--gamma0", args.gamma0)
    quapi_flags = {"dt": args.dt, "kmax": args.kmax, "tmax": args.tmax}
    if args.engine == "quapi":
        if any(x is None for x in quapi_flags.values()):
            raise _OneLineError("--engine quapi needs --dt, --kmax and --tmax (fixed settings)")
        options = quapi_flags
    else:
        if any(x is not None for x in quapi_flags.values()):
            raise _OneLineError("--dt, --kmax, --tmax belong to --engine quapi")
        options = {"n_steps": args.n_steps}
    v, P, sigma = load_curve_csv(args.data, n_params=len(names))
    result = fit_curve(v, P, sigma, gamma0=gamma0, fit=names, engine=args.engine, engine_options=options,
                       max_iter=args.max_iter, **known)
    record = result.to_dict()
    text = json.dumps(record, indent=2)
    figure = plot_fit(result, v, P, sigma) if args.plot else None  # drawn before anything is written
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    else:
        print(text)
    if figure is not None:
        figure.savefig(args.plot, dpi=120)
    summary = ", ".join(f"{n} = {record[n]:.6g} ± {record[n + '_err']:.2g}" for n in result.names)
    print(f"lzjax fit: {summary}; chi2/dof = {result.chi2_dof:.3g}, {result.iterations} iterations, "
          f"converged = {result.converged}", file=sys.stderr)
    for warning in result.warnings:
        print(f"lzjax: warning: {warning}", file=sys.stderr)
    return 0


def _run_demo(args) -> int:
    from .sweep import sweep

    os.makedirs(args.outdir, exist_ok=True)
    print("lzjax demo: NEQB, paper Fig. 1 parameters (Θ = 0, γ = 5e-4, s = 3, ω_c = 5Δ)", file=sys.stderr)
    result = sweep(
        "neqb", v=np.geomspace(0.01, 10.0, 31), T=[0.0, 1.6, 6.4, 25.6],
        gamma=5e-4, s=3.0, omega_c=5.0, theta=0.0, tol=1e-6, progress=True,
    )
    csv_path = os.path.join(args.outdir, "fig1_neqb.csv")
    png_path = os.path.join(args.outdir, "fig1_neqb.png")
    result.save(csv_path)
    result.plot(png_path)
    v = result.coords["v"]
    slow = v < 1.0  # the relaxation dip lies in the adiabatic regime v < Δ²
    p_lz = result["P_LZ"].reshape(len(v), -1)[slow]
    for j, T in enumerate(result.coords["T"]):
        i = int(np.argmin(p_lz[:, j]))
        print(f"T = {T:5.1f}: lowest P_LZ for v < Δ² is {p_lz[i, j]:.4f} at v = {v[slow][i]:.3g}")
    print(f"wrote {csv_path} and {png_path}")
    return 0


_VALUE_FLAGS = {"--v", "--T", "--gamma", "--s", "--omega-c", "--theta", "--delta"}


def _join_negative_values(argv: list[str]) -> list[str]:
    """`--theta -pi/2` → `--theta=-pi/2`: argparse would take '-pi/2' for a flag."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] in _VALUE_FLAGS and i + 1 < len(argv) and argv[i + 1].startswith("-"):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def main(argv: list[str] | None = None) -> int:
    parser = _build_parser()
    argv = _join_negative_values(list(sys.argv[1:] if argv is None else argv))
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            raise _OneLineError("choose a command: neqb, quapi, fit, demo (see lzjax --help)")
        if args.command == "neqb":
            return _run_neqb(args)
        if args.command == "quapi":
            return _run_quapi(args)
        if args.command == "fit":
            return _run_fit(args)
        return _run_demo(args)
    except (_OneLineError, ValueError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"lzjax: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
