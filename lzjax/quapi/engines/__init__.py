"""Exact engines behind the interface of :mod:`lzjax.quapi.engine`, as configured objects.

- :class:`ADT` ``ADT(budget=10, eps_q=15)``: the plain augmented density tensor (Makri &
  Makarov), cost ∝ 4^k_max per step;
- :class:`PT` ``PT(memory_time=6.4, pt_tol=None, chi_max=512, dt=None, eps_q=None)``: the
  uniform process tensor (compressed influence functional, built once per bath and δt), cost ∝
  χ² per step.

A third engine is one module here and one line in :data:`ENGINES` (its name to its class).
"""

from .adt import ADT as ADT
from .pt import PT as PT

#: engine name -> engine class (configured with its defaults when chosen by name)
ENGINES = {"adt": ADT, "pt": PT}

__all__ = ["ENGINES", "ADT", "PT", "get_engine", "select_engine"]


def get_engine(name):
    """The engine called `name` with its default settings; an engine class is configured with
    its defaults, an engine object is returned as is."""
    if isinstance(name, type):
        return name()
    if not isinstance(name, str):
        return name
    if name not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(repr(k) for k in ENGINES)}, got {name!r}")
    return ENGINES[name]()


def select_engine(engine=None, *, fixed: bool = False, budget=None):
    """The exact engine of a call: `engine` (a name or an engine) if given; else the plain ADT for
    fixed settings or when its memory `budget` is given; else the process tensor (the one rule of
    every entry point: :func:`lzjax.quapi.converge_quapi`, :func:`lzjax.sweep`, the CLI)."""
    if engine is None:
        engine = "adt" if fixed or budget is not None else "pt"
    return get_engine(engine)
