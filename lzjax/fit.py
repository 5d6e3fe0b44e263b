"""Fit γ (optionally ω_c and T) to measured Landau-Zener curves P_LZ(v) with optax and autodiff.

The forward model is the differentiable single-point engine, vmapped over the data's sweep
speeds: :func:`lzjax.neqb.neqb_probabilities` (default) on one fixed protocol window, or
:func:`lzjax.quapi.quapi_probabilities` at fixed (δt, k_max, t_max). The loss is

    χ²(θ) = Σ_i ((P_model(v_i; θ) − P_i) / σ_i)²

minimised over the unconstrained parameters z = log θ (γ, ω_c, T > 0 by construction) with
optax's L-BFGS (``optax.lbfgs``: direction and memory) and a weak-Wolfe line search run on the
host, so that χ² and its gradient are compiled once (optax's jitted zoom line search traces
them three times: ~20 s of compile against ~8 s on a 2-core CPU). Three layers, as elsewhere:

1. :func:`fit_curve` validates the data and the model in plain Python (a ``ValueError`` naming
   what is wrong), fixes the static configuration and runs the host loop;
2. jitted functions of that static configuration (χ² on a grid; χ², its gradient and the
   residual Jacobian from one forward-mode pass; the L-BFGS direction): the data, the fixed
   parameters and
   the window are *arguments*, so a second fit with the same number of points and the same
   options compiles nothing;
3. the per-point forward model, vmapped over v.

**Start.** χ² on a coarse grid (log γ from 10⁻⁶ to 10⁻¹, 16 points, plus ``gamma0`` if
given; × ω_c/ω_c0 and T/T0 ∈ {½, 1, 2} when those are fitted), one vmapped call; L-BFGS
starts from the best grid point.

**Stopping.** After each L-BFGS step: the relative change of χ² is ≤ ``ftol`` (default 1e-9)
*and* the largest gradient component ‖∇_z χ²‖_∞ ≤ ``gtol``·χ² (default 1e-5; z = log θ, so
this bounds the remaining relative parameter change far below the error bars). χ² is floored
at dof·(10⁻⁸/σ)² so that noise-free data can converge. Reaching ``max_iter`` (default 100) or
a line search that no longer moves gives ``converged = False``.

**Gradient.** Forward mode: J = ∂r/∂z by ``jax.jacfwd`` and ∇χ² = 2Jᵀr (p ≤ 3 parameters,
so forward mode beats reverse mode through the long scans; see :func:`value_and_grad`).

**Error bars.** Gauss-Newton: J = ∂r/∂z (``jax.jacfwd`` of the weighted residuals r at the
optimum), Cov_z = (JᵀJ)⁻¹, transformed to the physical parameters by Cov_θ = D Cov_z D,
D = diag(θ) (the exact Jacobian of θ = e^z). ``error_method="hessian"`` uses the full
Hessian of χ²/2 instead. With σ given, the covariance is not rescaled by χ²/dof. Without σ,
σ is estimated from the residuals, σ̂² = Σ(P_model − P)²/dof, the covariance is multiplied by
σ̂², and χ²/dof is 1 by construction (``sigma_estimated = True``).

**NEQB window.** ``neqb_probabilities`` integrates the full Bloch equations over
|ε| ≤ ε_max with ``n_steps`` steps (static). ε_max is fixed for the whole fit (so the jitted
loss never recompiles): the largest :func:`lzjax.neqb.window_eps_max` over the data's v at the
upper end of the parameter range the fit may visit: γ = max(10⁻¹, 10·γ0), ω_c and T three
times their start values when fitted. After the fit, the window needed at the fitted values
is checked (a warning when it exceeds ε_max), and with ``check_model=True`` the fixed-window
model is compared with the converged :func:`lzjax.neqb.solve_neqb` at the optimum
(``model_error``; a warning when it exceeds σ_min/10). With n_steps = 512 the fixed-window
model agrees with ``solve_neqb`` to ≲ 3·10⁻⁵ for v ∈ [0.01, 10] (γ = 5·10⁻⁴…5·10⁻³, s = 3,
ω_c = 5, T = 6.4; ε_max 130–300), 3·10⁻⁶–8·10⁻⁶ with 1024. ``engine_options["eps_max"]``
(``lzjax fit --eps-max``) fixes the window instead (for a density falling as slowly as
Drude-Lorentz's 1/ω the automatic window reaches 1e6·γ_D: 2·10⁶ Δ at γ_D = 2, with 512 steps
across it). The model check then runs ``solve_neqb`` on that same window: it checks the fixed
steps, and the window's own error is the warning on the window the fitted values need.

**Exact engines.** ``engine`` an exact engine of :data:`lzjax.quapi.ENGINES`, by name ("pt",
"adt") or configured (``PT(pt_tol=1e-7)``, ``ADT()``), with ``engine_options = {"dt", "tmax"}``
and the memory ``kmax`` in steps (required for the ADT; the process tensor's default is
round(memory_time/dt)): one δt, memory and protocol duration t_max (units 1/Δ) for every point,
so t_max must cover the slowest sweep. These are fixed settings, not a convergence ladder: the
fit inherits their discretisation error. The engine owns the rest: its run settings
(``engine.fixed_memory``; the process tensor takes ``taper`` too, and its `pt_tol` and `chi_max`
from the configured object) and the settings recorded (``engine.fixed_record``). A pure engine
(``engine.fit_traced``: the ADT) runs :func:`lzjax.quapi.quapi_probabilities` per point, jitted
with χ² and its Jacobian; the process tensor has its own model (``engine.fit_model``): one
tensor per parameter point built on the host, shared by all v and differentiated through its
tangent build (:func:`lzjax.quapi.engines.pt.differentiable_tensor`), run eagerly (the start
grid is a host loop, each L-BFGS step builds a tensor and its tangent), first derivatives
only: ``error_method="hessian"`` is refused. ``engine="quapi"`` (with ``pt_tol`` in
`engine_options` for the process tensor, else the ADT) is the deprecated spelling of the
previous release.

**Other spectral densities.** ``bath=`` a density of :mod:`lzjax.spectral` (its leaves the
start and fixed values) instead of s, omega_c, T: `fit` names any of its parameters
(:func:`fittable`: λ, γ_D, ω_0, γ_b, ω_c, a table's scale, T; a sum's parts' as gamma[0],
lam[1], ..., one T). Start grid: the couplings (the leaves :meth:`scaled` multiplies: γ, λ, a
table's scale) at their start value × 10^[−3, 2] (16 points, and the start itself), the other
fitted ones × {½, 1, 2}; the NEQB window covers the couplings up to 100× and the others up to
3× their start values. The rest (L-BFGS, error bars, model check, the exact engines) as above.

Units: v in Δ², ω_c and T in Δ (Δ = ``delta``); γ dimensionless.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import os
import warnings as _warnings
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .checks import check_bool, check_choice, check_integer, check_step_count
from .model import Bath, Drive, LZProblem, SpectralDensity, dimensionless
from .neqb import check_neqb_validity, neqb_probabilities, solve_neqb, window_eps_max
from .progress import progress_bar
from .quapi.engines import ADT, ENGINES, PT, get_engine
from .quapi.solve import quapi_probabilities
from .spectral import family_of, leaf_names

__all__ = [
    "FitResult",
    "FitSpec",
    "fit_curve",
    "load_curve_csv",
    "validate_curve",
    "check_engine_options",
    "fit_engine",
    "chi2",
    "chi2_grid",
    "value_and_grad",
    "lbfgs_init",
    "lbfgs_direction",
    "FITTABLE",
    "fittable",
]

FITTABLE = ("gamma", "omega_c", "T")
GAMMA_GRID = tuple(np.geomspace(1e-6, 1e-1, 16))
_FACTOR_GRID = (0.5, 1.0, 2.0)  # ω_c/ω_c0 and T/T0 in the start grid when fitted
_RANGE_FACTOR = 3.0  # the NEQB window covers ω_c, T up to 3× their start values
_GAMMA_HI = 1e-1
_COUPLING_GRID = tuple(np.geomspace(1e-3, 1e2, 16))  # a family's couplings / their start values
_P_FLOOR = 1e-8  # residuals below this count as exact (floor of χ² in the stopping rule)


# ---- data validation --------------------------------------------------------------------------


def validate_curve(v, P, sigma=None, *, n_params: int = 1, where: str = "data"):
    """Check a measured curve; return (v, P, sigma or None) as float64 1-D arrays.

    Raises a ``ValueError`` for: arrays of different lengths or not 1-D, non-finite values,
    v ≤ 0, P outside [0, 1], σ ≤ 0, and fewer than ``n_params + 1`` points (one degree of
    freedom at least, so that χ²/dof is defined) or fewer than ``n_params + 1`` distinct values of
    v (identical rows, or one speed only: a degenerate fit with a meaningless ~1e-17 error bar).
    """
    arrays = {"v": v, "P_LZ": P} if sigma is None else {"v": v, "P_LZ": P, "sigma": sigma}
    out = {}
    for name, x in arrays.items():
        try:
            raw = np.asarray(x)
            if raw.dtype.kind not in "iuf":  # complex, bool, str, object: refused, never truncated
                raise TypeError
            a = raw.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: {name} must be real numbers, got {x!r:.80}") from None
        if a.ndim != 1:
            raise ValueError(f"{where}: {name} must be a 1-D array, got shape {a.shape}")
        out[name] = a
    n = len(out["v"])
    for name, a in out.items():
        if len(a) != n:
            raise ValueError(f"{where}: v, P_LZ and sigma must have the same length, got {n} and {len(a)} ({name})")
    for name, a in out.items():
        bad = np.flatnonzero(~np.isfinite(a))
        if bad.size:
            raise ValueError(f"{where}: {name} must be finite; point {bad[0] + 1} is {float(a[bad[0]])!r}")
    checks = (
        ("v", out["v"] <= 0, "v (sweep speed) must be > 0"),
        ("P_LZ", (out["P_LZ"] < 0) | (out["P_LZ"] > 1), "P_LZ must be in [0, 1]"),
    )
    if "sigma" in out:
        checks += (("sigma", out["sigma"] <= 0, "sigma must be > 0"),)
    for name, bad_mask, text in checks:
        bad = np.flatnonzero(bad_mask)
        if bad.size:
            raise ValueError(f"{where}: {text}; point {bad[0] + 1} has {name} = {float(out[name][bad[0]])!r}")
    if n < n_params + 1:
        raise ValueError(
            f"{where}: {n} point(s) for {n_params} fitted parameter(s); need at least {n_params + 1} "
            "(one degree of freedom)"
        )
    distinct = len(np.unique(out["v"]))
    if distinct < n_params + 1:  # repeated rows at one speed: χ²/dof and σ would be 0, the error bar ~1e-17
        raise ValueError(
            f"{where}: {distinct} distinct value(s) of v for {n_params} fitted parameter(s); need at least "
            f"{n_params + 1} distinct sweep speeds (repeated rows at one v do not constrain a fit)"
        )
    return out["v"], out["P_LZ"], out.get("sigma")


def load_curve_csv(path, *, n_params: int = 1):
    """Read and validate a curve from CSV: a header line naming the columns v, P_LZ and
    optionally sigma (any order; other columns are ignored), then one row per point.

    Returns (v, P, sigma or None). Every problem raises a ``ValueError`` with the file name and
    line: unreadable file, missing column, a row with the wrong number of fields, a value that
    is not a number, and everything :func:`validate_curve` checks. Nothing is fitted here.
    """
    name = os.fspath(path)
    try:
        with open(name, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read data file {name!r}: {getattr(error, 'strerror', None) or error}") from None
    numbered = [
        (i + 1, [c.strip() for c in row])
        for i, row in enumerate(rows)
        if row and any(c.strip() for c in row) and not row[0].lstrip().startswith("#")
    ]
    if not numbered:
        raise ValueError(f"{name}: empty file (expected a header line v,P_LZ[,sigma] and data rows)")
    header_line, header = numbered[0]
    columns = {}
    for j, col in enumerate(header):
        key = col.lower()
        if key in ("v", "p_lz", "sigma"):
            if key in columns:
                raise ValueError(f"{name} line {header_line}: column {col!r} appears twice")
            columns[key] = j
    missing = [c for c in ("v", "P_LZ") if c.lower() not in columns]
    if missing:
        raise ValueError(
            f"{name} line {header_line}: missing column(s) {', '.join(missing)} in the header "
            f"(expected v,P_LZ[,sigma]; got {','.join(header)})"
        )
    values = {key: [] for key in columns}
    for line, row in numbered[1:]:
        if len(row) != len(header):
            raise ValueError(f"{name} line {line}: {len(row)} field(s), the header has {len(header)}")
        for key, j in columns.items():
            try:
                values[key].append(float(row[j]))
            except ValueError:
                label = header[j]
                raise ValueError(f"{name} line {line}: {label} is not a number: {row[j]!r}") from None
    if not values["v"]:
        raise ValueError(f"{name}: no data rows after the header")
    return validate_curve(values["v"], values["p_lz"], values.get("sigma"), n_params=n_params, where=name)


# ---- result -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FitResult:
    """Outcome of :func:`fit_curve`.

    - `params`: every model parameter at the optimum (fitted and fixed): gamma, s, omega_c, T,
      theta, delta. `names`: the fitted ones, in the order of `covariance`.
    - `errors`: standard errors of the fitted parameters (Gauss-Newton or Hessian, see module).
    - `covariance`: (p, p) covariance of the fitted physical parameters.
    - `chi2`, `dof` (= N − p), `chi2_dof`: at the optimum (1 by construction when σ is estimated).
    - `sigma_estimated`: True when no σ was given; then `sigma` is the estimate σ̂ (a float),
      else None.
    - `iterations`: L-BFGS steps; `converged`: the stopping rule was met (see module);
      `loss_history`: χ² at the start and after each step (length iterations + 1).
    - `engine` ("neqb", "adt", "pt": the forward model's name), `engine_options` (for NEQB:
      n_steps, eps_max in units of Δ, window_tol; for an exact engine: dt, kmax, tmax and its
      own record, e.g. pt_tol, chi_max, taper for the process tensor); `start`: the best grid
      point; `model_error`: max |P_fixed window − P_solve_neqb| at the optimum (NEQB with
      check_model, else None); `warnings`: text; `family`: the spectral density's family
      (:func:`lzjax.spectral.family_of`: a name of :data:`lzjax.spectral.NAMED_FAMILIES`, a sum's
      parts' joined with "+") of a fit with ``bath=``, else None (the paper's).
    - `spec`, `consts`: the compiled model's static configuration (:class:`FitSpec`) and its
      constants (fixed parameters, window): with the data they are the arguments of
      :func:`chi2`, :func:`chi2_grid` and :func:`value_and_grad` (benchmarks, tests).
    """

    params: dict
    errors: dict
    covariance: np.ndarray
    names: tuple
    chi2: float
    dof: int
    chi2_dof: float
    iterations: int
    converged: bool
    loss_history: np.ndarray
    engine: str
    engine_options: dict
    sigma_estimated: bool
    sigma: float | None
    start: dict
    error_method: str
    model_error: float | None = None
    warnings: tuple = ()
    family: str | None = None
    spec: Any = dataclasses.field(default=None, repr=False, compare=False)
    consts: Any = dataclasses.field(default=None, repr=False, compare=False)

    def predict(self, v):
        """P_LZ of the fitted model (the same fixed-window engine) at sweep speeds `v`."""
        v = np.atleast_1d(np.asarray(v, dtype=np.float64))
        z = jnp.log(jnp.asarray([self.params[n] for n in self.names]))
        predict = _predict if _traced(self.spec) else _model
        return np.asarray(predict(z, jnp.asarray(v), self.consts, self.spec))

    def data(self, v, P, sigma=None) -> dict:
        """The data argument of :func:`chi2`, :func:`chi2_grid` and :func:`value_and_grad` for
        this fit's model (weights 1/σ, or 1 without σ)."""
        w = np.ones_like(np.asarray(v, dtype=np.float64)) if sigma is None else 1.0 / np.asarray(sigma)
        return {"v": jnp.asarray(v), "P": jnp.asarray(P), "w": jnp.asarray(w), "consts": self.consts}

    def to_dict(self) -> dict:
        """JSON-ready record: gamma, gamma_err, chi2_dof, iterations, converged, then an
        entry and an `_err` for every other fitted parameter, and the details."""
        out: dict[str, Any] = {} if self.family is None else {"family": self.family}
        for name in self.names:
            out[name] = float(self.params[name])
            out[f"{name}_err"] = float(self.errors[name])
        out.update(
            chi2_dof=float(self.chi2_dof),
            iterations=int(self.iterations),
            converged=bool(self.converged),
            chi2=float(self.chi2),
            dof=int(self.dof),
            fitted=list(self.names),
            covariance=np.asarray(self.covariance).tolist(),
            error_method=self.error_method,
            fixed={k: float(v) for k, v in self.params.items() if k not in self.names},
            engine=self.engine,
            engine_options={k: (v if isinstance(v, (int, str)) else float(v)) for k, v in self.engine_options.items()},
            sigma_estimated=bool(self.sigma_estimated),
            sigma=None if self.sigma is None else float(self.sigma),
            start={k: float(v) for k, v in self.start.items()},
            model_error=None if self.model_error is None else float(self.model_error),
            loss_history=[float(x) for x in self.loss_history],
            warnings=list(self.warnings),
        )
        return out


