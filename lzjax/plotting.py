"""Matplotlib figures of sweep results, fits and trajectories (needs the `plot` extra)."""

from __future__ import annotations

import itertools
import os
from typing import Any

import numpy as np

__all__ = ["plot_probabilities", "plot_fit", "plot_trajectory", "plot_window"]

_LABELS = {"v": "v / Δ²", "T": "T / Δ", "theta": "Θ", "omega_c": "ω_c / Δ", "gamma": "γ", "s": "s", "delta": "Δ"}


def _figure(path, ax=None, figsize=(6.4, 4.4)):
    """(pyplot, figure, axes): a new `figsize` figure (Agg backend when writing a file), or `ax`'s."""
    import matplotlib

    if path is not None and ax is None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig = ax.figure if ax is not None else plt.figure(figsize=figsize)
    return plt, fig, (ax if ax is not None else fig.add_subplot())


def _finish(fig, path):
    fig.tight_layout()
    if path is not None:
        fig.savefig(os.fspath(path), dpi=120)
    return fig


_SYMBOLS = {"theta": "Θ", "omega_c": "ω_c", "gamma": "γ", "delta": "Δ"}


def _format_value(name: str, x: float) -> str:
    """`x` with :g; an angle that is a short multiple of π as one (0.069115… → 0.022π)."""
    if name == "theta" and x != 0:
        k = x / np.pi
        short = float(f"{k:.4g}")
        if abs(k - short) <= 1e-9 * max(1.0, abs(k)):
            return {1.0: "π", -1.0: "-π"}.get(short, f"{short:g}π")
    return f"{x:g}"


def _label(name: str, x: float) -> str:
    return f"{_SYMBOLS.get(name, name)}={_format_value(name, x)}"


def _curve(ax, xs, ys, err, colour, line: str, marker: str, label=None, filled: bool = True) -> None:
    """One curve with a marker at every computed point; error bars where `err` is finite (QUAPI
    ladders). A point that was not computed (NaN: status other than converged/unchecked) is absent."""
    style = {
        "color": colour,
        "ls": line,
        "lw": 1.0,
        "marker": marker,
        "ms": 3.5,
        "mfc": colour if filled else "none",
        "label": label,
    }
    if err is not None and np.any(np.isfinite(err) & np.isfinite(ys)):
        yerr = np.where(np.isfinite(err), err, np.nan)
        ax.errorbar(xs, ys, yerr=yerr, capsize=2, elinewidth=0.8, **style)
    else:
        ax.plot(xs, ys, **style)


def plot_probabilities(result, path=None, *, x: str = "v", ax=None):
    """P_LZ (solid, filled circles) and P_ES (dashed, open squares) against parameter `x`, one
    colour per other grid point: a marker at every computed point, error bars where the result
    carries finite ones (P_LZ_err, P_ES_err: QUAPI ladders); points not computed are absent.

    Returns the matplotlib Figure; writes it to `path` when given (any matplotlib format).
    """
    if x not in result.coords:
        raise ValueError(f"x must be one of {list(result.coords)}, got {x!r}")
    plt, fig, ax = _figure(path, ax)
    names = list(result.coords)
    axis = names.index(x)
    others = [n for n in names if n != x and len(result.coords[n]) > 1]
    ranges = [range(len(result.coords[n])) for n in others]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]

    def column(name, index):
        return np.asarray(result[name], dtype=float)[index] if name in result.data else None

    for k, combo in enumerate(itertools.product(*ranges)):
        index: list[Any] = [0] * len(names)
        for n, i in zip(others, combo, strict=False):
            index[names.index(n)] = i
        index[axis] = slice(None)
        at = tuple(index)
        label = ", ".join(_label(n, result.coords[n][i]) for n, i in zip(others, combo, strict=False)) or None
        colour = colours[k % len(colours)]
        xs = result.coords[x]
        _curve(ax, xs, column("P_LZ", at), column("P_LZ_err", at), colour, "-", "o", label)
        if "P_ES" in result.data:
            _curve(ax, xs, column("P_ES", at), column("P_ES_err", at), colour, "--", "s", filled=False)
    if x == "v":
        ax.set_xscale("log")
    ax.set_xlabel(_LABELS.get(x, x))
    ax.set_ylabel("P_LZ (solid, ●), P_ES (dashed, □)")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.25, lw=0.5)
    if others:
        ax.legend(fontsize=8)
    fixed = [_label(n, c[0]) for n, c in result.coords.items() if len(c) == 1]
    ax.set_title(f"{result.attrs.get('engine', '')}  " + ", ".join(fixed), fontsize=9)
    return _finish(fig, path)


def plot_fit(result, v, P, sigma=None, path=None, *, n_curve: int = 96):
    """Data with error bars (σ, or the estimate σ̂) and the fitted curve of a
    :class:`lzjax.fit.FitResult`; returns the Figure, written to `path` when given."""
    _, fig, ax = _figure(path)
    v, P = np.asarray(v, dtype=float), np.asarray(P, dtype=float)
    err = np.asarray(sigma, dtype=float) if sigma is not None else np.full_like(P, result.sigma or 0.0)
    curve_v = np.geomspace(v.min(), v.max(), n_curve)
    curve = result.predict(curve_v)
    label = "data" + (" (σ estimated)" if sigma is None else "")
    ax.errorbar(v, P, yerr=err, fmt="o", ms=4, capsize=2, label=label)
    fitted = ", ".join(f"{n} = {result.params[n]:.4g} ± {result.errors[n]:.2g}" for n in result.names)
    ax.plot(curve_v, curve, "-", label=f"fit: {fitted}")
    ax.set_xscale("log")
    ax.set_xlabel("v / Δ²")
    ax.set_ylabel("P_LZ")
    ax.legend(fontsize=8)
    fixed = ", ".join(_label(k, x) for k, x in result.params.items() if k not in result.names)
    ax.set_title(f"{result.engine}  {fixed}  χ²/dof = {result.chi2_dof:.3g}", fontsize=9)
    return _finish(fig, path)


