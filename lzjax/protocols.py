"""Drive protocols ε(t) behind one interface, and the driven two-level system they act on.

Units: Δ = ħ = 1 (energies in Δ, times in 1/Δ). The infinite linear sweep is
:class:`lzjax.model.Drive` (ε = v t, t → ±∞; it keeps its own Δ and the asymptotic start and
read-out of the engines). The finite protocols here run over a window [t_start, t_end] and start
and end in the instantaneous eigenbasis at finite bias (no asymptotic correction):

- :class:`LinearSweep`: ε(t) = v t from ε_i to ε_f (t = ε_i/v … ε_f/v); its ε(t) is that of
  :class:`lzjax.model.LinearDrive`, the one linear-drive type it shares with :class:`Drive`;
- :class:`TanhSweep`: ε(t) = ε₀ + A tanh(t/τ) (speed A/τ at t = 0);
- :class:`PeriodicDrive`: ε(t) = ε₀ + A cos ωt (Landau-Zener-Stückelberg interferometry);
- :class:`TabulatedDrive`: samples (t_k, ε_k), natural cubic spline or linear interpolation;
- :class:`FunctionDrive`: any JAX-traceable ε(t) a user writes (ε̇ by automatic differentiation).

Every protocol is a frozen pytree dataclass with pure-jnp `epsilon(t)` and `depsilon(t)`,
validated eagerly (ValueError naming the parameter and its accepted range); `BATCHED` lists the
scalar fields that may carry a batch axis (broadcast together with the bath and Θ).
:class:`DrivenSystem` (drive, bath, theta) is the problem-like pytree the trajectory engines take.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .checks import check_range, is_traced, real_values
from .model import Drive, LinearDrive, SpectralDensity, pytree_dataclass, static_field

__all__ = [
    "LinearSweep",
    "TanhSweep",
    "PeriodicDrive",
    "TabulatedDrive",
    "FunctionDrive",
    "DrivenSystem",
    "PROTOCOLS",
    "is_protocol",
]


def _check_order(name_lo: str, lo, name_hi: str, hi) -> None:
    if is_traced(lo) or is_traced(hi):
        return
    a, b = np.broadcast_arrays(real_values(name_lo, lo), real_values(name_hi, hi))
    if np.any(a >= b):
        i = np.flatnonzero((a >= b).ravel())[0]
        raise ValueError(
            f"{name_hi} must be > {name_lo}; got {name_lo} = {a.ravel()[i]:g}, {name_hi} = {b.ravel()[i]:g}"
        )


@pytree_dataclass
class LinearSweep(LinearDrive):
    """Finite linear sweep ε(t) = v t from ε_i to ε_f (units Δ; times t = ε/v in 1/Δ).

    **Arguments:**
    - `v`: sweep speed (accepted: v > 0, finite; units Δ²).
    - `eps_start`, `eps_end`: bias at start and end (accepted: finite, eps_start < eps_end).
    """

    v: Any
    eps_start: Any
    eps_end: Any

    BATCHED = ("v", "eps_start", "eps_end")

    def __post_init__(self):
        check_range("v", self.v, lower=0.0, lower_open=True, meaning="sweep speed")
        check_range("eps_start", self.eps_start, meaning="bias at the start")
        check_range("eps_end", self.eps_end, meaning="bias at the end")
        _check_order("eps_start", self.eps_start, "eps_end", self.eps_end)

    @property
    def t_start(self):
        return self.eps_start / self.v

    @property
    def t_end(self):
        return self.eps_end / self.v


@pytree_dataclass
class TanhSweep:
    """Non-linear sweep ε(t) = ε₀ + A tanh(t/τ) over [t_start, t_end] (units Δ, 1/Δ).

    **Arguments:**
    - `amplitude`: A (accepted: A > 0, finite); the bias runs from ≈ ε₀ − A to ε₀ + A.
    - `tau`: time scale τ (accepted: τ > 0, finite); the speed at t = 0 is A/τ.
    - `t_start`, `t_end`: protocol window (accepted: finite, t_start < t_end).
    - `eps0`: offset ε₀ (accepted: finite; default 0).
    """

    amplitude: Any
    tau: Any
    t_start: Any
    t_end: Any
    eps0: Any = 0.0

    BATCHED = ("amplitude", "tau", "t_start", "t_end", "eps0")

    def __post_init__(self):
        check_range("amplitude", self.amplitude, lower=0.0, lower_open=True, meaning="tanh amplitude A")
        check_range("tau", self.tau, lower=0.0, lower_open=True, meaning="tanh time scale")
        check_range("t_start", self.t_start, meaning="start time")
        check_range("t_end", self.t_end, meaning="end time")
        check_range("eps0", self.eps0, meaning="bias offset")
        _check_order("t_start", self.t_start, "t_end", self.t_end)

    def epsilon(self, t):
        """ε(t) = ε₀ + A tanh(t/τ)."""
        return self.eps0 + self.amplitude * jnp.tanh(t / self.tau)

    def depsilon(self, t):
        """dε/dt = (A/τ) / cosh²(t/τ)."""
        return self.amplitude / self.tau / jnp.cosh(t / self.tau) ** 2


@pytree_dataclass
class PeriodicDrive:
    """Periodic drive ε(t) = ε₀ + A cos ωt over [t_start, t_end] (units Δ, 1/Δ).

    **Arguments:**
    - `eps0`: static bias ε₀ (accepted: finite).
    - `amplitude`: A (accepted: A ≥ 0, finite).
    - `omega`: angular frequency ω (accepted: ω > 0, finite; units Δ).
    - `t_start`, `t_end`: protocol window (accepted: finite, t_start < t_end).
    """

    eps0: Any
    amplitude: Any
    omega: Any
    t_start: Any
    t_end: Any

    BATCHED = ("eps0", "amplitude", "omega", "t_start", "t_end")

    def __post_init__(self):
        check_range("eps0", self.eps0, meaning="static bias")
        check_range("amplitude", self.amplitude, lower=0.0, meaning="drive amplitude A")
        check_range("omega", self.omega, lower=0.0, lower_open=True, meaning="drive frequency")
        check_range("t_start", self.t_start, meaning="start time")
        check_range("t_end", self.t_end, meaning="end time")
        _check_order("t_start", self.t_start, "t_end", self.t_end)

    def epsilon(self, t):
        """ε(t) = ε₀ + A cos ωt."""
        return self.eps0 + self.amplitude * jnp.cos(self.omega * t)

    def depsilon(self, t):
        """dε/dt = −A ω sin ωt."""
        return -self.amplitude * self.omega * jnp.sin(self.omega * t)


def _natural_spline_moments(t: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Second derivatives M_k of the natural cubic spline through (t_k, y_k) (Thomas algorithm)."""
    n = len(t)
    m = np.zeros(n)
    if n < 3:
        return m
    h = np.diff(t)
    sub, diag, sup = h[:-1].copy(), 2.0 * (h[:-1] + h[1:]), h[1:].copy()
    rhs = 6.0 * (np.diff(y[1:]) / h[1:] - np.diff(y[:-1]) / h[:-1])
    for i in range(1, n - 2):  # forward elimination
        w = sub[i] / diag[i - 1]
        diag[i] -= w * sup[i - 1]
        rhs[i] -= w * rhs[i - 1]
    inner = np.zeros(n - 2)
    inner[-1] = rhs[-1] / diag[-1]
    for i in range(n - 4, -1, -1):
        inner[i] = (rhs[i] - sup[i] * inner[i + 1]) / diag[i]
    m[1:-1] = inner
    return m


