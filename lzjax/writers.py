"""Records (one dict per point or per recorded time) written as JSON, CSV or netCDF, and the
records of the dynamics datasets (:func:`lzjax.dynamics.neqb_trajectory`,
:func:`lzjax.quapi.trajectory.exact_trajectory`, :func:`lzjax.dynamics.crossing_window`)."""

from __future__ import annotations

import contextlib
import json
import os

__all__ = [
    "write_records",
    "name_file_errors",
    "publish",
    "netcdf_engine",
    "netcdf_ready",
    "trajectory_records",
    "window_records",
    "OBSERVABLES",
    "WINDOW_COLUMNS",
]

#: recorded observables of a trajectory, in column order
OBSERVABLES = ("P_ground", "P_excited", "P_up", "r_x", "r_y", "r_z")
#: per-point results of the crossing window, in column order
WINDOW_COLUMNS = (
    "eps_minus",
    "eps_minus_err",
    "eps_plus",
    "eps_plus_err",
    "rate_eps_minus",
    "rate_eps_plus",
    "Xi_total",
    "P_LZ",
    "P_ES",
    "P_LZ_window",
    "P_ES_window",
    "window_dev",
)


def write_records(path: str, records, fmt: str, *, dataset=None, indent: int = 1, final_newline: bool = False) -> None:
    """Write `records` to `path` in format `fmt` (".json", ".csv" or ".nc"; `path` may be a
    temporary name, hence the separate format).

    - ".json": `records` (a list of dicts, or one dict) with `indent`.
    - ".csv": a list of dicts with the same keys: one header line, one row each; floats as
      their repr (round-trip exact), None as an empty field.
    - ".nc": `dataset` (an xarray Dataset; its attributes made netCDF-safe), not the records.
    """
    fmt = fmt.lower()
    with name_file_errors(path):
        _write_records(path, records, fmt, dataset=dataset, indent=indent, final_newline=final_newline)


def _write_records(path: str, records, fmt: str, *, dataset, indent: int, final_newline: bool) -> None:
    if fmt == ".json":
        with open(path, "w", encoding="utf-8") as f:
            json.dump(records, f, indent=indent)
            if final_newline:
                f.write("\n")
    elif fmt == ".csv":
        import csv

        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(records[0]))
            writer.writeheader()
            for rec in records:
                writer.writerow({k: repr(x) if isinstance(x, float) else x for k, x in rec.items()})
    elif fmt == ".nc":
        if dataset is None:
            raise ValueError("writing .nc needs the dataset")
        engine = netcdf_engine()
        if engine is None:
            raise ValueError("writing .nc needs netCDF4, h5netcdf or scipy installed")
        netcdf_ready(dataset).to_netcdf(path, engine=engine)
    else:
        raise ValueError(f"record format must be .json, .csv or .nc, got {fmt!r}")


@contextlib.contextmanager
def name_file_errors(path: str):
    """An OSError without a file name inside (``f.write``, ``f.flush``, ``os.fsync`` on a full
    disk) gets `path` as its name, so that the one-line message says which file failed."""
    try:
        yield
    except OSError as error:
        if error.filename is None and not isinstance(error, BrokenPipeError) and error.errno is not None:
            raise OSError(error.errno, error.strerror or os.strerror(error.errno), path) from None
        raise


def umask() -> int:
    """The process's umask (read without changing it where /proc says it, else set and restored)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def publish(tmp: str, path: str) -> None:
    """Rename the finished temporary `tmp` over `path`, with the permissions a plain
    ``open(path, "w")`` would give: those of the file it replaces, else 0o666 less the umask
    (``tempfile.mkstemp`` creates 0o600, which colleagues could not read). The data is fsynced
    first, so a full disk that only shows at the flush fails here, before the rename."""
    with name_file_errors(path):
        try:
            mode = os.stat(path).st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o666 & ~umask()
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, mode)
        os.replace(tmp, path)


def netcdf_engine() -> str | None:
    """The first netCDF backend installed (xarray's engine name), or None."""
    for name, module in (("netcdf4", "netCDF4"), ("h5netcdf", "h5netcdf"), ("scipy", "scipy.io")):
        try:
            __import__(module)
            return name
        except ImportError:
            continue
    return None


def netcdf_ready(ds):
    """A copy of `ds` whose attributes netCDF can hold (numbers, strings, number lists)."""
    out = ds.copy()
    out.attrs = {
        k: (
            json.dumps(v)
            if isinstance(v, (list, dict, bool))
            and not (isinstance(v, list) and all(isinstance(x, (int, float)) for x in v))
            else v
        )
        for k, v in ds.attrs.items()
    }
    out.attrs = {k: (int(v) if isinstance(v, bool) else v) for k, v in out.attrs.items()}
    return out


def point_params(ds) -> list[str]:
    """The per-point parameters of a dynamics dataset (coordinates along "point")."""
    return [k for k, c in ds.coords.items() if c.dims == ("point",)]


def trajectory_records(ds, start: str = "ground") -> list[dict]:
    """One dict per (point, record): the point's parameters, `start`, t, epsilon and the
    observables (floats), with their error bars `<name>_err` for a converged trajectory, for the
    infinite sweep also its P_LZ, P_ES; point-major order."""
    sel = ds.sel(start=start)
    names = point_params(ds)
    out = []
    t, eps = ds.t.values, ds.epsilon.values
    values = {k: sel[k].values for k in OBSERVABLES}
    errors = {k: sel[f"{k}_err"].values for k in OBSERVABLES if f"{k}_err" in ds}  # a converged trajectory
    ends = [k for k in ("P_LZ", "P_ES") if k in ds]  # the infinite sweep's asymptotic read-out
    for p in range(ds.sizes["point"]):
        base = {k: float(ds[k].values[p]) for k in names}
        for j in range(ds.sizes["time"]):
            rec = dict(base, start=start, t=float(t[p, j]), epsilon=float(eps[p, j]))
            rec.update({k: float(values[k][p, j]) for k in OBSERVABLES})
            rec.update({f"{k}_err": float(errors[k][p, j]) for k in errors})
            rec.update({k: float(ds[k].values[p]) for k in ends})
            out.append(rec)
    return out


def window_records(ds) -> list[dict]:
    """One dict per point of a crossing-window dataset: its parameters, tol and WINDOW_COLUMNS."""
    names = point_params(ds)
    return [
        {
            **{k: float(ds[k].values[p]) for k in names},
            "tol": float(ds.attrs["tol"]),
            **{k: float(ds[k].values[p]) for k in WINDOW_COLUMNS},
        }
        for p in range(ds.sizes["point"])
    ]