# ---- forward model and jitted cores ----------------------------------------------------------


class FitSpec(NamedTuple):
    """Static configuration of a fit's model: changing it compiles; everything else is an
    argument. `engine`: "neqb" or the exact engine's kernel (its configuration-free instance);
    `names`: the fitted parameters; `n_steps`: NEQB's window steps; `dt`, `memory` (the engine's
    run memory: k_max for the ADT, :class:`lzjax.quapi.engines.pt.PTSettings` for the process
    tensor), `tmax`: an exact engine's fixed settings; `bath`: None (the paper's Bath of gamma,
    s, omega_c, T) or (treedef, leaf names) of a spectral density (:func:`fittable`)."""

    engine: Any
    names: tuple
    n_steps: int = 0
    dt: float = 0.0
    memory: Any = 0
    tmax: float = 0.0
    bath: Any = None


def _traced(spec: FitSpec) -> bool:
    """Whether the model runs under jax.jit (NEQB and pure engines) or eagerly (host builds)."""
    return spec.engine == "neqb" or spec.engine.fit_traced


def _parameters(z, consts, names):
    params = dict(consts["base"])
    for i, name in enumerate(names):
        params[name] = jnp.exp(z[i])
    return params


def _problem(params, v, bath=None):
    """The problem of `params` at speed(s) `v`; `bath` the spec's (None: the paper's Bath)."""
    if bath is None:
        return LZProblem(
            Drive(v, params["delta"]),
            Bath(params["gamma"], params["s"], params["omega_c"], params["T"]),
            params["theta"],
        )
    treedef, names = bath
    density = jax.tree_util.tree_unflatten(treedef, [params[n] for n in names])
    return LZProblem(Drive(v, params["delta"]), density, params["theta"])


