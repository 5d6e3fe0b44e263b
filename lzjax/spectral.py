"""Spectral densities beyond the paper's family: validated pytrees that every engine takes.

Convention (DESIGN.md §1): G(ω) = Σ λ_k² δ(ω − ω_k) of B in the coupling −(cosΘ σz + sinΘ σx)·B/2,
entering C(t) = ∫₀^∞ dω G(ω) [coth(ω/2T) cos ωt − i sin ωt] with no 1/π in front. Then
λ_R = ∫₀^∞ G(ω)/ω dω is the reorganisation energy between the two eigenstates of the coupling
operator (X = ±1): a chemist's J(ω) (with C(t) = (1/π)∫J …) is π G(ω).

Families (energies in the units of Δ; T ≥ 0 the temperature of every one):

* :class:`lzjax.model.Bath` — γ Δ^(1−s)/π ω^s e^(−ω/ω_c), the paper's (closed forms, unchanged).
* :class:`GaussianCutoff` — γ Δ^(1−s)/π ω^s e^(−ω²/ω_c²) (quantum-dot deformation-potential
  phonons: s = 3; piezoelectric: s = 1).
* :class:`DrudeLorentz` — (1/π) 2λ ω γ_D/(ω² + γ_D²): J(ω) = 2λωγ_D/(ω² + γ_D²), λ = λ_R.
* :class:`BrownianOscillator` — (1/π) 2λ γ_b ω_0² ω/((ω_0² − ω²)² + γ_b² ω²), λ = λ_R.
* :class:`Tabulated` — a table (ω_i, G_i), linear in between, linear from (0, 0) to the first
  point, zero beyond the last one.
* :class:`Sum` — components on the one coupling operator, one temperature.

Every family gives `density` (G, jnp, differentiable in its leaves), `frequency_scale`,
`low_frequency_exponent`, `ohmic_coefficient`, `rescaled`, `scaled` (the interface
:class:`lzjax.model.SpectralDensity`); C(t), the QUAPI η, the rates and windows come from
:mod:`lzjax.bath` by quadrature. Bad input is refused in one line naming the parameter.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .checks import is_traced, real_values
from .model import Bath, PowerLaw, SpectralDensity, check_leaves, pytree_dataclass, static_field

__all__ = [
    "GaussianCutoff",
    "DrudeLorentz",
    "BrownianOscillator",
    "Tabulated",
    "Sum",
    "FAMILIES",
    "NAMED_FAMILIES",
    "SUM_SEPARATOR",
    "family_class",
    "family_name",
    "family_key",
    "family_of",
    "leaf_names",
    "family_parameters",
    "sum_parts",
    "build_family",
    "load_table_csv",
]


def _like(leaf, value):
    """`value` broadcast like `leaf` (numpy stays numpy, a tracer a tracer)."""
    return value + 0.0 * leaf


@pytree_dataclass
class GaussianCutoff(PowerLaw):
    """G(ω) = γ Δ^(1−s)/π ω^s exp(−ω²/ω_c²).

    **Arguments:** `gamma` (γ ≥ 0, dimensionless), `s` (> 0), `omega_c` (> 0, units of Δ),
    `T` (≥ 0, units of Δ) — as :class:`lzjax.model.Bath`, with a Gaussian cutoff.
    """

    @staticmethod
    def cutoff(x):
        """x²: the Gaussian cutoff e^(−ω²/ω_c²)."""
        return x**2


class ReorganisationEnergy(SpectralDensity):
    """A density G ∝ ω at ω → 0 whose coupling is its reorganisation energy λ = ∫G/ω dω (the
    leaf `lam`): Drude-Lorentz and the Brownian oscillator."""

    COUPLING = "lam"

    @property
    def low_frequency_exponent(self):
        """1 (Ohmic)."""
        return _like(self.frequency_scale, 1.0)


@pytree_dataclass
class DrudeLorentz(ReorganisationEnergy):
    """G(ω) = (1/π) 2λ ω γ_D/(ω² + γ_D²) (Debye; J = πG the chemists' density).

    **Arguments:** `lam` (λ ≥ 0, the reorganisation energy ∫G/ω dω, units of Δ), `gamma_d`
    (γ_D > 0, the Debye frequency, units of Δ), `T` (≥ 0, units of Δ).
    G falls only as 1/ω: ∫G dω (so C(0)) diverges logarithmically while η, Γ(t) and the rates are
    finite; at Θ ≠ 0 ∫Γ1 dt over a whole linear sweep diverges (Γ1 ∝ G(E) ∝ 1/E), so the window
    rests on the bound :func:`lzjax.bath.relaxation_window_energy` reaches at 1e6·γ_D.
    """

    lam: Any
    gamma_d: Any
    T: Any
    LEAVES = (
        ("lam", False, "reorganisation energy"),
        ("gamma_d", True, "Drude (Debye) frequency"),
        ("T", False, "temperature"),
    )
    ENERGIES = ("lam", "gamma_d", "T")
    SCALE = "gamma_d"

    def density(self, omega):
        omega = jnp.asarray(omega)
        value = 2.0 * self.lam / jnp.pi * omega * self.gamma_d / (omega * omega + self.gamma_d**2)
        return jnp.where(omega > 0, value, 0.0)

    @property
    def ohmic_coefficient(self):
        """2λ/(π γ_D)."""
        return 2.0 * self.lam / (jnp.pi * self.gamma_d)


@pytree_dataclass
class BrownianOscillator(ReorganisationEnergy):
    """G(ω) = (1/π) 2λ γ_b ω_0² ω/((ω_0² − ω²)² + γ_b² ω²) (an underdamped mode, damped Ohmically).

    **Arguments:** `lam` (λ ≥ 0, reorganisation energy ∫G/ω dω, units of Δ), `omega_0` (> 0,
    the mode frequency, units of Δ), `gamma_b` (> 0, its damping, units of Δ; underdamped for
    γ_b < 2ω_0, any value accepted), `T` (≥ 0, units of Δ).
    """

    lam: Any
    omega_0: Any
    gamma_b: Any
    T: Any
    LEAVES = (
        ("lam", False, "reorganisation energy"),
        ("omega_0", True, "oscillator frequency"),
        ("gamma_b", True, "oscillator damping"),
        ("T", False, "temperature"),
    )
    ENERGIES = ("lam", "omega_0", "gamma_b", "T")
    SCALE = "omega_0"

    def density(self, omega):
        omega = jnp.asarray(omega)
        w02 = self.omega_0**2
        value = (
            2.0 * self.lam / jnp.pi * self.gamma_b * w02 * omega / ((w02 - omega**2) ** 2 + (self.gamma_b * omega) ** 2)
        )
        return jnp.where(omega > 0, value, 0.0)

    @property
    def ohmic_coefficient(self):
        """2λγ_b/(π ω_0²)."""
        return 2.0 * self.lam * self.gamma_b / (jnp.pi * self.omega_0**2)


#: panels of a table: uniform over [0, ω_last] (this many), plus every table point, plus a
#: geometric refinement towards ω = 0 (where coth(ω/2T) varies on the scale T)
TABLE_PANELS = 400


@functools.lru_cache(maxsize=64)
def _table_edges(omega: tuple[float, ...]) -> np.ndarray:
    top = omega[-1]
    first = top / TABLE_PANELS
    edges = np.concatenate([[0.0], omega, np.linspace(0.0, top, TABLE_PANELS + 1), first * 0.5 ** np.arange(1, 31)])
    return np.unique(edges)


@pytree_dataclass
class Tabulated(SpectralDensity):
    """G(ω) from a table: `scale` × the piecewise-linear interpolant through (0, 0) and the points
    (ω_i, G_i); zero beyond the last point (end the table with G = 0 for a continuous G).

    **Arguments:**
    - `omega`: strictly increasing frequencies ω_i ≥ 0, at least two (units of Δ; static data).
    - `G`: G(ω_i) ≥ 0, finite, in the units of Δ (G(0) must be 0 if ω_0 = 0: a finite G(0)
      makes ∫G coth/ω² dω, the dephasing, diverge). Static data: not differentiated.
    - `T`: temperature ≥ 0 (units of Δ).
    - `scale`: a multiplier ≥ 0 of the table (a leaf: differentiable, fittable; default 1).
    - `unit`: the energy unit the table is given in relative to the engine's (set by
      `rescaled`; leave 1).

    Error of the interpolation: O(h²G'') per panel of width h (a table sampled from a smooth
    density at spacing h reproduces its P_LZ to that order; measured in tests/test_spectral.py).
    Quadrature: 16-point Gauss-Legendre on :data:`TABLE_PANELS` panels (and the table points):
    exact for the interpolant up to the oscillation of cos ωt, ~1e-12 while t·ω_last/400 ≲ 5.
    """

    omega: tuple = static_field()
    G: tuple = static_field()
    T: Any = 0.0
    scale: Any = 1.0
    unit: Any = 1.0
    LEAVES = (
        ("T", False, "temperature"),
        ("scale", False, "multiplier of the table"),
        ("unit", True, "energy unit of the table"),
    )
    COUPLING = "scale"

    def __post_init__(self):
        omega, g = real_values("omega", self.omega).ravel(), real_values("G", self.G).ravel()
        if omega.size < 2 or omega.size != g.size:
            raise ValueError(f"omega and G must be tables of equal length >= 2, got {omega.size} and {g.size}")
        if not np.all(np.isfinite(omega)) or omega[0] < 0:
            raise ValueError("omega must be finite and >= 0 (frequencies in units of delta)")
        if np.any(np.diff(omega) <= 0):
            i = int(np.flatnonzero(np.diff(omega) <= 0)[0])
            raise ValueError(
                f"omega must be strictly increasing, got omega[{i + 1}] = {omega[i + 1]:g} after {omega[i]:g}"
            )
        if not np.all(np.isfinite(g)) or np.any(g < 0):
            i = int(np.flatnonzero(~(np.isfinite(g) & (g >= 0)))[0])
            raise ValueError(f"G must be finite and >= 0 (a spectral density), got G[{i}] = {g[i]:g}")
        if omega[0] == 0 and g[0] != 0:
            raise ValueError(f"G must vanish at omega = 0 (got G(0) = {g[0]:g}): the dephasing ∫G coth/ω² diverges")
        object.__setattr__(self, "omega", tuple(float(x) for x in omega))
        object.__setattr__(self, "G", tuple(float(x) for x in g))
        check_leaves(self, self.LEAVES)

    def _points(self):
        omega, g = np.asarray(self.omega), np.asarray(self.G)
        if omega[0] > 0:
            omega, g = np.concatenate([[0.0], omega]), np.concatenate([[0.0], g])
        return omega, g

    def density(self, omega):
        xp, fp = self._points()
        x = jnp.asarray(omega) * self.unit
        return self.scale * jnp.interp(x, xp, fp, right=0.0) / self.unit

    def breakpoints(self):
        """Panel edges (units Δ = 1): table points, :data:`TABLE_PANELS` uniform panels, a
        geometric refinement towards 0."""
        return jnp.asarray(_table_edges(self.omega)) / self.unit

    @property
    def frequency_scale(self):
        """The G-weighted mean frequency ∫ωG/∫G of the table (units Δ = 1)."""
        xp, fp = self._points()
        weight = np.trapezoid(fp, xp)
        mean = np.trapezoid(xp * fp, xp) / weight if weight > 0 else xp[-1]
        return _like(self.T, mean) / self.unit

    @property
    def low_frequency_exponent(self):
        """1 if the first segment rises from (0, 0), else 3 (G ≡ 0 near ω = 0)."""
        xp, fp = self._points()
        return _like(self.T, 1.0 if fp[1] > 0 else 3.0)

    @property
    def ohmic_coefficient(self):
        """Slope G_1/ω_1 of the first segment (times `scale`)."""
        xp, fp = self._points()
        return self.scale * (fp[1] / xp[1]) + 0.0 * self.unit

    def rescaled(self, delta) -> Tabulated:
        """T → T/Δ, the table's `unit` → unit·Δ (its points stay as given)."""
        return Tabulated(self.omega, self.G, self.T / delta, self.scale, self.unit * delta)


