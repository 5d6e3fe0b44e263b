"""Converged exact trajectories: ρ(t) along any finite drive with error bars at every record time.

:func:`converge_trajectory` runs :func:`lzjax.quapi.trajectory.exact_trajectory` through the
process tensor at the five runs of the end-point ladder's plan (:func:`lzjax.quapi.engines.pt.pt_plan`,
without its window pair: a finite drive has no golden-rule tails), on grids chosen so that
every run records at the same M + 1 evenly spaced times t_m = t_start + m (t_end − t_start)/M:
per record interval the three steps take 25q, 20q and 16q steps (ratios exactly 1.25).

    fine = (δ, K_0)   coarse = (1.25 δ, K_1)   coarser = (1.5625 δ, K_2)
    long = (1.25 δ, 2 K_1)   loose = (1.5625 δ, K_2, 10·pt_tol)

At every record time and for every observable (P_ground, P_excited, P_up, r_x, r_y, r_z):
value Rich(fine, coarse) + the memory correction, the rule of
:func:`lzjax.quapi.ladder.combine` for end points; per part the differences that rule takes —
Rich(fine, coarse) − Rich(coarse, coarser) (δt), 2(coarse − long) (memory, the p = 1
extrapolation), 1.5625 (loose − coarser) (compression) — are taken of the adiabatic Bloch vector
and split into its population and coherence parts: e_x = |Δr_x| and e_⊥ = |(Δr_y, Δr_z)|, the
length of the coherence's error, which does not turn with its precession. Bars (each the sum over
the parts, plus |Tr ρ − 1|, the largest over the runs): r_x e_x, P_ground and P_excited e_x/2;
r_y and r_z e_⊥; the lab population P_up = (Tr ρ − r_x ε/E − r_z/E)/2, (|ε| e_x + e_⊥)/(2E).
(Per observable, a difference crosses zero where the coherence oscillates and its bar with it: at
the paper's Fig. 1 bath, Θ = 0, |ε| ≤ 4, the bars of r_y and P_up taken so were 2–3× below their
true error at some record times, tests/test_trajectory_ladder.py. The trace distance |Δr|/2 for
every probability would hold too, but puts the coherence's phase error, 20× the population's
there, on the populations.) Where the largest bar exceeds `tol`, the
part that dominates is refined (δ ÷ 1.6, the memory time doubled, or the truncation ÷ 10) and
every run repeated, up to `max_refinements` times.

Units Δ = ħ = 1 (energies in Δ, times in 1/Δ). The process tensor serves one bath and one grid
per call: the points of a call share the bath and the protocol's duration (they may differ in
Θ and in the drive's other parameters).
"""

from __future__ import annotations

import math

import jax
import numpy as np

from ..checks import check_integer
from ..model import Drive
from ..trajectories import prepare_system
from .engines import PT, select_engine
from .engines.pt import PT_DT_MAX, PT_DT_OMEGA_C, PT_DT_RATIO, PT_EDGE_PHASE, PT_TAPER, PTSettings, pt_tol_default
from .ladder import check_ladder_tol, richardson
from .trajectory import exact_trajectory

__all__ = [
    "converge_trajectory",
    "TRAJECTORY_VARIABLES",
    "trajectory_step",
    "ladder_runs",
    "combine_runs",
    "LADDER_STEPS",
    "ladder_grid",
    "trajectory_steps",
    "BLOCH",
    "bloch_weights",
    "converge_end_point",
    "END_POINT_COLUMNS",
]

#: the observables a converged trajectory extrapolates and bars (the trace is checked, not kept)
TRAJECTORY_VARIABLES = ("P_ground", "P_excited", "P_up", "r_x", "r_y", "r_z")
#: the adiabatic Bloch components (population r_x, coherence r_y, r_z)
BLOCH = ("r_x", "r_y", "r_z")
#: the steps of the fine, coarse and coarser runs per record interval, per unit of q
LADDER_STEPS = (25, 20, 16)


def ladder_runs(steps, memory: float, cut: float, chi_max: int) -> dict[str, tuple[int, PTSettings]]:
    """The five runs of a finite-drive ladder (module doc) at the fine, coarse and coarser
    `steps` (1/Δ), memory time `memory` (1/Δ), truncation `cut`: name -> (index into `steps`,
    :class:`PTSettings`)."""
    settings = [PTSettings(max(2, round(memory / h)), cut, chi_max, PT_TAPER) for h in steps]
    return {
        "fine": (0, settings[0]),
        "coarse": (1, settings[1]),
        "coarser": (2, settings[2]),
        "long": (1, settings[1]._replace(kmax=2 * settings[1].kmax)),
        "loose": (2, settings[2]._replace(tol=10.0 * cut)),
    }


