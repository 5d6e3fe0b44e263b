"""QUAPI: numerically exact quasi-adiabatic path integral for the dissipative Landau-Zener problem.

Layout (one idea per module):

- `influence`: η coefficients and influence tensors of the discretised Feynman-Vernon functional;
- `propagator`: time-dependent system propagators in the coupling basis;
- `window`: the QUAPI schemes (:data:`lzjax.quapi.window.QUAPI_SCHEMES`: "window", exact
  |ε| ≤ ε_q with golden-rule tails; "plain");
- `engine`: the interface of an exact engine; `engines/`: the engines as configured objects
  (:class:`ADT`, the plain augmented density tensor; :class:`PT`, the process tensor) and their
  registry :data:`ENGINES`;
- `plan`: a ladder's runs; `runner`: vmapped, chunked batch runs of any engine, memory guard,
  float32 path;
- `solve`: fixed-settings calls; `ladder`: the convergence ladder (:func:`converge_quapi`);
  `trajectory`: ρ(t) along finite protocols (:func:`exact_trajectory`); `trajectory_ladder`:
  converged trajectories with error bars (:func:`converge_trajectory`) and a finite protocol's
  end points (:func:`converge_end_point`); `crossing`: the crossing
  window of the exact dynamics (:func:`exact_crossing_window`).
"""

from .crossing import exact_crossing_window
from .engines import ADT, ENGINES, PT
from .engines.adt import adt_propagate
from .influence import Eta, eta_coefficients
from .ladder import converge_quapi
from .solve import estimate_memory_bytes, quapi_probabilities, quapi_window_probabilities, solve_quapi
from .trajectory import exact_trajectory
from .trajectory_ladder import converge_end_point, converge_trajectory

__all__ = [
    "converge_quapi",
    "solve_quapi",
    "exact_trajectory",
    "converge_trajectory",
    "converge_end_point",
    "exact_crossing_window",
    "quapi_probabilities",
    "quapi_window_probabilities",
    "estimate_memory_bytes",
    "ADT",
    "PT",
    "ENGINES",
    "adt_propagate",
    "eta_coefficients",
    "Eta",
]
