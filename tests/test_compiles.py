"""No recompiles: a second identical call of every public batch entry point compiles nothing.

Every jitted function is built once (module level, or a cache keyed by its static arguments),
so the second call reuses the first call's executables (counted through jax.monitoring's
backend-compile events, tests/conftest.py). The fit's check is in tests/test_fit.py
(test_second_fit_compiles_nothing_new), where its programs are compiled anyway.
"""

import numpy as np
import pytest

from lzjax import Bath, Drive, LZProblem, solve_neqb, sweep
from lzjax.quapi import converge_quapi, solve_quapi

BATH = Bath(gamma=5e-4, s=3, omega_c=5, T=6.4)


def _twice(compiles, call):
    with compiles:
        a = call()
    first = compiles.count
    with compiles:
        b = call()
    return first, compiles.count, a, b


@pytest.mark.slow
def test_solve_neqb_second_call_compiles_nothing(compiles):
    problem = LZProblem(Drive(v=np.array([0.1, 1.0, 3.0])), BATH, theta=0.2)
    n1, n2, a, b = _twice(compiles, lambda: solve_neqb(problem, tol=1e-5))
    assert n1 > 0  # the counter sees the first call's compilations
    assert n2 == 0
    assert np.array_equal(a.P_LZ, b.P_LZ)


@pytest.mark.slow
def test_converge_quapi_second_call_compiles_nothing(compiles):
    problem = LZProblem(Drive(v=np.array([1.0, 3.0])), BATH)
    n1, n2, a, b = _twice(compiles, lambda: converge_quapi(problem, tol=1e-2, budget=3, eps_q=6.0))
    assert n2 == 0
    assert np.array_equal(a.P_LZ, b.P_LZ)


def test_solve_quapi_second_call_compiles_nothing(compiles):
    problem = LZProblem(Drive(v=np.array([1.0, 2.0])), BATH)
    n1, n2, a, b = _twice(compiles, lambda: solve_quapi(problem, dt=0.2, kmax=3, tmax=12, progress=True))
    assert n2 == 0
    assert np.array_equal(a.P_ES, b.P_ES)


@pytest.mark.slow
def test_sweep_over_chunks_compiles_once(compiles):
    """Four chunks of one NEQB sweep: the later chunks reuse the first chunk's executables."""
    grid = dict(v=np.geomspace(0.1, 3, 8), T=6.4, gamma=5e-4, s=3, omega_c=5)
    n1, n2, a, b = _twice(compiles, lambda: sweep("neqb", chunk_size=2, tol=1e-5, **grid))
    assert n2 == 0
    assert np.array_equal(a["P_LZ"], b["P_LZ"])


@pytest.mark.slow
def test_converge_quapi_at_new_nearby_speeds_compiles_nothing(compiles):
    """The process-tensor ladder at v = 1, 3 and then at v = 1.01, 3.02: the step counts change
    (by ~1 %) but stay in their buckets (lzjax.quapi.runner.step_bucket), the tensors are the
    same (same bath and δt), so the second call compiles nothing and gives other numbers."""
    first = converge_quapi(LZProblem(Drive(v=np.array([1.0, 3.0])), BATH), tol=1e-2)
    with compiles:
        second = converge_quapi(LZProblem(Drive(v=np.array([1.01, 3.02])), BATH), tol=1e-2)
    assert compiles.count == 0
    assert np.all(second.P_LZ != first.P_LZ) and np.all(np.abs(second.P_LZ - first.P_LZ) < 0.02)


@pytest.mark.slow
def test_cpu_calls_merge_neighbouring_step_buckets_of_lone_points():
    """On a CPU, lone points of neighbouring step buckets share a call (one point alone uses the
    CPU poorly), full buckets of 4 keep their own, and far-apart step counts are not merged
    (the held steps would cost more): every point in exactly one call."""
    from lzjax.quapi.ladder import call_parts

    assert [list(p) for p in call_parts(np.array([6666, 5276, 4176]))] == [[0, 1, 2]]
    assert [list(p) for p in call_parts(np.array([1000, 100]))] == [[1], [0]]
    four = call_parts(np.repeat([6666, 5276], 4))
    assert sorted(len(p) for p in four) == [4, 4]
    parts = call_parts(np.geomspace(200, 6666, 16).astype(int))
    assert sorted(np.concatenate(parts).tolist()) == list(range(16)) and len(parts) < 16


def test_converge_quapi_one_wide_batch_on_an_accelerator_equals_the_cpu_buckets(monkeypatch):
    """On an accelerator the ladder runs all points of a plan as one call (mixed step buckets,
    each point held once its own steps are done); on a CPU one call per bucket where merging
    them costs more (here forced: ``MERGE_POINTS = 1``). An ADT ladder (its plan does not depend
    on v, so both speeds share it) at v = 1, 3: on the CPU its runs split into two buckets; with
    the backend reported as "gpu" (only the ladder's choice of calls changes: the arrays stay on
    this CPU) one call, and the values and error bars equal the CPU buckets' to 1e-12."""
    import jax

    from lzjax.quapi import ladder

    calls = []
    parts = ladder.call_parts
    monkeypatch.setattr(ladder, "call_parts", lambda n: calls.append(parts(n)) or calls[-1])
    monkeypatch.setattr(ladder, "MERGE_POINTS", 1)
    problem = LZProblem(Drive(v=np.array([1.0, 3.0])), BATH)
    cpu = converge_quapi(problem, tol=1e-2, budget=4, eps_q=6.0)
    assert max(len(c) for c in calls) == 2  # the CPU path did split a batch
    calls.clear()
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    wide = converge_quapi(problem, tol=1e-2, budget=4, eps_q=6.0)
    assert calls and all(len(c) == 1 and len(c[0]) == 2 for c in calls)  # one call with both points
    for key in ("P_LZ", "P_ES", "P_LZ_err", "P_ES_err"):
        np.testing.assert_allclose(getattr(wide, key), getattr(cpu, key), rtol=0, atol=1e-12)
