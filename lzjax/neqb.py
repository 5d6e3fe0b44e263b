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

from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np

from .adiabatic import CF4_WEIGHTS, GAUSS_NODES, affine_exp, asymptotic_rx, dressed_state, level, relax_step, sinh_march
from .bath import coth_half, polaron_reduction, rates, relaxation_window_energy
from .checks import check_integer, check_number, check_precision
from .model import LZProblem, check_problem, dimensionless, flatten_problem
from .programs import Program
from .results import Result, make_result
from .sharding import gather, padded_size, shard_batch

if TYPE_CHECKING:
    from numpy.typing import DTypeLike

    from .protocols import DrivenSystem

__all__ = [
    "solve_neqb",
    "neqb_probabilities",
    "bloch_coefficients",
    "window_eps_max",
    "cf4_step",
    "KAPPA_MAX",
    "weak_coupling_measure",
]

#: NEQB's validity limit on κ = 1 − Δ_eff/Δ (:func:`lzjax.bath.polaron_reduction`). NEQB is
#: second order in the coupling; its model error grows like κ. Calibrated against Wubs' exact
#: P_LZ (T = 0, Θ = 0) over s ∈ {0.5, 1, 2, 3}, ω_c ∈ {2.5, 5, 10}, γ ∈ [5e-4, 0.2],
#: v ∈ [0.1, 10]: max over v of |P_NEQB − P_exact| = (0.60 … 0.98) κ; against the process
#: tensor at T = 6.4, γ = 0.05 (s = 3, ω_c = 5): 0.17 = 0.46 κ (benchmarks/calibrate_neqb_validity.py).
#: Beyond κ = 0.03 (a model error of up to ~3·10⁻²; the paper's Fig. 2 at T ≳ 3Δ) a point's status is
#: "beyond weak coupling": use the exact engine (`lzjax quapi`). The paper's Fig. 1 bath has κ ≤ 0.017.
KAPPA_MAX = 0.03

#: The window error e(ε) left by a window of half-width ε is estimated from the change
#: |P(1.5ε) − P(ε)| = |e(ε) − e(1.5ε)|. If e falls at least like E^-3 (the slowest tail: the
#: coherent oscillation ~ vΔ/E³ of the read-out), e(ε) ≤ |change| / (1 − 1.5^-3) = 1.42 |change|.
#: Measured at γ = 0 (exact 1 − e^{−π/2v}, v ∈ [1e-3, 1e2]): the true error reaches 1.73× the change
#: where the oscillations of e(ε) and e(1.5ε) partly cancel (v ≈ 15); with this factor and the step
#: term the estimate bounds it everywhere (tests/test_neqb.py).
_WINDOW_FACTOR = 1.0 / (1.0 - 1.5**-3)

# Commutator-free Magnus 4 (two exponentials, Gauss-Legendre nodes c1,2 = 1/2 ∓ √3/6).
_C1, _C2 = GAUSS_NODES
_ALPHA1, _ALPHA2 = CF4_WEIGHTS
# Yoshida's 4th-order composition of the two exact sub-flows (relax, rotate, relax, ...).
_W1 = 1.0 / (2.0 - 2.0 ** (1.0 / 3.0))
_W0 = 1.0 - 2.0 * _W1
_YOSHIDA = (
    ("relax", 0.5 * _W1),
    ("rotate", _W1),
    ("relax", 0.5 * (_W0 + _W1)),
    ("rotate", _W0),
    ("relax", 0.5 * (_W0 + _W1)),
    ("rotate", _W1),
    ("relax", 0.5 * _W1),
)


def bloch_coefficients(t, problem: LZProblem):
    """(E, φ', Γ1, Γ2, Γ1 tanh(E/2T)) of the NEQB at time t (units Δ = 1), stacked (5,)."""
    epsilon, energy, phi_dot = level(t, problem.drive)
    gamma1, gamma2, _ = rates(epsilon, problem.theta, problem.bath)
    return jnp.stack([energy, phi_dot, gamma1, gamma2, gamma1 / coth_half(energy, problem.bath.T)])


def weak_coupling_measure(bath) -> np.ndarray:
    """κ of every point of a flat, dimensionless `bath` (numpy arrays; computed once per distinct
    bath, so a sweep over v costs one quadrature per bath)."""
    flat, treedef = jax.tree_util.tree_flatten(bath)
    leaves = [np.broadcast_to(np.asarray(a, float), np.shape(flat[0])) for a in flat]
    rows = np.stack([np.ravel(a) for a in np.broadcast_arrays(*leaves)], axis=1)
    unique, inverse = np.unique(rows, axis=0, return_inverse=True)
    kappa = np.asarray(polaron_reduction(jax.tree_util.tree_unflatten(treedef, list(unique.T))))
    return kappa[np.ravel(inverse)]


