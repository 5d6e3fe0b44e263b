"""Cartesian sweeps over (v, T, Θ, ω_c, γ, s, Δ): one batched engine call, labelled results.

    res = lzjax.sweep("neqb", v=np.geomspace(0.01, 10, 40), T=[1.6, 6.4], gamma=5e-4, s=3, omega_c=5)
    res.save("fig1.csv"); res.plot("fig1.png"); ds = res.to_xarray()

Every parameter accepts a scalar or a 1-D sequence; the grid is their Cartesian product in the
fixed order of :data:`PARAMETERS` (dimensions of length one are kept as coordinates but
squeezed away from `dims`). Another spectral density (:mod:`lzjax.spectral`) is chosen by
`family` and swept over its own parameters (:func:`grid_parameters`):

    lzjax.sweep("neqb", family="drude-lorentz", lam=[0.01, 0.02], gamma_d=5.0, T=1.0, v=[0.1, 1.0])
    lzjax.sweep("neqb", family="tabulated", table="G.csv", T=1.0, scale=[0.5, 1.0], v=1.0)

A sum of families is named by its parts joined with "+", its parameters by the part's index
(one T): ``lzjax.sweep("neqb", family="gaussian+gaussian", T=1.0, v=1.0, **{"gamma[0]": [1e-3,
2e-3], "s[0]": 3, "omega_c[0]": 2, "gamma[1]": 1e-4, "s[1]": 1, "omega_c[1]": 2})``.
 The batch is evaluated in one vmapped call per convergence level —
never a Python loop over points.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from typing import Any

import jax
import numpy as np

from .checks import check_path, parameter_values, real_values
from .model import Bath, Drive, LZProblem, flatten_problem
from .spectral import (
    Tabulated,
    build_family,
    family_class,
    family_key,
    family_parameters,
    load_table_csv,
    sum_parts,
)
from .writers import publish

__all__ = [
    "PARAMETERS",
    "DRIVE_PARAMETERS",
    "SweepResult",
    "sweep",
    "grid_problem",
    "grid_parameters",
    "sweep_family",
]

#: sweep parameters, in grid order: name -> accepted range (for messages)
PARAMETERS = ("v", "T", "theta", "omega_c", "gamma", "s", "delta")
_DEFAULTS = {"theta": 0.0, "delta": 1.0, "scale": 1.0}
#: a finite protocol's grid axes (:mod:`lzjax.protocols`, units Δ and 1/Δ; "linear" is the finite
#: sweep from eps_start to eps_end) in place of the infinite sweep's v and Δ; tanh's eps0 defaults to 0
DRIVE_PARAMETERS = {
    "linear": ("v", "eps_start", "eps_end"),
    "tanh": ("amplitude", "tau", "t_start", "t_end", "eps0"),
    "periodic": ("eps0", "amplitude", "omega", "t_start", "t_end"),
}


def _as_axis(name: str, value) -> np.ndarray:
    """One grid axis, under the constructors' type policy (:func:`lzjax.checks.parameter_values`)."""
    arr = np.atleast_1d(real_values(name, parameter_values(name, value)))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a scalar or a non-empty 1-D sequence, got shape {np.shape(value)}")
    return arr


def grid_parameters(family=None, drive=None) -> tuple[str, ...]:
    """The grid axes of a family, in grid order: :data:`PARAMETERS` for the paper's (None or
    "exponential"), else v, T, Θ, the family's other parameters (field order; a sum's with the
    part's index, :func:`lzjax.spectral.family_parameters`), Δ. With a finite protocol `drive`
    (a name of :data:`DRIVE_PARAMETERS`) its parameters replace v, and Δ is 1 (no axis)."""
    if family is None or (sum_parts(family) is None and family_class(family) is Bath):
        axes = PARAMETERS
    else:
        axes = ("v", "T", "theta", *(n for n in family_parameters(family) if n != "T"), "delta")
    if drive is None:
        return axes
    if drive not in DRIVE_PARAMETERS:
        raise ValueError(
            f"drive must be one of {', '.join(map(repr, DRIVE_PARAMETERS))} (a finite protocol), got {drive!r}"
        )
    return (*DRIVE_PARAMETERS[drive], *axes[1:-1])


