"""What every `lzjax` subcommand shares: the input-error class, reading values and angles, the
physics flags, output-path checks and the atomic writer of outputs.

Nothing here computes; the heavy modules (jax, the engines, matplotlib) are imported lazily.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
from typing import Any

import numpy as np

__all__ = [
    "InputError",
    "user_input",
    "parse_angle",
    "parse_values",
    "single",
    "Parser",
    "add_physics_flags",
    "FAMILY_FLAGS",
    "add_family_flags",
    "parameter_flag",
    "family_from_args",
    "family_lists",
    "family_bath",
    "check_output_path",
    "check_distinct",
    "writable_folder",
    "require_matplotlib",
    "Outputs",
    "save_figure",
    "file_error_message",
    "ENGINE_ALIASES",
    "engine_choices",
    "engine_name",
    "ENGINE_FLAGS",
    "add_engine_flags",
    "engine_settings",
    "exact_engine",
]

#: `--engine` means the same engines in every subcommand: "neqb" (where it applies) and the exact
#: engines of :data:`lzjax.quapi.ENGINES` ("pt", the process tensor; "adt", the plain augmented
#: density tensor); "quapi" is an alias of the default exact engine, the process tensor
ENGINE_ALIASES = {"quapi": "pt"}


def engine_choices(neqb: bool = False) -> list[str]:
    """The choices of `--engine`: ["neqb"] (if it applies), the registry's names, the aliases."""
    from ..quapi.engines import ENGINES

    return ["neqb"] * neqb + [*ENGINES, *ENGINE_ALIASES]


def engine_name(name: str) -> str:
    """The engine an `--engine` choice names (an alias resolved)."""
    return ENGINE_ALIASES.get(name, name)


#: flags of an exact engine's own settings at fixed settings (flag -> the engine's field)
ENGINE_FLAGS = {"--memory": "memory_time", "--pt-tol": "pt_tol"}


def add_engine_flags(p: argparse.ArgumentParser, engine_help: str) -> None:
    """`--engine` (neqb, the exact engines, the alias quapi) and the exact engine's memory and
    settings at fixed settings: --kmax (steps), --memory (the memory time), --pt-tol."""
    p.add_argument("--engine", default="neqb", choices=engine_choices(neqb=True), help=engine_help)
    p.add_argument("--kmax", type=int, help="pt/adt: memory length in steps (adt: required)")
    p.add_argument(
        "--memory", type=float, help="pt: memory time in 1/Δ instead of --kmax (default 6.4: K = round(memory/dt))"
    )
    p.add_argument(
        "--pt-tol", dest="pt_tol", type=float, help="pt: compression tolerance of the process tensor (default 1e-9)"
    )


def engine_settings(args) -> dict:
    """The exact engine's settings given by the flags of :data:`ENGINE_FLAGS` (field -> value)."""
    values = {key: getattr(args, flag[2:].replace("-", "_")) for flag, key in ENGINE_FLAGS.items()}
    return {key: x for key, x in values.items() if x is not None}


def exact_engine(args):
    """The exact engine that `--engine` names, configured by its flags (:data:`ENGINE_FLAGS`); a
    flag the engine does not take, or --kmax with --memory, is an :class:`InputError`."""
    from ..quapi.engines import get_engine

    engine = get_engine(engine_name(args.engine))
    settings = engine_settings(args)
    wrong = [flag for flag, key in ENGINE_FLAGS.items() if key in settings and key not in engine.ladder_options]
    if wrong:
        raise InputError(
            f"{', '.join(wrong)} {'does' if len(wrong) == 1 else 'do'} not apply to --engine {args.engine} "
            f"(its settings: {', '.join(engine.ladder_options)})"
        )
    if args.kmax is not None and "memory_time" in settings:
        raise InputError("--kmax (memory steps) and --memory (memory time) give the same memory: give one")
    with user_input():
        return engine.configured(**settings)


class InputError(Exception):
    """Bad user input: `main` prints its first line as ``lzjax: error: ...`` and exits with 2."""


