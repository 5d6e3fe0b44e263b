"""The `lzjax` command line.

    lzjax neqb --v 0.1,0.3,1 --T 6.4 --gamma 5e-4 --s 3 --omega-c 5 --theta 0 [--delta 1]
               [--tol 1e-6] [--out FILE.json|FILE.csv] [--plot FILE.png] [--store FILE.jsonl]
    lzjax quapi (same parameter flags) --dt 0.1 --kmax 6 --tmax 60 | --tol 1e-3 [--budget 8]
    lzjax trajectory (parameter flags) (--times t1,t2,... | --every N) [--drive linear|tanh|periodic]
               [--engine neqb|quapi] [--out FILE.csv|.json|.nc] [--plot FILE.png]   (see cli_dynamics)
    lzjax window (parameter flags) --tol 1e-4 [--out FILE.csv|.json|.nc]
    lzjax demo [--outdir DIR]
    lzjax --version

Each parameter flag takes one value or a comma-separated list; the run covers their Cartesian
product. `--theta` is in radians and accepts multiples of π (`0.022pi`, `-pi/2`, `pi/4`).
Without `--out` a table is printed. Bad input exits with status 2 and one line on stderr;
every flag and output path is checked before any work, and results are written (atomically)
only when everything, the plot included, has succeeded. Ctrl-C exits with status 130 and one
line. `--store` keeps finished chunks and resumes like :func:`lzjax.sweep`.

Compiled programs are kept between calls in JAX's persistent compilation cache, in
``$XDG_CACHE_HOME/lzjax/jax`` (default ``~/.cache/lzjax/jax``); ``LZJAX_NO_CACHE=1`` turns it off.
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


class OneLineError(Exception):
    pass


def parse_angle(text: str) -> float:
    """'0.3' → 0.3; '0.022pi', '-pi/2', 'pi', '2*pi/3' → multiples of π (radians)."""
    t = text.strip().lower().replace(" ", "").replace("π", "pi")
    match = _PI_FORM.match(t)
    if match:
        sign, factor, divisor = match.groups()
        try:
            value = (float(factor) if factor else 1.0) * math.pi / (float(divisor) if divisor else 1.0)
        except (ValueError, ZeroDivisionError, OverflowError):
            raise OneLineError(f"cannot read angle {text!r} (use radians or e.g. 0.022pi, -pi/2)") from None
        return -value if sign == "-" else value
    try:
        return float(t)
    except ValueError:
        raise OneLineError(f"cannot read angle {text!r} (use radians or e.g. 0.022pi, -pi/2)") from None


def parse_values(flag: str, text: str, angle: bool = False) -> np.ndarray:
    """A comma-separated list of numbers (or angles) for `flag`."""
    if not isinstance(text, str):  # argparse hands over [] for a bare `--` after the flag
        raise OneLineError(f"{flag} needs a number or a comma-separated list of numbers, got {text!r}")
    items = [x for x in text.split(",")]
    if not items or any(not x.strip() for x in items):
        raise OneLineError(f"{flag} needs a number or a comma-separated list of numbers, got {text!r}")
    values = []
    for x in items:
        if angle:
            values.append(parse_angle(x))
        else:
            try:
                values.append(float(x))
            except ValueError:
                raise OneLineError(f"{flag}: cannot read {x.strip()!r} as a number") from None
    return np.asarray(values, dtype=float)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit status 2
        raise OneLineError(message)


def add_physics_flags(p: argparse.ArgumentParser, *, required: bool = True, v_required: bool | None = None,
                      v_help: str = "sweep speed(s) v in Δ² (list: 0.1,0.3,1)",
                      delta_help: str = "tunnel splitting Δ (sets the unit; default 1)") -> None:
    """The drive and bath flags every physics command shares (each one value or a list)."""
    p.add_argument("--v", required=required if v_required is None else v_required, help=v_help)
    p.add_argument("--T", required=required, help="temperature(s) k_B T in Δ (0 allowed)")
    p.add_argument("--gamma", required=required, help="coupling strength(s) γ")
    p.add_argument("--s", required=required, help="spectral exponent(s) s")
    p.add_argument("--omega-c", dest="omega_c", required=required, help="cutoff frequency ω_c in Δ")
    p.add_argument("--theta", default="0", help="coupling angle(s) Θ in radians; 0.022pi, -pi/2 accepted")
    p.add_argument("--delta", default="1", help=delta_help)


def _add_parameter_flags(p: argparse.ArgumentParser, *, required: bool = True) -> None:
    add_physics_flags(p, required=required)
    p.add_argument("--out", help="write results: .json (list of records) or .csv")
    p.add_argument("--plot", help="draw P_LZ (solid) and P_ES (dashed) against v to this PNG/PDF/SVG")
    p.add_argument("--store", help="keep finished chunks in this JSON-lines file; rerun to resume")
    p.add_argument("--chunk-size", dest="chunk_size", type=int, help="points per engine call (default: automatic)")
    p.add_argument("--yes", action="store_true", help="run even when the size estimate is above the hard limit")


def _version() -> str:
    from . import __version__

    return __version__


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lzjax", description="Dissipative Landau-Zener dynamics (NEQB, QUAPI).")
    parser.add_argument("--version", action="version", version=f"lzjax {_version()}")
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
    quapi.add_argument("--budget", type=int, help="convergence mode, --engine adt: largest k_max (default 10)")
    quapi.add_argument("--engine", dest="quapi_engine", default=None, choices=["adt", "pt"],
                       help="convergence mode: exact engine, pt (process tensor: compressed memory, wide "
                            "window; the default) or adt (plain augmented density tensor; the default with --budget)")
    quapi.add_argument("--memory", type=float, help="convergence mode, --engine pt: memory time in 1/Δ (default 6.4)")
    quapi.add_argument("--pt-tol", dest="pt_tol", type=float,
                       help="convergence mode, --engine pt: relative truncation of the compression "
                            "(default 6e-3·tol/steps within [1e-12, 1e-8])")
    quapi.add_argument("--eps-q", dest="eps_q", type=float,
                       help="convergence mode: half-width of the exact QUAPI window in Δ (pt: 5-120, default "
                            "the smallest of 15…100 whose golden-rule tails carry < tol/10 of the relaxation; "
                            "adt: 5-40, default 15)")
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
    fit.add_argument("--engine", default="neqb", choices=["neqb", "quapi", "adt"],
                     help="forward model: neqb (default), quapi (the exact process tensor) or adt (the plain "
                          "augmented density tensor, memory 4^kmax)")
    fit.add_argument("--n-steps", dest="n_steps", type=int, help="neqb: steps of the fixed window (default 512)")
    fit.add_argument("--dt", type=float, help="quapi/adt: Trotter step δt in 1/Δ (with --kmax, --tmax)")
    fit.add_argument("--kmax", type=int, help="quapi/adt: memory length in steps")
    fit.add_argument("--pt-tol", dest="pt_tol", type=float,
                     help="quapi: compression tolerance of the process tensor (default 1e-9)")
    fit.add_argument("--tmax", type=float, help="quapi/adt: protocol duration in 1/Δ (covers the slowest sweep)")
    fit.add_argument("--max-iter", dest="max_iter", type=int, default=100, help="L-BFGS iterations at most (default 100)")
    fit.add_argument("--out", help="write the result to this .json file (else print it)")
    fit.add_argument("--plot", help="draw data with error bars and the fitted curve to this PNG/PDF/SVG")
    fit.add_argument("--yes", action="store_true", help="run even when the size estimate is above the hard limit")
    from .cli_dynamics import add_trajectory_parser, add_window_parser

    add_trajectory_parser(sub)
    add_window_parser(sub)
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
    return grid


def _validate_grid(grid: dict[str, np.ndarray]) -> None:
    """The whole grid, eagerly (names the parameter and its range); after the size check."""
    from .sweep import grid_problem

    grid_problem(**grid)


# -- output paths: checked before any work, written atomically after all of it ------------------
def _writable_folder(folder: str, flag: str) -> None:
    import tempfile

    try:
        handle = tempfile.TemporaryFile(dir=folder)
    except OSError as error:
        raise OneLineError(f"{flag}: cannot write into folder {folder!r} ({error.strerror or error})") from None
    handle.close()


def check_output_path(path: str | None, allowed: tuple[str, ...] | None, flag: str) -> None:
    if path is None:
        return
    ext = os.path.splitext(path)[1].lower()
    if allowed is not None and ext not in allowed:
        raise OneLineError(f"{flag} must end in {' or '.join(allowed)}, got {path!r}")
    if os.path.isdir(path):
        raise OneLineError(f"{flag}: {path!r} is a folder, not a file")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise OneLineError(f"{flag}: {path!r} exists and is not writable")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise OneLineError(f"{flag}: folder {folder!r} does not exist")
    _writable_folder(folder, flag)


def check_distinct(**paths) -> None:
    seen = {}
    for flag, path in paths.items():
        if path is None:
            continue
        key = os.path.realpath(path)
        if key in seen:
            raise OneLineError(f"{seen[key]} and {flag} name the same file {path!r}")
        seen[key] = flag


class Outputs:
    """Files written to temporary names beside their targets, renamed only by `commit()`;
    anything not committed is removed (no `.tmp` left behind)."""

    def __init__(self):
        self.pending: list[tuple[str, str]] = []

    def temporary(self, path: str) -> str:
        from .sweep import temporary_beside

        tmp = temporary_beside(path)
        self.pending.append((tmp, path))
        return tmp

    def commit(self) -> None:
        for tmp, path in self.pending:
            os.replace(tmp, path)
        self.pending.clear()

    def discard(self) -> None:
        from .sweep import remove_quietly

        for tmp, _ in self.pending:
            remove_quietly(tmp)
        self.pending.clear()


def _print_table(result) -> None:
    records = result.records()
    columns = ["v", "T", "gamma", "s", "omega_c", "theta", "delta", "P_LZ", "P_ES", "P_LZ_err", "P_ES_err",
               "dt", "kmax", "memory", "chi", "eps_q", "trace_err", "kappa", "converged", "status"]
    columns = [c for c in columns if c in records[0]]
    print("  ".join(f"{c:>11}" for c in columns))
    for rec in records:
        print("  ".join(f"{rec[c]:>11.6g}" if isinstance(rec[c], float) else f"{rec[c]!s:>11}" for c in columns))


# -- size estimate -----------------------------------------------------------------------------
#: soft (print the estimate) and hard (refuse without --yes) limits in points / CSV rows
LIMITS = {"neqb": (10_000, 1_000_000), "quapi": (64, 4_096), "fit": (2_000, 20_000)}
_HARD_SECONDS = 12 * 3600.0


def _format_seconds(t: float) -> str:
    return f"{t:.0f} s" if t < 120 else f"{t / 60:.0f} min" if t < 7200 else f"{t / 3600:.1f} h"


def _format_bytes(b: float) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= size:
            return f"{b / size:.1f} {unit}"
    return f"{b:.0f} B"


#: seconds per point-step of the process tensor (χ ≲ 32) on the 2-core CPU, rough
_PT_POINT_STEP_S = 2e-5


def _adt_step_seconds(kmax: int) -> float:
    """Seconds per step of the plain ADT on the 2-core CPU, rough: 12 ms at k_max 10, ×4 per unit."""
    return 12e-3 * 4.0 ** (kmax - 10)


def _pt_bytes(chi_max: int, batch: int) -> float:
    """Bytes of a process tensor at `chi_max` and the states of `batch` points (complex128)."""
    return 16 * (16 * chi_max**2 + batch * 24 * chi_max)


def _estimate(kind: str, n: int, options: dict, v=None) -> tuple[float, float]:
    """(seconds, bytes), rough: measured on a busy 2-core CPU (NEQB ~4 ms/point warm + ~15 s
    compiling; QUAPI ~12 ms per step at k_max 10, ×4 per unit of k_max, the process tensor
    ~20 µs per point-step; an NEQB fit ~3 ms and ~25 KiB per CSV row; a QUAPI fit, per model
    evaluation (≈ 8 start-grid points + up to 30 iterations), every row over t_max/dt steps
    with 1 + p tangents and, for the process tensor, a build and its tangent ~2 ms per memory
    step)."""
    if kind == "neqb":
        return 15.0 + 4e-3 * n, 400.0 * n + 64 * 2**20
    if kind == "fit":
        iterations = max(1, options.get("max_iter", 100))
        engine = options.get("engine", "neqb")
        if engine == "neqb":
            return 20.0 + 3e-3 * n * iterations / 100, 25 * 2**10 * n
        from .quapi import estimate_memory_bytes

        kmax, p = int(options["kmax"]), int(options.get("n_params", 1))
        steps = options["tmax"] / options["dt"]
        per_step = _PT_POINT_STEP_S if engine == "quapi" else _adt_step_seconds(kmax)
        build = 2e-3 * kmax * (1 + p) if engine == "quapi" else 0.0
        per_eval = n * steps * per_step * (1 + p) + build
        memory = (_pt_bytes(options.get("chi_max", 512), n) if engine == "quapi"
                  else estimate_memory_bytes(kmax, n))
        return 20.0 + (8 + min(iterations, 30)) * per_eval, memory
    from .quapi import estimate_memory_bytes
    from .sweep import quapi_method

    if quapi_method(options) == "pt":  # ~20 µs per point-step (χ ≲ 32), six runs, ε_q ~ 60, δt 0.02
        v_typ = float(np.median(v)) if v is not None else 1.0
        steps = 2 * options.get("eps_q", 60.0) / v_typ / 0.02
        return 20.0 + n * 6 * steps * _PT_POINT_STEP_S, _pt_bytes(512, min(n, 256))
    kmax = int(options.get("kmax") or options.get("budget") or 10)
    per_step = _adt_step_seconds(kmax)
    if "dt" in options:
        steps = options["tmax"] / options["dt"]
        rungs = 1
    else:  # the ladder: about four rungs over the exact window 2 eps_q / v at dt ~ 0.1
        v_typ = float(np.median(v)) if v is not None else 1.0
        steps = 2 * options.get("eps_q", 15.0) / v_typ / 0.1
        rungs = 4
    seconds = 20.0 + n * rungs * steps * per_step
    return seconds, estimate_memory_bytes(kmax, min(n, 4096))


def size_check(kind: str, n: int, options: dict, yes: bool, v=None) -> None:
    soft, hard = LIMITS[kind]
    seconds, memory = _estimate(kind, n, options, v)
    what = "CSV rows" if kind == "fit" else "grid points"
    if n <= soft and seconds < 600:
        return
    line = (f"{n} {what}: estimated {_format_seconds(seconds)} and {_format_bytes(memory)} "
            f"(rough; measured on a 2-core CPU)")
    if (n > hard or seconds > _HARD_SECONDS) and not yes:
        raise OneLineError(f"{line}; above the limit of {hard} {what} or {_format_seconds(_HARD_SECONDS)}: "
                            "pass --yes to run anyway")
    print(f"lzjax: {line}", file=sys.stderr)


def _n_points(grid: dict[str, np.ndarray]) -> int:
    return int(np.prod([len(x) for x in grid.values()], dtype=object))


# -- commands ----------------------------------------------------------------------------------
def _check_sweep_paths(args) -> None:
    check_output_path(args.out, (".json", ".csv"), "--out")
    check_output_path(args.plot, (".png", ".pdf", ".svg"), "--plot")
    check_output_path(args.store, None, "--store")
    check_distinct(**{"--out": args.out, "--plot": args.plot, "--store": args.store})
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise OneLineError("--plot needs matplotlib (pip install 'lzjax[plot]')") from None
    if args.chunk_size is not None and args.chunk_size < 1:
        raise OneLineError(f"--chunk-size must be a positive integer, got {args.chunk_size}")


def _run_sweep(engine: str, args, options: dict) -> int:
    from .sweep import sweep

    grid = _grid_from_args(args)
    size_check(engine, _n_points(grid), options, args.yes, grid["v"])
    _validate_grid(grid)
    result = sweep(engine, progress=engine == "quapi", store=args.store, chunk_size=args.chunk_size,
                   **options, **grid)
    _emit(result, args.out, args.plot)
    return 0


def _run_neqb(args) -> int:
    _check_sweep_paths(args)
    if not (1e-12 <= args.tol <= 1e-2):
        raise OneLineError(f"--tol must be in [1e-12, 1e-2], got {args.tol!r}")
    return _run_sweep("neqb", args, {"tol": args.tol})


def _run_quapi(args) -> int:
    _check_sweep_paths(args)
    fixed = {"--dt": args.dt, "--kmax": args.kmax, "--tmax": args.tmax}
    ladder = {"--tol": args.tol, "--budget": args.budget, "--eps-q": args.eps_q,
              "--compensate": args.compensate or None, "--engine": args.quapi_engine,
              "--memory": args.memory, "--pt-tol": args.pt_tol}
    given_fixed = [k for k, x in fixed.items() if x is not None]
    given_ladder = [k for k, x in ladder.items() if x is not None]
    if given_fixed and given_ladder:
        raise OneLineError(f"{', '.join(given_ladder)} belong to convergence mode (--tol), not to fixed "
                            f"settings {', '.join(given_fixed)}; give one mode")
    if given_fixed:
        if len(given_fixed) < 3:
            missing = [k for k in fixed if fixed[k] is None]
            raise OneLineError(f"fixed settings need --dt, --kmax and --tmax together; missing {', '.join(missing)}")
        options = {"dt": args.dt, "kmax": args.kmax, "tmax": args.tmax}
    elif args.tol is not None and (args.quapi_engine or ("adt" if args.budget is not None else "pt")) == "pt":
        wrong = [k for k, x in (("--budget", args.budget),) if x is not None]
        if wrong:
            raise OneLineError(f"{', '.join(wrong)} belong(s) to --engine adt, not to --engine pt")
        options = {"tol": args.tol, "method": "pt"}
        for key, value in (("eps_q", args.eps_q), ("memory", args.memory), ("pt_tol", args.pt_tol)):
            if value is not None:
                options[key] = value
        if args.compensate:
            options["compensate"] = True
    elif args.tol is not None:
        wrong = [k for k, x in (("--memory", args.memory), ("--pt-tol", args.pt_tol)) if x is not None]
        if wrong:
            raise OneLineError(f"{', '.join(wrong)} belong(s) to --engine pt, not to --engine adt")
        options = {"tol": args.tol, "budget": 10 if args.budget is None else args.budget,
                   "eps_q": 15.0 if args.eps_q is None else args.eps_q}
        if args.compensate:
            options["compensate"] = True
    elif given_ladder:
        raise OneLineError(f"{', '.join(given_ladder)} need --tol (convergence mode)")
    else:
        raise OneLineError("quapi needs --dt, --kmax and --tmax together, or --tol")
    return _run_sweep("quapi", args, options)


def _describe(rec: dict) -> str:
    return "(" + ", ".join(f"{k}={rec[k]:g}" for k in ("v", "T", "gamma", "s", "omega_c", "theta")) + ")"


def _points(records: list[dict], index: np.ndarray) -> str:
    shown = ", ".join(_describe(records[i]) for i in index[:3])
    return f"{shown}{', ...' if index.size > 3 else ''}"


def _emit(result, out, plot) -> None:
    status = np.asarray(result["status"]).ravel()
    broken = np.flatnonzero(status == "not finite")
    if broken.size:
        first = result.records()[int(broken[0])]
        raise OneLineError(
            f"{broken.size} point(s) gave non-finite probabilities (first: {_describe(first)[1:-1]}; "
            "the rates overflow float64); nothing written"
        )
    outputs = Outputs()
    try:
        if out:
            tmp = outputs.temporary(out)
            result._write(tmp, os.path.splitext(out)[1].lower())
        if plot:
            tmp = outputs.temporary(plot)
            figure = result.plot()
            figure.savefig(tmp, dpi=120, format=os.path.splitext(plot)[1].lower()[1:])
        outputs.commit()  # only now, with everything (the plot included) done
    finally:
        outputs.discard()
    if not out:
        _print_table(result)
    records = result.records()
    unphysical = np.flatnonzero(status == "unphysical")
    if unphysical.size:
        print(f"lzjax: warning: {unphysical.size} point(s) unphysical (a probability outside [0, 1] or a trace "
              f"defect beyond the error): values null, status 'unphysical'; refine the settings or use --tol: "
              f"{_points(records, unphysical)}", file=sys.stderr)
    beyond = np.flatnonzero(status == "beyond weak coupling")
    if beyond.size:
        from .neqb import KAPPA_MAX

        kappa = np.asarray(result["kappa"]).ravel()[beyond]
        print(f"lzjax: warning: {beyond.size} point(s) beyond NEQB's weak coupling (kappa = 1 - Delta_eff/Delta up "
              f"to {kappa.max():.3g} > {KAPPA_MAX:g}; NEQB's model error grows like kappa): use lzjax quapi: "
              f"{_points(records, beyond)}", file=sys.stderr)
    bad = np.flatnonzero(status == "not converged")
    if bad.size:
        print(f"lzjax: warning: {bad.size} point(s) did not reach the requested tolerance (see *_err): "
              f"{_points(records, bad)}", file=sys.stderr)
    if np.any(status == "unchecked"):
        print("lzjax: note: fixed settings, convergence not checked (P_*_err null); use --tol", file=sys.stderr)


def _single(flag: str, text: str, angle: bool = False) -> float:
    values = parse_values(flag, text, angle=angle)
    if values.size != 1:
        raise OneLineError(f"{flag} takes one value for a fit, got {text!r}")
    return float(values[0])


#: compression tolerance of `lzjax fit --engine quapi` unless --pt-tol is given
FIT_PT_TOL = 1e-9


def _run_fit(args) -> int:
    """Validate everything (paths, flags, the whole CSV) before fitting; write only at the end."""
    import json

    from .fit import FITTABLE, check_engine_options, fit_curve, load_curve_csv
    from .plotting import plot_fit

    check_output_path(args.out, (".json",), "--out")
    check_output_path(args.plot, (".png", ".pdf", ".svg"), "--plot")
    check_distinct(**{"--out": args.out, "--plot": args.plot})
    names = tuple(x.strip() for x in args.fit.split(","))
    if not all(names) or any(n not in FITTABLE for n in names) or len(set(names)) != len(names):
        raise OneLineError(f"--fit must be distinct names from {','.join(FITTABLE)}, got {args.fit!r}")
    known = {"s": _single("--s", args.s), "omega_c": _single("--omega-c", args.omega_c),
             "T": _single("--T", args.T), "theta": _single("--theta", args.theta, angle=True),
             "delta": _single("--delta", args.delta)}
    gamma0 = None if args.gamma0 is None else _single("--gamma0", args.gamma0)
    quapi_flags = {"dt": args.dt, "kmax": args.kmax, "tmax": args.tmax}
    if args.engine in ("quapi", "adt"):
        if args.n_steps is not None:
            raise OneLineError(f"--n-steps belongs to --engine neqb, not to --engine {args.engine}")
        if any(x is None for x in quapi_flags.values()):
            raise OneLineError(f"--engine {args.engine} needs --dt, --kmax and --tmax (fixed settings)")
        options = dict(quapi_flags)
        if args.engine == "quapi":
            options["pt_tol"] = FIT_PT_TOL if args.pt_tol is None else args.pt_tol
        elif args.pt_tol is not None:
            raise OneLineError("--pt-tol belongs to --engine quapi (the process tensor), not to --engine adt")
    else:
        given = [f"--{k.replace('_', '-')}" for k, x in dict(quapi_flags, pt_tol=args.pt_tol).items() if x is not None]
        if given:
            raise OneLineError(f"{', '.join(given)} belong to --engine quapi/adt")
        options = {"n_steps": 512 if args.n_steps is None else args.n_steps}
    check_engine_options("neqb" if args.engine == "neqb" else "quapi", options)  # before the size estimate
    v, P, sigma = load_curve_csv(args.data, n_params=len(names))
    size_check("fit", len(v), dict(options, max_iter=args.max_iter, engine=args.engine, n_params=len(names)), args.yes)
    result = fit_curve(v, P, sigma, gamma0=gamma0, fit=names, engine="neqb" if args.engine == "neqb" else "quapi",
                       engine_options=options,
                       max_iter=args.max_iter, **known)
    record = result.to_dict()
    text = json.dumps(record, indent=2)
    outputs = Outputs()
    try:
        if args.plot:
            figure = plot_fit(result, v, P, sigma)
            figure.savefig(outputs.temporary(args.plot), dpi=120, format=os.path.splitext(args.plot)[1].lower()[1:])
        if args.out:
            with open(outputs.temporary(args.out), "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
        outputs.commit()
    finally:
        outputs.discard()
    if not args.out:
        print(text)
    summary = ", ".join(f"{n} = {record[n]:.6g} ± {record[n + '_err']:.2g}" for n in result.names)
    print(f"lzjax fit: {summary}; chi2/dof = {result.chi2_dof:.3g}, {result.iterations} iterations, "
          f"converged = {result.converged}", file=sys.stderr)
    for warning in result.warnings:
        print(f"lzjax: warning: {warning}", file=sys.stderr)
    return 0


def _run_demo(args) -> int:
    from .sweep import sweep

    if os.path.exists(args.outdir) and not os.path.isdir(args.outdir):
        raise OneLineError(f"--outdir: {args.outdir!r} exists and is not a folder")
    csv_path = os.path.join(args.outdir, "fig1_neqb.csv")
    png_path = os.path.join(args.outdir, "fig1_neqb.png")
    if os.path.isdir(args.outdir):
        check_output_path(csv_path, (".csv",), "--outdir")
        check_output_path(png_path, (".png",), "--outdir")
    else:
        parent = os.path.dirname(os.path.abspath(args.outdir))
        if not os.path.isdir(parent):
            raise OneLineError(f"--outdir: folder {parent!r} does not exist")
        _writable_folder(parent, "--outdir")
    print("lzjax demo: NEQB, paper Fig. 1 parameters (Θ = 0, γ = 5e-4, s = 3, ω_c = 5Δ)", file=sys.stderr)
    result = sweep(
        "neqb", v=np.geomspace(0.01, 10.0, 31), T=[0.0, 1.6, 6.4, 25.6],
        gamma=5e-4, s=3.0, omega_c=5.0, theta=0.0, tol=1e-6, progress=True,
    )
    os.makedirs(args.outdir, exist_ok=True)
    _emit(result, csv_path, png_path)
    v = result.coords["v"]
    slow = v < 1.0  # the relaxation dip lies in the adiabatic regime v < Δ²
    p_lz = result["P_LZ"].reshape(len(v), -1)[slow]
    for j, T in enumerate(result.coords["T"]):
        i = int(np.argmin(p_lz[:, j]))
        if 0 < i < int(np.sum(slow)) - 1:
            print(f"T = {T:5.1f}: P_LZ has its minimum for v < Δ² at v = {v[slow][i]:.3g}: {p_lz[i, j]:.4f}")
        else:  # no dip inside the sampled range, only its edge
            print(f"T = {T:5.1f}: no minimum inside {v[0]:.3g} ≤ v < Δ²; smallest sampled P_LZ {p_lz[i, j]:.4f} "
                  f"at the range edge v = {v[slow][i]:.3g}")
    print(f"wrote {csv_path} and {png_path}")
    return 0


_VALUE_FLAGS = {"--v", "--T", "--gamma", "--s", "--omega-c", "--theta", "--delta", "--times", "--eps-start",
                "--eps-end", "--eps0", "--t-start", "--t-end", "--amplitude"}


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


def _enable_compilation_cache() -> str | None:
    """JAX's persistent compilation cache in a user cache folder (opt out: LZJAX_NO_CACHE=1)."""
    if os.environ.get("LZJAX_NO_CACHE", "").strip().lower() not in ("", "0", "false", "no"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "lzjax", "jax")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return None  # no cache rather than no run
    import jax

    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.05)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path


def main(argv: list[str] | None = None) -> int:
    argv = _join_negative_values(list(sys.argv[1:] if argv is None else argv))
    try:
        parser = _build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as done:  # --help, --version
            return int(done.code or 0)
        if args.command is None:
            raise OneLineError("choose a command: neqb, quapi, fit, trajectory, window, demo (see lzjax --help)")
        _enable_compilation_cache()
        if args.command == "neqb":
            return _run_neqb(args)
        if args.command == "quapi":
            return _run_quapi(args)
        if args.command == "fit":
            return _run_fit(args)
        if args.command in ("trajectory", "window"):
            from .cli_dynamics import run_trajectory, run_window

            return (run_trajectory if args.command == "trajectory" else run_window)(args)
        return _run_demo(args)
    except (OneLineError, ValueError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"lzjax: error: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`lzjax ... | head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt as interrupt:
        from .store import SweepInterrupted

        print(f"lzjax: {interrupt}" if isinstance(interrupt, SweepInterrupted) else "lzjax: interrupted",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
