"""Convergence ladder of windowed QUAPI: runs described as data, extrapolations and error bars.

A ladder is a set of named :class:`lzjax.quapi.plan.Run`\\ s (time step, memory, window) that
the engine plans (``engine.ladder_plans``) and one rule that turns their results into a value and
an error bar, written here once for any engine of :mod:`lzjax.quapi.engine`. The plain-ADT plan
(:func:`lzjax.quapi.engines.adt.adt_plan`), with K = `budget`, δt and δt' = δt K/(K − 2) (the same memory
time τ = K δt):

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
own uncertainty).

The process-tensor plan (:func:`lzjax.quapi.engines.pt.pt_plan`, issue 20) spends where the error
is. Three steps δ_k = δt·1.25^k on the grid 0.05/1.25^j (levels share tensors), a window pair
always, a longer memory partner and a looser truncation:

    fine = (δ_0, K_0, ε_q)   coarse = (δ_1, K_1, ε_q)   coarser = (δ_2, K_2, ε_q)
    wide = (δ_0, K_0, 4ε_q/3)   wide_coarse = (δ_1, K_1, 4ε_q/3)
    long = (δ_1, 2K_1, ε_q)   loose = (δ_2, K_2, ε_q, 10·pt_tol)

and the rule (:func:`_combine_triple`): value Rich(wide, wide_coarse) + c_mem (coarse → long);
δt error |Rich(fine, coarse) − Rich(coarse, coarser)| — the change of the extrapolation one level
coarser, an estimate of its δt⁴ remainder (measured within 1.5× of the true one up to E δt' ≈ 2,
where |Rich − fine| in full overstated it 10–20×); window error f·|Rich(wide, wide_coarse) −
Rich(fine, coarse)| with f = :data:`WINDOW_FACTOR` (a window error falling as slowly as ε_q^−0.8)
or, once the window has been widened and three windows are known, ρ/(1 − ρ) ∈ [1, f] from the
ratio ρ of the last two changes; memory 2|coarse − long|; compression 1.5625·|loose − coarser|.
The first window is, per point, the smallest of 19.19·(4/3)^k (the widest first window whose plan
runs at the coarsest step 0.05) whose tails carry < 30 tol of ∫Γ1 dt (their error is a small
fraction of it, measured 0.2–9 %; not bounded by it: a sub-Ohmic bath showed 6× more, so the pair
always runs); points of one (v, bath) with different windows run different plans, sharing the
tensors of equal steps. Points whose bar exceeds tol are refined, up to
:data:`MAX_REFINEMENTS` times, in the part that dominates (``engine.refine_plan``: the window to
the next of the grid, whose fine and coarse runs are the last wide pair; the step one level
finer, reusing two of the three): runs already done are reused, never repeated.

A value outside [0, 1] by less than its error bar is clipped to [0, 1] after
extrapolation (seen: 1.0007 ± 0.0018; the bar keeps the full correction); by more, the point is
"unphysical" (:func:`lzjax.results.classify`).
"""

from __future__ import annotations

import math

import jax
import numpy as np

from ..checks import MAX_STEPS, check_bool, check_number, check_range
from ..model import LZProblem, check_problem, dimensionless, flatten_problem
from ..programs import Program
from ..results import Result, make_result
from .engines import select_engine
from .plan import Run, tail_weights_each, take
from .runner import batch_bucket, check_influence, check_memory, new_bar, padded_steps, run_batch, step_bucket
from .window import bath_window

__all__ = [
    "richardson",
    "combine",
    "converge_quapi",
    "call_parts",
    "BATH_WINDOW_TOL",
    "LADDER_V_MIN",
    "check_ladder_speed",
    "check_ladder_steps",
    "check_ladder_tol",
    "MIN_WINDOW_STEPS",
    "WINDOW_FACTOR",
    "MAX_REFINEMENTS",
]