def trajectory_step(frequency_scale: float, energy_max: float) -> float:
    """The default finest step (1/Δ) of a converged trajectory: the largest of 0.05 with
    δ ω_c ≤ 0.25 and E_max · 1.5625 δ ≤ 2 (E_max the largest level splitting along the drive),
    the end-point ladder's rules (:func:`lzjax.quapi.engines.pt.pt_step`)."""
    return min(PT_DT_MAX, PT_DT_OMEGA_C / float(frequency_scale), PT_EDGE_PHASE / (energy_max * PT_DT_RATIO**2))


def _energy_max(system, in_axes, t0, t1) -> float:
    """max √(1 + ε²) over 2001 times of every point's protocol."""
    s = np.linspace(0.0, 1.0, 2001)
    times = t0[:, None] + (t1 - t0)[:, None] * s[None]
    eps = jax.vmap(lambda d, t: d.epsilon(t), in_axes=(in_axes.drive, 0))(system.drive, times)
    return float(np.max(np.sqrt(1.0 + np.asarray(eps) ** 2)))


def ladder_grid(span: float, n_times: int, step: float) -> tuple[list[float], int]:
    """(fine, coarse, coarser steps, fine step count) of a pass over `span` (1/Δ) with `n_times`
    record intervals at finest step ≤ `step`: q = ceil(span/(25 M step)), the three steps span/(M k q)
    for k = 25, 20, 16 (module doc)."""
    q = max(1, math.ceil(span / (LADDER_STEPS[0] * n_times * step) - 1e-9))
    return [span / (n_times * k * q) for k in LADDER_STEPS], n_times * LADDER_STEPS[0] * q


def _first_step(system, in_axes, engine) -> tuple[float, float]:
    """(span, finest step) of the first pass: the engine's `dt` or :func:`trajectory_step`."""
    n_points = int(np.size(np.asarray(system.theta)))
    t0 = np.broadcast_to(np.asarray(system.drive.t_start, float), (n_points,))
    t1 = np.broadcast_to(np.asarray(system.drive.t_end, float), (n_points,))
    scale = float(np.max(np.asarray(system.bath.frequency_scale)))
    step = engine.dt if engine.dt is not None else trajectory_step(scale, _energy_max(system, in_axes, t0, t1))
    return float(np.max(t1 - t0)), step


def trajectory_steps(drive, bath, theta=0.0, *, n_times: int = 64, dt=None, eps_start=None, eps_end=None):
    """(fine steps of the first pass, span in 1/Δ) of :func:`converge_trajectory` for these
    arguments, without running anything (size estimates): the five runs take 97/25 of the fine
    run's steps per pass. ValueError as the trajectory for bad arguments."""
    n_times = check_integer("n_times", n_times, 1, 10_000)
    engine = PT() if dt is None else PT(dt=dt)
    if isinstance(drive, Drive) and eps_start is None:
        raise ValueError("eps_start and eps_end are needed with a linear Drive (a finite sweep)")
    system, in_axes, _, _ = prepare_system(drive, bath, theta, eps_start=eps_start, eps_end=eps_end)
    span, step = _first_step(system, in_axes, engine)
    return ladder_grid(span, n_times, step)[1], span


