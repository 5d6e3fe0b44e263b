"""`lzjax neqb` and `lzjax quapi`: an engine over the Cartesian grid of the parameter flags
(:func:`lzjax.sweep`), printed as a table or written as records, with an optional plot."""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from .common import (
    InputError,
    Outputs,
    add_physics_flags,
    check_distinct,
    check_output_path,
    engine_choices,
    engine_name,
    family_lists,
    parameter_flag,
    parse_values,
    require_matplotlib,
    save_figure,
    user_input,
)
from .size import n_points, size_check

__all__ = ["add_neqb_parser", "add_quapi_parser", "run_neqb", "run_quapi", "emit"]


def _add_parameter_flags(p: argparse.ArgumentParser, v_required: bool = True) -> None:
    add_physics_flags(p, families=True, v_required=v_required)
    p.add_argument("--out", help="write results: .json (list of records) or .csv")
    p.add_argument("--plot", help="draw P_LZ (solid) and P_ES (dashed) against v to this PNG/PDF/SVG")
    p.add_argument("--store", help="keep finished chunks in this JSON-lines file; rerun to resume")
    p.add_argument("--chunk-size", dest="chunk_size", type=int, help="points per engine call (default: automatic)")
    p.add_argument("--yes", action="store_true", help="run even when the size estimate is above the hard limit")


def add_neqb_parser(sub) -> None:
    p = sub.add_parser("neqb", help="nonequilibrium Bloch equations over a parameter grid")
    _add_parameter_flags(p)
    p.add_argument("--tol", type=float, default=1e-6, help="absolute accuracy target (default 1e-6)")


def add_quapi_parser(sub) -> None:
    from ..sweeps import DRIVE_PARAMETERS

    p = sub.add_parser("quapi", help="QUAPI path integral over a parameter grid")
    _add_parameter_flags(p, v_required=False)  # --v: the infinite sweep's (checked in run_quapi)
    p.add_argument(
        "--drive",
        choices=list(DRIVE_PARAMETERS),
        help="a finite protocol instead of the infinite linear sweep: linear (ε = v t from --eps-start to "
        "--eps-end), tanh (ε₀ + A tanh(t/τ): --amplitude --tau --t-start --t-end [--eps0]), periodic "
        "(ε₀ + A cos ωt: --eps0 --amplitude --omega --t-start --t-end); with --tol: P_LZ, P_ES at its end with "
        "error bars, from the converged exact trajectory (process tensor; --dt the finest step, --memory, --pt-tol)",
    )
    for name in dict.fromkeys(n for names in DRIVE_PARAMETERS.values() for n in names if n != "v"):
        p.add_argument(parameter_flag(name), dest=name, help=f"--drive: protocol parameter {name} (Δ, 1/Δ; list)")
    p.add_argument(
        "--dt", type=float, help="fixed Trotter step δt in 1/Δ (with --kmax, --tmax; with --drive the ladder's finest)"
    )
    p.add_argument("--kmax", type=int, help="fixed memory length in steps (with --dt, --tmax)")
    p.add_argument("--tmax", type=float, help="fixed protocol duration in 1/Δ (with --dt, --kmax)")
    p.add_argument("--tol", type=float, help="convergence mode: target error (ladder in δt, k_max, t_max)")
    p.add_argument("--budget", type=int, help="convergence mode, --engine adt: largest k_max (default 10)")
    p.add_argument(
        "--engine",
        dest="quapi_engine",
        default=None,
        choices=engine_choices(),
        help="convergence mode: exact engine, pt (process tensor: compressed memory, wide "
        "window; the default; quapi is its alias) or adt (plain augmented density tensor; the "
        "default with --budget)",
    )
    p.add_argument("--memory", type=float, help="convergence mode, --engine pt: memory time in 1/Δ (default 6.4)")
    p.add_argument(
        "--pt-tol",
        dest="pt_tol",
        type=float,
        help="convergence mode, --engine pt: relative truncation of the compression "
        "(default 6e-3·tol/steps within [1e-12, 1e-8])",
    )
    p.add_argument(
        "--eps-q",
        dest="eps_q",
        type=float,
        help="convergence mode: half-width of the exact QUAPI window in Δ (pt: 5-120, default "
        "the smallest of 15…100 whose golden-rule tails carry < tol/10 of the relaxation; "
        "adt: 5-40, default 15)",
    )
    p.add_argument(
        "--compensate",
        action="store_true",
        help="convergence mode: η from G(ω)/sinc²(ωδt/2), golden-rule-exact discrete rates"
        " at O(γ) (smaller δt corrections where relaxation at large E dominates)",
    )


