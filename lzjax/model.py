"""Drive, bath and coupling parameters as validated pytrees.

Conventions (DESIGN.md §1): ħ = k_B = 1 and energies in units of the tunnel splitting Δ inside
the engines. Every public entry point accepts Δ ≠ 1 through :class:`Drive` and rescales with
:func:`dimensionless`: ε → ε/Δ, v → v/Δ², ω_c → ω_c/Δ, T → T/Δ; γ is already dimensionless.

    H(t) = Δ/2 σx + ε(t)/2 σz − (cosΘ σz + sinΘ σx)/2 · B + H_B
    G(ω) = γ Δ^(1−s)/π · ω^s · exp(−ω/ω_c)

Parameters are frozen dataclasses registered as pytrees: every field is a leaf, so jit, vmap
and grad pass through them. Validation runs eagerly in plain Python when a parameter set is
built from concrete numbers (and is skipped for tracers inside transformations).
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import jax
import jax.numpy as jnp
import numpy as np

from .checks import check_range, is_traced, parameter_values, real_values

if TYPE_CHECKING:  # tells type checkers that @pytree_dataclass builds (frozen) dataclasses
    from typing_extensions import dataclass_transform
else:  # at run time a no-op: no dependency on typing_extensions (typing has it only from 3.11)

    def dataclass_transform(**_kwargs):
        return lambda f: f


__all__ = [
    "V_RANGE",
    "LinearDrive",
    "Drive",
    "Bath",
    "SpectralDensity",
    "PowerLaw",
    "check_leaves",
    "LZProblem",
    "dimensionless",
    "flatten_problem",
    "check_problem",
    "pytree_dataclass",
    "static_field",
]


#: accepted sweep speeds v/Δ² (checked by :class:`Drive` before any work). Measured: NEQB runs and
#: converges at both ends (γ = 0 and 5e-4, T = 6.4: 1024 steps, |P − (1 − e^{−π/2v})| < 6e-10 at
#: v = 1e6 and 1e-14 at v = 1e-6); outside, the windows and rates run out of float64 (v = 1e300:
#: 10 s of work before "rates overflow"). NEQB claims its stated accuracy for 1e-3 ≤ v ≤ 1e2.
V_RANGE = (1e-6, 1e6)


def _check_scale(name: str, ratio: str, x: Any, unit: Any, power: int, *, zero_ok: bool) -> None:
    """x/unit**power must be a finite float64 (and nonzero unless `zero_ok`): a Δ far from 1
    would otherwise over- or underflow and be reported as a bad `name`."""
    if is_traced(x) or is_traced(unit):
        return
    xs, us = real_values(name, x), real_values("delta", unit)
    with np.errstate(all="ignore"):
        scaled = xs / us**power
    bad = ~np.isfinite(scaled) | ((scaled == 0) & (xs != 0) if zero_ok else scaled == 0)
    if np.any(bad):
        i = np.flatnonzero(np.broadcast_to(bad, scaled.shape).ravel())[0]
        xv, uv = (float(np.broadcast_to(a, scaled.shape).ravel()[i]) for a in (xs, us))
        raise ValueError(
            f"{ratio} over- or underflows float64 ({name} = {xv:g}, delta = {uv:g}): choose units with delta nearer 1"
        )


def _normalize(obj: Any, *names: str) -> None:
    """Apply :func:`lzjax.checks.parameter_values` to the fields `names` of a frozen dataclass
    under construction: lists become float64 arrays, wrong types and empty arrays are refused."""
    for name in names:
        object.__setattr__(obj, name, parameter_values(name, getattr(obj, name)))


def check_leaves(obj: Any, leaves: tuple[tuple[str, bool, str], ...]) -> None:
    """The checks of a bath's leaves when it is built: each (name, > 0 required, meaning) of
    `leaves` under the type policy of :func:`lzjax.checks.parameter_values`, then in its range
    (≥ 0, or > 0), a ValueError naming the first bad one."""
    _normalize(obj, *(name for name, _, _ in leaves))
    for name, positive, meaning in leaves:
        check_range(name, getattr(obj, name), lower=0.0, lower_open=positive, meaning=meaning)


def static_field(**kwargs) -> Any:
    """A dataclass field of a :func:`pytree_dataclass` kept out of the leaves (in the treedef):
    hashable values that set shapes or hold fixed data (a table), never traced or broadcast."""
    return dataclasses.field(metadata={"static": True}, **kwargs)


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, static_field))
def pytree_dataclass(cls):
    """A frozen dataclass whose fields are all pytree leaves (but those made with
    :func:`static_field`, which go into the treedef). Unflattening (inside jit, vmap,
    grad, tree_map) rebuilds the object without `__init__`, so the checks in `__post_init__`
    run only when a user builds one — JAX may put any placeholder (None, object(), specs)
    into the leaves."""
    cls = dataclasses.dataclass(frozen=True)(cls)
    fields = dataclasses.fields(cls)
    names = tuple(f.name for f in fields if not f.metadata.get("static"))
    statics = tuple(f.name for f in fields if f.metadata.get("static"))

    def aux(obj):
        return tuple(getattr(obj, n) for n in statics) if statics else None

    def flatten_with_keys(obj):
        return [(jax.tree_util.GetAttrKey(n), getattr(obj, n)) for n in names], aux(obj)

    def unflatten(data, children):
        obj = object.__new__(cls)
        for n, child in zip(names, children, strict=True):
            object.__setattr__(obj, n, child)
        for n, value in zip(statics, data or (), strict=True):
            object.__setattr__(obj, n, value)
        return obj

    jax.tree_util.register_pytree_with_keys(
        cls, flatten_with_keys, unflatten, flatten_func=lambda obj: ([getattr(obj, n) for n in names], aux(obj))
    )
    return cls


class LinearDrive:
    """The linear bias ε(t) = v·t, written once: the base of the infinite :class:`Drive` and of
    the finite :class:`lzjax.protocols.LinearSweep` (``isinstance(d, LinearDrive)`` asks "is the
    drive linear"). A plain mixin with no fields: each subclass keeps its own fields and pytree
    structure; it needs a field `v` (the sweep speed)."""

    v: Any

    def epsilon(self, t):
        """Bias ε(t) = v t."""
        return self.v * t

    def depsilon(self, t):
        """dε/dt = v."""
        return self.v + 0.0 * t


class SpectralDensity:
    """The interface every bath offers the engines (units Δ = 1 inside them; G enters
    C(t) = ∫₀^∞ dω G(ω) [coth(ω/2T) cos ωt − i sin ωt] with no 1/π in front, DESIGN.md §1).

    A bath is a :func:`pytree_dataclass` with a temperature leaf `T` and:
    - `density(omega)`: G(ω) for ω ≥ 0 (jnp; jit, vmap and grad pass through its leaves).
    - `frequency_scale`: where G has its weight (ω_c of a cutoff; places quadrature grids and
      the QUAPI step's default δt ∝ 1/scale); broadcast like the leaves.
    - `low_frequency_exponent`: s₀ with G ∝ ω^s₀ as ω → 0; C(t) ~ t^−(s₀+1) at T = 0, the
      memory tail (the ladder's extrapolation power); s₀ < 1 is sub-Ohmic.
    - `ohmic_coefficient`: lim G(ω)/ω (0 for super-Ohmic s₀ > 1): the Markovian dephasing rate
      Γd = B_Θ² π T · lim G(ω)/ω of the NEQB (Eq. 10: γT at s = 1).
    - `rescaled(delta)`: the same bath with energies in units of Δ (G(ω) → G(ωΔ)/Δ).
    - `scaled(factor)`: the bath with G multiplied by `factor` (factor 0: no coupling).
    - `components()`: the densities summed on the one coupling (a sum's parts; else itself).
    - `breakpoints()`: None for a density analytic on ω > 0 (integrated on a logarithmic grid),
      else the numpy frequencies where it has kinks or jumps (integrated panel by panel).

    Written once here for every family, from its class attributes: the checks when built
    (`LEAVES`, :func:`check_leaves`), `frequency_scale` (the `SCALE` leaf), `rescaled` (the
    `ENERGIES` leaves / Δ) and `scaled` (the `COUPLING` leaf × factor); a family overrides
    what it computes otherwise (a table, a sum).
    """

    T: Any
    #: (name, > 0 required, meaning) of each leaf, checked when built (:func:`check_leaves`)
    LEAVES: ClassVar[tuple[tuple[str, bool, str], ...]] = ()
    #: the leaves in units of energy, divided by Δ in `rescaled`
    ENERGIES: ClassVar[tuple[str, ...]] = ()
    #: the leaf G is proportional to, multiplied in `scaled`
    COUPLING: ClassVar[str] = ""
    #: the leaf where G has its weight (ω_c of a cutoff), read by `frequency_scale`
    SCALE: ClassVar[str] = ""

    def __post_init__(self):
        check_leaves(self, self.LEAVES)

    @property
    def frequency_scale(self):
        """The `SCALE` leaf (see the class docstring)."""
        return getattr(self, self.SCALE)

    def rescaled(self: _Density, delta) -> _Density:
        """The same bath with energies in units of Δ (G(ω) → G(ωΔ)/Δ): the `ENERGIES` leaves / Δ."""
        new = {name: getattr(self, name) / delta for name in self.ENERGIES}
        return dataclasses.replace(self, **new)  # pyright: ignore[reportArgumentType]  # every bath is a dataclass

    def scaled(self: _Density, factor) -> _Density:
        """The bath with G multiplied by `factor`: the `COUPLING` leaf × factor."""
        new = {self.COUPLING: factor * getattr(self, self.COUPLING)}
        return dataclasses.replace(self, **new)  # pyright: ignore[reportArgumentType]  # every bath is a dataclass

    def components(self) -> tuple:
        """The densities summed on the one coupling operator (itself for a single family)."""
        return (self,)

    def breakpoints(self) -> Any:
        """None: G is analytic on ω > 0 (see the class docstring)."""
        return None

    def describe(self) -> str:
        """'name=value, …' of the scalar leaves, for messages (a part of a sum in brackets)."""
        out = []
        for f in dataclasses.fields(self):  # pyright: ignore[reportArgumentType]  # every bath is a dataclass
            value = getattr(self, f.name)
            if isinstance(value, SpectralDensity):
                out.append(f"[{value.describe()}]")
            elif isinstance(value, tuple) and value and isinstance(value[0], SpectralDensity):
                out += [f"[{v.describe()}]" for v in value]
            elif not f.metadata.get("static"):
                out.append(f"{f.name}={float(np.asarray(value).reshape(-1)[0]):g}")
        return ", ".join(out)


_Density = TypeVar("_Density", bound=SpectralDensity)


@dataclasses.dataclass(frozen=True)
class PowerLaw(SpectralDensity):
    """G(ω) = γ Δ^(1−s)/π ω^s e^(−c(ω/ω_c)), written once for the cutoffs c(x) of its
    subclasses (:class:`Bath`: x; :class:`lzjax.spectral.GaussianCutoff`: x²): the leaves γ
    (≥ 0), s (> 0), ω_c (> 0, units of Δ), T (≥ 0, units of Δ)."""

    gamma: Any
    s: Any
    omega_c: Any
    T: Any
    LEAVES = (
        ("gamma", False, "coupling strength"),
        ("s", True, "spectral exponent"),
        ("omega_c", True, "cutoff frequency"),
        ("T", False, "temperature"),
    )
    ENERGIES = ("omega_c", "T")
    COUPLING = "gamma"
    SCALE = "omega_c"

    @staticmethod
    def cutoff(x):
        """c(x) of the cutoff e^(−c(x)), x = ω/ω_c."""
        raise NotImplementedError

    def density(self, omega):
        """G(ω) = γ/π ω^s e^(−c(ω/ω_c)) for ω ≥ 0 (units Δ = 1)."""
        omega = jnp.asarray(omega)
        safe = jnp.where(omega > 0, omega, 1.0)
        # ω^s e^{−c(ω/ω_c)} in log space: no intermediate overflow for large s
        value = self.gamma / jnp.pi * jnp.exp(self.s * jnp.log(safe) - self.cutoff(safe / self.omega_c))
        return jnp.where(omega > 0, value, 0.0)

    @property
    def low_frequency_exponent(self):
        """s."""
        return self.s

    @property
    def ohmic_coefficient(self):
        """γ/π at s = 1, else 0 (the NEQB refuses s < 1 at T > 0)."""
        return jnp.where(jnp.asarray(self.s) == 1, self.gamma / jnp.pi, 0.0)


@pytree_dataclass
class Drive(LinearDrive):
    """Linear Landau-Zener drive ε(t) = v·t through an avoided crossing of splitting Δ.

    **Arguments:**
    - `v`: sweep speed dε/dt, in Δ²/ħ when `delta` = 1 (accepted: v > 0, finite, and
      1e-6 ≤ v/Δ² ≤ 1e6, :data:`V_RANGE`).
    - `delta`: tunnel splitting Δ (accepted: Δ > 0, finite). Sets the energy unit.
    """

    v: Any
    delta: Any = 1.0

    def __post_init__(self):
        _normalize(self, "v", "delta")
        check_range("v", self.v, lower=0.0, lower_open=True, meaning="sweep speed")
        check_range("delta", self.delta, lower=0.0, lower_open=True, meaning="tunnel splitting")
        _check_scale("v", "v/delta**2 (the sweep speed in units of delta**2)", self.v, self.delta, 2, zero_ok=False)
        if not (is_traced(self.v) or is_traced(self.delta)):
            speed = np.asarray(self.v, dtype=np.float64) / np.asarray(self.delta, dtype=np.float64) ** 2
            lo, hi = V_RANGE
            bad = (speed < lo) | (speed > hi)
            if np.any(bad):
                raise ValueError(
                    f"v/delta**2 (the sweep speed in units of delta**2) must be in [{lo:g}, {hi:g}]; "
                    f"got {float(speed[bad].ravel()[0] if speed.ndim else speed):g}"
                )


@pytree_dataclass
class Bath(PowerLaw):
    """Bosonic bath with spectral function G(ω) = γ Δ^(1−s)/π ω^s exp(−ω/ω_c).

    **Arguments:**
    - `gamma`: dimensionless coupling strength γ (accepted: γ ≥ 0, finite).
    - `s`: spectral exponent; 1 Ohmic, 3 super-Ohmic (accepted: s > 0, finite).
    - `omega_c`: cutoff frequency, same unit as Δ (accepted: ω_c > 0, finite).
    - `T`: temperature k_B T, same unit as Δ (accepted: T ≥ 0, finite; T = 0 is the ground state).
    """

    @staticmethod
    def cutoff(x):
        """x: the exponential cutoff e^(−ω/ω_c)."""
        return x


@pytree_dataclass
class LZProblem:
    """A driven two-level system coupled to a bath through cosΘ σz + sinΘ σx.

    **Arguments:**
    - `drive`: a :class:`Drive`.
    - `bath`: a :class:`Bath`.
    - `theta`: coupling angle Θ in radians; 0 longitudinal, π/2 transversal
      (accepted: −π/2 < Θ ≤ π/2).
    """

    drive: Drive
    bath: Bath
    theta: Any = 0.0

    def __post_init__(self):
        _normalize(self, "theta")
        check_range(
            "theta",
            self.theta,
            lower=-math.pi / 2,
            upper=math.pi / 2,
            lower_open=True,
            meaning="coupling angle in radians",
        )
        if not isinstance(self.drive, Drive):
            raise ValueError(f"drive must be a Drive, got {type(self.drive).__name__}")
        if not isinstance(self.bath, SpectralDensity):
            raise ValueError(
                f"bath must be a Bath or a spectral density of lzjax.spectral, got {type(self.bath).__name__}"
            )
        delta = self.drive.delta
        if isinstance(self.bath, Bath):
            _check_scale("omega_c", "omega_c/delta", self.bath.omega_c, delta, 1, zero_ok=False)
        else:
            _check_scale(
                "frequency_scale",
                "the bath's frequency scale/delta",
                self.bath.frequency_scale,
                delta,
                1,
                zero_ok=False,
            )
        _check_scale("T", "T/delta", self.bath.T, delta, 1, zero_ok=True)


def check_problem(problem, name: str = "problem") -> None:
    """A ValueError unless `problem` is an :class:`LZProblem` (e.g. a Bath passed by mistake)."""
    if not isinstance(problem, LZProblem):
        raise ValueError(
            f"{name} must be an LZProblem(drive=Drive(...), bath=Bath(...), theta=...), got {type(problem).__name__}"
        )


def dimensionless(problem: LZProblem) -> LZProblem:
    """Rescale to Δ = 1: v → v/Δ², the bath's energies → /Δ (`bath.rescaled`; for :class:`Bath`
    ω_c → ω_c/Δ, T → T/Δ, γ and s unchanged), Θ unchanged."""
    d = problem.drive.delta
    return LZProblem(
        drive=Drive(v=problem.drive.v / d**2, delta=1.0 + 0.0 * d),
        bath=problem.bath.rescaled(d),
        theta=problem.theta,
    )


def flatten_problem(problem: LZProblem):
    """Broadcast all leaves together and flatten: (problem with 1-D numpy leaves, batch shape)."""
    leaves, treedef = jax.tree_util.tree_flatten(problem)
    arrays = [np.asarray(x, dtype=np.float64) for x in leaves]
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    flat = [np.broadcast_to(a, shape).reshape(-1) for a in arrays]
    return jax.tree_util.tree_unflatten(treedef, flat), shape
