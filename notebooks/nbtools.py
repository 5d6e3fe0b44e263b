"""Helpers shared by the reproduction notebooks: run mode, engine calls, paper styling.

Mode: ``LZJAX_NOTEBOOK_MODE=fast`` (CI: coarse v grids, few cheap QUAPI points) or ``full``
(default: the resolution of the rendered figures). In full mode QUAPI results are kept in
``data/<name>.jsonl`` (the resumable store of :func:`lzjax.sweep`), so a rerun with the same
parameters reads them back instead of recomputing; delete the file to recompute.
"""

from __future__ import annotations

import os
import time

import numpy as np

import lzjax

MODE = os.environ.get("LZJAX_NOTEBOOK_MODE", "full").strip().lower()
if MODE not in ("fast", "full"):
    raise ValueError(f"LZJAX_NOTEBOOK_MODE must be 'fast' or 'full', got {MODE!r}")
FULL = MODE == "full"
HERE = os.path.dirname(os.path.abspath(__file__))
FIGURES = os.path.join(HERE, "figures")
DATA = os.path.join(HERE, "data")

#: plain-ADT ladder settings (engine="adt" of :func:`quapi`): full = tol 1e-2 with k_max up to 8;
#: fast = k_max up to 4 (rough)
QUAPI_OPTIONS = {"tol": 1e-2, "budget": 8} if FULL else {"tol": 1e-1, "budget": 4}
#: process-tensor ladder settings (engine="pt", the default of :func:`quapi`): full tol 1e-3, fast
#: 1e-1 (pt_tol 1e-6)
PT_OPTIONS = {"tol": 1e-3} if FULL else {"tol": 1e-1, "pt_tol": 1e-6}
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
COLOURS = ("k", "tab:blue", "tab:green", "tab:red", "tab:purple", "tab:orange", "tab:brown", "tab:cyan")


def v_grid(lo=1e-3, hi=10.0, n_full=61, n_fast=13):
    """Log-spaced sweep speeds (units Δ²)."""
    return np.geomspace(lo, hi, n_full if FULL else n_fast)


def neqb(**params):
    """NEQB on the Cartesian grid of `params` (lzjax.sweep), as an xarray Dataset."""
    params.setdefault("tol", 1e-5)
    t0 = time.perf_counter()
    ds = lzjax.sweep("neqb", **params).to_xarray()
    bad = int((~ds.converged.values).sum())
    print(
        f"NEQB: {ds.P_LZ.size} points in {time.perf_counter() - t0:.1f} s, "
        f"max error estimate {float(ds.P_LZ_err.max()):.1e}" + (f", {bad} points above tol (kept)" if bad else "")
    )
    return ds


def quapi(name, options=None, engine="pt", **params):
    """QUAPI convergence ladder (lzjax.sweep 'quapi') as an xarray Dataset, with P_LZ_err /
    P_ES_err the ladder's error bars. `engine` "pt" (default): the process tensor with
    :data:`PT_OPTIONS` updated by `options`; "adt": the plain ADT with :data:`QUAPI_OPTIONS`
    updated by `options`, e.g. ``{"eps_q": 20}``. Full mode stores the results in data/<name>.jsonl,
    one chunk per sweep speed, and resumes from there."""
    v = np.atleast_1d(params["v"])
    if v.size == 0:
        print("QUAPI: no points in this mode")
        return None
    n_points = int(np.prod([np.size(x) for x in params.values()]))
    store = None
    if FULL:
        os.makedirs(DATA, exist_ok=True)
        store = os.path.join(DATA, f"{name}.jsonl")
    t0 = time.perf_counter()
    settings = dict(QUAPI_OPTIONS if engine == "adt" else PT_OPTIONS, **(options or {}))
    kwargs = dict(params, **settings, chunk_size=n_points // v.size)
    try:
        res = lzjax.sweep("quapi", store=store, **kwargs)
    except ValueError as err:  # a store from other parameters: recompute
        if store is None or "store" not in str(err):
            raise
        os.remove(store)
        res = lzjax.sweep("quapi", store=store, **kwargs)
    print(
        f"QUAPI: {n_points} points in {time.perf_counter() - t0:.1f} s ("
        + ", ".join(f"{k} {x}" for k, x in settings.items())
        + ")"
    )
    return res.to_xarray()


def coherent(v):
    """P_LZ = P_ES without bath, Eq. (6): 1 − exp(−πΔ²/2v)."""
    return 1.0 - np.exp(-np.pi / (2.0 * np.asarray(v)))


def plot_curves(ax, v, lz, es=None, *, colour="k", label=None):
    """NEQB as lines: P_LZ solid, P_ES dashed (the paper's convention)."""
    ax.plot(v, lz, "-", color=colour, lw=1.4, label=label)
    if es is not None:
        ax.plot(v, es, "--", color=colour, lw=1.2)


def plot_points(ax, v, lz, lz_err, es=None, es_err=None, *, colour="k", marker="o"):
    """QUAPI as symbols with the ladder's error bars: P_LZ filled, P_ES open."""
    ax.errorbar(v, lz, yerr=lz_err, fmt=marker, color=colour, ms=6, capsize=2, lw=1)
    if es is not None:
        ax.errorbar(v, es, yerr=es_err, fmt=marker, color=colour, mfc="white", ms=6, capsize=2, lw=1)


def style_axes(ax, ylabel=r"$P_{LZ}$ (solid), $P_{ES}$ (dashed)"):
    ax.set_xscale("log")
    ax.set_xlabel(r"$v\ [\Delta^2]$")
    ax.set_ylabel(ylabel)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.25, which="both", lw=0.5)