def _grid_from_args(args) -> tuple[dict, dict[str, np.ndarray]]:
    """(the family's keywords of :func:`lzjax.sweep`: none for the paper's, else family and a
    table's file; the grid of the flags)."""
    family, lists = family_lists(args)
    if family == "exponential":  # the paper's: the grid (and records, stores) as they always were
        return {}, {
            "v": parse_values("--v", args.v),
            "T": parse_values("--T", args.T),
            "gamma": parse_values("--gamma", args.gamma),
            "s": parse_values("--s", args.s),
            "omega_c": parse_values("--omega-c", args.omega_c),
            "theta": parse_values("--theta", args.theta, angle=True),
            "delta": parse_values("--delta", args.delta),
        }
    grid = {"v": parse_values("--v", args.v), **lists}
    grid["theta"] = parse_values("--theta", args.theta, angle=True)
    grid["delta"] = parse_values("--delta", args.delta)
    bath = {"family": family, "table": args.spectral_density} if args.spectral_density else {"family": family}
    return bath, grid


def _check_sweep_paths(args) -> None:
    check_output_path(args.out, (".json", ".csv"), "--out")
    check_output_path(args.plot, (".png", ".pdf", ".svg"), "--plot")
    check_output_path(args.store, None, "--store")
    check_distinct(**{"--out": args.out, "--plot": args.plot, "--store": args.store})
    require_matplotlib(args.plot)
    if args.chunk_size is not None and args.chunk_size < 1:
        raise InputError(f"--chunk-size must be a positive integer, got {args.chunk_size}")


def _run_sweep(engine: str, args, options: dict) -> int:
    from ..sweeps import (  # looked up at call time (tests replace sweep)
        grid_problem,
        sweep,
    )

    bath, grid = _grid_from_args(args)
    with user_input():  # the whole grid, eagerly: the model's constructors name the parameter and its range
        grid_problem(**bath, **grid)  # and a table's file: one line naming the problem
    if engine == "quapi" and "tol" in options:  # the speeds a ladder can grid, before its estimate
        from ..quapi.ladder import check_ladder_speed

        with user_input():
            check_ladder_speed(np.outer(grid["v"], 1.0 / grid["delta"] ** 2))
    size_check(engine, n_points(grid), options, args.yes, grid["v"])
    # The engines check their own options (neqb's tol, quapi's eps_q, budget, memory, ...) first
    # thing, before any computation, and lzjax exposes no separate validator for them yet: a
    # ValueError out of this call is such a check; the catch goes once they expose them.
    with user_input():
        result = sweep(
            engine,
            progress=engine == "quapi",
            store=args.store,
            chunk_size=args.chunk_size,
            **bath,
            **options,
            **grid,
        )
    emit(result, args.out, args.plot)
    return 0


def run_neqb(args) -> int:
    _check_sweep_paths(args)
    return _run_sweep("neqb", args, {"tol": args.tol})  # solve_neqb checks tol


def _quapi_options(args) -> dict:
    """The engine options of `lzjax quapi`: fixed settings or one of the two ladders."""
    fixed = {"--dt": args.dt, "--kmax": args.kmax, "--tmax": args.tmax}
    ladder = {
        "--tol": args.tol,
        "--budget": args.budget,
        "--eps-q": args.eps_q,
        "--compensate": args.compensate or None,
        "--engine": args.quapi_engine,
        "--memory": args.memory,
        "--pt-tol": args.pt_tol,
    }
    given_fixed = [k for k, x in fixed.items() if x is not None]
    given_ladder = [k for k, x in ladder.items() if x is not None]
    if given_fixed and given_ladder:
        raise InputError(
            f"{', '.join(given_ladder)} {'belongs' if len(given_ladder) == 1 else 'belong'} to convergence "
            f"mode (--tol), not to fixed settings {', '.join(given_fixed)}; give one mode"
        )
    if given_fixed:
        if len(given_fixed) < 3:
            missing = [k for k in fixed if fixed[k] is None]
            raise InputError(f"fixed settings need --dt, --kmax and --tmax together; missing {', '.join(missing)}")
        options = {"dt": args.dt, "kmax": args.kmax, "tmax": args.tmax}
        from ..fit import check_engine_options

        with user_input():  # the ADT's fixed settings (dt, tmax > 0, kmax, steps), before the size estimate
            check_engine_options("adt", options)
        return options
    if args.tol is not None:
        from ..quapi.engines import select_engine

        name = None if args.quapi_engine is None else engine_name(args.quapi_engine)
        engine = select_engine(name, budget=args.budget)
        settings = {key: getattr(args, key) for key in _LADDER_FLAGS.values() if getattr(args, key) is not None}
        wrong = [flag for flag, key in _LADDER_FLAGS.items() if key in settings and key not in engine.ladder_options]
        if wrong:
            raise InputError(
                f"{', '.join(wrong)} {'does' if len(wrong) == 1 else 'do'} not apply to --engine "
                f"{engine.name} (its settings: {', '.join(engine.ladder_options)})"
            )
        from ..quapi.ladder import check_ladder_tol

        with user_input():  # the ladder's and the engine's own ranges, before the size estimate
            check_ladder_tol(args.tol)
            engine.configured(**settings)
        options = {"tol": args.tol, "method": engine.name, **settings}
        if args.compensate:
            options["compensate"] = True
        return options
    if given_ladder:
        raise InputError(
            f"{', '.join(given_ladder)} {'needs' if len(given_ladder) == 1 else 'need'} --tol (convergence mode)"
        )
    raise InputError("quapi needs --dt, --kmax and --tmax together, or --tol")


