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

The process-tensor plan (:func:`pt_plan`) uses the same rule with a *longer* memory partner,
long = (δt, 2K): c_mem = (fine − long) k^p/(K^p − k^p) with k = 2K (the correction from K to ∞),
e_mem = 2 |fine − long|; its window pair keeps the fine memory, and a fourth part, the
compression error |loose − fine| (`loose` at 10× the truncation), is added to the bar. When the
default window leaves the golden-rule tails less than tol/10 of ∫Γ1 dt, the window runs are left
out and that share itself is the window error (the tails cannot move a population by more).

Value P_R + c_mem; error |P_R − fine| + e_mem + |c_win| (each correction counted in full as its
own uncertainty). A value outside [0, 1] by less than its error bar is clipped to [0, 1] after
extrapolation (seen: 1.0007 ± 0.0018; the bar keeps the full correction); by more, the point is
"unphysical" (:func:`lzjax.results.classify`).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..checks import check_bool, check_integer, check_number
from ..model import LZProblem, check_problem, dimensionless, flatten_problem
from ..results import Result, make_result
from .engines import select_engine
from .engines.adt import KMAX_RANGE
from .engines.pt import check_pt_tol
from .runner import check_influence, check_memory, new_bar, padded_steps, run_batch, step_bucket
from .window import bath_window, tail_weight

__all__ = ["Run", "adt_plan", "pt_plan", "pt_tol_default", "richardson", "combine", "converge_quapi",
           "BATH_WINDOW_TOL"]

#: ∫Γ1 dt beyond the end of the golden-rule tails (:func:`lzjax.quapi.window.bath_window`)
BATH_WINDOW_TOL = 1e-6


@dataclasses.dataclass(frozen=True)
class Run:
    """One ladder run: target time step `dt` (1/Δ), engine `memory` setting (k_max steps for the
    ADT, :class:`lzjax.quapi.engines.pt.PTSettings` for the process tensor), window half-width
    `eps_q` (Δ). With `fixed_dt` (shared-influence engines: one tensor per bath and δt for every
    sweep speed) the run keeps δt and widens ε_q to v N δt/2; otherwise it keeps ε_q and uses
    δt = 2 ε_q/(v N) (:meth:`grid`).
    """

    dt: float
    memory: Any
    eps_q: float
    fixed_dt: bool = False

    @property
    def steps(self) -> int:
        """The memory in steps."""
        return int(getattr(self.memory, "kmax", self.memory))

    def grid(self, v: float) -> tuple[int, float]:
        """(N, δt) of this run at sweep speed v (dimensionless)."""
        lowest = 1 if self.fixed_dt else self.steps + 1
        n_steps = max(int(math.ceil(2.0 * self.eps_q / (v * self.dt))), lowest)
        return n_steps, (self.dt if self.fixed_dt else 2.0 * self.eps_q / (v * n_steps))


def adt_plan(budget: int, dt: float, eps_q: float) -> dict[str, Run]:
    """The five runs of the plain-ADT ladder (module docstring) for K = `budget`."""
    big, small = budget, budget - 2
    coarse_dt, wide = dt * big / small, 4.0 * eps_q / 3.0
    return {"fine": Run(dt, big, eps_q), "coarse": Run(coarse_dt, small, eps_q),
            "short": Run(dt, small, eps_q), "wide": Run(dt, small, wide),
            "wide_coarse": Run(coarse_dt, small, wide)}


#: δt'/δt of the process-tensor ladder's Richardson partner
PT_DT_RATIO = 1.25
#: fraction of the memory over which the process-tensor ladder rolls the lag couplings off
PT_TAPER = 0.5


