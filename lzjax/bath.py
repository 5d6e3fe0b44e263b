"""Bath physics: spectral function, correlation function, golden-rule rates, crossing integrals.

All functions work in units Δ = ħ = k_B = 1 (see :func:`lzjax.model.dimensionless`) and are
pure jnp code: jit, vmap and grad pass through every argument. Every function takes any bath of
:class:`lzjax.model.SpectralDensity` (the families of :mod:`lzjax.spectral`): a
:class:`lzjax.model.Bath` keeps its closed forms (Hurwitz ζ for C(t), Eq. (10) for Γd, the
fixed-point window), any other density goes through the quadratures below (:func:`lineshape`,
:func:`correlation_quadrature`; their errors are stated there and tested in tests/test_spectral.py).

    G(ω)  = γ/π ω^s exp(−ω/ω_c)
    C(t)  = ⟨B(t)B(0)⟩ = ∫₀^∞ dω G(ω) [coth(ω/2T) cos ωt − i sin ωt]
    Γ1(t) = A_Θ² (π/2) G(E) coth(E/2T),  Γ2 = Γ1/2 + Γd,  Γd = B_Θ² γ T (s = 1), 0 (s > 1)
    A_Θ = u cosΘ − w sinΘ,  B_Θ = w cosΘ + u sinΘ,  u = Δ/E,  w = ε/E,  E = sqrt(Δ² + ε²)
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln

from .model import Bath

__all__ = [
    "spectral_density",
    "quadrature_nodes",
    "lineshape",
    "correlation_quadrature",
    "relaxation_integral",
    "coth_half",
    "correlation_function",
    "hurwitz_zeta",
    "coupling_factors",
    "relaxation_rate",
    "dephasing_rate",
    "rates",
    "crossing_integral",
    "relaxation_window_energy",
    "polaron_reduction",
]

# Bernoulli numbers B_2j / (2j)! for the Euler-Maclaurin tail of the Hurwitz zeta function.
_BERNOULLI_OVER_FACTORIAL = (
    1.0 / 6.0 / 2.0,
    -1.0 / 30.0 / 24.0,
    1.0 / 42.0 / 720.0,
    -1.0 / 30.0 / 40320.0,
    5.0 / 66.0 / 3628800.0,
    -691.0 / 2730.0 / 479001600.0,
    7.0 / 6.0 / 87178291200.0,
    -3617.0 / 510.0 / 20922789888000.0,
)


def spectral_density(omega, bath):
    """G(ω) of any bath for ω ≥ 0 (units Δ = 1); for :class:`Bath` γ/π ω^s exp(−ω/ω_c)."""
    return bath.density(omega)


@jax.custom_jvp
def _coth_finite_tangent(x):
    """coth x = 1/tanh x whose tangent −dx/sinh²x is capped at |coth x| ≤ 1e150 (x ≲ 1e-150),
    where the exact one overflows to inf."""
    return 1.0 / jnp.tanh(x)


@_coth_finite_tangent.defjvp
def _coth_finite_tangent_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    t = jnp.tanh(x)
    coth = 1.0 / t
    capped = jnp.clip(coth, -1e150, 1e150)
    return coth, -dx * (capped * capped) * ((1.0 - t) * (1.0 + t))


def coth_half(energy, T, *, finite_tangent: bool = False):
    """coth(E/2T), equal to 1 at T = 0; energy > 0. Gradient-safe at T = 0.

    `finite_tangent`: same value, but the derivative in E and T stays finite (capped) where
    E/2T ≲ 1e-150 and the exact one overflows: for integrands whose weight vanishes there (the
    ω quadrature nodes of :mod:`lzjax.quapi.influence` near ω = 0), where inf·0 would be NaN."""
    hot = T > 0
    x = energy / (2.0 * jnp.where(hot, T, 1.0))
    coth = _coth_finite_tangent if finite_tangent else (lambda y: 1.0 / jnp.tanh(y))
    return jnp.where(hot, coth(x), 1.0)


def hurwitz_zeta(sigma, q, n_direct: int = 12):
    """Hurwitz zeta ζ(σ, q) = Σ_{k≥0} (q + k)^(−σ) for real σ > 1 and complex q with Re q > 0.

    Direct sum of `n_direct` terms plus the Euler-Maclaurin tail with 8 Bernoulli corrections:
    relative accuracy ~1e-15 for |q + n_direct| ≳ 10 and σ ≲ 10.
    """
    q = jnp.asarray(q, dtype=jnp.result_type(q, 1j))
    sigma = jnp.asarray(sigma, dtype=q.real.dtype)
    cplx = lambda x: jax.lax.complex(x, jnp.zeros_like(x))  # noqa: E731  (explicit real → complex)
    k = cplx(jnp.arange(n_direct, dtype=sigma.dtype))
    direct = jnp.sum((q[..., None] + k) ** cplx(-sigma[..., None] if jnp.ndim(sigma) else -sigma), axis=-1)
    z = q + n_direct
    tail = z ** cplx(1.0 - sigma) / cplx(sigma - 1.0) + 0.5 * z ** cplx(-sigma)
    rising = sigma  # σ(σ+1)...(σ+2j−2)
    power = z ** cplx(-sigma - 1.0)
    for j, coeff in enumerate(_BERNOULLI_OVER_FACTORIAL, start=1):
        tail = tail + coeff * cplx(rising) * power
        rising = rising * (sigma + 2 * j - 1) * (sigma + 2 * j)
        power = power / (z * z)
    return direct + tail


def correlation_function(t, bath):
    """Bath correlation function C(t) = ⟨B(t)B(0)⟩ for any s > 0 and T ≥ 0 (units Δ = 1).

    Closed form: with coth(ω/2T) = 1 + 2 Σ_k exp(−kω/T),
    C(t) = γ/π Γ(s+1) [ (1/ω_c + it)^(−s−1)
                        + T^(s+1) Σ_± ζ(s+1, 1 + T(1/ω_c ± it)) ].
    At T = 0 this is Γ(s+1) γ/π (ω_c/(1 + iω_c t))^(s+1) (sign convention: Im C(t) < 0 for t > 0
    at small t, from the −i sin ωt above). Any other bath: :func:`correlation_quadrature`.
    """
    if not isinstance(bath, Bath):
        return correlation_quadrature(t, bath)
    t = jnp.asarray(t, dtype=float)
    s, T = jnp.asarray(bath.s, dtype=t.dtype), jnp.asarray(bath.T, dtype=t.dtype)
    sigma = s + 1.0
    prefactor = bath.gamma / jnp.pi * jnp.exp(gammaln(sigma))
    a = jnp.broadcast_to(1.0 / jnp.asarray(bath.omega_c, dtype=t.dtype), jnp.shape(t))
    cplx = lambda x: jax.lax.complex(x, jnp.zeros_like(x))  # noqa: E731  (explicit real → complex)
    vacuum = jax.lax.complex(a, t) ** cplx(jnp.broadcast_to(-sigma, jnp.shape(t)))
    hot = T > 0
    T_safe = jnp.where(hot, T, 1.0)
    sigma_b = jnp.broadcast_to(sigma, jnp.shape(t)) if jnp.ndim(t) else sigma
    thermal = cplx(jnp.broadcast_to(T_safe**sigma, jnp.shape(t))) * (
        hurwitz_zeta(sigma_b, jax.lax.complex(1.0 + T_safe * a, T_safe * t))
        + hurwitz_zeta(sigma_b, jax.lax.complex(1.0 + T_safe * a, -T_safe * t))
    )
    return cplx(jnp.broadcast_to(prefactor, jnp.shape(t))) * (vacuum + jnp.where(hot, thermal, 0.0))


def coupling_factors(epsilon, theta, delta=1.0):
    """(A_Θ, B_Θ, E): relaxing and dephasing projections of the coupling in the adiabatic basis."""
    energy = jnp.sqrt(delta**2 + epsilon**2)
    u = delta / energy
    w = epsilon / energy
    a_theta = u * jnp.cos(theta) - w * jnp.sin(theta)
    b_theta = w * jnp.cos(theta) + u * jnp.sin(theta)
    return a_theta, b_theta, energy


def relaxation_rate(epsilon, theta, bath):
    """Golden-rule relaxation rate Γ1 = A_Θ² (π/2) G(E) coth(E/2T) (Eq. 8), units Δ = 1."""
    a_theta, _, energy = coupling_factors(epsilon, theta)
    return a_theta**2 * (jnp.pi / 2) * spectral_density(energy, bath) * coth_half(energy, bath.T)


def dephasing_rate(epsilon, theta, bath):
    """Markovian pure-dephasing rate Γd (Eq. 10): B_Θ² γ T for s = 1, zero for s > 1; for any
    bath B_Θ² π T lim G(ω)/ω (`ohmic_coefficient`: Ohmic-like densities only, zero for
    super-Ohmic ones; the NEQB refuses sub-Ohmic ones at T > 0)."""
    _, b_theta, _ = coupling_factors(epsilon, theta)
    if not isinstance(bath, Bath):
        return b_theta**2 * jnp.pi * bath.T * bath.ohmic_coefficient
    return jnp.where(bath.s == 1, b_theta**2 * bath.gamma * bath.T, 0.0)


def rates(epsilon, theta, bath):
    """(Γ1, Γ2, Γd) of the nonequilibrium Bloch equations at bias ε."""
    gamma1 = relaxation_rate(epsilon, theta, bath)
    gamma_d = dephasing_rate(epsilon, theta, bath)
    return gamma1, 0.5 * gamma1 + gamma_d, gamma_d


def relaxation_window_energy(bath, v, tol):
    """Energy E (units Δ = 1) beyond which relaxation no longer matters at accuracy `tol`.

    Solves (γ/2) E^s e^{−E/ω_c} coth(E/2T) · 4ω_c/v = tol by fixed-point iteration (a bound on
    ∫Γ1 dt beyond E, with margin); E ≥ (s+1) ω_c; 0 for γ = 0. Any other bath: the same bound
    with the tail integrated numerically (:func:`_window_generic`, E ≥ its frequency scale,
    at most 1e6 times it).
    """
    if not isinstance(bath, Bath):
        return _window_generic(bath, v, tol)
    log_scale = jnp.log(jnp.maximum(bath.gamma, 1e-300) * 2.0 * bath.omega_c / (v * tol))

    def fixed_point(_, energy):
        hot = jnp.log(coth_half(energy, bath.T))
        new = bath.omega_c * (log_scale + bath.s * jnp.log(energy) + hot)
        return jnp.maximum(new, (bath.s + 1.0) * bath.omega_c)

    energy = jax.lax.fori_loop(0, 60, fixed_point, (bath.s + 1.0) * bath.omega_c)
    return jnp.where(bath.gamma > 0, energy, 0.0)


def crossing_integral(s, theta, omega_c, T=0.0, *, convention: str = "design", n_nodes: int = 4001):
    """Ξ[s, Θ] = ∫ Γ1 dt over the whole sweep, in units of γΔ²/v (Sec. VI of the paper).

    `convention="design"` integrates Eq. (8) as written (DESIGN.md §4.4: at T = 0, ω_c = 5 the
    values 1.7527, 23.880, 25.633, 3737.3 for (s, Θ) = (1, 0), (1, π/2), (3, 0), (3, π/2)).
    `convention="paper"` returns twice that: the table of the paper (3.5, 47.8, 51.3, 7475).
    Quadrature: ε = sinh(x)·ω_c-scaled trapezoid, exponentially convergent for this analytic integrand.
    """
    if convention not in ("design", "paper"):
        raise ValueError(f"convention must be 'design' or 'paper', got {convention!r}")
    bath = Bath(gamma=1.0, s=s, omega_c=omega_c, T=T)
    x_max = math.asinh(400.0 * float(max(omega_c, 1.0)) * (1.0 + float(s)))
    x = jnp.linspace(-x_max, x_max, n_nodes)
    epsilon = jnp.sinh(x)
    integrand = relaxation_rate(epsilon, theta, bath) * jnp.cosh(x)
    value = jnp.trapezoid(integrand, x)
    return 2.0 * value if convention == "paper" else value


#: Gauss-Legendre nodes and weights on [0, 1] of :func:`polaron_reduction`
_LEGENDRE_X, _LEGENDRE_W = (
    0.5 * (a + 1.0) if i == 0 else 0.5 * a for i, a in enumerate(np.polynomial.legendre.leggauss(128))
)


def polaron_reduction(bath):
    """κ = 1 − Δ_eff/Δ, the adiabatic polaron reduction of the tunnel splitting (units Δ = 1).

    Δ_eff/Δ = exp(−Φ/2) with Φ = ∫_Δ^∞ dω G(ω)/ω² coth(ω/2T): the overlap of the bath states
    displaced by the two eigenstates of the coupling operator, counting the modes faster than
    the smallest level splitting Δ (slower ones are followed adiabatically, not dressed).
    κ is a dimensionless measure of how far the coupling is beyond second order: NEQB's error
    grows like κ (calibration at :data:`lzjax.neqb.KAPPA_MAX`). Finite for every s > 0, T ≥ 0.
    Quadrature: ω = e^y, 128-node Gauss-Legendre over y ∈ [0, ln((s + 40) ω_c + 1)] (the
    cut-off tail beyond is < e^-38 of the peak; relative error < 1e-10 against scipy quad,
    tests/test_bath.py). Pure jnp: jit, vmap and grad pass. Any other bath: the nodes of
    :func:`quadrature_nodes` with ω ≥ 1 (the hard edge costs ~1e-3 relative: κ is a measure).
    """
    if not isinstance(bath, Bath):
        if any(jnp.ndim(leaf) for leaf in jax.tree_util.tree_leaves(bath)):  # a flat batch of baths
            return jax.vmap(polaron_reduction)(bath)
        omega, weight, _ = quadrature_nodes(bath)
        keep = omega >= 1.0
        safe = jnp.where(keep, omega, 1.0)
        phi = jnp.sum(jnp.where(keep, weight / safe**2 * coth_half(safe, bath.T), 0.0))
        return -jnp.expm1(-0.5 * phi)
    omega_c = jnp.asarray(bath.omega_c, dtype=float)[..., None]
    s = jnp.asarray(bath.s, dtype=float)[..., None]
    T = jnp.asarray(bath.T, dtype=float)[..., None]
    y_max = jnp.log((s + 40.0) * omega_c + 1.0)
    y = y_max * jnp.asarray(_LEGENDRE_X)
    omega = jnp.exp(y)
    # G(ω)/ω² dω = γ/π ω^(s−1) e^{−ω/ω_c} dy
    integrand = jnp.exp((s - 1.0) * y - omega / omega_c) * coth_half(omega, T)
    phi = (
        jnp.asarray(bath.gamma, dtype=float)
        / jnp.pi
        * y_max[..., 0]
        * jnp.sum(jnp.asarray(_LEGENDRE_W) * integrand, axis=-1)
    )
    return -jnp.expm1(-0.5 * phi)


# ---- any spectral density: quadrature ------------------------------------------------------------

#: logarithmic grid of an analytic density, ω = scale·e^y, y ∈ [ln 1e-12, ln 1e10], trapezoid
_LOG_Y = np.linspace(math.log(1e-12), math.log(1e10), 8001)
_LOG_W = np.full(_LOG_Y.size, _LOG_Y[1] - _LOG_Y[0])
_LOG_W[[0, -1]] *= 0.5
#: the oscillating parts cos ωt, sin ωt are rolled off as exp(−(ωt/K)^8) beyond ωt ≈ K (below)
DAMPING_K = 160.0
#: Gauss-Legendre nodes and weights on [0, 1] for the panels of a piecewise density
_PANEL_X, _PANEL_W = (0.5 * (a + 1.0) if i == 0 else 0.5 * a for i, a in enumerate(np.polynomial.legendre.leggauss(16)))


def _panel_nodes(edges):
    """(ω, dω weights) of 16-point Gauss-Legendre on every panel [edges[i], edges[i+1]] (jnp)."""
    edges = jnp.asarray(edges, dtype=float)
    width = jnp.diff(edges)[:, None]
    return (edges[:-1, None] + width * _PANEL_X).ravel(), (width * _PANEL_W).ravel()


def quadrature_nodes(bath):
    """(ω, w, damped) with Σ w f(ω) ≈ ∫₀^∞ G(ω) f(ω) dω for smooth f, over the bath's components.

    An analytic component (`breakpoints()` None) is integrated by the trapezoid rule in y = ln ω
    on 8001 nodes from 1e-12 to 1e10 times its `frequency_scale` (geometrically convergent: the
    integrands below are analytic in a strip around the real y axis); below the grid
    G ∝ ω^s₀ is integrated in closed form (∫₀^ω_min G coth dω added to the first node), above it
    G is dropped (the densities here fall at least as 1/ω there: ≲ 1e-10 of ∫G/ω dω). A
    piecewise component (a table) is integrated by 16-point Gauss-Legendre panels between its
    breakpoints. `damped` (bool, numpy) marks the nodes whose oscillating factors
    :func:`lineshape` rolls off (the logarithmic grid cannot follow cos ωt beyond ωt ~ 300).
    Scalar leaves (vmap for batches)."""
    omegas, weights, damped = [], [], []
    T = bath.T
    for comp in bath.components():
        edges = comp.breakpoints()
        if edges is None:
            scale = jnp.asarray(comp.frequency_scale, dtype=float)
            omega = scale * np.exp(_LOG_Y)
            s0 = comp.low_frequency_exponent
            low = omega[0] / jnp.where(T > 0, s0, s0 + 1.0)  # ∫₀^ω_min G coth / (G coth)(ω_min)
            w = (omega * _LOG_W).at[0].add(low)
            flag = np.ones(_LOG_Y.size, dtype=bool)
        else:
            omega, w = _panel_nodes(edges)
            flag = np.zeros(omega.shape[-1], dtype=bool)
        omegas.append(omega)
        weights.append(w * comp.density(omega))
        damped.append(flag)
    return jnp.concatenate(omegas), jnp.concatenate(weights), np.concatenate(damped)


def _damping(u):
    """(D, 1 − D) with D = exp(−(u/K)^8), u = ωt ≥ 0: 1 to ~1e-16 below u = 0.4 K, 0 beyond 1.7 K.
    Σ f(ω) D cos ωt on the logarithmic grid equals ∫ f cos ωt dω where the grid still resolves
    cos ωt, and drops the aliased rest: the true integral of a smooth f(ω)·(1 − D(ωt)) cos ωt is
    exponentially small in K (tested against closed forms and scipy quad, tests/test_spectral.py)."""
    x = (u / DAMPING_K) ** 8
    return jnp.exp(-x), -jnp.expm1(-x)


def _sin_minus_x(u):
    """sin u − u without cancellation (series below u = 0.3)."""
    small = u < 0.3
    us = jnp.where(small, u, 0.0)
    u2 = us * us
    series = -us * u2 * (1 / 6 - u2 * (1 / 120 - u2 * (1 / 5040 - u2 * (1 / 362880 - u2 / 39916800))))
    ul = jnp.where(small, 1.0, u)
    return jnp.where(small, series, jnp.sin(ul) - ul)


def lineshape_from_nodes(t, omega, weight, damped, T):
    """g(t) of :func:`lineshape` for the nodes of :func:`quadrature_nodes` (`weight` may carry an
    extra filter of G, e.g. :func:`lzjax.quapi.influence.box_compensation`); t ≥ 0 any shape."""
    positive = omega > 0
    safe = jnp.where(positive, omega, 1.0)
    coth = coth_half(safe, T, finite_tangent=True)
    kernel = jnp.where(positive, weight / (safe * safe), 0.0)
    flag = jnp.asarray(damped)

    def one(tk):
        u = safe * tk
        d, one_minus_d = _damping(u)
        d, one_minus_d = jnp.where(flag, d, 1.0), jnp.where(flag, one_minus_d, 0.0)
        real = coth * (2.0 * jnp.sin(0.5 * u) ** 2 + one_minus_d * jnp.cos(u))  # coth (1 − D cos u)
        imag = _sin_minus_x(u) - one_minus_d * jnp.sin(u)  # D sin u − u
        return jax.lax.complex(jnp.sum(kernel * real), jnp.sum(kernel * imag))

    t = jnp.asarray(t, dtype=float)
    return jax.lax.map(one, t.ravel(), batch_size=32).reshape(t.shape)


def lineshape(t, bath):
    """g(t) = ∫₀^t dt' ∫₀^t' dt'' C(t'') = ∫ dω G(ω)/ω² [coth(ω/2T)(1 − cos ωt) + i(sin ωt − ωt)]
    (units Δ = 1, t ≥ 0), by :func:`quadrature_nodes` for any bath.

    Re g(t) is the pure-dephasing exponent Γ(t) (DESIGN.md §4.3), g'' = C, and every QUAPI η is a
    second difference of g (:func:`lzjax.quapi.influence.eta_coefficients`). Error (measured,
    tests/test_spectral.py): ≤ 1e-12 relative to max|g| against the Bath closed form and scipy
    quad (η and C(t) of the paper's family: ≤ 1e-12 relative to max|η|, max|C|, at
    (k_max + 1)·δt·ω_c ≤ 40 and t·ω_c ≤ 100; 6e-11 with K = 80, 7e-6 with K = 40)."""
    omega, weight, damped = quadrature_nodes(bath)
    return lineshape_from_nodes(t, omega, weight, damped, bath.T)


def correlation_quadrature(t, bath):
    """C(t) = ∫ dω G(ω)[coth(ω/2T) cos ωt − i sin ωt] by :func:`quadrature_nodes` for any bath
    (units Δ = 1; t ≥ 0; finite where ∫ G coth dω is: not at t = 0 for Drude-Lorentz).
    Error: see tests/test_spectral.py (against the Bath closed form)."""
    omega, weight, damped = quadrature_nodes(bath)
    positive = omega > 0
    safe = jnp.where(positive, omega, 1.0)
    coth = coth_half(safe, bath.T)
    weight = jnp.where(positive, weight, 0.0)
    flag = jnp.asarray(damped)

    def one(tk):
        u = safe * tk
        d = jnp.where(flag, _damping(u)[0], 1.0)
        return jax.lax.complex(jnp.sum(weight * coth * d * jnp.cos(u)), -jnp.sum(weight * d * jnp.sin(u)))

    t = jnp.asarray(t, dtype=float)
    return jax.lax.map(one, t.ravel(), batch_size=32).reshape(t.shape)


#: grid of :func:`_window_generic`: E = scale·e^y, y ∈ [0, ln 1e6]
_WINDOW_Y = np.linspace(0.0, math.log(1e6), 4001)


def _window_generic(bath, v, tol):
    """The E of :func:`relaxation_window_energy` for any bath: the smallest E ≥ frequency_scale
    of a logarithmic grid (spacing 0.35 %, up to 1e6·scale) with 4 ∫_E^∞ (π/2) G coth dE'/v ≤ tol
    (the same bound with margin as for :class:`Bath`: A_Θ² ≤ 1, both sides, factor 2)."""
    scale = jnp.maximum(jnp.asarray(bath.frequency_scale, dtype=float), 1.0)
    energy = scale * np.exp(_WINDOW_Y)
    rate = (jnp.pi / 2) * spectral_density(energy, bath) * coth_half(energy, bath.T)
    pieces = 0.5 * (rate[1:] + rate[:-1]) * jnp.diff(energy)
    tail = jnp.concatenate([jnp.cumsum(pieces[::-1])[::-1], jnp.zeros(1)])  # ∫_E^{E_last}
    ok = 4.0 * tail / v <= tol
    found = energy[jnp.argmax(ok)]
    return jnp.where(tail[0] > 0, jnp.where(jnp.any(ok), found, energy[-1]), 0.0)


def relaxation_integral(bath, theta, n_nodes: int = 8001):
    """v ∫Γ1 dt = ∫Γ1 dε over the whole line (units Δ², divide by v for the probability scale)
    for any bath; ε = sinh(x) trapezoid out to 1e6·max(frequency_scale, 1). For :class:`Bath`
    :func:`crossing_integral` gives the same in units γ."""
    e_max = 1e6 * max(float(np.max(np.asarray(bath.frequency_scale))), 1.0)
    x = jnp.linspace(-math.asinh(e_max), math.asinh(e_max), n_nodes)
    return jnp.trapezoid(relaxation_rate(jnp.sinh(x), theta, bath) * jnp.cosh(x), x)
