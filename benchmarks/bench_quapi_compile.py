"""Cold QUAPI calls: how much of a first call is compiling, this checkout against a baseline.

Each tree runs in its own child process (same machine, alternating baseline / this / baseline /
this): three calls in sequence, each timed with its XLA backend compilations counted and timed
(jax.monitoring):

1. `converge_quapi` with the plain ADT (budget 4, tol 0.1) at v = 0.3, 1 (γ = 5e-3, s = 3,
   ω_c = 5, T = 6.4, Θ = 0) — the ladder's five runs per sweep speed (the beyond-the-paper
   notebook's fast-mode call);
2. `converge_quapi` with the process tensor (tol 1e-2) at v = 0.5, 1, 2 (Θ = 0.3), same bath;
3. the same at new sweep speeds v = 0.505, 1.01, 2.02 (new step counts, same tensors).

    python benchmarks/bench_quapi_compile.py --baseline-rev 4ad32d0 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

from benchtools import COMPILE_COUNTER, finish

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = (
    COMPILE_COUNTER
    + r"""
from lzjax import Bath, Drive, LZProblem
from lzjax.quapi import converge_quapi
bath = Bath(gamma=5e-3, s=3, omega_c=5, T=6.4)
calls = {
    "adt ladder, 2 v": lambda: converge_quapi(LZProblem(Drive(v=np.array([0.3, 1.0])), bath), tol=0.1, budget=4),
    "pt ladder, 3 v": lambda: converge_quapi(LZProblem(Drive(v=np.array([0.5, 1.0, 2.0])), bath, 0.3), tol=1e-2),
    "pt ladder, 3 new v": lambda: converge_quapi(
        LZProblem(Drive(v=np.array([0.505, 1.01, 2.02])), bath, 0.3), tol=1e-2
    ),
}
out = {}
for name, call in calls.items():
    c0, n0 = compile_s
    t = time.perf_counter(); r = call(); wall = time.perf_counter() - t
    out[name] = {"wall": wall, "compile": compile_s[0] - c0, "n_compiles": compile_s[1] - n0,
                 "P_LZ": np.asarray(r.P_LZ).tolist()}
print(json.dumps(out))
"""
)


def run(tree: str) -> dict:
    env = dict(os.environ, PYTHONPATH=tree)
    proc = subprocess.run([sys.executable, "-c", CHILD], env=env, cwd=tree, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline-rev", default="4ad32d0", help="git revision of the baseline")
    ap.add_argument("--json", help="write the results to this file")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as base:
        archive = subprocess.run(["git", "-C", ROOT, "archive", args.baseline_rev], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", base], input=archive.stdout, check=True)
        results = {}
        for name, tree in (("baseline", base), ("this", ROOT), ("baseline again", base), ("this again", ROOT)):
            results[name] = run(tree)
    print(f"load average at start: {load:.2f}; baseline {args.baseline_rev}")
    for name, r in results.items():
        print(f"{name}:")
        for call, x in r.items():
            print(f"  {call:>20}: {x['wall']:6.2f} s, {x['n_compiles']:3d} compiles taking {x['compile']:5.2f} s")
    same = max(
        abs(a - b)
        for call in results["this"]
        for a, b in zip(results["this"][call]["P_LZ"], results["baseline"][call]["P_LZ"], strict=True)
    )
    print(f"max |P_LZ(this) - P_LZ(baseline)| over all calls: {same:.2g}")
    finish({"results": results, "load_start": load, "baseline": args.baseline_rev}, args.json)


if __name__ == "__main__":
    main()