#: convergence-mode flags of `lzjax quapi` and the ladder settings they give (each engine takes its own)
_LADDER_FLAGS = {"--budget": "budget", "--eps-q": "eps_q", "--memory": "memory", "--pt-tol": "pt_tol"}


def run_quapi(args) -> int:
    from ..sweeps import DRIVE_PARAMETERS

    _check_sweep_paths(args)
    if args.drive is not None:
        return _run_protocol(args)
    stray = [parameter_flag(n) for n in _protocol_names(DRIVE_PARAMETERS) if getattr(args, n) is not None]
    if stray:
        raise InputError(
            f"{', '.join(stray)} {'applies' if len(stray) == 1 else 'apply'} with --drive (a finite protocol)"
        )
    if args.v is None:
        raise InputError("quapi needs --v (the sweep speeds of the infinite linear drive) or --drive")
    return _run_sweep("quapi", args, _quapi_options(args))


def _protocol_names(drive_parameters: dict) -> list[str]:
    """Every finite protocol's parameters but v (their flags belong to --drive)."""
    return list(dict.fromkeys(n for names in drive_parameters.values() for n in names if n != "v"))


def _run_protocol(args) -> int:
    """`lzjax quapi --drive NAME --tol δ`: the end points of a finite protocol over the grid of
    the flags (:func:`lzjax.sweep` with `drive`), every flag checked and the first pass of every
    point counted and estimated before any work."""
    from ..quapi.engines import PT
    from ..quapi.ladder import check_ladder_tol
    from ..sweeps import DRIVE_PARAMETERS, grid_problem, sweep
    from .dynamics import estimate_converged

    drive = args.drive
    names = DRIVE_PARAMETERS[drive]
    stray = [parameter_flag(n) for n in ["v", *_protocol_names(DRIVE_PARAMETERS)] if n not in names]
    stray = [f for f in stray if getattr(args, f[2:].replace("-", "_")) is not None]
    ladder = {"--kmax": args.kmax, "--tmax": args.tmax, "--budget": args.budget, "--eps-q": args.eps_q}
    stray += [f for f, x in {**ladder, "--compensate": args.compensate or None}.items() if x is not None]
    if stray:
        raise InputError(f"{', '.join(stray)} {'does' if len(stray) == 1 else 'do'} not apply to --drive {drive}")
    missing = [parameter_flag(n) for n in names if getattr(args, n) is None and (drive, n) != ("tanh", "eps0")]
    if missing:
        raise InputError(f"--drive {drive} needs {', '.join(missing)}")
    if args.tol is None:
        raise InputError(f"--drive {drive} gives converged end points: it needs --tol (with --dt the finest step)")
    if args.quapi_engine is not None and engine_name(args.quapi_engine) != "pt":
        raise InputError(f"--drive runs --engine pt (the converged exact trajectory), not --engine {args.quapi_engine}")
    if np.any(parse_values("--delta", args.delta) != 1.0):
        raise InputError("--delta must be 1 with --drive (energies in units of Δ, times in 1/Δ)")
    options = {k: x for k, x in (("dt", args.dt), ("memory", args.memory), ("pt_tol", args.pt_tol)) if x is not None}
    with user_input():
        check_ladder_tol(args.tol)
        PT().configured(**options)
    family, grid = family_lists(args)
    grid = {n: parse_values(parameter_flag(n), getattr(args, n)) for n in names if getattr(args, n) is not None} | grid
    grid["theta"] = parse_values("--theta", args.theta, angle=True)
    bath = {} if family == "exponential" else {"family": family, "table": args.spectral_density}
    with user_input():  # every protocol and bath of the grid, and every point's first pass counted
        system, _ = grid_problem(**bath, drive=drive, **grid)
    plan = {"drive": system.drive, "bath": system.bath, "theta": system.theta}
    estimate_converged(plan, {"n_times": 1, "dt": args.dt}, n_points(grid), args.yes)
    with user_input():
        result = sweep(
            "quapi",
            drive=drive,
            progress=True,
            store=args.store,
            chunk_size=args.chunk_size,
            tol=args.tol,
            **bath,
            **options,
            **grid,
        )
    emit(result, args.out, args.plot)
    return 0


