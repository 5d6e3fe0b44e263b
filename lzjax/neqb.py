"""Nonequilibrium Bloch equations (paper Eq. 7-10) with a Magnus-type exponential integrator.

Adiabatic basis, ρ = (1 − r·τ)/2, r_x = +1 the instantaneous ground state:

    ṙx = +φ' rz − Γ1 (rx − tanh(E/2T))
    ṙy = −Γ2 ry − E rz
    ṙz = +E ry − Γ2 rz − φ' rx,         φ = arctan(ε/Δ),  φ' = Δ ε̇ / E²

The equations are linear, ṙ = A(t) r + b(t). Each step applies the fourth-order commutator-free
Magnus method (Blanes & Moan 2006): two flows of frozen generators at Gauss-point combinations
of A. Each frozen flow is a 4th-order Yoshida composition of two exactly solvable parts — the
rotation ω × r with ω = (E, φ', 0) (Rodrigues) and the damping/relaxation — which is accurate
even when E·δt ≫ 1: that makes small sweep speeds (10⁻³ Δ²) cheap, since the number of steps
does not grow as v falls. (Measured: 15× faster than jax.scipy.linalg.expm of the 4×4 affine
generator at equal accuracy; benchmarks/RESULTS.md.)

The grid is uniform in x with ε = sinh(x) (units Δ = 1): fine near the crossing, geometric far
from it. The window ε ∈ [−ε_max, ε_max] is chosen from two tails: the coherent one (final r_x
oscillates with amplitude ~ vΔ/E³ about its limit) and the bath one (∫Γ1 dt beyond ε_max);
:func:`solve_neqb` then checks both steps and window by refinement and reports the error.
"""

from __future__ import annotations

import dataclasses
import math
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .bath import coth_half, rates, relaxation_window_energy
from .model import LZProblem, dimensionless, flatten_problem
from .sharding import padded_size, shard_batch

__all__ = ["NEQBResult", "solve_neqb", "neqb_probabilities", "bloch_coefficients", "window_eps_max"]

# Commutator-free Magnus 4 (two exponentials, Gauss-Legendre nodes c1,2 = 1/2 ∓ √3/6).
_C1 = 0.5 - math.sqrt(3.0) / 6.0
_C2 = 0.5 + math.sqrt(3.0) / 6.0
_ALPHA1 = 0.25 + math.sqrt(3.0) / 6.0
_ALPHA2 = 0.25 - math.sqrt(3.0) / 6.0
# Yoshida's 4th-order composition of the two exact sub-flows (relax, rotate, relax, ...).
_W1 = 1.0 / (2.0 - 2.0 ** (1.0 / 3.0))
_W0 = 1.0 - 2.0 * _W1
_YOSHIDA = (("relax", 0.5 * _W1), ("rotate", _W1), ("relax", 0.5 * (_W0 + _W1)), ("rotate", _W0),
            ("relax", 0.5 * (_W0 + _W1)), ("rotate", _W1), ("relax", 0.5 * _W1))


def bloch_coefficients(t, problem: LZProblem):
    """(E, φ', Γ1, Γ2, Γ1 tanh(E/2T)) of the NEQB at time t (units Δ = 1), stacked (5,)."""
    epsilon = problem.drive.epsilon(t)
    energy = jnp.sqrt(1.0 + epsilon**2)
    phi_dot = problem.drive.depsilon(t) / energy**2
    gamma1, gamma2, _ = rates(epsilon, problem.theta, problem.bath)
    return jnp.stack([energy, phi_dot, gamma1, gamma2, gamma1 / coth_half(energy, problem.bath.T)])


def window_eps_max(problem: LZProblem, tol):
    """Half-widths (ε_coh, ε_max) of the protocol window (units Δ = 1) for accuracy `tol`.

    ε_coh bounds the coherent region, where the full Bloch equations are integrated: after the
    second-order asymptotic read-out the remaining error falls as ~v³/E⁷; at least 20.
    ε_max ≥ ε_coh bounds the bath window: (γ/2) E^s e^{−E/ω_c} coth(E/2T) · 4ω_c/v ≤ tol (a
    bound on ∫Γ1 dt beyond ε_max, with margin). Between the two only populations relax.
    """
    v = problem.drive.v
    bath = problem.bath
    coherent = jnp.maximum((30.0 * v**3 / tol) ** (1.0 / 7.0), 20.0)
    thermal = relaxation_window_energy(bath, v, tol)
    return coherent, jnp.maximum(coherent, thermal)


