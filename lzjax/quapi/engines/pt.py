"""The uniform process tensor (:mod:`lzjax.quapi.process_tensor`) as an engine of
:mod:`lzjax.quapi.engine`.

Settings (static, hashable): :class:`PTSettings` (memory K in steps, relative truncation `tol`,
`chi_max`). The influence is shared: built once per (bath, δt, settings) on the host, cached,
its bond dimension padded with zeros to a bucket (a multiple of 8) so that baths of similar χ
share one compiled propagation; zero padding leaves every result unchanged. The state of a point
is ψ (2, 4, χ) for the two starts; a steady step is the 4×4 system propagator on the pair index
and four (2, χ) × (χ, χ) products, batched over the points by vmap into matrix-matrix products.

Derivatives in the bath, and a traced bath: when a JAX tracer reaches `influence` (a bath leaf
being differentiated, e.g. jax.grad of :func:`lzjax.quapi.quapi_window_probabilities` in γ, or
a bath under jax.jit / vmap), the tensor comes from :func:`differentiable_tensor` instead: the
same cached host build, with a custom JVP that builds the tensor's tangent on the host (forward
and reverse mode). Eagerly the values are used directly; under jit/vmap the build runs in a
`jax.pure_callback` (one build per point under vmap) whose tensor is padded to the bucket of
`chi_max` (a shape must be known before the build). A constant bath takes the cached path.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero

from ...checks import check_integer, check_number
from ...model import Bath
from ..influence import Eta, eta_coefficients
from ..process_tensor import (ProcessTensor, build_process_tensor, build_process_tensor_jvp, pt_readout_vectors,
                              taper_eta)

__all__ = ["PT", "PTSettings", "build_cached", "differentiable_tensor", "check_tensor", "traced_chi", "CHI_BUCKET",
           "PT_TOL_RANGE", "check_pt_tol", "log_factor_limit"]

#: the bond dimension is padded to a multiple of this (bounds the number of compiled shapes; the
#: step costs ∝ χ², so χ = 17 padded to 24 costs 1.8× less than to 32)
CHI_BUCKET = 8


#: accepted user truncations `pt_tol` (relative discarded weight per truncation); a ladder's
#: `loose` run uses 10× the chosen one (:func:`lzjax.quapi.ladder.pt_plan`)
PT_TOL_RANGE = (1e-14, 1e-3)


def check_pt_tol(pt_tol) -> float:
    """`pt_tol` as a float in :data:`PT_TOL_RANGE`, or the one ValueError naming it."""
    return check_number("pt_tol", pt_tol, *PT_TOL_RANGE)


def log_factor_limit(pt_tol: float) -> float:
    """Largest Σ_Δ max Re φ_Δ the process tensor accepts at relative truncation `pt_tol`:
    ½ ln(1/pt_tol) (≈ 10 at 1e-9). Partial products of the pair factors reach e^bound while whole
    paths stay ≤ 1, and a truncation relative to the largest keeps only pt_tol·e^bound absolutely.
    Physical points are far inside (measured at δt = 0.05: Fig. 1 0.004, Fig. 2 0.04, γ = 5e-2
    0.39); the strong-coupling point of issue 11 has 1145 and its tensor loses the trace."""
    return 0.5 * math.log(1.0 / float(pt_tol))


class PTSettings(NamedTuple):
    """`kmax`: memory K in steps (pairs further apart dropped); `tol`: relative discarded
    weight allowed per truncation; `chi_max`: hard cap on the bond dimension; `taper`: the
    fraction of the memory over which the lag couplings roll off to the cut
    (:func:`lzjax.quapi.process_tensor.taper_eta`; 0 = the ADT's hard cut)."""

    kmax: int
    tol: float
    chi_max: int = 512
    taper: float = 0.0


def _pad(pt: ProcessTensor, chi: int) -> ProcessTensor:
    """The tensor (or a tangent, with leading axes) with χ zero-padded to `chi` (on the host:
    no program compiled per χ)."""
    extra = chi - pt.chi
    if extra == 0:
        return pt
    pad_q = lambda q: jnp.asarray(np.pad(np.asarray(q), [(0, 0)] * (q.ndim - 2) + [(0, extra), (0, extra)]))  # noqa: E731
    pad_v = lambda x: jnp.asarray(np.pad(np.asarray(x), [(0, 0)] * (x.ndim - 1) + [(0, extra)]))  # noqa: E731
    return pt._replace(q_start=pad_q(pt.q_start), q_int=pad_q(pt.q_int), q_end=pad_q(pt.q_end),
                       q_absent=pad_q(pt.q_absent), left=pad_v(pt.left), right=pad_v(pt.right))


def _host_eta(gamma, s, omega_c, T, dt, settings: PTSettings, compensate: bool) -> Eta:
    """The (tapered) numpy η of a dimensionless bath that the tensor is built from."""
    bath = Bath(gamma=gamma, s=s, omega_c=omega_c, T=T)
    eta = jax.tree_util.tree_map(np.asarray, _eta_compiled(bath, dt, settings.kmax, compensate))
    return taper_eta(eta, settings.taper)


#: η of one bath as one program (eagerly, op by op, it took ~0.14 s per bath at K = 256)
_eta_compiled = jax.jit(eta_coefficients, static_argnums=(2, 3))


@functools.lru_cache(maxsize=64)
def build_cached(gamma: float, s: float, omega_c: float, T: float, dt: float, settings: PTSettings,
                 compensate: bool = False) -> tuple[ProcessTensor, dict]:
    """(padded process tensor, its record) of a dimensionless bath at step `dt` (1/Δ), built
    once. The record: chi (before padding), memory (steps), discarded (largest relative
    discarded weight), eig_err, trace_defect, build_s (see :class:`ProcessTensor`)."""
    eta = _host_eta(gamma, s, omega_c, T, dt, settings, compensate)
    pt = build_process_tensor(eta, tol=settings.tol, chi_max=settings.chi_max)
    return _pad(pt, CHI_BUCKET * math.ceil(pt.chi / CHI_BUCKET)), _record(pt)


def _record(pt: ProcessTensor) -> dict:
    """The record of :func:`build_cached` of an unpadded tensor."""
    return {"chi": pt.chi, "memory": int(pt.memory), "discarded": float(pt.discarded),
            "eig_err": float(pt.eig_err), "trace_defect": float(pt.trace_defect), "build_s": float(pt.build_s)}


#: the ProcessTensor fields that depend on the bath smoothly (differentiated), and the records
_SMOOTH_FIELDS = ("q_start", "q_int", "q_end", "q_absent", "left", "right")
_RECORD_FIELDS = ("discarded", "eig_err", "trace_defect", "build_s")
_BATH_LEAVES = ("gamma", "s", "omega_c", "T")


@functools.lru_cache(maxsize=16)
def _tangent_cached(gamma: float, s: float, omega_c: float, T: float, dt: float, settings: PTSettings,
                    compensate: bool, which: tuple[int, ...]) -> tuple[ProcessTensor, ProcessTensor, dict]:
    """(padded tensor, padded tangents, record) of :func:`build_cached`'s tensor along the bath
    leaves `which` (indices into γ, s, ω_c, T): dη from jax.jacfwd of :func:`eta_coefficients`,
    then :func:`build_process_tensor_jvp` (whose tensor equals build_cached's bitwise, so the
    primal is not built twice)."""
    eta = _host_eta(gamma, s, omega_c, T, dt, settings, compensate)
    x0 = jnp.array([gamma, s, omega_c, T], dtype=jnp.float64)
    jac = jax.jacfwd(lambda x: eta_coefficients(Bath(*x), dt, settings.kmax, compensate))(x0)
    deta = taper_eta(Eta(*(np.asarray(j).T[list(which)] for j in jac)), settings.taper)  # (p, K + 1)
    pt, dpt = build_process_tensor_jvp(eta, deta, tol=settings.tol, chi_max=settings.chi_max)
    chi = CHI_BUCKET * math.ceil(pt.chi / CHI_BUCKET)
    return _pad(pt, chi), _pad(dpt, chi), _record(pt)  # dpt: leading direction axis, padded alike


def _concrete(leaves) -> list[float] | None:
    """The bath leaves as Python floats, or None when one is traced (under jit or vmap)."""
    try:
        return [float(np.asarray(x)) for x in leaves]
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None


def traced_chi(settings: PTSettings) -> int:
    """Bond dimension of a tensor built for a traced bath (under jit/vmap): `chi_max` rounded up
    to :data:`CHI_BUCKET` (the build never exceeds chi_max; its shape must be known beforehand)."""
    return CHI_BUCKET * math.ceil(int(settings.chi_max) / CHI_BUCKET)


def _fields(pt: ProcessTensor) -> tuple:
    return tuple(getattr(pt, f) for f in _SMOOTH_FIELDS + _RECORD_FIELDS)


def _host_fields(settings, compensate, which, *leaves):
    """The callback of a traced bath: :func:`_fields` (and with `which` the tangent fields along
    those leaves) as numpy arrays padded to :func:`traced_chi`; `leaves` γ, s, ω_c, T, δt. A
    bath that an eager call refuses (invalid leaves, or a tensor :func:`check_tensor` rejects)
    comes back as NaN: a compiled program cannot raise."""
    chi = traced_chi(settings)
    with jax.default_device(jax.devices("cpu")[0]):  # host work stays off an accelerator's stream
        *x, dt = [float(v) for v in leaves]
        try:
            if which:
                pt, dpt, info = _tangent_cached(*x, dt, settings, compensate, which)
            else:
                (pt, info), dpt = build_cached(*x, dt, settings, compensate), None
            check_tensor(info, settings.tol, Bath(*x), dt)
        except ValueError:
            pt, dpt = _nan_tensor(chi), (_nan_tensor(chi, len(which)) if which else None)
        out = _fields(_pad(pt, chi))
        if dpt is not None:
            out += tuple(getattr(_pad(dpt, chi), f) for f in _SMOOTH_FIELDS)
        return tuple(np.asarray(o) for o in out)


def _nan_tensor(chi: int, directions: int | None = None) -> ProcessTensor:
    """A NaN tensor of bond dimension `chi` (with a leading axis of `directions` for a tangent)."""
    lead = () if directions is None else (directions,)
    nan = lambda *shape: np.full(lead + shape, np.nan + 0j)  # noqa: E731
    return ProcessTensor(q_start=nan(4, chi, chi), q_int=nan(4, chi, chi), q_end=nan(4, chi, chi),
                         q_absent=nan(chi, chi), left=nan(chi), right=nan(chi), memory=np.asarray(0),
                         discarded=np.asarray(np.nan), eig_err=np.asarray(np.nan), trace_defect=np.asarray(np.nan),
                         build_s=np.asarray(np.nan))


def _traced_fields(leaves, settings, compensate, which=()):
    """:func:`_host_fields` through `jax.pure_callback` (sequential under vmap)."""
    chi = traced_chi(settings)
    shapes = {"q_start": (4, chi, chi), "q_int": (4, chi, chi), "q_end": (4, chi, chi), "q_absent": (chi, chi),
              "left": (chi,), "right": (chi,)}
    smooth = [jax.ShapeDtypeStruct(shapes[f], jnp.complex128) for f in _SMOOTH_FIELDS]
    records = [jax.ShapeDtypeStruct((), jnp.float64) for _ in _RECORD_FIELDS]
    tangents = [jax.ShapeDtypeStruct((len(which),) + shapes[f], jnp.complex128) for f in _SMOOTH_FIELDS] if which else []
    return _callback(tuple(smooth + records + tangents), settings, compensate, which, *leaves)


@functools.partial(jax.custom_jvp, nondiff_argnums=(0, 1, 2, 3))
def _callback(shapes, settings, compensate, which, *leaves):
    return jax.pure_callback(functools.partial(_host_fields, settings, compensate, which), shapes, *leaves,
                             vmap_method="sequential")


@_callback.defjvp
def _callback_jvp(shapes, settings, compensate, which, primals, tangents):
    raise ValueError("the process tensor gives first derivatives in the bath only (its tangent build is first "
                     "order): no jax.hessian or nested jvp/grad in gamma, s, omega_c, T")


@functools.partial(jax.custom_jvp, nondiff_argnums=(5, 6))
def _smooth_arrays(gamma, s, omega_c, T, dt, settings, compensate):
    """The smooth fields, then the records, of the padded tensor of a bath at step `dt` (custom
    JVP below; dt may be traced, e.g. δt·Δ with Δ under jit, but is not differentiated)."""
    x = _concrete((gamma, s, omega_c, T, dt))
    if x is None:
        return _traced_fields((gamma, s, omega_c, T, dt), settings, compensate)
    pt, info = build_cached(*x, settings, bool(compensate))
    check_tensor(info, settings.tol, Bath(*x[:4]), x[4])
    return _fields(pt)


def _smooth_arrays_jvp(settings, compensate, primals, tangents):
    if not isinstance(tangents[4], SymbolicZero):
        raise ValueError("the process tensor has no derivative in its time step δt (nor, through it, in "
                         "Drive.delta): keep delta constant when differentiating through engine='pt'")
    which = tuple(i for i, t in enumerate(tangents[:4]) if not isinstance(t, SymbolicZero))
    if not which:
        out = _smooth_arrays(*primals, settings, compensate)
        return out, tuple(jnp.zeros_like(o) for o in out)
    x = _concrete(primals)
    if x is None:
        fields = _traced_fields(primals, settings, compensate, which)
        out, dpt = fields[:-len(_SMOOTH_FIELDS)], dict(zip(_SMOOTH_FIELDS, fields[-len(_SMOOTH_FIELDS):]))
    else:
        pt, dpt, info = _tangent_cached(*x, settings, bool(compensate), which)
        check_tensor(info, settings.tol, Bath(*x[:4]), x[4])
        out, dpt = _fields(pt), {f: getattr(dpt, f) for f in _SMOOTH_FIELDS}
    dx = jnp.stack([jnp.asarray(tangents[i], jnp.float64) for i in which]).astype(jnp.complex128)  # (p,)
    smooth = tuple(jnp.tensordot(dx, dpt[f], axes=1) for f in _SMOOTH_FIELDS)
    return out, smooth + tuple(jnp.zeros_like(o) for o in out[len(_SMOOTH_FIELDS):])


_smooth_arrays.defjvp(_smooth_arrays_jvp, symbolic_zeros=True)


def differentiable_tensor(bath, dt, settings: PTSettings, compensate: bool = False) -> ProcessTensor:
    """The padded tensor of :func:`build_cached` as a differentiable function of the bath
    (dimensionless, scalar leaves γ, s, ω_c, T; `dt` in 1/Δ, concrete or traced, not
    differentiated: a derivative through it is refused).

    Forward mode (jax.jvp, jax.jacfwd) and reverse mode (jax.grad, jax.jacrev) in any bath leaf:
    a custom JVP whose rule builds the tensor's tangent along the leaves being differentiated
    (:func:`lzjax.quapi.process_tensor.build_process_tensor_jvp`, the exact derivative of the
    build at its truncation ranks when its SVDs are full; χ ≳ 80 switches to a randomised sketch
    whose tangent is exact only to the truncation level) and returns it as a linear function of
    the leaves' tangents, so reverse mode transposes it. First derivatives only. A concrete bath
    gives :func:`build_cached`'s values bitwise (χ padded to its bucket); a traced one (jax.jit,
    vmap) the same tensor through a host callback, padded to :func:`traced_chi` (chi_max's
    bucket: choose chi_max near the χ the bath needs, the step costs ∝ χ²), NaN where a concrete
    bath would raise (invalid leaves, a tensor :func:`check_tensor` refuses). Tensors and
    tangents are cached per (bath, dt, settings, differentiated leaves). The records (discarded,
    eig_err, trace_defect, build_s) are constants. ValueError as :func:`check_tensor` (concrete
    bath)."""
    arrays = _smooth_arrays(*(getattr(bath, n) for n in _BATH_LEAVES), dt, settings, bool(compensate))
    return ProcessTensor(memory=jnp.asarray(settings.kmax), **dict(zip(_SMOOTH_FIELDS + _RECORD_FIELDS, arrays)))


def check_tensor(info: dict, tol: float, bath, dt) -> None:
    """ValueError when a built tensor's |λ − 1| or trace defect exceeds max(1e-6, 1e3·tol): the
    truncation then lost what the exact functional keeps (seen only far beyond the couplings
    that :func:`log_factor_limit` admits)."""
    limit = max(1e-6, 1e3 * float(tol))
    if not (info["eig_err"] <= limit and info["trace_defect"] <= limit):  # NaN fails too
        raise ValueError(
            f"the process-tensor compression failed for gamma={float(bath.gamma):g}, s={float(bath.s):g}, "
            f"omega_c={float(bath.omega_c):g}, T={float(bath.T):g} at dt={float(dt):.3g}/delta: "
            f"|lambda - 1| = {info['eig_err']:.2g}, trace defect {info['trace_defect']:.2g} (limit {limit:.2g}); "
            f"use a smaller pt_tol or dt, or the plain ADT (engine='adt')")


def _mix(psi, k):
    """The system step on the pair index: ψ[b, α', i] = Σ_α K[α', α] ψ[b, α, i]."""
    return jnp.einsum("na,bai->bni", k, psi)


class _PTEngine:
    """Process-tensor engine (see the module docstring)."""

    name = "pt"
    shared_influence = True
    #: the ladder settings of :func:`lzjax.quapi.converge_quapi` that belong to this engine
    ladder_options = ("dt", "memory", "pt_tol", "chi_max")
    #: whether :func:`lzjax.quapi.solve_quapi` runs it at fixed (dt, kmax, tmax)
    fixed_settings = False
    #: the result columns a sweep keeps besides P_LZ, P_ES and their errors, in order
    columns = ("dt", "t_max", "converged", "memory", "chi", "pt_tol", "eps_q", "tail", "trace_err", "err_dt", "err_memory", "err_window",
               "err_compression")

    def check(self, memory, tol=None):
        if not isinstance(memory, PTSettings):
            raise ValueError(f"process-tensor settings must be PTSettings(kmax, tol, chi_max, taper), got {memory!r}")
        check_integer("memory (steps)", memory.kmax, 1, 100_000)
        check_number("pt_tol (relative truncation)", memory.tol, 0.0, 1e-2)
        check_integer("chi_max", memory.chi_max, 1, 4096)
        check_number("taper (fraction of the memory)", memory.taper, 0.0, 1.0)

    def memory_bytes(self, memory: PTSettings, batch: int, itemsize: int = 16) -> int:
        """Peak bytes: the tensor (four letters' worth of 4 χ×χ blocks, at chi_max) plus, per
        point, three copies of ψ (2, 4, χ) and the step propagators are not counted."""
        chi = int(memory.chi_max)
        return int(itemsize) * (16 * chi * chi + int(batch) * 3 * 8 * chi)

    def head(self, memory) -> int:
        return 0

    def influence_limit(self, memory: PTSettings) -> tuple[float, str]:
        """(limit, why) of the pair-factor check before a run (:func:`log_factor_limit`)."""
        return log_factor_limit(memory.tol), f"more than the compression at pt_tol = {memory.tol:g} can resolve"

    def chunk_points(self, options: dict) -> int:
        """Points per sweep chunk: ψ per point is small, the tensor is shared."""
        return 256

    def compile_key(self, memory):
        """None: the per-point compositions see the settings only through the tensor's shapes."""
        return None

    def influence(self, bath, dt, memory: PTSettings, compensate: bool):
        """The tensor of :meth:`info`; when a bath leaf or δt is a JAX tracer (differentiated, or
        under jit/vmap), :func:`differentiable_tensor` (same values, derivatives in γ, s, ω_c, T)."""
        if any(isinstance(x, jax.core.Tracer) for x in [getattr(bath, n) for n in _BATH_LEAVES] + [dt]):
            return differentiable_tensor(bath, dt, memory, compensate)
        return self.info(bath, dt, memory, compensate)[0]

    def info(self, bath, dt, memory: PTSettings, compensate: bool):
        """(tensor, record) of :func:`build_cached` for a bath with scalar leaves; ValueError if
        the compression lost the normalisation or the trace (:func:`check_tensor`)."""
        pt, info = build_cached(float(bath.gamma), float(bath.s), float(bath.omega_c), float(bath.T),
                                float(dt), memory, bool(compensate))
        check_tensor(info, memory.tol, bath, dt)
        return pt, info

    def start(self, k_head, rho0, pt, memory):
        return rho0[:, :, None] * jnp.einsum("i,aij->aj", pt.left, pt.q_start)[None]  # (2, 4, χ)

    def steady(self, pt):
        return pt.q_int

    def advance(self, psi, q_int, k_seq):
        def body(psi, k):
            return jnp.einsum("bni,nij->bnj", _mix(psi, k), q_int), None

        return jax.lax.scan(body, psi, k_seq)[0]

    def readout(self, psi, k_last, pt):
        return jnp.einsum("bni,ni->bn", _mix(psi, k_last), pt_readout_vectors(pt))  # (2, 4)

    def __repr__(self):
        return "PT"


#: the process-tensor engine (a singleton: jitted compositions are cached per engine)
PT = _PTEngine()