def pt_plan(dt: float, memory_time: float, eps_q: float, tol: float, chi_max: int,
            window_runs: bool = True) -> dict[str, Run]:
    """The six runs of the process-tensor ladder: memory τ = `memory_time` (1/Δ) at both steps,
    K = round(τ/δt); `long` doubles the memory; `loose` repeats `fine` at 10× the truncation
    `tol` (the compression error); δt' = 1.25 δt; one tensor per (bath, δt, settings). Without
    `window_runs` (the tails carry less than the error bar) the two window runs are left out and
    the tails' share of ∫Γ1 dt is the window error (:func:`combine`).

    The lag couplings roll off over the last half of the memory (`PT_TAPER`,
    :func:`lzjax.quapi.process_tensor.taper_eta`): a hard cut where they are not yet negligible
    at the truncation tolerance makes the compression count the lag (χ ~ K, minutes per build).
    The memory partner is longer, not shorter (as the ADT's): lags beyond the kernel's reach leave
    χ unchanged and cost ~0.2 ms each, so the partner costs one cheap build."""
    from .engines.pt import PTSettings

    coarse = dt * PT_DT_RATIO
    k_fine, k_coarse = max(2, round(memory_time / dt)), max(2, round(memory_time / coarse))
    fine, coarse_m = (PTSettings(k, tol, chi_max, PT_TAPER) for k in (k_fine, k_coarse))
    wide = 4.0 * eps_q / 3.0
    plan = {"fine": Run(dt, fine, eps_q, True), "coarse": Run(coarse, coarse_m, eps_q, True),
            "long": Run(dt, fine._replace(kmax=2 * k_fine), eps_q, True),
            "loose": Run(dt, fine._replace(tol=10.0 * tol), eps_q, True)}
    if window_runs:
        plan.update(wide=Run(dt, fine, wide, True), wide_coarse=Run(coarse, coarse_m, wide, True))
    return plan


def richardson(fine, dt_fine, coarse, dt_coarse):
    """Extrapolation to δt → 0 of a result with a δt² leading error (symmetric Trotter split)."""
    return fine + (fine - coarse) * dt_fine**2 / (dt_coarse**2 - dt_fine**2)


def combine(p: dict, dt: dict, runs: dict[str, Run], s, parts: dict | None = None, tail=None):
    """(value, error) from the results `p[name]` (arrays), actual time steps `dt[name]`, the plan
    `runs` and the spectral exponents `s` (module docstring). With a dict `parts`, the four
    contributions to the error bar are stored in it ("dt", "memory", "window", "compression").
    A plan without window runs takes `tail` (∫Γ1 dt left to the golden-rule tails, per point)
    as its window error: the tails cannot move a population by more than they relax."""
    rich = richardson(p["fine"], dt["fine"], p["coarse"], dt["coarse"])
    power = np.clip(s, 1.0, 3.0)
    other = "short" if "short" in p else "long"  # the memory partner of fine (same δt)
    base, k = runs["fine"].steps, runs[other].steps
    diff = p["fine"] - p[other]
    memory = diff * k**power / (base**power - k**power)  # P(K → ∞) − P(K = base) for ∝ K^−p
    memory_err = np.abs(diff) * k / abs(base - k)  # the p = 1 extrapolation (≥ |memory|)
    # window: both windows Richardson-extrapolated in δt, so that the Trotter error of the added
    # |ε| range (largest there, E δt up to 2) is not mistaken for a tail error
    if "loose" in p:  # compression plans: the window pair shares the fine runs' memory
        window = (richardson(p["wide"], dt["wide"], p["wide_coarse"], dt["wide_coarse"]) - rich
                  if "wide" in p else np.broadcast_to(np.asarray(tail, dtype=float), rich.shape))
        compression = np.abs(p["loose"] - p["fine"])
    else:
        window = (richardson(p["wide"], dt["wide"], p["wide_coarse"], dt["wide_coarse"])
                  - richardson(p["short"], dt["short"], p["coarse"], dt["coarse"]))
        compression = np.zeros_like(rich)
    if parts is not None:
        parts.update(dt=np.abs(rich - p["fine"]), memory=memory_err, window=np.abs(window),
                     compression=compression)
    return rich + memory, np.abs(rich - p["fine"]) + memory_err + np.abs(window) + compression


