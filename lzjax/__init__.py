"""lzjax: dissipative Landau-Zener dynamics in JAX (NEQB and QUAPI engines, sweeps, fitting).

Importing lzjax enables JAX's float64 mode (``jax_enable_x64``): the physics here needs double
precision. Opt into float32 explicitly where an engine offers it.
"""

import jax as _jax

_jax.config.update("jax_enable_x64", True)

# Every import below must follow the float64 switch (E402 is ignored for this file in pyproject.toml).
from . import bath, quapi
from .dynamics import crossing_window, neqb_trajectory
from .fit import FitResult, fit_curve, load_curve_csv
from .model import Bath, Drive, LZProblem, dimensionless
from .neqb import KAPPA_MAX, neqb_probabilities, solve_neqb
from .protocols import LinearSweep, PeriodicDrive, TabulatedDrive, TanhSweep
from .quapi import ADT, ENGINES, PT, converge_quapi, solve_quapi
from .quapi.crossing import exact_crossing_window
from .quapi.trajectory import exact_trajectory
from .quapi.trajectory_ladder import converge_trajectory
from .results import Result
from .sweeps import SweepResult, sweep
from .version import __version__ as __version__

__all__ = [
    # parameters and drives
    "Bath",
    "Drive",
    "LZProblem",
    "dimensionless",
    "LinearSweep",
    "TanhSweep",
    "PeriodicDrive",
    "TabulatedDrive",
    # end points: NEQB and the exact engines (configured objects, ENGINES their registry)
    "Result",
    "solve_neqb",
    "neqb_probabilities",
    "KAPPA_MAX",
    "converge_quapi",
    "solve_quapi",
    "ADT",
    "PT",
    "ENGINES",
    # grids, fits, dynamics
    "sweep",
    "SweepResult",
    "fit_curve",
    "FitResult",
    "load_curve_csv",
    "neqb_trajectory",
    "exact_trajectory",
    "converge_trajectory",
    "crossing_window",
    "exact_crossing_window",
    # modules
    "bath",
    "quapi",
]