def sweep_family(family=None, table=None) -> dict[str, Any] | None:
    """What names the bath of a sweep besides its grid: None for the paper's family (its records
    and stores unchanged), else {"family": name} and for a table its points {"omega", "G"} and,
    when read from a file, "spectral_density" (the path). `table`: a CSV path
    (:func:`lzjax.spectral.load_table_csv`) or a pair (ω, G), for family "tabulated" only.
    A sum's name is canonical (:func:`lzjax.spectral.family_key`: "gaussian+drude_lorentz")."""
    cls = Bath if family is None or sum_parts(family) is not None else family_class(family)
    if cls is not Tabulated:
        name = "exponential" if family is None else family_key(family)
        if table is not None:
            raise ValueError(f"table belongs to family 'tabulated', not to {name!r}")
        return None if name == "exponential" else {"family": name}
    if table is None:
        raise ValueError("family 'tabulated' needs table: a CSV file (header omega,G) or a pair (omega, G)")
    if isinstance(table, (str, os.PathLike)):
        omega, g = load_table_csv(table)
        extra = {"spectral_density": os.fspath(table)}
    else:
        try:
            omega, g = table
        except (TypeError, ValueError):
            raise ValueError(f"table must be a CSV path or a pair (omega, G), got {table!r:.60}") from None
        extra = {}
    points = Tabulated(omega, g)  # the table's own checks
    return {"family": "tabulated", **extra, "omega": list(points.omega), "G": list(points.G)}


def grid_problem(family=None, table=None, drive=None, **params) -> tuple[Any, dict[str, np.ndarray]]:
    """Validated :class:`LZProblem` on the Cartesian grid of `params`, and the coordinates.

    Missing `theta` defaults to 0, `delta` to 1 (a table's `scale` to 1); the bath's other
    parameters (:func:`grid_parameters` of `family`, default v, T, omega_c, gamma, s) are
    required. `family`, `table`: see :func:`sweep_family`. With a finite protocol `drive`
    (:data:`DRIVE_PARAMETERS`) a :class:`lzjax.protocols.DrivenSystem` of that protocol instead.
    """
    names = grid_parameters(family, drive)
    bath_info = sweep_family(family, table)
    unknown = set(params) - set(names)
    if unknown:
        raise ValueError(f"unknown sweep parameter(s) {sorted(unknown)}; accepted: {list(names)}")
    coords = {}
    for name in names:
        if name in params and params[name] is not None:
            coords[name] = _as_axis(name, params[name])
        elif name in _DEFAULTS or (drive == "tanh" and name == "eps0"):
            coords[name] = np.array([_DEFAULTS.get(name, 0.0)])
        else:
            raise ValueError(f"sweep parameter {name!r} is required")
    mesh = dict(zip(names, np.meshgrid(*coords.values(), indexing="ij"), strict=False))
    bath: Any
    if bath_info is None:
        bath = Bath(gamma=mesh["gamma"], s=mesh["s"], omega_c=mesh["omega_c"], T=mesh["T"])
    else:
        leaves = {n: mesh[n] for n in family_parameters(bath_info["family"])}
        table = (tuple(bath_info["omega"]), tuple(bath_info["G"])) if "omega" in bath_info else ()
        bath = build_family(bath_info["family"], leaves, table)
    if drive is not None:
        from .protocols import PROTOCOLS, DrivenSystem

        protocol = PROTOCOLS[drive](**{n: mesh[n] for n in DRIVE_PARAMETERS[drive]})
        return DrivenSystem(drive=protocol, bath=bath, theta=mesh["theta"]), coords
    problem = LZProblem(drive=Drive(v=mesh["v"], delta=mesh["delta"]), bath=bath, theta=mesh["theta"])
    return problem, coords


#: what the records carry from `attrs` before the grid values: the family (and a table's file)
_NAMING = ("family", "spectral_density")