def add_engine_legend(ax, loc="lower left", quapi=True, **kwargs):
    """Second legend explaining line and symbol styles."""
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color="grey", ls="-", label=r"NEQB $P_{LZ}$"),
        Line2D([], [], color="grey", ls="--", label=r"NEQB $P_{ES}$"),
        Line2D([], [], color="grey", ls=":", label="no bath, Eq. (6)"),
    ]
    if quapi:
        handles += [
            Line2D([], [], color="grey", marker="o", ls="", label=r"QUAPI $P_{LZ}$"),
            Line2D([], [], color="grey", marker="o", mfc="white", ls="", label=r"QUAPI $P_{ES}$"),
        ]
    extra = ax.legend(handles=handles, loc=loc, fontsize=7.5, framealpha=0.9, **kwargs)
    ax.add_artist(extra)


def save(fig, name):
    os.makedirs(FIGURES, exist_ok=True)
    path = os.path.join(FIGURES, f"{name}.png")
    fig.savefig(path, dpi=130, bbox_inches="tight")
    print("saved", os.path.relpath(path, HERE), f"({MODE} mode)")
    return path


def minimum(v, p):
    """(v_min, P_min) of a sampled curve, refined by a parabola in log v through the lowest 3."""
    v, p = np.asarray(v), np.asarray(p)
    i = int(np.clip(np.argmin(p), 1, len(p) - 2))
    x = np.log(v[i - 1 : i + 2])
    a, b, c = np.polyfit(x, p[i - 1 : i + 2], 2)
    if a <= 0:
        return float(v[np.argmin(p)]), float(p.min())
    x0 = np.clip(-b / (2 * a), x[0], x[-1])
    return float(np.exp(x0)), float(np.polyval([a, b, c], x0))


def points(ds, **sel):
    """(v, P_LZ, P_LZ_err, P_ES, P_ES_err) as 1-D arrays at the coordinates `sel` (nearest),
    or None when `ds` is None or does not hold them (squeezed coordinates are compared)."""
    if ds is None:
        return None
    for k, x in sel.items():
        if k in ds.dims:
            c = ds[k].values
            if not np.any(np.isclose(c, x, rtol=1e-6, atol=1e-9)):
                return None
            ds = ds.sel({k: x}, method="nearest")
        elif not np.isclose(float(ds[k]), x, rtol=1e-6, atol=1e-9):
            return None
    names = ("P_LZ", "P_LZ_err", "P_ES", "P_ES_err")
    return (np.atleast_1d(ds.v.values),) + tuple(np.atleast_1d(ds[n].values) for n in names)


def plot_panel(ax, ne, qu, key, values, label, *, es=True):
    """NEQB lines and QUAPI symbols of `ne` / `qu` for each value of coordinate `key`."""
    for i, x in enumerate(values):
        colour, marker = COLOURS[i % len(COLOURS)], MARKERS[i % len(MARKERS)]
        line = ne.sel({key: x})
        plot_curves(
            ax, line.v.values, line.P_LZ.values, line.P_ES.values if es else None, colour=colour, label=label(x)
        )
        pts = points(qu, **{key: x})
        if pts is not None:
            v, lz, lze, pes, pese = pts
            plot_points(ax, v, lz, lze, pes if es else None, pese if es else None, colour=colour, marker=marker)
    v = ne.v.values
    ax.plot(v, coherent(v), ":", color="grey", lw=1)


def adiabatic_minimum(ds, v_max=2.0, name="P_LZ", depth=1e-3):
    """(v_min, P_min) of the dip of `name` below v_max: the deepest interior local minimum
    lying at least `depth` below the bath-free Eq. (6); (nan, nan) when there is none."""
    v, p = ds.v.values, ds[name].values
    n = int(np.searchsorted(v, v_max, side="right"))
    found = [
        i
        for i in range(1, min(n, len(v) - 1))
        if p[i] < p[i - 1] and p[i] <= p[i + 1] and coherent(v[i]) - p[i] > depth
    ]
    if not found:
        return np.nan, np.nan
    i = min(found, key=lambda k: p[k])
    return minimum(v[i - 1 : i + 2], p[i - 1 : i + 2])


def table(ne, qu, **sel):
    """Print QUAPI ± error beside NEQB at the QUAPI points with coordinates `sel`; return
    the largest |QUAPI − NEQB| and the largest |QUAPI − NEQB| / error bar (P_LZ and P_ES)."""
    pts = points(qu, **sel)
    if pts is None:
        return np.nan, np.nan
    v, lz, lze, es, ese = pts
    n = ne.sel(v=v, method="nearest").sel(sel)
    dl, de = lz - n.P_LZ.values, es - n.P_ES.values
    for i in range(len(v)):
        print(
            f"  v={v[i]:<6g} P_LZ QUAPI {lz[i]:.4f}±{lze[i]:.4f} NEQB {n.P_LZ.values[i]:.4f}"
            f" | P_ES QUAPI {es[i]:.4f}±{ese[i]:.4f} NEQB {n.P_ES.values[i]:.4f}"
        )
    diff = np.abs(np.concatenate([dl, de]))
    err = np.concatenate([lze, ese])
    return float(diff.max()), float((diff / err).max())