@pytree_dataclass
class Sum(SpectralDensity):
    """G = Σ G_part: components on the one coupling operator (one bath, one temperature).

    **Arguments:** `parts`: a tuple of at least one spectral density (any family, sums
    included), all at the same temperature T (refused otherwise).
    """

    parts: tuple

    def __post_init__(self):
        parts = tuple(self.parts) if isinstance(self.parts, (list, tuple)) else (self.parts,)
        if not parts or not all(isinstance(p, SpectralDensity) for p in parts):
            raise ValueError(f"parts must be a non-empty tuple of spectral densities, got {self.parts!r:.80}")
        if any(is_traced(p.T) for p in parts):
            object.__setattr__(self, "parts", parts)
            return
        temps = [np.asarray(p.T, dtype=float) for p in parts]
        if any(t.shape != temps[0].shape or np.any(t != temps[0]) for t in temps):
            raise ValueError("parts must share one temperature T (one bath on one coupling)")
        object.__setattr__(self, "parts", parts)

    @property
    def T(self):  # pyright: ignore[reportIncompatibleVariableOverride]  # read from the parts
        """The common temperature of the parts."""
        return self.parts[0].T

    def components(self) -> tuple:
        return tuple(c for p in self.parts for c in p.components())

    def density(self, omega):
        return sum(p.density(omega) for p in self.parts)

    @property
    def frequency_scale(self):
        """The largest of the parts'."""
        return functools.reduce(jnp.maximum, [p.frequency_scale for p in self.parts])

    @property
    def low_frequency_exponent(self):
        """The smallest of the parts' (the slowest memory tail)."""
        return functools.reduce(jnp.minimum, [p.low_frequency_exponent for p in self.parts])

    @property
    def ohmic_coefficient(self):
        """The sum of the parts'."""
        return sum(p.ohmic_coefficient for p in self.parts)

    def rescaled(self, delta) -> Sum:
        return Sum(tuple(p.rescaled(delta) for p in self.parts))

    def scaled(self, factor) -> Sum:
        return Sum(tuple(p.scaled(factor) for p in self.parts))


