"""Uniform (time-translation-invariant) process tensor of the QUAPI influence functional.

An infinite-TEBD contraction of the discretised influence functional (uniform TEMPO /
iTEBD-TEMPO: Link, Tu & Strunz, PRL 132, 200403 (2024)), built once per bath and step, in
numpy; the propagation is pure jnp (`lax.scan`, jit-able, vmap-able, differentiable).

**Letters.** Every time point t of the infinite chain carries one letter: an interior point
(pair α = 2 i+ + i−, a full slice), a start point (α, half slice), an end point (α, half
slice) or *absent* (a point that does not exist: every factor touching it is 1). The
influence functional of the letter sequence ``absent…, start, interior…, end, absent…`` is
the QUAPI one of :func:`lzjax.quapi.engines.adt.adt_propagate` with memory K (pairs further
than K apart dropped), exactly, because the factors are

    b_Δ(new, old) = exp φ_Δ[new, old],  φ from :func:`pair_log_factor` of
    η_interior[Δ] (interior, interior), η_edge[Δ] (interior, old start) and (new end, interior),
    η_start_end[Δ] (new end, old start), 1 if either is absent; self terms η_interior[0]
    (interior) and η_edge[0] (start, end).

A factor depends on the newer letter only through its *new class* (5: trivial — absent,
start or any diagonal pair x+ = x− —, interior δ = ±1, end δ = ±1, δ = (x+ − x−)/2) and on
the older one only through its *old class* (9: absent, interior α, start α; an end point is
only ever followed by absent points, so it is given the old class "absent").

**Contraction** (from the longest lag down). Each point has two copies, a new-class copy and
an old-class copy, on a chain of alternating sites (two-site unit cell, Vidal form
… λ_r Γ_A λ_m Γ_B λ_r …). Stage Δ = K … 1: on every link where a new copy (left) meets the
old copy of the point Δ steps earlier (right), multiply by the lag-Δ factor and swap the two
legs (one SVD of the (χ·d_old) × (d_new·χ) two-site tensor), truncated by discarded weight
(relative 2-norm ≤ `tol`) and `chi_max`. New copies move right, old copies left, so the lag
falls by one per stage. At Δ = 0 the two copies of one point are adjacent: the cell tensor
evaluated at (new class, old class) of a letter, times its self term, is the process tensor
Q[letter] (χ × χ).

**Boundaries.** Points before t_0 and after t_N are absent: left/right boundary vectors are
the dominant eigenvectors of Q[absent] (l Q = λ l, Q r = λ r, l·r = 1). Without truncation
λ = 1 exactly (the scale of the contraction is kept: each update is a re-factorisation of the
same two-site tensor); Q is divided by λ and |λ − 1| is reported.

**Trace.** The exact functional is 1 for a diagonal newer point, so a diagonal interior/start
letter followed by absent points is the same as an absent one: Q[letter] r = r, which makes
Tr ρ = 1 at every step. Truncation breaks this at the level of the discarded weight; the
defect max |Q r − r| is reported and (by default) removed by the rank-one correction
Q ← Q + (r − Q r) l, which changes Q only on that (already truncated) direction.

**Accuracy per χ** (measured, pure dephasing γ = 0.05, s = 3, T = 0, δt = 0.1, K = N = 30,
shared 2-core CPU): tol 1e-6 / 1e-7 / 3e-8 give χ 99 / 213 / 294 and max |ρ↑↓| error 3.4e-4 /
5.9e-5 / 1.5e-5. The error is a drift linear in the step number (an error of ~1e-5 per step in
the dominant eigenvalue of Q[int, α]), i.e. it accumulates over all N·K truncations. χ stays
≤ 30 down to lag 7 and grows only in the last 3–4 stages (lag 4 … 1: 50, 75, 116, 213 at tol
1e-7); tightening tol at lags > 4 only (to 1e-9) lowers the error just 30 %. Tried, not kept:
rescaling the class legs (weights 0.1 … 3 on the trivial / absent / start classes: error changes
≤ 20 % at equal χ), canonical truncation (`canonical=True`: erratic gain, 50× slower), a final
canonical re-compression of the 13-letter uniform MPS (χ 213 → 93 at equal error, but ~30–80 s
of fixed-point work), `rule="relative"` (error not monotone in χ; no systematic gain). What
helps: memory beyond the run, rolled off (:func:`taper_eta`). At the paper's γ = 5e-3, T = 0,
N = 100: the hard cut K = N gives 1.2e-5 at tol 1e-9 (χ 157, 7 s), K = 2N tapered over N … 2N
gives 3.0e-7 at 1e-11 (χ 147, 0.8 s), with every lag ≤ N exact (tests/test_pt.py).

**Propagation** of N steps: ψ (B, 4, χ) = ρ0[α] (l Q[start, α]); a step mixes the pair index
with the Liouville propagator, ψ[:, α'] ← Σ_α K[α', α] ψ[:, α], then ψ[:, α'] ← ψ[:, α'] Q[int, α']
(four (B, χ) × (χ, χ) products); the last step uses Q[end], and ρ_N[α] = ψ[:, α]·r.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .influence import Eta, pair_log_factor

__all__ = [
    "ProcessTensor",
    "build_process_tensor",
    "build_process_tensor_jvp",
    "mix_pairs",
    "pt_propagate",
    "pt_readout_vectors",
    "taper_eta",
]

# New classes: 0 trivial, 1/2 interior δ = +1/−1, 3/4 end δ = +1/−1.  Pair α = 2 i+ + i−:
# α = 1 is (x+, x−) = (+1, −1) (δ = +1), α = 2 is (−1, +1) (δ = −1), α = 0, 3 diagonal.
_NEW_INTERIOR = np.array([0, 1, 2, 0])
_NEW_END = np.array([0, 3, 4, 0])
_NEW_START = np.zeros(4, dtype=int)
# Old classes: 0 absent, 1 + α interior, 5 + α start; end points → absent (see module doc).
_OLD_INTERIOR = 1 + np.arange(4)
_OLD_START = 5 + np.arange(4)
_OLD_END = np.zeros(4, dtype=int)
_N_NEW, _N_OLD = 5, 9
_DIAGONAL = np.array([0, 3])
_EPS_FLOOR = 1e-15  # singular values below this fraction of the largest are always dropped


class ProcessTensor(NamedTuple):
    """Uniform process tensor (a pytree of arrays; complex128 unless noted).

    - `q_start`, `q_int`, `q_end`: (4, χ, χ) Q[letter] of the start / interior / end point by pair α.
    - `q_absent`: (χ, χ) Q of an absent point (diagnostics only).
    - `left`, `right`: (χ,) boundary vectors, left·right = 1.
    - `memory`: K, the longest lag included (int array, 0-d).
    - `discarded`: largest relative discarded weight (2-norm) of any truncation (float, 0-d).
    - `eig_err`: |λ − 1| of the dominant eigenvalue of Q[absent] before normalisation.
    - `trace_defect`: max |Q[diag letter] r − r| / |r| before the trace correction.
    - `build_s`: wall time of the build (seconds).

    χ is `q_int.shape[-1]` (property `chi`).
    """

    q_start: Any
    q_int: Any
    q_end: Any
    q_absent: Any
    left: Any
    right: Any
    memory: Any
    discarded: Any
    eig_err: Any
    trace_defect: Any
    build_s: Any

    @property
    def chi(self) -> int:
        return int(self.q_int.shape[-1])


def taper_eta(eta: Eta, fraction: float) -> Eta:
    """η with its lags rolled off smoothly to the memory cut: η_Δ w_Δ, w = 1 for Δ ≤ (1 − f)K
    and cos²(π/2 · (Δ − (1 − f)K)/(f K)) above, so w_K = 0 (f = `fraction`, 0 ≤ f ≤ 1; f = 0
    returns `eta`: the hard cut of the ADT). Self terms (Δ = 0) are never changed.

    Why: a hard cut where the lag factors still differ from 1 (at the truncation's tolerance)
    makes the compressed tensor count the lag, χ ~ the number of such lags (measured at the
    Fig. 1 bath, δt = 0.02, tol 1e-9: K = 160 hard χ 170 in 67 s, tapered over its second half
    χ 22 in 0.3 s; K = 320 at tol 1e-10: hard > 200 s, tapered χ 29 in 0.4 s). The taper is a
    change of the memory kernel where it is already small; the ladder's memory partner (twice
    the memory, same taper) measures what it costs."""
    fraction = float(fraction)
    if fraction <= 0.0:
        return eta
    memory = int(np.asarray(eta.interior).shape[-1]) - 1  # leaves (..., K + 1): tangents too
    lag = np.arange(memory + 1, dtype=float)
    start = (1.0 - fraction) * memory
    x = np.clip((lag - start) / (fraction * memory), 0.0, 1.0)
    w = np.where(x < 1.0, np.cos(0.5 * np.pi * x) ** 2, 0.0)  # exactly 0 at the cut (cos² π/2 is 4e-33)
    return Eta(*(np.asarray(e) * w for e in eta))


def _log_offdiag(eta) -> np.ndarray:
    """φ[n, o] (numpy, same formula as :func:`pair_log_factor`) for newer α ∈ {1, 2}: (..., 2, 4).
    Real-linear in η, so the same call on a tangent dη gives dφ."""
    eta = np.asarray(eta, dtype=np.complex128)[..., None, None]
    x_plus, x_minus = np.array([1.0, 1.0, -1.0, -1.0]), np.array([1.0, -1.0, 1.0, -1.0])
    diff = (x_plus - x_minus)[[1, 2], None]
    return -0.25 * diff * (eta * x_plus[None, :] - np.conj(eta) * x_minus[None, :])


def _pair_factor_offdiag(eta) -> np.ndarray:
    """exp φ[n, o] for newer α ∈ {1, 2}: (..., 2, 4)."""
    return np.exp(_log_offdiag(eta))


def _class_table(phi_i, phi_e, phi_se, fill) -> np.ndarray:
    """(..., 5 new classes, 9 old classes) table from the interior / edge / start-end blocks
    (..., 2, 4), `fill` on the trivial entries."""
    g = np.full(phi_i.shape[:-2] + (_N_NEW, _N_OLD), fill, dtype=np.complex128)
    g[..., 1:3, 1:5] = phi_i  # interior newer point with δ = ±1 (α = 1, 2), older interior
    g[..., 1:3, 5:9] = phi_e  # … older start point
    g[..., 3:5, 1:5] = phi_e  # end point as the newer point, older interior
    g[..., 3:5, 5:9] = phi_se  # … older start point
    return g


def _gates(eta: Eta) -> np.ndarray:
    """Lag-Δ factors for Δ = 0 … K as (K + 1, 5 new classes, 9 old classes) complex (Δ = 0 unused)."""
    return _class_table(
        _pair_factor_offdiag(eta.interior), _pair_factor_offdiag(eta.edge), _pair_factor_offdiag(eta.start_end), 1.0
    )


def _gates_tangent(gates: np.ndarray, deta: Eta) -> np.ndarray:
    """d gates for η tangents `deta` (leaves (p, K + 1)): gate · dφ, (p, K + 1, 5, 9)."""
    return gates * _class_table(_log_offdiag(deta.interior), _log_offdiag(deta.edge), _log_offdiag(deta.start_end), 0.0)


def _gate(eta: Eta, lag: int) -> np.ndarray:
    """Lag-Δ factor (Δ ≥ 1) as a (5 new classes, 9 old classes) complex matrix."""
    return _gates(eta)[lag]


def _truncation_rank(
    s: np.ndarray, tol: float, chi_max: int, rule: str = "weight", total: float | None = None
) -> tuple[int, float]:
    """Rank kept of the singular values `s` (descending), and the relative discarded 2-norm.

    rule "weight": smallest rank with relative discarded 2-norm ≤ tol; "relative" (Link et al.):
    keep s_i > tol·s_0. Always s_i > 1e-15 s_0, rank ≤ chi_max. `total` = Σ all s² when `s`
    holds only the leading values (randomised SVD); the discarded norm then includes the rest.
    """
    s2 = s * s
    total = float(np.sum(s2)) if total is None else max(float(total), float(np.sum(s2)))
    if total == 0.0:
        return 1, 0.0
    rest = total - float(np.sum(s2))  # weight of values not in `s`
    tail = np.cumsum(s2[::-1])[::-1] + rest  # tail[i] = Σ_{j ≥ i} s_j²
    if rule == "weight":
        rank = int(np.sum(tail > (tol * tol) * total))
    elif rule == "relative":
        rank = int(np.sum(s > tol * s[0]))
    else:
        raise ValueError(f"rule must be 'weight' or 'relative', got {rule!r}")
    rank = min(rank, int(np.sum(s > _EPS_FLOOR * s[0])), chi_max)
    rank = max(rank, 1)
    discarded = (
        float(np.sqrt(max(tail[rank], 0.0) / total)) if rank < s.size else float(np.sqrt(max(rest, 0.0) / total))
    )
    return rank, discarded


def _svd_truncated(
    m: np.ndarray, tol: float, chi_max: int, rule: str, guess: int, randomized: bool, complete: bool = False
):
    """Truncated SVD of m: (u, s, vh, discarded). Randomised (Halko-Martinsson-Tropp range finder,
    two power iterations, re-orthonormalised) with a sketch of ~1.5·guess + 16 columns, doubled
    until the truncation point lies inside the sketch; full LAPACK gesdd when the sketch would
    exceed half the smaller dimension, when tol = 0, or when `randomized` is off. `complete`:
    append the untruncated (u, s, vh) of a full SVD, or None when the sketch was used."""
    small = min(m.shape)
    k = int(1.5 * guess) + 16
    if randomized and tol > 0.0:
        rng = np.random.default_rng(12345)
        total = float(np.vdot(m, m).real)
        while 2 * k <= small:
            omega = rng.standard_normal((m.shape[1], k)) + 0j
            y, _ = np.linalg.qr(m @ omega)
            for _ in range(2):
                z, _ = np.linalg.qr(m.conj().T @ y)
                y, _ = np.linalg.qr(m @ z)
            ub, s, vh = np.linalg.svd(y.conj().T @ m, full_matrices=False)
            rank, discarded = _truncation_rank(s, tol, chi_max, rule, total)
            # accept if the cut lies well inside the sketch (the last ~third is inaccurate)
            if rank <= (2 * k) // 3:
                out = (y @ ub)[:, :rank], s[:rank], vh[:rank], discarded
                return out + (None,) if complete else out
            k *= 2
    u, s, vh = np.linalg.svd(m, full_matrices=False)
    rank, discarded = _truncation_rank(s, tol, chi_max, rule)
    out = u[:, :rank], s[:rank], vh[:rank], discarded
    return out + ((u, s, vh),) if complete else out


def _product_tangent(spec: str, operands, tangents):
    """Tangent of np.einsum(spec, *operands) (product rule): `tangents[k]` is operand k's
    tangent with a leading direction axis p, or None (constant). Returns (p, ...) or None."""
    terms, output = spec.split("->")
    terms = terms.split(",")
    total = None
    for k, tangent in enumerate(tangents):
        if tangent is None:
            continue
        sub = ",".join("p" + t if j == k else t for j, t in enumerate(terms)) + "->p" + output
        part = np.einsum(sub, *(tangent if j == k else op for j, op in enumerate(operands)), optimize=True)
        total = part if total is None else total + part
    return total


def _svd_tangent(u, s, vh, dm, complete=None):
    """First-order change (du, ds, dvh) of a truncated SVD m ≈ u diag(s) vh (rank r kept) for
    the tangents dm (p, m, n) of m, as JAX's svd JVP: dP = Uᴴ dm V, ds = Re diag dP, rotations
    Ω_ij = F_ij (dP S + S dPᴴ)_ij with F_ij = 1/(s_j² − s_i²) (0 for equal values), the phase
    i Im dP_jj / s_j carried by u (the common phase gauge set to zero), and the parts outside the
    span of U (V) as (1 − U Uᴴ) dm v_j / s_j.

    `complete` = (U, S, Vh) of the full SVD: i runs over all singular triplets, kept and
    discarded, so this is the exact derivative of the rank-r truncation (smooth while
    s_r > s_{r+1}; large where they nearly meet). Without it (randomised sketch) only the kept
    ones: the discarded directions are then reached through (1 − u uᴴ) dm v_j / s_j, exact up to
    O(s_discarded/s_kept), i.e. at the level of the truncation."""
    herm = lambda x: np.swapaxes(x, -1, -2).conj()  # noqa: E731
    big_u, big_s, big_vh = (u, s, vh) if complete is None else complete
    r = s.size
    big_v = big_vh.conj().T
    dmv = dm @ big_v[:, :r]  # (p, m, r)
    dp = big_u.conj().T @ dm @ big_v  # (p, q, q)
    dp_col, dph_col = dp[:, :, :r], herm(dp[:, :r, :])  # columns j < r of dP and dPᴴ
    ds = np.real(np.diagonal(dp[:, :r, :r], axis1=-2, axis2=-1))
    s2 = big_s * big_s
    gap = s2[None, :r] - s2[:, None]  # [i, j] = s_j² − s_i², (q, r)
    f = np.divide(1.0, gap, out=np.zeros_like(gap), where=gap != 0.0)
    omega_u = f * (dp_col * s[None, :] + big_s[:, None] * dph_col)
    idx = np.arange(r)
    omega_u[:, idx, idx] += 1j * np.imag(dp[:, idx, idx]) / s
    omega_v = f * (big_s[:, None] * dp_col + dph_col * s[None, :])
    du = big_u @ omega_u + (dmv - big_u @ dp_col) / s
    dv = big_v @ omega_v + (herm(dm) @ u - big_v @ dph_col) / s
    return du, ds, herm(dv)


def _two_site(s_r, a, s_m, b, gate):
    """np.einsum("a,aib,b,bjc,c,ij->ajic", s_r, a, s_m, b, s_r, gate) as one matrix product (an
    einsum with optimize=True spends more time finding its path than contracting here)."""
    left = (s_r[:, None, None] * a * s_m[None, None, :]).reshape(-1, s_m.size)  # (a i, b)
    right = (b * s_r[None, None, :]).reshape(s_m.size, -1)  # (b, j c)
    theta = (left @ right).reshape(s_r.size, a.shape[1], b.shape[1], s_r.size) * gate[None, :, :, None]
    return theta.transpose(0, 2, 1, 3)


def _update(a, s_m, b, s_r, gate, tol, chi_max, rule="weight", randomized=False, tangent=None):
    """One stage on the A–B links: factor gate[new (A leg), old (B leg)], swap, truncate.

    a (χ_r, d_new, χ_m), s_m (χ_m,), b (χ_m, d_old, χ_r), s_r (χ_r,). Returns (a', s', b', s_r,
    discarded, tangent') with a' (χ_r, d_old, χ') holding the old leg, b' (χ', d_new, χ_r) the new
    leg and s_r rescaled. `tangent`: (da, ds_m, db, ds_r, dgate) with a leading direction axis,
    or None; tangent' the same for (a', s', b', s_r) (:func:`_svd_tangent`, ranks of the primal).
    """
    s_m0, s_r0 = s_m, s_r
    norm = np.linalg.norm(s_r)
    s_m, s_r = s_m * norm, s_r / norm  # keeps λ_r Γ_A λ_m Γ_B invariant
    spec = "a,aib,b,bjc,c,ij->ajic"
    theta = _two_site(s_r, a, s_m, b, gate)
    chi_r, d_old, d_new = s_r.size, b.shape[1], a.shape[1]
    u, s, vh, discarded, *complete = _svd_truncated(
        theta.reshape(chi_r * d_old, d_new * chi_r),
        tol,
        chi_max,
        rule,
        max(s_m.size, s_r.size),
        randomized,
        complete=tangent is not None,
    )
    rank = s.size
    a_new = u.reshape(chi_r, d_old, rank) / s_r[:, None, None]
    b_new = vh.reshape(rank, d_new, chi_r) / s_r[None, None, :]
    if tangent is None:
        return a_new, s, b_new, s_r, discarded, None
    da, ds_m, db, ds_r, dgate = tangent
    dnorm = (ds_r @ s_r0) / norm  # (p,)
    ds_m = ds_m * norm + s_m0[None] * dnorm[:, None]
    ds_r = ds_r / norm - s_r[None] * (dnorm / norm)[:, None]
    dtheta: np.ndarray = _product_tangent(  # pyright: ignore[reportAssignmentType]  # tangents given: not None
        spec, (s_r, a, s_m, b, s_r, gate), (ds_r, da, ds_m, db, ds_r, dgate)
    )
    p = dtheta.shape[0]
    du, ds, dvh = _svd_tangent(u, s, vh, dtheta.reshape(p, chi_r * d_old, d_new * chi_r), complete[0])
    rel = ds_r / s_r[None]  # d ln s_r, (p, χ_r)
    da_new = du.reshape(p, chi_r, d_old, rank) / s_r[None, :, None, None] - a_new[None] * rel[:, :, None, None]
    db_new = dvh.reshape(p, rank, d_new, chi_r) / s_r[None, None, None, :] - b_new[None] * rel[:, None, None, :]
    return a_new, s, b_new, s_r, discarded, (da_new, ds, db_new, ds_r)


def _fixed_point(apply, chi: int):
    """Dominant eigenvector (χ × χ, Hermitian, positive) of a completely positive map `apply`.

    Accuracy matters only for how canonical the gauge is, never for exactness (the gauge
    X (Y X)⁻¹ Y = 1 is inserted exactly), so a loose ARPACK tolerance is used."""
    if chi * chi <= 256:
        basis = np.eye(chi * chi, dtype=np.complex128).reshape(chi * chi, chi, chi)
        mat = np.stack([apply(e).ravel() for e in basis], axis=1)
        w, v = np.linalg.eig(mat)
        x = v[:, int(np.argmax(np.abs(w)))].reshape(chi, chi)
    else:
        from scipy.sparse.linalg import LinearOperator, eigs

        # scipy's annotations miss LinearOperator(shape, matvec=...) (dispatched in __new__) and a float tol
        n = chi * chi
        op = LinearOperator((n, n), dtype=np.complex128, matvec=lambda v: apply(v.reshape(chi, chi)).ravel())  # pyright: ignore[reportCallIssue]
        _, v = eigs(op, k=1, which="LM", v0=np.eye(chi, dtype=np.complex128).ravel(), tol=1e-10)  # pyright: ignore[reportAssignmentType, reportArgumentType]
        x = v[:, 0].reshape(chi, chi)
    x = 0.5 * (x + x.conj().T)
    x = x * np.sign(np.trace(x).real or 1.0)
    w, u = np.linalg.eigh(x)
    w = np.maximum(w, 1e-15 * max(w.max(), 1e-300))
    return w, u


def _canonicalise(a, s_m, b, s_r, tol, chi_max):
    """Bring the uniform two-site chain … λ_r Γ_A λ_m Γ_B λ_r … to Vidal canonical form on both
    bonds (fixed points of the cell transfer matrices, Orús & Vidal, PRB 78, 155117 (2008)) and
    truncate both bonds there. Exact up to the truncation: the product of cells is unchanged.
    Returns (a, s_m, b, s_r, discarded)."""
    cell = np.einsum("x,xib,b,bjy->xijy", s_r, a, s_m, b, optimize=True)
    chi, d_a, d_b = cell.shape[0], cell.shape[1], cell.shape[2]
    m = cell.reshape(chi, d_a * d_b, chi)
    mc = m.conj()
    w_r, u_r = _fixed_point(lambda x: np.tensordot(np.tensordot(m, x, (2, 0)), mc, ([1, 2], [1, 2])), chi)
    w_l, u_l = _fixed_point(lambda x: np.tensordot(mc, np.tensordot(x, m, (1, 0)), ([0, 1], [0, 1])), chi)
    x_r = u_r * np.sqrt(w_r)  # R = X X†
    y_l = np.sqrt(w_l)[:, None] * u_l.conj().T  # L = Y† Y
    u, sig, vh = np.linalg.svd(y_l @ x_r)
    theta = np.einsum("ax,xsy,yb->asb", u.conj().T @ y_l, m, x_r @ vh.conj().T, optimize=True)
    rank, disc_outer = _truncation_rank(sig, tol, chi_max)
    sig, theta = sig[:rank], theta[:rank, :, :rank]
    # θ = Σ Γ Σ with Σ canonical: its SVD between the legs gives the middle bond's Schmidt values
    uu, ss, vv = np.linalg.svd(theta.reshape(rank * d_a, d_b * rank), full_matrices=False)
    mid, disc_mid = _truncation_rank(ss, tol, chi_max)
    a_new = uu[:, :mid].reshape(rank, d_a, mid) / sig[:, None, None]
    b_new = vv[:mid].reshape(mid, d_b, rank) / sig[None, None, :]
    return a_new, ss[:mid], b_new, sig, max(disc_outer, disc_mid)


def _dominant(m: np.ndarray):
    """Dominant eigenvalue and (left, right) eigenvectors of m, normalised left·right = 1."""
    w, vr = np.linalg.eig(m)
    i = int(np.argmax(np.abs(w)))
    wl, vl = np.linalg.eig(m.T)
    j = int(np.argmin(np.abs(wl - w[i])))
    r, left = vr[:, i], vl[:, j]
    r = r / np.linalg.norm(r)
    return w[i], left / (left @ r), r


def _dominant_tangent(m, lam, left, right, dm):
    """(dλ, dleft, dright) of :func:`_dominant` for dm (p, χ, χ), λ simple. Gauge: left·dright =
    dleft·right = 0 (keeps left·right = 1; every result depends on left, right only through
    right ⊗ left). Solved with the deflated matrix m − λ + right ⊗ left, invertible for simple λ."""
    dlam = np.einsum("i,pij,j->p", left, dm, right)
    deflated = m - lam * np.eye(m.shape[0]) + np.outer(right, left)
    rhs_r = dlam[:, None] * right[None] - dm @ right  # (p, χ)
    rhs_l = dlam[:, None] * left[None] - left @ dm
    dright = np.linalg.solve(deflated, rhs_r.T).T
    dleft = np.linalg.solve(deflated.T, rhs_l.T).T
    return dlam, dleft, dright


def build_process_tensor(
    eta: Eta,
    *,
    tol: float = 1e-10,
    chi_max: int = 512,
    enforce_trace: bool = True,
    canonical: bool = False,
    rule: str = "weight",
    svd: str = "auto",
) -> ProcessTensor:
    """Uniform process tensor for the η coefficients `eta` (memory K = len(eta.interior) − 1).

    **Arguments:**

    - `eta`: :class:`lzjax.quapi.influence.Eta` from `eta_coefficients(bath, dt, K)`.
    - `tol`: relative discarded weight (2-norm of the dropped singular values over all of them)
      allowed per truncation; singular values below 1e-15 of the largest are always dropped.
    - `chi_max`: hard cap on the bond dimension.
    - `enforce_trace`: apply the rank-one trace correction (module docstring).
    - `canonical`: restore the Vidal canonical form (transfer-matrix fixed points) after every
      stage and truncate there. Off by default: the plain Vidal update truncates in a
      non-canonical gauge (the gates are not unitary); measured (pure dephasing, K = 30) the
      canonical build reaches a given error with ~2× smaller χ but builds several times slower
      (ARPACK fixed points), so it is an option, not the default.

    - `rule`: "weight" (default, relative discarded 2-norm ≤ tol) or "relative" (Link et al.:
      keep singular values > tol × the largest).
    - `svd`: "full" (LAPACK gesdd of every two-site matrix), "randomized" (range finder with
      an adaptive sketch, see `_svd_truncated`) or "auto" (randomised once the matrix's smaller
      side exceeds 384, i.e. χ ≳ 80; full when tol = 0).

    Runs eagerly in numpy (once per bath and step); returns jnp arrays.
    """
    _check_build(tol, chi_max, rule, svd)
    return _build(eta, None, tol, chi_max, enforce_trace, canonical, rule, svd)[0]


def build_process_tensor_jvp(
    eta: Eta,
    deta: Eta,
    *,
    tol: float = 1e-10,
    chi_max: int = 512,
    enforce_trace: bool = True,
    rule: str = "weight",
    svd: str = "auto",
) -> tuple[ProcessTensor, ProcessTensor]:
    """The process tensor of `eta` and its first-order change along p tangent directions.

    **Arguments:** `eta` and the settings as :func:`build_process_tensor` (`canonical` is not
    supported); `deta`: an :class:`Eta` whose leaves are (p, K + 1) complex tangents dη.

    Returns (pt, dpt): `pt` equal (bitwise) to `build_process_tensor(eta, ...)`; `dpt` a
    :class:`ProcessTensor` whose q_start, q_int, q_end, q_absent, left, right carry a leading
    direction axis p (its diagnostics are zeros). Forward mode through every stage at the ranks
    of the primal build: the gates exactly (d exp φ = exp φ · dφ), each truncated SVD to first
    order (:func:`_svd_tangent`: exact at fixed rank up to the truncation level), the boundary
    eigenvectors in the gauge left·dright = dleft·right = 0 (so q and right ⊗ left, hence every
    contraction left·Q…Q·right, are what the tangent fixes; the bond gauges follow the SVDs) and
    the trace correction. With a randomised SVD (svd "auto" at χ ≳ 80, or "randomized") the
    tangent uses the sketch's singular triplets, accurate to the sketch's accuracy; use
    svd="full" where that matters. Cost: the primal build plus ~p times its products.
    """
    _check_build(tol, chi_max, rule, svd)
    deta = Eta(*(np.asarray(e, dtype=np.complex128) for e in deta))
    if (
        not all(e.ndim == 2 and e.shape == deta.interior.shape for e in deta)
        or deta.interior.shape[1] != np.asarray(eta.interior).shape[0]
    ):
        raise ValueError(
            f"deta leaves must be (p, K + 1) = (p, {np.asarray(eta.interior).shape[0]}), got {[e.shape for e in deta]}"
        )
    return _build(eta, deta, tol, chi_max, enforce_trace, False, rule, svd)  # pyright: ignore[reportReturnType]  # deta given


def _check_build(tol, chi_max, rule, svd) -> None:
    if rule not in ("weight", "relative"):
        raise ValueError(f"rule must be 'weight' or 'relative', got {rule!r}")
    if svd not in ("auto", "full", "randomized"):
        raise ValueError(f"svd must be 'auto', 'full' or 'randomized', got {svd!r}")
    if not (tol >= 0.0):
        raise ValueError(f"tol (relative discarded weight) must be >= 0, got {tol!r}")
    if int(chi_max) < 1:
        raise ValueError(f"chi_max (bond dimension cap) must be >= 1, got {chi_max!r}")


def _build(eta, deta, tol, chi_max, enforce_trace, canonical, rule, svd):
    """(pt, dpt or None): the build of :func:`build_process_tensor`, with the tangent of
    :func:`build_process_tensor_jvp` when `deta` is given (the primal operations are the same)."""
    start_time = time.perf_counter()
    memory = int(np.asarray(eta.interior).shape[0]) - 1
    # Self terms first, as one-leg factors: on the new copy for interior and end points (they
    # depend on δ only), on the old copy for the start point. Without them the partial products
    # exp(−Σ Re η δ_k δ_k') of sign-alternating paths are exponentially large and dominate the
    # norm in which the truncation is done; with them every full path has |factor| ≤ 1.
    self_int = np.exp(np.diagonal(np.asarray(pair_log_factor(np.asarray(eta.interior)[0]))))
    self_half = np.exp(np.diagonal(np.asarray(pair_log_factor(np.asarray(eta.edge)[0]))))
    new_self = np.ones(_N_NEW, dtype=np.complex128)
    new_self[_NEW_INTERIOR] = self_int
    new_self[_NEW_END] = self_half
    old_self = np.ones(_N_OLD, dtype=np.complex128)
    old_self[_OLD_START] = self_half
    a = new_self.reshape(1, _N_NEW, 1)  # new copies
    b = old_self.reshape(1, _N_OLD, 1)  # old copies
    s_m = np.ones(1)
    s_r = np.ones(1)
    worst = 0.0
    gates = _gates(eta)
    tangent = None
    if deta is not None:
        p = deta.interior.shape[0]
        diag = lambda e: np.diagonal(np.asarray(pair_log_factor(e[:, 0])), axis1=-2, axis2=-1)  # noqa: E731
        d_new = np.zeros((p, _N_NEW), dtype=np.complex128)
        d_new[:, _NEW_INTERIOR] = self_int * diag(deta.interior)
        d_new[:, _NEW_END] = self_half * diag(deta.edge)
        d_old = np.zeros((p, _N_OLD), dtype=np.complex128)
        d_old[:, _OLD_START] = self_half * diag(deta.edge)
        dgates = _gates_tangent(gates, deta)  # (p, K + 1, 5, 9)
        tangent = (d_new.reshape(p, 1, _N_NEW, 1), np.zeros((p, 1)), d_old.reshape(p, 1, _N_OLD, 1), np.zeros((p, 1)))
    for lag in range(memory, 0, -1):
        small = min(s_r.size * _N_OLD, s_r.size * _N_NEW)
        randomized = svd == "randomized" or (svd == "auto" and small > 384)
        a_new, s_new, b_new, s_r, discarded, tangent = _update(
            a,
            s_m,
            b,
            s_r,
            gates[lag],
            tol,
            int(chi_max),
            rule,
            randomized,
            None if tangent is None else tangent + (dgates[:, lag],),
        )
        worst = max(worst, discarded)
        # next stage acts on the other link: the new leg (now on b_new) is left of the old leg
        # (a_new) of the next cell.
        a, s_m, b, s_r = b_new, s_r, a_new, s_new
        if tangent is not None:
            da_new, ds_new, db_new, ds_r = tangent
            tangent = (db_new, ds_r, da_new, ds_new)
        if canonical:
            a, s_m, b, s_r, discarded = _canonicalise(a, s_m, b, s_r, tol, int(chi_max))
            worst = max(worst, discarded)
    # Lag 0: cell f[x, i, j, y] = λ_r Γ_A[new i] λ_m Γ_B[old j] of one point (the uniform site).
    cell_spec = "x,xib,b,bjy->xijy"
    cell = np.einsum(cell_spec, s_r, a, s_m, b, optimize=True)

    def letters(cell):
        """(q_int, q_start, q_end, q_absent) of a cell (…, χ, 5, 9, χ)."""
        return (
            np.moveaxis(cell[..., :, _NEW_INTERIOR, _OLD_INTERIOR, :], -2, -3),
            np.moveaxis(cell[..., :, _NEW_START, _OLD_START, :], -2, -3),
            np.moveaxis(cell[..., :, _NEW_END, _OLD_END, :], -2, -3),
            cell[..., :, 0, 0, :],
        )

    q_int, q_start, q_end, q_absent = letters(cell)

    lam, left, right = _dominant(q_absent)
    if tangent is not None:
        da, ds_m, db, ds_r = tangent
        dcell = _product_tangent(cell_spec, (s_r, a, s_m, b), (ds_r, da, ds_m, db))
        dq = list(letters(dcell))  # (p, 4, χ, χ) ×3, (p, χ, χ)
        dlam, dleft, dright = _dominant_tangent(q_absent, lam, left, right, dq[3])
    q_int, q_start, q_end, q_absent = (q / lam for q in (q_int, q_start, q_end, q_absent))
    if tangent is not None:  # d(q/λ) = (dq − (q/λ) dλ)/λ
        dq = [
            (d - q[None] * dlam.reshape((-1,) + (1,) * q.ndim)) / lam
            for d, q in zip(dq, (q_int, q_start, q_end, q_absent), strict=True)
        ]
    defect = 0.0
    for k, q in enumerate((q_int, q_start, q_end)):
        for alpha in _DIAGONAL:
            miss = right - q[alpha] @ right
            defect = max(defect, float(np.linalg.norm(miss)))
            if enforce_trace:
                if tangent is not None:
                    dmiss = dright - dq[k][:, alpha] @ right - dright @ q[alpha].T
                    dq[k][:, alpha] += dmiss[:, :, None] * left[None, None, :] + miss[None, :, None] * dleft[:, None, :]
                q[alpha] += np.outer(miss, left)
    pt = ProcessTensor(
        q_start=jnp.asarray(q_start),
        q_int=jnp.asarray(q_int),
        q_end=jnp.asarray(q_end),
        q_absent=jnp.asarray(q_absent),
        left=jnp.asarray(left),
        right=jnp.asarray(right),
        memory=jnp.asarray(memory),
        discarded=jnp.asarray(worst),
        eig_err=jnp.asarray(float(abs(lam - 1.0))),
        trace_defect=jnp.asarray(defect),
        build_s=jnp.asarray(time.perf_counter() - start_time),
    )
    if tangent is None:
        return pt, None
    zero = jnp.zeros(())
    dpt = ProcessTensor(
        q_start=jnp.asarray(dq[1]),
        q_int=jnp.asarray(dq[0]),
        q_end=jnp.asarray(dq[2]),
        q_absent=jnp.asarray(dq[3]),
        left=jnp.asarray(dleft),
        right=jnp.asarray(dright),
        memory=jnp.asarray(memory),
        discarded=zero,
        eig_err=zero,
        trace_defect=zero,
        build_s=zero,
    )
    return pt, dpt


def pt_readout_vectors(pt: ProcessTensor):
    """Q[end, α] r, (4, χ): ρ[α] = Σ_i φ[α, i] (Q[end, α] r)[i] for the mixed state φ of a last step."""
    return jnp.einsum("aij,j->ai", pt.q_end, pt.right)


def mix_pairs(psi, k):
    """The system step on the pair index: ψ'[b, α', i] = Σ_α K[α', α] ψ[b, α, i], for ψ (B, 4, χ)
    and K (4, 4). Written out (four sums of four scaled vectors), not an einsum: XLA's CPU dot for
    a 4×4 factor costs more than the (B, χ)×(χ, χ) products of the step at the ladder's batch
    sizes (einsum against this form side by side in one script, a 256-step scan of 4 points at
    χ 24: 11.3 → 7.5 µs per step; benchmarks/RESULTS.md, session 11)."""
    rows = [k[n, 0] * psi[:, 0] + k[n, 1] * psi[:, 1] + k[n, 2] * psi[:, 2] + k[n, 3] * psi[:, 3] for n in range(4)]
    return jnp.stack(rows, axis=1)


def pt_propagate(pt: ProcessTensor, k_steps, rho0, *, trace: bool = False):
    """Reduced density matrix after N = k_steps.shape[0] ≥ 1 steps through the process tensor.

    Same meaning as :func:`lzjax.quapi.engines.adt.adt_propagate`: k_steps (N, 4, 4) Liouville step
    propagators [new, old] in the X basis, rho0 (B, 4) vec(ρ) at t_0. Returns ρ_N (B, 4), or
    with `trace` the density matrices at t_1 … t_N, shape (N, B, 4). Memory is the tensor's
    K (pairs further apart dropped) and N may be any length. Pure jnp: jit with `pt` traced,
    vmap over batches of k_steps / rho0, differentiate through k_steps and rho0.
    """
    k_steps = jnp.asarray(k_steps)
    rho0 = jnp.asarray(rho0)
    n = k_steps.shape[0]
    if n < 1:
        raise ValueError(f"number of steps must be >= 1, got {n}")
    end_vectors = pt_readout_vectors(pt)  # (4, χ)
    psi = rho0[:, :, None] * jnp.einsum("i,aij->aj", pt.left, pt.q_start)[None]  # (B, 4, χ)

    def body(psi, k):
        mixed = mix_pairs(psi, k)
        out = jnp.einsum("bni,ni->bn", mixed, end_vectors) if trace else None
        return jnp.einsum("bni,nij->bnj", mixed, pt.q_int), out

    if trace:
        _, outs = jax.lax.scan(body, psi, k_steps)
        return outs
    psi, _ = jax.lax.scan(body, psi, k_steps[:-1])
    return jnp.einsum("bni,ni->bn", mix_pairs(psi, k_steps[-1]), end_vectors)