#: a three-step plan's window error is at most this many times the change from ε_q to 4ε_q/3: the
#: error falls at least as ε_q^−0.8 (measured against |ε| ≤ 100 over four baths, issue 20: from
#: ε_q^−0.5 locally, sub-Ohmic, to faster than e^(−ε_q/ω_c)); 1/((4/3)^0.8 − 1) = 3.9
WINDOW_FACTOR = 4.0
#: ∫Γ1 dt beyond the end of the golden-rule tails (:func:`lzjax.quapi.window.bath_window`)
BATH_WINDOW_TOL = 1e-6
#: fewest steps the finest run of a ladder may take over its exact window when its δt is fixed (one
#: tensor per bath and δt; a run that keeps ε_q shrinks δt instead): a faster sweep crosses the
#: window in a few steps of δt, and every run then agrees with the others on a wrong value
#: (seen: the process tensor at v = 1e4, δt 0.05, one step: P_LZ 0.999995 "converged", exact 1.6e-4;
#: at v = 30, 20 steps: off by 1.1e-2 with a bar of 9.3e-3; at v = 10, 60 steps, inside its bar; the
#: limit lies between the two)
MIN_WINDOW_STEPS = 32


#: slowest dimensionless sweep speed v/Δ² any ladder can grid: its shortest exact window 2ε_q/v
#: (ε_q ≥ 5) at its coarsest step (δt ≤ 1) must fit :data:`lzjax.checks.MAX_STEPS` steps
LADDER_V_MIN = 2.0 * 5.0 / (1.0 * MAX_STEPS)


def check_ladder_tol(tol) -> float:
    """The ladder's target absolute error `tol`: a number in [1e-6, 0.1]; ValueError naming it."""
    return check_number("tol", tol, 1e-6, 0.1)


def check_ladder_speed(v) -> None:
    """The sweep speeds `v` (dimensionless v/Δ²) of a convergence ladder: finite and in
    [:data:`LADDER_V_MIN`, inf) = [5e-06, inf). Necessary, plan-free (callable before a size
    estimate); the exact bound of a plan, 2ε_q/(δt MAX_STEPS) per run, is
    :func:`check_ladder_steps`. ValueError naming v and the range otherwise."""
    check_range("v (sweep speed v/delta^2 of the convergence ladder)", v, lower=LADDER_V_MIN)


def check_ladder_steps(plan: dict[str, Run], v) -> None:
    """Every run of `plan` grids its exact window 2ε_q/v (`v` dimensionless, the points of the
    plan) in at most :data:`lzjax.checks.MAX_STEPS` steps, i.e. v ≥ 2ε_q/(δt MAX_STEPS) for
    each run: checked before the step counts are formed (no overflow), ValueError naming v."""
    slowest = float(np.min(np.asarray(v, dtype=float)))
    need = max(2.0 * run.eps_q / (run.dt * MAX_STEPS) for run in plan.values())
    if not slowest >= need:
        raise ValueError(
            f"v (sweep speed v/delta^2) must be >= {need:.3g} for this ladder (its exact window 2 eps_q/v "
            f"at its time step in at most {MAX_STEPS} steps); got {slowest!r}"
        )


def richardson(fine, dt_fine, coarse, dt_coarse):
    """Extrapolation to δt → 0 of a result with a δt² leading error (symmetric Trotter split)."""
    return fine + (fine - coarse) * dt_fine**2 / (dt_coarse**2 - dt_fine**2)