def _relaxation_coefficients(t, problem):
    """(a, b) of the decoupled population equation ṙx = a r_x + b far from the crossing.

    a = −Γ1 − φ'² Γ2/(Γ2² + E²) (the second term: loss through the adiabatic-following
    coherence), b = Γ1 tanh(E/2T).
    """
    epsilon = problem.drive.epsilon(t)
    energy = jnp.sqrt(1.0 + epsilon**2)
    phi_dot = problem.drive.depsilon(t) / energy**2
    gamma1, gamma2, _ = rates(epsilon, problem.theta, problem.bath)
    a = -gamma1 - phi_dot**2 * gamma2 / (gamma2**2 + energy**2)
    return a, gamma1 / coth_half(energy, problem.bath.T)


def _affine_exp(p, q):
    """exp([[p, q], [0, 0]]) acting on (r, 1): returns (e^p, q (e^p − 1)/p), safe at p = 0."""
    small = jnp.abs(p) < 1e-8
    p_safe = jnp.where(small, 1.0, p)
    phi1 = jnp.where(small, 1.0 + 0.5 * p, jnp.expm1(p_safe) / p_safe)
    return jnp.exp(p), q * phi1


def _relax_step(r_x, t_pair, problem):
    """Commutator-free Magnus 4 step of the scalar affine population equation. r_x: (2,)."""
    t0, t1 = t_pair
    h = t1 - t0
    a1, b1 = _relaxation_coefficients(t0 + _C1 * h, problem)
    a2, b2 = _relaxation_coefficients(t0 + _C2 * h, problem)
    for w1, w2 in ((_ALPHA1, _ALPHA2), (_ALPHA2, _ALPHA1)):
        decay, source = _affine_exp(h * (w1 * a1 + w2 * a2), h * (w1 * b1 + w2 * b2))
        r_x = decay * r_x + source
    return r_x, None


def _relax_part(state, c, tau):
    """Exact flow of the damping part over τ: r_x → r_st-relaxation at Γ1, r_y, r_z decay at Γ2."""
    _, _, gamma1, gamma2, source = c
    decay, shift = _affine_exp(-gamma1 * tau, source * tau)
    damp = jnp.exp(-gamma2 * tau)
    return jnp.stack([decay * state[0] + shift, damp * state[1], damp * state[2]])


def _rotate_part(state, c, tau):
    """Exact flow of the coherent part ṙ = ω × r, ω = (E, φ', 0), over τ (Rodrigues)."""
    energy, phi_dot = c[0], c[1]
    omega = jnp.sqrt(energy**2 + phi_dot**2)
    nx, ny = energy / omega, phi_dot / omega
    cos, sin = jnp.cos(omega * tau), jnp.sin(omega * tau)
    x, y, z = state
    along = (nx * x + ny * y) * (1.0 - cos)
    return jnp.stack([
        x * cos + ny * z * sin + nx * along,
        y * cos - nx * z * sin + ny * along,
        z * cos + (nx * y - ny * x) * sin,
    ])


def _frozen_flow(state, c, h):
    """exp(h G) for frozen coefficients c: 4th-order Yoshida splitting of damping and rotation.

    Damping (diag(Γ1, Γ2, Γ2)) commutes with rotations about the x axis, so the splitting error
    is set only by the tilt φ'/E of the rotation axis times the rates — it stays small when
    E·h ≫ 1, unlike a Taylor or Padé expansion of the whole generator. Yoshida's composition
    has backward relaxation sub-steps; where the damping is stiff (Γ·h > 50, relaxation complete
    within the step) they would amplify rounding, so there the positive Strang splitting
    (second order, exact equilibrium) is used instead.
    """
    yoshida = state
    for kind, weight in _YOSHIDA:
        part = _relax_part if kind == "relax" else _rotate_part
        yoshida = part(yoshida, c, weight * h)
    strang = _relax_part(_rotate_part(_relax_part(state, c, 0.5 * h), c, h), c, 0.5 * h)
    stiff = jnp.maximum(jnp.abs(c[2]), jnp.abs(c[3])) * jnp.abs(h) > 50.0
    return jnp.where(stiff, strang, yoshida)