@dataclass
class SweepResult:
    """Results on a named grid: `coords[name]` (1-D) and `data[name]` of shape `shape`.

    `dims` lists the swept parameters (length > 1) in grid order. `attrs` records the engine
    and its settings.
    """

    coords: dict[str, np.ndarray]
    data: dict[str, np.ndarray]
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(c) for c in self.coords.values())

    @property
    def dims(self) -> tuple[str, ...]:
        return tuple(n for n, c in self.coords.items() if len(c) > 1)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.data[name]

    def records(self) -> list[dict[str, Any]]:
        """One dict per grid point: parameters first, then results (JSON-ready floats/bools)."""
        mesh = np.meshgrid(*self.coords.values(), indexing="ij")
        flat_params = {n: m.ravel() for n, m in zip(self.coords, mesh, strict=False)}
        flat_data = {n: np.asarray(d).ravel() for n, d in self.data.items()}
        out = []
        for i in range(int(np.prod(self.shape))):
            rec: dict[str, Any] = {k: self.attrs[k] for k in _NAMING if k in self.attrs}
            rec.update({n: float(a[i]) for n, a in flat_params.items()})
            for n, a in flat_data.items():
                x = a[i]
                if a.dtype == bool:
                    rec[n] = bool(x)
                elif a.dtype.kind in "US":
                    rec[n] = str(x)
                elif a.dtype.kind in "iu":
                    rec[n] = int(x)
                else:  # a value that was not computed (e.g. no error bar) is null, never NaN
                    rec[n] = float(x) if np.isfinite(x) else None
            out.append(rec)
        return out

    def save(self, path: str | os.PathLike) -> None:
        """Write `.json` (list of records), `.csv` (columns) or `.nc` (xarray/netCDF); atomic:
        written to a temporary file in the same folder, renamed over `path` when complete."""
        path = os.fspath(path)
        ext = os.path.splitext(path)[1].lower()
        if ext not in (".json", ".csv", ".nc"):
            raise ValueError(f"output file must end in .json, .csv or .nc, got {path!r}")
        tmp = temporary_beside(path)
        try:
            self._write(tmp, ext)
            publish(tmp, path)  # the user's umask, fsynced before the rename
        except BaseException:
            remove_quietly(tmp)
            raise

    def _write(self, path: str, ext: str) -> None:
        if ext == ".json":
            with open(path, "w") as f:
                json.dump(self.records(), f, indent=1)
        elif ext == ".csv":
            recs = self.records()
            with open(path, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=list(recs[0]))
                writer.writeheader()
                writer.writerows(recs)
        else:
            self.to_xarray().to_netcdf(path)

    def __repr__(self) -> str:
        def span(c):
            c = np.asarray(c)
            return f"{c[0]:g}" if c.size == 1 else f"{c.min():g}..{c.max():g} ({c.size})"

        grid = ", ".join(f"{n}={span(c)}" for n, c in self.coords.items())
        opts = ", ".join(f"{k}={v!r}" for k, v in self.attrs.items() if k != "engine")
        return (
            f"SweepResult(engine={self.attrs.get('engine')!r}, shape={self.shape}, dims={self.dims}, "
            f"{grid}; data: {', '.join(self.data)}" + (f"; {opts}" if opts else "") + ")"
        )

    def to_xarray(self):
        """An ``xarray.Dataset`` with dimensions `dims` (needs the `xarray` extra)."""
        import xarray as xr

        keep = self.dims
        squeeze = tuple(i for i, n in enumerate(self.coords) if n not in keep)
        data_vars = {n: (keep, np.squeeze(np.asarray(d), axis=squeeze)) for n, d in self.data.items()}
        coords = {n: (n, c) if n in keep else c[0] for n, c in self.coords.items()}
        return xr.Dataset(data_vars, coords=coords, attrs={k: str(v) for k, v in self.attrs.items()})

    def plot(self, path: str | os.PathLike | None = None, *, x: str | None = None, ax=None):
        """P_LZ (solid) and P_ES (dashed) against `x` (default v, or a finite protocol's first
        swept parameter), one colour per other grid point."""
        from .plotting import plot_probabilities

        if x is None:
            x = "v" if "v" in self.coords else (*self.dims, *self.coords)[0]
        return plot_probabilities(self, path=path, x=x, ax=ax)