def combine(p: dict, dt: dict, runs: dict[str, Run], s, parts: dict | None = None, tail=None):
    """(value, error) from the results `p[name]` (arrays), actual time steps `dt[name]`, the plan
    `runs` and the spectral exponents `s` (module docstring). With a dict `parts`, the four
    contributions to the error bar are stored in it ("dt", "memory", "window", "compression").
    A plan without window runs takes `tail` (∫Γ1 dt left to the golden-rule tails, per point)
    as its window error: the tails cannot move a population by more than they relax."""
    if "coarser" in p:
        return _combine_triple(p, dt, runs, s, parts)
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
        window = (
            richardson(p["wide"], dt["wide"], p["wide_coarse"], dt["wide_coarse"]) - rich
            if "wide" in p
            else np.broadcast_to(np.asarray(tail, dtype=float), rich.shape)
        )
        compression = np.abs(p["loose"] - p["fine"])
    else:
        window = richardson(p["wide"], dt["wide"], p["wide_coarse"], dt["wide_coarse"]) - richardson(
            p["short"], dt["short"], p["coarse"], dt["coarse"]
        )
        compression = np.zeros_like(rich)
    if parts is not None:
        parts.update(dt=np.abs(rich - p["fine"]), memory=memory_err, window=np.abs(window), compression=compression)
    return rich + memory, np.abs(rich - p["fine"]) + memory_err + np.abs(window) + compression


def _combine_triple(p: dict, dt: dict, runs: dict[str, Run], s, parts: dict | None):
    """:func:`combine` for the process-tensor plan of three steps (:func:`lzjax.quapi.engines.pt.pt_plan`):
    value Rich(wide, wide_coarse) + the memory correction; δt error |Rich(fine, coarse) −
    Rich(coarse, coarser)|; window error f·|Rich(wide, wide_coarse) − Rich(fine, coarse)|, f =
    WINDOW_FACTOR, or, with the pair of the window before (`narrow`, `narrow_coarse`, after a
    widening), f = ρ/(1 − ρ) clipped to [1, WINDOW_FACTOR] with ρ the ratio of the last two
    changes (a geometric fall; WINDOW_FACTOR when ρ ≥ 1); memory from coarse → long (same
    step); compression |loose − coarser| times the step ratio fine/coarser (its drift grows
    with the step count)."""
    r12 = richardson(p["fine"], dt["fine"], p["coarse"], dt["coarse"])
    r23 = richardson(p["coarse"], dt["coarse"], p["coarser"], dt["coarser"])
    wide = richardson(p["wide"], dt["wide"], p["wide_coarse"], dt["wide_coarse"])
    power = np.clip(s, 1.0, 3.0)
    base, k = runs["coarse"].steps, runs["long"].steps
    diff = p["coarse"] - p["long"]
    memory = diff * k**power / (base**power - k**power)
    memory_err = np.abs(diff) * k / abs(base - k)
    change = np.abs(wide - r12)
    factor = WINDOW_FACTOR
    if "narrow" in p:  # three windows: the error falls by ρ per window step, Σ_k ρ^k = ρ/(1 − ρ) after
        before = np.abs(r12 - richardson(p["narrow"], dt["narrow"], p["narrow_coarse"], dt["narrow_coarse"]))
        rho = change / np.maximum(before, 1e-300)
        factor = np.clip(rho / np.maximum(1.0 - rho, 1e-300), 1.0, WINDOW_FACTOR)
        factor = np.where(rho < 1.0, factor, WINDOW_FACTOR)
    err = {
        "dt": np.abs(r12 - r23),
        "memory": memory_err,
        "window": factor * change,
        "compression": np.abs(p["loose"] - p["coarser"]) * np.asarray(dt["coarser"]) / np.asarray(dt["fine"]),
    }
    if parts is not None:
        parts.update(err)
    return wide + memory, err["dt"] + err["memory"] + err["window"] + err["compression"]


_bath_windows = Program("quapi.ladder.bath_windows", jax.vmap(lambda p: bath_window(p, BATH_WINDOW_TOL)))


def _merge(groups, plans, baths=None):
    """Groups (per sweep speed) with the same plan (and, for a shared-influence engine, the same
    bath) merged into one batch: [(index, plan)], in order of first appearance."""
    merged = {}
    for n, (index, plan) in enumerate(zip(groups, plans, strict=False)):
        key = (tuple(plan.items()), None if baths is None else baths[n])
        merged.setdefault(key, (plan, []))[1].append(index)
    return [(np.concatenate(parts), plan) for plan, parts in merged.values()]