def _cf4_step(state, t_pair, problem):
    """One commutator-free Magnus-4 step of the Bloch vectors `state` (3, 2)."""
    t0, t1 = t_pair
    h = t1 - t0
    c1 = bloch_coefficients(t0 + _C1 * h, problem)
    c2 = bloch_coefficients(t0 + _C2 * h, problem)
    state = _frozen_flow(state, _ALPHA1 * c1 + _ALPHA2 * c2, h)
    state = _frozen_flow(state, _ALPHA2 * c1 + _ALPHA1 * c2, h)
    return state, None


def _coherence_terms(t, problem):
    """(φ', 1/(Γ2 + iE), κ2) at time t for the coherence c = r_z + i r_y far from the crossing.

    ċ = −(Γ2 + iE) c − φ' r_x. Its adiabatic-following solution is
    c_af = r_x (−φ'/(Γ2 + iE) + κ2) and a freely rotating part c_free acts on r_x as
    ∫ φ' Re c_free dt = Re[c_free (φ'/(Γ2 + iE) + κ2)], both to second order in 1/E, with
    κ2 = −(1/E) d/dt(φ'/E) = 3 ε̇² ε Δ / E⁶ for a linear drive (ε̈ = 0).
    """
    epsilon = problem.drive.epsilon(t)
    eps_dot = problem.drive.depsilon(t)
    energy = jnp.sqrt(1.0 + epsilon**2)
    phi_dot = eps_dot / energy**2
    _, gamma2, _ = rates(epsilon, problem.theta, problem.bath)
    kappa2 = 3.0 * eps_dot**2 * epsilon / energy**6
    return phi_dot, 1.0 / (gamma2 + 1j * energy), kappa2


def _dressed_state(t, r_x, problem):
    """(3, 2) state: populations r_x (2,) plus their adiabatic-following coherence.

    Used where the coherent region starts: it is the state that the slow, decoupled evolution
    from t → −∞ arrives in, free of the oscillation a bare eigenstate start would excite.
    """
    phi_dot, response, kappa2 = _coherence_terms(t, problem)
    c = r_x * (-phi_dot * response + kappa2)
    return jnp.stack([r_x, c.imag, c.real])


def _asymptotic_rx(state, t, problem):
    """r_x after the freely rotating coherence has acted (second order in 1/E)."""
    phi_dot, response, kappa2 = _coherence_terms(t, problem)
    r_x = state[0]
    c = state[2] + 1j * state[1]
    free = c - r_x * (-phi_dot * response + kappa2)
    return r_x + jnp.real(free * (phi_dot * response + kappa2))


def _sinh_times(x0, x1, n, v):
    x = jnp.linspace(x0, x1, n + 1)
    return jnp.sinh(x) / v  # linear drive: ε(t) = v t, ε = sinh(x)


@partial(jax.jit, static_argnames=("n_steps", "n_outer"))
def _propagate(problem: LZProblem, eps_coh, eps_max, n_steps: int, n_outer: int = 256):
    """(P_LZ, P_ES) for one dimensionless problem: populations relax over [−ε_max, −ε_coh],
    full Bloch equations over [−ε_coh, ε_coh] (n_steps), populations again up to ε_max."""
    v = problem.drive.v
    x_coh, x_max = jnp.arcsinh(eps_coh), jnp.arcsinh(jnp.maximum(eps_max, eps_coh))
    r_x = jnp.array([1.0, -1.0], dtype=jnp.result_type(v))  # start in the ground and excited state
    t_in = _sinh_times(-x_max, -x_coh, n_outer, v)
    r_x, _ = jax.lax.scan(lambda c, tp: _relax_step(c, tp, problem), r_x, (t_in[:-1], t_in[1:]))
    t = _sinh_times(-x_coh, x_coh, n_steps, v)
    state = _dressed_state(t[0], r_x, problem)  # (3, 2): (r_x, r_y, r_z) × (ground, excited)
    state, _ = jax.lax.scan(lambda c, tp: _cf4_step(c, tp, problem), state, (t[:-1], t[1:]))
    r_x = _asymptotic_rx(state, t[-1], problem)  # (2,)
    t_out = _sinh_times(x_coh, x_max, n_outer, v)
    r_x, _ = jax.lax.scan(lambda c, tp: _relax_step(c, tp, problem), r_x, (t_out[:-1], t_out[1:]))
    return 0.5 * (1.0 + r_x[0]), 0.5 * (1.0 - r_x[1])


