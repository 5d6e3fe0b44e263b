"""`lzjax demo`: the paper's Fig. 1 parameters with NEQB, written as CSV + PNG."""

from __future__ import annotations

import os
import sys

import numpy as np

from .common import InputError, check_output_path, writable_folder
from .sweeps import emit

__all__ = ["add_demo_parser", "run_demo"]


def add_demo_parser(sub) -> None:
    demo = sub.add_parser("demo", help="the paper's Fig. 1 parameters with NEQB: CSV + PNG")
    demo.add_argument("--outdir", default="lzjax-demo", help="output folder (default ./lzjax-demo)")


def run_demo(args) -> int:
    from ..sweeps import sweep

    if os.path.exists(args.outdir) and not os.path.isdir(args.outdir):
        raise InputError(f"--outdir: {args.outdir!r} exists and is not a folder")
    csv_path = os.path.join(args.outdir, "fig1_neqb.csv")
    png_path = os.path.join(args.outdir, "fig1_neqb.png")
    if os.path.isdir(args.outdir):
        check_output_path(csv_path, (".csv",), "--outdir")
        check_output_path(png_path, (".png",), "--outdir")
    else:
        parent = os.path.dirname(os.path.abspath(args.outdir))
        if not os.path.isdir(parent):
            raise InputError(f"--outdir: folder {parent!r} does not exist")
        writable_folder(parent, "--outdir")
    print("lzjax demo: NEQB, paper Fig. 1 parameters (Θ = 0, γ = 5e-4, s = 3, ω_c = 5Δ)", file=sys.stderr)
    result = sweep(
        "neqb",
        v=np.geomspace(0.01, 10.0, 31),
        T=[0.0, 1.6, 6.4, 25.6],
        gamma=5e-4,
        s=3.0,
        omega_c=5.0,
        theta=0.0,
        tol=1e-6,
        progress=True,
    )
    os.makedirs(args.outdir, exist_ok=True)
    emit(result, csv_path, png_path)
    v = result.coords["v"]
    slow = v < 1.0  # the relaxation dip lies in the adiabatic regime v < Δ²
    p_lz = result["P_LZ"].reshape(len(v), -1)[slow]
    for j, T in enumerate(result.coords["T"]):
        i = int(np.argmin(p_lz[:, j]))
        if 0 < i < int(np.sum(slow)) - 1:
            print(f"T = {T:5.1f}: P_LZ has its minimum for v < Δ² at v = {v[slow][i]:.3g}: {p_lz[i, j]:.4f}")
        else:  # no dip inside the sampled range, only its edge
            print(
                f"T = {T:5.1f}: no minimum inside {v[0]:.3g} ≤ v < Δ²; smallest sampled P_LZ {p_lz[i, j]:.4f} "
                f"at the range edge v = {v[slow][i]:.3g}"
            )
    print(f"wrote {csv_path} and {png_path}")
    return 0
