"""QUAPI float32 fast path (issue 6): the ADT in complex64 stays within 1e-5 of float64.

Measured (benchmarks/bench_precision.py --quapi): max |ΔP| 1.7e-6 at k_max = 6, 8.8e-7 at 8.
"""

import numpy as np
import pytest

from lzjax import Bath, Drive, LZProblem
from lzjax.quapi import solve_quapi


def test_float32_adt_error_is_bounded():
    problem = LZProblem(Drive(np.array([0.3, 1.0, 3.0])), Bath(np.array([5e-4, 5e-4, 5e-3]), 3.0, 5.0, 6.4), 0.0)
    f64 = solve_quapi(problem, dt=0.1, kmax=5, tmax=30.0)
    f32 = solve_quapi(problem, dt=0.1, kmax=5, tmax=30.0, precision="float32")
    assert np.abs(f32.P_LZ - f64.P_LZ).max() < 1e-5
    assert np.abs(f32.P_ES - f64.P_ES).max() < 1e-5
    assert np.abs(f32.P_LZ - f64.P_LZ).max() > 0  # it really ran in single precision
    with pytest.raises(ValueError, match="^precision must be"):
        solve_quapi(problem, dt=0.1, kmax=5, tmax=30.0, precision="half")