@pytree_dataclass
class TabulatedDrive:
    """User bias ε(t) from samples (t_k, ε_k), interpolated in jnp (units Δ, 1/Δ).

    Build it with :meth:`from_samples`. `kind="cubic"`: the natural cubic spline (ε, ε̇
    continuous); `"linear"`: piecewise linear (ε̇ jumps at the samples: the Magnus-4 steps
    lose their order there unless the grid contains the sample times). Outside [t_0, t_n] the
    end pieces extrapolate; protocols run over [t_start, t_end] = [t_0, t_n].
    Fields: `times` (n,), `values` (n,), `moments` (n,) (spline second derivatives; 0 for linear).
    """

    times: Any
    values: Any
    moments: Any

    BATCHED = ()

    @classmethod
    def from_samples(cls, times, values, kind: str = "cubic") -> TabulatedDrive:
        """Validated samples: times strictly increasing and finite, values finite, ≥ 2 samples."""
        t = real_values("times", times)
        y = real_values("values", values)
        if t.ndim != 1 or t.size < 2:
            raise ValueError(f"times must be a 1-D array of at least 2 samples, got shape {t.shape}")
        if y.shape != t.shape:
            raise ValueError(f"values must have the shape of times {t.shape}, got {y.shape}")
        if not np.all(np.isfinite(t)):
            raise ValueError("times must be finite (accepted: finite, strictly increasing)")
        if not np.all(np.diff(t) > 0):
            i = int(np.flatnonzero(np.diff(t) <= 0)[0])
            raise ValueError(
                f"times must be strictly increasing; times[{i}] = {t[i]:g} >= times[{i + 1}] = {t[i + 1]:g}"
            )
        if not np.all(np.isfinite(y)):
            i = int(np.flatnonzero(~np.isfinite(y))[0])
            raise ValueError(f"values must be finite (the bias epsilon(t)); values[{i}] = {y[i]!r}")
        if kind not in ("cubic", "linear"):
            raise ValueError(f"kind must be 'cubic' or 'linear', got {kind!r}")
        m = _natural_spline_moments(t, y) if kind == "cubic" else np.zeros_like(t)
        return cls(times=jnp.asarray(t), values=jnp.asarray(y), moments=jnp.asarray(m))

    @property
    def t_start(self):
        return self.times[0]

    @property
    def t_end(self):
        return self.times[-1]

    def _piece(self, t):
        t = jnp.asarray(t)
        i = jnp.clip(jnp.searchsorted(self.times, t, side="right") - 1, 0, self.times.shape[0] - 2)
        t0, t1 = self.times[i], self.times[i + 1]
        h = t1 - t0
        a, b = (t1 - t) / h, (t - t0) / h
        return a, b, h, self.values[i], self.values[i + 1], self.moments[i], self.moments[i + 1]

    def epsilon(self, t):
        """ε(t), interpolated."""
        a, b, h, y0, y1, m0, m1 = self._piece(t)
        return a * y0 + b * y1 + ((a**3 - a) * m0 + (b**3 - b) * m1) * h**2 / 6.0

    def depsilon(self, t):
        """dε/dt of the interpolant."""
        a, b, h, y0, y1, m0, m1 = self._piece(t)
        return (y1 - y0) / h + ((1.0 - 3.0 * a**2) * m0 + (3.0 * b**2 - 1.0) * m1) * h / 6.0


