"""QUAPI: numerically exact quasi-adiabatic path integral for the dissipative Landau-Zener problem.

Layout (one idea per module):

- `influence`: η coefficients and influence tensors of the discretised Feynman-Vernon functional;
- `propagator`: time-dependent system propagators in the coupling basis;
- `window`: the protocols ("window": exact |ε| ≤ ε_q with golden-rule tails; "plain");
- `engine`: the interface of an exact engine; `engines/`: the engines (`adt`: plain augmented
  density tensor);
- `runner`: vmapped, chunked batch runs of any engine, memory guard, float32 path;
- `solve`: fixed-settings calls; `ladder`: the convergence ladder (:func:`converge_quapi`).
"""

from .engines import ENGINES as ENGINES
from .engines.adt import adt_propagate as adt_propagate
from .influence import Eta as Eta
from .influence import eta_coefficients as eta_coefficients
from .ladder import converge_quapi as converge_quapi
from .solve import (
    estimate_memory_bytes as estimate_memory_bytes,
)
from .solve import (
    quapi_probabilities as quapi_probabilities,
)
from .solve import (
    quapi_window_probabilities as quapi_window_probabilities,
)
from .solve import (
    solve_quapi as solve_quapi,
)

__all__ = [
    "quapi_probabilities",
    "quapi_window_probabilities",
    "solve_quapi",
    "converge_quapi",
    "estimate_memory_bytes",
    "adt_propagate",
    "eta_coefficients",
    "Eta",
    "ENGINES",
]
