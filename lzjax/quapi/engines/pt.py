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

import dataclasses
import functools
import math
from typing import ClassVar, NamedTuple

import jax
import jax.core
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero

from ...cache import entry_key, load_arrays, source_hash, store_arrays
from ...checks import check_integer, check_number
from ...model import Drive, LZProblem, dimensionless
from ...programs import Program
from ...version import __version__
from ..influence import Eta, eta_coefficients
from ..plan import Run, tail_weights, take
from ..process_tensor import (
    ProcessTensor,
    build_process_tensor,
    build_process_tensor_jvp,
    mix_pairs,
    pt_readout_vectors,
    taper_eta,
)

__all__ = [
    "PT",
    "PTSettings",
    "build_cached",
    "bath_key",
    "differentiable_tensor",
    "check_tensor",
    "traced_chi",
    "CHI_BUCKET",
    "PT_TOL_RANGE",
    "check_pt_tol",
    "log_factor_limit",
    "pt_plan",
    "pt_tol_default",
    "window_for",
    "windows_each",
    "PT_WINDOWS",
    "PT_FIRST_WINDOW",
    "PT_DT_RATIO",
    "PT_TAPER",
    "PT_DT_MAX",
    "PT_DT_MIN",
    "PT_DT_OMEGA_C",
    "PT_EDGE_PHASE",
    "PT_TAIL_FACTOR",
    "pt_step",
    "FIXED_PT_TOL",
]

#: the truncation of fixed settings (:meth:`PT.fixed_memory`) when `pt_tol` is not given (a fit's
#: or a trajectory's; the ladder chooses its own per bath)
FIXED_PT_TOL = 1e-9

#: the bond dimension is padded to a multiple of this (bounds the number of compiled shapes; the
#: step costs ∝ χ², so χ = 17 padded to 24 costs 1.8× less than to 32)
CHI_BUCKET = 8


#: accepted user truncations `pt_tol` (relative discarded weight per truncation); a ladder's
#: `loose` run uses 10× the chosen one (:func:`pt_plan`)
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
    pad_q = lambda q: jax.device_put(np.pad(np.asarray(q), [(0, 0)] * (q.ndim - 2) + [(0, extra), (0, extra)]))  # noqa: E731
    pad_v = lambda x: jax.device_put(np.pad(np.asarray(x), [(0, 0)] * (x.ndim - 1) + [(0, extra)]))  # noqa: E731
    return pt._replace(
        q_start=pad_q(pt.q_start),
        q_int=pad_q(pt.q_int),
        q_end=pad_q(pt.q_end),
        q_absent=pad_q(pt.q_absent),
        left=pad_v(pt.left),
        right=pad_v(pt.right),
    )


def bath_key(bath) -> tuple:
    """The cache key of a dimensionless bath with scalar leaves: (treedef, leaves as floats) —
    its type (and a table's data) and every leaf, for any spectral density."""
    leaves, treedef = jax.tree_util.tree_flatten(bath)
    return treedef, tuple(float(np.asarray(x)) for x in leaves)


def _bath_of(key: tuple):
    """The bath of a :func:`bath_key` (Python-float leaves)."""
    return jax.tree_util.tree_unflatten(key[0], list(key[1]))