@contextlib.contextmanager
def user_input(prefix: str = ""):
    """Turn a library validator's ValueError into an :class:`InputError` (its message names the
    parameter and its range). Wrap only calls whose ValueError means bad input, never the work."""
    try:
        yield
    except ValueError as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(prefix + message) from error


_PI_FORM = re.compile(r"^([+-]?)([0-9.eE+-]*)\*?pi(?:/([0-9.eE+-]+))?$")


def parse_angle(text: str) -> float:
    """'0.3' → 0.3; '0.022pi', '-pi/2', 'pi', '2*pi/3' → multiples of π (radians)."""
    t = text.strip().lower().replace(" ", "").replace("π", "pi")
    match = _PI_FORM.match(t)
    if match:
        sign, factor, divisor = match.groups()
        try:
            value = (float(factor) if factor else 1.0) * math.pi / (float(divisor) if divisor else 1.0)
        except (ValueError, ZeroDivisionError, OverflowError):
            raise InputError(f"cannot read angle {text!r} (use radians or e.g. 0.022pi, -pi/2)") from None
        return -value if sign == "-" else value
    try:
        return float(t)
    except ValueError:
        raise InputError(f"cannot read angle {text!r} (use radians or e.g. 0.022pi, -pi/2)") from None


def parse_values(flag: str, text: object, angle: bool = False) -> np.ndarray:
    """A comma-separated list of numbers (or angles) for `flag`."""
    if not isinstance(text, str):  # argparse hands over [] for a bare `--` after the flag
        raise InputError(f"{flag} needs a number or a comma-separated list of numbers, got {text!r}")
    items = [x for x in text.split(",")]
    if not items or any(not x.strip() for x in items):
        raise InputError(f"{flag} needs a number or a comma-separated list of numbers, got {text!r}")
    values = []
    for x in items:
        if angle:
            values.append(parse_angle(x))
        else:
            try:
                values.append(float(x))
            except ValueError:
                raise InputError(f"{flag}: cannot read {x.strip()!r} as a number") from None
    return np.asarray(values, dtype=float)


def single(flag: str, text: str, angle: bool = False) -> float:
    """One value for `flag` (a fit takes no lists)."""
    values = parse_values(flag, text, angle=angle)
    if values.size != 1:
        raise InputError(f"{flag} takes one value for a fit, got {text!r}")
    return float(values[0])


class _StoreOnce(argparse._StoreAction):
    """argparse's `store`, refusing a flag given twice (argparse would keep the last value)."""

    def __call__(self, parser, namespace, values, option_string=None):
        seen = parser.__dict__.setdefault("_lzjax_seen", set())
        if self.dest in seen:
            raise InputError(f"{'/'.join(self.option_strings)} given more than once (give each flag once)")
        seen.add(self.dest)
        super().__call__(parser, namespace, values, option_string)


