"""Batch placement over all visible devices with JAX's SPMD machinery (one code path).

A batch of parameter points is laid out along a 1-D device mesh axis ``"batch"`` with a
``NamedSharding``; the jitted, vmapped engines then run partitioned by XLA (GSPMD) on one CPU,
one GPU or many. On a single device this is a plain ``device_put``.

Clusters: start every host with ``jax.distributed.initialize()`` (coordinator address, number of
processes, process id — or the SLURM/MPI auto-detection), then call the same lzjax sweep on every
host: ``jax.devices()`` lists the devices of all hosts, and the mesh spans them; results are
gathered to every process (:func:`gather`). Tested with two CPU processes on one machine
(tests/test_distributed.py: gloo collectives, ``jax_cpu_collectives_implementation="gloo"``).
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = ["batch_mesh", "padded_size", "shard_batch", "gather"]


def batch_mesh(devices=None) -> Mesh:
    """A 1-D mesh named ``"batch"`` over `devices` (default: all visible devices)."""
    devices = jax.devices() if devices is None else devices
    return Mesh(np.asarray(devices), ("batch",))


def padded_size(n: int, n_devices: int | None = None) -> int:
    """Smallest power of two ≥ n that is also a multiple of the device count."""
    n_devices = jax.device_count() if n_devices is None else n_devices
    size = 1 << max(0, (n - 1).bit_length())
    return int(np.lcm(size, n_devices))


def shard_batch(tree, mesh: Mesh | None = None):
    """Place every leaf (leading axis = batch, a multiple of the device count) across the mesh."""
    mesh = batch_mesh() if mesh is None else mesh
    sharding = NamedSharding(mesh, PartitionSpec("batch"))
    return jax.device_put(tree, sharding)


def gather(x) -> np.ndarray:
    """A (possibly multi-process) batch array as a host numpy array on every process: the
    global value (``process_allgather``) when the array spans other processes' devices."""
    if getattr(x, "is_fully_addressable", True):
        return np.asarray(x)
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(x, tiled=True))
