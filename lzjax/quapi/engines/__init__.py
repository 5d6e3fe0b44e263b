"""Exact engines behind the interface of :mod:`lzjax.quapi.engine`.

- `adt`: the plain augmented density tensor (Makri & Makarov), cost ∝ 4^k_max per step;
- `pt`: the uniform process tensor (compressed influence functional, built once per bath and δt),
  cost ∝ χ² per step.
"""

from .adt import ADT as ADT
from .pt import PT as PT

#: engine name -> engine
ENGINES = {"adt": ADT, "pt": PT}

__all__ = ["ENGINES", "ADT", "PT", "get_engine"]


def get_engine(name):
    """The engine called `name` (or an engine object, returned as is)."""
    if not isinstance(name, str):
        return name
    if name not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(repr(k) for k in ENGINES)}, got {name!r}")
    return ENGINES[name]