class Parser(argparse.ArgumentParser):
    """One-line errors (exit status 2), each value flag at most once, and negative numbers in
    any form (``--tol -1e-3``) read as values, not flags: the range checks then name them."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register("action", None, _StoreOnce)
        self.register("action", "store", _StoreOnce)
        # argparse's own pattern misses exponents (-1e-3) and so takes them for flags
        self._negative_number_matcher = re.compile(r"^-(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$|^-(?:inf|nan)$", re.I)

    def parse_known_args(self, args=None, namespace=None):  # pyright: ignore[reportIncompatibleMethodOverride]
        self.__dict__["_lzjax_seen"] = set()
        return super().parse_known_args(args, namespace)

    def error(self, message):  # one line, exit status 2
        raise InputError(message)


def add_physics_flags(
    p: argparse.ArgumentParser,
    *,
    required: bool = True,
    v_required: bool | None = None,
    v_help: str = "sweep speed(s) v in Δ² (list: 0.1,0.3,1)",
    delta_help: str = "tunnel splitting Δ (sets the unit; default 1)",
    families: bool = False,
) -> None:
    """The drive and bath flags every physics command shares (each one value or a list); with
    `families`, --family and the other families' flags too (:func:`add_family_flags`), and
    --gamma, --s, --omega-c required only by the default family (:func:`family_from_args`)."""
    p.add_argument("--v", required=required if v_required is None else v_required, help=v_help)
    p.add_argument("--T", required=required, help="temperature(s) k_B T in Δ (0 allowed)")
    bath_required = required and not families
    p.add_argument("--gamma", required=bath_required, help="coupling strength(s) γ (exponential, gaussian)")
    p.add_argument("--s", required=bath_required, help="spectral exponent(s) s (exponential, gaussian)")
    p.add_argument(
        "--omega-c", dest="omega_c", required=bath_required, help="cutoff frequency ω_c in Δ (exponential, gaussian)"
    )
    p.add_argument("--theta", default="0", help="coupling angle(s) Θ in radians; 0.022pi, -pi/2 accepted")
    p.add_argument("--delta", default="1", help=delta_help)
    if families:
        add_family_flags(p)


#: the flags of the families' parameters besides --T (flag -> parameter of lzjax.spectral)
FAMILY_FLAGS = {
    "--gamma": "gamma",
    "--s": "s",
    "--omega-c": "omega_c",
    "--lam": "lam",
    "--gamma-d": "gamma_d",
    "--omega-0": "omega_0",
    "--gamma-b": "gamma_b",
    "--scale": "scale",
}


def parameter_flag(name: str) -> str:
    """The flag of a family parameter: omega_c -> --omega-c, lam -> --lam, T -> --T."""
    return "--" + name.replace("_", "-")


def add_family_flags(p: argparse.ArgumentParser) -> None:
    """--family, the parameters of the families beyond the paper's, and --spectral-density."""
    p.add_argument(
        "--family",
        help="spectral density G(ω) (lzjax.spectral): exponential (the paper's γ ω^s e^(−ω/ω_c)/π, "
        "the default; --gamma --s --omega-c), gaussian (γ ω^s e^(−ω²/ω_c²)/π; --gamma --s --omega-c), "
        "drude-lorentz (--lam --gamma-d), brownian (--lam --omega-0 --gamma-b), tabulated "
        "(--spectral-density FILE [--scale]), or a sum of them but tabulated joined by + "
        "(gaussian+gaussian: each flag one field per part that has it, separated by ':', --s 3:1)",
    )
    p.add_argument("--lam", help="drude-lorentz, brownian: reorganisation energy λ = ∫G/ω dω in Δ")
    p.add_argument("--gamma-d", dest="gamma_d", help="drude-lorentz: Debye frequency γ_D in Δ")
    p.add_argument("--omega-0", dest="omega_0", help="brownian: oscillator frequency ω_0 in Δ")
    p.add_argument("--gamma-b", dest="gamma_b", help="brownian: oscillator damping γ_b in Δ")
    p.add_argument("--scale", help="tabulated: multiplier of the table's G (default 1)")
    p.add_argument(
        "--spectral-density",
        dest="spectral_density",
        help="a table of G(ω): CSV with a header line omega,G (ω in Δ, G as in lzjax.spectral); "
        "implies --family tabulated",
    )