#: the families by name (besides :class:`lzjax.model.Bath`)
FAMILIES = {
    "gaussian": GaussianCutoff,
    "drude_lorentz": DrudeLorentz,
    "brownian": BrownianOscillator,
    "tabulated": Tabulated,
    "sum": Sum,
}


#: the families a sweep, a fit and the command line choose by name: "exponential" is the paper's
#: :class:`lzjax.model.Bath`; a sum is named by its parts joined with :data:`SUM_SEPARATOR`
#: ("gaussian+gaussian", :func:`sum_parts`), or built in Python from any densities
NAMED_FAMILIES = {"exponential": Bath, **{k: c for k, c in FAMILIES.items() if k != "sum"}}

#: joins the names of a sum's parts ("gaussian+drude_lorentz")
SUM_SEPARATOR = "+"


def family_class(family: Any) -> type:
    """The class a family name ("exponential", "gaussian", "drude_lorentz" or "drude-lorentz",
    "brownian", "tabulated") or class names; a ValueError naming the accepted names."""
    if isinstance(family, type) and family in NAMED_FAMILIES.values():
        return family
    key = family.strip().lower().replace("-", "_") if isinstance(family, str) else None
    if key not in NAMED_FAMILIES:
        raise ValueError(
            f"family must be one of {', '.join(NAMED_FAMILIES)} (or a sum of them but tabulated, joined "
            f"by {SUM_SEPARATOR}), got {family!r:.60}"
        )
    return NAMED_FAMILIES[key]


