"""Exact engines behind the interface of :mod:`lzjax.quapi.engine`.

- `adt`: the plain augmented density tensor (Makri & Makarov), cost ∝ 4^k_max per step.
"""

from .adt import ADT as ADT

#: engine name -> engine
ENGINES = {"adt": ADT}

__all__ = ["ENGINES", "ADT", "get_engine"]


def get_engine(name):
    """The engine called `name` (or an engine object, returned as is)."""
    if not isinstance(name, str):
        return name
    if name not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(repr(k) for k in ENGINES)}, got {name!r}")
    return ENGINES[name]
