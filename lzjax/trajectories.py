"""The trajectory layer every engine shares: a validated flat batch of driven systems, the
observables of a density matrix along a protocol, and the labelled dataset they are returned in.

:func:`lzjax.dynamics.neqb_trajectory` (NEQB) and :func:`lzjax.quapi.trajectory.exact_trajectory`
(the exact engines) are written on it; neither imports the other's engine. Units Δ = ħ = 1.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .adiabatic import frame
from .model import Drive
from .protocols import DrivenSystem, LinearSweep, is_protocol
from .spectral import leaf_names

__all__ = ["prepare_system", "observables", "trajectory_dataset", "HashableAxes", "drop_ends"]


def _batched_names(drive):
    return tuple(drive.BATCHED) if is_protocol(drive) else ("v", "delta")


def prepare_system(drive, bath, theta: Any = 0.0, *, eps_start=None, eps_end=None):
    """Validate and broadcast into a flat batch: (system, in_axes, shape, params).

    `system` is a :class:`DrivenSystem` whose batched leaves (bath, Θ, the drive's `BATCHED`
    fields) are 1-D of length prod(shape); `in_axes` the matching vmap axes (0 or None);
    `params` a dict name -> flat numpy values (for the dataset coordinates). A :class:`Drive`
    with `eps_start`/`eps_end` becomes the finite :class:`LinearSweep`. Δ must be 1 here.
    """
    if isinstance(drive, Drive):
        if np.any(np.asarray(drive.delta, float) != 1.0):
            raise ValueError("delta must be 1 for trajectories (give energies in units of delta)")
        if (eps_start is None) != (eps_end is None):
            raise ValueError("eps_start and eps_end must be given together (a finite linear sweep)")
        if eps_start is not None:
            drive = LinearSweep(v=drive.v, eps_start=eps_start, eps_end=eps_end)
    elif is_protocol(drive):
        if eps_start is not None or eps_end is not None:
            raise ValueError("eps_start/eps_end apply to the linear drive only; set the protocol's window")
    else:
        DrivenSystem(drive=drive, bath=bath, theta=theta)  # raises the drive error
    DrivenSystem(drive=drive, bath=bath, theta=theta)  # validates the bath (any spectral density) and Θ
    names = _batched_names(drive)
    values = {f"drive.{n}": np.asarray(getattr(drive, n), float) for n in names}
    # the bath's own leaves (a table's points are static, in its treedef, never broadcast)
    bath_leaves, bath_def = jax.tree_util.tree_flatten(bath)
    bath_keys = [f"bath.{i}" for i in range(len(bath_leaves))]
    values.update({k: np.asarray(a, float) for k, a in zip(bath_keys, bath_leaves, strict=True)})
    values["theta"] = np.asarray(theta, float)
    shape = np.broadcast_shapes(*(a.shape for a in values.values()))
    flat = {k: np.broadcast_to(a, shape).reshape(-1) for k, a in values.items()}
    drive_kw = {f.split(".", 1)[1]: jnp.asarray(a) for f, a in flat.items() if f.startswith("drive.")}
    leaves, treedef = jax.tree_util.tree_flatten(drive)
    flat_drive = jax.tree_util.tree_unflatten(treedef, leaves)
    for n, a in drive_kw.items():
        object.__setattr__(flat_drive, n, a)
    bath_flat = jax.tree_util.tree_unflatten(bath_def, [jnp.asarray(flat[k]) for k in bath_keys])
    system = DrivenSystem(drive=flat_drive, bath=bath_flat, theta=jnp.asarray(flat["theta"]))
    # vmap axes: 0 for the batched leaves, None for the rest (tabulated samples)
    axes_drive = jax.tree_util.tree_unflatten(treedef, [None] * len(leaves))
    for n in names:
        object.__setattr__(axes_drive, n, 0)
    in_axes = DrivenSystem.__new__(DrivenSystem)
    axes_bath = jax.tree_util.tree_unflatten(bath_def, [0] * len(bath_keys))
    for n, a in (("drive", axes_drive), ("bath", axes_bath), ("theta", 0)):
        object.__setattr__(in_axes, n, a)
    # the family's parameters by name (a sum's parts' "gamma[0]", ...; one T; not a table's unit)
    named = dict(zip(bath_keys, leaf_names(bath), strict=True))
    params = {}
    for k, v in flat.items():
        name = named.get(k, k.split(".", 1)[-1])
        if k != "drive.delta" and name != "unit":
            params.setdefault(name, v)
    return system, in_axes, shape, params


class HashableAxes:
    """Hashable wrapper of an in_axes pytree (static argument of the jitted cores)."""

    def __init__(self, tree):
        self.tree = tree
        self.key = str(jax.tree_util.tree_structure(tree, is_leaf=lambda x: x is None)) + str(
            jax.tree_util.tree_leaves(tree, is_leaf=lambda x: x is None)
        )

    def __hash__(self):
        return hash(self.key)

    def __eq__(self, other):
        return isinstance(other, HashableAxes) and self.key == other.key


def observables(r, epsilon, trace=None):
    """dict of P_ground, P_excited, P_up, r_x, r_y, r_z, trace from adiabatic Bloch vectors r
    (..., 3) at biases ε (...) (Δ = 1); `trace` Tr ρ (default 1)."""
    tr = jnp.ones_like(r[..., 0]) if trace is None else trace
    f = frame(epsilon)  # (3, 3, ...): rows e_x, e_y, e_z; lab s = −Σ_i r_i e_i
    s_z = -(r[..., 0] * f[0, 2] + r[..., 1] * f[1, 2] + r[..., 2] * f[2, 2])
    return {
        "P_ground": 0.5 * (tr + r[..., 0]),
        "P_excited": 0.5 * (tr - r[..., 0]),
        "P_up": 0.5 * (tr + s_z),
        "r_x": r[..., 0],
        "r_y": r[..., 1],
        "r_z": r[..., 2],
        "trace": tr,
    }


def trajectory_dataset(obs, t, epsilon, params, shape, *, engine, extra=None, attrs=None):
    """xarray.Dataset with dims (point, start, time): `obs` arrays (P, 2, m), coordinates t, ε
    (P, m), the parameters per point; `extra` (P,)- or (P, 2)-shaped variables."""
    import xarray as xr

    data: dict[str, tuple[tuple[str, ...], np.ndarray]] = {
        k: (("point", "start", "time"), np.asarray(v)) for k, v in obs.items()
    }
    for k, v in (extra or {}).items():
        v = np.asarray(v)
        data[k] = (("point", "start")[: v.ndim], v)
    coords = {
        "t": (("point", "time"), np.asarray(t)),
        "epsilon": (("point", "time"), np.asarray(epsilon)),
        "start": ["ground", "excited"],
    }
    coords.update({k: ("point", np.asarray(v)) for k, v in params.items()})
    out = xr.Dataset(data, coords=coords)
    out.attrs.update({"engine": engine, "batch_shape": list(shape), "units": "delta = hbar = 1"})
    out.attrs.update(attrs or {})
    return out


def drop_ends(times: np.ndarray, t0, t1) -> np.ndarray:
    """The requested record `times` without those equal (to 1e-12 relative) to the start or the
    end of every point: those two are always recorded, and would otherwise be recorded twice."""
    t0, t1 = np.asarray(t0, float).ravel(), np.asarray(t1, float).ravel()

    def at(edge):
        return np.all(np.abs(times[:, None] - edge[None]) <= 1e-12 * np.maximum(1.0, np.abs(edge[None])), axis=1)

    return times[~(at(t0) | at(t1))]
