"""QUAPI engine checks (float64) against known physics; numbers measured on a 2-core CPU.

Reference systems (DESIGN.md §4): the η coefficients against scipy quad of the double time
integral of C(t) and the T = 0 closed form; Δ = 0 pure dephasing (independent-boson model);
no bath (Landau-Zener formula); Wubs' T = 0 theorem; NEQB at weak coupling.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import gamma as gamma_fn

import lzjax
from lzjax.adiabatic import bloch_from_rho, rho_from_bloch
from lzjax.bath import correlation_function
from lzjax.model import Bath, Drive, LZProblem
from lzjax.quapi import (
    converge_quapi,
    estimate_memory_bytes,
    quapi_probabilities,
    quapi_window_probabilities,
    solve_quapi,
)
from lzjax.quapi.engines.adt import adt_propagate, advance, advance_factored, factored_influence
from lzjax.quapi.influence import eta_coefficients, eta_pair, eta_self, influence_tensor
from lzjax.quapi.propagator import liouville, lz_protocol, magnus4_propagators


def lz_formula(v):
    return 1.0 - math.exp(-math.pi / (2.0 * v))


# ---- η coefficients --------------------------------------------------------------------------


def _phi_t0(t, s, omega_c):
    """Φ(t) = ∫_0^t (t − τ) C(τ) dτ at T = 0, γ = 1: closed form of ∫∫ Γ(σ)/π (1/ω_c + iτ)^(−σ)."""
    sigma, a = s + 1.0, 1.0 / omega_c
    z, z0 = a + 1j * t, a + 0j
    if s == 1:
        f2 = lambda w: np.log(w)  # noqa: E731
        f1_0 = 1j / z0
    else:
        f2 = lambda w: -(w ** (2.0 - sigma)) / ((sigma - 1.0) * (sigma - 2.0))  # noqa: E731
        f1_0 = z0 ** (1.0 - sigma) / (1j * (1.0 - sigma))
    return gamma_fn(sigma) / math.pi * (f2(z) - f2(z0) - t * f1_0)


def _pair_from_phi(phi, l1, l2, d):
    return phi(d + (l1 + l2) / 2) - phi(d + (l1 - l2) / 2) - phi(d - (l1 - l2) / 2) + phi(d - (l1 + l2) / 2)


def _pair_quad(c, l1, l2, d):
    """∫_{−l1/2}^{l1/2} du ∫_{−l2/2}^{l2/2} du' C(d + u − u') = ∫ w(τ) C(d + τ) dτ by scipy quad."""
    half_sum, half_diff = (l1 + l2) / 2, abs(l1 - l2) / 2
    weight = lambda tau: min(l1, l2) if abs(tau) <= half_diff else half_sum - abs(tau)  # noqa: E731
    parts = [
        quad(
            lambda tau: weight(tau) * f(c(d + tau)),
            -half_sum,
            half_sum,
            points=[-half_diff, half_diff],
            epsabs=1e-14,
            epsrel=1e-13,
            limit=200,
        )[0]
        for f in (np.real, np.imag)
    ]
    return parts[0] + 1j * parts[1]


def _self_quad(c, length):
    parts = [
        quad(lambda tau: (length - tau) * f(c(tau)), 0, length, epsabs=1e-14, epsrel=1e-13)[0]
        for f in (np.real, np.imag)
    ]
    return parts[0] + 1j * parts[1]


# (l1, l2, d) for interior neighbours, far interior, start/end edge and start-end pairs, dt = 0.1/0.4
_GEOMETRIES = [
    (0.1, 0.1, 0.1),
    (0.1, 0.1, 1.0),
    (0.1, 0.05, 0.275),
    (0.05, 0.05, 0.55),
    (0.4, 0.4, 0.4),
    (0.4, 0.2, 2.7),
    (0.2, 0.2, 3.8),
]


@pytest.mark.parametrize("s", [1.0, 3.0])
@pytest.mark.parametrize("T", [0.0, 6.4])
def test_eta_against_scipy_quad(s, T):
    """η vs scipy quad of ∫∫C with C from lzjax.bath (Hurwitz zeta): |Δη| ≤ 2e-12·|η_self(0.4)|
    (measured ≤ 4e-13 relative)."""
    bath = Bath(gamma=1.0, s=s, omega_c=5.0, T=T)
    c_jit = jax.jit(lambda t: correlation_function(t, bath))
    c = lambda t: complex(c_jit(t))  # noqa: E731
    scale = abs(complex(eta_self(bath, 0.4)))  # largest η of the set
    for l1, l2, d in _GEOMETRIES:
        mine = complex(eta_pair(bath, l1, l2, d))
        assert abs(mine - _pair_quad(c, l1, l2, d)) <= 2e-12 * scale, (l1, l2, d)
    for length in (0.05, 0.1, 0.4):
        assert abs(complex(eta_self(bath, length)) - _self_quad(c, length)) <= 2e-12 * scale


@pytest.mark.parametrize("s", [1.0, 3.0])
def test_eta_against_t0_closed_form(s):
    """At T = 0 Φ(t) has a closed form (log for s = 1): agreement to 1e-12 relative to Φ(0.4)
    (measured ≤ 2e-13)."""
    bath = Bath(gamma=1.0, s=s, omega_c=5.0, T=0.0)
    phi = lambda t: _phi_t0(t, s, 5.0)  # noqa: E731
    scale = abs(phi(0.4))
    for l1, l2, d in _GEOMETRIES:
        assert abs(complex(eta_pair(bath, l1, l2, d)) - _pair_from_phi(phi, l1, l2, d)) <= 1e-12 * scale
    for length in (0.05, 0.1, 0.4):
        assert abs(complex(eta_self(bath, length)) - phi(length)) <= 1e-12 * scale


def test_eta_linear_in_gamma():
    eta1 = eta_coefficients(Bath(1.0, 3.0, 5.0, 2.0), 0.1, 4)
    eta2 = eta_coefficients(Bath(2.5, 3.0, 5.0, 2.0), 0.1, 4)
    for a, b in zip(eta1, eta2, strict=False):
        np.testing.assert_allclose(np.asarray(b), 2.5 * np.asarray(a), rtol=1e-14)


# ---- pure dephasing, Δ = 0 -------------------------------------------------------------------


@pytest.mark.parametrize("s, T, gamma", [(3.0, 0.0, 0.05), (1.0, 2.0, 0.05)])
@pytest.mark.slow
def test_pure_dephasing(s, T, gamma):
    """Δ = 0, Θ = 0: |ρ↑↓(t)| = |ρ↑↓(0)| exp(−Γ(t)) while t ≤ kmax·δt (no memory truncation).

    Measured max deviation ≈ 1e-11 (s = 3, T = 0) for t = 0.2 … 2.0; requirement 1e-4.
    """
    bath = Bath(gamma=gamma, s=s, omega_c=5.0, T=T)
    dt, kmax, n = 0.2, 10, 11
    t = dt * jnp.arange(n + 1)
    k_steps = liouville(magnus4_propagators(Drive(v=0.7), t, 0.0, delta=0.0))
    rho0 = jnp.full((1, 4), 0.5 + 0j)  # (|↑⟩ + |↓⟩)/√2
    trace = np.asarray(adt_propagate(k_steps, rho0, eta_coefficients(bath, dt, kmax), kmax, trace=True))

    def gamma_t(tk):
        g = lambda w: gamma / math.pi * w**s * math.exp(-w / 5.0)  # noqa: E731
        coth = (lambda w: 1.0 / math.tanh(w / (2 * T))) if T > 0 else (lambda w: 1.0)
        return quad(lambda w: g(w) * coth(w) * (1 - math.cos(w * tk)) / w**2, 0, np.inf, limit=500, epsabs=1e-13)[0]

    for k in range(1, kmax + 1):
        exact = 0.5 * math.exp(-gamma_t(k * dt))
        assert abs(abs(trace[k - 1, 0, 1]) - exact) < 1e-9, k
        np.testing.assert_allclose(trace[k - 1, 0, [0, 3]].real, 0.5, atol=1e-13)  # frozen


# ---- no bath ---------------------------------------------------------------------------------


def test_no_bath_landau_zener():
    """γ = 1e-9 (s = 3, T = 1): P_LZ = P_ES = 1 − exp(−π/2v) for v = 0.5, 1, 3 as one batch.

    dt = 0.1, kmax = 1, tmax = 200: measured |error| ≤ 8.1e-6 (v = 3, Magnus error; 5e-7 and
    6e-8 at v = 1, 0.5); tolerance 2e-5.
    """
    v = np.array([0.5, 1.0, 3.0])
    problem = LZProblem(Drive(v=v), Bath(gamma=1e-9, s=3.0, omega_c=5.0, T=1.0), 0.0)
    result = solve_quapi(problem, dt=0.1, kmax=1, tmax=200.0)
    exact = np.array([lz_formula(x) for x in v])
    np.testing.assert_allclose(result.P_LZ, exact, atol=2e-5)
    np.testing.assert_allclose(result.P_ES, exact, atol=2e-5)


# ---- Wubs' theorem ---------------------------------------------------------------------------


@pytest.mark.slow
def test_wubs_zero_temperature():
    """T = 0, Θ = 0, γ = 5e-3, s = 3, ω_c = 5, v = 1: P_LZ = 1 − exp(−π/2) (Wubs et al. 2006).

    Measured P_LZ − exact at t_max = 40: δt = 0.125, k_max = 8: −3.54e-3; δt = 0.1, k_max = 10:
    −2.21e-3; Richardson in δt²: +2.5e-4 (tolerance 2e-3). Same ladder at t_max = 30: −3.70e-3,
    −2.92e-3, Richardson −1.55e-3: the residual (~1e-3) is memory truncation (k_max 8 vs 10 at
    δt = 0.1 moves P_LZ by 7e-4). δt ≥ 0.15 at t_max = 40 breaks E_max δt < π (−1.6e-2 at δt = 0.2).
    Runtime ≈ 16 s.
    """
    problem = LZProblem(Drive(v=1.0), Bath(gamma=5e-3, s=3.0, omega_c=5.0, T=0.0), 0.0)
    coarse = solve_quapi(problem, dt=0.125, kmax=8, tmax=40.0).P_LZ
    fine = solve_quapi(problem, dt=0.1, kmax=10, tmax=40.0).P_LZ
    extrapolated = fine + (fine - coarse) * 0.1**2 / (0.125**2 - 0.1**2)
    assert abs(extrapolated - lz_formula(1.0)) < 2e-3


# ---- NEQB at weak coupling -------------------------------------------------------------------


@pytest.mark.parametrize(
    "v, eps_max, dt, kmax, expected",
    [
        (1.0, 30.0, 1 / 15, 6, (-2.5e-3, -4.7e-3)),
        (0.3, 25.0, 0.08, 6, (+4.2e-4, -4.8e-3)),
    ],
)
@pytest.mark.slow
def test_weak_coupling_matches_neqb(v, eps_max, dt, kmax, expected):
    """Θ = 0, γ = 5e-4, s = 3, ω_c = 5, T = 6.4: |QUAPI − NEQB| < 1e-2 (paper Fig. 1).

    Measured QUAPI − NEQB (P_LZ, P_ES): v = 1 (t_max = 60, δt = 1/15, k_max = 6): (−2.5e-3,
    −4.7e-3); v = 0.3 (t_max = 166.7, δt = 0.08, k_max = 6): (+4.2e-4, −4.8e-3). Not converged
    QUAPI: E_max δt < π forces δt ≲ 0.1 while the memory needs k_max δt ≳ 1 (at v = 1,
    ε_max = 50, δt = 0.04, k_max = 6 the difference grows to (−5.3e-3, −1.3e-2)).
    """
    problem = LZProblem(Drive(v=v), Bath(gamma=5e-4, s=3.0, omega_c=5.0, T=6.4), 0.0)
    quapi = solve_quapi(problem, dt=dt, kmax=kmax, tmax=2 * eps_max / v)
    neqb = lzjax.solve_neqb(problem, tol=1e-6)
    diff = np.array([quapi.P_LZ - neqb.P_LZ, quapi.P_ES - neqb.P_ES])
    assert np.all(np.abs(diff) < 1e-2)
    np.testing.assert_allclose(diff, expected, atol=1e-3)  # the measured record


@pytest.mark.slow
def test_neqb_above_quapi_at_stronger_coupling():
    """γ = 5e-3, T = 6.4, v = 3 (paper Fig. 2: NEQB overestimates for v ≳ Δ², T ≳ 3Δ).

    Measured NEQB − QUAPI: P_LZ +2.9e-2, P_ES +2.4e-2 (δt = 0.1, k_max = 8, t_max = 13.3);
    +2.6e-2, +2.6e-2 at δt = 1/15, k_max = 6, t_max = 20; +2.6e-2, +3.2e-2 at δt = 0.04,
    k_max = 6, t_max = 33. The sign agrees with the paper; NEQB − QUAPI ≈ +0.025 … 0.03.
    """
    problem = LZProblem(Drive(v=3.0), Bath(gamma=5e-3, s=3.0, omega_c=5.0, T=6.4), 0.0)
    quapi = solve_quapi(problem, dt=1 / 15, kmax=6, tmax=20.0)
    neqb = lzjax.solve_neqb(problem, tol=1e-6)
    assert 0.015 < neqb.P_LZ - quapi.P_LZ < 0.04
    assert 0.015 < neqb.P_ES - quapi.P_ES < 0.04


# ---- structure: trace, range, batching, progress, validation ---------------------------------


@pytest.mark.slow
def test_trace_preserved_and_probabilities_in_range():
    """Tr ρ(t_k) = 1 to 1e-13 at every step (Θ = 0.3, T = 2, γ = 0.05); P in [0, 1]."""
    problem = LZProblem(Drive(v=0.5), Bath(gamma=0.05, s=1.0, omega_c=5.0, T=2.0), 0.3)
    dt, kmax, n = 0.1, 5, 300
    k_steps, rho0, observe = lz_protocol(problem, dt, n)
    trace = np.asarray(
        adt_propagate(k_steps, rho0, eta_coefficients(problem.bath, dt, kmax), kmax, trace=True)
    )  # (n, 2, 4)
    np.testing.assert_allclose(trace[..., 0] + trace[..., 3], 1.0, atol=1e-13)
    populations = trace[..., [0, 3]].real
    assert np.all((populations > -1e-12) & (populations < 1 + 1e-12))
    p = np.sum(np.asarray(observe) * trace[-1], axis=-1).real
    assert np.all((p >= 0) & (p <= 1))


@pytest.mark.slow
def test_batch_equals_single_points_and_progress():
    """A broadcast batch (v × T) equals one-by-one calls and the expert single-point function;
    the progress bar (chunked scan) gives the same numbers (measured: bitwise equal)."""
    v = np.array([[0.4], [2.0]])
    T = np.array([0.0, 3.0])
    theta = 0.2
    problem = LZProblem(Drive(v=v), Bath(gamma=0.02, s=3.0, omega_c=5.0, T=T), theta)
    settings = dict(dt=0.2, kmax=4, tmax=30.0)
    batch = solve_quapi(problem, **settings)
    assert batch.P_LZ.shape == (2, 2)
    with_bar = solve_quapi(problem, progress=True, **settings)
    np.testing.assert_allclose(with_bar.P_LZ, batch.P_LZ, rtol=0, atol=1e-14)
    np.testing.assert_allclose(with_bar.P_ES, batch.P_ES, rtol=0, atol=1e-14)
    for i in range(2):
        for j in range(2):
            single = LZProblem(Drive(v=float(v[i, 0])), Bath(0.02, 3.0, 5.0, float(T[j])), theta)
            one = solve_quapi(single, **settings)
            np.testing.assert_allclose([one.P_LZ, one.P_ES], [batch.P_LZ[i, j], batch.P_ES[i, j]], rtol=0, atol=1e-13)
            expert = jax.jit(lambda p: quapi_probabilities(p, **settings))(single)
            np.testing.assert_allclose(np.asarray(expert), [one.P_LZ, one.P_ES], rtol=0, atol=1e-13)


def test_delta_rescaling():
    """Δ = 2 with v, T, ω_c, dt, tmax scaled accordingly gives the same probabilities."""
    base = LZProblem(Drive(v=0.8), Bath(0.01, 3.0, 5.0, 1.0), 0.1)
    scaled = LZProblem(Drive(v=3.2, delta=2.0), Bath(0.01, 3.0, 10.0, 2.0), 0.1)
    a = solve_quapi(base, dt=0.2, kmax=3, tmax=20.0)
    b = solve_quapi(scaled, dt=0.1, kmax=3, tmax=10.0)
    np.testing.assert_allclose([b.P_LZ, b.P_ES], [a.P_LZ, a.P_ES], atol=1e-13)


def test_memory_guard():
    per_point = estimate_memory_bytes(10, 1)
    assert per_point == 7 * 4**10 * 16
    assert estimate_memory_bytes(10, 7) == 7 * per_point
    problem = LZProblem(Drive(v=np.linspace(0.1, 1.0, 4000)), Bath(0.01, 3.0, 5.0, 1.0), 0.0)
    with pytest.raises(ValueError, match=r"kmax=14 with batch=4000 needs") as info:
        solve_quapi(problem, dt=0.1, kmax=14, tmax=20.0)
    # the advice must be one that helps: a batch >= 1 that fits, or (when not even one point
    # fits at this kmax) a smaller kmax — never "batch <= 0"
    import re

    advice = re.search(r"batch <= (\d+)|use kmax <= (\d+)", str(info.value))
    assert advice is not None and "batch <= 0" not in str(info.value)
    if advice.group(1):
        assert int(advice.group(1)) >= 1
    else:
        assert estimate_memory_bytes(int(advice.group(2)), 1) <= 0.8 * lzjax.quapi.runner.available_memory_bytes()


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(dt=0.0, kmax=4, tmax=10.0), "dt"),
        (dict(dt=-0.1, kmax=4, tmax=10.0), "dt"),
        (dict(dt=float("nan"), kmax=4, tmax=10.0), "dt"),
        (dict(dt=0.1, kmax=0, tmax=10.0), "kmax"),
        (dict(dt=0.1, kmax=15, tmax=10.0), "kmax"),
        (dict(dt=0.1, kmax=4.0, tmax=10.0), "kmax"),
        (dict(dt=0.1, kmax=4, tmax=0.0), "tmax"),
        (dict(dt=0.1, kmax=4, tmax=0.3), "tmax"),
    ],
)
def test_invalid_settings(kwargs, name):
    problem = LZProblem(Drive(v=1.0), Bath(0.01, 3.0, 5.0, 1.0), 0.0)
    with pytest.raises(ValueError, match=name):
        solve_quapi(problem, **kwargs)


# ---- factored ADT step, windowed QUAPI ---------------------------------------------------------


def test_factored_step_equals_full_tensor():
    """The stored-quarter step (F ⊗ P, :func:`factored_influence`) equals the full-tensor step
    (measured: ≤ 1e-16 absolute), for k_max = 1 and 4."""
    rng = np.random.default_rng(0)
    eta = eta_coefficients(Bath(0.05, 3.0, 5.0, 2.0), 0.1, 4)
    for kmax in (1, 4):
        a = jnp.asarray(rng.normal(size=(2,) + (4,) * kmax) + 1j * rng.normal(size=(2,) + (4,) * kmax))
        k = jnp.asarray(rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4)))
        full = advance(a, influence_tensor(eta.interior[: kmax + 1]), k, contract=True)
        fact = advance_factored(a, factored_influence(eta.interior[: kmax + 1]), k)
        np.testing.assert_allclose(np.asarray(fact), np.asarray(full), rtol=0, atol=1e-13)


def test_bloch_conversion_round_trip():
    """r = (±1, 0, 0) is the adiabatic ground/excited projector; ρ ↔ r round trip (Θ ≠ 0)."""
    from lzjax.quapi.propagator import adiabatic_projectors

    for eps, theta in [(-3.0, 0.0), (2.0, 0.4), (0.3, -1.0)]:
        ground, excited = adiabatic_projectors(eps, theta)
        r = jnp.array([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0], [0.3, 0.2, -0.5]])
        rho = rho_from_bloch(r, eps, theta)
        np.testing.assert_allclose(np.asarray(rho[0]), np.asarray(ground).reshape(4), atol=1e-15)
        np.testing.assert_allclose(np.asarray(rho[1]), np.asarray(excited).reshape(4), atol=1e-15)
        np.testing.assert_allclose(np.asarray(bloch_from_rho(rho, eps, theta)), r, atol=1e-15)


@pytest.mark.slow  # three step counts, three compilations (8 s); test_no_bath_landau_zener stays fast
def test_window_no_bath_asymptotic_readout():
    """γ → 0 on a narrow window ε_q = 10 (dt = 0.1): the dressed start and the asymptotic
    read-out give the Landau-Zener value; measured |error| 4e-9 (v = 0.3), 1.6e-6 (v = 1),
    2.9e-5 (v = 3); the projective read-out would be off by ~v/ε_q³ (3e-3 at v = 3)."""
    for v, tol in ((0.3, 1e-7), (1.0, 5e-6), (3.0, 6e-5)):
        problem = LZProblem(Drive(v=v), Bath(1e-12, 3.0, 5.0, 1.0), 0.0)
        p = quapi_window_probabilities(problem, dt=0.1, kmax=1, eps_q=10.0, eps_max=10.0)
        assert abs(float(p[0]) - lz_formula(v)) < tol
        assert abs(float(p[1]) - lz_formula(v)) < tol


@pytest.mark.slow
def test_converge_wubs_point():
    """converge_quapi (process tensor, the default) at Wubs' point (T = 0, Θ = 0, γ = 5e-3,
    s = 3, ω_c = 5, v = 1): within 2e-4 of 1 − e^{−π/2} (issue 11), inside its error bar.

    Measured (tol 1e-3: δt 0.02/0.025, memory 6.4, pt_tol 1e-9, ε_q = 60, χ = 50):
    P_LZ − exact = −3.3e-5 ± 1.1e-4 (δt part 3.8e-4 of P_ES), P_ES = 0.70024 ± 4.2e-4; ~13 s
    cold. The plain ADT ladder (test below) reaches +5.3e-4 ± 4.2e-3.
    """
    problem = LZProblem(Drive(v=1.0), Bath(gamma=5e-3, s=3.0, omega_c=5.0, T=0.0), 0.0)
    result = converge_quapi(problem, tol=1e-3)
    assert result.engine == "quapi-pt"
    error = float(result.P_LZ) - lz_formula(1.0)
    assert abs(error) < 2e-4
    assert abs(error) <= float(result.P_LZ_err) < 1e-3 and bool(result.converged)
    assert 0.0 <= float(result.P_ES) <= 1.0 and float(result.trace_err) < 1e-10


@pytest.mark.slow
def test_converge_wubs_point_adt():
    """The plain-ADT ladder (budget 10, engine chosen by `budget`) at Wubs' point: within 2e-3
    of 1 − e^{−π/2}, and the error bar covers the true error.

    Windowed QUAPI, ε_q = 15, K = 10 (runs δt = 0.1 at k_max 10 and 8, δt = 0.125 at k_max 8,
    and ε_q = 20). Measured: P_LZ = 0.79265 ± 4.2e-3 against 0.792120 (true error +5.3e-4, inside
    the bar); P_ES = 0.70007 ± 7.1e-3 (no exact value). Runtime ≈ 17 s on a busy 2-core CPU.
    The golden-rule tails matter here: without them (ε_max = ε_q = 15) P_LZ moves by −2.6e-3.
    """
    problem = LZProblem(Drive(v=1.0), Bath(gamma=5e-3, s=3.0, omega_c=5.0, T=0.0), 0.0)
    result = converge_quapi(problem, tol=1e-2, budget=10)
    assert result.engine == "quapi-adt"
    error = float(result.P_LZ) - lz_formula(1.0)
    assert abs(error) < 2e-3
    assert abs(error) <= float(result.P_LZ_err)
    assert float(result.P_LZ_err) < 1e-2 and bool(result.converged)
    assert 0.0 <= float(result.P_ES) <= 1.0


@pytest.mark.parametrize("v, bound", [(0.3, 2e-3), (1.0, 4e-3)])
@pytest.mark.slow
def test_converge_matches_neqb_fig1(v, bound):
    """Paper Fig. 1 (Θ = 0, γ = 5e-4, s = 3, ω_c = 5, T = 6.4): the process-tensor ladder at
    tol 1e-3 agrees with NEQB (issue 11: 2e-3), with error bars below 1e-3.

    Measured QUAPI (error bar) and QUAPI − NEQB, (P_LZ; P_ES):
    v = 0.3: 0.962817 (5.0e-4), +1.6e-4; 0.922757 (7.5e-4), +2.9e-4; ~16 s cold.
    v = 1:   0.784865 (2.5e-5), −2.8e-3; 0.775027 (1.2e-4), −2.7e-3.
    At v = 1 the difference is 20× the QUAPI error bar: NEQB misses an O(γ) effect (it scales
    with γ, see the Fig. 2 test), small on the scale of the paper's figure; hence 4e-3 there.
    (The plain ADT ladder at budget 10: v = 0.3 0.96378 (1.4e-3), v = 1 0.78509 (5.0e-4).)
    """
    problem = LZProblem(Drive(v=v), Bath(gamma=5e-4, s=3.0, omega_c=5.0, T=6.4), 0.0)
    quapi = converge_quapi(problem, tol=1e-3)
    neqb = lzjax.solve_neqb(problem, tol=1e-6)
    assert abs(float(quapi.P_LZ - neqb.P_LZ)) < bound
    assert abs(float(quapi.P_ES - neqb.P_ES)) < bound
    assert bool(quapi.converged) and float(quapi.P_LZ_err) < 1e-3


@pytest.mark.slow
def test_converge_neqb_above_quapi_fig2():
    """γ = 5e-3, T = 6.4, v = 3 (paper Fig. 2): NEQB − QUAPI measured with converge_quapi
    (process tensor, tol 1e-3), NEQB lies above QUAPI by more than the QUAPI error bar.

    Measured: QUAPI P_LZ = 0.398377 ± 9.4e-5, P_ES = 0.382991 ± 3.7e-5 (χ 51); NEQB 0.425474,
    0.408282; NEQB − QUAPI = +2.71e-2 (P_LZ), +2.53e-2 (P_ES): the sign of the paper's Fig. 2,
    ten times the γ = 5e-4 difference (O(γ)). The plain ADT ladder (budget 10): 0.39852 ± 1.8e-3.
    """
    problem = LZProblem(Drive(v=3.0), Bath(gamma=5e-3, s=3.0, omega_c=5.0, T=6.4), 0.0)
    quapi = converge_quapi(problem, tol=1e-3)
    neqb = lzjax.solve_neqb(problem, tol=1e-6)
    assert float(neqb.P_LZ - quapi.P_LZ) > 2e-2 > 10 * float(quapi.P_LZ_err)
    assert float(neqb.P_ES - quapi.P_ES) > 2e-2 > 10 * float(quapi.P_ES_err)


@pytest.mark.slow
def test_converge_transversal_wide_window_matches_neqb():
    """Transversal super-Ohmic bath (paper Fig. 3: Θ = π/2, γ = 5e-6, s = 3, ω_c = 5) at
    T = 25.6, v = 0.03, near the minimum that the paper's QUAPI did not reach: the relaxation
    rate peaks at E = 3ω_c = 15, so the exact window is widened to ε_q = 20 (δt = 0.075).
    The bath lowers P_LZ from the coherent 1.000 to ≈ 0.69: a large, non-perturbative-in-time
    effect that QUAPI and NEQB must both capture.

    Measured (budget 8, as here): P_LZ 0.6917 ± 0.0097, P_ES 0.4189 ± 0.012; budget 6: 0.6961 ±
    0.020, 0.4193 ± 0.012 (not converged at 2e-2); NEQB 0.6923, 0.4193. Runtime ≈ 25-50 s on
    2 cores.
    """
    problem = LZProblem(Drive(v=0.03), Bath(gamma=5e-6, s=3.0, omega_c=5.0, T=25.6), np.pi / 2)
    quapi = converge_quapi(problem, tol=2e-2, budget=8, eps_q=20.0)
    neqb = lzjax.solve_neqb(problem, tol=1e-6)
    assert 1.0 - float(neqb.P_LZ) > 0.25  # the bath effect under test is large
    for name in ("P_LZ", "P_ES"):
        diff = abs(float(getattr(quapi, name) - getattr(neqb, name)))
        assert diff < 1e-2 and diff < float(getattr(quapi, f"{name}_err")) + 2e-3, name
    assert bool(quapi.converged)


@pytest.mark.parametrize("compensate", [False, True])
@pytest.mark.slow  # an NEQB reference at tol 1e-7 and two window programs: 11 s and 3 s alone
def test_box_compensation_restores_golden_rule_rates(compensate):
    """The discretised path couples to the bath at frequency E with weight sinc²(Eδt/2), so at
    fixed δt QUAPI under-relaxes at large level splittings; η from G/sinc² (compensate=True)
    undoes this at O(γ). Transversal super-Ohmic, γ = 5e-6 (weak: NEQB is the reference), T = 6.4,
    v = 0.1, one window run at δt = 0.1, k_max = 6 over |ε| ≤ 25 (E δt up to 2.5).

    Measured P_ES − NEQB (k_max 8 in brackets): plain +2.36e-2 (+2.35e-2), compensated +3.5e-4
    (+2.7e-4); NEQB 0.81101. Runtime ≈ 5-10 s each.
    """
    problem = LZProblem(Drive(v=0.1), Bath(gamma=5e-6, s=3.0, omega_c=5.0, T=6.4), np.pi / 2)
    p_es = quapi_window_probabilities(problem, dt=0.1, kmax=6, eps_q=25.0, eps_max=100.0, compensate=compensate)[1]
    offset = float(p_es) - float(lzjax.solve_neqb(problem, tol=1e-7).P_ES)
    if compensate:
        assert abs(offset) < 1e-3
    else:
        assert offset > 1.5e-2  # the uncompensated discretisation error this option removes


def test_strong_coupling_refused_up_front_with_the_reason():
    """The point of issue 11 item 5 (η finite, but pair factors exp φ beyond float64 at the
    ladder's δt): refused before any propagation, naming the cause, never returned as NaN.
    Measured: Σ_Δ max Re φ_Δ = 1331 at the ladder's coarsest δt = 0.061 (limit 600)."""
    bath = Bath(gamma=0.03000352627245011, s=4.836010403475544, omega_c=10.210046840114135, T=19.14082952254141)
    problem = LZProblem(Drive(v=1.136238889896727), bath, theta=0.5119494719035045)
    with pytest.raises(ValueError, match="too strongly coupled for QUAPI"):
        converge_quapi(problem, tol=1e-2)
    with pytest.raises(ValueError, match="too strongly coupled for QUAPI"):
        solve_quapi(problem, dt=0.05, kmax=4, tmax=10.0)
    # the bound falls with the step (measured 1126 at dt = 0.05, 655 at 0.025 for k_max = 4)
    from lzjax.quapi.influence import eta_coefficients, log_factor_bound

    bounds = [float(log_factor_bound(eta_coefficients(bath, dt, 4).interior)) for dt in (0.05, 0.025)]
    assert bounds[0] > 600 and bounds[1] < 0.7 * bounds[0]


@pytest.mark.slow
def test_adt_step_error_order_at_fixed_memory_time():
    """Fitted order of the plain ADT's δt error at fixed memory time τ = K δt (the Richardson
    step of the ladder pairs such runs and assumes δt²). Window |ε| ≤ 4, v = 1, γ = 5e-3, s = 3,
    ω_c = 5, T = 6.4, Θ = 0; τ = 0.4 with K = 2, 4, 8 (δt = 0.2, 0.1, 0.05):
    q = log2[(P(0.2) − P(0.1)) / (P(0.1) − P(0.05))].

    Measured: q = 0.70 for P_ES (P_LZ is not monotone there); over six δt from 0.2 to 0.05 at
    |ε| ≤ 6 a fitted q = 1.0 (at
    τ = 0.8 q = 1.4 with a 3.5× smaller δt¹ coefficient)): the memory cut moves with the grid
    (the last kept pair's slice reaches τ + δt/2), so at short τ the leading error is O(δt), not
    O(δt²). The ladder's error bar counts its Richardson correction in full, so it stays a bar,
    but the extrapolation at short memory is biased; the process tensor's long memory removes
    the cause (see tests/test_pt.py)."""
    problem = LZProblem(Drive(v=1.0), Bath(5e-3, 3.0, 5.0, 6.4), 0.0)
    p = np.array([quapi_window_probabilities(problem, dt=0.4 / k, kmax=k, eps_q=4.0, eps_max=30.0) for k in (2, 4, 8)])
    d = np.diff(p, axis=0)
    q_es = math.log2(abs(d[0, 1] / d[1, 1]))
    assert 0.6 < q_es < 1.5, q_es  # first order, not second


@pytest.mark.parametrize("theta, eps_q", [(0.0, 15.0), (0.3, 30.0), (math.pi / 2, 20.0)])
def test_tail_weight_against_quad(theta, eps_q):
    """∫Γ1 dt over |ε| > ε_q (the relaxation left to the golden-rule tails, reported by the
    ladder as `tail`) against scipy quad of Γ1(ε)/v (Eq. 8 written out), relative 1e-6."""
    from scipy.integrate import quad

    from lzjax.quapi.window import tail_weight

    gamma, s, wc, T, v = 5e-4, 3.0, 5.0, 6.4, 1.3
    problem = LZProblem(Drive(v=v), Bath(gamma, s, wc, T), theta)

    def rate(eps):
        e = math.hypot(1.0, eps)
        a = math.cos(theta) / e - eps / e * math.sin(theta)
        return a * a * 0.5 * gamma * e**s * math.exp(-e / wc) / math.tanh(e / (2 * T))

    ref = (
        sum(
            quad(lambda x, sign=sign: rate(sign * x), eps_q, np.inf, epsabs=0, epsrel=1e-11, limit=400)[0]
            for sign in (1.0, -1.0)
        )
        / v
    )
    assert ref > 1e-8
    assert abs(float(tail_weight(problem, eps_q)) - ref) <= 1e-6 * ref
