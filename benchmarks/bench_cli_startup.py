"""Wall time of small CLI calls — a 3-point `lzjax neqb` and a 1-point `lzjax quapi --tol 1e-2`
(the process-tensor ladder) — first (cold persistent compilation cache) and second (warm
cache), each a fresh process, as a user runs it, and with the cache off.

    python benchmarks/bench_cli_startup.py [--repeats 2]

The cache lives in a temporary XDG_CACHE_HOME, so the user's own cache is not touched.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

BATH = ["--T", "6.4", "--gamma", "5e-4", "--s", "3", "--omega-c", "5"]
COMMANDS = {
    "neqb, 3 points": ["-m", "lzjax", "neqb", "--v", "0.1,0.3,1", *BATH],
    "quapi --tol 1e-2, 1 point": ["-m", "lzjax", "quapi", "--v", "1", *BATH, "--tol", "1e-2"],
}


def run(env: dict, args: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, *args], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=2)
    repeats = parser.parse_args().repeats
    base = {k: v for k, v in os.environ.items() if k != "LZJAX_NO_CACHE"}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import lzjax"], env=base, check=True)
    print(f"import lzjax alone: {time.perf_counter() - t0:.2f} s")
    for name, args in COMMANDS.items():
        off = [run(dict(base, LZJAX_NO_CACHE="1"), args) for _ in range(repeats)]
        print(
            f"{name}: cache off (LZJAX_NO_CACHE=1): min {min(off):.2f} s over {repeats}: "
            f"{', '.join(f'{t:.2f}' for t in off)}"
        )
        for r in range(repeats):
            with tempfile.TemporaryDirectory() as cache:
                env = dict(base, XDG_CACHE_HOME=cache)
                first, second, third = run(env, args), run(env, args), run(env, args)
                size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(cache) for f in fs)
            print(
                f"{name}: repeat {r}: first call (cold cache) {first:.2f} s, second {second:.2f} s, "
                f"third {third:.2f} s; cache {size / 2**20:.1f} MiB"
            )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
