"""Scale-out: sharding over (host) devices, chunked sweeps, resumable stores (issue 6)."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import lzjax.sweeps as sweep_module
from lzjax.sweeps import sweep

GRID = dict(v=list(np.geomspace(0.05, 5.0, 10)), T=[0.0, 6.4], theta=[0.0, 0.3], gamma=5e-4, s=3, omega_c=5)


def run_python(code: str, env_extra=None, **kw):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


@pytest.mark.slow
def test_sharded_over_eight_host_devices_equals_unsharded():
    code = f"""
        import json, jax, numpy as np
        from lzjax.sweeps import sweep
        r = sweep("neqb", **{GRID!r})
        print(json.dumps({{"devices": jax.device_count(), "P_LZ": r["P_LZ"].ravel().tolist(),
                          "P_ES": r["P_ES"].ravel().tolist()}}))
    """
    proc = run_python(code, {"XLA_FLAGS": "--xla_force_host_platform_device_count=8"})
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    sharded = json.loads(out.strip().splitlines()[-1])
    assert sharded["devices"] == 8
    single = sweep("neqb", **GRID)
    np.testing.assert_allclose(sharded["P_LZ"], single["P_LZ"].ravel(), rtol=0, atol=1e-13)
    np.testing.assert_allclose(sharded["P_ES"], single["P_ES"].ravel(), rtol=0, atol=1e-13)


@pytest.mark.slow
def test_chunked_equals_whole_and_bad_chunk_size():
    whole = sweep("neqb", **GRID)
    chunked = sweep("neqb", chunk_size=7, **GRID)
    np.testing.assert_array_equal(chunked["P_LZ"], whole["P_LZ"])
    with pytest.raises(ValueError, match="^chunk_size must be a positive integer"):
        sweep("neqb", chunk_size=0, **GRID)


@pytest.mark.slow
def test_resume_after_sigkill_matches_uninterrupted(tmp_path, monkeypatch):
    store = tmp_path / "study.jsonl"
    grid = dict(GRID, v=list(np.geomspace(0.05, 5.0, 15)))  # 60 points, 30 chunks of 2
    n_chunks = 30
    code = f"""
        import numpy as np
        from lzjax.sweeps import sweep
        sweep("neqb", chunk_size=2, store={str(store)!r}, **{grid!r})
    """
    proc = run_python(code)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if store.exists() and store.read_text().count("\n") >= 3:  # header + 2 chunks
            break
        time.sleep(0.02)
    assert proc.poll() is None, proc.communicate()[1][-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    finished = store.read_text().count("\n") - 1
    assert proc.returncode == -signal.SIGKILL
    assert 2 <= finished < n_chunks, "the kill must land mid-run"

    calls = []
    original = sweep_module.engine_call

    def counting(engine, options, progress):
        run, names = original(engine, options, progress)
        return (lambda problem: calls.append(1) or run(problem)), names

    monkeypatch.setattr(sweep_module, "engine_call", counting)
    resumed = sweep("neqb", chunk_size=2, store=store, **grid)
    assert len(calls) <= n_chunks - finished, "finished chunks are read back, not recomputed"
    monkeypatch.undo()
    uninterrupted = sweep("neqb", **grid)
    for name in ["P_LZ", "P_ES", "P_LZ_err", "converged", "n_steps"]:
        np.testing.assert_array_equal(resumed[name], uninterrupted[name])
    lines = store.read_text().splitlines()
    assert len(lines) == n_chunks + 1 and all(json.loads(x) for x in lines)


@pytest.mark.slow
def test_store_refuses_other_parameters_and_foreign_files(tmp_path):
    store = tmp_path / "s.jsonl"
    sweep("neqb", chunk_size=8, store=store, **GRID)
    before = store.read_text()
    with pytest.raises(ValueError, match="refusing to mix"):
        sweep("neqb", chunk_size=8, store=store, **dict(GRID, T=[1.0]))
    with pytest.raises(ValueError, match="refusing to mix"):
        sweep("neqb", chunk_size=8, store=store, tol=1e-7, **GRID)
    assert store.read_text() == before
    foreign = tmp_path / "other.jsonl"
    foreign.write_text("not json\n")
    with pytest.raises(ValueError, match="not an lzjax sweep file"):
        sweep("neqb", store=foreign, **GRID)


def test_truncated_last_chunk_is_discarded(tmp_path):
    """A store whose last line was cut mid-write: that chunk is recomputed, and the values and
    the store come out as the uninterrupted run's, bitwise. Six points in three chunks at tol
    1e-4 (the check is the equality of two runs, at any tolerance: fewer levels to compile)."""
    store = tmp_path / "s.jsonl"
    grid = dict(GRID, v=[0.3, 1.0, 3.0], theta=[0.3], tol=1e-4)
    full = sweep("neqb", chunk_size=2, store=store, **grid)
    text = store.read_text()
    assert text.count("\n") == 1 + 3
    store.write_text(text[: len(text) - 40])  # a kill in the middle of writing the last chunk
    again = sweep("neqb", chunk_size=2, store=store, **grid)
    np.testing.assert_array_equal(again["P_LZ"], full["P_LZ"])
    assert store.read_text() == text