def _point(params, v, eps_max, spec: FitSpec):
    """NEQB's P_LZ at one sweep speed (per-point pure function; vmapped over v)."""
    return neqb_probabilities(_problem(params, v, spec.bath), eps_max, spec.n_steps)[0]


def _exact_point(params, v, spec: FitSpec):
    """A pure exact engine's P_LZ at one sweep speed (fixed settings; vmapped over v)."""
    problem = _problem(params, v, spec.bath)
    return quapi_probabilities(problem, dt=spec.dt, kmax=spec.memory, tmax=spec.tmax, engine=spec.engine)[0]


def _model(z, v, consts, spec):
    """P_LZ at the sweep speeds `v`: NEQB or a pure exact engine per point (vmapped), or the
    model of an engine that builds on the host (``engine.fit_model``, eager, the batch at once)."""
    params = _parameters(z, consts, spec.names)
    if spec.engine == "neqb":
        return jax.vmap(lambda vi: _point(params, vi, consts["eps_max"], spec))(v)
    if spec.engine.fit_traced:
        return jax.vmap(lambda vi: _exact_point(params, vi, spec))(v)
    return spec.engine.fit_model(_problem(params, v, spec.bath), spec.dt, spec.tmax, spec.memory)


def _residuals(z, data, spec):
    return (_model(z, data["v"], data["consts"], spec) - data["P"]) * data["w"]


