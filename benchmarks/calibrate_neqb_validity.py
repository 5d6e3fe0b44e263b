"""Calibrate NEQB's validity measure κ = 1 − Δ_eff/Δ (lzjax.bath.polaron_reduction) against exact values.

1. Wubs et al. (PRL 97, 200404): at T = 0, Θ = 0 the exact P_LZ is the coherent 1 − exp(−π/2v)
   for any bath; NEQB's error there, max over v ∈ [0.1, 10], against κ over s, ω_c, γ.
2. The process-tensor points stored by the notebooks (notebooks/data/*.jsonl, with their error
   bars) at finite T: |NEQB − exact| against κ.

    python benchmarks/calibrate_neqb_validity.py

Prints one line per bath: κ, the worst NEQB error and their ratio (lzjax.neqb.KAPPA_MAX documents
the result).
"""

import json
import os

import numpy as np

import lzjax
from lzjax import Bath
from lzjax.bath import polaron_reduction

DATA = os.path.join(os.path.dirname(__file__), "..", "notebooks", "data")


def wubs() -> None:
    v = np.array([0.1, 0.3, 1.0, 3.0, 10.0])
    exact = -np.expm1(-np.pi / (2 * v))
    print("Wubs, T = 0, Θ = 0: max over v of |P_NEQB − P_exact| against κ")
    for s, omega_c in [(3, 5), (1, 5), (3, 10), (2, 2.5), (0.5, 5)]:
        for gamma in [5e-4, 5e-3, 2e-2, 5e-2, 0.2]:
            res = lzjax.sweep("neqb", v=v, T=0.0, gamma=gamma, s=s, omega_c=omega_c, theta=0.0)
            err = float(np.max(np.abs(np.ravel(res["P_LZ"]) - exact)))
            kappa = float(polaron_reduction(Bath(gamma=gamma, s=s, omega_c=omega_c, T=0.0)))
            print(
                f"  s={s:<3} ω_c={omega_c:<4} γ={gamma:<6g} κ={kappa:.4f}  error={err:.4f}  error/κ={err / kappa:.2f}"
            )


def stored(name: str) -> None:
    path = os.path.join(DATA, f"{name}.jsonl")
    if not os.path.exists(path):
        return
    lines = [json.loads(line) for line in open(path)]
    coords = lines[0]["coords"]
    values: dict[str, list] = {}
    for rec in sorted((r for r in lines[1:] if "data" in r), key=lambda r: r["chunk"]):
        for k, vals in rec["data"].items():
            values.setdefault(k, []).extend(vals)
    exact = np.array([np.nan if x is None else x for x in values["P_LZ"]])
    bar = np.array([np.nan if x is None else x for x in values["P_LZ_err"]])
    neqb = np.ravel(lzjax.sweep("neqb", **{k: np.array(c) for k, c in coords.items()})["P_LZ"])
    mesh = dict(
        zip(coords, (m.ravel() for m in np.meshgrid(*map(np.array, coords.values()), indexing="ij")), strict=True)
    )
    kappa = np.asarray(polaron_reduction(Bath(gamma=mesh["gamma"], s=mesh["s"], omega_c=mesh["omega_c"], T=mesh["T"])))
    print(f"{name} (γ = {coords['gamma']}, Θ = {coords['theta']}):")
    for k in np.unique(np.round(kappa, 6)):
        m = np.round(kappa, 6) == k
        diff = np.nanmax(np.abs(neqb[m] - exact[m]))
        print(f"  κ={k:.4f}  max|NEQB − exact|={diff:.4f}  largest exact error bar={np.nanmax(bar[m]):.1e}")


if __name__ == "__main__":
    wubs()
    for name in ["fig1_longitudinal_weak", "fig2_longitudinal_strong", "beyond_strong_pt"]:
        stored(name)