def family_from_args(args, *, skip: tuple[str, ...] = ()) -> tuple[str, dict[str, tuple[str, str]]]:
    """(family name, {parameter: (flag, text)} of its parameters given by flags, T included)
    from --family and --spectral-density; a missing parameter, a flag of another family or a
    table without its file is an :class:`InputError`. `skip`: parameters the command reads
    otherwise. A sum ("gaussian+gaussian", :func:`lzjax.spectral.sum_parts`) takes from each
    flag one field per part that has the parameter, separated by ":" (``--s 3:1``; each field a
    value or a list), as "s[0]", "s[1]" (shown as --s[0], --s[1]); --T is the one temperature."""
    from ..spectral import Tabulated, family_class, family_key, family_parameters, sum_parts

    table = getattr(args, "spectral_density", None)
    chosen = args.family if args.family is not None else ("tabulated" if table is not None else "exponential")
    try:
        parts = sum_parts(chosen)
        cls = None if parts is not None else family_class(chosen)
        name = family_key(chosen)
    except ValueError:
        raise InputError(
            "--family must be exponential, gaussian, drude-lorentz, brownian or tabulated, or a sum of them "
            f"but tabulated joined by + (gaussian+gaussian), got {chosen!r}"
        ) from None
    shown = name.replace("_", "-")  # as the flag is spelled
    if cls is Tabulated and table is None:
        raise InputError("--family tabulated needs --spectral-density FILE.csv (header omega,G)")
    if cls is not Tabulated and table is not None:
        raise InputError(f"--spectral-density is a tabulated density, not --family {chosen}")
    params = family_parameters(chosen)
    bare = {n.partition("[")[0] for n in params}
    wrong = [f for f, key in FAMILY_FLAGS.items() if getattr(args, key, None) is not None and key not in bare]
    if wrong:
        own = ", ".join(dict.fromkeys(parameter_flag(n.partition("[")[0]) for n in params))
        raise InputError(
            f"{', '.join(wrong)} {'does' if len(wrong) == 1 else 'do'} not apply to --family {shown} "
            f"(its parameters: {own})"
        )
    given = _sum_flags(args, parts, shown) if parts is not None else _flags(args, params)
    optional = ("T", "scale", *skip)
    missing = [parameter_flag(n) for n in params if n not in optional and n not in given]
    if missing:
        raise InputError(f"the following arguments are required: {', '.join(missing)}")
    return name, {n: x for n, x in given.items() if n not in skip}


def family_lists(args) -> tuple[str, dict[str, np.ndarray]]:
    """(family name, {parameter: values}) from the family flags (:func:`family_from_args`): --T
    first, then the family's other parameters in its order, each parsed as one value or a list."""
    family, given = family_from_args(args)
    lists = {"T": parse_values("--T", args.T)}
    lists.update({n: parse_values(flag, text) for n, (flag, text) in given.items() if n != "T"})
    return family, lists


def family_bath(family: str, values: dict[str, Any], table_path: str | None):
    """The spectral density of `family` from its parameter `values` (:func:`lzjax.spectral.build_family`)
    and, for a table, the CSV at `table_path`: a bad value or file is one line naming it."""
    from ..spectral import build_family, load_table_csv

    with user_input():
        table = load_table_csv(table_path) if table_path is not None else ()
        return build_family(family, values, table)


def _flags(args, params) -> dict[str, tuple[str, str]]:
    """{parameter: (flag, text)} of the parameters given by their flags."""
    return {n: (parameter_flag(n), getattr(args, n)) for n in params if getattr(args, n, None) is not None}


def _sum_flags(args, parts, shown: str) -> dict[str, tuple[str, str]]:
    """{"s[i]": ("--s[i]", field i)}: each flag's ":"-separated fields in order to the parts that
    have the parameter (:func:`family_from_args`)."""
    from ..spectral import family_parameters

    given = _flags(args, ["T"])
    for key in FAMILY_FLAGS.values():
        text = getattr(args, key, None)
        takers = [i for i, cls in enumerate(parts) if key in family_parameters(cls)]
        if text is None or not takers:
            continue
        fields = text.split(":") if isinstance(text, str) else [text]
        if len(fields) != len(takers):
            raise InputError(
                f"{parameter_flag(key)} needs {len(takers)} field(s) separated by ':' for --family {shown} "
                f"(one per part that has {key}), got {text!r}"
            )
        given.update({f"{key}[{i}]": (parameter_flag(f"{key}[{i}]"), x) for i, x in zip(takers, fields, strict=True)})
    return given


# -- output paths: checked before any work, written atomically after all of it ------------------
def writable_folder(folder: str, flag: str) -> None:
    import tempfile

    try:
        handle = tempfile.TemporaryFile(dir=folder)
    except OSError as error:
        raise InputError(f"{flag}: cannot write into folder {folder!r} ({error.strerror or error})") from None
    handle.close()