def chi2(z, data, spec):
    """χ² at log-parameters `z` (p,) for `data` ({"v", "P", "w", "consts"}, see
    :meth:`FitResult.data`) and the model `spec` (:class:`FitSpec`). Pure, not jitted."""
    r = _residuals(z, data, spec)
    return jnp.sum(r * r)


def _optimizer():
    """optax L-BFGS direction and memory; the line search runs on the host (see `_line_search`).
    optax is imported here, not with lzjax (a command-line call that fits nothing skips it)."""
    import optax

    return optax.lbfgs(memory_size=10, linesearch=None)


@partial(jax.jit, static_argnames=("spec",))
def chi2_grid(z_grid, data, spec):
    """χ² at each row of `z_grid` (m, p), one vmapped call (jitted once per `spec`)."""
    return jax.vmap(lambda z: chi2(z, data, spec))(z_grid)


@jax.jit
def lbfgs_init(z):
    """The L-BFGS memory (optax) at the start point `z`."""
    return _optimizer().init(z)


@jax.jit
def lbfgs_direction(grad, state, z):
    """L-BFGS search direction −H⁻¹∇χ² (optax) and the updated memory."""
    return _optimizer().update(grad, state, z)


@partial(jax.jit, static_argnames=("spec",))
def value_and_grad(z, data, spec):
    """(χ², ∇_z χ², J, r) from one forward-mode pass: J = ∂r/∂z (``jax.jacfwd``), ∇χ² = 2 Jᵀr.

    With p ≤ 3 parameters forward mode is the cheap direction: on the 32-point benchmark one
    call costs ~0.07 s against ~0.4 s for ``jax.value_and_grad`` (reverse mode through the
    scans), and it compiles faster; the same J gives the Gauss-Newton error bars.
    """
    r = lambda x: (lambda out: (out, out))(_residuals(x, data, spec))  # noqa: E731
    jac, res = jax.jacfwd(r, has_aux=True)(z)
    return jnp.sum(res * res), 2.0 * (jac.T @ res), jac, res


def _line_search(z, value, grad, direction, data, spec, *, c1=1e-4, c2=0.9, max_steps=30):
    """Weak-Wolfe line search by bracketing and bisection (Lewis & Overton), on the host.

    Every trial point costs one call of the compiled χ² value-and-gradient, whose gradient is
    the next L-BFGS step's input; running this loop on the host (rather than optax's jitted zoom
    line search) means the loss and its gradient are traced and compiled once, not three times.
    Returns (z, value, grad, accepted).
    """
    slope = float(jnp.vdot(grad, direction))
    if not slope < 0:  # not a descent direction: fall back to steepest descent
        direction = -grad / max(float(jnp.max(jnp.abs(grad))), 1e-300)
        slope = float(jnp.vdot(grad, direction))
    lo, hi, alpha = 0.0, math.inf, 1.0
    best = None
    for _ in range(max_steps):
        trial = z + alpha * direction
        f_new, g_new, _, _ = _loss_and_grad(trial, data, spec)
        f_new = float(f_new)
        if math.isfinite(f_new) and f_new < value and (best is None or f_new < best[1]):
            best = (trial, f_new, g_new)
        if not math.isfinite(f_new) or f_new > value + c1 * alpha * slope:
            hi = alpha
        elif float(jnp.vdot(g_new, direction)) < c2 * slope:
            lo = alpha
        else:
            return trial, f_new, g_new, True
        alpha = 0.5 * (lo + hi) if math.isfinite(hi) else 2.0 * lo
    if best is not None:  # Wolfe not met within max_steps, but χ² decreased: take the best point
        return (*best, True)
    return z, value, grad, False


def _eager_chi2_grid(z_grid, data, spec):
    """χ² at each grid row through an eager model (a host loop; inf where the model refuses the
    point, e.g. a process tensor whose compression fails)."""
    out = []
    for z in z_grid:
        try:
            out.append(float(chi2(z, data, spec)))
        except ValueError:
            out.append(math.inf)
    return np.asarray(out)


def _eager_value_and_grad(z, data, spec):
    """:func:`value_and_grad` through an eager model (jacfwd outside jit; χ² = inf where the
    model refuses the point, which the line search treats as too far)."""

    def r(x):
        out = _residuals(x, data, spec)
        return out, out

    try:
        jac, res = jax.jacfwd(r, has_aux=True)(z)
    except ValueError:
        res = jnp.full(data["v"].shape, jnp.nan)
        return jnp.inf, jnp.full_like(z, jnp.nan), jnp.full(res.shape + z.shape, jnp.nan), res
    return jnp.sum(res * res), 2.0 * (jac.T @ res), jac, res


def _loss_and_grad(z, data, spec):
    """(χ², ∇χ², J, r) of the spec's model: jitted, or eagerly for an engine that builds on the host."""
    return value_and_grad(z, data, spec) if _traced(spec) else _eager_value_and_grad(z, data, spec)


@partial(jax.jit, static_argnames=("spec",))
def _hessian(z, data, spec):
    return jax.hessian(chi2)(z, data, spec)


@partial(jax.jit, static_argnames=("spec",))
def _predict(z, v, consts, spec):
    return _model(z, v, consts, spec)


@jax.jit
def _windows(v, gamma, s, omega_c, T, theta, delta, tol):
    def one(vi):
        problem = dimensionless(LZProblem(Drive(vi, delta), Bath(gamma, s, omega_c, T), theta))
        return window_eps_max(problem, tol)[1]

    return jax.vmap(one)(v) * delta