def _grids(run: Run, v) -> tuple[np.ndarray, np.ndarray]:
    """(step counts, time steps) of `run` at each sweep speed of `v`."""
    pairs = [run.grid(float(x)) for x in v]
    return np.array([p[0] for p in pairs], dtype=np.int64), np.array([p[1] for p in pairs])


#: the CPU cost model of a runner call that groups step buckets (:func:`call_parts`): seconds per
#: computed step of the batch, fixed and per padded point, and per call (the process tensor at
#: χ 24 on the 2-core CPU, benchmarks/bench_step_rate.py: 3.2, 4.7, 6.6, 8.6 µs per step at 1,
#: 2, 3, 4 points; a call's programs and transfers ~0.3 ms)
CALL_STEP_COST = (1.4e-6, 1.8e-6)
CALL_COST = 3e-4
#: the largest padded batch that merged step buckets may form
MERGE_POINTS = 4


def call_parts(n_steps) -> list[np.ndarray]:
    """Index sets of the points that run in one call. On an accelerator all of them (one wide
    batch). On a CPU, runs of neighbouring step buckets (:func:`lzjax.quapi.runner.step_bucket`)
    share a call where that costs less than separate calls (:data:`CALL_STEP_COST`,
    :data:`CALL_COST`): a point past its own steps is held, at the cost of a step, but one
    point alone uses the CPU poorly (a step of 4 points costs 2.2 µs per point, of one point 3.2).
    The grouping is the cheapest partition of the sorted buckets into contiguous runs."""
    n_steps = np.asarray(n_steps)
    if jax.default_backend() != "cpu":
        return [np.arange(n_steps.size)]
    buckets = np.array([step_bucket(int(x)) for x in n_steps])
    values = np.unique(buckets)  # ascending
    members = [np.flatnonzero(buckets == b) for b in values]
    fixed, per_point = CALL_STEP_COST

    def cost(i: int, j: int) -> float:  # buckets i … j − 1 in one call
        points = batch_bucket(sum(len(m) for m in members[i:j]))
        if j - i > 1 and points > MERGE_POINTS:
            return math.inf  # the model is measured up to 4 points (beyond, the per-point cost grows)
        return padded_steps(values[j - 1]) * (fixed + per_point * points) + CALL_COST

    best, cut = [0.0], [0]
    for j in range(1, values.size + 1):
        i = min(range(j), key=lambda i: best[i] + cost(i, j))
        best.append(best[i] + cost(i, j))
        cut.append(i)
    parts, j = [], values.size
    while j > 0:
        parts.append(np.sort(np.concatenate(members[cut[j] : j])))
        j = cut[j]
    return parts[::-1]


#: most refinement passes of an adaptive ladder (:meth:`refine_plan` of its engine)
MAX_REFINEMENTS = 4
#: the parts of an error bar in the order a refinement prefers among equal parts
_PARTS = ("window", "dt", "memory", "compression")


def _run_plan(engine, dimless, index, plan: dict[str, Run], v, eps_max, compensate, memo, record, bar) -> None:
    """Every run of `plan` at the points `index` (one bath: a shared influence serves them all)
    that `memo` does not hold yet, into `memo`; the fine run's engine settings into `record`."""
    group = take(dimless, index)
    scalar = take(group.bath, 0)
    for name, run in plan.items():
        need = np.array([k for k, i in enumerate(index) if (run, i) not in memo], dtype=int)
        if name == "fine" or need.size:
            tensor, info = engine.run_influence(scalar, run, compensate)  # shared engines: one per bath
            if name == "fine":
                for key, x in engine.run_settings(plan, info).items():
                    record.setdefault(key, np.zeros(v.size))[index] = x
        if not need.size:
            continue
        n_steps, step = _grids(run, v[index][need])
        result = np.zeros((3, need.size))
        for part in call_parts(n_steps):  # points of neighbouring step buckets share a call (mixed speeds)
            sub = take(group, need[part])
            result[:, part] = np.asarray(
                run_batch(
                    engine,
                    "window",
                    sub,
                    step[part],
                    n_steps[part],
                    run.memory,
                    eps_max=eps_max[index][need][part],
                    compensate=compensate,
                    shared=tensor,
                    bar=bar,
                    host=True,
                )
            )
        for k, i in enumerate(index[need]):
            memo[(run, i)] = (result[0, k], result[1, k], result[2, k], step[k])


