"""Windowed QUAPI: the path integral only where the bath is non-Markovian, golden-rule tails outside.

The NEQB window design (:mod:`lzjax.neqb`) transplanted to QUAPI, linear drive ε = v t, Δ = 1:

* |ε| ≤ ε_q: numerically exact QUAPI (Trotter step δt, memory k_max). ε_q is small (15 … 30) so
  that the largest level splitting stays below the Nyquist limit, E δt < π, at δt ≈ 0.1: beyond
  it the discretised path aliases the system frequency into the bath band and QUAPI produces
  spurious transitions (measured by the colleague who wrote the engine: P_LZ error −1.6e-2 at
  δt = 0.2, v = 1, T = 0, t_max = 40).
* ε_q < |ε| ≤ ε_max: only the populations relax, with the **golden-rule** rate Γ1 (and the
  adiabatic-following loss term), exactly the scalar equation of
  :func:`lzjax.adiabatic.relax_step`. This tail is a weak-coupling (Born-Markov) approximation, not part of the exact
  path integral: its error is estimated by moving ε_q (see :func:`lzjax.quapi.converge_quapi`).
* Start of the QUAPI window: the dressed adiabatic-following state (populations from the
  incoming tail plus their adiabatic-following coherence, :func:`lzjax.adiabatic.dressed_state`),
  system and bath factorised (the bath in its thermal state).
* Read-out at +ε_q: ρ is converted to the adiabatic Bloch vector r and the freely rotating
  coherence is allowed to act on r_x to second order in 1/E (:func:`lzjax.adiabatic.asymptotic_rx`),
  instead of the projective read-out, whose error oscillates with amplitude ~ v/E³.

Two protocols share one interface, `setup(problem, dt, n_steps, eps_max, n=None) -> (K, rho0, aux)`
and `finish(rho, aux, problem, dt, n, eps_max) -> (P_LZ, P_ES)` (`n` the point's own step count,
may be traced; K has the static length `n_steps` ≥ n), so that every engine runs
either scheme (:data:`QUAPI_SCHEMES`): "window" (above) and "plain" (the whole protocol t ∈
[−N δt/2, N δt/2] from bare eigenstates, projective read-out; no tails). (The drive protocols
ε(t) are another thing: :data:`lzjax.protocols.PROTOCOLS`.)
"""

from __future__ import annotations

import math

import jax.numpy as jnp

from ..adiabatic import asymptotic_rx, bloch_from_rho, dressed_state, relax_tail, rho_from_bloch
from ..bath import relaxation_rate, relaxation_window_energy
from ..model import Bath
from .propagator import liouville, lz_protocol, magnus4_propagators

__all__ = [
    "window_protocol",
    "window_readout",
    "plain_protocol",
    "plain_readout",
    "QUAPI_SCHEMES",
    "bath_window",
    "tail_weight",
    "N_OUTER",
    "step_propagators",
]

#: steps of each golden-rule tail (sinh grid)
N_OUTER = 256


def bath_window(problem, tol=1e-6):
    """ε_max (units Δ = 1, dimensionless `problem`) beyond which ∫Γ1 dt < `tol`
    (:func:`lzjax.bath.relaxation_window_energy`): the end of the golden-rule tails."""
    return relaxation_window_energy(problem.bath, problem.drive.v, tol)


def tail_weight(problem, eps_q, n_nodes: int = 2001):
    """∫ Γ1 dt over |ε| > ε_q (both tails, linear drive, dimensionless `problem`): the relaxation
    left to the golden-rule tails when the exact window is |ε| ≤ ε_q (a probability scale).
    Composite Simpson on ε = ε_q + ω_c y, y ∈ [0, 80] (Γ1 falls as e^{−E/ω_c}; tested against
    scipy quad to 1e-6 relative, tests/test_quapi.py). Any other bath: ε = ε_q + s (e^y − 1),
    s its frequency scale, y ∈ [0, ln 1e6] (slower tails: Drude-Lorentz falls as 1/E)."""
    generic = not isinstance(problem.bath, Bath)
    y = jnp.linspace(0.0, math.log(1e6) if generic else 80.0, n_nodes)  # n_nodes odd
    weights = jnp.where(jnp.arange(n_nodes) % 2 == 1, 4.0, 2.0).at[0].set(1.0).at[-1].set(1.0)
    weights = weights * (y[1] - y[0]) / 3.0
    scale = problem.bath.frequency_scale
    eps = eps_q + scale * (jnp.expm1(y) if generic else y)
    rate = relaxation_rate(eps, problem.theta, problem.bath) + relaxation_rate(-eps, problem.theta, problem.bath)
    if generic:
        rate = rate * jnp.exp(y)  # dε/dy = s e^y
    return jnp.sum(weights * rate) * scale / problem.drive.v