@partial(jax.jit, static_argnames=("bath",))
def _family_windows(v, params, tol, bath):
    def one(vi):
        return window_eps_max(dimensionless(_problem(params, vi, bath)), tol)[1]

    return jax.vmap(one)(v) * params["delta"]


def _neqb_window(v, params, tol, bath=None):
    """The largest NEQB window over the speeds `v` at `params` (units of Δ)."""
    if bath is not None:
        values = {k: jnp.asarray(x) for k, x in params.items()}
        return float(jnp.max(_family_windows(jnp.asarray(v), values, tol, bath)))
    p = params
    return float(
        jnp.max(_windows(jnp.asarray(v), p["gamma"], p["s"], p["omega_c"], p["T"], p["theta"], p["delta"], tol))
    )


# ---- the public call ---------------------------------------------------------------------------


def _paper_values(bath, s, omega_c, T, gamma0):
    """s, omega_c, T, gamma0 of a fit given a :class:`Bath` as `bath` (none given twice)."""
    given = [n for n, x in (("s", s), ("omega_c", omega_c), ("T", T), ("gamma0", gamma0)) if x is not None]
    if given:
        raise ValueError(f"bath= holds the model's parameters and start values: drop {', '.join(given)}")
    values = [float(np.asarray(x, dtype=np.float64).reshape(())) for x in (bath.s, bath.omega_c, bath.T, bath.gamma)]
    return values[0], values[1], values[2], values[3] or None


