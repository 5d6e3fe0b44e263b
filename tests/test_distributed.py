"""Scale-out that is real: one sweep as two JAX processes on this machine (jax.distributed on
localhost, gloo CPU collectives), each process one CPU device of a 2-device global mesh; both
processes get the one-process numbers (the batch is sharded over the processes' devices and
gathered with process_allgather, lzjax.sharding.gather)."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from lzjax import sweep

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRID = dict(v=[0.1, 0.3, 1.0, 3.0, 0.05, 2.0], T=6.4, gamma=5e-4, s=3.0, omega_c=5.0, tol=1e-5)

WORKER = r"""
import json, sys
import jax
jax.config.update("jax_cpu_collectives_implementation", "gloo")
jax.distributed.initialize(f"localhost:{sys.argv[2]}", num_processes=2, process_id=int(sys.argv[1]))
import numpy as np
import lzjax
grid = json.loads(sys.argv[3])
r = lzjax.sweep("neqb", **grid)
print(json.dumps({"devices": jax.device_count(), "local": jax.local_device_count(),
                  "P_LZ": np.asarray(r["P_LZ"]).ravel().tolist(), "P_ES": np.asarray(r["P_ES"]).ravel().tolist()}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_give_the_one_process_numbers():
    port = str(_free_port())
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(i), port, json.dumps(GRID)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outs = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=240)
            assert p.returncode == 0, err[-2000:]
            outs.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    one = sweep("neqb", **GRID)
    for o in outs:
        assert o["devices"] == 2 and o["local"] == 1  # a real two-process mesh
        np.testing.assert_allclose(o["P_LZ"], np.asarray(one["P_LZ"]).ravel(), rtol=0, atol=1e-12)
        np.testing.assert_allclose(o["P_ES"], np.asarray(one["P_ES"]).ravel(), rtol=0, atol=1e-12)
