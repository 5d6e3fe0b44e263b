"""The crossing window of the exact dynamics, with its error (issue 22 item 3); units Δ = ħ = 1.

Same definition as the NEQB window (:func:`lzjax.dynamics.crossing_window`): outside [ε₋, ε₊]
the bath changes P_LZ and P_ES by less than `tol`. "The bath in [a, b] only" is, exactly: the
bath coupled while ε(t) ∈ [a, b], in its thermal state and factorised from the system when it is
switched on (as the QUAPI start), the system alone (coherent) before and after. One run of
:func:`windowed_exact_point` on the uniform grid t_j = −T_x + j δt, j = 0 … N (ε = v t, |ε| ≤
E_x = v T_x), for a bath window [t_{j_a}, t_{j_b}] on the grid:

* start at −E_x: the coherent adiabatic-following state (:func:`lzjax.adiabatic.dressed_state`,
  bath off) — or, when the bath is on from the start (j_a = 0), the golden-rule incoming tail from
  −ε_max and the dressed state with the bath, exactly the start of the QUAPI window scheme;
* steps j < j_a and j ≥ j_b: the system's Magnus-4 step alone; j_a ≤ j < j_b: the engine's
  (process tensor) steps from ρ(t_{j_a}) ⊗ ρ_bath, read out at t_{j_b};
* at +E_x: the asymptotic read-out of the freely rotating coherence
  (:func:`lzjax.adiabatic.asymptotic_rx`), with the bath and its golden-rule outgoing tail when
  j_b = N, without otherwise.

With j_a = 0, j_b = N this is the end-point ladder's window scheme at ε_q = E_x (the "full" value);
with j_a = j_b the coherent one. The window: per side, a bisection on the lattice of record
times t_m = −T_x + m u (u = 25 δt: the fine, coarse and coarser runs of
:func:`lzjax.quapi.trajectory_ladder.ladder_runs` take 25, 20, 16 steps per cell), an edge accepted
when |D| + err(D) ≤ tol/2 for both probabilities, D = P(window) − P(full): the deviation is
extrapolated and barred by the ladder's rule (:func:`lzjax.quapi.trajectory_ladder.combine_runs`,
δt, memory, compression, trace: errors common to both runs cancel in D) plus the golden-rule
weight ∫Γ1 dt beyond ±E_x (the tails are not exact). Both sides run together, one vmapped call
per halving. E_x: the smallest of :data:`lzjax.quapi.engines.pt.PT_WINDOWS` whose tails carry
less than tol/20 of ∫Γ1 dt.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..adiabatic import asymptotic_rx, bloch_from_rho, dressed_state, rate_window, relax_tail, rho_from_bloch
from ..model import Drive
from ..protocols import DrivenSystem, LinearSweep
from ..trajectories import prepare_system
from .engines import PT, select_engine
from .engines.pt import PT_DT_MAX, PT_DT_RATIO, PT_WINDOWS, pt_tol_default
from .ladder import BATH_WINDOW_TOL, check_ladder_tol
from .propagator import liouville, magnus4_propagators
from .trajectory import check_exact_steps
from .trajectory_ladder import LADDER_STEPS, combine_runs, ladder_runs, trajectory_step
from .window import N_OUTER, bath_window, tail_weight

__all__ = [
    "exact_crossing_window",
    "exact_windowed_probabilities",
    "exact_window_steps",
    "windowed_exact_point",
    "WINDOW_TAIL_FRACTION",
]

#: the exact range ±E_x leaves at most this fraction of `tol` of ∫Γ1 dt to the golden-rule tails
WINDOW_TAIL_FRACTION = 0.05
#: the observables of a windowed run
_NAMES = ("P_LZ", "P_ES")


def windowed_exact_point(engine, system, t_grid, tensor, j_a, j_b, eps_max, n_outer: int = N_OUTER):
    """(P_LZ, P_ES, Tr ρ at t_{j_b} − 1) of one point with the bath on only over the grid steps
    j_a ≤ j < j_b of `t_grid` (N + 1,) (module doc; `system` a :class:`DrivenSystem` with scalar
    leaves and a linear drive, `tensor` the engine's shared influence at the grid's step, `eps_max`
    the end of the golden-rule tails). `j_a`, `j_b` may be traced (0 ≤ j_a ≤ j_b ≤ N): one
    compiled program serves every window of the grid. Pure."""
    n = t_grid.shape[0] - 1
    off = DrivenSystem(drive=system.drive, bath=system.bath.scaled(0.0), theta=system.theta)
    t0, t1 = t_grid[0], t_grid[-1]
    e0, e1 = system.drive.epsilon(t0), system.drive.epsilon(t1)
    starts = jnp.array([1.0, -1.0])
    incoming = relax_tail(starts, system, -jnp.maximum(eps_max, -e0), e0, n_outer)
    state = jnp.where(j_a == 0, dressed_state(t0, incoming, system), dressed_state(t0, starts, off))  # (3, 2)
    rho = rho_from_bloch(state.T, e0, system.theta).astype(jnp.complex128)  # (2, 4)
    k_steps = liouville(magnus4_propagators(system.drive, t_grid, system.theta))  # (N, 4, 4)
    steady = engine.steady(tensor)
    psi0 = jnp.zeros_like(engine.start(None, rho, tensor, None))

    def step(carry, xs):
        rho, psi = carry
        j, k = xs
        psi = jnp.where(j == j_a, engine.start(None, rho, tensor, None), psi)
        inside, last = (j >= j_a) & (j < j_b), j == j_b - 1
        rho = jnp.where(inside, jnp.where(last, engine.readout(psi, k, tensor), rho), jnp.einsum("ij,bj->bi", k, rho))
        psi = jnp.where(inside & ~last, engine.advance(psi, steady, k[None]), psi0)
        return (rho, psi), None

    (rho, _), _ = jax.lax.scan(step, (rho, psi0), (jnp.arange(n), k_steps))
    trace = jnp.max(jnp.abs(jnp.real(rho[:, 0] + rho[:, 3]) - 1.0))
    state = bloch_from_rho(rho, e1, system.theta).T  # (3, 2)
    with_bath = relax_tail(asymptotic_rx(state, t1, system), system, e1, jnp.maximum(eps_max, e1), n_outer)
    r_x = jnp.where(j_b == n, with_bath, asymptotic_rx(state, t1, off))
    return jnp.stack([0.5 * (1.0 + r_x[0]), 0.5 * (1.0 - r_x[1]), trace])


@functools.lru_cache(maxsize=16)
def _windows_fn(engine):
    """jit(vmap over windows) of :func:`windowed_exact_point` for one engine kernel."""
    point = functools.partial(windowed_exact_point, engine)
    return jax.jit(jax.vmap(point, in_axes=(None, None, None, 0, 0, None)))


def _grid_step(limit: float) -> float:
    """The largest of 0.05/1.25^k not above `limit` (a grid: points share their tensors)."""
    k = max(0, math.ceil(math.log(PT_DT_MAX / limit) / math.log(PT_DT_RATIO) - 1e-9))
    return PT_DT_MAX / PT_DT_RATIO**k


class _Point:
    """One point's lattice, runs and tensors; `windows(m_a, m_b)` → the five runs' results."""

    def __init__(self, engine, system: DrivenSystem, tol: float):
        v = float(system.drive.v)
        self.tail_limit = WINDOW_TAIL_FRACTION * tol
        self.e_x = next((e for e in PT_WINDOWS if float(tail_weight(system, e)) <= self.tail_limit), PT_WINDOWS[-1])
        scale = float(system.bath.frequency_scale)
        self.dt = engine.dt if engine.dt is not None else _grid_step(trajectory_step(scale, math.hypot(1.0, self.e_x)))
        self.cell = LADDER_STEPS[0] * self.dt  # lattice cell u (1/Δ)
        self.half = math.ceil(self.e_x / (v * self.cell) - 1e-9)  # cells from −T_x to the crossing
        self.t_x = self.half * self.cell
        self.cells = 2 * self.half
        self.e_x = v * self.t_x  # the range actually run, ≥ the chosen one
        self.tail = float(tail_weight(system, self.e_x))
        self.eps_max = max(float(bath_window(system, BATH_WINDOW_TOL)), 2.0 * self.e_x)
        self.steps = [self.t_x / (self.half * k) for k in LADDER_STEPS]
        self.n_fine = self.cells * LADDER_STEPS[0]
        check_exact_steps(2.0 * self.t_x, self.steps[0], 2)  # the run length, before any allocation
        self.cut = engine.pt_tol if engine.pt_tol is not None else pt_tol_default(0.1 * tol, self.n_fine)
        self.runs = ladder_runs(self.steps, float(engine.memory_time), self.cut, engine.chi_max)
        self.system, self.engine = system, engine
        self.s0 = float(system.bath.low_frequency_exponent)

    def edge(self, m) -> np.ndarray:
        """ε at lattice index m (units Δ)."""
        return float(self.system.drive.v) * (-self.t_x + np.asarray(m) * self.cell)

    def windows(self, m_a, m_b) -> dict[str, dict[str, np.ndarray]]:
        """run name -> {P_LZ, P_ES, trace} (W,) for the bath windows [m_a, m_b] (lattice indices)."""
        m_a, m_b = np.asarray(m_a, dtype=np.int64), np.asarray(m_b, dtype=np.int64)
        out = {}
        for name, (i, settings) in self.runs.items():
            per = LADDER_STEPS[i]
            h = self.steps[i]
            t_grid = jnp.asarray(-self.t_x + h * np.arange(self.cells * per + 1))
            tensor = self.engine.influence(self.system.bath, h, settings, False)
            p = np.asarray(
                _windows_fn(self.engine.kernel)(
                    self.system, t_grid, tensor, jnp.asarray(m_a * per), jnp.asarray(m_b * per), self.eps_max
                )
            )
            out[name] = {"P_LZ": p[:, 0], "P_ES": p[:, 1], "trace": 1.0 + p[:, 2]}
        return out

    def combine(self, out) -> tuple[np.ndarray, np.ndarray]:
        """(values (2, W), errors (2, W)) of P_LZ, P_ES from :meth:`windows`' results."""
        value, err, _ = combine_runs(out, self.steps, self.runs["coarse"][1].kmax, self.s0, _NAMES)
        return np.stack([value[k] for k in _NAMES]), np.stack([err[k] for k in _NAMES])


