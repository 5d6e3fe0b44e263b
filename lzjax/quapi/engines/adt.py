"""Augmented density tensor (ADT) iteration of QUAPI with memory k_max (Makri & Makarov 1995).

The state after step k is A_k[α_{k−k_max+1}, …, α_k] (oldest axis first), α = 2 i+ + i− the
forward/backward pair of X eigenstates, times a leading batch axis B (initial states). One step

    A_{k+1}[α_{k−k_max+2} … α_{k+1}] = Σ_{α_{k−k_max+1}} A_k[…] · I[α_{k−k_max+1} … α_{k+1}] · K_{k+1}[α_{k+1}, α_k]

multiplies by the time-independent influence factors and by the 4×4 Liouville propagator of the
step, and sums out the oldest point, in one fused pass. The influence tensor of a new point is a
product of pair factors, I[o_r … o_1, n] = F[n, o_r] · P[o_{r−1} … o_1, n] with F = exp φ_r
(4 × 4) for the oldest pair and P = :func:`influence_tensor` of the r − 1 newer pairs and the
self term, shape (4,)*r: the step stores P only (a quarter of the full (4,)*(k_max+1) tensor)
and writes the contraction over the oldest axis as four fused multiply-adds,

    A_{k+1}[…, n] = (Σ_o A_k[o, …] F[n, o]) · P[…, n] · K[…, n, o_1].

Memory traffic per step (complex128): 16·4^k_max bytes of P read + 2·16·B·4^k_max bytes of A
read and written, (16 + 32 B)·4^k_max bytes; B = 2 for (P_LZ, P_ES): 80·4^k_max bytes
(k_max = 10: 84 MB; the full-tensor step reads 128·4^k_max: measured 16 vs 11.5 ms per step at
k_max = 10, B = 2 on a busy 2-core CPU, results equal to 6e-17).

Edge treatment: the first k_max steps grow the tensor with the start point's half slice
(`Eta.edge` for pairs with point 0); the density matrix at t_k is read out from A_{k−1}
with the half-slice coefficients of the end point (`Eta.edge`, and `Eta.start_end` while the
start point is still inside the memory). Pairs more than k_max steps apart are dropped.
Trace is preserved exactly: every factor is 1 when the newer point is diagonal (x+ = x−).
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from ...checks import check_integer, check_number
from ..influence import Eta, eta_coefficients, influence_tensor, pair_log_factor
from ..plan import Run

__all__ = [
    "adt_start",
    "adt_steps",
    "adt_readout",
    "adt_propagate",
    "factored_influence",
    "advance",
    "advance_factored",
    "ADT",
    "adt_plan",
    "KMAX_RANGE",
    "LOG_FACTOR_LIMIT",
]

#: accepted memory lengths k_max (steps) of the plain ADT; cost and memory ∝ 4^k_max
KMAX_RANGE = (1, 14)
#: largest accepted ln|influence factor| (e^600 ≈ 1e260 leaves room for products along a path)
LOG_FACTOR_LIMIT = 600.0


def advance(a, tensor, k, contract: bool):
    """Append one point: a (B,)+(4,)*r, tensor (4,)*(r+1), k (4, 4) [new, previous]."""
    new = a[..., None] * tensor * k.T  # (B,)+(4,)*(r+1)
    return jnp.sum(new, axis=1) if contract else new


def factored_influence(eta, oldest_eta=None):
    """(F (4 new, 4 oldest), P (4,)*r) of a steady step with r = len(eta) − 1 memory points.

    `oldest_eta` replaces eta[r] in F (the start point's half slice leaving the memory)."""
    r = eta.shape[0] - 1
    oldest = eta[r] if oldest_eta is None else oldest_eta
    return jnp.exp(pair_log_factor(oldest)), influence_tensor(eta[:r])


def advance_factored(a, factors, k):
    """One steady step: a (B,)+(4,)*r, factors from :func:`factored_influence`, k (4, 4)."""
    f, p = factors
    r = a.ndim - 1
    if r == 1:  # the oldest point is also the previous one: A_{k+1}[n] = Σ_o A[o] F[n,o] K[n,o] P[n]
        return jnp.einsum("bo,no->bn", a, f * k) * p
    shape_f = (1,) * (r - 1) + (4,)  # broadcast F[n, o] over the kept axes, n last
    summed = sum(a[:, o, ..., None] * f[:, o].reshape(shape_f) for o in range(4))
    kshape = (1,) * (r - 2) + (4, 4)  # K[n, o_1] as [..., o_1, n]
    return summed * p * k.T.reshape(kshape)


def adt_readout(a, k, eta):
    """Density matrix (B, 4) at the point following `a`, treated as the end of the interval.

    a: (B,)+(4,)*r holding the r points before the end point; k (4, 4) the last step's
    Liouville propagator; eta (r + 1,) end-point coefficients by Δ = 0 … r.
    """
    r = a.ndim - 1
    factors = jnp.exp(pair_log_factor(eta))  # (r+1, 4 new, 4 old)
    factors = factors.at[1].multiply(k)
    out = jnp.einsum("no,bo...->bn...", factors[r], a)
    for delta in range(r - 1, 0, -1):
        out = jnp.einsum("no,bno...->bn...", factors[delta], out)
    return out * jnp.diagonal(factors[0])


def adt_start(k_head, rho0, eta: Eta, kmax: int, *, trace: bool = False):
    """First k_max steps from the start point; returns A_kmax (B,)+(4,)*kmax and, with `trace`,
    the density matrices at t_1 … t_kmax (kmax, B, 4).

    k_head (kmax, 4, 4) Liouville propagators of steps 1 … kmax; rho0 (B, 4) vec(ρ) at t_0 in the
    X basis.
    """
    a = rho0 * jnp.exp(jnp.diagonal(pair_log_factor(eta.edge[0])))  # (B, 4): start self term
    readouts = []
    for step in range(1, kmax + 1):
        if trace:
            tail = jnp.concatenate([eta.edge[:step], eta.start_end[step : step + 1]])
            readouts.append(adt_readout(a, k_head[step - 1], tail))
        if step < kmax:
            grow = influence_tensor(jnp.concatenate([eta.interior[:step], eta.edge[step : step + 1]]))
            a = advance(a, grow, k_head[step - 1], contract=False)
        else:  # the oldest point is the start point: its pair uses the half-slice coefficient
            factors = factored_influence(eta.interior, oldest_eta=eta.edge[kmax])
            a = advance_factored(a, factors, k_head[step - 1])
    return a, (jnp.stack(readouts) if trace else None)


def adt_steps(a, factors, k_seq, eta: Eta | None = None):
    """Steady steps (lax.scan over k_seq (n, 4, 4)); `factors` = factored_influence(eta.interior).
    Returns the new A and, if `eta` is given, the density matrices read out before each step
    (n, B, 4), else None."""

    def body(carry, k):
        out = None if eta is None else adt_readout(carry, k, eta.edge)
        return advance_factored(carry, factors, k), out

    return jax.lax.scan(body, a, k_seq)


def adt_propagate(k_steps, rho0, eta: Eta, kmax: int, *, trace: bool = False):
    """Reduced density matrix after N = k_steps.shape[0] ≥ kmax + 1 steps.

    k_steps (N, 4, 4), rho0 (B, 4) (vec(ρ), X basis). Returns ρ_N (B, 4), or with `trace` the
    density matrices at t_1 … t_N, shape (N, B, 4).
    """
    n = k_steps.shape[0]
    if n < kmax + 1:
        raise ValueError(f"number of steps must be >= kmax + 1 = {kmax + 1}, got {n}")
    a, head = adt_start(k_steps[:kmax], rho0, eta, kmax, trace=trace)
    a, middle = adt_steps(a, factored_influence(eta.interior), k_steps[kmax : n - 1], eta if trace else None)
    final = adt_readout(a, k_steps[n - 1], eta.edge)
    if not trace:
        return final
    return jnp.concatenate([head, middle, final[None]])  # pyright: ignore[reportArgumentType]  # traced: arrays


def adt_plan(budget: int, dt: float, eps_q: float) -> dict[str, Run]:
    """The five runs of the plain-ADT ladder (:mod:`lzjax.quapi.ladder`) for K = `budget`:
    fine (δt, K), coarse (δt' = δt K/(K − 2), K − 2: the same memory time), short (δt, K − 2),
    and the window pair wide / wide_coarse at 4ε_q/3."""
    big, small = budget, budget - 2
    coarse_dt, wide = dt * big / small, 4.0 * eps_q / 3.0
    return {
        "fine": Run(dt, big, eps_q),
        "coarse": Run(coarse_dt, small, eps_q),
        "short": Run(dt, small, eps_q),
        "wide": Run(dt, small, wide),
        "wide_coarse": Run(coarse_dt, small, wide),
    }


@dataclasses.dataclass(frozen=True)
class ADT:
    """The plain augmented density tensor as an engine of :mod:`lzjax.quapi.engine`, configured.

    **Settings** (validated here, once):
    - `budget`: k_max of the ladder's finest run (accepted: integer in [3, 14]; cost and memory
      ∝ 4^budget per step, :meth:`memory_bytes`).
    - `eps_q`: half-width of the exact window (units of Δ; accepted: [5, 40]).

    Run settings: `memory` = k_max (steps, static). Influence per point: η (:class:`Eta`) and the
    factored steady tensor; the state is the ADT A (2,)+(4,)*k_max for the two starts.
    """

    budget: int = 10
    eps_q: float = 15.0

    name: ClassVar[str] = "adt"
    shared_influence: ClassVar[bool] = False  # η is computed per point (each point may have its own bath)
    #: the ladder settings of :func:`lzjax.quapi.converge_quapi` that belong to this engine
    ladder_options: ClassVar[tuple[str, ...]] = ("budget", "eps_q")
    #: whether :func:`lzjax.quapi.solve_quapi` runs it at fixed (dt, kmax, tmax)
    fixed_settings: ClassVar[bool] = True
    #: the result columns a sweep keeps besides P_LZ, P_ES and their errors, in order (the
    #: ladder's and the fixed settings' alike)
    columns: ClassVar[tuple[str, ...]] = ("dt", "kmax", "t_max", "converged")
    #: accepted run memories (k_max), for the memory guard's advice
    memory_range: ClassVar[tuple[int, int]] = KMAX_RANGE
    #: fixed-settings options besides dt, kmax, tmax (:meth:`fixed_memory`): none
    fixed_options: ClassVar[tuple[str, ...]] = ()
    #: whether a fit's model at fixed settings is pure (:func:`lzjax.quapi.quapi_probabilities`
    #: under jax.jit / vmap, derivatives of any order); False: the engine's own eager `fit_model`
    fit_traced: ClassVar[bool] = True

    def __post_init__(self):
        budget = check_integer("budget", self.budget, 3, KMAX_RANGE[1], what="largest kmax")
        object.__setattr__(self, "budget", budget)
        object.__setattr__(self, "eps_q", check_number("eps_q", self.eps_q, 5.0, 40.0, unit="units of delta"))

    @property
    def kernel(self) -> ADT:
        """The configuration-free engine the compiled propagation is cached for."""
        return _KERNEL

    def configured(self, **settings) -> ADT:
        """A copy with ladder `settings` (names of :attr:`ladder_options`) replaced, validated."""
        return dataclasses.replace(self, **settings)

    # -- the convergence ladder ----------------------------------------------------------------
    def group_keys(self, dimless) -> np.ndarray:
        """Points sharing a plan: equal (v, ω_c) — the bath's `frequency_scale` (η is computed per
        point, so baths may mix)."""
        v = np.asarray(dimless.drive.v)
        return np.stack([v, np.broadcast_to(np.asarray(dimless.bath.frequency_scale, dtype=float), v.shape)], axis=1)

    def ladder_plans(self, dimless, groups, tol: float):
        """(plans, merge keys): :func:`adt_plan` per group at δt = min(0.1, 0.5/ω_c, 1.5/E(ε_q))."""
        plans = []
        for index in groups:
            wc = float(np.broadcast_to(np.asarray(dimless.bath.frequency_scale), np.shape(dimless.drive.v))[index[0]])
            plans.append(adt_plan(self.budget, min(0.1, 0.5 / wc, 1.5 / math.sqrt(1.0 + self.eps_q**2)), self.eps_q))
        return plans, None

    def run_influence(self, bath, run: Run, compensate: bool):
        """(shared influence, record) of one ladder run: none (η is per point)."""
        return None, {}

    def run_settings(self, plan: dict[str, Run], info: dict) -> dict[str, float]:
        """Per-batch settings its ladder records (besides dt, ε_q, tails, trace and error parts)."""
        return {}

    def ladder_settings(self, record: dict[str, np.ndarray]) -> dict:
        """The engine's result settings of a ladder from the recorded per-point values."""
        return {"kmax": int(self.budget)}

    # -- fixed settings (a fit's forward model, a trajectory) ---------------------------------
    def fixed_memory(self, dt: float, kmax: int | None = None) -> int:
        """The run memory at fixed settings: `kmax` itself (required; accepted: integer in
        :data:`KMAX_RANGE`); `dt` plays no part (the plain ADT has no memory time)."""
        if kmax is None:
            raise ValueError("kmax (memory length in steps) is required for the plain ADT at fixed settings")
        self.check(kmax)
        return int(kmax)

    def fixed_record(self, memory: int) -> dict:
        """The run settings a fixed-settings result records (:attr:`lzjax.fit.FitResult.engine_options`)."""
        return {"kmax": int(memory)}

    # -- the propagation (per point, pure; see :mod:`lzjax.quapi.engine`) ----------------------
    def check(self, memory, tol=None):
        check_integer("kmax", memory, *KMAX_RANGE)
        if tol is not None:
            raise ValueError("tol (compression tolerance) does not apply to the plain ADT engine")

    def memory_bytes(self, memory: int, batch: int, itemsize: int = 16) -> int:
        """Peak bytes for `batch` points: per point the factored influence tensor 4^kmax plus
        three ADT copies (in, out, one temporary) of 2·4^kmax elements (two starts), i.e.
        7·4^kmax elements. Excludes the O(n_steps) step propagators (256 B/step)."""
        return int(batch) * 7 * 4 ** int(memory) * int(itemsize)

    def head(self, memory: int) -> int:
        return int(memory)

    def head_trace(self, k_head, rho0, influence, memory: int):
        """(state, ρ at t_1 … t_head) of :meth:`start`, for trajectories."""
        return adt_start(k_head, rho0, influence[1], memory, trace=True)

    def influence_limit(self, memory: int) -> tuple[float, str]:
        """(limit, why) of the pair-factor check: float64's range (:data:`LOG_FACTOR_LIMIT`)."""
        return LOG_FACTOR_LIMIT, "beyond float64"

    @staticmethod
    def step_seconds(kmax: int) -> float:
        """Seconds per step of one point on the 2-core CPU, rough: 12 ms at k_max 10, ×4 per unit."""
        return 12e-3 * 4.0 ** (int(kmax) - 10)

    @staticmethod
    def build_seconds(memory=None) -> float:
        """Seconds of host work per bath before a run (size estimates): none, η is per point."""
        return 0.0

    def ladder_cost(self, n_points: int, v_typical: float) -> tuple[float, float]:
        """(seconds, bytes) of a ladder over `n_points`, rough: about four rungs over the exact
        window 2ε_q/v at δt ~ 0.1, each step :meth:`step_seconds` (size estimates)."""
        steps = 2 * self.eps_q / v_typical / 0.1
        return n_points * 4 * steps * self.step_seconds(self.budget), self.memory_bytes(
            self.budget, min(n_points, 4096)
        )

    def chunk_points(self, options: dict) -> int:
        """Points per sweep chunk: what half the free memory holds at the run's k_max."""
        from ..runner import available_memory_bytes

        kmax = int(options.get("kmax", options.get("budget", 10)))
        return int(max(1, min(4096, 0.5 * available_memory_bytes() // self.memory_bytes(kmax, 1))))

    def compile_key(self, memory):
        """kmax itself: the state has 4^kmax entries."""
        return memory

    def influence(self, bath, dt, memory: int, compensate: bool):
        eta = eta_coefficients(bath, dt, memory, compensate)
        return factored_influence(eta.interior), eta

    def start(self, k_head, rho0, influence, memory: int):
        return adt_start(k_head, rho0, influence[1], memory)[0]

    def advance(self, a, steady, k_seq):
        return adt_steps(a, steady, k_seq)[0]

    def steady(self, influence):
        return influence[0]

    def readout(self, a, k_last, influence):
        return adt_readout(a, k_last, influence[1].edge)  # (2, 4): ground / excited start


#: the default configuration, on which every compiled propagation is cached
_KERNEL = ADT()