_bath_windows = jax.jit(jax.vmap(lambda p: bath_window(p, BATH_WINDOW_TOL)))


#: candidate exact-window half-widths of the process-tensor ladder (units Δ)
PT_WINDOWS = (15.0, 20.0, 30.0, 40.0, 60.0, 80.0, 100.0)


def pt_tol_default(tol: float, n_steps: int = 6000) -> float:
    """The process-tensor truncation for a target error `tol` over `n_steps` propagation steps:
    6e-3·tol/n_steps, clipped to [1e-12, 1e-8] (1e-10 at tol = 1e-4 and the Fig. 1 point's 6,000).

    The compression error is a drift linear in the step number (module doc of
    :mod:`lzjax.quapi.process_tensor`), so the truncation scales with 1/N. Measured: at the Fig. 1
    point the compression part of the bar is ~2e-4 / 7e-5 / ≲1e-6 at 1e-8 / 1e-9 / 1e-10; at
    Θ = π/2, γ = 5e-5, v = 0.01 (1.7·10⁶ steps) 1e-8 gave 2.3e-2."""
    return float(min(1e-8, max(1e-12, 6e-3 * float(tol) / max(int(n_steps), 1))))


def _pt_eps_q(dimless, index, tail_tol: float) -> float:
    """The smallest ε_q of :data:`PT_WINDOWS` whose golden-rule tails carry less than `tail_tol`
    of ∫Γ1 dt at every point of the group (the largest if none does)."""
    group = jax.tree_util.tree_map(lambda a: a[index], dimless)
    for eq in PT_WINDOWS:
        if float(np.max(np.asarray(_tail_weights(group, eq)))) < tail_tol:
            return eq
    return PT_WINDOWS[-1]


_tail_weights = jax.jit(jax.vmap(tail_weight, in_axes=(0, None)))
_tail_weights_each = jax.jit(jax.vmap(tail_weight))


def _merge(groups, plans, baths=None):
    """Groups (per sweep speed) with the same plan (and, for a shared-influence engine, the same
    bath) merged into one batch: [(index, plan)], in order of first appearance."""
    merged = {}
    for n, (index, plan) in enumerate(zip(groups, plans)):
        key = (tuple(plan.items()), None if baths is None else baths[n])
        merged.setdefault(key, (plan, []))[1].append(index)
    return [(np.concatenate(parts), plan) for plan, parts in merged.values()]


def _grids(run: Run, v) -> tuple[np.ndarray, np.ndarray]:
    """(step counts, time steps) of `run` at each sweep speed of `v`."""
    pairs = [run.grid(float(x)) for x in v]
    return np.array([p[0] for p in pairs], dtype=np.int64), np.array([p[1] for p in pairs])


def _parts(n_steps) -> list[np.ndarray]:
    """Index sets of the points that run in one call: on a CPU the points of one step bucket
    (:func:`lzjax.quapi.runner.step_bucket`: at most 1/8 of held steps; the step rate does not
    grow with the batch there); on an accelerator all of them (one wide batch)."""
    n_steps = np.asarray(n_steps)
    if jax.default_backend() != "cpu":
        return [np.arange(n_steps.size)]
    buckets = np.array([step_bucket(int(x)) for x in n_steps])
    return [np.flatnonzero(buckets == b) for b in np.unique(buckets)]