def check_output_path(path: str | None, allowed: tuple[str, ...] | None, flag: str) -> None:
    if path is None:
        return
    if not path.strip():
        raise InputError(f"{flag} needs a file name, got {path!r}")
    if path.endswith(("/", os.sep)):
        raise InputError(f"{flag}: {path!r} names a folder, not a file")
    ext = os.path.splitext(path)[1].lower()
    if allowed is not None and ext not in allowed:
        raise InputError(f"{flag} must end in {' or '.join(allowed)}, got {path!r}")
    if os.path.isdir(path):
        raise InputError(f"{flag}: {path!r} is a folder, not a file")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise InputError(f"{flag}: {path!r} exists and is not writable")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(f"{flag}: folder {folder!r} does not exist")
    writable_folder(folder, flag)


def check_distinct(**paths) -> None:
    seen = {}
    for flag, path in paths.items():
        if path is None:
            continue
        key = os.path.realpath(path)
        if key in seen:
            raise InputError(f"{seen[key]} and {flag} name the same file {path!r}")
        seen[key] = flag


def require_matplotlib(plot: str | None) -> None:
    if plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise InputError("--plot needs matplotlib (pip install 'lzjax[plot]')") from None


def require_netcdf(out: str | None) -> None:
    if out and out.lower().endswith(".nc"):
        from ..writers import netcdf_engine

        if netcdf_engine() is None:
            raise InputError("--out .nc needs netCDF4, h5netcdf or scipy installed")


class Outputs:
    """Files written to temporary names beside their targets, renamed only by `commit()`;
    anything not committed is removed (no `.tmp` left behind). A committed file gets the
    permissions a plain write would give it (:func:`lzjax.writers.publish`: the umask, or those
    of the file it replaces), and is fsynced before its rename."""

    def __init__(self):
        self.pending: list[tuple[str, str]] = []

    def temporary(self, path: str) -> str:
        from ..sweeps import temporary_beside

        tmp = temporary_beside(path)
        self.pending.append((tmp, path))
        return tmp

    def commit(self) -> None:
        from ..writers import publish

        for tmp, path in self.pending:
            publish(tmp, path)
        self.pending.clear()

    def discard(self) -> None:
        from ..sweeps import remove_quietly

        for tmp, _ in self.pending:
            remove_quietly(tmp)
        self.pending.clear()


def save_figure(draw, outputs: Outputs, path: str) -> None:
    """Draw with `draw()` (a function returning a matplotlib Figure) and save it to a temporary
    beside `path`. A plot that fails (ValueError) is reported as one line naming --plot, and as
    it comes before `outputs.commit()`, nothing at all is written."""
    from ..writers import name_file_errors

    with user_input("--plot: "):
        figure = draw()
    with name_file_errors(path):
        figure.savefig(outputs.temporary(path), dpi=120, format=os.path.splitext(path)[1].lower()[1:])


_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.[A-Za-z0-9_]+\.tmp$")  # lzjax.sweeps.temporary_beside


def file_error_message(error: OSError, flags: dict[str, str | None]) -> str:
    """One line for a file error (a full disk, a folder gone or made read-only during the run):
    the flag and the file it names (a temporary name beside a target counts as the target, the
    lock of a store as the store), and the system's reason."""
    names = [n for n in (error.filename, error.filename2) if isinstance(n, (str, bytes, os.PathLike))]
    name = os.fsdecode(names[0]) if names else None
    if name is not None:
        folder, base = os.path.split(name)
        match = _TEMPORARY.match(base)
        if match:
            name = os.path.join(folder, match.group("name"))
    reason = error.strerror or (os.strerror(error.errno) if error.errno else str(error) or type(error).__name__)
    if name is None:
        return reason
    real = os.path.realpath(name)
    for flag, path in flags.items():
        if path and real in (os.path.realpath(path), os.path.realpath(path + ".lock")):
            return f"{flag} {path!r}: {reason}"
    return f"{name!r}: {reason}"
