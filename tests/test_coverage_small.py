"""Error bars of the process-tensor ladder contain the answer of a far finer ladder (issue 20,
item 4): the small, timed version of ``benchmarks/bench_coverage.py`` (which runs ≥ 40 random
points and reports coverage, convergence, overstatement and cost).

Asserted, per point and for P_LZ and P_ES separately:

* ``converge_quapi(problem, tol=1e-3)`` (default engine, the process tensor) converges: both bars
  at or below 1e-3;
* |P(tol 1e-3) − P_ref| ≤ err + err_ref, where the reference is ``converge_quapi(problem,
  tol=1e-5, memory_time=12.8)`` — a wider window, a finer step, a 10× tighter truncation and twice
  the memory — and err_ref its own bar (counted in the tested bar's favour: the reference is not
  exact);
* err_ref ≤ 1e-4 = tol/10, so that the comparison above tests the bar at the level of the
  tolerance (measured here: err_ref ≤ 5.6e-5, the tested bars 1e-5 … 3e-4, |Δ| ≤ 2e-5).

The points are cheap ones (v ≥ 1, ω_c ≤ 5, γ ≤ 1e-3) of different character: Ohmic at low T,
mostly longitudinal; super-Ohmic at T = 0, mostly transversal (there the window part dominates
the bar). Float64 throughout (lzjax enables x64 on import; conftest asserts it).
"""

import numpy as np
import pytest

import lzjax

TOL = 1e-3
REF_TOL = 1e-5
REF_MEMORY_TIME = 12.8
#: the reference must be at least this accurate for the comparison to test the tol-1e-3 bars
REF_ERR_MAX = 1e-4

#: (s, Θ, T, ω_c, γ, v), Δ = 1
POINTS = (
    (1.0, 0.5, 3.2, 2.5, 2e-4, 4.0),
    (2.0, -1.0, 0.0, 4.0, 1e-3, 6.0),
)


@pytest.mark.slow
def test_tol_1e3_bars_contain_a_far_finer_ladder():
    s, theta, T, omega_c, gamma, v = (np.array(x, dtype=np.float64) for x in zip(*POINTS, strict=True))
    problem = lzjax.LZProblem(lzjax.Drive(v), lzjax.Bath(gamma, s, omega_c, T), theta)
    tested = lzjax.converge_quapi(problem, tol=TOL)
    ref = lzjax.converge_quapi(problem, tol=REF_TOL, memory_time=REF_MEMORY_TIME)
    assert np.all(np.asarray(tested.converged)), (
        f"tol {TOL:g} did not converge: P_LZ_err {tested.P_LZ_err}, P_ES_err {tested.P_ES_err}"
    )
    for q in ("P_LZ", "P_ES"):
        value, err = np.asarray(getattr(tested, q)), np.asarray(getattr(tested, f"{q}_err"))
        truth, err_ref = np.asarray(getattr(ref, q)), np.asarray(getattr(ref, f"{q}_err"))
        assert value.dtype == np.float64 and truth.dtype == np.float64
        assert np.all(np.isfinite(value)) and np.all(np.isfinite(truth))
        assert np.all(err_ref <= REF_ERR_MAX), f"reference {q} bar {err_ref} above {REF_ERR_MAX:g}"
        delta = np.abs(value - truth)
        assert np.all(delta <= err + err_ref), (
            f"{q}: |tol-{TOL:g} value − reference| = {delta} exceeds err + err_ref = {err + err_ref} "
            f"(err {err}, err_ref {err_ref}; parts dt {tested.err_dt}, memory {tested.err_memory}, "
            f"window {tested.err_window}, compression {tested.err_compression})"
        )
