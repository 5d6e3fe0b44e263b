"""Bath physics: spectral function, correlation function, golden-rule rates, crossing integrals.

All functions work in units Δ = ħ = k_B = 1 (see :func:`lzjax.model.dimensionless`) and are
pure jnp code: jit, vmap and grad pass through every argument.

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

__all__ = [
    "spectral_density",
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
    """G(ω) = γ/π ω^s exp(−ω/ω_c) for ω ≥ 0 (units Δ = 1)."""
    omega = jnp.asarray(omega)
    safe = jnp.where(omega > 0, omega, 1.0)
    # ω^s e^{−ω/ω_c} in log space: no intermediate overflow for large s
    value = bath.gamma / jnp.pi * jnp.exp(bath.s * jnp.log(safe) - safe / bath.omega_c)
    return jnp.where(omega > 0, value, 0.0)


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
    at small t, from the −i sin ωt above).
    """
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
    """Markovian pure-dephasing rate Γd (Eq. 10): B_Θ² γ T for s = 1, zero for s > 1."""
    _, b_theta, _ = coupling_factors(epsilon, theta)
    return jnp.where(bath.s == 1, b_theta**2 * bath.gamma * bath.T, 0.0)


def rates(epsilon, theta, bath):
    """(Γ1, Γ2, Γd) of the nonequilibrium Bloch equations at bias ε."""
    gamma1 = relaxation_rate(epsilon, theta, bath)
    gamma_d = dephasing_rate(epsilon, theta, bath)
    return gamma1, 0.5 * gamma1 + gamma_d, gamma_d


def relaxation_window_energy(bath, v, tol):
    """Energy E (units Δ = 1) beyond which relaxation no longer matters at accuracy `tol`.

    Solves (γ/2) E^s e^{−E/ω_c} coth(E/2T) · 4ω_c/v = tol by fixed-point iteration (a bound on
    ∫Γ1 dt beyond E, with margin); E ≥ (s+1) ω_c; 0 for γ = 0.
    """
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
    from .model import Bath  # local import keeps bath free of model at import time

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
    tests/test_bath.py). Pure jnp: jit, vmap and grad pass.
    """
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