def plot_trajectory(ds, start: str = "ground", window=None, path=None):
    """Populations P_ground (solid) and P_up (dashed) against t per point (at most 8 drawn) of a
    trajectory dataset (:func:`lzjax.dynamics.neqb_trajectory`,
    :func:`lzjax.quapi.trajectory.exact_trajectory`; a converged one's error bars as bands,
    :func:`lzjax.quapi.trajectory_ladder.converge_trajectory`); the crossing window [ε₋, ε₊]/v shaded
    when `window` (a :func:`lzjax.dynamics.crossing_window` dataset) is given. Returns the
    Figure, written to `path` when given."""
    from .writers import point_params

    plt, fig, ax = _figure(path, figsize=(7.0, 4.4))
    sel = ds.sel(start=start)
    names = [k for k in point_params(ds) if np.unique(ds[k].values).size > 1]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for p in range(min(ds.sizes["point"], 8)):
        c = colours[p % len(colours)]
        label = ", ".join(f"{k}={float(ds[k].values[p]):g}" for k in names) or None
        ax.plot(ds.t.values[p], sel.P_ground.values[p], "-", color=c, label=label)
        ax.plot(ds.t.values[p], sel.P_up.values[p], "--", color=c, lw=0.9)
        for name in ("P_ground", "P_up"):  # error bands of a converged trajectory
            if f"{name}_err" in sel:
                value, err = sel[name].values[p], sel[f"{name}_err"].values[p]
                ax.fill_between(ds.t.values[p], value - err, value + err, color=c, alpha=0.25, lw=0)
        if window is not None:
            v = float(ds.v.values[p])
            ax.axvspan(
                float(window.eps_minus.values[p]) / v, float(window.eps_plus.values[p]) / v, color=c, alpha=0.12, lw=0
            )
    ax.set_xlabel("t [1/Δ]")
    ax.set_ylabel("P_ground (solid), P_up (dashed)")
    title = f"{ds.attrs.get('engine', '')}, start {start}"
    if window is not None:
        title += f"; shaded: crossing window, δ = {window.attrs['tol']:g}"
    ax.set_title(title, fontsize=9)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.25, lw=0.5)
    if names:
        ax.legend(fontsize=7)
    return _finish(fig, path)


def plot_window(ds, path=None):
    """The crossing window of a :func:`lzjax.dynamics.crossing_window` dataset: its edges ε₋
    and ε₊ (markers with their bisection errors, the window [ε₋, ε₊] shaded) against the swept
    parameter (the per-point parameter with the most values, v on a tie), one colour per value
    of the other varying parameters. The bias axis is symmetric-logarithmic (linear within
    |ε| ≤ 1 Δ). Returns the Figure, written to `path` when given."""
    from .writers import point_params

    plt, fig, ax = _figure(path, figsize=(7.0, 4.4))
    params = point_params(ds)
    values = {k: np.asarray(ds[k].values, dtype=float) for k in params}
    varying = [k for k in params if np.unique(values[k]).size > 1]
    x = max(varying or ["v"], key=lambda k: (np.unique(values[k]).size, k == "v"))
    others = [k for k in varying if k != x]
    keys = [tuple(values[k][p] for k in others) for p in range(ds.sizes["point"])]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for c, key in enumerate(dict.fromkeys(keys)):
        rows = np.array([p for p in range(len(keys)) if keys[p] == key])
        rows = rows[np.argsort(values[x][rows])]
        xs, colour = values[x][rows], colours[c % len(colours)]
        label = ", ".join(_label(k, float(v)) for k, v in zip(others, key, strict=False)) or None
        lo, hi = (np.asarray(ds[k].values, dtype=float)[rows] for k in ("eps_minus", "eps_plus"))
        ax.fill_between(xs, lo, hi, color=colour, alpha=0.15, lw=0)
        for edge, marker, name in ((lo, "v", "eps_minus"), (hi, "^", "eps_plus")):
            err = np.asarray(ds[f"{name}_err"].values, dtype=float)[rows]
            ax.errorbar(xs, edge, yerr=err, color=colour, marker=marker, ms=4, lw=1.0, capsize=2, label=label)
            label = None
    ax.axhline(0.0, color="0.5", lw=0.6)
    if x == "v":
        ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_xlabel(_LABELS.get(x, x))
    ax.set_ylabel("window edges ε / Δ:  ε₊ (▲), ε₋ (▼)")
    fixed = [_label(k, float(values[k][0])) for k in params if k not in varying]
    ax.set_title(
        f"crossing window [ε₋, ε₊] (shaded), δ = {ds.attrs.get('tol', float('nan')):g}; " + ", ".join(fixed), fontsize=9
    )
    ax.grid(alpha=0.25, lw=0.5)
    if others:
        ax.legend(fontsize=7)
    return _finish(fig, path)