def temporary_beside(path: str) -> str:
    """A fresh temporary file name in the folder of `path` (so the final rename is atomic)."""
    import tempfile

    folder, name = os.path.split(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    return tmp


def remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


_ENGINE_OPTIONS = {
    "neqb": {"tol", "n_steps", "max_steps", "n_outer", "eps_max"},
    "quapi": {"dt", "kmax", "tmax", "tol", "budget", "eps_q", "compensate", "method", "memory", "pt_tol", "chi_max"},
}
#: the options of a finite protocol's end points (:func:`lzjax.quapi.trajectory_ladder.converge_end_point`)
_PROTOCOL_OPTIONS = {"tol", "dt", "memory", "pt_tol", "method"}
_FIXED_QUAPI = {"dt", "kmax", "tmax"}


def engine_call(engine: str, options: dict, progress: bool):
    """(function problem -> dict of result arrays, result names) for `engine`, options checked."""
    if engine not in _ENGINE_OPTIONS:
        raise ValueError(f"engine must be one of {sorted(_ENGINE_OPTIONS)}, got {engine!r}")
    unknown = set(options) - _ENGINE_OPTIONS[engine]
    if unknown:
        raise ValueError(
            f"unknown sweep parameter(s) or {engine} option(s) {sorted(unknown)}; parameters: "
            f"{list(PARAMETERS)}, options: {sorted(_ENGINE_OPTIONS[engine])}"
        )
    if engine == "neqb":
        from .neqb import solve_neqb as solve

        names = ("P_LZ", "P_ES", "P_LZ_err", "P_ES_err", "eps_max", "t_max", "n_steps", "kappa", "converged")
    else:
        from .quapi import converge_quapi, solve_quapi

        fixed = _FIXED_QUAPI & set(options)
        if fixed and fixed != _FIXED_QUAPI:
            raise ValueError(f"quapi with fixed settings needs all of dt, kmax, tmax; got only {sorted(fixed)}")
        if fixed and "tol" in options:
            raise ValueError("quapi takes either fixed settings (dt, kmax, tmax) or tol, not both")
        method = quapi_engine(options)
        if fixed and not method.fixed_settings:
            raise ValueError(
                f"quapi fixed settings (dt, kmax, tmax) run the plain ADT; method={method.name!r} needs tol"
            )
        if fixed:  # the memory length first: the chunk size is sized by 4^kmax before any solve
            method.check(options["kmax"])
        solve = solve_quapi if fixed else converge_quapi
        names = ("P_LZ", "P_ES", "P_LZ_err", "P_ES_err", *method.columns)
    call_options = {("engine" if k == "method" else k): x for k, x in options.items()}
    names = (*names, "status")

    def run(problem):
        values = solve(problem, progress=progress, **call_options).fields()  # results and settings
        return {n: np.asarray(values[n]).reshape(-1) for n in names}

    return run, names


def _protocol_call(engine: str, options: dict, progress: bool):
    """(function system -> dict of result arrays, result names) of a finite protocol's end points:
    the converged exact trajectory's last record (:func:`lzjax.quapi.trajectory_ladder.converge_end_point`,
    the process tensor), `tol` required; its settings `dt`, `memory`, `pt_tol`."""
    from .quapi.trajectory_ladder import END_POINT_COLUMNS, converge_end_point

    if engine != "quapi":
        raise ValueError(f"a finite protocol (drive) runs engine 'quapi' (its exact end points), not {engine!r}")
    unknown = set(options) - _PROTOCOL_OPTIONS
    if unknown:
        raise ValueError(
            f"option(s) {sorted(unknown)} do not apply to a finite protocol's end points; options: "
            f"{sorted(_PROTOCOL_OPTIONS)}"
        )
    if "tol" not in options:
        raise ValueError("a finite protocol's end points need tol (the converged trajectory's target error)")
    if options.get("method", "pt") != "pt":
        raise ValueError(
            f"a finite protocol's end points run method 'pt' (the process tensor), got {options['method']!r}"
        )
    kwargs = {("memory_time" if k == "memory" else k): x for k, x in options.items() if k != "method"}
    names = ("P_LZ", "P_ES", "P_LZ_err", "P_ES_err", *END_POINT_COLUMNS, "status")

    def run(system):
        values = converge_end_point(system.drive, system.bath, system.theta, progress=progress, **kwargs).fields()
        return {n: np.asarray(values[n]).reshape(-1) for n in names}

    return run, names


def quapi_engine(options: dict):
    """The exact engine of a quapi sweep (:func:`lzjax.quapi.engines.select_engine`), configured
    with the ladder settings among `options`: `method` if given, else the plain ADT for fixed
    settings or when its memory `budget` is given, else the process tensor. A `method` that
    names no engine is a ValueError naming it."""
    from .quapi.engines import ENGINES, select_engine

    method = options.get("method")
    if method is not None and method not in ENGINES:
        raise ValueError(f"method (the exact engine) must be one of {', '.join(map(repr, ENGINES))}, got {method!r}")
    engine = select_engine(method, fixed=bool(_FIXED_QUAPI & set(options)), budget=options.get("budget"))
    settings = {k: options[k] for k in engine.ladder_options if options.get(k) is not None}
    return engine.configured(**settings) if settings else engine


def _default_chunk_size(engine: str, options: dict) -> int:
    """Points per chunk: NEQB state is tiny (4096); QUAPI the engine's (its memory estimate)."""
    if engine == "neqb":
        return 4096
    return quapi_engine(options).chunk_points(options)


_REAL_OPTIONS = {"tol", "eps_max", "dt", "tmax", "eps_q", "memory", "pt_tol"}
_INT_OPTIONS = {"n_steps", "max_steps", "n_outer", "kmax", "budget", "chi_max"}
_STR_OPTIONS = {"method", "drive"}
_BOOL_OPTIONS = {"compensate"}
_OPTIONAL = {"eps_max"}  # None means "the engine's default"


def _check_option_types(options: dict) -> None:
    """Engine options are plain numbers of the right kind (ranges are the engines' business)."""
    for name, value in options.items():
        if value is None and name in _OPTIONAL:
            continue
        if name in _BOOL_OPTIONS:
            ok, kind = isinstance(value, (bool, np.bool_)), "True or False"
        elif name in _STR_OPTIONS:
            ok, kind = isinstance(value, str), "a string"
        elif name in _INT_OPTIONS:
            ok, kind = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)), "an integer"
        else:
            ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
            kind = "a real number"
        if not ok:
            raise ValueError(f"{name} must be {kind}, got {value!r} ({type(value).__name__})")