def converge_trajectory(
    drive,
    bath,
    theta=0.0,
    *,
    tol: float = 1e-3,
    n_times: int = 64,
    eps_start=None,
    eps_end=None,
    engine=None,
    dt: float | None = None,
    memory_time: float | None = None,
    pt_tol: float | None = None,
    max_refinements: int = 3,
):
    """The exact trajectory along a finite drive with error bars, converged to `tol` (module doc).

    **Arguments:**
    - `drive`, `bath`, `theta`, `eps_start`, `eps_end`: as :func:`lzjax.quapi.trajectory.exact_trajectory`
      (one bath and one protocol duration per call).
    - `tol`: target absolute error of every recorded observable (accepted: [1e-6, 0.1]).
    - `n_times`: record intervals M (accepted: integer in [1, 10000]): M + 1 evenly spaced times.
    - `engine`: the process tensor (`"pt"` or a configured :class:`lzjax.quapi.engines.PT`; its
      `memory_time`, `pt_tol`, `chi_max`, `dt` are used). The plain ADT has no converged
      trajectory (fixed settings: :func:`exact_trajectory`): its at most 14 steps of memory
      (0.56/Δ at δt 0.04) lie far inside the bath's, where the error of a shorter partner does
      not bound the memory error — tried with the ladder's runs at K, 0.8K and a partner two steps
      (or K/2) shorter at the paper's Fig. 1 bath, |ε| ≤ 4: covered at K = 8, but at K = 10 the
      population of the transversal point was 2.3× (1.01×) its bar off a far finer run.
    - `dt`, `memory_time`, `pt_tol`: the engine's settings given one by one (`dt` the finest step
      in 1/Δ: default :func:`trajectory_step`; memory time in 1/Δ, default 6.4; truncation:
      default :func:`lzjax.quapi.engines.pt.pt_tol_default` for the fine run's step count).
    - `max_refinements`: most refinement passes (accepted: integer in [0, 6]).

    Returns the ``xarray.Dataset`` of :func:`exact_trajectory` (dims point, start, time; the
    values of the extrapolation) with, per observable X of :data:`TRAJECTORY_VARIABLES`, the
    error bar `X_err` (population and coherence errors apart: module doc); the parts `err_dt`,
    `err_memory`, `err_compression`, `err_trace` of the Bloch vector's error |Δr| per (point,
    start, time); `converged` per point (every bar of the point ≤ tol); attributes `dt` (finest
    step), `memory_time`, `pt_tol`, `refinements`, `tol`.
    """
    engine = select_engine(engine if engine is not None else "pt")
    if not isinstance(engine, PT):
        raise ValueError(
            f"the converged trajectory runs the process tensor (engine 'pt'); engine {engine.name!r} runs at "
            "fixed settings: exact_trajectory(..., dt=..., kmax=...)"
        )
    tol = check_ladder_tol(tol)
    n_times = check_integer("n_times", n_times, 1, 10_000)
    max_refinements = check_integer("max_refinements", max_refinements, 0, 6)
    given = {k: x for k, x in {"dt": dt, "memory": memory_time, "pt_tol": pt_tol}.items() if x is not None}
    if given:
        engine = engine.configured(**given)
    if isinstance(drive, Drive) and eps_start is None:
        raise ValueError("eps_start and eps_end are needed with a linear Drive (a finite sweep)")
    system, in_axes, _, _ = prepare_system(drive, bath, theta, eps_start=eps_start, eps_end=eps_end)
    span, step = _first_step(system, in_axes, engine)
    memory = float(engine.memory_time)
    truncation = engine.pt_tol
    s0 = float(np.max(np.asarray(system.bath.low_frequency_exponent)))
    for refinement in range(max_refinements + 1):
        steps, n_fine = ladder_grid(span, n_times, step)
        q = n_fine // (n_times * LADDER_STEPS[0])
        cut = truncation if truncation is not None else pt_tol_default(tol, n_fine)
        runs = ladder_runs(steps, memory, cut, engine.chi_max)
        out = {
            name: exact_trajectory(
                drive,
                bath,
                theta,
                dt=steps[i],
                kmax=k,
                every=LADDER_STEPS[i] * q,
                engine=PT(),
                eps_start=eps_start,
                eps_end=eps_end,
            )
            for name, (i, k) in runs.items()
        }
        eps = out["fine"]["epsilon"].values[:, None]  # (point, 1, time): the bias at the records
        value, err, parts = combine_runs(out, steps, runs["coarse"][1].kmax, s0, epsilon=eps)
        worst = {name: float(np.max(p)) for name, p in parts.items()}
        if max(float(np.max(e)) for e in err.values()) <= tol or refinement == max_refinements:
            break
        part = max(("dt", "memory", "compression"), key=lambda name: worst[name])
        if part == "dt" and engine.dt is None:
            step /= 1.6
        elif part == "memory":
            memory *= 2.0
        elif part == "compression" and cut > 1e-13:
            truncation = cut / 10.0
        else:  # the dominant part is the trace, or a setting the user fixed
            break
    result = out["fine"].copy()
    for name in TRAJECTORY_VARIABLES:
        result[name] = (result[name].dims, value[name])
        result[f"{name}_err"] = (result[name].dims, err[name])
    for name, p in parts.items():
        result[f"err_{name}"] = (result["P_ground"].dims, p)
    worst_point = np.max(np.stack([err[name] for name in TRAJECTORY_VARIABLES]), axis=(0, 2, 3))
    result["converged"] = (("point",), worst_point <= tol)
    result.attrs.update(
        engine="quapi-pt",
        dt=steps[0],
        memory_time=memory,
        pt_tol=cut,
        refinements=refinement,
        tol=tol,
        n_steps=n_fine,
    )
    return result


