"""Windowed QUAPI: the path integral only where the bath is non-Markovian, golden-rule tails outside.

The NEQB window design (:mod:`lzjax.neqb`) transplanted to QUAPI, linear drive ε = v t, Δ = 1:

* |ε| ≤ ε_q: numerically exact QUAPI (Trotter step δt, memory k_max). ε_q is small (15 … 30) so
  that the largest level splitting stays below the Nyquist limit, E δt < π, at δt ≈ 0.1: beyond
  it the discretised path aliases the system frequency into the bath band and QUAPI produces
  spurious transitions (measured by the colleague who wrote the engine: P_LZ error −1.6e-2 at
  δt = 0.2, v = 1, T = 0, t_max = 40).
* ε_q < |ε| ≤ ε_max: only the populations relax, with the **golden-rule** rate Γ1 (and the
  adiabatic-following loss term), exactly the scalar equation that :func:`lzjax.neqb._relax_step`
  integrates. This tail is a weak-coupling (Born-Markov) approximation, not part of the exact
  path integral: its error is estimated by moving ε_q (see :func:`lzjax.quapi.converge_quapi`).
* Start of the QUAPI window: the dressed adiabatic-following state (populations from the
  incoming tail plus their adiabatic-following coherence, :func:`lzjax.neqb._dressed_state`),
  system and bath factorised (the bath in its thermal state).
* Read-out at +ε_q: ρ is converted to the adiabatic Bloch vector r and the freely rotating
  coherence is allowed to act on r_x to second order in 1/E (:func:`lzjax.neqb._asymptotic_rx`),
  instead of the projective read-out, whose error oscillates with amplitude ~ v/E³.

Adiabatic Bloch vector (NEQB convention, ρ = (1 − r·τ)/2, r_x = +1 the ground state): with the
lab Bloch vector s = Tr(ρ σ) in the σz basis and tan φ = ε/Δ,

    r_x = −(s_x cos φ + s_z sin φ),   r_y = −s_y,   r_z = s_x sin φ − s_z cos φ.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..neqb import _asymptotic_rx, _dressed_state, _relax_step
from .propagator import _PAULI, coupling_rotation, liouville, magnus4_propagators

__all__ = ["rho_from_bloch", "bloch_from_rho", "relax_tail", "window_protocol", "window_readout"]


def _frame(epsilon):
    """Rows e_x, e_y, e_z (3, 3) of the adiabatic frame in lab Bloch coordinates (Δ = 1)."""
    energy = jnp.sqrt(1.0 + epsilon**2)
    c, s = 1.0 / energy, epsilon / energy
    zero, one = jnp.zeros_like(c), jnp.ones_like(c)
    return jnp.stack([jnp.stack([c, zero, s]), jnp.stack([zero, one, zero]),
                      jnp.stack([-s, zero, c])])


def rho_from_bloch(r, epsilon, theta):
    """vec(ρ) (..., 4) in the X basis from adiabatic Bloch vectors r (..., 3) at bias ε."""
    s = -jnp.einsum("...i,ij->...j", r, _frame(epsilon))  # lab Bloch vector
    rho_z = 0.5 * (jnp.eye(2) + jnp.einsum("...i,ijk->...jk", s.astype(jnp.complex128), _PAULI))
    rot = coupling_rotation(theta)
    rho_x = jnp.einsum("ia,...ij,jb->...ab", rot, rho_z, rot)
    return rho_x.reshape(rho_x.shape[:-2] + (4,))


def bloch_from_rho(rho, epsilon, theta):
    """Adiabatic Bloch vectors r (..., 3) from vec(ρ) (..., 4) in the X basis at bias ε."""
    rot = coupling_rotation(theta)
    rho_x = rho.reshape(rho.shape[:-1] + (2, 2))
    rho_z = jnp.einsum("ai,...ij,bj->...ab", rot, rho_x, rot)
    s = jnp.real(jnp.einsum("...jk,ikj->...i", rho_z, _PAULI))  # Tr(ρ σ_i)
    return -jnp.einsum("...j,ij->...i", s, _frame(epsilon))


def relax_tail(r_x, problem, eps_from, eps_to, n_outer: int):
    """Golden-rule population relaxation (NEQB decoupled equation) over ε ∈ [eps_from, eps_to]
    on a sinh grid of `n_outer` steps; r_x (2,). Returns r_x unchanged for eps_from = eps_to."""
    v = problem.drive.v
    x = jnp.linspace(jnp.arcsinh(eps_from), jnp.arcsinh(eps_to), n_outer + 1)
    t = jnp.sinh(x) / v
    r_x, _ = jax.lax.scan(lambda c, tp: _relax_step(c, tp, problem), r_x, (t[:-1], t[1:]))
    return r_x


def window_protocol(problem, dt, n_steps: int, eps_max, n_outer: int = 256):
    """QUAPI window t_k = (k − N/2) δt, k = 0 … N, for a dimensionless linear-drive `problem`.

    Returns (K (N, 4, 4) Liouville step propagators in the X basis, rho0 (2, 4) the dressed
    start states at −ε_q = −v N δt/2 for the ground (row 0) and excited (row 1) start at −ε_max,
    after the golden-rule incoming tail).
    """
    t = (jnp.arange(n_steps + 1) - 0.5 * n_steps) * dt
    eps_q = problem.drive.epsilon(t[-1])
    r_x = relax_tail(jnp.array([1.0, -1.0]), problem, -jnp.maximum(eps_max, eps_q), -eps_q, n_outer)
    state = _dressed_state(t[0], r_x, problem)  # (4, 2): r_x, r_y, r_z, 1
    rho0 = rho_from_bloch(state[:3].T, problem.drive.epsilon(t[0]), problem.theta)
    u = magnus4_propagators(problem.drive, t, problem.theta)
    return liouville(u), rho0


def window_readout(rho, problem, t_end, eps_max, n_outer: int = 256):
    """(P_LZ, P_ES) from the density matrices rho (2, 4) (X basis) at t_end = +ε_q/v: asymptotic
    read-out of r_x, then the golden-rule outgoing tail up to ε_max."""
    eps_q = problem.drive.epsilon(t_end)
    r = bloch_from_rho(rho, eps_q, problem.theta)  # (2, 3)
    state = jnp.concatenate([r.T, jnp.ones((1, 2))])  # neqb layout (4, 2)
    r_x = _asymptotic_rx(state, t_end, problem)
    r_x = relax_tail(r_x, problem, eps_q, jnp.maximum(eps_max, eps_q), n_outer)
    return 0.5 * (1.0 + r_x[0]), 0.5 * (1.0 - r_x[1])