def window_protocol(problem, dt, n_steps: int, eps_max, n=None, n_outer: int = N_OUTER):
    """QUAPI window t_k = (k − N/2) δt, k = 0 … N, for a dimensionless linear-drive `problem`.

    Returns (K (n_steps, 4, 4) Liouville step propagators in the X basis, rho0 (2, 4) the dressed
    start states at −ε_q = −v N δt/2 for the ground (row 0) and excited (row 1) start at −ε_max,
    after the golden-rule incoming tail, aux = () ). `n` (may be traced): the point's own step
    count N ≤ `n_steps` (default `n_steps`, the static length of K; steps past N are unused).
    """
    n = n_steps if n is None else n
    t = (jnp.arange(n_steps + 1) - 0.5 * n) * dt
    eps_q = problem.drive.epsilon(0.5 * n * dt)
    r_x = relax_tail(jnp.array([1.0, -1.0]), problem, -jnp.maximum(eps_max, eps_q), -eps_q, n_outer)
    state = dressed_state(t[0], r_x, problem)  # (3, 2): rows r_x, r_y, r_z; columns the two starts
    rho0 = rho_from_bloch(state.T, problem.drive.epsilon(t[0]), problem.theta)
    u = magnus4_propagators(problem.drive, t, problem.theta)
    return liouville(u), rho0, ()


def window_readout(rho, aux, problem, dt, n_steps: int, eps_max, n_outer: int = N_OUTER):
    """(P_LZ, P_ES) from the density matrices rho (2, 4) (X basis) at t_end = +ε_q/v = N δt/2:
    asymptotic read-out of r_x, then the golden-rule outgoing tail up to ε_max."""
    t_end = 0.5 * n_steps * dt
    eps_q = problem.drive.epsilon(t_end)
    r = bloch_from_rho(rho, eps_q, problem.theta)  # (2, 3)
    r_x = asymptotic_rx(r.T, t_end, problem)
    r_x = relax_tail(r_x, problem, eps_q, jnp.maximum(eps_max, eps_q), n_outer)
    return 0.5 * (1.0 + r_x[0]), 0.5 * (1.0 - r_x[1])


def step_propagators(problem, dt, n, first, length: int):
    """The Liouville step propagators (length, 4, 4) of steps first … first + length − 1 of a
    protocol of `n` steps on t_k = (k − n/2) δt (both protocols' grid; `n`, `first` may be
    traced, `length` static): the same numbers as rows first … of the protocol's K."""
    t = (first + jnp.arange(length + 1) - 0.5 * n) * dt
    return liouville(magnus4_propagators(problem.drive, t, problem.theta))


def plain_protocol(problem, dt, n_steps: int, eps_max=None, n=None):
    """The whole protocol from bare instantaneous eigenstates (:func:`lz_protocol`); aux = the
    projective read-out rows. `eps_max` is unused (the protocol ends at ±v N δt/2); `n` as in
    :func:`window_protocol`."""
    return lz_protocol(problem, dt, n_steps, n)


def plain_readout(rho, observe, problem=None, dt=None, n_steps=None, eps_max=None):
    """(P_LZ, P_ES) = Tr[P_ground ρ_ground-start], Tr[P_excited ρ_excited-start] at the end."""
    p = jnp.real(jnp.sum(observe * rho, axis=-1))
    return p[0], p[1]


#: QUAPI scheme name -> (setup, finish): how a run starts and is read out (the `protocol`
#: argument of :func:`lzjax.quapi.runner.run_batch`); not the drive protocols of :mod:`lzjax.protocols`
QUAPI_SCHEMES = {"window": (window_protocol, window_readout), "plain": (plain_protocol, plain_readout)}