def family_name(cls: type) -> str:
    """The name of a family class in :data:`NAMED_FAMILIES` (records, messages)."""
    return next(name for name, c in NAMED_FAMILIES.items() if c is cls)


def sum_parts(family: Any) -> tuple[type, ...] | None:
    """The classes of the parts of a sum named by its parts joined with "+" ("gaussian+gaussian":
    quantum-dot deformation-potential and piezoelectric phonons), None for a single family; a
    ValueError names a bad part. A table has no parameters to name it by: a sum with a
    tabulated part is built in Python (:class:`Sum`)."""
    if not (isinstance(family, str) and SUM_SEPARATOR in family):
        return None
    parts = tuple(family_class(part) for part in family.split(SUM_SEPARATOR))
    if Tabulated in parts:
        raise ValueError(
            f"family: a sum named by its parts takes no tabulated part (build lzjax.spectral.Sum), got {family!r:.60}"
        )
    return parts


def family_key(family: Any) -> str:
    """The canonical name of a family name or class (records, stores): a key of
    :data:`NAMED_FAMILIES`, or a sum's parts' keys joined with "+"."""
    parts = sum_parts(family)
    if parts is None:
        return family_name(family_class(family))
    return SUM_SEPARATOR.join(family_name(cls) for cls in parts)


def family_of(bath: SpectralDensity) -> str:
    """The family name of a spectral density (records): its key, a sum's parts' joined with "+"
    (a class of one's own: its class name)."""
    if isinstance(bath, Sum):
        return SUM_SEPARATOR.join(family_of(part) for part in bath.parts)
    return next((name for name, c in NAMED_FAMILIES.items() if c is type(bath)), type(bath).__name__)


