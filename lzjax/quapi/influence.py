"""Discretised Feynman-Vernon influence functional: η coefficients and influence tensors.

Units Δ = ħ = k_B = 1. The coupling −X·B/2 with X = cosΘ σz + sinΘ σx (eigenvalues x = ±1)
gives, for forward/backward paths x±_k on the grid t_k = k δt (Makri & Makarov, J. Chem. Phys.
102, 4600 and 4611 (1995)),

    ln I = −(1/4) Σ_{k ≥ k'} (x+_k − x−_k) (η_kk' x+_k' − η*_kk' x−_k'),

the 1/4 being the (1/2)² of the coupling. Point k stands for the slice I_k = [t_k − δt/2,
t_k + δt/2] clipped to the simulated interval (the end points carry half slices), and

    η_kk' = ∫_{I_k} dt' ∫_{I_k'} dt'' C(t' − t''),       η_kk = ∫_{I_k} dt' ∫_{t' > t'' ∈ I_k} dt'' C(t' − t''),

with C(t) = ∫ dω G(ω)[coth(ω/2T) cos ωt − i sin ωt]. Doing the time integrals first,

    η(L1, L2, D) = ∫ dω G(ω) L1 L2 sinc(ωL1/2) sinc(ωL2/2) [coth(ω/2T) cos ωD − i sin ωD]

for two slices of lengths L1, L2 whose midpoints are D apart, and for a self term (length L)

    η(L) = ∫ dω G(ω) L² [coth(ω/2T) sinc²(ωL/2)/2 − i (ωL − sin ωL)/(ωL)²].

These integrands have no cancellation; the ω integral is a double-exponential (DE) trapezoid
rule, ω = ω_c exp(x − e^(−x)), exact to ~1e-15 relative for s ≳ 0.1 and (k_max + 1)·δt·ω_c ≲ 40
(checked against scipy quad of the double time integral of C in tests/test_quapi.py,
test_eta_against_scipy_quad). γ enters linearly.

Any other spectral density (:mod:`lzjax.spectral`) goes through the lineshape g(t) = ∫₀^t∫₀^t' C
(:func:`lzjax.bath.lineshape`), g'' = C: for slices of lengths L1, L2 with midpoints d apart,

    η(L1, L2, d) = g(d + Σ/2) − g(d + δ/2) − g(d − δ/2) + g(d − Σ/2),  Σ = L1 + L2, δ = L1 − L2,
    η(L) = g(L),

exact identities; only g is computed, by quadrature on the density's own nodes, whose error
(stated in :func:`lzjax.bath.lineshape`) is the error of η (tests/test_spectral.py: the Bath
through this path equals the closed form above to 1e-12). Re g(t) = Γ(t), so pure dephasing
stays exact at any δt.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..bath import coth_half, lineshape_from_nodes, quadrature_nodes, spectral_density
from ..model import Bath

__all__ = [
    "Eta",
    "eta_coefficients",
    "eta_by_lineshape",
    "eta_pair",
    "eta_self",
    "box_compensation",
    "pair_log_factor",
    "influence_tensor",
    "log_factor_bound",
]

# DE nodes in x, ω = ω_c exp(x − e^{−x}); dω/dx = ω (1 + e^{−x}). Module constants (numpy).
_N_NODES = 6001
_X_NODES = np.linspace(-7.0, 4.8, _N_NODES)
_H = _X_NODES[1] - _X_NODES[0]
_OMEGA_UNIT = np.exp(_X_NODES - np.exp(-_X_NODES))  # ω/ω_c
_OMEGA_UNIT[_OMEGA_UNIT < 1e-250] = 0.0  # dropped: G(ω)·coth(ω/2T)·dω ∝ ω^s < 1e-25 there
_JACOBIAN = _H * _OMEGA_UNIT * (1.0 + np.exp(-_X_NODES))  # dω/ω_c per node

# Forward/backward pair index a = 2 i+ + i−, with x = +1 for i = 0 and x = −1 for i = 1.
_X_PLUS = np.array([1.0, 1.0, -1.0, -1.0])
_X_MINUS = np.array([1.0, -1.0, 1.0, -1.0])


class Eta(NamedTuple):
    """η coefficients (complex, shape (k_max + 1,), index Δ = k − k' = 0 … k_max; units Δ⁰).

    - `interior`: both slices full (length δt); Δ = 0 the self term.
    - `edge`: newer point a half slice at either end of the interval, the other a full slice;
      Δ = 0 the half-slice self term. Used for the start point (paired with later points) and
      for the end point (paired with earlier points): the two coincide.
    - `start_end`: both half slices (start point and an end point Δ steps later); Δ = 0 unused.
    """

    interior: Any
    edge: Any
    start_end: Any


def box_compensation(omega, dt):
    """1/sinc²(ωδt/2) below 3/4 of the Nyquist frequency π/δt, rolled off (cos²) to 1 at π/δt.

    A path held constant over slices of length δt couples to the bath at frequency ω with
    weight sinc²(ωδt/2): the discretised relaxation rate at level splitting E is
    G(E) sinc²(Eδt/2) (−17 % at Eδt = 1.5). Multiplying G by this factor undoes that at O(γ).
    """
    x = omega * dt
    boost = 1.0 / jnp.sinc(jnp.minimum(x, jnp.pi) / (2.0 * jnp.pi)) ** 2
    low, high = 0.75 * jnp.pi, jnp.pi
    roll = jnp.cos(0.5 * jnp.pi * jnp.clip((x - low) / (high - low), 0.0, 1.0)) ** 2
    return 1.0 + (boost - 1.0) * roll


def _omega_nodes(bath, compensate_dt=None):
    omega = bath.omega_c * _OMEGA_UNIT  # (n,)
    weight = bath.omega_c * _JACOBIAN * spectral_density(omega, bath)  # G(ω) dω
    if compensate_dt is not None:
        weight = weight * box_compensation(omega, compensate_dt)
    positive = omega > 0
    coth = coth_half(jnp.where(positive, omega, 1.0), bath.T, finite_tangent=True)  # dη/dT, dη/dω_c finite
    return jnp.where(positive, omega, 1.0), jnp.where(positive, weight, 0.0), coth


@jax.custom_jvp
def _sinc(x):
    """sin x / x, with a tangent that stays finite at tiny x (jnp.sinc's overflows for
    |x| ≲ 1e-154: the DE nodes near ω = 0 in derivatives in ω_c)."""
    return jnp.sinc(x / jnp.pi)


@_sinc.defjvp
def _sinc_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    y = jnp.sinc(x / jnp.pi)
    small = jnp.abs(x) < 0.1
    xs = jnp.where(small, 1.0, x)
    x2 = x * x
    series = -x * (1 / 3 - x2 * (1 / 30 - x2 * (1 / 840 - x2 / 45360)))  # d sinc/dx, error < 1e-14
    return y, jnp.where(small, series, (jnp.cos(xs) - y) / xs) * dx


def _x_minus_sin_over_x2(x):
    """(x − sin x)/x² without cancellation (series below x = 0.3)."""
    small = x < 0.3
    xs = jnp.where(small, x, 0.0)
    x2 = xs * xs
    series = xs * (1 / 6 - x2 * (1 / 120 - x2 * (1 / 5040 - x2 * (1 / 362880 - x2 / 39916800))))
    xl = jnp.where(small, 1.0, x)
    return jnp.where(small, series, (xl - jnp.sin(xl)) / (xl * xl))


def _lineshape(bath, t, compensate_dt=None):
    """g(t) of :func:`lzjax.bath.lineshape`, with G × :func:`box_compensation` if `compensate_dt`."""
    omega, weight, damped = quadrature_nodes(bath)
    if compensate_dt is not None:
        weight = weight * box_compensation(omega, compensate_dt)
    return lineshape_from_nodes(t, omega, weight, damped, bath.T)


def _eta_pair_lineshape(bath, l1, l2, d, compensate_dt=None):
    total, diff = jnp.asarray(l1) + l2, jnp.asarray(l1) - l2
    times = jnp.stack(jnp.broadcast_arrays(d + total / 2, d + diff / 2, d - diff / 2, d - total / 2))
    g = _lineshape(bath, jnp.maximum(times, 0.0), compensate_dt)
    return g[0] - g[1] - g[2] + g[3]


def eta_by_lineshape(bath, dt, kmax: int, compensate: bool) -> Eta:
    """:func:`eta_coefficients` from the lineshape g at the half steps t_m = m δt/2,
    m = 0 … 2 k_max + 2 (module docstring): the path of every bath but :class:`lzjax.model.Bath`,
    which it serves too (tests/test_spectral.py compares the two)."""
    g = _lineshape(bath, 0.5 * dt * jnp.arange(2 * kmax + 3), dt if compensate else None)
    two_d = 2 * np.arange(1, kmax + 1)
    interior = g[two_d + 2] - 2.0 * g[two_d] + g[two_d - 2]
    edge = g[two_d + 1] - g[two_d] - g[two_d - 1] + g[two_d - 2]
    start_end = g[two_d] - 2.0 * g[two_d - 1] + g[two_d - 2]
    return Eta(
        interior=jnp.concatenate([g[2:3], interior]),
        edge=jnp.concatenate([g[1:2], edge]),
        start_end=jnp.concatenate([g[1:2], start_end]),
    )


def eta_pair(bath, l1, l2, d, compensate_dt=None):
    """η for two distinct slices of lengths l1, l2 (units 1/Δ) with midpoints d apart (later − earlier).

    Arguments broadcast together; returns a complex array of their shape. With `compensate_dt`,
    G(ω) is multiplied by :func:`box_compensation` for that step.
    """
    if not isinstance(bath, Bath):
        return _eta_pair_lineshape(bath, l1, l2, d, compensate_dt)
    omega, weight, coth = _omega_nodes(bath, compensate_dt)
    l1, l2, d = (jnp.asarray(a)[..., None] for a in (l1, l2, d))
    kernel = weight * l1 * l2 * _sinc(omega * l1 / 2) * _sinc(omega * l2 / 2)
    return jnp.sum(kernel * coth * jnp.cos(omega * d), -1) - 1j * jnp.sum(kernel * jnp.sin(omega * d), -1)


def eta_self(bath, length, compensate_dt=None):
    """η for a slice with itself, ∫dt' ∫_{t''<t'} dt'' C(t' − t''), slice length `length` (1/Δ)."""
    if not isinstance(bath, Bath):
        return _lineshape(bath, length, compensate_dt)
    omega, weight, coth = _omega_nodes(bath, compensate_dt)
    length = jnp.asarray(length)[..., None]
    real = jnp.sum(weight * coth * 0.5 * _sinc(omega * length / 2) ** 2, -1)
    imag = jnp.sum(weight * _x_minus_sin_over_x2(omega * length), -1)
    return length[..., 0] ** 2 * (real - 1j * imag)


def eta_coefficients(bath, dt, kmax: int, compensate: bool = False) -> Eta:
    """All η needed by the ADT for time step `dt` (units 1/Δ) and memory `kmax` steps (static).

    `compensate=True`: η of the spectral density G(ω)/sinc²(ωδt/2) (:func:`box_compensation`),
    so that the discretised O(γ) relaxation rates equal the golden-rule rates for level splittings
    E < 3π/(4δt), instead of being reduced by sinc²(Eδt/2). The price: pure dephasing, exact at any
    δt without it, acquires an O(δt²) error. Both converge to the same δt → 0 limit.
    """
    if not isinstance(bath, Bath):
        return eta_by_lineshape(bath, dt, kmax, compensate)
    c = dt if compensate else None
    delta_k = jnp.arange(1, kmax + 1)
    full, half = dt, 0.5 * dt
    interior = eta_pair(bath, full, full, delta_k * dt, c)
    edge = eta_pair(bath, full, half, delta_k * dt - 0.25 * dt, c)
    start_end = eta_pair(bath, half, half, delta_k * dt - 0.5 * dt, c)
    self_full = eta_self(bath, full, c)
    self_half = eta_self(bath, half, c)
    return Eta(
        interior=jnp.concatenate([self_full[None], interior]),
        edge=jnp.concatenate([self_half[None], edge]),
        start_end=jnp.concatenate([self_half[None], start_end]),
    )


def pair_log_factor(eta):
    """ln of the influence factor of a pair: φ[n, o] = −(x+_n − x−_n)(η x+_o − η* x−_o)/4.

    `eta` complex of any shape (...); returns (..., 4, 4) indexed [newer pair n, older pair o].
    The self term of a point is the diagonal φ[n, n].
    """
    eta = jnp.asarray(eta)[..., None, None]
    diff = (_X_PLUS - _X_MINUS)[:, None]
    return -0.25 * diff * (eta * _X_PLUS[None, :] - jnp.conj(eta) * _X_MINUS[None, :])


def log_factor_bound(eta):
    """Σ_Δ max_{n,o} Re φ_Δ[n, o] over the lags of `eta` (k_max + 1,): the largest ln|factor| of
    an influence tensor element. Pair factors exp φ can exceed 1 (only their product along a
    whole path is bounded); beyond ~700 they overflow float64 (strong coupling at this δt)."""
    phi = pair_log_factor(eta)
    return jnp.sum(jnp.max(jnp.real(phi), axis=(-2, -1)), axis=-1)


def influence_tensor(eta):
    """Influence tensor of one new point with its r predecessors, shape (4,)*(r+1).

    `eta` (r + 1,) indexed by Δ = 0 … r. Axes: oldest (Δ = r) first, the new point (Δ = 0) last:
    I[o_r, …, o_1, n] = exp(φ_0[n, n] + Σ_Δ φ_Δ[n, o_Δ]). Memory 16·4^(r+1) bytes (complex128).
    """
    r = eta.shape[0] - 1
    phi = pair_log_factor(eta)  # (r+1, 4, 4)
    log_tensor = jnp.diagonal(phi[0]).reshape((1,) * r + (4,))
    for delta in range(1, r + 1):
        shape = [1] * (r + 1)
        shape[r - delta] = 4
        shape[r] = 4
        log_tensor = log_tensor + phi[delta].T.reshape(shape)
    return jnp.exp(log_tensor)
