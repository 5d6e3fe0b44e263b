"""Warm-call cost and its compile share: this checkout against a baseline revision, one script run.

Each tree runs in its own child process (same machine, same load, alternating): a first
``solve_neqb`` call on the grid (compile + run), then ``--repeats`` warm calls of the identical
problem, each timed and with its XLA backend compilations counted and timed (jax.monitoring).
A warm call that compiles pays that compile every time: the "compile share" is the compile time
inside the warm calls over their wall time.

    python benchmarks/bench_warm.py --baseline-rev 4c0bf23     # 1,024 points (64 v × 4 T × 4 Θ)
    python benchmarks/bench_warm.py --baseline-rev 4c0bf23 --quick
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

from benchtools import COMPILE_COUNTER

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = (
    COMPILE_COUNTER
    + r"""
import lzjax
from lzjax import Bath, Drive, LZProblem, solve_neqb
n_v, repeats = int(sys.argv[1]), int(sys.argv[2])
v = np.geomspace(0.05, 10, n_v)[:, None, None]
T = np.array([1.6, 3.2, 6.4, 12.8])[None, :, None]
theta = np.array([0.0, 0.3, -0.3, 1.2])[None, None, :]
problem = LZProblem(Drive(v=v), Bath(gamma=5e-4, s=3, omega_c=5, T=T), theta=theta)
t = time.perf_counter(); solve_neqb(problem, tol=1e-6); first = time.perf_counter() - t
warm = []
for _ in range(repeats):
    c0, n0 = compile_s
    t = time.perf_counter(); r = solve_neqb(problem, tol=1e-6); wall = time.perf_counter() - t
    warm.append({"wall": wall, "compile": compile_s[0] - c0, "n_compiles": compile_s[1] - n0})
print(json.dumps({"first": first, "warm": warm, "points": int(np.size(r.P_LZ))}))
"""
)


def run(tree: str, n_v: int, repeats: int) -> dict:
    env = dict(os.environ, PYTHONPATH=tree)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(n_v), str(repeats)],
        env=env,
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline-rev", default="4c0bf23", help="git revision of the baseline")
    ap.add_argument("--quick", action="store_true", help="16 v instead of 64")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    n_v = 16 if args.quick else 64
    with tempfile.TemporaryDirectory() as base:
        archive = subprocess.run(["git", "-C", ROOT, "archive", args.baseline_rev], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", base], input=archive.stdout, check=True)
        load = os.getloadavg()[0]
        results = {}
        for name, tree in (("baseline", base), ("this", ROOT), ("baseline again", base), ("this again", ROOT)):
            results[name] = run(tree, n_v, args.repeats)
    print(f"load average at start: {load:.2f}; {results['this']['points']} points, tol 1e-6")
    for name, r in results.items():
        walls = sorted(w["wall"] for w in r["warm"])
        comp = sum(w["compile"] for w in r["warm"]) / sum(w["wall"] for w in r["warm"])
        n = [w["n_compiles"] for w in r["warm"]]
        print(
            f"{name:>15}: first {r['first']:.2f} s; warm median {walls[len(walls) // 2]:.3f} s, "
            f"min {walls[0]:.3f} s; compiles per warm call {n}; compile share of warm time {100 * comp:.0f} %"
        )


if __name__ == "__main__":
    main()