def leaf_names(bath: SpectralDensity) -> tuple[str, ...]:
    """A name per leaf of a spectral density, in leaf order: its field name, with [i] for part i
    of a sum ([i][j] nested, "gamma[0]", "lam[1]"); every temperature is the one "T"."""
    names = []
    for path, _ in jax.tree_util.tree_flatten_with_path(bath)[0]:
        index = "".join(f"[{k.idx}]" for k in path if isinstance(k, jax.tree_util.SequenceKey))
        field = path[-1].name
        names.append(field if field == "T" else field + index)
    return tuple(names)


def family_parameters(family: Any) -> tuple[str, ...]:
    """The parameters of a family (a class or a name), in field order: its leaves (T included),
    less a table's internal `unit`; a table's ω and G are data, not parameters. A sum's: T,
    then each part's other parameters with the part's index, "gamma[0]", "s[0]", …, "lam[1]"
    (the names :func:`lzjax.fit.fittable` gives the sum)."""
    parts = sum_parts(family)
    if parts is not None:
        return ("T", *(f"{n}[{i}]" for i, cls in enumerate(parts) for n in family_parameters(cls) if n != "T"))
    cls = family_class(family)
    fields = dataclasses.fields(cls)  # pyright: ignore[reportArgumentType]  # every family is a dataclass
    return tuple(f.name for f in fields if not f.metadata.get("static") and f.name != "unit")


def build_family(family: Any, values: dict[str, Any], table: tuple = ()) -> SpectralDensity:
    """The spectral density of a family (a class or a name) from its parameters
    (:func:`family_parameters`: `values` holds every one but defaults) and, for a table, its
    points `table` = (ω, G). A bad value of a sum's part is named with its index ("gamma[1]")."""
    parts = sum_parts(family)
    if parts is None:
        return family_class(family)(*table, **values)
    built = []
    for i, cls in enumerate(parts):
        own = [n for n in family_parameters(cls) if n != "T"]
        try:
            built.append(cls(**{n: values[f"{n}[{i}]"] for n in own}, T=values["T"]))
        except ValueError as error:
            head, _, rest = str(error).partition(" ")
            raise ValueError(f"{head}[{i}] {rest}" if head in own else str(error)) from None
    return Sum(tuple(built))


def load_table_csv(path: str | os.PathLike) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(ω, G) of a spectral-density table: a header line ``omega,G``, then one row ω,G per line
    (ω in units of Δ, G as in the module docstring; lines starting with # and blank lines
    skipped). Every problem is a one-line ValueError naming the file and the line: unreadable
    file, missing header, a row that is not two numbers, ω not strictly increasing, G negative
    (and the rest of :class:`Tabulated`'s checks)."""
    name = os.fspath(path)
    try:
        with open(name, newline="", encoding="utf-8") as handle:
            rows = [(i + 1, [c.strip() for c in row]) for i, row in enumerate(csv.reader(handle))]
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(
            f"cannot read spectral density {name!r}: {getattr(error, 'strerror', None) or error}"
        ) from None
    rows = [(i, row) for i, row in rows if any(row) and not row[0].startswith("#")]
    if not rows or [c.lower() for c in rows[0][1]] != ["omega", "g"]:
        got = ",".join(rows[0][1]) if rows else "an empty file"
        raise ValueError(f"{name}: missing header line omega,G (got {got!r:.60})")
    values = []
    for line, row in rows[1:]:
        try:
            if len(row) != 2:
                raise ValueError
            values.append([float(row[0]), float(row[1])])
        except ValueError:
            raise ValueError(f"{name} line {line}: not two numbers omega,G: {','.join(row)!r:.60}") from None
    table = np.asarray(values, dtype=np.float64).reshape(-1, 2)
    omega, g = table[:, 0], table[:, 1]
    if omega.size >= 2 and np.any(np.diff(omega) <= 0):
        i = int(np.flatnonzero(np.diff(omega) <= 0)[0])
        raise ValueError(f"{name} line {rows[i + 2][0]}: omega not increasing ({omega[i + 1]:g} after {omega[i]:g})")
    if np.any(g < 0):
        i = int(np.flatnonzero(g < 0)[0])
        raise ValueError(f"{name} line {rows[i + 1][0]}: G negative ({g[i]:g}; a spectral density is >= 0)")
    try:
        points = Tabulated(tuple(omega), tuple(g))
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None
    return points.omega, points.G