def window_eps_max(problem: LZProblem | DrivenSystem, tol):
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


def _relax_part(state, c, tau):
    """Exact flow of the damping part over τ: r_x → r_st-relaxation at Γ1, r_y, r_z decay at Γ2."""
    _, _, gamma1, gamma2, source = c
    decay, shift = affine_exp(-gamma1 * tau, source * tau)
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
    return jnp.stack(
        [
            x * cos + ny * z * sin + nx * along,
            y * cos - nx * z * sin + ny * along,
            z * cos + (nx * y - ny * x) * sin,
        ]
    )


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


def cf4_step(state, t_pair, problem):
    """One commutator-free Magnus-4 NEQB step, (state (3, B), (t0, t1), problem) -> (state, None).

    `state`: the Bloch vectors (3, B); `problem`: any problem-like pytree with `.drive` (epsilon,
    depsilon), `.bath`, `.theta` (used by :mod:`lzjax.dynamics`).
    """
    t0, t1 = t_pair
    h = t1 - t0
    c1 = bloch_coefficients(t0 + _C1 * h, problem)
    c2 = bloch_coefficients(t0 + _C2 * h, problem)
    state = _frozen_flow(state, _ALPHA1 * c1 + _ALPHA2 * c2, h)
    state = _frozen_flow(state, _ALPHA2 * c1 + _ALPHA1 * c2, h)
    return state, None


def _propagate_core(problem: LZProblem, eps_coh, eps_max, n_steps, n_outer=256):
    """(P_LZ, P_ES) for one dimensionless problem: populations relax over [−ε_max, −ε_coh],
    full Bloch equations over [−ε_coh, ε_coh] (n_steps), populations again up to ε_max.
    `n_steps`, `n_outer`: Python ints (differentiable) or traced integers (see :func:`sinh_march`)."""
    v = problem.drive.v
    x_coh, x_max = jnp.arcsinh(eps_coh), jnp.arcsinh(jnp.maximum(eps_max, eps_coh))
    r_x = jnp.array([1.0, -1.0], dtype=jnp.result_type(v))  # start in the ground and excited state
    r_x = sinh_march(lambda c, tp: relax_step(c, tp, problem), r_x, -x_max, -x_coh, n_outer, v)
    state = dressed_state(jnp.sinh(-x_coh) / v, r_x, problem)  # (3, 2): (r_x, r_y, r_z) × (ground, excited)
    state = sinh_march(lambda c, tp: cf4_step(c, tp, problem), state, -x_coh, x_coh, n_steps, v)
    r_x = asymptotic_rx(state, jnp.sinh(x_coh) / v, problem)  # (2,)
    r_x = sinh_march(lambda c, tp: relax_step(c, tp, problem), r_x, x_coh, x_max, n_outer, v)
    return 0.5 * (1.0 + r_x[0]), 0.5 * (1.0 - r_x[1])


_propagate = jax.jit(_propagate_core, static_argnames=("n_steps", "n_outer"))

_windows = Program("neqb.windows", jax.vmap(window_eps_max, in_axes=(0, None)))  # (ε_coh, ε_max) per point

#: the batch solver's program: step counts are arguments (int32), so one compile per batch size
#: and precision serves every refinement level and the window check
_propagate_batch = Program("neqb.propagate_batch", jax.vmap(_propagate_core, in_axes=(0, 0, 0, None, None)))


def neqb_probabilities(problem: LZProblem, eps_max, n_steps: int = 2048):
    """Expert call: (P_LZ, P_ES) from the full Bloch equations on a fixed window, no checks.

    `eps_max`: half-width of the bias window in units of Δ (the same dressed start and
    asymptotic read-out as :func:`solve_neqb`). `problem` leaves are scalars (vmap for batches);
    Δ ≠ 1 is rescaled here. Differentiable in every leaf.
    """
    dimless = dimensionless(problem)
    eps = eps_max / problem.drive.delta
    return _propagate(dimless, eps, eps, n_steps)


def check_neqb_validity(problem: LZProblem | DrivenSystem) -> None:
    """NEQB needs s ≥ 1 at T > 0 (the Markovian dephasing rate diverges for sub-Ohmic baths;
    for any bath its `low_frequency_exponent`)."""
    s = np.asarray(problem.bath.low_frequency_exponent, dtype=float)
    T = np.asarray(problem.bath.T, dtype=float)
    s, T = np.broadcast_arrays(s, T)
    if np.any((s < 1) & (T > 0)):
        raise ValueError(
            "s must be >= 1 for NEQB at T > 0 (accepted: s >= 1, or any s > 0 at T = 0): the "
            "Markovian pure-dephasing rate of Eq. (10) diverges for a sub-Ohmic bath; use QUAPI"
        )


