"""The adiabatic frame shared by every engine (units Δ = ħ = 1).

Conventions (NEQB, DESIGN.md §3): adiabatic Bloch vector r with ρ = (1 − r·τ)/2, r_x = +1 the
instantaneous ground state; tan φ = ε/Δ, E = sqrt(Δ² + ε²), φ' = Δ ε̇/E². With the lab Bloch
vector s = Tr(ρ σ) in the σz basis,

    r_x = −(s_x cos φ + s_z sin φ),   r_y = −s_y,   r_z = s_x sin φ − s_z cos φ.

Far from the crossing (|ε| ≫ Δ) the populations and coherences decouple:

* **dressed start** (:func:`dressed_state`): populations r_x plus the coherence that adiabatic
  following from t → −∞ has built, free of the oscillation a bare eigenstate start would excite;
* **asymptotic read-out** (:func:`asymptotic_rx`): the freely rotating coherence is allowed to act
  on r_x to second order in 1/E (the projective read-out oscillates with amplitude ~ v/E³);
* **golden-rule tails** (:func:`relax_step`, :func:`relax_tail`): only populations relax, with Γ1
  and the loss through the adiabatic-following coherence — a weak-coupling (Born-Markov) step.

Time grids far from the crossing are uniform in x with ε = sinh(x) (:func:`sinh_march`).
Everything here is pure jnp code (jit, vmap and grad pass through) and used by both
:mod:`lzjax.neqb` and the QUAPI window (:mod:`lzjax.quapi.window`).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from .bath import coth_half, rates, relaxation_rate

__all__ = [
    "PAULI",
    "coupling_rotation",
    "level",
    "frame",
    "rho_from_bloch",
    "bloch_from_rho",
    "dressed_state",
    "asymptotic_rx",
    "relaxation_coefficients",
    "affine_exp",
    "relax_step",
    "relax_tail",
    "sinh_march",
    "GAUSS_NODES",
    "CF4_WEIGHTS",
    "rate_window",
]

#: Pauli matrices σx, σy, σz (3, 2, 2), complex128.
PAULI = jnp.array([[[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]], dtype=jnp.complex128)

#: Gauss-Legendre nodes c1,2 = 1/2 ∓ √3/6 of the fourth-order Magnus steps.
GAUSS_NODES = (0.5 - math.sqrt(3.0) / 6.0, 0.5 + math.sqrt(3.0) / 6.0)
#: Commutator-free Magnus-4 weights α1,2 = 1/4 ± √3/6 (Blanes & Moan 2006).
CF4_WEIGHTS = (0.25 + math.sqrt(3.0) / 6.0, 0.25 - math.sqrt(3.0) / 6.0)


def coupling_rotation(theta):
    """R = exp(−iθσy/2) (real, (..., 2, 2)); for θ = Θ its columns are the eigenvectors of the
    coupling operator X = cosΘ σz + sinΘ σx for x = +1 and x = −1."""
    c, s = jnp.cos(theta / 2), jnp.sin(theta / 2)
    return jnp.stack([jnp.stack([c, -s], -1), jnp.stack([s, c], -1)], -2)


def level(t, drive):
    """(ε, E, φ') of the drive at time t (units Δ = 1): bias, level splitting, dφ/dt."""
    epsilon = drive.epsilon(t)
    energy = jnp.sqrt(1.0 + epsilon**2)
    return epsilon, energy, drive.depsilon(t) / energy**2


def frame(epsilon):
    """Rows e_x, e_y, e_z (3, 3) of the adiabatic frame in lab Bloch coordinates (Δ = 1)."""
    energy = jnp.sqrt(1.0 + epsilon**2)
    c, s = 1.0 / energy, epsilon / energy
    zero, one = jnp.zeros_like(c), jnp.ones_like(c)
    return jnp.stack([jnp.stack([c, zero, s]), jnp.stack([zero, one, zero]), jnp.stack([-s, zero, c])])


def rho_from_bloch(r, epsilon, theta):
    """vec(ρ) (..., 4) in the X basis from adiabatic Bloch vectors r (..., 3) at bias ε."""
    s = -jnp.einsum("...i,ij->...j", r, frame(epsilon))  # lab Bloch vector
    rho_z = 0.5 * (jnp.eye(2) + jnp.einsum("...i,ijk->...jk", s.astype(jnp.complex128), PAULI))
    rot = coupling_rotation(theta)
    rho_x = jnp.einsum("ia,...ij,jb->...ab", rot, rho_z, rot)
    return rho_x.reshape(rho_x.shape[:-2] + (4,))


def bloch_from_rho(rho, epsilon, theta):
    """Adiabatic Bloch vectors r (..., 3) from vec(ρ) (..., 4) in the X basis at bias ε."""
    rot = coupling_rotation(theta)
    rho_x = rho.reshape(rho.shape[:-1] + (2, 2))
    rho_z = jnp.einsum("ai,...ij,bj->...ab", rot, rho_x, rot)
    s = jnp.real(jnp.einsum("...jk,ikj->...i", rho_z, PAULI))  # Tr(ρ σ_i)
    return -jnp.einsum("...j,ij->...i", s, frame(epsilon))


def _coherence_terms(t, problem):
    """(φ', 1/(Γ2 + iE), κ2) at time t for the coherence c = r_z + i r_y far from the crossing.

    ċ = −(Γ2 + iE) c − φ' r_x. Its adiabatic-following solution is
    c_af = r_x (−φ'/(Γ2 + iE) + κ2) and a freely rotating part c_free acts on r_x as
    ∫ φ' Re c_free dt = Re[c_free (φ'/(Γ2 + iE) + κ2)], both to second order in 1/E, with
    κ2 = −(1/E) d/dt(φ'/E) = 3 ε̇² ε Δ / E⁶ for a linear drive (ε̈ = 0).
    """
    epsilon, energy, phi_dot = level(t, problem.drive)
    eps_dot = problem.drive.depsilon(t)
    _, gamma2, _ = rates(epsilon, problem.theta, problem.bath)
    kappa2 = 3.0 * eps_dot**2 * epsilon / energy**6
    return phi_dot, 1.0 / (gamma2 + 1j * energy), kappa2


def dressed_state(t, r_x, problem):
    """Bloch vectors (3, B) (rows r_x, r_y, r_z) for populations r_x (B,) at time t, with the
    coherence of adiabatic following (second order in 1/E)."""
    phi_dot, response, kappa2 = _coherence_terms(t, problem)
    c = r_x * (-phi_dot * response + kappa2)
    return jnp.stack([r_x, c.imag, c.real])


def asymptotic_rx(state, t, problem):
    """r_x (B,) after the freely rotating coherence of `state` (3, B) has acted (2nd order in 1/E)."""
    phi_dot, response, kappa2 = _coherence_terms(t, problem)
    r_x = state[0]
    c = state[2] + 1j * state[1]
    free = c - r_x * (-phi_dot * response + kappa2)
    return r_x + jnp.real(free * (phi_dot * response + kappa2))


def relaxation_coefficients(t, problem):
    """(a, b) of the decoupled population equation ṙx = a r_x + b far from the crossing.

    a = −Γ1 − φ'² Γ2/(Γ2² + E²) (the second term: loss through the adiabatic-following
    coherence), b = Γ1 tanh(E/2T).
    """
    epsilon, energy, phi_dot = level(t, problem.drive)
    gamma1, gamma2, _ = rates(epsilon, problem.theta, problem.bath)
    a = -gamma1 - phi_dot**2 * gamma2 / (gamma2**2 + energy**2)
    return a, gamma1 / coth_half(energy, problem.bath.T)


def affine_exp(p, q):
    """exp([[p, q], [0, 0]]) acting on (r, 1): returns (e^p, q (e^p − 1)/p), safe at p = 0."""
    small = jnp.abs(p) < 1e-8
    p_safe = jnp.where(small, 1.0, p)
    phi1 = jnp.where(small, 1.0 + 0.5 * p, jnp.expm1(p_safe) / p_safe)
    return jnp.exp(p), q * phi1


def relax_step(r_x, t_pair, problem):
    """Commutator-free Magnus-4 step of the golden-rule population equation over t_pair = (t0, t1).

    r_x (B,); returns (r_x, None) for use in `lax.scan`.
    """
    t0, t1 = t_pair
    h = t1 - t0
    a1, b1 = relaxation_coefficients(t0 + GAUSS_NODES[0] * h, problem)
    a2, b2 = relaxation_coefficients(t0 + GAUSS_NODES[1] * h, problem)
    for w1, w2 in (CF4_WEIGHTS, CF4_WEIGHTS[::-1]):
        decay, source = affine_exp(h * (w1 * a1 + w2 * a2), h * (w1 * b1 + w2 * b2))
        r_x = decay * r_x + source
    return r_x, None


def sinh_march(step, carry, x0, x1, n, v):
    """`carry` after `step(carry, (t0, t1))` over the n steps of a linear drive ε = v t whose
    times are uniform in x = asinh(ε) from x0 to x1 (`step` returns (carry, anything)).

    Times t_k = sinh(x0 (1 − k/n) + x1 k/n) / v, each computed where it is used (the formula of
    ``jnp.linspace``: x_0 = x0 and x_n = x1 exactly; the times agree with sinh(linspace)/v to a few
    ulp, as two compiled programs of the same formula do). `n`: a Python int (a
    scan of fixed length: reverse-mode differentiable) or a traced integer (a while loop: one
    compiled program serves every n).
    """
    dtype = jnp.result_type(x0, x1)

    def time(k):
        frac = jnp.asarray(k).astype(dtype) / jnp.asarray(n).astype(dtype)
        return jnp.sinh(x0 * (1 - frac) + x1 * frac) / v

    def body(k, state):
        c, t0 = state
        t1 = time(k + 1)
        c, _ = step(c, (t0, t1))
        return c, t1

    carry, _ = jax.lax.fori_loop(0, n, body, (carry, time(0)))
    return carry


def relax_tail(r_x, problem, eps_from, eps_to, n_outer):
    """Golden-rule population relaxation over ε ∈ [eps_from, eps_to] (linear drive) on a sinh
    grid of `n_outer` steps (see :func:`sinh_march`); r_x (B,). Returns r_x unchanged for
    eps_from = eps_to."""
    step = lambda c, tp: relax_step(c, tp, problem)  # noqa: E731
    return sinh_march(step, r_x, jnp.arcsinh(eps_from), jnp.arcsinh(eps_to), n_outer, problem.drive.v)


def rate_window(system, tol, n_nodes: int = 20001):
    """Rate-based estimate of the crossing window (numpy, per point of a flat batch `system`): the
    ε₋ < 0 < ε₊ beyond which ∫Γ1 dt = ∫Γ1 dε/v equals tol/2 on each side (linear drive, Δ = 1);
    ∫Γ1 dt over the whole line is Ξ γΔ²/v. Returns (ε₋, ε₊, ∫Γ1 dt), each (P,)."""

    def one(p):
        s1 = jax.tree_util.tree_map(lambda a: a[p] if jnp.ndim(a) else a, system)
        scale, s0 = float(s1.bath.frequency_scale), float(s1.bath.low_frequency_exponent)
        e_max = float(60.0 * max(scale, 1.0) * (1.0 + s0))
        x = np.linspace(-np.arcsinh(e_max), np.arcsinh(e_max), n_nodes)
        eps = np.sinh(x)
        g = np.asarray(relaxation_rate(jnp.asarray(eps), s1.theta, s1.bath)) * np.cosh(x) / float(s1.drive.v)
        cum = np.concatenate([[0.0], np.cumsum(0.5 * (g[1:] + g[:-1]) * np.diff(x))])  # ∫_{−∞}^{ε}
        total = cum[-1]
        i_minus = np.searchsorted(cum, 0.5 * tol)
        i_plus = np.searchsorted(cum, total - 0.5 * tol)
        return eps[min(i_minus, len(eps) - 1)], eps[min(i_plus, len(eps) - 1)], total

    n = np.asarray(system.theta).size
    out = np.array([one(p) for p in range(n)])
    return out[:, 0], out[:, 1], out[:, 2]