def converge_quapi(problem: LZProblem, *, tol: float = 1e-3, budget: int | None = None,
                   eps_q: float | None = None, compensate: bool = False, progress: bool = False,
                   engine=None, dt: float | None = None, memory: float | None = None,
                   pt_tol: float | None = None, chi_max: int | None = None) -> Result:
    """P_LZ and P_ES by windowed QUAPI with extrapolation in (δt, memory) and error bars.

    **Arguments:**
    - `problem`: an :class:`LZProblem` with the linear drive (leaves may be arrays; points are
      grouped by (v/Δ², ω_c/Δ) for the ADT and by (v, bath) for the process tensor, each group
      one vmapped batch; Θ never splits a group).
    - `tol`: target absolute error of P_LZ and P_ES (accepted: 1e-6 ≤ tol ≤ 0.1); it sets the
      `converged` verdict (and, for the process tensor, the default window).
    - `engine`: "pt" (process tensor, the default) or "adt" (plain augmented density tensor; the
      default when `budget`, the ADT's memory, is given). Measured at the paper's Fig. 1 point
      (benchmarks/RESULTS.md): the process tensor reaches ±3e-6 where the ADT ladder stops at
      ±5e-4, in a fraction of its time.
    - `budget` (ADT): largest k_max (accepted: integer in [3, 14], default 10); cost ∝ 4^budget
      per step (:func:`lzjax.quapi.estimate_memory_bytes`).
    - `eps_q`: half-width of the exact window in units of Δ (accepted: 5 ≤ ε_q ≤ 120; ADT default
      15; process-tensor default: the smallest of 15 … 100 whose golden-rule tails carry less than
      tol/10 of ∫Γ1 dt, :func:`lzjax.quapi.window.tail_weight`).
    - `dt` (PT): Trotter step of the finest run (1/Δ; default min(0.05, 0.25/ω_c, 1.2/E(ε_q)),
      so that the coarse run keeps E δt' ≤ 1.5 below the Nyquist limit π).
    - `memory` (PT): memory time τ (1/Δ; default 6.4): K = round(τ/δt) steps, the lag couplings
      rolled off over the second half (`PT_TAPER`); the error bar holds the change at 2τ.
    - `pt_tol` (PT): relative truncation of the compression (default :func:`pt_tol_default`:
      6e-3·tol/N for the bath's longest run of N steps, within [1e-12, 1e-8]; 1e-10 at the
      Fig. 1 point and tol = 1e-4); `chi_max` (PT):
      bond-dimension cap (default 512).
    - `compensate`: η from G(ω)/sinc²(ωδt/2) (:func:`lzjax.quapi.influence.box_compensation`):
      the discretised relaxation rates are then golden-rule exact at O(γ) for E < 3π/(4δt), so
      the δt correction shrinks where relaxation at large E dominates (transversal super-Ohmic
      baths); pure dephasing loses its exactness at finite δt. Opt-in; the ladder is the same.
    - `progress`: one progress bar over all runs of the ladder.

    Method: :mod:`lzjax.quapi.window` (QUAPI over |ε| ≤ ε_q from the dressed adiabatic-following
    state, asymptotic read-out, **golden-rule** population tails over ε_q < |ε| ≤ ε_max, with
    ε_max where ∫Γ1 dt beyond is below 1e-6) and the ladder of this module (ADT: δt =
    min(0.1, 0.5/ω_c, 1.5/E(ε_q))). |Tr ρ − 1| of every run is added to the error bar.
    Measured (tests/test_quapi.py, tests/test_pt.py): Wubs' point (T = 0, γ = 5e-3, s = 3,
    ω_c = 5, v = 1) and the paper's Fig. 1 points, see there.
    Returns a :class:`lzjax.results.Result` with settings `dt` (finest run), `kmax` (ADT) or
    `memory`, `chi` and `pt_tol` (PT), `eps_q` (the exact window used), `tail` (∫Γ1 dt left to the
    golden-rule tails), `trace_err`, and the parts of the error bar `err_dt`, `err_memory`,
    `err_window`, `err_compression` (each the larger of P_LZ's and P_ES's); `t_max` = 2 ε_max/v
    (the whole protocol, tails included).
    """
    engine = select_engine(engine, budget=budget)
    check_problem(problem)
    tol = check_number("tol", tol, 1e-6, 0.1)
    compensate = check_bool("compensate", compensate)
    shared = engine.shared_influence
    given = {"budget": budget, "dt": dt, "memory": memory, "pt_tol": pt_tol, "chi_max": chi_max}
    wrong = [k for k, x in given.items() if x is not None and k not in engine.ladder_options]
    if wrong:
        raise ValueError(f"{', '.join(wrong)} {'does' if len(wrong) == 1 else 'do'} not apply to engine "
                         f"{engine.name!r} (its ladder settings: {', '.join(engine.ladder_options)})")
    if eps_q is not None:
        eps_q = check_number("eps_q", eps_q, 5.0, 120.0, unit="units of delta")
    if shared:
        dt = None if dt is None else check_number("dt", dt, 1e-3, 0.2, unit="units 1/delta")
        memory = 6.4 if memory is None else check_number("memory", memory, 0.1, 100.0, unit="memory time, units 1/delta")
        pt_tol = None if pt_tol is None else check_pt_tol(pt_tol)
        chi_max = 512 if chi_max is None else check_integer("chi_max", chi_max, 4, 4096)
    else:
        budget = check_integer("budget", 10 if budget is None else budget, 3, KMAX_RANGE[1], what="largest kmax")
        eps_q = 15.0 if eps_q is None else eps_q
        if eps_q > 40.0:
            raise ValueError(f"eps_q must be a number in [5, 40] (units of delta) for the ADT, got {eps_q!r}")
        engine.check(budget)
    flat, shape = flatten_problem(problem)
    dimless = dimensionless(flat)
    delta = np.asarray(flat.drive.delta)
    v = np.asarray(dimless.drive.v)
    b = dimless.bath
    keys = np.stack([v, b.omega_c] + ([b.gamma, b.s, b.T] if shared else []), axis=1)
    groups = [np.nonzero(np.all(keys == key, axis=1))[0] for key in np.unique(keys, axis=0)]
    plans = []
    if shared:
        windows = [eps_q if eps_q is not None else _pt_eps_q(dimless, index, 0.1 * tol) for index in groups]
        small_tail = [float(np.max(np.asarray(_tail_weights(jax.tree_util.tree_map(lambda a: a[index], dimless),
                                                            eq)))) < 0.1 * tol for index, eq in zip(groups, windows)]
        # Nyquist margin: E(ε_q) δt' ≤ 1.5 on the coarse run (E δt < π aliases, DESIGN §3); one δt
        # per bath (the smallest its sweep speeds need), so that every v shares its tensors
        steps = [dt if dt is not None else min(0.05, 0.25 / float(np.asarray(b.omega_c)[index[0]]),
                                               1.5 / (PT_DT_RATIO * math.sqrt(1.0 + eq**2)))
                 for index, eq in zip(groups, windows)]
        bath_of = [tuple(keys[index[0], 1:]) for index in groups]
        finest = {key: min(st for k, st in zip(bath_of, steps) if k == key) for key in bath_of}
        # one truncation per bath, for its slowest sweep (the most steps)
        longest = {key: max(math.ceil(2.0 * eq / (float(v[index[0]]) * finest[key]))
                            for k, eq, index in zip(bath_of, windows, groups) if k == key) for key in finest}
        tols = {key: pt_tol if pt_tol is not None else pt_tol_default(tol, n) for key, n in longest.items()}
        plans = [pt_plan(finest[key], memory, eq, tols[key], chi_max, not small)
                 for key, eq, small in zip(bath_of, windows, small_tail)]
    else:
        for index in groups:
            wc = float(np.asarray(b.omega_c)[index[0]])
            plans.append(adt_plan(budget, min(0.1, 0.5 / wc, 1.5 / math.sqrt(1.0 + eps_q**2)), eps_q))
    batches = _merge(groups, plans, bath_of if shared else None)
    grids = [{name: _grids(run, v[index]) for name, run in plan.items()} for index, plan in batches]
    for (index, plan), grid in zip(batches, grids):  # every check before any work: the largest call
        largest = max(len(part) for n, _ in grid.values() for part in _parts(n))
        check_memory(engine, plan["fine"].memory, largest, None if shared else KMAX_RANGE)
    for index, plan in zip(groups, plans):
        run = max(plan.values(), key=lambda r: r.dt)  # the coarsest step: the largest factors
        check_influence(engine, jax.tree_util.tree_map(lambda a: a[index], dimless),
                        np.full(len(index), run.grid(float(v[index[0]]))[1]), plan["fine"].memory, compensate,
                        steps=max(r.steps for r in plan.values()))
    eps_max = np.array(_bath_windows(dimless))  # raised below to at least 2 ε_q per point
    for index, plan in zip(groups, plans):
        eps_max[index] = np.maximum(eps_max[index], 2.0 * plan["fine"].eps_q)
    total = sum(padded_steps(n[part]) for g in grids for n, _ in g.values() for part in _parts(n))
    bar = new_bar(total, progress, "QUAPI ladder steps")
    out = np.zeros((2, 2, v.size))  # (value, error) × (LZ, ES) × points
    record = {name: np.zeros(v.size) for name in ("dt", "eps_q", "trace_err", "tail", "chi", "memory", "pt_tol",
                                                  "err_dt", "err_memory", "err_window", "err_compression")}
    for (index, plan), grid in zip(batches, grids):
        group = jax.tree_util.tree_map(lambda a: a[index], dimless)
        results, steps, trace = {}, {}, np.zeros(len(index))
        for name, run in plan.items():
            n_steps, step = grid[name]
            tensor = None
            if shared:
                scalar = jax.tree_util.tree_map(lambda a: a[0], group.bath)
                tensor, info = engine.info(scalar, run.dt, run.memory, compensate)
                if name == "fine":
                    record["chi"][index] = info["chi"]
            result = np.zeros((3, len(index)))
            for part in _parts(n_steps):  # points of one step bucket share a call (mixed speeds)
                sub = jax.tree_util.tree_map(lambda a: a[part], group)
                result[:, part] = np.asarray(run_batch(
                    engine, "window", sub, jnp.asarray(step[part]), n_steps[part], run.memory,
                    eps_max=jnp.asarray(eps_max[index][part]), compensate=compensate, shared=tensor, bar=bar))
            results[name], steps[name] = result[:2], step
            trace = np.maximum(trace, result[2])
        record["eps_q"][index] = 0.5 * v[index] * grid["fine"][0] * grid["fine"][1]
        record["tail"][index] = np.asarray(_tail_weights_each(group, record["eps_q"][index]))
        parts = {}
        value, err = combine(results, steps, plan, np.asarray(b.s)[index], parts, record["tail"][index])
        for name, part in parts.items():  # the largest of (LZ, ES) per point
            record[f"err_{name}"][index] = np.max(part, axis=0)
        out[0][:, index], out[1][:, index] = value, err + trace
        record["dt"][index] = steps["fine"]
        record["memory"][index] = plan["fine"].steps
        if shared:
            record["pt_tol"][index] = plan["fine"].memory.tol
        record["trace_err"][index] = trace
    if bar is not None:
        bar.close()
    value, err = out
    settings = {"dt": record["dt"] / delta, "eps_q": record["eps_q"] * delta, "tail": record["tail"],
                "trace_err": record["trace_err"],
                **{k: record[k] for k in ("err_dt", "err_memory", "err_window", "err_compression")}}
    if shared:
        settings.update(memory=record["memory"].astype(int), chi=record["chi"].astype(int), pt_tol=record["pt_tol"])
    else:
        settings["kmax"] = int(budget)
    return make_result(P_LZ=value[0], P_ES=value[1], P_LZ_err=err[0], P_ES_err=err[1], tol=tol,
                       eps_max=eps_max * delta, t_max=2.0 * eps_max / v / delta,
                       engine=f"quapi-{engine.name}", settings=settings, shape=shape, clip=True)
