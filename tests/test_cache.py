"""The user cache (lzjax.cache, lzjax.programs): what a warm call loads is what a cold call builds.

Built process tensors and compiled programs are kept between processes. Exact points (the
process-tensor ladder, the plain ADT at fixed settings) run in fresh interpreters over one cache
folder — cold, warm, after every entry was damaged, and from an edited copy of lzjax (which must
load none of the original's entries) — and must give bitwise the numbers of a run without any
cache (LZJAX_NO_CACHE=1).
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lzjax.bath import relaxation_rate
from lzjax.model import Bath
from lzjax.programs import Program

ROOT = Path(__file__).resolve().parents[1]

#: two points through the process-tensor ladder and the plain ADT at fixed settings: the P values
#: (hex) and the compilations seen
SCRIPT = r"""
import json, sys
import jax, numpy as np
counts = {"compiles": 0}
def listen(event, duration, **kw):
    if event == "/jax/core/compile/backend_compile_duration":
        counts["compiles"] += 1
jax.monitoring.register_event_duration_secs_listener(listen)
from lzjax import Bath, Drive, LZProblem
from lzjax.quapi import converge_quapi, solve_quapi
problem = LZProblem(Drive(v=np.array([0.5, 2.0])), Bath(gamma=2e-3, s=1.0, omega_c=5.0, T=1.0), theta=0.3)
out = {}
runs = {
    "pt": lambda: converge_quapi(problem, tol=1e-2, eps_q=6.0),  # the process-tensor ladder
    "adt": lambda: solve_quapi(problem, dt=0.1, kmax=6, tmax=40.0),  # the plain ADT, fixed settings
}
for engine, run in runs.items():
    r = run()
    out[engine] = [float(x).hex() for x in np.concatenate([np.ravel(r.P_LZ), np.ravel(r.P_ES)])]
out["compiles"] = counts["compiles"]
print(json.dumps(out))
"""


def _run(cache: Path, *, root: Path = ROOT) -> dict:
    env = dict(os.environ, XDG_CACHE_HOME=str(cache), PYTHONPATH=str(root), JAX_PLATFORMS="cpu")
    env.pop("LZJAX_NO_CACHE", None)
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, cwd=str(cache), capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _entries(cache: Path, kind: str) -> list[Path]:
    folder = cache / "lzjax" / kind
    return sorted(folder.glob("*.npz")) if folder.is_dir() else []


@pytest.mark.slow
def test_warm_damaged_edited_and_uncached_runs_agree_bitwise(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    cold = _run(cache)
    programs, tensors = _entries(cache, "programs"), _entries(cache, "tensors")
    assert programs and tensors
    warm = _run(cache)
    assert _entries(cache, "programs") == programs  # nothing new: every program was loaded
    assert warm["compiles"] < cold["compiles"]  # loaded executables are not compiled again
    for entry in programs + tensors:  # damaged entries: rebuilt, never used
        entry.write_bytes(b"not an npz")
    damaged = _run(cache)
    # an edited lzjax stores its own programs and tensors beside the original's, loads none of them
    before = set(_entries(cache, "programs")) | set(_entries(cache, "tensors"))
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "lzjax", copy / "lzjax", ignore=shutil.ignore_patterns("__pycache__"))
    with open(copy / "lzjax" / "quapi" / "runner.py", "a") as fh:
        fh.write("\n# an edit\n")
    edited = _run(cache, root=copy)
    after = set(_entries(cache, "programs")) | set(_entries(cache, "tensors"))
    assert len(after - before) >= len(programs) + len(tensors)
    # the same points without any cache, in this process (the test suite sets LZJAX_NO_CACHE)
    assert os.environ.get("LZJAX_NO_CACHE") == "1"
    namespace: dict = {}
    exec(SCRIPT.replace("print(json.dumps(out))", ""), namespace)
    reference = namespace["out"]
    for engine in ("pt", "adt"):
        for run in (cold, warm, damaged, edited):
            assert run[engine] == reference[engine]
    # the probabilities are physical (a loaded program computing garbage would not be)
    values = np.array([float.fromhex(x) for x in reference["pt"] + reference["adt"]])
    assert np.all((values > 0.0) & (values < 1.0))


def test_program_equals_jit_inside_and_outside_a_trace(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("LZJAX_NO_CACHE", raising=False)
    bath = Bath(gamma=5e-4, s=3.0, omega_c=5.0, T=6.4)

    def rates(eps, theta, scale):
        return relaxation_rate(eps, theta, bath) * scale

    program = Program("tests.rates", rates, key=("tests", 1))
    eps = jnp.linspace(-10.0, 10.0, 33)
    direct = jax.jit(rates)(eps, 0.2, 2.0)
    assert np.array_equal(np.asarray(program(eps, 0.2, 2.0)), np.asarray(direct))
    assert program.compiled == 1 and program.loaded == 0
    assert len(list((tmp_path / "lzjax" / "programs").glob("*.npz"))) == 1
    again = Program("tests.rates", rates, key=("tests", 1))  # a new process would do this
    assert np.array_equal(np.asarray(again(eps, 0.2, 2.0)), np.asarray(direct))
    assert again.loaded == 1 and again.compiled == 0
    # under vmap (tracers) the program is the jitted function
    batched = jax.vmap(lambda s: program(eps, 0.2, s))(jnp.array([1.0, 2.0]))
    assert np.allclose(np.asarray(batched[1]), np.asarray(direct), rtol=1e-15, atol=0.0)
    assert np.all(np.isfinite(np.asarray(direct))) and np.all(np.asarray(direct) >= 0.0)  # golden-rule rates