_propagate_batch = jax.jit(
    jax.vmap(_propagate.__wrapped__, in_axes=(0, 0, 0, None, None)), static_argnames=("n_steps", "n_outer")
)


def neqb_probabilities(problem: LZProblem, eps_max, n_steps: int = 2048):
    """Expert call: (P_LZ, P_ES) from the full Bloch equations on a fixed window, no checks.

    `eps_max`: half-width of the bias window in units of Δ (the same dressed start and
    asymptotic read-out as :func:`solve_neqb`). `problem` leaves are scalars (vmap for batches);
    Δ ≠ 1 is rescaled here. Differentiable in every leaf.
    """
    dimless = dimensionless(problem)
    eps = eps_max / problem.drive.delta
    return _propagate(dimless, eps, eps, n_steps)


@partial(jax.tree_util.register_dataclass, data_fields=[
    "P_LZ", "P_ES", "P_LZ_err", "P_ES_err", "eps_max", "t_max", "n_steps", "converged"],
    meta_fields=[])
@dataclasses.dataclass(frozen=True)
class NEQBResult:
    """NEQB probabilities with their convergence record (arrays of the batch shape).

    `P_LZ_err`, `P_ES_err`: error estimates from step doubling plus window enlargement.
    `eps_max`: half-width of the bias window (units of Δ); `t_max` = 2 ε_max / v the protocol
    duration (units of 1/Δ). `converged`: both errors below the requested tolerance.
    """

    P_LZ: Any
    P_ES: Any
    P_LZ_err: Any
    P_ES_err: Any
    eps_max: Any
    t_max: Any
    n_steps: Any
    converged: Any


def check_neqb_validity(problem: LZProblem) -> None:
    """NEQB needs s ≥ 1 at T > 0 (the Markovian dephasing rate diverges for sub-Ohmic baths)."""
    s = np.asarray(problem.bath.s, dtype=float)
    T = np.asarray(problem.bath.T, dtype=float)
    s, T = np.broadcast_arrays(s, T)
    if np.any((s < 1) & (T > 0)):
        raise ValueError(
            "s must be >= 1 for NEQB at T > 0 (accepted: s >= 1, or any s > 0 at T = 0): the "
            "Markovian pure-dephasing rate of Eq. (10) diverges for a sub-Ohmic bath; use QUAPI"
        )


def _run_subset(flat, eps_coh, eps_max, index, n_steps, n_outer, dtype=np.float64):
    """Evaluate the points `index`, padded (power of two, multiple of the device count, to bound
    recompilation) and sharded over all devices along the batch axis, in `dtype`."""
    size = padded_size(len(index))
    padded = np.concatenate([index, np.full(size - len(index), index[0])])
    sub = jax.tree_util.tree_map(lambda a: a[padded].astype(dtype), flat)
    sub, coh, wide = shard_batch((sub, eps_coh[padded].astype(dtype), eps_max[padded].astype(dtype)))
    p_lz, p_es = _propagate_batch(sub, coh, wide, n_steps, n_outer)
    return np.asarray(p_lz)[: len(index)], np.asarray(p_es)[: len(index)]


