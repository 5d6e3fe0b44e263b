"""`lzjax trajectory` and `lzjax window`: time-resolved dynamics and the crossing window from
the command line (units Δ = ħ = 1).

    lzjax trajectory --v 1 --T 6.4 --gamma 5e-4 --s 3 --omega-c 5 [--theta 0]
                     (--times -5,0,5 | --every N) [--eps-start -20 --eps-end 20]
                     [--drive linear|tanh|periodic] [--amplitude A --tau τ --eps0 ε₀ --omega ω
                      --t-start t0 --t-end t1] [--engine neqb|pt|adt|quapi] [--dt δt]
                     [--kmax K | --memory τ] [--pt-tol ε] [--n-steps N] [--start ground|excited]
                     [--window-tol δ]
                     [--out FILE.csv|.json|.nc] [--plot FILE.png]
    lzjax window --v 0.3,1 --T 6.4 --gamma 5e-4 --s 3 --omega-c 5 --tol 1e-4 [--out FILE]
                 [--plot FILE.png]
    lzjax trajectory|window ... --family drude-lorentz --lam 0.01 --gamma-d 2 --T 1
                 (any family and its flags as in `lzjax neqb`; sums: --family gaussian+gaussian
                  --s 3:1; records name the family and its parameters)

`--engine` names the same engines as in every subcommand: neqb (default), or an exact engine at
fixed settings on a finite window: pt (the process tensor, memory time --memory in 1/Δ or --kmax
steps; one bath and one duration per call; quapi is its alias) or adt (the plain augmented
density tensor, --kmax steps).

Every parameter flag (the bath's, Θ, v, and the protocol's) takes one value or a list; the
run covers their Cartesian product as one batch. Flags that do not apply to the chosen drive
or engine are refused in one line that names them; every flag and path is checked before any
computation, and outputs are written atomically only after everything (the plot included)
succeeded.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from .common import (
    ENGINE_FLAGS,
    InputError,
    Outputs,
    add_engine_flags,
    add_physics_flags,
    check_distinct,
    check_output_path,
    engine_choices,
    engine_name,
    engine_settings,
    exact_engine,
    family_bath,
    family_lists,
    parse_values,
    require_matplotlib,
    require_netcdf,
    save_figure,
    user_input,
)
from .size import size_check

__all__ = ["add_trajectory_parser", "add_window_parser", "run_trajectory", "run_window", "estimate_converged"]

#: protocol flags (dest -> flag) and which drive needs / accepts them
_DRIVE_FLAGS = {
    "amplitude": "--amplitude",
    "tau": "--tau",
    "eps0": "--eps0",
    "omega": "--omega",
    "t_start": "--t-start",
    "t_end": "--t-end",
}
_DRIVE_NEEDS = {
    "linear": (),
    "tanh": ("amplitude", "tau", "t_start", "t_end"),
    "periodic": ("eps0", "amplitude", "omega", "t_start", "t_end"),
    "tabulated": (),
}
_DRIVE_ACCEPTS = {
    "linear": (),
    "tanh": ("amplitude", "tau", "t_start", "t_end", "eps0"),
    "periodic": ("eps0", "amplitude", "omega", "t_start", "t_end"),
    "tabulated": (),
}


def _add_bath_flags(p) -> None:
    add_physics_flags(
        p,
        v_required=False,
        v_help="sweep speed(s) v in Δ² (linear drive; list: 0.3,1)",
        delta_help="tunnel splitting Δ: must be 1 (energies in units of Δ)",
        families=True,
    )


def add_trajectory_parser(sub) -> None:
    p = sub.add_parser("trajectory", help="populations and Bloch vector along a drive protocol")
    _add_bath_flags(p)
    p.add_argument(
        "--drive",
        default="linear",
        choices=list(_DRIVE_NEEDS),
        help="linear (ε = v t; infinite unless --eps-start/--eps-end), tanh (ε₀ + A tanh(t/τ)), "
        "periodic (ε₀ + A cos ωt), tabulated (samples of ε(t) from --drive-file)",
    )
    p.add_argument(
        "--drive-file",
        dest="drive_file",
        help="tabulated: CSV of the bias, header line `t,epsilon` (t in 1/Δ strictly increasing, ε in Δ; "
        "natural cubic spline between the samples, the protocol runs from the first to the last t)",
    )
    p.add_argument("--eps-start", dest="eps_start", help="linear: bias at the start of a finite sweep (Δ)")
    p.add_argument("--eps-end", dest="eps_end", help="linear: bias at the end of a finite sweep (Δ)")
    p.add_argument("--amplitude", help="tanh/periodic: amplitude A (Δ)")
    p.add_argument("--tau", help="tanh: time scale τ (1/Δ)")
    p.add_argument("--eps0", help="tanh/periodic: static bias ε₀ (Δ; tanh default 0)")
    p.add_argument("--omega", help="periodic: angular frequency ω (Δ)")
    p.add_argument("--t-start", dest="t_start", help="tanh/periodic: start time (1/Δ)")
    p.add_argument("--t-end", dest="t_end", help="tanh/periodic: end time (1/Δ)")
    p.add_argument("--times", help="record times t1,t2,... in 1/Δ (linear: ε = v t); start and end always recorded")
    p.add_argument("--every", type=int, help="record every N-th step instead of --times")
    add_engine_flags(
        p,
        "neqb (default), or exact at fixed settings: pt (the process tensor; quapi is its alias) "
        "or adt (the plain augmented density tensor)",
    )
    p.add_argument(
        "--dt",
        type=float,
        help="time step in 1/Δ (pt/adt: required, pt with --tol the finest step; neqb: tanh/periodic)",
    )
    p.add_argument(
        "--tol",
        type=float,
        help="pt: a converged trajectory with error bars to this absolute error (the ladder of δt, memory "
        "and truncation; no other setting needed)",
    )
    p.add_argument(
        "--n-times", dest="n_times", type=int, help="with --tol: record intervals (evenly spaced times; default 64)"
    )
    p.add_argument(
        "--n-steps", dest="n_steps", type=int, help="neqb, linear drive: steps over the window (default 4096)"
    )
    p.add_argument(
        "--start",
        default="ground",
        choices=["ground", "excited"],
        help="initial state: instantaneous ground (default) or excited state",
    )
    p.add_argument(
        "--window-tol",
        dest="window_tol",
        type=float,
        help="linear drive: also compute the crossing window for this δ (recorded, shaded in the plot)",
    )
    p.add_argument("--out", help="write records to .csv, .json or .nc")
    p.add_argument("--plot", help="populations against time to this PNG/PDF/SVG")
    p.add_argument("--yes", action="store_true", help="run even when the size estimate is above the hard limit")


def add_window_parser(sub) -> None:
    p = sub.add_parser("window", help="the crossing window [eps_minus, eps_plus] of the linear sweep")
    _add_bath_flags(p)
    p.add_argument(
        "--tol", type=float, default=1e-4, help="δ: the bath outside changes P_LZ, P_ES by < δ (default 1e-4)"
    )
    p.add_argument(
        "--engine",
        default="neqb",
        choices=engine_choices(neqb=True),
        help="neqb (default: the weak-coupling dynamics) or pt (the exact dynamics through the process tensor, "
        "with error bars; quapi is its alias)",
    )
    p.add_argument("--n-seg", dest="n_seg", type=int, help="neqb: steps per segment (default 1024)")
    p.add_argument("--iterations", type=int, help="neqb: bisection halvings (default 16)")
    p.add_argument("--out", help="write one record per point to .csv, .json or .nc")
    p.add_argument(
        "--plot", help="the window edges eps_minus, eps_plus against the swept parameter to this PNG/PDF/SVG"
    )
    p.add_argument("--yes", action="store_true", help="run even when the size estimate is above the hard limit")


# ---- parsing and validation (no computation) ---------------------------------------------------


def _refuse(names: list[str], why: str) -> None:
    if names:
        raise InputError(f"{', '.join(names)} {'does' if len(names) == 1 else 'do'} not apply {why}")


def _check_delta(args) -> None:
    delta = parse_values("--delta", args.delta)
    if np.any(delta != 1.0):
        raise InputError("--delta must be 1 here (give energies in units of Δ and times in 1/Δ)")


#: δ of the crossing window that lzjax.dynamics.crossing_window accepts. A copy, kept because the
#: window of `lzjax trajectory --window-tol` is computed after the trajectory and `lzjax window`
#: must refuse a bad --tol in the CLI's words before any work; crossing_window has no separate
#: validator to call yet (it checks tol as it starts).
WINDOW_TOL_RANGE = (1e-8, 0.1)


def _check_window_tol(flag: str, tol: float) -> None:
    lo, hi = WINDOW_TOL_RANGE
    if not (lo <= tol <= hi):
        raise InputError(f"{flag} must be in [{lo:g}, {hi:g}], got {tol!r}")


def _mesh(lists: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], tuple[int, ...]]:
    """Cartesian product of the value lists, flattened (first flag slowest)."""
    shape = tuple(len(x) for x in lists.values())
    grids = np.meshgrid(*lists.values(), indexing="ij")
    return {k: g.ravel() for k, g in zip(lists, grids, strict=False)}, shape


def _read_drive_file(path: str) -> tuple[np.ndarray, np.ndarray]:
    """(t, ε) of a `--drive-file` CSV (header line `t,epsilon`); InputError in one line naming
    the file and what is wrong (the samples' own checks follow in TabulatedDrive.from_samples)."""
    try:
        with open(path, newline="") as fh:
            rows = [line.strip() for line in fh if line.strip()]
    except OSError as exc:
        raise InputError(f"--drive-file {path}: {exc.strerror or exc}") from None
    if not rows or [c.strip() for c in rows[0].split(",")] != ["t", "epsilon"]:
        raise InputError(f"--drive-file {path}: the first line must be the header `t,epsilon`")
    try:
        data = np.array([[float(c) for c in row.split(",")] for row in rows[1:]], dtype=float)
    except ValueError:
        raise InputError(f"--drive-file {path}: every line after the header must be two numbers t,epsilon") from None
    if data.ndim != 2 or data.shape[1] != 2 or data.shape[0] < 2:
        raise InputError(f"--drive-file {path}: needs at least two lines t,epsilon after the header")
    return data[:, 0], data[:, 1]


def _bath_lists(args, with_v: bool) -> tuple[str, dict[str, np.ndarray]]:
    """(family, value lists in record order: v, T, the family's parameters, Θ)."""
    family, lists = family_lists(args)
    if with_v:
        lists = {"v": parse_values("--v", args.v), **lists}
    lists["theta"] = parse_values("--theta", args.theta, angle=True)
    return family, lists


def _family_bath(family: str, flat: dict[str, np.ndarray], args):
    """The bath of every point (:func:`family_bath`) from the flat mesh `flat`."""
    from ..spectral import family_parameters

    values = {n: flat[n] for n in family_parameters(family) if n in flat}
    return family_bath(family, values, args.spectral_density)


def _name_family(records: list[dict], family: str, args) -> None:
    """A family other than the paper's named first in each record (a table's file beside it)."""
    if family == "exponential":
        return
    head = {"family": family}
    if args.spectral_density is not None:
        head["spectral_density"] = args.spectral_density
    for i, rec in enumerate(records):
        records[i] = {**head, **rec}


def _check_outputs(args) -> None:
    """--out, --plot and --delta of `trajectory` and `window`, before any work."""
    check_output_path(args.out, (".csv", ".json", ".nc"), "--out")
    check_output_path(args.plot, (".png", ".pdf", ".svg"), "--plot")
    check_distinct(**{"--out": args.out, "--plot": args.plot})
    require_netcdf(args.out)
    require_matplotlib(args.plot)
    _check_delta(args)


def _plan_trajectory(args) -> dict:
    """Everything checked and built (protocol, bath, options); raises before any work."""
    from ..model import Drive
    from ..neqb import check_neqb_validity
    from ..protocols import LinearSweep, PeriodicDrive, TabulatedDrive, TanhSweep
    from ..trajectories import prepare_system

    _check_outputs(args)
    drive, engine = args.drive, args.engine
    # flags that do not apply to the drive
    given = [d for d in _DRIVE_FLAGS if getattr(args, d) is not None]
    _refuse([_DRIVE_FLAGS[d] for d in given if d not in _DRIVE_ACCEPTS[drive]], f"to --drive {drive}")
    if drive != "linear":
        _refuse(
            [
                f
                for f, x in (("--v", args.v), ("--eps-start", args.eps_start), ("--eps-end", args.eps_end))
                if x is not None
            ],
            f"to --drive {drive} (linear drive only)",
        )
        missing = [_DRIVE_FLAGS[d] for d in _DRIVE_NEEDS[drive] if getattr(args, d) is None]
        if missing:
            raise InputError(f"--drive {drive} needs {', '.join(missing)}")
        if args.window_tol is not None:
            raise InputError("--window-tol applies to --drive linear only (the window of the linear sweep)")
    else:
        if args.v is None:
            raise InputError("--drive linear needs --v")
        if (args.eps_start is None) != (args.eps_end is None):
            raise InputError("--eps-start and --eps-end go together (a finite linear sweep)")
    if (drive == "tabulated") != (args.drive_file is not None):
        raise InputError(
            "--drive tabulated needs --drive-file"
            if drive == "tabulated"
            else "--drive-file applies to --drive tabulated"
        )
    table = _read_drive_file(args.drive_file) if drive == "tabulated" else None
    finite = drive != "linear" or args.eps_start is not None
    # flags that do not apply to the engine
    exact = engine != "neqb"
    converged = args.tol is not None
    if converged:
        if engine not in ("pt", "quapi"):
            raise InputError(f"--tol (a converged trajectory) runs --engine pt; --engine {engine} takes fixed --dt")
        _refuse(
            [f for f, x in (("--times", args.times), ("--every", args.every), ("--kmax", args.kmax)) if x is not None],
            "with --tol (records: --n-times evenly spaced; the memory: --memory)",
        )
        if not finite:
            raise InputError("--tol needs a finite window: --eps-start and --eps-end (or a tanh/periodic drive)")
        with user_input():
            from ..quapi.ladder import check_ladder_tol

            check_ladder_tol(args.tol)
    elif args.n_times is not None:
        raise InputError("--n-times applies with --tol (a converged trajectory)")
    if exact and not converged:
        _refuse(["--n-steps"] if args.n_steps is not None else [], f"to --engine {engine} (neqb, linear drive)")
        if args.dt is None:
            raise InputError(f"--engine {engine} needs --dt (fixed settings) or --tol (converged)")
        if not finite:
            raise InputError(
                f"--engine {engine} needs a finite window: --eps-start and --eps-end "
                "(the infinite sweep's tails are NEQB's)"
            )
        engine_object = exact_engine(args)
    else:
        given = ["--kmax"] * (args.kmax is not None) + [
            f for f, k in ENGINE_FLAGS.items() if k in engine_settings(args)
        ]
        _refuse(given, "to --engine neqb")
        if drive == "linear":
            _refuse(["--dt"] if args.dt is not None else [], "to --engine neqb with --drive linear (use --n-steps)")
        else:
            _refuse(
                ["--n-steps"] if args.n_steps is not None else [], f"to --drive {drive} with --engine neqb (use --dt)"
            )
    if not converged and (args.times is None) == (args.every is None):
        raise InputError("give one of --times t1,t2,... (1/Δ) or --every N (or --tol with --engine pt)")
    times = None
    if args.times is not None:
        times = parse_values("--times", args.times)
        if not np.all(np.isfinite(times)):
            raise InputError(f"--times must be finite numbers (1/Δ), got {args.times!r}")
        if np.any(np.diff(times) < 0):
            raise InputError(f"--times must be non-decreasing, got {args.times!r}")
    elif args.every is not None and args.every < 1:
        raise InputError(f"--every must be a positive integer, got {args.every}")
    if args.window_tol is not None:
        _check_window_tol("--window-tol", args.window_tol)
    # values: the Cartesian product of all lists, built and validated eagerly by the library
    family, lists = _bath_lists(args, with_v=drive == "linear")
    if drive == "linear" and finite:
        lists["eps_start"] = parse_values("--eps-start", args.eps_start)
        lists["eps_end"] = parse_values("--eps-end", args.eps_end)
    for d in _DRIVE_ACCEPTS[drive]:
        if getattr(args, d) is not None:
            lists[d] = parse_values(_DRIVE_FLAGS[d], getattr(args, d))
    flat, shape = _mesh(lists)
    if table is not None:  # one tabulated protocol for every point
        size = int(np.prod(shape))
        flat["t_start"], flat["t_end"] = np.full(size, table[0][0]), np.full(size, table[0][-1])
    kwargs = {"times": times, "every": args.every}
    if drive == "linear" and finite:
        kwargs.update(eps_start=flat["eps_start"], eps_end=flat["eps_end"])
    bath = _family_bath(family, flat, args)
    with user_input():
        if drive == "linear":
            protocol = Drive(v=flat["v"])
            if finite:
                LinearSweep(v=flat["v"], eps_start=flat["eps_start"], eps_end=flat["eps_end"])
        elif drive == "tanh":
            protocol = TanhSweep(
                amplitude=flat["amplitude"],
                tau=flat["tau"],
                t_start=flat["t_start"],
                t_end=flat["t_end"],
                eps0=flat.get("eps0", 0.0),
            )
        elif drive == "tabulated":
            assert table is not None
            protocol = TabulatedDrive.from_samples(table[0], table[1])
        else:
            protocol = PeriodicDrive(
                eps0=flat["eps0"],
                amplitude=flat["amplitude"],
                omega=flat["omega"],
                t_start=flat["t_start"],
                t_end=flat["t_end"],
            )
        system = prepare_system(
            protocol, bath, flat["theta"], eps_start=kwargs.get("eps_start"), eps_end=kwargs.get("eps_end")
        )[0]  # drive, bath and Θ together
        if engine == "neqb":
            check_neqb_validity(system)
    if times is not None and finite:  # requested times inside every window, before any work
        if drive == "linear":
            t0, t1 = flat["eps_start"] / flat["v"], flat["eps_end"] / flat["v"]
        else:
            t0, t1 = flat["t_start"], flat["t_end"]
        if np.any(times[:, None] < t0[None] - 1e-12) or np.any(times[:, None] > t1[None] + 1e-12):
            raise InputError(
                f"--times must lie inside the protocol window of every point "
                f"[{float(np.max(t0)):g}, {float(np.min(t1)):g}] (1/Δ)"
            )
    plan = {"drive": protocol, "bath": bath, "theta": flat["theta"], "shape": shape, "kind": drive, "finite": finite}
    plan["family"] = family
    n = int(np.prod(shape))
    if converged:  # the ladder chooses every step: its first pass counted and estimated before any work
        options = {"dt": args.dt, "memory_time": args.memory, "pt_tol": args.pt_tol}
        kwargs = {k: x for k, x in options.items() if x is not None}
        kwargs.update(tol=args.tol, n_times=64 if args.n_times is None else args.n_times)
        if drive == "linear":
            kwargs.update(eps_start=flat["eps_start"], eps_end=flat["eps_end"])
        estimate_converged(plan, kwargs, n, args.yes)
        return {**plan, "kwargs": kwargs, "exact": True, "converged": True}
    # dt and n_steps are the engines' to check (first thing, before any work: see run_trajectory)
    if exact:
        with user_input():  # the engine's run memory, before the size estimate (the ADT's grows like 4^kmax)
            memory = engine_object.fixed_memory(args.dt, args.kmax)  # pyright: ignore[reportPossiblyUnbound]
        kwargs.update(dt=args.dt, kmax=memory, engine=engine_object)  # pyright: ignore[reportPossiblyUnbound]
    elif drive == "linear":
        if args.n_steps is not None:
            kwargs["n_steps"] = args.n_steps
    elif args.dt is not None:
        kwargs["dt"] = args.dt
    # the step count of every engine, counted before the size estimate and before any allocation
    with user_input():
        if exact:
            from ..quapi.trajectory import check_exact_steps

            span_all = (
                (flat["eps_end"] - flat["eps_start"]) / flat["v"]
                if drive == "linear"
                else flat["t_end"] - flat["t_start"]
            )
            check_exact_steps(span_all, args.dt or 0.0, n)  # --dt: required with an exact engine
        else:  # NEQB: asinh grid of n_steps for linear drives, uniform steps of dt otherwise
            from ..dynamics import check_neqb_steps

            check_neqb_steps(
                n,
                grid="asinh" if drive == "linear" else "uniform",
                span=None if drive == "linear" else flat["t_end"] - flat["t_start"],
                dt=0.01 if args.dt is None else args.dt,
                n_steps=4096 if args.n_steps is None else args.n_steps,
            )
    if exact:
        span = (
            float(np.max(t1 - t0))  # pyright: ignore[reportOperatorIssue, reportPossiblyUnbound]  # set with times
            if times is not None
            else float(
                np.max(
                    (flat["eps_end"] - flat["eps_start"]) / flat["v"]
                    if drive == "linear"
                    else flat["t_end"] - flat["t_start"]
                )
            )
        )
        options = {"dt": args.dt, "kmax": kwargs["kmax"], "tmax": span, "engine": kwargs["engine"]}
        size_check("quapi", n, options, args.yes)
    else:
        size_check("neqb", n, {}, args.yes)
    return {**plan, "kwargs": kwargs, "exact": exact}


def estimate_converged(plan: dict, kwargs: dict, n: int, yes: bool) -> None:
    """The converged trajectory's first pass counted (:func:`lzjax.quapi.trajectory_ladder.trajectory_steps`:
    its five runs take 97/25 of the fine run's steps), checked against the step and batch limits
    and estimated like the fixed-settings paths; a refinement pass may repeat it up to three times."""
    from ..quapi.engines import PT
    from ..quapi.trajectory import check_exact_steps
    from ..quapi.trajectory_ladder import trajectory_steps

    grid = {k: kwargs[k] for k in ("n_times", "dt", "eps_start", "eps_end") if k in kwargs}
    with user_input():
        steps, span = trajectory_steps(plan["drive"], plan["bath"], plan["theta"], **grid)
        check_exact_steps(span, span / steps, n)
    engine = PT()
    options = {"dt": span / steps, "kmax": engine.fixed_memory(span / steps), "tmax": span * 97 / 25, "engine": engine}
    size_check("quapi", n, options, yes)


def run_trajectory(args) -> int:
    from .. import dynamics, plotting
    from ..quapi import trajectory as quapi_trajectory
    from ..writers import OBSERVABLES, point_params, trajectory_records, write_records

    plan = _plan_trajectory(args)
    if plan.get("converged"):
        from ..quapi.trajectory_ladder import converge_trajectory as engine
    else:
        engine = quapi_trajectory.exact_trajectory if plan["exact"] else dynamics.neqb_trajectory
    # The engines check dt, kmax, n_steps and the step count first thing, before any work, and
    # expose no separate validator yet: a ValueError out of these calls is such a check.
    with user_input():
        ds = engine(plan["drive"], plan["bath"], plan["theta"], **plan["kwargs"])
    window = None
    if args.window_tol is not None:
        with user_input():
            window = dynamics.crossing_window(plan["drive"], plan["bath"], plan["theta"], tol=args.window_tol)
    sel = ds.sel(start=args.start)
    bad = ~np.all(np.isfinite(np.stack([sel[k].values for k in OBSERVABLES])), axis=(0, 2))
    if np.any(bad):
        raise InputError(f"{int(bad.sum())} point(s) gave non-finite populations; nothing written")
    records = trajectory_records(ds, args.start)
    _name_family(records, plan["family"], args)
    if window is not None:
        m = ds.sizes["time"]
        for i, rec in enumerate(records):
            p = i // m  # records are point-major
            rec.update(eps_minus=float(window.eps_minus.values[p]), eps_plus=float(window.eps_plus.values[p]))
    outputs = Outputs()
    try:
        if args.out:
            out_ds = ds.sel(start=args.start)
            if window is not None:
                out_ds = out_ds.assign(
                    eps_minus=("point", window.eps_minus.values), eps_plus=("point", window.eps_plus.values)
                )
            write_records(outputs.temporary(args.out), records, os.path.splitext(args.out)[1], dataset=out_ds)
        if args.plot:
            save_figure(lambda: plotting.plot_trajectory(ds, args.start, window), outputs, args.plot)
        outputs.commit()
    finally:
        outputs.discard()
    if not args.out:
        extra = [k for k in ("P_LZ", "P_ES", "eps_minus", "eps_plus") if k in records[0]]
        _print_rows(records, ["t", "epsilon", *OBSERVABLES, *extra], per_point=point_params(ds))
    return 0


def _print_rows(records, columns, per_point=()) -> None:
    last = None
    for rec in records:
        key = tuple(rec[k] for k in per_point)
        if key != last:
            print("# " + ", ".join(f"{k}={rec[k]:g}" for k in per_point))
            print("  ".join(f"{c:>12}" for c in columns))
            last = key
        print("  ".join(f"{rec[c]:>12.6g}" for c in columns))


# ---- lzjax window --------------------------------------------------------------------------------


def run_window(args) -> int:
    from .. import dynamics, plotting
    from ..model import Drive
    from ..writers import point_params, window_records, write_records

    _check_outputs(args)
    if args.v is None:
        raise InputError("window needs --v (the crossing window of the linear sweep)")
    _check_window_tol("--tol", args.tol)
    family, lists = _bath_lists(args, with_v=True)
    flat, shape = _mesh(lists)
    bath = _family_bath(family, flat, args)
    with user_input():
        drive = Drive(v=flat["v"])
    if args.engine != "neqb":
        ds = _exact_window(args, drive, bath, flat["theta"], int(np.prod(shape)))
    else:
        from ..checks import check_integer

        n_seg = 1024 if args.n_seg is None else args.n_seg
        iterations = 16 if args.iterations is None else args.iterations
        with user_input():  # the steps counted before the size estimate and any allocation
            check_integer("iterations", iterations, 1, 60)
            dynamics.check_window_steps(n_seg, int(np.prod(shape)))
        size_check("neqb", int(np.prod(shape)) * iterations, {}, args.yes)
        # crossing_window checks n_seg, iterations, Θ and NEQB's validity first thing, before any
        # work, and exposes no separate validator yet: a ValueError out of it is such a check.
        with user_input():
            ds = dynamics.crossing_window(drive, bath, flat["theta"], tol=args.tol, n_seg=n_seg, iterations=iterations)
    records = window_records(ds)
    _name_family(records, family, args)
    extra = [k for k in _EXACT_WINDOW_COLUMNS if k in ds]
    for p, rec in enumerate(records):
        rec.update({k: float(ds[k].values[p]) for k in extra})
    outputs = Outputs()
    try:
        if args.out:
            write_records(outputs.temporary(args.out), records, os.path.splitext(args.out)[1], dataset=ds)
        if args.plot:
            save_figure(lambda: plotting.plot_window(ds), outputs, args.plot)
        outputs.commit()
    finally:
        outputs.discard()
    columns = [
        *point_params(ds),
        "eps_minus",
        "eps_minus_err",
        "eps_plus",
        "eps_plus_err",
        "rate_eps_minus",
        "rate_eps_plus",
        "window_dev",
        *(["window_dev_err", "P_LZ", "P_LZ_err"] if extra else []),
    ]
    if args.out:  # as neqb and trajectory: a file instead of the table
        print(f"wrote {args.out}", file=sys.stderr)
        return 0
    print("  ".join(f"{c:>14}" for c in columns))
    for rec in records:
        print("  ".join(f"{rec[c]:>14.6g}" for c in columns))
    return 0


#: the exact window's variables a record carries besides the NEQB window's
_EXACT_WINDOW_COLUMNS = (
    "P_LZ_err",
    "P_ES_err",
    "P_LZ_window_err",
    "P_ES_window_err",
    "window_dev_err",
    "edge_dev_err",
    "converged",
    "eps_x",
    "dt",
    "pt_tol",
)


def _exact_window(args, drive, bath, theta, n: int):
    """The exact window of `lzjax window --engine pt`: flags checked, its steps counted and the
    size estimate made before any work (:func:`lzjax.quapi.crossing.exact_window_steps`)."""
    from ..quapi.crossing import exact_crossing_window, exact_window_steps
    from ..quapi.engines import PT
    from ..quapi.engines.pt import PTSettings

    _refuse(
        [f for f, x in (("--n-seg", args.n_seg), ("--iterations", args.iterations)) if x is not None],
        "to --engine pt (the exact window bisects on its own lattice)",
    )
    if engine_name(args.engine) != "pt":
        raise InputError(
            f"--engine {args.engine}: the exact crossing window runs the process tensor (--engine pt); "
            "the plain ADT cannot switch the bath on mid-protocol"
        )
    with user_input():
        from ..quapi.ladder import check_ladder_tol

        check_ladder_tol(args.tol)
        steps = exact_window_steps(drive, bath, theta, tol=args.tol)
    options = {"dt": 1.0, "tmax": steps / n, "kmax": PTSettings(1, 1e-9), "engine": PT()}
    size_check("quapi", n, options, args.yes)
    with user_input():
        return exact_crossing_window(drive, bath, theta, tol=args.tol, engine="pt")