def _positive_float(name, value, *, allow_zero=False):
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(x) or x < 0 or (x == 0 and not allow_zero):
        raise ValueError(f"{name} must be finite and {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return x


def fit_engine(engine, engine_options: dict | None = None):
    """The forward model of a fit: ("neqb" or a configured exact engine, its engine_options).

    `engine`: "neqb"; an exact engine of :data:`lzjax.quapi.ENGINES` by name ("pt", "adt") or
    configured (``PT(pt_tol=1e-7)``); or the deprecated "quapi" (a DeprecationWarning), mapped
    as in the previous release: the process tensor ``PT(pt_tol=..., chi_max=...)`` when
    `engine_options` hold pt_tol, else the plain ADT. ValueError naming an unknown engine."""
    options = dict(engine_options or {})
    if isinstance(engine, str) and engine == "neqb":
        return "neqb", options
    if isinstance(engine, str) and engine == "quapi":
        _warnings.warn(
            "fit_curve(engine='quapi') is deprecated: pass engine='pt' or a configured "
            "lzjax.quapi.PT(pt_tol=..., chi_max=...) for the process tensor, engine='adt' for the plain ADT",
            DeprecationWarning,
            stacklevel=3,
        )
        if "pt_tol" in options:
            return PT(pt_tol=options.pop("pt_tol"), chi_max=options.pop("chi_max", PT.chi_max)), options
        stray = sorted({"chi_max", "taper"} & set(options))
        if stray:
            raise ValueError(f"engine_options {stray} need pt_tol (the process tensor)")
        return ADT(), options
    if isinstance(engine, str) and engine not in ENGINES:
        raise ValueError(
            f"engine must be 'neqb' or an exact engine ({', '.join(map(repr, ENGINES))}, or a configured "
            f"one such as lzjax.quapi.PT(...)), got {engine!r}"
        )
    engine = get_engine(engine)
    if not callable(getattr(engine, "fixed_memory", None)):
        raise ValueError(
            f"engine {getattr(engine, 'name', engine)!r} has no fixed settings for a fit "
            "(fixed_options, fixed_memory, fixed_record, fit_traced and, unless traced, fit_model)"
        )
    return engine, options


def _engine_spec(engine, names, options):
    """(FitSpec, NEQB options) of a resolved engine (:func:`fit_engine`); every setting checked."""
    if engine == "neqb":
        unknown = set(options) - {"n_steps", "eps_max", "window_tol"}
        if unknown:
            raise ValueError(
                f"engine_options for neqb: unknown {sorted(unknown)} (accepted: n_steps, eps_max, window_tol)"
            )
        n_steps = check_integer("n_steps", options.get("n_steps", 512), 16, 65536)
        window_tol = options.get("window_tol", 1e-7)
        if not (isinstance(window_tol, (int, float)) and 1e-12 <= window_tol <= 1e-2):
            raise ValueError(f"window_tol must be in [1e-12, 1e-2], got {window_tol!r}")
        eps_max = options.get("eps_max")
        if eps_max is not None:
            eps_max = _positive_float("eps_max", eps_max)
        return FitSpec("neqb", names, n_steps=int(n_steps)), {"eps_max": eps_max, "window_tol": float(window_tol)}
    accepted = ("dt", "kmax", "tmax", *engine.fixed_options)
    unknown = set(options) - set(accepted)
    missing = {"dt", "tmax"} - set(options)
    if unknown or missing:
        raise ValueError(
            f"engine {engine.name!r} needs engine_options with dt and tmax and the memory kmax (fixed "
            f"settings; accepted: {', '.join(accepted)}); missing {sorted(missing)}, unknown {sorted(unknown)}"
        )
    dt, tmax = _positive_float("dt", options["dt"]), _positive_float("tmax", options["tmax"])
    extra = {k: options[k] for k in engine.fixed_options if k in options}
    memory = engine.fixed_memory(dt, options.get("kmax"), **extra)  # the engine names a bad setting
    check_step_count(dt, tmax, engine.head(memory) + 1)
    return FitSpec(engine.kernel, names, dt=dt, memory=memory, tmax=tmax), {}


def check_engine_options(engine, options: dict | None) -> None:
    """ValueError naming the setting and its range when `engine_options` for `engine` (as
    :func:`fit_curve` takes it) are not what :func:`fit_curve` accepts (the same check it runs first)."""
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore", DeprecationWarning)
        resolved, options = fit_engine(engine, options)
    _engine_spec(resolved, ("gamma",), options)


def _leaf_names(bath) -> tuple[tuple[Any, tuple[str, ...]], dict[str, float]]:
    """((treedef, a name per leaf), {name: value}) of a spectral density: a leaf's field name,
    with [i] for part i of a sum ([i][j] nested); every temperature is the one "T"."""
    leaves, treedef = jax.tree_util.tree_flatten(bath)
    names = leaf_names(bath)
    values = {n: float(np.asarray(x, dtype=np.float64).reshape(())) for n, x in zip(names, leaves, strict=True)}
    return (treedef, names), values


def fittable(bath) -> tuple[str, ...]:
    """The parameters of a spectral density that :func:`fit_curve` (``bath=``) can fit, in the
    order of its leaves: its fields (a sum's parts' with [i]: "gamma[0]", "lam[1]"), one "T",
    not a table's internal "unit" (e.g. ("lam", "gamma_d", "T") for Drude-Lorentz)."""
    if not isinstance(bath, SpectralDensity):
        raise ValueError(f"bath must be a spectral density of lzjax.spectral, got {type(bath).__name__}")
    names = _leaf_names(bath)[0][1]
    return tuple(dict.fromkeys(n for n in names if not n.startswith("unit")))


def _couplings(bath, leaf_names) -> set[str]:
    """The leaves `bath.scaled` multiplies (γ, λ, a table's scale): found on a copy with every leaf 1."""
    treedef, names = leaf_names
    ones = jax.tree_util.tree_unflatten(treedef, [1.0] * len(names))
    scaled = jax.tree_util.tree_leaves(ones.scaled(2.0))
    return {n for n, x in zip(names, scaled, strict=True) if float(x) == 2.0}


def _fit_names(fit, accepted) -> tuple[str, ...]:
    """The fitted names, distinct, among `accepted`, in its order."""
    if isinstance(fit, str):
        fit = tuple(x.strip() for x in fit.split(","))
    names = tuple(fit)
    if not names or len(set(names)) != len(names) or any(n not in accepted for n in names):
        raise ValueError(f"fit must be a non-empty list of distinct names from {tuple(accepted)}, got {fit!r}")
    return tuple(n for n in accepted if n in names)  # canonical order


def _check_family_arguments(v, P, sigma, fit, engine, bath, theta, delta, gamma0, gamma_grid, s, omega_c, T):
    """Phase 1 of a fit with ``bath=`` (after the common checks); returns (names, v, P, sigma,
    base, (treedef, leaf names), couplings)."""
    paper = {"s": s, "omega_c": omega_c, "T": T, "gamma0": gamma0, "gamma_grid": gamma_grid}
    given = [n for n, x in paper.items() if x is not None]
    if given:
        raise ValueError(f"bath= holds the model's parameters and start values: drop {', '.join(given)}")
    names = _fit_names(fit, fittable(bath))
    v, P, sigma = validate_curve(v, P, sigma, n_params=len(names))
    leaf_names, values = _leaf_names(bath)
    problem = LZProblem(Drive(v, delta), bath, theta)  # names bad ranges of theta, delta and scales
    for n in names:
        if not values[n] > 0:
            raise ValueError(f"{n} must be > 0 to be fitted (it is fitted as log {n}); got {n} = {values[n]:g}")
    if engine == "neqb":
        check_neqb_validity(problem)
    base = dict(values, theta=float(theta), delta=float(delta))
    return names, v, P, sigma, base, leaf_names, _couplings(bath, leaf_names)


def _check_common(error_method, max_iter, ftol, gtol) -> None:
    check_choice("error_method", error_method, ("gauss-newton", "hessian"))
    check_integer("max_iter", max_iter, 1)
    for name, tol in (("ftol", ftol), ("gtol", gtol)):
        if not (isinstance(tol, (int, float)) and not isinstance(tol, bool) and 0 < tol < 1):
            raise ValueError(f"{name} must be in (0, 1), got {tol!r}")


def _check_arguments(
    v, P, sigma, fit, engine, error_method, max_iter, ftol, gtol, gamma0, gamma_grid, s, omega_c, T, theta, delta
):
    """Phase 1: every input checked in plain Python; returns the canonical pieces."""
    names = _fit_names(fit, FITTABLE)
    _check_common(error_method, max_iter, ftol, gtol)
    missing = [n for n, x in (("s", s), ("omega_c", omega_c), ("T", T)) if x is None]
    if missing:
        raise ValueError(f"{', '.join(missing)} required (the model's parameters), or bath= a spectral density")
    v, P, sigma = validate_curve(v, P, sigma, n_params=len(names))
    if gamma0 is None and "gamma" not in names:
        raise ValueError("gamma0 (the fixed γ) is required when gamma is not fitted")
    if gamma0 is not None:
        gamma0 = _positive_float("gamma0", gamma0, allow_zero="gamma" not in names)
    grid_gamma = np.asarray(GAMMA_GRID if gamma_grid is None else gamma_grid, dtype=np.float64).ravel()
    if grid_gamma.size == 0 or np.any(~np.isfinite(grid_gamma)) or np.any(grid_gamma <= 0):
        raise ValueError(f"gamma_grid must be finite values > 0, got {gamma_grid!r}")
    base = {
        "gamma": 1e-3 if gamma0 is None else gamma0,
        "s": s,
        "omega_c": omega_c,
        "T": T,
        "theta": theta,
        "delta": delta,
    }
    problem = LZProblem(Drive(v, delta), Bath(base["gamma"], s, omega_c, T), theta)  # names bad ranges
    base = {k: float(x) for k, x in base.items()}
    if "T" in names and base["T"] <= 0:
        raise ValueError("T must be > 0 to be fitted (it is fitted as log T); got T = 0")
    if engine == "neqb":
        check_neqb_validity(problem)
    return names, v, P, sigma, gamma0, grid_gamma, base


def _upper(names, base, grid_gamma, gamma0, couplings):
    """The parameters at the upper end of what the fit may visit (the NEQB window's)."""
    if couplings is None:  # the paper's Bath
        upper = dict(base, gamma=max(_GAMMA_HI, float(grid_gamma.max()), 10.0 * (gamma0 or 0.0)))
        for n in ("omega_c", "T"):
            if n in names:
                upper[n] = _RANGE_FACTOR * base[n]
        return upper
    upper = dict(base)
    for n in names:
        upper[n] = base[n] * (max(_COUPLING_GRID) if n in couplings else _RANGE_FACTOR)
    return upper


def _fixed_window(engine, spec, names, base, v, grid_gamma, gamma0, neqb_opts, couplings=None):
    """Phase 2: the NEQB window covering every parameter the fit may visit (0 for an exact
    engine), and the settings recorded (`engine_options` of the result)."""
    if engine != "neqb":
        info = {"dt": spec.dt, "kmax": None, "tmax": spec.tmax}
        info.update(engine.fixed_record(spec.memory))  # kmax and the engine's own settings
        return 0.0, info
    info = {"n_steps": spec.n_steps}
    upper = _upper(names, base, grid_gamma, gamma0, couplings)
    eps_max = neqb_opts["eps_max"] or _neqb_window(v, upper, neqb_opts["window_tol"], spec.bath)
    info.update(eps_max=eps_max, window_tol=neqb_opts["window_tol"])
    return eps_max, info


def _start_axes(names, base, grid_gamma, gamma0, couplings):
    """The start grid's values of each fitted parameter (see module)."""
    axes = []
    for n in names:
        if couplings is not None and n in couplings:
            values = base[n] * np.append(_COUPLING_GRID, 1.0)
        elif couplings is None and n == "gamma":
            values = grid_gamma if gamma0 is None else np.append(grid_gamma, gamma0)
        else:
            values = base[n] * np.asarray(_FACTOR_GRID)
        axes.append(values)
    return axes


def _start(names, values, data, spec):
    """Phase 3: χ² on the coarse start grid (`values`: each fitted parameter's) in one vmapped
    call; the best point and warnings."""
    axes = [np.log(x) for x in values]
    z_grid = np.stack([g.ravel() for g in np.meshgrid(*axes, indexing="ij")], axis=-1)
    grid = chi2_grid if _traced(spec) else _eager_chi2_grid
    values = np.asarray(grid(jnp.asarray(z_grid), data, spec))
    if not np.any(np.isfinite(values)):
        raise ValueError("the model gives no finite χ² on the start grid (check the fixed parameters)")
    best = int(np.nanargmin(np.where(np.isfinite(values), values, np.inf)))
    start = {n: float(math.exp(z_grid[best, i])) for i, n in enumerate(names)}
    warnings = [
        f"the best start value of {n} ({start[n]:.3g}) is at the edge of the start grid"
        for i, n in enumerate(names)
        if len(np.unique(z_grid[:, i])) > 1 and z_grid[best, i] in (z_grid[:, i].min(), z_grid[:, i].max())
    ]
    return jnp.asarray(z_grid[best]), start, warnings


def _minimise(z, data, spec, max_iter, ftol, gtol, chi2_floor, warnings, bar):
    """Phase 4: L-BFGS (optax direction, host line search); returns (z, history, iterations, converged).
    `bar` (:func:`lzjax.progress.progress_bar`) is advanced once per iteration."""
    state = lbfgs_init(z)
    value, grad, _, _ = _loss_and_grad(z, data, spec)
    value = float(value)
    history = [value]
    converged, iterations = False, 0
    for iterations in range(1, max_iter + 1):  # noqa: B007  (the count is returned after the loop)
        direction, state = lbfgs_direction(grad, state, z)
        z, value, grad, moved = _line_search(z, value, grad, direction, data, spec)
        previous = history[-1]
        history.append(value)
        bar.set_postfix(f"chi2 {value:.4g}")
        bar.update(1)
        change = abs(previous - value) / max(previous, chi2_floor)
        gnorm = float(jnp.max(jnp.abs(grad))) / max(value, chi2_floor)
        if change <= ftol and gnorm <= gtol:
            converged = True
            break
        if not moved:
            warnings.append("the line search found no lower χ² (stopped)")
            break
    if not converged and iterations == max_iter and not any("line search" in w for w in warnings):
        warnings.append(f"not converged after max_iter = {max_iter} steps")
    return z, history, iterations, converged


def _error_bars(z, data, spec, names, chi2, dof, sigma, error_method, warnings):
    """Phase 5: Gauss-Newton (or Hessian) covariance of the physical parameters at the optimum.

    Returns (covariance, errors, chi2_dof, sigma_hat, residuals or None)."""
    theta_hat = np.exp(np.asarray(z))
    if error_method == "gauss-newton":
        jac, residuals = (np.asarray(a) for a in _loss_and_grad(z, data, spec)[2:])
        curvature = jac.T @ jac
    else:
        curvature = 0.5 * np.asarray(_hessian(z, data, spec))
        residuals = None
    try:
        cov_z = np.linalg.inv(curvature)
    except np.linalg.LinAlgError:
        cov_z = np.full_like(curvature, np.nan)
        warnings.append("the curvature matrix of χ² is singular: parameters not identifiable from these data")
    if sigma is None:
        sigma_hat = math.sqrt(chi2 / dof)
        cov_z = cov_z * sigma_hat**2
        chi2_dof = 1.0
    else:
        sigma_hat = None
        chi2_dof = chi2 / dof
    covariance = theta_hat[:, None] * cov_z * theta_hat[None, :]
    if np.any(np.diag(covariance) < 0):
        warnings.append("the curvature of χ² is not positive definite at the end point")
    errors = {
        n: float(math.sqrt(covariance[i, i])) if covariance[i, i] >= 0 else float("nan") for i, n in enumerate(names)
    }
    return covariance, errors, chi2_dof, sigma_hat, residuals


def _check_neqb_model(
    z, data, spec, params, v, P, w, sigma, sigma_hat, eps_max, neqb_opts, check_model, residuals, warnings
):
    """Phase 6 (NEQB): the window needed at the optimum, and the fixed-window model against
    the converged :func:`lzjax.neqb.solve_neqb` (returns `model_error` or None): on the given
    window when engine_options holds eps_max (the window's own error is the warning before),
    else on solve_neqb's automatic one."""
    needed = _neqb_window(v, params, neqb_opts["window_tol"], spec.bath)
    if needed > eps_max * (1 + 1e-12):
        warnings.append(
            f"the fitted parameters need a window eps_max = {needed:.4g} > the fixed {eps_max:.4g}; "
            "refit with engine_options eps_max"
        )
    if not check_model:
        return None
    window = {} if neqb_opts["eps_max"] is None else {"eps_max": eps_max}
    converged_model = solve_neqb(_problem(params, v, spec.bath), tol=1e-6, **window)
    if residuals is None:
        residuals = np.asarray(_residuals(z, data, spec))
    p_fixed = residuals / w + P
    model_error = float(np.max(np.abs(p_fixed - converged_model.P_LZ)))
    sigma_min = float(np.min(sigma)) if sigma is not None else sigma_hat
    if model_error > 0.1 * sigma_min:
        warnings.append(
            f"the fixed-window NEQB model differs from solve_neqb by {model_error:.2g} "
            f"> sigma/10 = {0.1 * sigma_min:.2g}; raise engine_options n_steps"
        )
    return model_error


def fit_curve(
    v,
    P,
    sigma=None,
    *,
    s=None,
    omega_c=None,
    T=None,
    bath=None,
    theta=0.0,
    delta=1.0,
    gamma0=None,
    fit=("gamma",),
    engine: Any = "neqb",
    engine_options: dict | None = None,
    gamma_grid=None,
    max_iter: int = 100,
    ftol: float = 1e-9,
    gtol: float = 1e-5,
    error_method: str = "gauss-newton",
    check_model: bool = True,
    progress: bool = False,
) -> FitResult:
    """Fit γ (and optionally ω_c and/or T), or any parameter of another spectral density, to a
    measured curve P_LZ(v).

    **Arguments:**
    - `v`, `P`, `sigma`: sweep speeds (Δ²), measured P_LZ, optional standard deviations (1-D,
      same length; validated by :func:`validate_curve`). Without `sigma`, σ is estimated from
      the residuals.
    - `s`, `omega_c`, `T`, `theta`, `delta`: the model's known parameters (Δ units; Θ in
      radians). `omega_c` and `T` are the start values of those that are fitted.
    - `bath`: instead of s, omega_c, T (and gamma0, gamma_grid): a spectral density of
      :mod:`lzjax.spectral` whose values are the start values of the fitted parameters and
      the fixed ones of the rest (see module, "Other spectral densities").
    - `gamma0`: optional start value of γ, added to the start grid; the fixed γ when
      "gamma" is not fitted.
    - `fit`: names of the fitted parameters, a subset of ("gamma", "omega_c", "T"), or with
      `bath` of :func:`fittable` (e.g. ("lam",) for Drude-Lorentz).
    - `engine`: "neqb" (default), or an exact engine of :data:`lzjax.quapi.ENGINES` by name
      ("pt", "adt") or configured (``PT(pt_tol=1e-7, chi_max=64)``, ``ADT()``), as
      :func:`lzjax.quapi.converge_quapi` takes it; "quapi" is the deprecated spelling (see
      :func:`fit_engine`). `engine_options`: for neqb n_steps (default 512), eps_max (default:
      automatic, see module), window_tol (1e-7); for an exact engine its fixed settings dt,
      tmax and kmax (memory steps; the process tensor's default round(memory_time/dt)), and
      the process tensor's taper (default 0) (see module).
    - `gamma_grid`: start-grid values of γ (default 16 log-spaced in [1e-6, 1e-1]).
    - `max_iter`, `ftol`, `gtol`: the stopping rule (see module).
    - `error_method`: "gauss-newton" (default) or "hessian".
    - `check_model`: NEQB only: compare the fixed-window model with ``solve_neqb`` (tol 1e-6)
      at the optimum and report `model_error`.
    - `progress`: progress on stderr (:func:`lzjax.progress.progress_bar`): the phase (fixed
      window, start grid, L-BFGS, error bars, model check) and the L-BFGS iterations (total
      `max_iter`) with rate and ETA. Off a terminal: nothing for a fit shorter than 10 s.

    Every input is checked before anything is computed. Phases: check, fixed window, start
    grid, L-BFGS, error bars, model check (one private function each).
    """
    engine, engine_options = fit_engine(engine, engine_options)
    if bath is None or isinstance(bath, Bath):  # the paper's family (a Bath: its values as s, omega_c, T, gamma0)
        if bath is not None:
            s, omega_c, T, gamma0 = _paper_values(bath, s, omega_c, T, gamma0)
        checks = (error_method, max_iter, ftol, gtol, gamma0, gamma_grid, s, omega_c, T, theta, delta)
        names, v, P, sigma, gamma0, grid_gamma, base = _check_arguments(v, P, sigma, fit, engine, *checks)
        leaf_names, couplings, family = None, None, None
    else:
        _check_common(error_method, max_iter, ftol, gtol)
        names, v, P, sigma, base, leaf_names, couplings = _check_family_arguments(
            v, P, sigma, fit, engine, bath, theta, delta, gamma0, gamma_grid, s, omega_c, T
        )
        grid_gamma, family = None, family_of(bath)
    spec, neqb_opts = _engine_spec(engine, names, engine_options)
    spec = spec._replace(bath=leaf_names)
    if not _traced(spec) and error_method == "hessian":
        raise ValueError(
            f"error_method='hessian' needs second derivatives, which engine {engine.name!r} does not give "
            "(its model builds on the host: first derivatives only); use 'gauss-newton'"
        )
    with progress_bar(max_iter, check_bool("progress", progress), "lzjax fit", unit="iteration") as bar:
        bar.phase(f"lzjax fit: fixed window ({len(v)} rows)")
        eps_max, engine_info = _fixed_window(engine, spec, names, base, v, grid_gamma, gamma0, neqb_opts, couplings)

        w = np.ones_like(v) if sigma is None else 1.0 / sigma
        consts = {"base": {k: jnp.asarray(x) for k, x in base.items()}, "eps_max": jnp.asarray(eps_max)}
        data = {"v": jnp.asarray(v), "P": jnp.asarray(P), "w": jnp.asarray(w), "consts": consts}
        dof = len(v) - len(names)
        chi2_floor = dof * _P_FLOOR**2 * float(np.mean(w**2))

        bar.phase(f"lzjax fit: start grid ({len(v)} rows)")
        z, start, warnings = _start(names, _start_axes(names, base, grid_gamma, gamma0, couplings), data, spec)
        bar.phase("lzjax fit: L-BFGS")
        z, history, iterations, converged = _minimise(z, data, spec, max_iter, ftol, gtol, chi2_floor, warnings, bar)
        chi2 = history[-1]
        bar.phase("lzjax fit: error bars", total=iterations)  # no more iterations: no ETA
        covariance, errors, chi2_dof, sigma_hat, residuals = _error_bars(
            z, data, spec, names, chi2, dof, sigma, error_method, warnings
        )
        params = dict(base)
        params.update({n: float(x) for n, x in zip(names, np.exp(np.asarray(z)), strict=False)})
        model_error = None
        if engine == "neqb":
            if check_model:
                bar.phase("lzjax fit: model check (solve_neqb)")
            model_error = _check_neqb_model(
                z, data, spec, params, v, P, w, sigma, sigma_hat, eps_max, neqb_opts, check_model, residuals, warnings
            )
        bar.set_description("lzjax fit")
        return FitResult(
            params=params,
            errors=errors,
            covariance=covariance,
            names=names,
            chi2=chi2,
            dof=dof,
            chi2_dof=chi2_dof,
            iterations=iterations,
            converged=converged,
            loss_history=np.asarray(history),
            engine=engine if engine == "neqb" else engine.name,
            engine_options=engine_info,
            sigma_estimated=sigma is None,
            sigma=sigma_hat,
            start=start,
            error_method=error_method,
            model_error=model_error,
            warnings=tuple(warnings),
            family=family,
            spec=spec,
            consts=consts,
        )