def combine_runs(out: dict, steps, base: int, s0: float, names=TRAJECTORY_VARIABLES, epsilon=None):
    """(values, errors, parts) per observable of `names` from the five runs' results `out[run]`
    (datasets or dicts of arrays, with "trace" = Tr ρ; module doc); `steps` the fine, coarse,
    coarser steps, `base` the coarse run's memory in steps, `s0` the low-frequency exponent.
    With `epsilon` (the bias at the records, broadcastable to the results; units Δ) the names are
    :data:`TRAJECTORY_VARIABLES` and the bars split population and coherence errors (module doc;
    parts: the Bloch vector's error |Δr|); without, each observable's own difference (the
    crossing window's P_LZ, P_ES; parts: the largest over `names`). Parts: δt, memory,
    compression, trace."""
    power = min(max(s0, 1.0), 3.0)
    k = 2 * base
    value, signed = {}, {}
    for name in names:
        x = {run: np.asarray(ds[name]) for run, ds in out.items()}
        r12 = richardson(x["fine"], steps[0], x["coarse"], steps[1])
        r23 = richardson(x["coarse"], steps[1], x["coarser"], steps[2])
        diff = x["coarse"] - x["long"]
        value[name] = r12 + diff * k**power / (base**power - k**power)
        signed[name] = {
            "dt": r12 - r23,
            "memory": 2.0 * diff,
            "compression": (x["loose"] - x["coarser"]) * steps[2] / steps[0],
        }
    trace = np.max([np.abs(np.asarray(ds["trace"]) - 1.0) for ds in out.values()], axis=0)
    own = {name: {p: np.abs(d) for p, d in signed[name].items()} for name in names}
    if epsilon is not None:
        e_x = sum(own["r_x"].values())
        e_perp = sum(np.hypot(signed["r_y"][p], signed["r_z"][p]) for p in own["r_x"])
        weights = bloch_weights(np.asarray(epsilon))
        err = {name: weights[name][0] * e_x + weights[name][1] * e_perp + trace for name in names}
        parts = {p: np.sqrt(sum(signed[r][p] ** 2 for r in BLOCH)) for p in own["r_x"]}
    else:
        err = {name: sum(own[name].values()) + trace for name in names}
        parts = {p: np.max([own[name][p] for name in names], axis=0) for p in own[names[0]]}
    return value, err, {**parts, "trace": trace}


def bloch_weights(epsilon) -> dict[str, tuple]:
    """Observable -> (weight of the population error e_x, of the coherence error e_⊥) in its bar
    at bias `epsilon` (units Δ; module doc): each observable is linear in the adiabatic Bloch
    vector (P_up = (Tr ρ − r_x ε/E − r_z/E)/2, E = √(1 + ε²))."""
    energy = np.sqrt(1.0 + np.asarray(epsilon, dtype=float) ** 2)
    return {
        "P_ground": (0.5, 0.0),
        "P_excited": (0.5, 0.0),
        "P_up": (0.5 * np.abs(epsilon) / energy, 0.5 / energy),
        "r_x": (1.0, 0.0),
        "r_y": (0.0, 1.0),
        "r_z": (0.0, 1.0),
    }


#: the settings an end point of a finite protocol records (:func:`converge_end_point`), in order
END_POINT_COLUMNS = (
    "dt",
    "t_max",
    "converged",
    "memory_time",
    "pt_tol",
    "trace_err",
    "err_dt",
    "err_memory",
    "err_compression",
    "refinements",
)


def _take(system, in_axes, index):
    """The points `index` of a flat batch of :func:`lzjax.trajectories.prepare_system` (leaves with
    vmap axis 0 indexed, the others kept)."""
    return jax.tree_util.tree_map(
        lambda ax, a: a if ax is None else a[index], in_axes, system, is_leaf=lambda x: x is None
    )