def _run_subset(flat, eps_coh, eps_max, index, n_steps, n_outer, dtype: DTypeLike = np.float64):
    """Evaluate the points `index`, padded and sharded over all devices along the batch axis, in
    `dtype`. Padded to a power of two and a multiple of the device count, and up to 64 points to
    a power of four (1, 4, 16, 64): refinement shrinks the batch, and small batches are
    compile-bound (each batch size is a program, ~2 s to compile; a step of 16 points took 25 µs,
    of 64 points 68 µs, on the shared 2-core CPU)."""
    n = small = len(index)
    if n <= 64:
        small = 1
        while small < n:
            small *= 4
    size = padded_size(small)
    padded = np.concatenate([index, np.full(size - len(index), index[0])])
    sub = jax.tree_util.tree_map(lambda a: a[padded].astype(dtype), flat)
    sub, coh, wide = shard_batch((sub, eps_coh[padded].astype(dtype), eps_max[padded].astype(dtype)))
    p_lz, p_es = _propagate_batch(sub, coh, wide, np.int32(n_steps), np.int32(n_outer))
    return gather(p_lz)[: len(index)], gather(p_es)[: len(index)]


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
) -> Result:
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

    Returns a :class:`lzjax.results.Result` (engine "neqb", settings `n_steps`). The error
    estimate is |P(N) − P(N/2)| plus, for automatic windows, the change when both window
    half-widths grow by 1.5× (that wider run uses 2N steps, so that it is finer than the
    result it checks), times 1.42: the bound on the window error if it falls like E^-3 or faster.
    Points above `tol` return `converged = False`; a point whose
    result is not finite (rates beyond float64) has error ∞ and status "not finite".
    Settings `kappa`: NEQB's validity measure κ (:func:`lzjax.bath.polaron_reduction`; its
    model error grows like κ); beyond :data:`KAPPA_MAX` the status is "beyond weak coupling"
    and `converged` False (the numbers are kept: the numerics converged, the model does not hold).
    """
    tol = check_number("tol", tol, 1e-12, 1e-2)
    max_steps = check_integer("max_steps", max_steps, 16)
    n_steps = check_integer("n_steps", n_steps, 16, max_steps)
    n_outer = check_integer("n_outer", n_outer, 16)
    dtype = check_precision(precision)
    check_problem(problem)
    check_neqb_validity(problem)
    flat, shape = flatten_problem(dimensionless(problem))
    delta = np.broadcast_to(np.asarray(problem.drive.delta, float), shape).reshape(-1)
    if eps_max is None:
        eps_coh, eps_bath = (np.asarray(a) for a in _windows(jax.tree_util.tree_map(jnp.asarray, flat), tol))
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
        # The widened window is run with twice the steps: at the same N its sinh grid is coarser
        # (and reaches larger E·δt at the edges), so the comparison would measure the wide run's
        # own, unrefined step error — 1e-6 where the base run is exact to 1e-8 (v ≈ 1, issue 23
        # item 3). With 2N steps the wide run is the more accurate of the two in steps and window,
        # so |P_wide(2N) − P(N)| estimates the window error plus the base run's step error.
        for level in np.unique(steps):
            group = everything[steps == level]
            wide_lz, wide_es = _run_subset(
                flat, 1.5 * eps_coh, 1.5 * eps_bath, group, 2 * int(level), 2 * n_outer, dtype
            )
            err_lz[group] += _WINDOW_FACTOR * np.abs(wide_lz - p_lz[group])
            err_es[group] += _WINDOW_FACTOR * np.abs(wide_es - p_es[group])
    eps_phys = eps_bath * delta
    kappa = weak_coupling_measure(jax.tree_util.tree_map(np.asarray, flat.bath))
    v = np.broadcast_to(np.asarray(problem.drive.v, float), shape).reshape(-1)
    # a point whose result is not finite (e.g. rates overflowing float64) is flagged, never silent
    return make_result(
        P_LZ=p_lz,
        P_ES=p_es,
        P_LZ_err=err_lz,
        P_ES_err=err_es,
        tol=tol,
        eps_max=eps_phys,
        t_max=2.0 * eps_phys / v,
        engine="neqb",
        settings={"n_steps": steps, "kappa": kappa},
        shape=shape,
        beyond=kappa > KAPPA_MAX,
    )
