"""Sweep throughput against the number of (host) devices, and peak memory against grid size.

    python benchmarks/bench_scale.py [--points 512] [--devices 1,2,4,8] [--grids 256,1024,4096]

Each measurement runs in a fresh subprocess (XLA_FLAGS=--xla_force_host_platform_device_count=N
fixes the device count at start-up); throughput is the warm time of a second identical sweep,
peak memory the child's own maximum resident set size (ru_maxrss) for a sweep with a fixed
chunk_size, so the grid grows while the chunk does not.
"""

import argparse
import json
import os
import subprocess
import sys

CHILD = """
import json, resource, sys, time, numpy as np, jax
from lzjax.sweeps import sweep
n, chunk = int(sys.argv[1]), int(sys.argv[2])
grid = dict(v=np.geomspace(0.05, 5.0, n // 4), T=[0.0, 1.0, 6.4, 25.6], gamma=5e-4, s=3, omega_c=5)
start = time.perf_counter(); sweep("neqb", chunk_size=chunk, **grid); first = time.perf_counter() - start
start = time.perf_counter(); sweep("neqb", chunk_size=chunk, **grid); warm = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB (Linux)
print(json.dumps({"devices": jax.device_count(), "points": n, "first": first, "warm": warm, "peak_rss_MiB": peak}))
"""


def run_child(n_points, chunk, devices):
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(n_points), str(chunk)], env=env, capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=512)
    parser.add_argument("--devices", default="1,2,4,8")
    parser.add_argument("--grids", default="256,1024,4096")
    args = parser.parse_args()
    print(f"throughput: {args.points} NEQB points (64 v... × 4 T), one chunk, warm second call")
    base = None
    for d in [int(x) for x in args.devices.split(",")]:
        r = run_child(args.points, args.points, d)
        base = base or r["warm"]
        print(
            f"  devices {r['devices']}: warm {r['warm']:.2f} s = {r['points'] / r['warm']:.0f} points/s "
            f"(speed-up vs 1: {base / r['warm']:.2f}x), first call {r['first']:.1f} s"
        )
    print("peak memory (max RSS of the child process, chunk_size 256, 1 device):")
    for n in [int(x) for x in args.grids.split(",")]:
        r = run_child(n, 256, 1)
        print(f"  {n:6d} points: peak RSS {r['peak_rss_MiB']:.0f} MiB, warm {r['warm']:.2f} s")


if __name__ == "__main__":
    main()