def _host_eta(key: tuple, dt, settings: PTSettings, compensate: bool) -> Eta:
    """The (tapered) numpy η of a dimensionless bath (its :func:`bath_key`) that the tensor is built from."""
    bath = _bath_of(key)
    lags = _ETA_BUCKET * -(-(settings.kmax + 1) // _ETA_BUCKET)  # one compiled η per bucket of K
    eta = _eta_compiled(bath, dt, lags, compensate)
    eta = jax.tree_util.tree_map(lambda x: np.asarray(x)[: settings.kmax + 1], eta)
    return taper_eta(eta, settings.taper)


#: η is computed for a multiple of this many lags and cut to K + 1 (η_k does not depend on K)
_ETA_BUCKET = 64


#: η of one bath as one program (eagerly, op by op, it took ~0.14 s per bath at K = 256)
_eta_compiled = Program("quapi.engines.pt.eta", eta_coefficients, (2, 3))


@functools.lru_cache(maxsize=64)
def build_cached(key: tuple, dt: float, settings: PTSettings, compensate: bool = False) -> tuple[ProcessTensor, dict]:
    """(padded process tensor, its record) of a dimensionless bath (its :func:`bath_key`) at step
    `dt` (1/Δ), built once. The record: chi (before padding), memory (steps), discarded (largest relative
    discarded weight), eig_err, trace_defect, build_s (see :class:`ProcessTensor`)."""
    disk = _disk_key(key, dt, settings, compensate)
    pt = None if disk is None else _from_disk(disk)
    if pt is None:
        eta = _host_eta(key, dt, settings, compensate)
        pt = build_process_tensor(eta, tol=settings.tol, chi_max=settings.chi_max)
        if disk is not None:
            store_arrays("tensors", disk, {f: np.asarray(getattr(pt, f)) for f in ProcessTensor._fields})
    # one form whether built or loaded (device arrays, no weak types): the compiled programs'
    # signatures (lzjax.programs) are then the same in every process
    pt = ProcessTensor(*(jax.device_put(np.asarray(x)) for x in pt))
    return _pad(pt, CHI_BUCKET * math.ceil(pt.chi / CHI_BUCKET)), _record(pt)


#: bumped when a build's numbers change (with the lzjax version, part of every disk-cache key)
_DISK_FORMAT = 1


def _disk_key(key: tuple, dt, settings: PTSettings, compensate: bool) -> str | None:
    """The disk-cache entry of a build (:mod:`lzjax.cache`): the bath's type and leaves bitwise,
    step, settings, version and source (:func:`lzjax.cache.source_hash`); None when the bath's
    static data does not print in full (a long
    table: its repr is elided, so it could not be told from another)."""
    treedef = str(key[0])
    if "..." in treedef:
        return None
    floats = [float(x).hex() for x in (*key[1], dt, settings.tol, settings.taper)]
    return entry_key(
        "pt",
        _DISK_FORMAT,
        __version__,
        source_hash(),
        treedef,
        *floats,
        int(settings.kmax),
        int(settings.chi_max),
        compensate,
    )


def _from_disk(key: str) -> ProcessTensor | None:
    """A tensor stored by :func:`build_cached` in another call (unpadded, numpy), or None."""
    arrays = load_arrays("tensors", key)
    if arrays is None or set(arrays) != set(ProcessTensor._fields):
        return None
    return ProcessTensor(**arrays)


def _record(pt: ProcessTensor) -> dict:
    """The record of :func:`build_cached` of an unpadded tensor."""
    return {
        "chi": pt.chi,
        "memory": int(pt.memory),
        "discarded": float(pt.discarded),
        "eig_err": float(pt.eig_err),
        "trace_defect": float(pt.trace_defect),
        "build_s": float(pt.build_s),
    }


#: the ProcessTensor fields that depend on the bath smoothly (differentiated), and the records
_SMOOTH_FIELDS = ("q_start", "q_int", "q_end", "q_absent", "left", "right")
_RECORD_FIELDS = ("discarded", "eig_err", "trace_defect", "build_s")


@functools.lru_cache(maxsize=16)
def _tangent_cached(
    key: tuple, dt: float, settings: PTSettings, compensate: bool, which: tuple[int, ...]
) -> tuple[ProcessTensor, ProcessTensor, dict]:
    """(padded tensor, padded tangents, record) of :func:`build_cached`'s tensor along the bath
    leaves `which` (indices into the key's leaves; for Bath γ, s, ω_c, T): dη from jax.jacfwd of
    :func:`eta_coefficients`,
    then :func:`build_process_tensor_jvp` (whose tensor equals build_cached's bitwise, so the
    primal is not built twice)."""
    eta = _host_eta(key, dt, settings, compensate)
    x0 = jnp.array(key[1], dtype=jnp.float64)
    jac = jax.jacfwd(lambda x: eta_coefficients(_bath_of((key[0], list(x))), dt, settings.kmax, compensate))(x0)
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


def _host_fields(treedef, settings, compensate, which, *leaves):
    """The callback of a traced bath: :func:`_fields` (and with `which` the tangent fields along
    those leaves) as numpy arrays padded to :func:`traced_chi`; `leaves` the bath's, then δt. A
    bath that an eager call refuses (invalid leaves, or a tensor :func:`check_tensor` rejects)
    comes back as NaN: a compiled program cannot raise."""
    chi = traced_chi(settings)
    with jax.default_device(jax.devices("cpu")[0]):  # host work stays off an accelerator's stream
        *x, dt = [float(v) for v in leaves]
        key = (treedef, tuple(x))
        try:
            if which:
                pt, dpt, info = _tangent_cached(key, dt, settings, compensate, which)
            else:
                (pt, info), dpt = build_cached(key, dt, settings, compensate), None
            check_tensor(info, settings.tol, _bath_of(key), dt)
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
    return ProcessTensor(
        q_start=nan(4, chi, chi),
        q_int=nan(4, chi, chi),
        q_end=nan(4, chi, chi),
        q_absent=nan(chi, chi),
        left=nan(chi),
        right=nan(chi),
        memory=np.asarray(0),
        discarded=np.asarray(np.nan),
        eig_err=np.asarray(np.nan),
        trace_defect=np.asarray(np.nan),
        build_s=np.asarray(np.nan),
    )


def _traced_fields(treedef, leaves, settings, compensate, which=()):
    """:func:`_host_fields` through `jax.pure_callback` (sequential under vmap)."""
    chi = traced_chi(settings)
    shapes = {
        "q_start": (4, chi, chi),
        "q_int": (4, chi, chi),
        "q_end": (4, chi, chi),
        "q_absent": (chi, chi),
        "left": (chi,),
        "right": (chi,),
    }
    smooth = [jax.ShapeDtypeStruct(shapes[f], jnp.complex128) for f in _SMOOTH_FIELDS]
    records = [jax.ShapeDtypeStruct((), jnp.float64) for _ in _RECORD_FIELDS]
    tangents = (
        [jax.ShapeDtypeStruct((len(which),) + shapes[f], jnp.complex128) for f in _SMOOTH_FIELDS] if which else []
    )
    return _callback(tuple(smooth + records + tangents), treedef, settings, compensate, which, *leaves)


@functools.partial(jax.custom_jvp, nondiff_argnums=(0, 1, 2, 3, 4))
def _callback(shapes, treedef, settings, compensate, which, *leaves):
    return jax.pure_callback(
        functools.partial(_host_fields, treedef, settings, compensate, which), shapes, *leaves, vmap_method="sequential"
    )


@_callback.defjvp
def _callback_jvp(shapes, treedef, settings, compensate, which, primals, tangents):
    raise ValueError(
        "the process tensor gives first derivatives in the bath only (its tangent build is first "
        "order): no jax.hessian or nested jvp/grad in the bath's parameters"
    )


@functools.partial(jax.custom_jvp, nondiff_argnums=(0, 1, 2))
def _smooth_arrays(treedef, settings, compensate, *leaves):
    """The smooth fields, then the records, of the padded tensor of a bath (its `leaves` of
    `treedef`, then the step dt; custom JVP below; dt may be traced, e.g. δt·Δ with Δ under jit,
    but is not differentiated)."""
    x = _concrete(leaves)
    if x is None:
        return _traced_fields(treedef, leaves, settings, compensate)
    key = (treedef, tuple(x[:-1]))
    pt, info = build_cached(key, x[-1], settings, bool(compensate))
    check_tensor(info, settings.tol, _bath_of(key), x[-1])
    return _fields(pt)


def _smooth_arrays_jvp(treedef, settings, compensate, primals, tangents):
    if not isinstance(tangents[-1], SymbolicZero):
        raise ValueError(
            "the process tensor has no derivative in its time step δt (nor, through it, in "
            "Drive.delta): keep delta constant when differentiating through engine='pt'"
        )
    which = tuple(i for i, t in enumerate(tangents[:-1]) if not isinstance(t, SymbolicZero))
    if not which:
        out = _smooth_arrays(treedef, settings, compensate, *primals)
        return out, tuple(jnp.zeros_like(o) for o in out)
    x = _concrete(primals)
    if x is None:
        fields = _traced_fields(treedef, primals, settings, compensate, which)
        out, dpt = (
            fields[: -len(_SMOOTH_FIELDS)],
            dict(zip(_SMOOTH_FIELDS, fields[-len(_SMOOTH_FIELDS) :], strict=False)),
        )
    else:
        key = (treedef, tuple(x[:-1]))
        pt, dpt, info = _tangent_cached(key, x[-1], settings, bool(compensate), which)
        check_tensor(info, settings.tol, _bath_of(key), x[-1])
        out, dpt = _fields(pt), {f: getattr(dpt, f) for f in _SMOOTH_FIELDS}
    dx = jnp.stack([jnp.asarray(tangents[i], jnp.float64) for i in which]).astype(jnp.complex128)  # (p,)
    smooth = tuple(jnp.tensordot(dx, dpt[f], axes=1) for f in _SMOOTH_FIELDS)
    return out, smooth + tuple(jnp.zeros_like(o) for o in out[len(_SMOOTH_FIELDS) :])


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
    leaves, treedef = jax.tree_util.tree_flatten(bath)
    arrays = _smooth_arrays(treedef, settings, bool(compensate), *leaves, dt)
    return ProcessTensor(
        memory=jnp.asarray(settings.kmax), **dict(zip(_SMOOTH_FIELDS + _RECORD_FIELDS, arrays, strict=False))
    )


def check_tensor(info: dict, tol: float, bath, dt) -> None:
    """ValueError when a built tensor's |λ − 1| or trace defect exceeds max(1e-6, 1e3·tol): the
    truncation then lost what the exact functional keeps (seen only far beyond the couplings
    that :func:`log_factor_limit` admits)."""
    limit = max(1e-6, 1e3 * float(tol))
    if not (info["eig_err"] <= limit and info["trace_defect"] <= limit):  # NaN fails too
        raise ValueError(
            f"the process-tensor compression failed for {bath.describe()} at dt={float(dt):.3g}/delta: "
            f"|lambda - 1| = {info['eig_err']:.2g}, trace defect {info['trace_defect']:.2g} (limit {limit:.2g}); "
            f"use a smaller pt_tol or dt, or the plain ADT (engine='adt')"
        )


#: δt'/δt of the process-tensor ladder's Richardson partners (δt, 1.25 δt, 1.5625 δt), and the
#: ratio of its step grid 0.05/1.25^k: the coarse runs of one level are the fine runs of the next
PT_DT_RATIO = 1.25
#: fraction of the memory over which the process-tensor ladder rolls the lag couplings off
PT_TAPER = 0.5
#: the coarsest step of the process-tensor ladder (units 1/Δ), and its bath-scale limit δt·ω_c
PT_DT_MAX = 0.05
#: the finest step a refinement goes to (units 1/Δ; the engine's `dt` range starts here)
PT_DT_MIN = 1e-3
PT_DT_OMEGA_C = 0.25
#: largest E δt of the coarsest run at the edge of the wide window (units of ħ): beyond, the
#: Richardson triple leaves the δt² regime where the bath has weight (measured: at Θ = 0.15,
#: v = 0.3 (Fig. 1 bath), |ε| ≤ 30 it still extrapolates to 4e-4 at E δt = 2.3, 1e-4 at 1.6)
PT_EDGE_PHASE = 2.0


def pt_plan(
    dt: float, memory_time: float, eps_q: float, tol: float, chi_max: int, window_runs: bool = True
) -> dict[str, Run]:
    """The seven runs of the process-tensor ladder, δ_k = δt·1.25^k, memory τ = `memory_time`
    (1/Δ), K_k = round(τ/δ_k), truncation `tol`, exact window |ε| ≤ ε_q:

        fine = (δ_0, K_0, ε_q)   coarse = (δ_1, K_1, ε_q)   coarser = (δ_2, K_2, ε_q)
        wide = (δ_0, K_0, 4ε_q/3)   wide_coarse = (δ_1, K_1, 4ε_q/3)
        long = (δ_1, 2K_1, ε_q)   loose = (δ_2, K_2, ε_q, 10·tol)

    :func:`lzjax.quapi.ladder.combine` reads them: the value is the wide window Richardson-
    extrapolated in δt²; the δt error the change of the extrapolation one level coarser
    (fine·coarse against coarse·coarser: an estimate of the δt⁴ remainder, measured within
    1.5× of the true one up to E δt' ≈ 2); the window error :data:`lzjax.quapi.ladder.WINDOW_FACTOR` times the
    change from ε_q to 4ε_q/3 (measured, at a wide reference window, errors falling between
    ε_q^−0.5 and faster than e^(−ε_q/ω_c)); the memory error from the longer partner at the
    coarse step; the compression error the change at 10× the truncation (at the coarser step,
    scaled by its step count). One tensor per (bath, δ_k, settings): levels share tensors.
    `window_runs` is accepted for the ADT's signature and ignored (the window pair always runs:
    the tails' error is not bounded by their weight; a sub-Ohmic bath showed 6× more)."""
    del window_runs
    steps = [_level(dt, k) for k in range(3)]
    settings = [PTSettings(max(2, round(memory_time / h)), tol, chi_max, PT_TAPER) for h in steps]
    wide = _wider(eps_q)
    return {
        "fine": Run(steps[0], settings[0], eps_q, True),
        "coarse": Run(steps[1], settings[1], eps_q, True),
        "coarser": Run(steps[2], settings[2], eps_q, True),
        "wide": Run(steps[0], settings[0], wide, True),
        "wide_coarse": Run(steps[1], settings[1], wide, True),
        "long": Run(steps[1], settings[1]._replace(kmax=2 * settings[1].kmax), eps_q, True),
        "loose": Run(steps[2], settings[2]._replace(tol=10.0 * tol), eps_q, True),
    }


def _grid_index(x: float, first: float, ratio: float) -> int | None:
    """k with x = first·ratio^k to 1e-12 relative (a point of a geometric grid), else None."""
    k = round(math.log(x / first) / math.log(ratio))
    return k if abs(first * ratio**k / x - 1.0) < 1e-12 else None


def _level(dt: float, k: int) -> float:
    """δt·1.25^k; on the step grid 0.05/1.25^j exactly the grid's value (levels share tensors)."""
    j = _grid_index(dt, PT_DT_MAX, 1.0 / PT_DT_RATIO)
    return dt * PT_DT_RATIO**k if j is None else PT_DT_MAX / PT_DT_RATIO ** (j - k)


def _wider(eps_q: float) -> float:
    """4ε_q/3; on the window grid :data:`PT_WINDOWS` exactly the next grid value."""
    j = _grid_index(eps_q, PT_WINDOWS[0], 4.0 / 3.0)
    return 4.0 * eps_q / 3.0 if j is None else PT_WINDOWS[0] * (4.0 / 3.0) ** (j + 1)


#: the first window of the grid (units Δ): the widest whose plan runs at the grid's coarsest step
#: PT_DT_MAX, E(4ε/3)·1.5625 δt = PT_EDGE_PHASE at δt = 0.05 (ε = 19.19; it was 20, whose plans
#: ran at δt = 0.04: 25 % more steps at every point that needs no wider window)
PT_FIRST_WINDOW = 0.75 * math.sqrt((PT_EDGE_PHASE / (PT_DT_MAX * PT_DT_RATIO**2)) ** 2 - 1.0)
#: candidate exact-window half-widths of the process-tensor ladder (units Δ): PT_FIRST_WINDOW·(4/3)^k,
#: so that a widened window's pair starts where the last one ended (its runs are reused)
PT_WINDOWS = tuple(PT_FIRST_WINDOW * (4.0 / 3.0) ** k for k in range(7))
#: the ladder's first window leaves the golden-rule tails at most this many times `tol` of ∫Γ1 dt
#: (their error is a small fraction of it, measured 0.2–9 %; the window pair measures it, and the
#: ladder widens the window where it is too large: :meth:`PT.refine_plan`)
PT_TAIL_FACTOR = 30.0


def pt_step(omega_c: float, eps_q: float) -> float:
    """The finest step of a plan at window `eps_q` for a bath of frequency scale `omega_c` (ω_c of
    a cutoff; ``bath.frequency_scale``): the largest of 0.05/1.25^k (k ≥ 0) with
    δt ω_c ≤ :data:`PT_DT_OMEGA_C` and E(4ε_q/3)·1.5625 δt ≤ :data:`PT_EDGE_PHASE` (a grid, so
    that plans of different windows share their tensors)."""
    edge = math.hypot(1.0, _wider(eps_q)) * PT_DT_RATIO**2
    limit = min(PT_DT_OMEGA_C / float(omega_c), PT_EDGE_PHASE / edge)
    k = max(0, math.ceil(math.log(PT_DT_MAX / limit) / math.log(PT_DT_RATIO) - 1e-9))
    return PT_DT_MAX / PT_DT_RATIO**k


def pt_tol_default(tol: float, n_steps: int = 6000) -> float:
    """The process-tensor truncation for a target error `tol` over `n_steps` propagation steps:
    6e-3·tol/n_steps, clipped to [1e-12, 1e-8] (1e-10 at tol = 1e-4 and the Fig. 1 point's 6,000).

    The compression error is a drift linear in the step number (module doc of
    :mod:`lzjax.quapi.process_tensor`), so the truncation scales with 1/N. Measured: at the Fig. 1
    point the compression part of the bar is ~2e-4 / 7e-5 / ≲1e-6 at 1e-8 / 1e-9 / 1e-10; at
    Θ = π/2, γ = 5e-5, v = 0.01 (1.7·10⁶ steps) 1e-8 gave 2.3e-2."""
    return float(min(1e-8, max(1e-12, 6e-3 * float(tol) / max(int(n_steps), 1))))


def windows_each(dimless, index, tail_tol: float) -> np.ndarray:
    """Per point of the group `index`: the smallest ε_q of :data:`PT_WINDOWS` whose golden-rule
    tails carry less than `tail_tol` of ∫Γ1 dt (the largest if none does)."""
    group = take(dimless, index)
    out = np.full(len(index), PT_WINDOWS[-1])
    left = np.ones(len(index), dtype=bool)
    for eq in PT_WINDOWS:
        below = left & (np.asarray(tail_weights(group, eq)) < tail_tol)
        out[below] = eq
        left &= ~below
        if not left.any():
            break
    return out


def window_for(dimless, index, tail_tol: float) -> float:
    """The smallest ε_q of :data:`PT_WINDOWS` whose golden-rule tails carry less than `tail_tol`
    of ∫Γ1 dt at every point of the group (the largest if none does; the tails' weight falls
    with ε_q, so this is the largest of :func:`windows_each`)."""
    return float(np.max(windows_each(dimless, index, tail_tol)))


@dataclasses.dataclass(frozen=True)
class PT:
    """The uniform process tensor as an engine of :mod:`lzjax.quapi.engine`, configured.

    **Settings** (validated here, once; None: the ladder chooses per bath):
    - `memory_time`: memory τ of the ladder (units 1/Δ; accepted: [0.1, 100], default 6.4):
      K = round(τ/δt) steps, the lag couplings rolled off over the second half
      (:data:`PT_TAPER`); the error bar holds the change at 2τ.
    - `pt_tol`: relative truncation of the compression (accepted: :data:`PT_TOL_RANGE`;
      default :func:`pt_tol_default`, 6e-3·tol/N for the bath's longest run of N steps).
    - `chi_max`: bond-dimension cap (accepted: integer in [4, 4096], default 512).
    - `dt`: Trotter step of the finest run (units 1/Δ; accepted: [1e-3, 0.2]; default
      :func:`pt_step`: the largest of 0.05/1.25^k with δt ω_c ≤ 0.25 and E δt ≤ 2 for the
      coarsest run at the wide window's edge).
    - `eps_q`: half-width of the exact window (units of Δ; accepted: [5, 120]; default the
      smallest of :data:`PT_WINDOWS` whose golden-rule tails carry < 30 tol of ∫Γ1 dt at
      that point, :meth:`split_groups`; the window pair 4ε_q/3 measures their error).

    Run settings (static, hashable): :class:`PTSettings`. See the module docstring.
    """

    memory_time: float = 6.4
    pt_tol: float | None = None
    chi_max: int = 512
    dt: float | None = None
    eps_q: float | None = None

    name: ClassVar[str] = "pt"
    shared_influence: ClassVar[bool] = True
    #: the ladder settings of :func:`lzjax.quapi.converge_quapi` that belong to this engine
    #: (`memory` is an alias of `memory_time`, kept for older calls and the sweep option)
    ladder_options: ClassVar[tuple[str, ...]] = ("dt", "memory_time", "memory", "pt_tol", "chi_max", "eps_q")
    #: whether :func:`lzjax.quapi.solve_quapi` runs it at fixed (dt, kmax, tmax)
    fixed_settings: ClassVar[bool] = False
    #: the result columns a sweep keeps besides P_LZ, P_ES and their errors, in order
    columns: ClassVar[tuple[str, ...]] = (
        "dt",
        "t_max",
        "converged",
        "memory",
        "chi",
        "pt_tol",
        "eps_q",
        "tail",
        "trace_err",
        "err_dt",
        "err_memory",
        "err_window",
        "err_compression",
    )
    #: accepted run memories for the memory guard's advice (none: the memory is not the cost)
    memory_range: ClassVar[None] = None
    #: fixed-settings options besides dt, kmax, tmax (:meth:`fixed_memory`)
    fixed_options: ClassVar[tuple[str, ...]] = ("taper",)
    #: whether a fit's model at fixed settings is pure: no, :meth:`fit_model` builds on the host
    #: (eager, first derivatives only)
    fit_traced: ClassVar[bool] = False

    def __post_init__(self):
        check = lambda name, value, f: object.__setattr__(self, name, None if value is None else f(value))  # noqa: E731
        check(
            "memory_time",
            self.memory_time,
            lambda x: check_number("memory_time", x, 0.1, 100.0, unit="memory time, units 1/delta"),
        )
        check("pt_tol", self.pt_tol, check_pt_tol)
        check("chi_max", self.chi_max, lambda x: check_integer("chi_max", x, 4, 4096))
        check("dt", self.dt, lambda x: check_number("dt", x, 1e-3, 0.2, unit="units 1/delta"))
        check("eps_q", self.eps_q, lambda x: check_number("eps_q", x, 5.0, 120.0, unit="units of delta"))
        if self.memory_time is None:
            raise ValueError("memory_time (units 1/delta) must be a number in [0.1, 100], got None")

    @property
    def kernel(self) -> PT:
        """The configuration-free engine the compiled propagation is cached for."""
        return _KERNEL

    def configured(self, **settings) -> PT:
        """A copy with ladder `settings` (names of :attr:`ladder_options`) replaced, validated."""
        if "memory" in settings:
            if "memory_time" in settings:
                raise ValueError("give memory_time or its alias memory, not both")
            settings["memory_time"] = settings.pop("memory")
        return dataclasses.replace(self, **settings)

    # -- the convergence ladder ----------------------------------------------------------------
    def group_keys(self, dimless) -> np.ndarray:
        """Points sharing a plan: equal (v, bath) — one tensor per bath serves every v and Θ. Columns:
        v, the bath's frequency scale, then every leaf of the bath (for Bath v, ω_c, γ, s, ω_c, T:
        the rows sort as the historical (v, ω_c, γ, s, T))."""
        b = dimless.bath
        v = np.asarray(dimless.drive.v)
        leaves = [np.broadcast_to(np.asarray(x, dtype=float), v.shape) for x in jax.tree_util.tree_leaves(b)]
        return np.stack([v, np.broadcast_to(np.asarray(b.frequency_scale, dtype=float), v.shape), *leaves], axis=1)

    def split_groups(self, dimless, groups, tol: float) -> list[np.ndarray]:
        """The groups of :meth:`group_keys` split by each point's own exact window
        (:func:`windows_each` at :data:`PT_TAIL_FACTOR`·tol): within a group (one v, one bath)
        the tails' weight differs with Θ by orders of magnitude, and a point with light tails is
        not given the wider window (and finer step) that its group's heaviest needs. A window
        the user set leaves the groups as they are."""
        if self.eps_q is not None:
            return list(groups)
        out = []
        for index in groups:
            each = windows_each(dimless, index, PT_TAIL_FACTOR * tol)
            out.extend(index[each == eq] for eq in np.unique(each))
        return out

    def ladder_plans(self, dimless, groups, tol: float):
        """(plans, merge keys) of the groups: the exact window (:func:`window_for` at
        :data:`PT_TAIL_FACTOR`·tol unless given), its step (:func:`pt_step` unless given), one
        truncation per (bath, step) for its longest run (the most steps), :func:`pt_plan`; the
        merge key is (bath, step)."""
        b = dimless.bath
        v = np.asarray(dimless.drive.v)
        keys = self.group_keys(dimless)
        windows = [
            self.eps_q if self.eps_q is not None else window_for(dimless, index, PT_TAIL_FACTOR * tol)
            for index in groups
        ]
        steps = [
            self.dt if self.dt is not None else pt_step(float(np.asarray(b.frequency_scale)[index[0]]), eq)
            for index, eq in zip(groups, windows, strict=True)
        ]
        merge = [(tuple(keys[index[0], 1:]), h) for index, h in zip(groups, steps, strict=True)]
        # one truncation per (bath, step), for its slowest sweep (the most steps, wide window)
        longest: dict = {}
        for key, eq, index in zip(merge, windows, groups, strict=True):
            n = math.ceil(2.0 * (4.0 * eq / 3.0) / (float(v[index[0]]) * key[1]))
            longest[key] = max(longest.get(key, 0), n)
        tols = {key: self.pt_tol if self.pt_tol is not None else pt_tol_default(tol, n) for key, n in longest.items()}
        plans = [
            pt_plan(key[1], self.memory_time, eq, tols[key], self.chi_max)
            for key, eq in zip(merge, windows, strict=True)
        ]
        return plans, merge

    def refine_plan(self, plan: dict, part: str, point) -> dict | None:
        """The plan one step finer in the error `part` ("window", "dt", "memory" or
        "compression") for the point `point` (a dimensionless batch of one), or None where this
        engine does not refine it: the window grows to the next of :data:`PT_WINDOWS` (its step
        following :func:`pt_step`), the step one grid level finer; a window or step the user
        set, the memory and the truncation stay (their parts are named in the record). Grid
        plans reuse runs: the widened window's fine and coarse runs are the last wide pair."""
        fine = plan["fine"]
        tol = fine.memory.tol
        if part == "window" and self.eps_q is None:
            eq = _wider(fine.eps_q)
            if eq > PT_WINDOWS[-1] * (1.0 + 1e-9):
                return None
            dt = (
                fine.dt
                if self.dt is not None
                else min(fine.dt, pt_step(float(np.asarray(point.bath.frequency_scale)[0]), eq))
            )
            # the last window's pair stays in the plan (its runs are done): three windows give
            # the rate at which the window error falls (:func:`lzjax.quapi.ladder.combine`)
            return {
                **pt_plan(dt, self.memory_time, eq, tol, self.chi_max),
                "narrow": fine,
                "narrow_coarse": plan["coarse"],
            }
        if part == "dt" and self.dt is None:
            dt = _level(fine.dt, -1)
            if dt < PT_DT_MIN:
                return None
            new = pt_plan(dt, self.memory_time, fine.eps_q, tol, self.chi_max)
            if "narrow" in plan:  # keep the window history (its runs are done)
                new.update(narrow=plan["narrow"], narrow_coarse=plan["narrow_coarse"])
            return new
        return None

    def run_influence(self, bath, run, compensate: bool):
        """(tensor, record) of one ladder run for a bath with scalar leaves (:meth:`info`)."""
        return self.info(bath, run.dt, run.memory, compensate)

    def run_settings(self, plan: dict, info: dict) -> dict[str, float]:
        """Per-batch settings its ladder records: memory K, χ and the truncation of the fine run."""
        return {"memory": plan["fine"].steps, "chi": info["chi"], "pt_tol": plan["fine"].memory.tol}

    def ladder_settings(self, record: dict[str, np.ndarray]) -> dict:
        """The engine's result settings of a ladder from the recorded per-point values."""
        return {"memory": record["memory"].astype(int), "chi": record["chi"].astype(int), "pt_tol": record["pt_tol"]}

    # -- fixed settings (a fit's forward model, a trajectory) ---------------------------------
    def fixed_memory(self, dt: float, kmax: int | None = None, taper: float = 0.0) -> PTSettings:
        """The run settings at fixed step `dt` (1/Δ): memory K = `kmax` steps if given, else
        round(memory_time/dt) (at least 2); truncation `pt_tol` (:data:`FIXED_PT_TOL` when None),
        `chi_max`; `taper` (fraction of the memory rolled off, accepted [0, 1]; default 0, the
        hard cut). Validated (:meth:`check`)."""
        dt = check_number("dt", dt, 0.0, lower_open=True, unit="units 1/delta")
        steps = max(2, round(self.memory_time / dt)) if kmax is None else kmax
        tol = FIXED_PT_TOL if self.pt_tol is None else self.pt_tol
        settings = PTSettings(steps, tol, self.chi_max, taper)
        self.check(settings)
        return PTSettings(int(steps), float(tol), int(self.chi_max), float(taper))

    def fixed_record(self, memory: PTSettings) -> dict:
        """The run settings a fixed-settings result records (:attr:`lzjax.fit.FitResult.engine_options`)."""
        return {"kmax": memory.kmax, "pt_tol": memory.tol, "chi_max": memory.chi_max, "taper": memory.taper}

    def fit_model(self, problem, dt: float, tmax: float, memory: PTSettings):
        """P_LZ at the sweep speeds of `problem` (``drive.v`` of shape (n,), the other leaves
        scalars, the bath's possibly tracers of a derivative) at fixed (δt, K, t_max): one host
        build per bath, shared by every v and differentiable in the bath
        (:func:`differentiable_tensor`), then the jitted plain scheme of
        :func:`lzjax.quapi.runner.run_batch` (the numbers of :func:`lzjax.quapi.quapi_probabilities`
        with engine "pt"). Eager: not inside jit or vmap; first derivatives only."""
        from ..runner import run_batch

        drive, bath = problem.drive, problem.bath
        n = drive.v.shape[0]
        leaf = lambda x: jnp.broadcast_to(x, (n,))  # noqa: E731
        flat = dimensionless(
            LZProblem(Drive(drive.v, leaf(drive.delta)), jax.tree_util.tree_map(leaf, bath), leaf(problem.theta))
        )
        delta = float(drive.delta)  # a constant of the fit
        tensor = differentiable_tensor(dimensionless(LZProblem(Drive(1.0, drive.delta), bath)).bath, dt * delta, memory)
        steps = int(round(tmax / dt))  # the static step count (lzjax.quapi.solve.steps_for)
        return run_batch(self.kernel, "plain", flat, jnp.full(n, dt * delta), steps, memory, shared=tensor)[0]

    # -- the propagation (per point, pure; see :mod:`lzjax.quapi.engine`) ----------------------
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

    def head_trace(self, k_head, rho0, influence, memory):
        """(state, ρ at t_1 … t_head): no head steps."""
        return self.start(k_head, rho0, influence, memory), jnp.zeros((0,) + rho0.shape, dtype=rho0.dtype)

    def influence_limit(self, memory: PTSettings) -> tuple[float, str]:
        """(limit, why) of the pair-factor check before a run (:func:`log_factor_limit`)."""
        return log_factor_limit(memory.tol), f"more than the compression at pt_tol = {memory.tol:g} can resolve"

    @staticmethod
    def step_seconds(memory=None) -> float:
        """Seconds per point-step on the 2-core CPU (χ ≲ 32), rough."""
        return 2e-5

    @staticmethod
    def build_seconds(memory: PTSettings) -> float:
        """Seconds of the host build of one tensor (or its tangent), rough: ~2 ms per memory step
        (size estimates)."""
        return 2e-3 * int(memory.kmax)

    def ladder_cost(self, n_points: int, v_typical: float) -> tuple[float, float]:
        """(seconds, bytes) of a ladder over `n_points`, rough: seven runs worth 6.3 fine runs over
        2ε_q/v (ε_q ~ 30) at δt ~ 0.04, each point-step :meth:`step_seconds`; a tensor at
        `chi_max` (size estimates)."""
        steps = 2 * (30.0 if self.eps_q is None else self.eps_q) / v_typical / 0.04
        memory = self.memory_bytes(PTSettings(1, 1e-9, self.chi_max), min(n_points, 256))
        return n_points * 6.3 * steps * self.step_seconds(), memory

    def chunk_points(self, options: dict) -> int:
        """Points per sweep chunk: ψ per point is small, the tensor is shared."""
        return 256

    def compile_key(self, memory):
        """None: the per-point compositions see the settings only through the tensor's shapes."""
        return None

    def influence(self, bath, dt, memory: PTSettings, compensate: bool):
        """The tensor of :meth:`info`; when a bath leaf or δt is a JAX tracer (differentiated, or
        under jit/vmap), :func:`differentiable_tensor` (same values, derivatives in γ, s, ω_c, T)."""
        if any(isinstance(x, jax.core.Tracer) for x in [*jax.tree_util.tree_leaves(bath), dt]):
            return differentiable_tensor(bath, dt, memory, compensate)
        return self.info(bath, dt, memory, compensate)[0]

    def info(self, bath, dt, memory: PTSettings, compensate: bool):
        """(tensor, record) of :func:`build_cached` for a bath with scalar leaves; ValueError if
        the compression lost the normalisation or the trace (:func:`check_tensor`)."""
        pt, info = build_cached(bath_key(bath), float(dt), memory, bool(compensate))
        check_tensor(info, memory.tol, bath, dt)
        return pt, info

    def start(self, k_head, rho0, pt, memory):
        return rho0[:, :, None] * jnp.einsum("i,aij->aj", pt.left, pt.q_start)[None]  # (2, 4, χ)

    def steady(self, pt):
        return pt.q_int

    def advance(self, psi, q_int, k_seq):
        def body(psi, k):
            return jnp.einsum("bni,nij->bnj", mix_pairs(psi, k), q_int), None

        return jax.lax.scan(body, psi, k_seq)[0]

    def readout(self, psi, k_last, pt):
        return jnp.einsum("bni,ni->bn", mix_pairs(psi, k_last), pt_readout_vectors(pt))  # (2, 4)


#: the default configuration, on which every compiled propagation is cached
_KERNEL = PT()