def _deviation(point: _Point, trial, full) -> tuple[np.ndarray, np.ndarray]:
    """(D, err D) (2, W) of the trial windows against the full run (same runs, run by run)."""
    diff = {
        name: {k: trial[name][k] - full[name][k] for k in _NAMES} | {"trace": trial[name]["trace"]} for name in trial
    }
    for name in diff:  # the full run's trace defect counts too
        diff[name]["trace"] = 1.0 + np.maximum(np.abs(trial[name]["trace"] - 1.0), np.abs(full[name]["trace"] - 1.0))
    value, err = point.combine(diff)
    return value, err + point.tail


def _search(point: _Point, tol: float, full) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lattice bisection of both edges (module doc): (good (2,), bad (2,)) lattice indices of
    (ε₋, ε₊) and the deviation bars at the good edges."""
    centre = point.half
    good = np.array([0, point.cells])  # the bath on everywhere on that side: D = 0
    bad = np.array([centre, centre])
    bars = np.zeros(2)
    while np.any(np.abs(good - bad) > 1):
        mid = (good + bad) // 2
        mid = np.where(np.abs(good - bad) > 1, mid, good)
        out = point.windows([mid[0], 0], [point.cells, mid[1]])
        full2 = {name: {k: np.repeat(x, 2) for k, x in run.items()} for name, run in full.items()}
        value, err = _deviation(point, out, full2)
        ok = np.max(np.abs(value) + err, axis=0) <= 0.5 * tol
        moved = np.abs(good - bad) > 1
        bars = np.where(ok & moved, np.max(err, axis=0), bars)
        good = np.where(ok & moved, mid, good)
        bad = np.where(~ok & moved, mid, bad)
    return good, bad, bars


def _flat_points(drive, bath, theta):
    """The broadcast points as scalar-leaf :class:`DrivenSystem` s with a linear drive, the shape
    and the coordinates."""
    if not isinstance(drive, Drive):
        raise ValueError("the crossing window is computed for the linear sweep: drive must be a Drive")
    system, _, shape, params = prepare_system(drive, bath, theta)
    n = int(np.prod(shape, dtype=int))
    leaves, treedef = jax.tree_util.tree_flatten(system.bath)  # each 1-D of length n (a table's points static)
    columns = [np.asarray(a, float).reshape(-1) for a in (*leaves, system.drive.v, system.theta)]
    points = [
        DrivenSystem(
            drive=LinearSweep(v=float(columns[-2][i]), eps_start=-1.0, eps_end=1.0),
            bath=jax.tree_util.tree_unflatten(treedef, [float(c[i]) for c in columns[:-2]]),
            theta=float(columns[-1][i]),
        )
        for i in range(n)
    ]
    return points, shape, params


def _engine(engine):
    engine = select_engine(engine if engine is not None else "pt")
    if not isinstance(engine, PT):
        raise ValueError(
            f"the exact crossing window runs the process tensor (engine 'pt'); engine {engine.name!r} "
            "cannot switch the bath on mid-protocol (use engine 'pt', or 'neqb' for the weak-coupling window)"
        )
    return engine


def exact_window_steps(drive, bath, theta: Any = 0.0, *, tol: float = 1e-3, engine=None) -> int:
    """Point-steps that :func:`exact_crossing_window` propagates for these arguments, counted before
    any work (size estimates): per point the five runs over the lattice (97 steps per cell: 25 +
    20 + 16 + 20 + 16) for the full and coherent windows, two per halving of the two lattice
    bisections (ceil log2 of the cells per side) and the final window. ValueError as the window
    itself for bad arguments or too many steps per run."""
    tol = check_ladder_tol(tol)
    engine = _engine(engine)
    total = 0
    for system in _flat_points(drive, bath, theta)[0]:
        point = _Point(engine, system, tol)
        windows = 3 + 2 * math.ceil(math.log2(max(point.half, 2)))
        total += point.cells * sum(LADDER_STEPS[i] for i, _ in point.runs.values()) * windows
    return total


def exact_windowed_probabilities(
    drive, bath, theta: Any = 0.0, *, eps_minus, eps_plus, tol: float = 1e-3, engine=None
) -> dict[str, np.ndarray]:
    """P_LZ, P_ES (flat batch) of the infinite linear sweep with the bath on only for ε ∈
    [eps_minus, eps_plus] (module doc; scalars, units Δ; edges rounded to the point's lattice),
    with their error bars (`P_LZ_err`, `P_ES_err`), the edges actually used, and the full and
    coherent values with bars. `tol` sets the exact range and the truncation as in
    :func:`exact_crossing_window`."""
    tol = check_ladder_tol(tol)
    engine = _engine(engine)
    points, _, _ = _flat_points(drive, bath, theta)
    rows = []
    for system in points:
        point = _Point(engine, system, tol)
        v = float(system.drive.v)
        m = [
            int(np.clip(np.rint((float(e) / v + point.t_x) / point.cell), 0, point.cells))
            for e in (eps_minus, eps_plus)
        ]
        m[1] = max(m[0], m[1])
        value, err = point.combine(point.windows([m[0], 0, 0], [m[1], point.cells, 0]))
        err[:, :2] += point.tail  # the coherent run has no tails
        rows.append([*value[:, 0], *err[:, 0], *point.edge(m), *value[:, 1], *err[:, 1], *value[:, 2], *err[:, 2]])
    keys = ["P_LZ", "P_ES", "P_LZ_err", "P_ES_err", "eps_minus", "eps_plus", "P_LZ_full", "P_ES_full"]
    keys += [
        "P_LZ_full_err",
        "P_ES_full_err",
        "P_LZ_coherent",
        "P_ES_coherent",
        "P_LZ_coherent_err",
        "P_ES_coherent_err",
    ]
    table = np.array(rows)
    return {k: table[:, i] for i, k in enumerate(keys)}


def exact_crossing_window(drive, bath, theta: Any = 0.0, *, tol: float = 1e-3, engine=None):
    """The crossing window [ε₋, ε₊] of the infinite linear sweep from the exact dynamics (module doc).

    **Arguments:**
    - `drive`: :class:`lzjax.model.Drive` (Δ = 1); `bath` a spectral density
      (:class:`lzjax.model.Bath` or a family of :mod:`lzjax.spectral`); `theta` the coupling
      angle; leaves may be arrays (broadcast; the points run one by one, points of one bath share
      their tensors).
    - `tol`: outside the window the bath changes P_LZ and P_ES by less than `tol` (accepted: [1e-6,
      0.1]); tol/2 per side, each edge accepted only with its error bar inside.
    - `engine`: the process tensor ("pt" or a configured :class:`lzjax.quapi.engines.PT`: its
      `memory_time`, `pt_tol`, `chi_max`, `dt` are used; default δt the largest of 0.05/1.25^k
      with δt ω_c ≤ 0.25 and 1.5625 δt E_x ≤ 2, truncation 6e-3·(tol/10)/N).

    Returns an ``xarray.Dataset`` over `point` with the variables of
    :func:`lzjax.dynamics.crossing_window` (eps_minus, eps_plus, their errors: half the last
    lattice bracket; rate_eps_minus/plus, Xi_total; P_LZ, P_ES with the bath everywhere, …_window,
    …_coherent; window_dev = max |P_window − P_full|) plus the error bars P_LZ_err, P_ES_err,
    P_LZ_window_err, …, window_dev_err (of the deviation itself), edge_dev_err (the largest bar of
    an accepted edge's deviation), `converged` (window_dev + window_dev_err ≤ tol), and per point
    eps_x (the exact range), dt (finest step), memory, pt_tol, tail (∫Γ1 dt beyond ±E_x).
    """
    import xarray as xr

    tol = check_ladder_tol(tol)
    engine = _engine(engine)
    points, shape, params = _flat_points(drive, bath, theta)
    names = ["eps_minus", "eps_plus", "eps_minus_err", "eps_plus_err", "P_LZ", "P_ES", "P_LZ_err", "P_ES_err"]
    names += ["P_LZ_window", "P_ES_window", "P_LZ_window_err", "P_ES_window_err", "P_LZ_coherent", "P_ES_coherent"]
    names += ["P_LZ_coherent_err", "P_ES_coherent_err", "window_dev", "window_dev_err", "edge_dev_err"]
    names += ["eps_x", "dt", "memory", "pt_tol", "tail"]
    data = {k: np.zeros(len(points)) for k in names}
    for p, system in enumerate(points):
        point = _Point(engine, system, tol)
        ends = point.windows([0, 0], [point.cells, 0])  # the full run, the coherent one
        value, err = point.combine(ends)
        full = {name: {k: x[:1] for k, x in run.items()} for name, run in ends.items()}
        good, bad, bars = _search(point, tol, full)
        window = point.windows([good[0]], [good[1]])
        w_value, w_err = point.combine(window)
        dev, dev_err = _deviation(point, window, full)
        i = int(np.argmax(np.abs(dev[:, 0]) + dev_err[:, 0]))
        edges, brackets = point.edge(good), point.edge(bad)
        row = {
            "eps_minus": edges[0],
            "eps_plus": edges[1],
            "eps_minus_err": 0.5 * abs(edges[0] - brackets[0]),
            "eps_plus_err": 0.5 * abs(edges[1] - brackets[1]),
            "P_LZ": value[0, 0],
            "P_ES": value[1, 0],
            "P_LZ_err": err[0, 0] + point.tail,
            "P_ES_err": err[1, 0] + point.tail,
            "P_LZ_window": w_value[0, 0],
            "P_ES_window": w_value[1, 0],
            "P_LZ_window_err": w_err[0, 0] + point.tail,
            "P_ES_window_err": w_err[1, 0] + point.tail,
            "P_LZ_coherent": value[0, 1],
            "P_ES_coherent": value[1, 1],
            "P_LZ_coherent_err": err[0, 1],
            "P_ES_coherent_err": err[1, 1],
            "window_dev": abs(dev[i, 0]),
            "window_dev_err": dev_err[i, 0],
            "edge_dev_err": float(np.max(bars)),
            "eps_x": point.e_x,
            "dt": point.steps[0],
            "memory": float(engine.memory_time),
            "pt_tol": point.cut,
            "tail": point.tail,
        }
        for k, x in row.items():
            data[k][p] = x
    system, _, _, _ = prepare_system(drive, bath, theta)
    data["rate_eps_minus"], data["rate_eps_plus"], data["Xi_total"] = rate_window(system, tol)
    ds = xr.Dataset(
        {k: ("point", np.asarray(x)) for k, x in data.items()},
        coords={k: ("point", np.asarray(x)) for k, x in params.items()},
    )
    ds["converged"] = ("point", data["window_dev"] + data["window_dev_err"] <= tol)
    ds.attrs.update({"tol": tol, "batch_shape": list(shape), "units": "delta = hbar = 1", "engine": "quapi-pt"})
    return ds