def _missing_steps(plan: dict[str, Run], index, v, memo) -> int:
    """Padded steps of the runs of `plan` at `index` that `memo` does not hold (progress bar)."""
    total = 0
    for run in plan.values():
        need = [i for i in index if (run, i) not in memo]
        if need:
            n = _grids(run, v[need])[0]
            total += sum(padded_steps(n[part]) for part in call_parts(n))
    return total


def _refine(engine, dimless, pending, plan_of: list, err, record, tol: float, v) -> np.ndarray:
    """The points of `pending` whose error bar exceeds `tol` and whose engine refines the
    largest part of it (``engine.refine_plan``, None: it cannot); their plans are replaced."""
    refine = getattr(engine, "refine_plan", None)
    if refine is None:
        return np.zeros(0, dtype=int)
    again = []
    for i in pending:
        if not np.max(err[:, i]) > tol:
            continue
        order = sorted(_PARTS, key=lambda name: -record[f"err_{name}"][i])
        new = refine(plan_of[i], order[0], take(dimless, np.array([i])))
        if new is None or any(2.0 * r.eps_q / (r.dt * MAX_STEPS) > float(v[i]) for r in new.values()):
            continue
        plan_of[i] = new
        again.append(i)
    return np.array(again, dtype=int)


def converge_quapi(
    problem: LZProblem,
    *,
    tol: float = 1e-3,
    engine=None,
    compensate: bool = False,
    progress: bool = False,
    budget: int | None = None,
    eps_q: float | None = None,
    dt: float | None = None,
    memory_time: float | None = None,
    memory: float | None = None,
    pt_tol: float | None = None,
    chi_max: int | None = None,
) -> Result:
    """P_LZ and P_ES by windowed QUAPI with extrapolation in (δt, memory) and error bars.

    **Arguments:**
    - `problem`: an :class:`LZProblem` with the linear drive (leaves may be arrays; the engine
      groups the points — by (v/Δ², ω_c/Δ) for the ADT, by (v, bath) for the process tensor —
      each group one vmapped batch; Θ never splits a group).
    - `tol`: target absolute error of P_LZ and P_ES (accepted: 1e-6 ≤ tol ≤ 0.1); it sets the
      `converged` verdict (and, for the process tensor, the default window and truncation).
    - `engine`: a configured engine, e.g. :class:`lzjax.quapi.engines.PT` ``PT(memory_time=6.4,
      pt_tol=None, chi_max=512, dt=None, eps_q=None)`` (the default) or
      :class:`lzjax.quapi.engines.ADT` ``ADT(budget=10, eps_q=15)`` (the default when `budget`
      is given), or a name of :data:`lzjax.quapi.ENGINES`. Each engine validates its own
      settings and documents them. Measured at the paper's Fig. 1 point (benchmarks/RESULTS.md):
      the process tensor reaches ±3e-6 where the ADT ladder stops at ±5e-4, in a fraction of its time.
    - `budget`, `eps_q` (ADT); `dt`, `memory_time` (1/Δ; `memory` is an alias kept for older
      calls), `pt_tol`, `chi_max`, `eps_q` (PT): the engine's settings given one by one, named as
      its fields (they replace those of `engine`; a setting the engine does not take is refused
      by name).
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
    golden-rule tails), `trace_err`, `refinements` (the refinement passes the point took), and
    the parts of the error bar `err_dt`, `err_memory`,
    `err_window`, `err_compression` (each the larger of P_LZ's and P_ES's); `t_max` = 2 ε_max/v
    (the whole protocol, tails included).
    """
    engine = select_engine(engine, budget=budget)
    check_problem(problem)
    tol = check_ladder_tol(tol)
    compensate = check_bool("compensate", compensate)
    given = {"budget": budget, "eps_q": eps_q, "dt": dt, "memory_time": memory_time, "memory": memory}
    given.update(pt_tol=pt_tol, chi_max=chi_max)
    given = {k: x for k, x in given.items() if x is not None}
    wrong = [k for k in given if k not in engine.ladder_options]
    if wrong:
        raise ValueError(
            f"{', '.join(wrong)} {'does' if len(wrong) == 1 else 'do'} not apply to engine "
            f"{engine.name!r} (its ladder settings: {', '.join(engine.ladder_options)})"
        )
    if given:
        engine = engine.configured(**given)
    flat, shape = flatten_problem(problem)
    dimless = dimensionless(flat)
    delta = np.asarray(flat.drive.delta)
    v = np.asarray(dimless.drive.v)
    b = dimless.bath
    keys = engine.group_keys(dimless)
    groups = [np.nonzero(np.all(keys == key, axis=1))[0] for key in np.unique(keys, axis=0)]
    split = getattr(engine, "split_groups", None)  # optional: plans that differ within a group
    if split is not None:
        groups = split(dimless, groups, tol)
    plans, merge_keys = engine.ladder_plans(dimless, groups, tol)
    batches = _merge(groups, plans, merge_keys)
    check_ladder_speed(v)
    for index, plan in batches:  # before the step counts are formed
        check_ladder_steps(plan, v[index])
    grids = [{name: _grids(run, v[index]) for name, run in plan.items()} for index, plan in batches]
    for (index, plan), grid in zip(batches, grids, strict=False):  # every check before any work
        n_fine = grid["fine"][0]
        if plan["fine"].fixed_dt and np.any(n_fine < MIN_WINDOW_STEPS):  # a run that adapts δt resolves it
            i = int(np.argmin(n_fine))
            fast = int(np.sum(n_fine < MIN_WINDOW_STEPS))
            raise ValueError(
                f"v (the sweep speed) is too fast for the exact window at this time step: {fast} point(s), "
                f"first v/delta**2 = {float(v[index][i]):g}, cross |eps| <= "
                f"{plan['fine'].eps_q:g} in {int(n_fine[i])} step(s) of dt = {plan['fine'].dt:g}/delta (fewer than "
                f"{MIN_WINDOW_STEPS}); give a smaller dt (the engine's setting) or use NEQB"
            )
        largest = max(len(part) for n, _ in grid.values() for part in call_parts(n))  # the largest call
        check_memory(engine, plan["fine"].memory, largest, engine.memory_range)
    # the pair factors depend on the bath, δt and the lags only: one point per distinct triple
    checks: dict = {}
    bath_rows = np.stack([np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(b)], axis=1)
    for index, plan in zip(groups, plans, strict=False):
        run = max(plan.values(), key=lambda r: r.dt)  # the coarsest step: the largest factors
        step = run.grid(float(v[index[0]]))[1]
        steps = max(r.steps for r in plan.values())
        for i in index:
            key = (steps, plan["fine"].memory, step, tuple(bath_rows[i]))
            checks.setdefault(key[:2], {}).setdefault(key[2:], i)
    for (steps, memory), points in checks.items():
        index = np.array(list(points.values()))
        step = np.array([key[0] for key in points])
        check_influence(engine, take(dimless, index), step, memory, compensate, steps=steps)
    eps_max = np.array(_bath_windows(dimless))  # raised below to at least 2 ε_q per point
    for index, plan in zip(groups, plans, strict=False):
        eps_max[index] = np.maximum(eps_max[index], 2.0 * plan["fine"].eps_q)
    plan_of: list = [None] * v.size  # each point's current plan and merge key
    merge_of: list = [None] * v.size
    for index, plan in batches:
        for i in index:
            plan_of[i] = plan
    for n, (index, _) in enumerate(zip(groups, plans, strict=True)):
        for i in index:
            merge_of[i] = None if merge_keys is None else merge_keys[n]
    total = sum(padded_steps(n[part]) for g in grids for n, _ in g.values() for part in call_parts(n))
    bar = new_bar(total, progress, "QUAPI ladder steps")
    out = np.zeros((2, 2, v.size))  # (value, error) × (LZ, ES) × points
    record = {
        name: np.zeros(v.size)
        for name in (
            "dt",
            "eps_q",
            "trace_err",
            "tail",
            "err_dt",
            "err_memory",
            "err_window",
            "err_compression",
            "refinements",
        )
    }
    memo: dict = {}  # (run, point) -> (P_LZ, P_ES, |Tr ρ − 1|, δt): a refined plan reuses its runs
    pending = np.arange(v.size)
    for refinement in range(MAX_REFINEMENTS + 1):
        batched: dict = {}
        for i in pending:
            batched.setdefault((tuple(plan_of[i].items()), merge_of[i]), []).append(i)
        todo = [(np.array(ix), plan_of[ix[0]]) for ix in batched.values()]
        if refinement and bar is not None:
            total += sum(_missing_steps(plan, index, v, memo) for index, plan in todo)
            bar.phase(f"QUAPI ladder steps (refinement {refinement})", total=total)
        for index, plan in todo:
            _run_plan(engine, dimless, index, plan, v, eps_max, compensate, memo, record, bar)
            results = {name: np.array([memo[(run, i)][:2] for i in index]).T for name, run in plan.items()}
            steps = {name: np.array([memo[(run, i)][3] for i in index]) for name, run in plan.items()}
            trace = np.max([[memo[(run, i)][2] for i in index] for run in plan.values()], axis=0)
            used = "wide" if "coarser" in plan else "fine"  # the window of the value
            n_used = np.array([plan[used].grid(float(x))[0] for x in v[index]])
            record["eps_q"][index] = 0.5 * v[index] * n_used * steps[used]
            group = take(dimless, index)
            record["tail"][index] = np.asarray(tail_weights_each(group, record["eps_q"][index]))
            parts = {}
            value, err = combine(
                results, steps, plan, np.asarray(b.low_frequency_exponent)[index], parts, record["tail"][index]
            )
            for name, part in parts.items():  # the largest of (LZ, ES) per point
                record[f"err_{name}"][index] = np.max(part, axis=0)
            out[0][:, index], out[1][:, index] = value, err + trace
            record["dt"][index] = steps["fine"]
            record["trace_err"][index] = trace
            record["refinements"][index] = refinement
        if refinement == MAX_REFINEMENTS:
            break
        pending = _refine(engine, dimless, pending, plan_of, out[1], record, tol, v)
        if not pending.size:
            break
    if bar is not None:
        bar.close()
    value, err = out
    settings = {
        "dt": record["dt"] / delta,
        "eps_q": record["eps_q"] * delta,
        "tail": record["tail"],
        "trace_err": record["trace_err"],
        "refinements": record["refinements"].astype(int),
        **{k: record[k] for k in ("err_dt", "err_memory", "err_window", "err_compression")},
    }
    settings.update(engine.ladder_settings(record))
    return make_result(
        P_LZ=value[0],
        P_ES=value[1],
        P_LZ_err=err[0],
        P_ES_err=err[1],
        tol=tol,
        eps_max=eps_max * delta,
        t_max=2.0 * eps_max / v / delta,
        engine=f"quapi-{engine.name}",
        settings=settings,
        shape=shape,
        clip=True,
    )
