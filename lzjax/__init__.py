"""lzjax: dissipative Landau-Zener dynamics in JAX (NEQB and QUAPI engines, sweeps, fitting).

Importing lzjax enables JAX's float64 mode (``jax_enable_x64``): the physics here needs double
precision. Opt into float32 explicitly where an engine offers it.
"""

import jax as _jax

_jax.config.update("jax_enable_x64", True)

from .model import Bath, Drive, LZProblem, dimensionless  # noqa: E402
from .results import Result  # noqa: E402
from .neqb import neqb_probabilities, solve_neqb  # noqa: E402
from . import bath  # noqa: E402
from .sweep import SweepResult, sweep  # noqa: E402  (the function shadows the module name)
from . import quapi  # noqa: E402
from .fit import FitResult, fit_curve, load_curve_csv  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "Bath", "Drive", "LZProblem", "dimensionless",
    "Result", "neqb_probabilities", "solve_neqb", "bath",
    "SweepResult", "sweep", "quapi", "FitResult", "fit_curve", "load_curve_csv",
]