def solve_neqb(
    problem: LZProblem,
    *,
    tol: float = 1e-6,
    n_steps: int = 512,
    max_steps: int = 32768,
    n_outer: int = 256,
    eps_max=None,
    precision: str = "float64",
    progress: bool = False,
) -> NEQBResult:
    """Landau-Zener and excited-state survival probabilities from the NEQB, converged.

    **Arguments:**
    - `problem`: an :class:`LZProblem`; its leaves may be arrays (broadcast together), which
      are evaluated as one batch (`vmap`, one compiled call per refinement level).
    - `tol`: target absolute accuracy of P_LZ and P_ES (accepted: 1e-12 ≤ tol ≤ 1e-2).
    - `n_steps`: initial number of steps in the coherent region; doubled, for the points that
      need it only, until the change is below tol/2 or `max_steps` is reached.
    - `n_outer`: steps of each population-only tail region.
    - `eps_max`: fixed half-width of the bias window (units of Δ): the full Bloch equations on
      [−ε_max, ε_max] with no window check (for comparisons at equal windows).
    - `precision`: "float64" (default) or "float32", an opt-in fast path whose rounding error
      (measured ~1e-4 absolute, see tests/test_neqb.py) exceeds small tolerances: use it with
      tol ≥ 1e-3.
    - `progress`: print one line per refinement level to stderr.

    The error estimate is |P(2N) − P(N)| plus, for automatic windows, the change when both
    window half-widths grow by 1.5×. Points above `tol` return `converged = False`; a point
    whose result is not finite (rates beyond float64) has error ∞ and `converged = False`.
    """
    if not (1e-12 <= tol <= 1e-2):
        raise ValueError(f"tol must be in [1e-12, 1e-2], got {tol!r}")
    if not (isinstance(n_steps, int) and 16 <= n_steps <= max_steps):
        raise ValueError(f"n_steps must be an integer in [16, max_steps={max_steps}], got {n_steps!r}")
    if not (isinstance(n_outer, int) and n_outer >= 16):
        raise ValueError(f"n_outer must be an integer >= 16, got {n_outer!r}")
    if precision not in ("float64", "float32"):
        raise ValueError(f"precision must be 'float64' or 'float32', got {precision!r}")
    dtype = np.float32 if precision == "float32" else np.float64
    check_neqb_validity(problem)
    flat, shape = flatten_problem(dimensionless(problem))
    delta = np.broadcast_to(np.asarray(problem.drive.delta, float), shape).reshape(-1)
    if eps_max is None:
        eps_coh, eps_bath = (np.asarray(a) for a in jax.jit(jax.vmap(partial(window_eps_max, tol=tol)))(
            jax.tree_util.tree_map(jnp.asarray, flat)))
    else:
        fixed = np.asarray(eps_max, dtype=float)
        if np.any(~np.isfinite(fixed)) or np.any(fixed <= 0):
            raise ValueError(f"eps_max must be finite and > 0 (units of delta), got {eps_max!r}")
        eps_coh = eps_bath = np.broadcast_to(fixed, shape).reshape(-1) / delta

    n_points = delta.size
    everything = np.arange(n_points)
    p_lz, p_es = (np.array(a) for a in _run_subset(flat, eps_coh, eps_bath, everything, n_steps, n_outer, dtype))
    err_lz = np.full(n_points, np.inf)
    err_es = np.full(n_points, np.inf)
    steps = np.full(n_points, n_steps)
    active, level = everything, n_steps
    while len(active) and 2 * level <= max_steps:
        level *= 2
        fine_lz, fine_es = _run_subset(flat, eps_coh, eps_bath, active, level, n_outer, dtype)
        err_lz[active] = np.abs(fine_lz - p_lz[active])
        err_es[active] = np.abs(fine_es - p_es[active])
        p_lz[active], p_es[active], steps[active] = fine_lz, fine_es, level
        active = active[np.maximum(err_lz[active], err_es[active]) > 0.5 * tol]
        if progress:
            import sys

            print(f"lzjax neqb: {level} steps, {len(active)}/{n_points} points still refining", file=sys.stderr)
    if eps_max is None:
        for level in np.unique(steps):
            group = everything[steps == level]
            wide_lz, wide_es = _run_subset(flat, 1.5 * eps_coh, 1.5 * eps_bath, group, int(level), n_outer, dtype)
            err_lz[group] += np.abs(wide_lz - p_lz[group])
            err_es[group] += np.abs(wide_es - p_es[group])
    finite = np.isfinite(p_lz) & np.isfinite(p_es)
    err_lz[~finite] = np.inf  # e.g. rates overflowing float64 (huge s): flagged, never silent
    err_es[~finite] = np.inf
    converged = (err_lz <= tol) & (err_es <= tol)
    eps_phys = eps_bath * delta
    v = np.broadcast_to(np.asarray(problem.drive.v, float), shape).reshape(-1)
    result = NEQBResult(
        P_LZ=p_lz, P_ES=p_es, P_LZ_err=err_lz, P_ES_err=err_es,
        eps_max=eps_phys, t_max=2.0 * eps_phys / v, n_steps=steps, converged=converged,
    )
    return jax.tree_util.tree_map(lambda a: np.asarray(a).reshape(shape), result)
