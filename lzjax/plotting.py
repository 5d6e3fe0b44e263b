"""Matplotlib figures of sweep results (needs the `plot` extra)."""

from __future__ import annotations

import itertools
import os

import numpy as np

_LABELS = {"v": "v / Δ²", "T": "T / Δ", "theta": "Θ", "omega_c": "ω_c / Δ", "gamma": "γ", "s": "s", "delta": "Δ"}


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


def plot_probabilities(result, path=None, *, x: str = "v", ax=None):
    """P_LZ (solid) and P_ES (dashed) against parameter `x`, one colour per other grid point.

    Returns the matplotlib Figure; writes it to `path` when given (any matplotlib format).
    """
    import matplotlib

    if path is not None and ax is None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    if x not in result.coords:
        raise ValueError(f"x must be one of {list(result.coords)}, got {x!r}")
    names = list(result.coords)
    axis = names.index(x)
    fig = ax.figure if ax is not None else plt.figure(figsize=(6.4, 4.4))
    ax = ax if ax is not None else fig.add_subplot()
    others = [n for n in names if n != x and len(result.coords[n]) > 1]
    ranges = [range(len(result.coords[n])) for n in others]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, combo in enumerate(itertools.product(*ranges)):
        index = [0] * len(names)
        for n, i in zip(others, combo):
            index[names.index(n)] = i
        index[axis] = slice(None)
        label = ", ".join(_label(n, result.coords[n][i]) for n, i in zip(others, combo)) or None
        colour = colours[k % len(colours)]
        xs = result.coords[x]
        ax.plot(xs, np.asarray(result["P_LZ"])[tuple(index)], "-", color=colour, label=label)
        if "P_ES" in result.data:
            ax.plot(xs, np.asarray(result["P_ES"])[tuple(index)], "--", color=colour)
    if x == "v":
        ax.set_xscale("log")
    ax.set_xlabel(_LABELS.get(x, x))
    ax.set_ylabel("P_LZ (solid), P_ES (dashed)")
    ax.set_ylim(-0.02, 1.02)
    if others:
        ax.legend(fontsize=8)
    fixed = [_label(n, c[0]) for n, c in result.coords.items() if len(c) == 1]
    ax.set_title(f"{result.attrs.get('engine', '')}  " + ", ".join(fixed), fontsize=9)
    fig.tight_layout()
    if path is not None:
        fig.savefig(os.fspath(path), dpi=120)
    return fig
