"""Convergence ladder of windowed QUAPI: runs described as data, extrapolations and error bars.

A ladder is a set of named :class:`Run`\\ s (time step, memory, window) and one rule that turns
their results into a value and an error bar; any engine of :mod:`lzjax.quapi.engine` runs it
(the engine only sets what "memory" means and checks it). The plain-ADT plan
(:func:`adt_plan`), with K = `budget`, δt and δt' = δt K/(K − 2) (the same memory time τ = K δt):

    fine = (δt, K, ε_q)        coarse = (δt', K − 2, ε_q)       short = (δt, K − 2, ε_q)
    wide = (δt, K − 2, 4ε_q/3)  wide_coarse = (δt', K − 2, 4ε_q/3)

and the rule (:func:`combine`):

* Trotter: Richardson in δt² at fixed τ, P_R = fine + (fine − coarse) δt²/(δt'² − δt²).
* Memory: the truncated bath correlation C(t) ~ t^−(s+1) makes the memory error fall as τ^−p,
  p = clip(s, 1, 3); extrapolated from short → fine (equal δt, memories k < K steps):
  c_mem = (fine − short) k^p/(K^p − k^p). Its uncertainty is the p = 1 extrapolation,
  e_mem = |fine − short| k/(K − k) ≥ |c_mem|: at
  practical memory times the approach is slower than the asymptotic τ^−s (benchmarks/RESULTS.md,
  ACE: at δt = 0.1, s = 3, K = 10 the memory-converged value lies 8.5e-4 below `fine`, where
  c_mem = −2.3e-4 and the p = 1 estimate −8.8e-4).
* Window: the golden-rule tail replaces exact dynamics beyond ε_q; the change of the
  δt-extrapolated value when the window widens, c_win = Rich(wide, wide_coarse) − Rich(short,
  coarse), estimates it. (Un-extrapolated, wide − short is dominated by the Trotter error of the
  added range: the discretised path sees the bath through a box filter, rates × sinc²(E δt/2).)

Value P_R + c_mem; error |P_R − fine| + e_mem + |c_win| (each correction counted in full as its
own uncertainty). Values are clipped to [0, 1] after extrapolation (seen: 1.0007 ± 0.0018); the
error bar keeps the full correction.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from ..checks import check_bool, check_integer, check_number
from ..model import LZProblem, check_problem, dimensionless, flatten_problem
from ..results import Result, make_result
from .engines import get_engine
from .engines.adt import KMAX_RANGE
from .runner import check_influence, check_memory, new_bar, run_batch
from .window import bath_window

__all__ = ["Run", "adt_plan", "richardson", "combine", "converge_quapi", "BATH_WINDOW_TOL"]

#: ∫Γ1 dt beyond the end of the golden-rule tails (:func:`lzjax.quapi.window.bath_window`)
BATH_WINDOW_TOL = 1e-6


@dataclasses.dataclass(frozen=True)
class Run:
    """One ladder run: target time step `dt` (1/Δ), `memory` (steps), window half-width `eps_q` (Δ).

    The run uses N = max(ceil(2 ε_q/(v δt)), memory + 1) steps and the δt = 2 ε_q/(v N) that
    fits the window exactly (:meth:`grid`).
    """

    dt: float
    memory: int
    eps_q: float

    def grid(self, v: float) -> tuple[int, float]:
        """(N, δt) of this run at sweep speed v (dimensionless)."""
        n_steps = max(int(math.ceil(2.0 * self.eps_q / (v * self.dt))), self.memory + 1)
        return n_steps, 2.0 * self.eps_q / (v * n_steps)


def adt_plan(budget: int, dt: float, eps_q: float) -> dict[str, Run]:
    """The five runs of the plain-ADT ladder (module docstring) for K = `budget`."""
    big, small = budget, budget - 2
    coarse_dt, wide = dt * big / small, 4.0 * eps_q / 3.0
    return {"fine": Run(dt, big, eps_q), "coarse": Run(coarse_dt, small, eps_q),
            "short": Run(dt, small, eps_q), "wide": Run(dt, small, wide),
            "wide_coarse": Run(coarse_dt, small, wide)}


def richardson(fine, dt_fine, coarse, dt_coarse):
    """Extrapolation to δt → 0 of a result with a δt² leading error (symmetric Trotter split)."""
    return fine + (fine - coarse) * dt_fine**2 / (dt_coarse**2 - dt_fine**2)


def combine(p: dict, dt: dict, runs: dict[str, Run], s) -> tuple[np.ndarray, np.ndarray]:
    """(value, error) from the results `p[name]` (arrays), actual time steps `dt[name]`, the plan
    `runs` and the spectral exponents `s` (module docstring)."""
    rich = richardson(p["fine"], dt["fine"], p["coarse"], dt["coarse"])
    power = np.clip(s, 1.0, 3.0)
    big, small = runs["fine"].memory, runs["short"].memory  # steps; fine and short share δt
    diff = p["fine"] - p["short"]
    memory = diff * small**power / (big**power - small**power)
    memory_err = np.abs(diff) * small / (big - small)  # the p = 1 extrapolation (≥ |memory|)
    # window: both windows Richardson-extrapolated in δt, so that the Trotter error of the added
    # |ε| range (largest there, E δt up to 2) is not mistaken for a tail error
    window = (richardson(p["wide"], dt["wide"], p["wide_coarse"], dt["wide_coarse"])
              - richardson(p["short"], dt["short"], p["coarse"], dt["coarse"]))
    return rich + memory, np.abs(rich - p["fine"]) + memory_err + np.abs(window)


_bath_windows = jax.jit(jax.vmap(lambda p: bath_window(p, BATH_WINDOW_TOL)))


def converge_quapi(problem: LZProblem, *, tol: float = 1e-3, budget: int = 10, eps_q: float = 15.0,
                   compensate: bool = False, progress: bool = False, engine="adt") -> Result:
    """P_LZ and P_ES by windowed QUAPI with extrapolation in (δt, memory) and error bars.

    **Arguments:**
    - `problem`: an :class:`LZProblem` with the linear drive (leaves may be arrays; points are
      grouped by (v/Δ², ω_c/Δ), each group one vmapped batch).
    - `tol`: target absolute error of P_LZ and P_ES (accepted: 1e-6 ≤ tol ≤ 0.1); it only sets
      the `converged` verdict.
    - `budget`: largest k_max (accepted: integer in [3, 14]); cost ∝ 4^budget per step
      (:func:`lzjax.quapi.estimate_memory_bytes`). The default 10 takes ~12 ms per step (2 initial
      states, busy 2-core CPU).
    - `eps_q`: half-width of the QUAPI window in units of Δ (accepted: 5 ≤ ε_q ≤ 40).
    - `compensate`: η from G(ω)/sinc²(ωδt/2) (:func:`lzjax.quapi.influence.box_compensation`):
      the discretised relaxation rates are then golden-rule exact at O(γ) for E < 3π/(4δt), so
      the δt correction shrinks where relaxation at large E dominates (transversal super-Ohmic
      baths); pure dephasing loses its exactness at finite δt. Opt-in; the ladder is the same.
    - `progress`: one progress bar over all runs of the ladder.
    - `engine`: "adt" (the plain augmented density tensor).

    Method: :mod:`lzjax.quapi.window` (QUAPI over |ε| ≤ ε_q from the dressed adiabatic-following
    state, asymptotic read-out, **golden-rule** population tails over ε_q < |ε| ≤ ε_max, with
    ε_max where ∫Γ1 dt beyond is below 1e-6) and the ladder of this module with
    δt = min(0.1, 0.5/ω_c, 1.5/E(ε_q)). Measured (tests/test_quapi.py): Wubs' point (T = 0,
    γ = 5e-3, s = 3, ω_c = 5, v = 1) and the paper's Fig. 1 points, see there.
    Returns a :class:`lzjax.results.Result` with settings `dt` = δt of the finest run, `kmax` = K;
    `t_max` = 2 ε_max/v (the whole protocol, tails included).
    """
    engine = get_engine(engine)
    check_problem(problem)
    tol = check_number("tol", tol, 1e-6, 0.1)
    budget = check_integer("budget", budget, 3, KMAX_RANGE[1], what="largest kmax")
    compensate = check_bool("compensate", compensate)
    eps_q = check_number("eps_q", eps_q, 5.0, 40.0, unit="units of delta")
    engine.check(budget)
    flat, shape = flatten_problem(problem)
    dimless = dimensionless(flat)
    delta = np.asarray(flat.drive.delta)
    v = np.asarray(dimless.drive.v)
    omega_c = np.asarray(dimless.bath.omega_c)
    eps_max = np.maximum(np.asarray(_bath_windows(dimless)), 2.0 * eps_q)
    keys = np.stack([v, omega_c], axis=1)
    groups = [np.nonzero(np.all(keys == key, axis=1))[0] for key in np.unique(keys, axis=0)]
    for index in groups:  # every memory check before any work
        check_memory(engine, budget, len(index), KMAX_RANGE)
    plans = [adt_plan(budget, min(0.1, 0.5 / float(omega_c[i[0]]), 1.5 / math.sqrt(1.0 + eps_q**2)), eps_q)
             for i in groups]
    for index, plan in zip(groups, plans):  # the coarsest step has the largest influence factors
        run = max(plan.values(), key=lambda r: r.dt)
        dt = run.grid(float(v[index[0]]))[1]
        check_influence(jax.tree_util.tree_map(lambda a: a[index], dimless), np.full(len(index), dt),
                        run.memory, compensate)
    total = sum(run.grid(float(v[i[0]]))[0] for i, plan in zip(groups, plans) for run in plan.values())
    bar = new_bar(total, progress, "QUAPI ladder steps")
    out = np.zeros((2, 2, v.size))  # (value, error) × (LZ, ES) × points
    dt_used = np.zeros(v.size)
    for index, plan in zip(groups, plans):
        group = jax.tree_util.tree_map(lambda a: a[index], dimless)
        results, steps = {}, {}
        for name, run in plan.items():
            n_steps, dt = run.grid(float(v[index[0]]))
            p = run_batch(engine, "window", group, jnp.full(len(index), dt), n_steps, run.memory,
                          eps_max=jnp.asarray(eps_max[index]), compensate=compensate, bar=bar)
            results[name], steps[name] = np.stack([np.asarray(p[0]), np.asarray(p[1])]), dt
        value, err = combine(results, steps, plan, np.asarray(dimless.bath.s)[index])
        out[0][:, index], out[1][:, index] = value, err
        dt_used[index] = steps["fine"]
    if bar is not None:
        bar.close()
    value, err = out
    value = np.clip(value, 0.0, 1.0)  # a probability is reported inside [0, 1]; the bar keeps the correction
    return make_result(P_LZ=value[0], P_ES=value[1], P_LZ_err=err[0], P_ES_err=err[1], tol=tol,
                       eps_max=eps_max * delta, t_max=2.0 * eps_max / v / delta,
                       engine=f"quapi-{engine.name}",
                       settings={"dt": dt_used / delta, "kmax": int(budget)}, shape=shape)