def _chunk_rows(n_points: int, chunk_size: int) -> list[tuple[int, int]]:
    return [(i, min(i + chunk_size, n_points)) for i in range(0, n_points, chunk_size)]


def sweep(
    engine: str = "neqb",
    *,
    progress: bool = False,
    chunk_size: int | None = None,
    store: str | os.PathLike | None = None,
    family=None,
    table=None,
    drive=None,
    **params_and_options,
) -> SweepResult:
    """Evaluate `engine` ("neqb" or "quapi") on the Cartesian grid of the given parameters.

    **Arguments:**
    - sweep parameters v, T, theta, omega_c, gamma, s, delta: scalars or 1-D sequences (units of
      Δ, Θ in radians); the grid is their Cartesian product.
    - `family`: the spectral density, by name (:data:`lzjax.spectral.NAMED_FAMILIES`: "gaussian",
      "drude-lorentz", "brownian", "tabulated"; default the paper's, "exponential"), swept over
      its own parameters instead of omega_c, gamma, s (:func:`grid_parameters`: e.g. lam,
      gamma_d for Drude-Lorentz; T, scale for a table; a sum "gaussian+gaussian" its parts' with
      the part's index, "gamma[0]", …, see the module). `table`: family "tabulated"'s CSV file
      (header omega,G) or (ω, G) pair. The records then start with "family" (and a file's
      "spectral_density"), and a store's identity holds the family and the table.
    - engine options: NEQB `tol`, `n_steps`, ...; QUAPI either fixed `dt`, `kmax`, `tmax` (no
      error bars: `*_err` NaN, null in files) or the ladder of
      :func:`lzjax.quapi.converge_quapi` (`tol`, `eps_q`, `compensate`; `method` "pt", the
      default, with `memory`, `pt_tol`, `chi_max`, or "adt" with `budget`; giving `budget`
      selects the ADT).
    - `drive`: a finite protocol instead of the infinite linear sweep, by name ("linear" from
      eps_start to eps_end at speed v, "tanh", "periodic": :data:`DRIVE_PARAMETERS`, swept over
      its parameters in place of v and delta, units Δ and 1/Δ); engine "quapi" with `tol` (and
      `dt`, `memory`, `pt_tol`): P_LZ, P_ES at the protocol's end with error bars, from the
      converged exact trajectory (:func:`lzjax.quapi.trajectory_ladder.converge_end_point`).
    - `chunk_size`: points per engine call (default: 4096 for NEQB; for QUAPI what half the
      free memory holds); peak memory is set by one chunk, not by the grid.
    - `store`: a results file (JSON lines, :mod:`lzjax.store`) that finished chunks are
      appended to (flushed and fsynced). Rerunning the same sweep with the same `store`
      resumes: finished chunks are read back, not recomputed. Every line carries the sweep's
      identity (engine, grid, options, chunk size, lzjax version) and its point count; a line
      that does not match, is damaged or was cut short by a kill is ignored (said on stderr)
      and its chunk recomputed; a store of another sweep is refused (ValueError). Several
      processes may run the same sweep on one store: each chunk is computed once.
    - `progress`: one progress bar over the grid's points (chunks) on stderr, and the engine's
      own progress (refinement levels, ladder steps).

    Ctrl-C raises :class:`lzjax.store.SweepInterrupted` (a KeyboardInterrupt) that says how
    many chunks the store keeps.
    """
    from .progress import progress_bar
    from .store import SweepInterrupted, SweepStore, sweep_header

    axes = grid_parameters(family, drive)
    bath_info = sweep_family(family, table)
    params = {k: params_and_options.pop(k) for k in axes if k in params_and_options}
    options = params_and_options
    check_path("store", store)
    _check_option_types(options)
    stray = set(options) - _ENGINE_OPTIONS.get(engine, set(options))
    if bath_info is not None and stray and drive is None:
        raise ValueError(
            f"unknown sweep parameter(s) or {engine} option(s) {sorted(stray)}; parameters of family "
            f"{bath_info['family']!r}: {list(axes)}, options: {sorted(_ENGINE_OPTIONS[engine])}"
        )
    if drive is None:
        run, names = engine_call(engine, options, progress)
    else:
        run, names = _protocol_call(engine, options, progress)
    problem, coords = grid_problem(family, table, drive, **params)
    if drive is not None:  # part of the sweep's identity (records, stores)
        options = {"drive": drive, **options}
    flat, shape = flatten_problem(problem)
    n_points = int(np.prod(shape))
    if chunk_size is None:
        chunk_size = 256 if drive is not None else _default_chunk_size(engine, options)
    if isinstance(chunk_size, (bool, np.bool_)) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    rows = _chunk_rows(n_points, int(chunk_size))
    n_chunks = len(rows)
    bar = progress_bar(n_points, progress and n_chunks > 1, "lzjax sweep", unit="point")

    def compute(i):
        lo, hi = rows[i]
        part = jax.tree_util.tree_map(lambda a: a[lo:hi], flat)
        out = run(part)
        bar.update(hi - lo)
        return out

    if store is None:
        chunks = {}
        try:
            for i in range(n_chunks):
                chunks[i] = compute(i)
        except KeyboardInterrupt:
            raise SweepInterrupted(0, n_chunks, None) from None
    else:
        header = sweep_header(engine, coords, options, int(chunk_size), n_points, bath=bath_info)
        with SweepStore(store, header, names, [hi - lo for lo, hi in rows]) as st:
            try:
                st.open()
                while len(st.done) < n_chunks:
                    progressed = False
                    for i in range(n_chunks):
                        if i in st.done or not st.claim(i):
                            continue
                        try:
                            data = compute(i)
                        except BaseException:
                            st.release(i)
                            raise
                        st.append(i, data)
                        progressed = True
                    if not progressed and len(st.done) < n_chunks:
                        st.wait()  # the remaining chunks are being computed by another process
            except KeyboardInterrupt:
                try:  # count what the file holds (an append may have been cut between its steps)
                    st.refresh()
                except Exception:  # noqa: BLE001 - the count is best effort, the store is intact
                    pass
                raise SweepInterrupted(len(st.done), n_chunks, os.fspath(store)) from None
            chunks = st.done
    bar.close()
    data = {
        n: np.concatenate([np.asarray(chunks[i][n]).reshape(-1) for i in range(n_chunks)]).reshape(shape) for n in names
    }
    attrs = {"engine": engine, **options}
    if bath_info is not None:  # the family and a table's file (its points are in the store's identity)
        attrs.update({k: bath_info[k] for k in _NAMING if k in bath_info})
    return SweepResult(coords=coords, data=data, attrs=attrs)