def converge_end_point(
    drive,
    bath,
    theta=0.0,
    *,
    tol: float = 1e-3,
    eps_start=None,
    eps_end=None,
    dt: float | None = None,
    memory_time: float | None = None,
    pt_tol: float | None = None,
    max_refinements: int = 3,
    progress: bool = False,
):
    """End-point probabilities of a finite protocol with error bars: the last record of
    :func:`converge_trajectory` (one record interval, tol on every observable of ρ at the end).

    P_LZ: from the instantaneous ground state at t_start, the probability to be in the
    instantaneous ground state at t_end; P_ES: the same for the excited state (the adiabatic
    read-out at finite bias, no asymptotic tails). Points are grouped by (bath, duration), one
    ladder per group (the process tensor serves one bath and one step per call).

    **Arguments:** as :func:`converge_trajectory` (`drive` a protocol of :mod:`lzjax.protocols`,
    or :class:`lzjax.model.Drive` with `eps_start`, `eps_end`); `progress` is accepted for the
    sweep's signature (no bar).

    Returns a :class:`lzjax.results.Result` of the broadcast batch shape (`t_max` the duration,
    `eps_max` the largest |ε| of the two ends) with settings :data:`END_POINT_COLUMNS`: `dt`
    the finest step, `memory_time`, `pt_tol`, `refinements`, `trace_err`, and the parts
    `err_dt`, `err_memory`, `err_compression` of the end's Bloch-vector error (the larger of the
    two starts; a probability's part is at most half of it).
    """
    from ..results import make_result

    del progress
    tol = check_ladder_tol(tol)
    if isinstance(drive, Drive) and eps_start is None:
        raise ValueError("eps_start and eps_end are needed with a linear Drive (a finite sweep)")
    system, in_axes, shape, _ = prepare_system(drive, bath, theta, eps_start=eps_start, eps_end=eps_end)
    n_points = int(np.prod(shape, dtype=int))
    t0 = np.broadcast_to(np.asarray(system.drive.t_start, float), (n_points,))
    t1 = np.broadcast_to(np.asarray(system.drive.t_end, float), (n_points,))
    leaves = [np.broadcast_to(np.asarray(x, float), (n_points,)) for x in jax.tree_util.tree_leaves(system.bath)]
    keys = np.stack([*leaves, t1 - t0], axis=1)
    names = ("P_LZ", "P_ES", "P_LZ_err", "P_ES_err", "eps_max", *END_POINT_COLUMNS)
    out = {name: np.zeros(n_points) for name in names}
    for key in np.unique(keys, axis=0):
        index = np.flatnonzero(np.all(keys == key, axis=1))
        part = _take(system, in_axes, index)
        ds = converge_trajectory(
            part.drive,
            part.bath,
            part.theta,
            tol=tol,
            n_times=1,
            dt=dt,
            memory_time=memory_time,
            pt_tol=pt_tol,
            max_refinements=max_refinements,
        )
        end = ds.isel(time=-1)
        row = {
            "P_LZ": end.P_ground.values[:, 0],
            "P_ES": end.P_excited.values[:, 1],
            "P_LZ_err": end.P_ground_err.values[:, 0],
            "P_ES_err": end.P_excited_err.values[:, 1],
            "eps_max": np.max(np.abs(ds.epsilon.values), axis=1),
            "dt": ds.attrs["dt"],
            "t_max": key[-1],
            "memory_time": ds.attrs["memory_time"],
            "pt_tol": ds.attrs["pt_tol"],
            "refinements": ds.attrs["refinements"],
            "trace_err": np.max(end.err_trace.values, axis=1),
            **{f"err_{p}": np.max(end[f"err_{p}"].values, axis=1) for p in ("dt", "memory", "compression")},
        }
        for name, x in row.items():
            out[name][index] = x
    settings = {name: out[name] for name in END_POINT_COLUMNS if name not in ("t_max", "converged")}
    settings["refinements"] = settings["refinements"].astype(int)
    return make_result(
        P_LZ=out["P_LZ"],
        P_ES=out["P_ES"],
        P_LZ_err=out["P_LZ_err"],
        P_ES_err=out["P_ES_err"],
        tol=tol,
        eps_max=out["eps_max"],
        t_max=out["t_max"],
        engine="quapi-pt",
        settings=settings,
        shape=shape,
        clip=True,
    )
