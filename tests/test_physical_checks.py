"""Every result is checked: no probability outside [0, 1] returned as a number, and NEQB says
where its weak-coupling model does not hold (issue 23, items 1 and 2).

References: Wubs et al., PRL 97, 200404 (2006) — at T = 0, Θ = 0 the exact P_LZ is the coherent
1 − exp(−π/2v) for any bath; κ against an independent scipy quadrature.
"""

import json
import math

import numpy as np
import pytest

import lzjax
from lzjax import Bath, Drive, LZProblem, solve_neqb
from lzjax.bath import polaron_reduction
from lzjax.cli import main
from lzjax.neqb import KAPPA_MAX
from lzjax.quapi import solve_quapi
from lzjax.results import classify

STRONG = dict(T=0.0, s=3.0, omega_c=5.0)


def coherent(v):
    return -math.expm1(-math.pi / (2 * v))


# -- item 1: fixed-settings QUAPI far from convergence --------------------------------------------


@pytest.mark.parametrize("dt, kmax", [(0.1, 6), (0.05, 8)])
def test_unphysical_fixed_settings_are_never_numbers(dt, kmax):
    """γ = 0.2 at δt·k_max ≤ 0.6: the truncated influence functional gives P_LZ = −0.51
    (δt 0.1) and P_ES = 1.90 (δt 0.05) with the trace kept to 1e-13: a non-positive ρ. Both
    points come back as status "unphysical", P NaN, error ∞, converged False."""
    res = solve_quapi(LZProblem(Drive(v=1.0), Bath(gamma=0.2, **STRONG), theta=0.0), dt=dt, kmax=kmax, tmax=60.0)
    assert str(res.status) == "unphysical"
    assert np.isnan(res.P_LZ) and np.isnan(res.P_ES) and np.isinf(res.P_LZ_err) and not bool(res.converged)


def test_physical_fixed_settings_stay_unchecked():
    """The paper's Fig. 1 bath at the same settings: P in [0, 1], trace to 1e-12 — unchanged."""
    res = solve_quapi(
        LZProblem(Drive(v=1.0), Bath(gamma=5e-4, s=3, omega_c=5, T=6.4), theta=0.0), dt=0.1, kmax=6, tmax=60.0
    )
    assert str(res.status) == "unchecked" and 0 < float(res.P_LZ) < 1 and 0 < float(res.P_ES) < 1
    assert float(res.trace_err) < 1e-12


