"""Uniform process tensor (lzjax.quapi.process_tensor) against independent references, float64.

References: the plain ADT (`adt_propagate`) at equal memory K (exact when nothing is
truncated); the trace (exact for the true influence functional); pure dephasing (Δ = 0), whose
exact coherence is |ρ↑↓(t)| = |ρ↑↓(0)| exp(−Γ(t)), Γ(t) = ∫dω G(ω) coth(ω/2T)(1 − cos ωt)/ω²
(scipy quad); convergence in the compression tolerance. Numbers measured on a shared 2-core CPU.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import quad

from lzjax.model import Bath, Drive, LZProblem
from lzjax.quapi import converge_quapi
from lzjax.quapi.engines.adt import adt_propagate
from lzjax.quapi.influence import Eta, eta_coefficients
from lzjax.quapi.process_tensor import build_process_tensor, build_process_tensor_jvp, pt_propagate, taper_eta
from lzjax.quapi.propagator import liouville, lz_protocol, magnus4_propagators

_PROBLEM = LZProblem(Drive(v=1.0), Bath(gamma=5e-3, s=3.0, omega_c=5.0, T=6.4), 0.3)
_DT = 0.1


@pytest.mark.parametrize("kmax, tol", [(3, 0.0), (4, 0.0), (5, 1e-13), (6, 1e-13)])
@pytest.mark.slow
def test_reproduces_adt(kmax, tol):
    """LZ protocol, N = 60 steps, ρ at every step against adt_propagate at the same K.

    Measured max |Δρ|: K = 3: 1.1e-14 (χ 109, tol 0); K = 4: 5.7e-14 (χ 251, tol 0);
    K = 5: 3.4e-11 (χ 320, tol 1e-13); K = 6: 3.4e-11 (χ 472); K = 7 (not run: 6 s build):
    3.0e-11 (χ 617). Boundary eigenvalue |λ − 1| ≤ 1e-13. Requirement 1e-10.
    """
    k_steps, rho0, _ = lz_protocol(_PROBLEM, _DT, 60)
    eta = eta_coefficients(_PROBLEM.bath, _DT, kmax)
    pt = build_process_tensor(eta, tol=tol, chi_max=4096)
    ref = np.asarray(adt_propagate(k_steps, rho0, eta, kmax, trace=True))
    got = np.asarray(pt_propagate(pt, k_steps, rho0, trace=True))
    assert got.shape == ref.shape == (60, 2, 4)
    assert np.max(np.abs(got - ref)) < 1e-10
    assert float(pt.eig_err) < 1e-12
    final = np.asarray(pt_propagate(pt, k_steps, rho0))
    np.testing.assert_allclose(final, got[-1], rtol=0, atol=1e-13)  # trace=False path agrees


@pytest.mark.slow  # a K = 40 build and its jit and vmap programs: 12-14 s; PT = ADT stays in the fast lane
def test_trace_and_jit_vmap():
    """Tr ρ = 1 at every step at a realistic truncation (tol 1e-7, K = 40, N = 150), under jit
    with the tensor traced; vmap over protocols equals one-by-one.

    Measured: |Tr ρ − 1| ≤ 3e-14 with the trace correction (the uncorrected defect
    max|Q r − r| is ~1e-7, reported as pt.trace_defect); requirement 1e-10.
    """
    eta = eta_coefficients(_PROBLEM.bath, _DT, 40)
    pt = build_process_tensor(eta, tol=1e-7, chi_max=256)
    assert float(pt.trace_defect) > 1e-12  # the correction had something to do
    k_steps, rho0, _ = lz_protocol(_PROBLEM, _DT, 150)
    run = jax.jit(lambda p, k, r: pt_propagate(p, k, r, trace=True))
    rho = np.asarray(run(pt, k_steps, rho0))
    assert np.max(np.abs(rho[..., 0] + rho[..., 3] - 1.0)) < 1e-10
    # hermiticity ρ_{+-} = conj ρ_{-+} also holds exactly for the true functional
    assert np.max(np.abs(rho[..., 1] - np.conj(rho[..., 2]))) < 1e-6
    k2, rho2, _ = lz_protocol(LZProblem(Drive(v=2.0), _PROBLEM.bath, 0.3), _DT, 150)
    both = jax.vmap(lambda k, r: pt_propagate(pt, k, r))(jnp.stack([k_steps, k2]), jnp.stack([rho0, rho2]))
    np.testing.assert_allclose(np.asarray(both[0]), rho[-1], rtol=0, atol=1e-13)
    np.testing.assert_allclose(np.asarray(both[1]), np.asarray(pt_propagate(pt, k2, rho2)), rtol=0, atol=1e-13)


@pytest.mark.parametrize("T, tol", [(0.0, 1e-11), (6.4, 1e-12)])
@pytest.mark.slow
def test_pure_dephasing_long_memory(T, tol):
    """Δ = 0, Θ = 0, the paper's bath (γ = 5e-3, s = 3, ω_c = 5) at T = 0 and 6.4, δt = 0.1,
    N = 100 steps (t = 10, the whole memory): |ρ↑↓(t_k)| against exp(−Γ(t_k))/2 (scipy quad) at
    every step to 1e-6, populations frozen.

    Memory K = 2N with the lags rolled off over N … 2N (`taper_eta`, fraction 1/2): every lag a
    path of N steps holds (≤ N) is exact, and the compression is not made to count lags at a
    hard cut (where the factors still differ from 1 at the truncation tolerance). Measured (shared
    2-core CPU): T = 0: 3.0e-7 at tol 1e-11 (χ 147, 0.8 s build), 2.2e-6 at 1e-10; T = 6.4:
    4.0e-7 at 1e-12 (χ 273, 4.1 s), 2.0e-6 at 1e-11. With the hard cut K = N = 100 instead:
    T = 0 1.2e-5 at 1e-9 (χ 157, 7 s), 1.9e-6 at 1e-10 (χ 312). The error is a drift linear in the
    step number (~N K tol); at γ = 0.05 (T = 0): 1.5e-6 at 1e-11 (χ 650, 15 s), 1.8e-7 at 1e-12
    (χ 1256, 112 s). The discretised functional itself (η sums) is exact to 2.5e-10.
    """
    gamma, s, wc = 5e-3, 3.0, 5.0
    bath = Bath(gamma=gamma, s=s, omega_c=wc, T=T)
    dt, n = 0.1, 100
    t = dt * jnp.arange(n + 1)
    k_steps = liouville(magnus4_propagators(Drive(v=0.7), t, 0.0, delta=0.0))
    rho0 = jnp.full((1, 4), 0.5 + 0j)
    pt = build_process_tensor(taper_eta(eta_coefficients(bath, dt, 2 * n), 0.5), tol=tol, chi_max=1024)
    rho = np.asarray(pt_propagate(pt, k_steps, rho0, trace=True))

    def spectral(w):  # G(ω) coth(ω/2T), G(ω) = γ ω^(s−2) e^(−ω/ω_c)/π
        return gamma / math.pi * w ** (s - 2) * math.exp(-w / wc) * (1.0 / math.tanh(w / (2 * T)) if T > 0 else 1.0)

    def gamma_t(tk):
        return quad(lambda w: spectral(w) * (1 - math.cos(w * tk)), 0, np.inf, limit=1000, epsabs=1e-14)[0]

    exact = np.array([0.5 * math.exp(-gamma_t(k * dt)) for k in range(1, n + 1)])
    assert exact[-1] < 0.499  # the coherence does decay: the check is not trivial
    assert np.max(np.abs(np.abs(rho[:, 0, 1]) - exact)) < 1e-6
    np.testing.assert_allclose(rho[:, 0, [0, 3]].real, 0.5, atol=1e-12)


@pytest.mark.slow  # three propagations of 400 steps at χ 26/34/40: three compilations (17 s alone)
def test_tolerance_convergence_long_memory():
    """LZ protocol (v = 1, γ = 5e-3, s = 3, ω_c = 5, T = 6.4, Θ = 0.3), δt = 0.05, K = 128
    (τ = 6.4), N = 400: P_LZ at truncation tol 1e-7, 3e-8, 1e-8 converges (each change smaller
    than the last). Measured: 0.69604, 0.69611, 0.69614 (χ 26 / 34 / 40, builds < 1 s)."""
    k_steps, rho0, observe = lz_protocol(_PROBLEM, 0.05, 400)
    eta = eta_coefficients(_PROBLEM.bath, 0.05, 128)
    probs = []
    for tol in (1e-7, 3e-8, 1e-8):
        pt = build_process_tensor(eta, tol=tol, chi_max=512)
        probs.append(np.real(np.sum(observe * np.asarray(pt_propagate(pt, k_steps, rho0)), -1)))
    probs = np.array(probs)
    steps = np.abs(np.diff(probs, axis=0)).max(axis=1)
    assert steps[1] < steps[0] and steps[1] < 5e-5
    assert np.all((probs > 0) & (probs < 1))


# ---- the process tensor as an engine of the shared runner and ladder --------------------------


def test_pt_engine_equals_adt_engine_through_the_window():
    """The window protocol (dressed start, asymptotic read-out, golden-rule tails) run by the PT
    engine with no truncation equals the plain ADT engine at the same memory: K = 4, δt = 0.1,
    |ε| ≤ 6, v = 1, γ = 5e-3, Θ = 0.3. Measured |ΔP| ≈ 1e-14; asserted 1e-10."""
    from lzjax.quapi import quapi_window_probabilities
    from lzjax.quapi.engines.pt import PTSettings

    kwargs = dict(dt=0.1, eps_q=6.0, eps_max=30.0)
    adt = np.array(quapi_window_probabilities(_PROBLEM, kmax=4, **kwargs))
    pt = np.array(quapi_window_probabilities(_PROBLEM, kmax=PTSettings(4, 0.0, 4096), engine="pt", **kwargs))
    assert np.all((adt > 0) & (adt < 1))
    np.testing.assert_allclose(pt, adt, rtol=0, atol=1e-10)


def test_step_buckets_bound_the_held_steps_and_the_compiled_lengths():
    """step_bucket(n) ≥ n with at most n/8 held steps, exact up to 16, idempotent; 8 buckets
    per octave (so a sweep over any speeds compiles a few lengths); the chunks of a padded run
    are equal, cover it, and are ≥ 1/16 of it (≥ 40 of them with a progress bar)."""
    from lzjax.quapi.runner import chunks, step_bucket

    n = np.arange(1, 20_000)
    b = np.array([step_bucket(int(x)) for x in n])
    assert np.all(b >= n) and np.all(b - n <= n / 8) and np.all(b[:16] == n[:16])
    assert all(step_bucket(int(x)) == x for x in np.unique(b))
    assert set(np.unique(b[(n >= 4096) & (n < 8192)])) == {4096 + 512 * k for k in range(9)}
    for pad in np.unique(b)[::97]:
        for progress in (False, True):
            c = chunks(int(pad), progress)
            lengths = {e - s for s, e in c}
            assert c[0][0] == 0 and c[-1][1] == pad and len(lengths) == 1
            assert all(c[i][1] == c[i + 1][0] for i in range(len(c) - 1))
            assert lengths.pop() * 16 >= pad or (progress and len(c) >= min(40, pad))


@pytest.mark.parametrize("engine", ["pt", "adt"])
@pytest.mark.slow
def test_mixed_sweep_speeds_in_one_batch_equal_one_by_one(engine):
    """One window-protocol batch of three sweep speeds v = 0.5, 1, 2 over the same |ε| ≤ 6 at one
    δt = 0.1 (240, 120 and 60 steps: each point held once its own steps are done, the compiled
    length the bucket of 240) against each point alone (every count its own bucket, nothing held)
    and the fastest through quapi_window_probabilities (solve.py's unbatched path): equal to
    1e-13 (measured ~1e-16), Θ = 0.3 and 1.1 mixed too."""
    from lzjax.model import dimensionless, flatten_problem
    from lzjax.quapi import quapi_window_probabilities
    from lzjax.quapi.engines import ADT, PT
    from lzjax.quapi.engines.pt import PTSettings, bath_key, build_cached
    from lzjax.quapi.runner import run_batch, step_bucket

    v, theta = np.array([0.5, 1.0, 2.0]), np.array([0.3, 1.1, 0.3])
    n_steps = np.round(12.0 / (v * 0.1)).astype(int)
    assert step_bucket(240) == 240 and len(set(n_steps)) == 3
    memory = PTSettings(4, 1e-12) if engine == "pt" else 4
    bath = _PROBLEM.bath
    flat = dimensionless(flatten_problem(LZProblem(Drive(v=v), bath, theta))[0])
    shared = build_cached(bath_key(bath), 0.1, memory, False)[0] if engine == "pt" else None
    batch = np.array(
        run_batch(
            PT() if engine == "pt" else ADT(),
            "window",
            flat,
            jnp.full(3, 0.1),
            n_steps,
            memory,
            eps_max=jnp.full(3, 30.0),
            shared=shared,
        )
    )
    alone = np.array(
        [
            run_batch(
                PT() if engine == "pt" else ADT(),
                "window",
                jax.tree_util.tree_map(lambda a: a[i : i + 1], flat),
                jnp.full(1, 0.1),
                n_steps[i],
                memory,
                eps_max=jnp.full(1, 30.0),
                shared=shared,
            )
            for i in range(3)
        ]
    )[:, :, 0].T
    assert np.all((alone[:2] > 0) & (alone[:2] < 1)) and np.ptp(alone[0]) > 0.1  # three different points
    np.testing.assert_allclose(batch, alone, rtol=0, atol=1e-13)
    # the unbatched, unpadded reference path (solve.py) at the fastest point
    ref = quapi_window_probabilities(
        LZProblem(Drive(v=2.0), bath, 0.3), dt=0.1, kmax=memory, eps_q=6.0, eps_max=30.0, engine=engine
    )
    np.testing.assert_allclose(batch[:2, 2], np.array(ref), rtol=0, atol=1e-13)
    assert np.all(batch[2] < 1e-9)  # |Tr ρ − 1|


@pytest.mark.slow
def test_pt_ladder_shares_one_tensor_per_bath_and_step():
    """Two angles through the PT ladder build one tensor per (bath, δt, settings) — the five
    distinct tensors of the plan's seven runs (three steps; the longer memory; the looser
    truncation) — for both points (the tensor does not depend on Θ); a second call
    reuses them, and every sweep speed keeps δt (so shares them); the batch equals the points run
    one by one."""
    from lzjax.quapi.engines.pt import build_cached

    bath = Bath(gamma=5e-4, s=3.0, omega_c=5.0, T=6.4)
    opts = dict(tol=1e-2, engine="pt", dt=0.1, memory=0.4, eps_q=6.0, pt_tol=1e-7)
    build_cached.cache_clear()
    both = converge_quapi(LZProblem(Drive(v=3.0), bath, np.array([0.0, 0.3])), **opts)
    assert build_cached.cache_info().misses == 5  # fine, coarse, coarser, long, loose
    one = converge_quapi(LZProblem(Drive(v=3.0), bath, 0.3), **opts)
    assert build_cached.cache_info().misses == 5  # reused, not rebuilt
    np.testing.assert_allclose([both.P_LZ[1], both.P_ES[1]], [float(one.P_LZ), float(one.P_ES)], rtol=0, atol=1e-12)
    from lzjax.quapi.engines.pt import pt_plan  # every sweep speed keeps δt, hence the same tensors

    plan = pt_plan(0.1, 0.4, 6.0, 1e-7, 512)
    assert all(run.grid(2.0)[1] == run.grid(3.0)[1] == run.dt for run in plan.values())
    assert np.all(both.trace_err < 1e-10) and np.all(both.chi >= 1)
    assert np.all((both.P_LZ > 0) & (both.P_LZ < 1))


@pytest.mark.slow
def test_pt_gradients_in_v_and_theta_match_finite_differences():
    """jax.grad of P_LZ through the PT propagation (windowed protocol, K = 8, tol 1e-9) in the
    sweep speed v and the angle Θ equals central differences (h = 1e-5 relative) to 1e-5
    relative. The bath is constant here, so the tensor comes from the host cache (no tangent
    build); derivatives in γ, T, ω_c: the tests below."""
    from lzjax.quapi import quapi_window_probabilities
    from lzjax.quapi.engines.pt import PTSettings

    bath = Bath(gamma=5e-3, s=3.0, omega_c=5.0, T=6.4)
    settings = PTSettings(8, 1e-9, 512)

    def p_lz(v, theta):
        problem = LZProblem(Drive(v=v), bath, theta)
        return quapi_window_probabilities(problem, dt=0.1, kmax=settings, n_steps=80, eps_max=30.0, engine="pt")[
            0
        ]  # |ε| ≤ 40 v δt ≈ 5

    v0, th0 = 1.3, 0.3
    grad_v, grad_th = jax.grad(p_lz, argnums=(0, 1))(v0, th0)
    for g, f, x in ((grad_v, lambda x: p_lz(x, th0), v0), (grad_th, lambda x: p_lz(v0, x), th0)):
        h = 1e-5 * abs(x)
        fd = (float(f(x + h)) - float(f(x - h))) / (2 * h)
        assert abs(float(g) - fd) <= 1e-5 * abs(fd) + 1e-9, (float(g), fd)


# ---- derivatives in the bath: the tangent of the build ----------------------------------------


@pytest.mark.slow
def test_pt_tangent_untruncated_equals_adt_derivative():
    """build_process_tensor_jvp at tol 0 (K = 2, χ 25, nothing truncated): the tangent of ρ(t_k)
    over N = 12 LZ steps along two random complex directions dη (every lag, all three η kinds)
    equals jax.jvp of adt_propagate (the exact functional, differentiated by JAX) and central
    differences of the build (h = 1e-5); its tensor equals build_process_tensor's bitwise.
    Measured: |tangent − ADT| ≤ 3.6e-15, |tangent − FD| ≤ 2.7e-10 (FD-limited) on a scale of 0.27;
    asserted 1e-12 and 2e-9 absolute."""
    kmax, n = 2, 12
    k_steps, rho0, _ = lz_protocol(_PROBLEM, _DT, n)
    eta = jax.tree_util.tree_map(np.asarray, eta_coefficients(_PROBLEM.bath, _DT, kmax))
    rng = np.random.default_rng(0)
    deta = Eta(
        *(
            np.stack(
                [(rng.standard_normal(kmax + 1) + 1j * rng.standard_normal(kmax + 1)) * np.abs(e) for _ in range(2)]
            )
            for e in eta
        )
    )
    pt, dpt = build_process_tensor_jvp(eta, deta, tol=0.0, chi_max=4096)
    plain = build_process_tensor(eta, tol=0.0, chi_max=4096)
    for field in ("q_start", "q_int", "q_end", "left", "right"):
        assert np.array_equal(np.asarray(getattr(pt, field)), np.asarray(getattr(plain, field)))
    smooth = ("q_start", "q_int", "q_end", "left", "right")

    def rho(*arrays):
        return pt_propagate(pt._replace(**dict(zip(smooth, arrays, strict=False))), k_steps, rho0, trace=True)

    for i in range(2):
        direction = Eta(*(d[i] for d in deta))
        tangent = np.asarray(
            jax.jvp(rho, tuple(getattr(pt, f) for f in smooth), tuple(getattr(dpt, f)[i] for f in smooth))[1]
        )
        exact = np.asarray(
            jax.jvp(
                lambda e: adt_propagate(k_steps, rho0, e, kmax, trace=True),
                (Eta(*map(jnp.asarray, eta)),),
                (Eta(*map(jnp.asarray, direction)),),
            )[1]
        )
        h = 1e-5
        ends = [
            np.asarray(
                pt_propagate(
                    build_process_tensor(
                        Eta(*(e + c * h * d for e, d in zip(eta, direction, strict=False))), tol=0.0, chi_max=4096
                    ),
                    k_steps,
                    rho0,
                    trace=True,
                )
            )
            for c in (1.0, -1.0)
        ]
        fd = (ends[0] - ends[1]) / (2 * h)
        assert np.max(np.abs(exact)) > 1e-2  # the direction does move ρ
        assert np.max(np.abs(tangent - exact)) < 1e-12
        assert np.max(np.abs(tangent - fd)) < 2e-9


def _window_p(x, settings, n_steps=20):
    """(P_LZ, P_ES) of the windowed PT protocol at v = 1, Θ = 0.3, s = 3 as a function of
    x = (γ, ω_c, T), through the public per-point call."""
    from lzjax.quapi import quapi_window_probabilities

    problem = LZProblem(Drive(v=1.0), Bath(gamma=x[0], s=3.0, omega_c=x[1], T=x[2]), 0.3)
    return jnp.stack(
        quapi_window_probabilities(problem, dt=0.1, kmax=settings, n_steps=n_steps, eps_max=30.0, engine="pt")
    )


@pytest.mark.slow
def test_pt_bath_derivatives_match_finite_differences():
    """jax.jacfwd (forward) and jax.grad (reverse) of (P_LZ, P_ES) in (γ, ω_c, T) through
    quapi_window_probabilities(engine="pt") with truncation on (K = 6, tol 1e-8, χ 70, discarded
    9.7e-9 per cut; N = 20, |ε| ≤ 1 dressed window, golden-rule tails to 30; γ = 5e-3, s = 3,
    ω_c = 5, T = 6.4, Θ = 0.3, v = 1, δt = 0.1) against central differences h = 1e-4·x of the
    same call (the tensor rebuilt at each x).

    FD accuracy, measured: |jacfwd − FD|/|FD| is ≤ 4e-6 at h = 1e-3·x (the FD's O(h²) error),
    ≤ 3.5e-8 at h = 1e-4·x and ≤ 3.3e-8 at 1e-5·x (rounding in the build over h), so the
    h = 1e-4 FD is good to ~3e-8 and the derivative agrees with it to that level in all six
    entries; grad equals the jacfwd row to 2e-15. Asserted 1e-5 relative (the issue's
    requirement) and 1e-10 between the two modes.

    Under jax.jit and vmap (the build in a host callback, χ padded to chi_max's bucket 96), over
    two baths: P_ES with its grad, and jacfwd equal the eager ones (measured 3e-16 / 7e-15 / 9e-15);
    asserted 1e-10. A second derivative is refused with the reason."""
    from lzjax.quapi.engines.pt import PTSettings

    settings = PTSettings(6, 1e-8, 96)  # χ 70 / 67: eager pads to 72, traced to 96
    x0 = np.array([5e-3, 5.0, 6.4])
    jac = np.asarray(jax.jacfwd(lambda x: _window_p(x, settings))(jnp.asarray(x0)))  # (2, 3)
    grad_es = np.asarray(jax.grad(lambda x: _window_p(x, settings)[1])(jnp.asarray(x0)))
    fd = np.empty((2, 3))
    for i in range(3):
        h = 1e-4 * x0[i]
        step = h * np.eye(3)[i]
        fd[:, i] = (np.asarray(_window_p(x0 + step, settings)) - np.asarray(_window_p(x0 - step, settings))) / (2 * h)
    assert np.all(np.abs(fd) > 1e-3)  # every entry is a real dependence, not noise
    np.testing.assert_allclose(jac, fd, rtol=1e-5, atol=0)
    np.testing.assert_allclose(grad_es, jac[1], rtol=1e-10, atol=0)
    xs = jnp.asarray([x0, x0 * np.array([1.6, 0.8, 0.5])])
    eager = np.array([jac, np.asarray(jax.jacfwd(lambda x: _window_p(x, settings))(xs[1]))])
    values, grads = jax.jit(jax.vmap(jax.value_and_grad(lambda x: _window_p(x, settings)[1])))(xs)
    np.testing.assert_allclose(
        np.asarray(values), [np.asarray(_window_p(x, settings))[1] for x in xs], rtol=0, atol=1e-10
    )
    np.testing.assert_allclose(np.asarray(grads), eager[:, 1], rtol=1e-10, atol=0)
    np.testing.assert_allclose(
        np.asarray(jax.jit(jax.vmap(jax.jacfwd(lambda x: _window_p(x, settings))))(xs)), eager, rtol=1e-10, atol=0
    )
    with pytest.raises(ValueError, match="first derivatives in the bath only"):
        jax.hessian(lambda x: _window_p(x, settings)[0])(xs[0])
    # the whole problem traced (Δ too, so δt·Δ is traced): the same values; no derivative in Δ
    from lzjax.quapi import quapi_window_probabilities

    def whole(problem):
        return jnp.stack(
            quapi_window_probabilities(problem, dt=0.1, kmax=settings, n_steps=20, eps_max=30.0, engine="pt")
        )

    problem = LZProblem(Drive(v=1.0), Bath(gamma=x0[0], s=3.0, omega_c=x0[1], T=x0[2]), 0.3)
    np.testing.assert_allclose(
        np.asarray(jax.jit(whole)(problem)), np.asarray(_window_p(x0, settings)), rtol=0, atol=1e-10
    )
    with pytest.raises(ValueError, match="no derivative in its time step"):
        jax.grad(lambda d: whole(LZProblem(Drive(v=1.0, delta=d), problem.bath, 0.3))[0])(1.0)


def test_taper_keeps_short_lags_and_zeroes_the_cut():
    """taper_eta: η unchanged for Δ ≤ (1 − f)K (self term included), cos² roll-off above, exactly
    0 at Δ = K; f = 0 is the ADT's hard cut (the same object back)."""
    from lzjax.quapi.influence import eta_coefficients
    from lzjax.quapi.process_tensor import taper_eta

    eta = eta_coefficients(Bath(gamma=5e-3, s=3.0, omega_c=5.0, T=6.4), 0.1, 20)
    assert taper_eta(eta, 0.0) is eta
    tapered = taper_eta(eta, 0.5)
    lag = np.arange(21)
    w = np.cos(0.5 * np.pi * np.clip((lag - 10) / 10, 0, 1)) ** 2
    w[-1] = 0.0
    for a, b in zip(tapered, eta, strict=False):
        np.testing.assert_allclose(np.asarray(a)[:11], np.asarray(b)[:11], rtol=0, atol=0)
        np.testing.assert_allclose(np.asarray(a), np.asarray(b) * w, rtol=1e-15, atol=0)
        assert np.asarray(a)[-1] == 0.0


def test_truncation_scales_with_the_step_count_and_bad_tensors_are_refused():
    """pt_tol_default = 6e-3·tol/N clipped to [1e-12, 1e-8] (the compression error drifts
    linearly in N); a built tensor passes check_tensor with |λ − 1| and the trace defect far
    below its limit max(1e-6, 1e3·tol), while a record with a lost normalisation, or NaN, is
    refused naming the bath and the remedy."""
    from lzjax.quapi.engines.pt import PTSettings, bath_key, build_cached, check_tensor, pt_tol_default

    assert pt_tol_default(1e-4, 6000) == pytest.approx(1e-10)
    assert pt_tol_default(1e-3, 10) == 1e-8 and pt_tol_default(1e-4, 10**9) == 1e-12
    assert pt_tol_default(1e-3, 60_000) == pytest.approx(pt_tol_default(1e-3, 6000) / 10)
    bath = _PROBLEM.bath
    _, info = build_cached(bath_key(bath), 0.05, PTSettings(16, 1e-9, 512, 0.5), False)  # memory 0.8
    assert max(info["eig_err"], info["trace_defect"]) < 1e-8
    check_tensor(info, 1e-9, bath, 0.05)
    for bad in (dict(info, eig_err=2e-6), dict(info, trace_defect=float("nan"))):
        with pytest.raises(ValueError, match="compression failed for gamma=0.005.*smaller pt_tol"):
            check_tensor(bad, 1e-9, bath, 0.05)