#: protocol name -> class (the CLI's --drive names; "linear" is the finite LinearSweep)
@pytree_dataclass
class FunctionDrive:
    """A user bias ε(t) (units Δ) over [t_start, t_end] (1/Δ): `function` maps a time (a JAX
    scalar) to ε with jnp operations (jit, vmap and grad pass through it); ε̇ = jax.grad of it.

    **Arguments:**
    - `function`: a pure, JAX-traceable callable t ↦ ε(t) (kept static: hashable, not traced).
    - `t_start`, `t_end`: protocol window (accepted: finite, t_start < t_end).
    - `n_check`: points of the grid on which ε(t) and ε̇(t) are checked when the drive is built
      (default 1001): both must be finite there, or the drive is refused in one line naming
      the first bad time — before any work.
    """

    t_start: Any
    t_end: Any
    function: Any = static_field(default=None)

    BATCHED = ()

    def __post_init__(self):
        if not callable(self.function):
            raise ValueError(f"function must be a callable t -> epsilon(t) (units delta), got {self.function!r}")
        check_range("t_start", self.t_start, meaning="start time")
        check_range("t_end", self.t_end, meaning="end time")
        _check_order("t_start", self.t_start, "t_end", self.t_end)
        if is_traced(self.t_start) or is_traced(self.t_end):
            return
        grid = np.linspace(float(np.min(self.t_start)), float(np.max(self.t_end)), 1001)
        try:
            eps = np.asarray(jax.vmap(self.epsilon)(jnp.asarray(grid)), dtype=float)
            rate = np.asarray(jax.vmap(self.depsilon)(jnp.asarray(grid)), dtype=float)
        except Exception as exc:  # noqa: BLE001 - any failure of the user's function, named
            raise ValueError(f"function (the drive epsilon(t)) failed on a JAX time array: {exc}") from exc
        if eps.shape != grid.shape:
            raise ValueError(f"function (the drive epsilon(t)) must map a scalar time to a scalar, got {eps.shape[1:]}")
        for name, values in (("epsilon(t)", eps), ("d epsilon/dt", rate)):
            bad = ~np.isfinite(values)
            if np.any(bad):
                t_bad = grid[int(np.flatnonzero(bad)[0])]
                raise ValueError(f"function (the drive): {name} is not finite at t = {t_bad:g} (1/delta)")

    def epsilon(self, t):
        """ε(t) = function(t)."""
        return jnp.asarray(self.function(t), dtype=float)

    def depsilon(self, t):
        """dε/dt by jax.grad (any shape of t)."""
        t = jnp.asarray(t, dtype=float)
        flat = jax.vmap(jax.grad(lambda x: self.epsilon(x)))(t.reshape(-1))
        return flat.reshape(t.shape)


PROTOCOLS = {
    "linear": LinearSweep,
    "tanh": TanhSweep,
    "periodic": PeriodicDrive,
    "tabulated": TabulatedDrive,
    "function": FunctionDrive,
}


def is_protocol(drive) -> bool:
    """True for a finite protocol of this module (not the infinite :class:`Drive`)."""
    return isinstance(drive, tuple(PROTOCOLS.values()))


@pytree_dataclass
class DrivenSystem:
    """The driven two-level system with its bath, in units Δ = 1 (a problem-like pytree).

    **Arguments:**
    - `drive`: a protocol of this module or a :class:`lzjax.model.Drive` with Δ = 1.
    - `bath`: a spectral density, :class:`lzjax.model.Bath` or a family of :mod:`lzjax.spectral`
      (energies, T in units of Δ).
    - `theta`: coupling angle Θ in radians (accepted: −π/2 < Θ ≤ π/2).
    """

    drive: Any
    bath: Any
    theta: Any = 0.0

    def __post_init__(self):
        if not (is_protocol(self.drive) or isinstance(self.drive, Drive)):
            raise ValueError(
                f"drive must be a Drive or one of {', '.join(c.__name__ for c in PROTOCOLS.values())}, "
                f"got {type(self.drive).__name__}"
            )
        if not isinstance(self.bath, SpectralDensity):
            raise ValueError(
                "bath must be a spectral density (lzjax.model.Bath or a family of lzjax.spectral), "
                f"got {type(self.bath).__name__}"
            )
        check_range(
            "theta",
            self.theta,
            lower=-math.pi / 2,
            upper=math.pi / 2,
            lower_open=True,
            meaning="coupling angle in radians",
        )