def test_cli_writes_null_and_warns(tmp_path, capsys):
    out = tmp_path / "r.json"
    argv = [
        "quapi",
        "--v",
        "1",
        "--T",
        "0",
        "--gamma",
        "0.2",
        "--s",
        "3",
        "--omega-c",
        "5",
        "--dt",
        "0.1",
        "--kmax",
        "6",
        "--tmax",
        "60",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    (record,) = json.loads(out.read_text())
    assert record["P_LZ"] is None and record["P_ES"] is None and record["status"] == "unphysical"
    err = capsys.readouterr().err
    assert "1 point(s) unphysical" in err and "(v=1, T=0, gamma=0.2" in err


def test_classify_rules():
    """The rule itself: a value beyond [0, 1] by more than its error (or the rounding slack
    without one) or a trace defect beyond max(error, 1e-6) is unphysical; within is kept."""
    p = np.array([0.5, -0.02, 1.0 + 5e-10, -0.02, 0.5, 0.5, np.nan])
    q = np.full(p.shape, 0.5)
    err = np.array([1e-3, 1e-3, np.nan, 0.05, 1e-3, 1e-7, 1e-3])
    trace = np.array([0.0, 0.0, 0.0, 0.0, 5e-4, 5e-6, 0.0])
    p_lz, _, err_lz, _, converged, status = classify(p, q, err, err, err <= 1e-2, trace_err=trace)
    assert status.tolist() == [
        "converged",
        "unphysical",
        "not converged",
        "not converged",
        "converged",
        "unphysical",
        "not finite",
    ]
    assert np.isnan(p_lz[[1, 5, 6]]).all() and np.isinf(err_lz[[1, 5, 6]]).all()
    assert p_lz[2] == 1.0 + 5e-10 and p_lz[3] == -0.02 and not converged[1]
    assert classify(p, q, err, err, None)[-1][0] == "unchecked"


def test_sweep_and_store_carry_the_status(tmp_path):
    """The sweep's records and its resumable store carry the status; the values stay null."""
    store = tmp_path / "s.jsonl"
    kwargs = dict(v=[1.0], T=0.0, gamma=[5e-4, 0.2], s=3, omega_c=5, dt=0.1, kmax=6, tmax=60.0)
    grid = lzjax.sweep("quapi", store=store, **kwargs)
    assert grid["status"].ravel().tolist() == ["unchecked", "unphysical"]
    again = lzjax.sweep("quapi", store=store, **kwargs)  # read back, not recomputed
    assert again["status"].ravel().tolist() == ["unchecked", "unphysical"]
    records = again.records()
    assert records[1]["P_LZ"] is None and records[0]["P_LZ"] == pytest.approx(float(grid["P_LZ"].ravel()[0]), abs=0)


# -- item 2: NEQB's validity -------------------------------------------------------------------


def test_polaron_reduction_against_quadrature():
    """κ = 1 − exp(−Φ/2), Φ = ∫_1^∞ G/ω² coth(ω/2T) dω, against scipy quad (rel. 1e-10)."""
    quad = pytest.importorskip("scipy.integrate").quad
    for s, omega_c, T in [(0.3, 40.0, 25.6), (1.0, 5.0, 0.0), (3.0, 5.0, 6.4), (6.0, 1.0, 50.0), (2.0, 0.5, 0.3)]:
        g = 1e-2

        def integrand(w, s=s, omega_c=omega_c, T=T):
            return g / math.pi * w ** (s - 2) * math.exp(-w / omega_c) * (1 / math.tanh(w / (2 * T)) if T else 1.0)

        phi = quad(integrand, 1.0, np.inf, limit=400, epsabs=0, epsrel=1e-13)[0]
        kappa = float(polaron_reduction(Bath(gamma=g, s=s, omega_c=omega_c, T=T)))
        assert kappa == pytest.approx(-math.expm1(-phi / 2), rel=1e-10)


@pytest.mark.parametrize("gamma", [0.05, 0.2])
@pytest.mark.slow
def test_neqb_beyond_weak_coupling_is_flagged(gamma, capsys):
    """Wubs: the exact P_LZ at T = 0, Θ = 0 is the coherent 0.7921 (v = 1). NEQB is off by
    0.098 (γ = 0.05) and 0.19 (γ = 0.2), numerically converged; κ = 0.18 / 0.54 bounds that
    error and the point is "beyond weak coupling", converged False; the CLI warns."""
    res = solve_neqb(LZProblem(Drive(v=1.0), Bath(gamma=gamma, **STRONG), theta=0.0))
    model_error = abs(float(res.P_LZ) - coherent(1.0))
    assert model_error > 0.05 and float(res.P_LZ_err) < 1e-6  # the numerics are converged, the model is not
    assert float(res.kappa) > KAPPA_MAX and model_error <= float(res.kappa)
    assert str(res.status) == "beyond weak coupling" and not bool(res.converged)
    assert main(["neqb", "--v", "1", "--T", "0", "--gamma", str(gamma), "--s", "3", "--omega-c", "5"]) == 0
    err = capsys.readouterr().err
    assert "beyond NEQB's weak coupling" in err and "use lzjax quapi" in err


@pytest.mark.slow
def test_kappa_bounds_neqb_error_where_exact_is_known():
    """Calibration (Wubs, T = 0, Θ = 0): over s, ω_c, γ and v the NEQB error stays ≤ κ
    (measured 0.60–0.98 κ at the worst v), so κ is an honest scale of the model error."""
    v = np.array([0.1, 0.3, 1.0, 3.0, 10.0])
    exact = -np.expm1(-np.pi / (2 * v))
    for s, omega_c, gamma in [(3.0, 5.0, 5e-3), (3.0, 10.0, 2e-2), (1.0, 5.0, 0.2), (0.5, 5.0, 0.05)]:
        res = solve_neqb(LZProblem(Drive(v=v), Bath(gamma=gamma, s=s, omega_c=omega_c, T=0.0), theta=0.0))
        worst = float(np.max(np.abs(res.P_LZ - exact)))
        kappa = float(res.kappa[0])
        assert 0.5 * kappa <= worst <= kappa, (s, omega_c, gamma, worst, kappa)


@pytest.mark.slow
def test_paper_fig1_point_is_within_validity():
    """The paper's Fig. 1 bath (γ = 5e-4, s = 3, ω_c = 5) at every temperature it shows."""
    res = solve_neqb(
        LZProblem(
            Drive(v=np.array([0.1, 1.0, 3.0])[:, None]),
            Bath(gamma=5e-4, s=3, omega_c=5, T=np.array([0.0, 1.6, 6.4, 25.6])),
            theta=0.0,
        )
    )
    assert np.all(res.status == "converged") and np.all(res.kappa < KAPPA_MAX)


def test_ladder_refuses_a_sweep_too_fast_for_its_window():
    """At v = 1e4 the process tensor's δt = 0.05 crossed the exact window in one step: every run
    agreed on P_LZ = 0.999995, "converged", where the exact value is 1 − exp(−π/2v) = 1.6e-4.
    At v = 30 (20 steps) it was off by 1.1e-2 with a bar of 9.3e-3. Now refused before any
    work, naming v."""
    problem = LZProblem(Drive(v=np.array([1.0, 1e4])), Bath(gamma=5e-4, s=3, omega_c=5, T=6.4), theta=0.0)
    with pytest.raises(ValueError, match=r"v \(the sweep speed\) is too fast .* first v/delta\*\*2 = 10000"):
        lzjax.converge_quapi(problem, tol=1e-3)  # the process tensor: one δt per bath
