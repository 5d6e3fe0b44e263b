"""QUAPI: numerically exact quasi-adiabatic path integral for the dissipative Landau-Zener problem.

Modules: `influence` (η coefficients, influence tensors), `propagator` (time-dependent system
propagators in the coupling basis, Landau-Zener protocol), `adt` (augmented density tensor
iteration), `converge` (entry points, memory guard, convergence ladder).
"""

from .adt import adt_propagate as adt_propagate
from .converge import (
    QUAPIResult as QUAPIResult,
    converge_quapi as converge_quapi,
    estimate_memory_bytes as estimate_memory_bytes,
    quapi_probabilities as quapi_probabilities,
    solve_quapi as solve_quapi,
)
from .influence import Eta as Eta, eta_coefficients as eta_coefficients

__all__ = ["QUAPIResult", "quapi_probabilities", "solve_quapi", "converge_quapi",
           "estimate_memory_bytes", "adt_propagate", "eta_coefficients", "Eta"]
