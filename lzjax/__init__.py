"""lzjax: dissipative Landau-Zener dynamics in JAX (NEQB and QUAPI engines, sweeps, fitting).

Importing lzjax enables JAX's float64 mode (``jax_enable_x64``): the physics here needs double
precision. Opt into float32 explicitly where an engine offers it.
"""

import jax as _jax

_jax.config.update("jax_enable_x64", True)

# Every import below must follow the float64 switch (E402 is ignored for this file in pyproject.toml).
from . import bath, quapi
from .fit import FitResult, fit_curve, load_curve_csv
from .model import Bath, Drive, LZProblem, dimensionless
from .neqb import neqb_probabilities, solve_neqb
from .results import Result
from .sweep import SweepResult, sweep  # last: the function shadows the module name

__version__ = "0.1.0"

__all__ = [
    "Bath",
    "Drive",
    "LZProblem",
    "dimensionless",
    "Result",
    "neqb_probabilities",
    "solve_neqb",
    "bath",
    "SweepResult",
    "sweep",
    "quapi",
    "FitResult",
    "fit_curve",
    "load_curve_csv",
]