# -- results: table or records, plot, warnings -------------------------------------------------
def _print_table(records: list[dict]) -> None:
    columns = [
        "family",
        "v",
        *_PROTOCOL_COLUMNS,
        "T",
        "gamma",
        "s",
        "omega_c",
        *_FAMILY_COLUMNS,
        *_part_columns(records[0]),
        "theta",
        "delta",
        "P_LZ",
        "P_ES",
        "P_LZ_err",
        "P_ES_err",
        "dt",
        "kmax",
        "memory",
        "chi",
        "eps_q",
        "trace_err",
        "kappa",
        "converged",
        "status",
    ]
    columns = [c for c in columns if c in records[0]]
    print("  ".join(f"{c:>11}" for c in columns))
    for rec in records:
        print("  ".join(f"{rec[c]:>11.6g}" if isinstance(rec[c], float) else f"{rec[c]!s:>11}" for c in columns))


#: the parameters of the families beyond the paper's, as record columns
_FAMILY_COLUMNS = ("lam", "gamma_d", "omega_0", "gamma_b", "scale")
#: the finite protocols' parameters (lzjax.sweeps.DRIVE_PARAMETERS but v), as record columns
_PROTOCOL_COLUMNS = ("eps_start", "eps_end", "amplitude", "tau", "eps0", "omega", "t_start", "t_end")


def _part_columns(rec: dict) -> list[str]:
    """The parameters of a sum's parts ("gamma[0]", ...), in record order."""
    return [k for k in rec if k.endswith("]")]


def _describe(rec: dict) -> str:
    keys = ("v", *_PROTOCOL_COLUMNS, "T", "gamma", "s", "omega_c", *_FAMILY_COLUMNS, *_part_columns(rec), "theta")
    return "(" + ", ".join(f"{k}={rec[k]:g}" for k in keys if k in rec) + ")"


def _points(records: list[dict], index: np.ndarray) -> str:
    shown = ", ".join(_describe(records[i]) for i in index[:3])
    return f"{shown}{', ...' if index.size > 3 else ''}"


def emit(result, out: str | None, plot: str | None) -> None:
    """Write `result` (a SweepResult) to `out` and its plot to `plot`, both or neither; else
    print the table; then one warning line per kind of doubtful point."""
    from ..writers import write_records

    status = np.asarray(result["status"]).ravel()
    records = result.records()
    broken = np.flatnonzero(status == "not finite")
    if broken.size:
        raise InputError(
            f"{broken.size} point(s) gave non-finite probabilities (first: {_describe(records[int(broken[0])])[1:-1]}; "
            "the rates overflow float64); nothing written"
        )
    outputs = Outputs()
    try:
        if out:
            write_records(outputs.temporary(out), records, os.path.splitext(out)[1])
        if plot:
            save_figure(result.plot, outputs, plot)
        outputs.commit()  # only now, with everything (the plot included) done
    finally:
        outputs.discard()
    if not out:
        _print_table(records)
    unphysical = np.flatnonzero(status == "unphysical")
    if unphysical.size:
        print(
            f"lzjax: warning: {unphysical.size} point(s) unphysical (a probability outside [0, 1] or a trace "
            f"defect beyond the error): values null, status 'unphysical'; refine the settings or use --tol: "
            f"{_points(records, unphysical)}",
            file=sys.stderr,
        )
    beyond = np.flatnonzero(status == "beyond weak coupling")
    if beyond.size:
        from ..neqb import KAPPA_MAX

        kappa = np.asarray(result["kappa"]).ravel()[beyond]
        print(
            f"lzjax: warning: {beyond.size} point(s) beyond NEQB's weak coupling (kappa = 1 - Delta_eff/Delta up "
            f"to {kappa.max():.3g} > {KAPPA_MAX:g}; NEQB's model error grows like kappa): use lzjax quapi: "
            f"{_points(records, beyond)}",
            file=sys.stderr,
        )
    bad = np.flatnonzero(status == "not converged")
    if bad.size:
        print(
            f"lzjax: warning: {bad.size} point(s) did not reach the requested tolerance (see *_err): "
            f"{_points(records, bad)}",
            file=sys.stderr,
        )
    if np.any(status == "unchecked"):
        print("lzjax: note: fixed settings, convergence not checked (P_*_err null); use --tol", file=sys.stderr)
