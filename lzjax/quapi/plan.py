"""What a convergence ladder is made of: its runs, and the window quantities its plans read.

A ladder (:mod:`lzjax.quapi.ladder`) is a set of named :class:`Run`\\ s that an engine plans
(``engine.ladder_plans``, :mod:`lzjax.quapi.engines`) and one rule that combines their results.
Times in 1/Δ, energies in Δ, of the dimensionless problem.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax

from ..programs import Program
from .window import tail_weight

__all__ = ["Run", "take", "tail_weights", "tail_weights_each"]


@dataclasses.dataclass(frozen=True)
class Run:
    """One ladder run: target time step `dt` (1/Δ), engine `memory` setting (k_max steps for the
    ADT, :class:`lzjax.quapi.engines.pt.PTSettings` for the process tensor), window half-width
    `eps_q` (Δ). With `fixed_dt` (shared-influence engines: one tensor per bath and δt for every
    sweep speed) the run keeps δt and widens ε_q to v N δt/2; otherwise it keeps ε_q and uses
    δt = 2 ε_q/(v N) (:meth:`grid`).
    """

    dt: float
    memory: Any
    eps_q: float
    fixed_dt: bool = False

    @property
    def steps(self) -> int:
        """The memory in steps."""
        return int(getattr(self.memory, "kmax", self.memory))

    def grid(self, v: float) -> tuple[int, float]:
        """(N, δt) of this run at sweep speed v (dimensionless)."""
        lowest = 1 if self.fixed_dt else self.steps + 1
        n_steps = max(int(math.ceil(2.0 * self.eps_q / (v * self.dt))), lowest)
        return n_steps, (self.dt if self.fixed_dt else 2.0 * self.eps_q / (v * n_steps))


def take(tree, index):
    """The points `index` of a flat batch (every leaf indexed along its first axis)."""
    return jax.tree_util.tree_map(lambda a: a[index], tree)


#: ∫Γ1 dt beyond ε_q (:func:`lzjax.quapi.window.tail_weight`) at one ε_q for a flat batch
tail_weights = Program("quapi.plan.tail_weights", jax.vmap(tail_weight, in_axes=(0, None)))
#: the same at a window per point
tail_weights_each = Program("quapi.plan.tail_weights_each", jax.vmap(tail_weight))
