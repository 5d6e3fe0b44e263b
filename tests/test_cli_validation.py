"""Issue 23 (items 4, 7, 11): every input checked before any estimate or work, in one line
naming the parameter and its range (exit 2, no traceback, nothing written); a step limit for
every engine counted before allocation; the records of `lzjax trajectory`."""

from __future__ import annotations

import importlib
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("xarray")

import lzjax  # noqa: E402
from lzjax.checks import MAX_BATCH_BYTES, MAX_STEPS, check_batch_steps  # noqa: E402
from lzjax.cli import main  # noqa: E402
from lzjax.model import Bath, Drive  # noqa: E402
from lzjax.protocols import TanhSweep  # noqa: E402

sweep_module = importlib.import_module("lzjax.sweeps")
dynamics = importlib.import_module("lzjax.dynamics")
quapi_trajectory = importlib.import_module("lzjax.quapi.trajectory")
BASE = ["--T", "6.4", "--gamma", "5e-4", "--s", "3", "--omega-c", "5"]
FIG1 = Bath(gamma=5e-4, s=3.0, omega_c=5.0, T=6.4)
TANH = ["--drive", "tanh", "--amplitude", "5", "--tau", "1", "--t-start", "0"]


@pytest.fixture
def no_work(monkeypatch):
    """Any engine call fails the test: the checks must come before the work."""

    def refuse(*a, **k):
        raise AssertionError("the engine was called")

    monkeypatch.setattr(sweep_module, "engine_call", refuse)
    for name in ("neqb_trajectory", "crossing_window"):
        monkeypatch.setattr(dynamics, name, refuse)
    monkeypatch.setattr(quapi_trajectory, "exact_trajectory", refuse)


BAD = [
    # item 4: the size estimate used to run first (ZeroDivisionError, OverflowError, 300 digits)
    (["quapi", "--v", "0", *BASE, "--tol", "1e-3"], "v (sweep speed) must be finite and in (0, inf)"),
    (["quapi", "--v", "1e-300", *BASE, "--tol", "1e-3", "--yes"], "must be in [1e-06, 1e+06]; got 1e-300"),
    (["quapi", "--v", "1e-300", *BASE, "--tol", "1e-3"], "must be in [1e-06, 1e+06]; got 1e-300"),
    (["quapi", "--v", "2e-6", *BASE, "--tol", "1e-3", "--yes"], "in [5e-06, inf); got 2e-06"),  # the ladder's own
    (["quapi", "--v", "1", *BASE, "--dt", "0", "--kmax", "6", "--tmax", "60"], "dt must be"),
    (["quapi", "--v", "1", *BASE, "--dt", "nan", "--kmax", "6", "--tmax", "60"], "dt must be"),
    (["quapi", "--v", "1", *BASE, "--dt", "0.1", "--kmax", "100000", "--tmax", "60"], "kmax must be an integer in"),
    (["quapi", "--v", "1", *BASE, "--tol", "1e-3", "--budget", "100000"], "must be an integer in [3, 14]"),
    # item 7: step limits, before allocation
    (["trajectory", *TANH, "--t-end", "1e9", *BASE, "--every", "100"], f"at most {MAX_STEPS} steps per point"),
    (
        ["trajectory", *TANH, "--t-end", "1e9", *BASE, "--every", "100", "--engine", "quapi", "--dt", "0.1"]
        + ["--kmax", "2"],
        f"at most {MAX_STEPS} steps per point",
    ),
    (["trajectory", "--v", "1", *BASE, "--n-steps", "10000000000", "--every", "100"], "n_steps must be an integer"),
    (["window", "--v", "1", *BASE, "--n-seg", "1000000000"], f"n_seg must be an integer in [16, {MAX_STEPS}]"),
    # item 11: negative numbers after a flag, repeated flags, wording, --times nan
    (["quapi", "--v", "1", *BASE, "--tol", "-1e-3"], "tol must be a number in [1e-06, 0.1], got -0.001"),
    (["quapi", "--v", "1", *BASE, "--tol", "1e-3", "--pt-tol", "-1e-9"], "pt_tol must be a number in"),
    (["quapi", "--v", "1", *BASE, "--tol", "1e-3", "--tol", "1e-2"], "--tol given more than once"),
    (["neqb", "--v", "1", "--v", "2", *BASE], "--v given more than once"),
    (["trajectory", "--v", "1", *BASE, "--every", "2", "--every", "3"], "--every given more than once"),
    (["quapi", "--v", "1", *BASE, "--budget", "3"], "--budget needs --tol"),
    (["quapi", "--v", "1", *BASE, "--dt", "0.1", "--kmax", "4", "--tmax", "20", "--budget", "3"], "--budget belongs"),
    (["fit", "data.csv", "--fit", "gamma", *BASE, "--dt", "0.1"], "--dt belongs to"),
    (["trajectory", "--v", "1", *BASE, "--times", "nan"], "--times must be finite numbers"),
]


@pytest.mark.parametrize("argv, fragment", BAD)
def test_bad_input_one_line_before_any_estimate_or_work(argv, fragment, tmp_path, capsys, no_work):
    out = tmp_path / "r.json"
    code = main([*argv, "--out", str(out)] if argv[0] != "fit" else argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("lzjax: error:") and fragment in err, err
    assert "estimated" not in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_library_entry_points_refuse_before_allocation():
    with pytest.raises(ValueError, match="kmax"):  # was OverflowError in the chunk size
        lzjax.sweep("quapi", v=1.0, T=6.4, gamma=5e-4, s=3, omega_c=5, dt=0.1, kmax=100000, tmax=60)
    with pytest.raises(ValueError, match=r"^v/delta\*\*2 \(the sweep speed"):  # was OverflowError in the step grid
        lzjax.sweep("quapi", v=1e-300, T=6.4, gamma=5e-4, s=3, omega_c=5, tol=1e-3)
    with pytest.raises(ValueError, match=r"^v \(sweep speed"):  # inside the model's range, below the ladder's
        lzjax.sweep("quapi", v=2e-6, T=6.4, gamma=5e-4, s=3, omega_c=5, tol=1e-3)
    tanh = TanhSweep(amplitude=5.0, tau=1.0, t_start=0.0, t_end=1e9)
    with pytest.raises(ValueError, match="steps per point"):
        dynamics.neqb_trajectory(tanh, FIG1, every=100)
    with pytest.raises(ValueError, match="steps per point"):
        quapi_trajectory.exact_trajectory(tanh, FIG1, dt=0.1, kmax=2, every=100)
    with pytest.raises(ValueError, match="n_steps must be an integer"):
        dynamics.neqb_trajectory(Drive(v=1.0), FIG1, every=100, n_steps=10**10)
    with pytest.raises(ValueError, match="n_seg must be an integer"):
        dynamics.crossing_window(Drive(v=1.0), FIG1, n_seg=10**9)


@settings(max_examples=200, deadline=None)
@given(
    steps=st.floats(allow_nan=True, allow_infinity=True),
    n_points=st.integers(1, 10**9),
    size=st.integers(1, 4096),
)
def test_check_batch_steps_returns_a_bounded_count_or_one_value_error(steps, n_points, size):
    try:
        count = check_batch_steps(steps, n_points, size, settings="(t_end - t_start)/dt")
    except ValueError as error:
        assert str(error).startswith("(t_end - t_start)/dt")
        return
    assert math.isfinite(steps) and 1 <= count <= MAX_STEPS and n_points * count * size <= MAX_BATCH_BYTES


def _records(path):
    return json.loads(path.read_text())


@pytest.mark.parametrize(
    "engine",
    [["--engine", "quapi", "--dt", "0.1", "--kmax", "2"], ["--engine", "adt", "--dt", "0.1", "--kmax", "2"], []],
)
def test_trajectory_times_records_start_and_end_exactly_once(engine, tmp_path, capsys):
    """--times: start and end recorded (as the help says, for both engines), the recorded times
    equal the requested ones (no 1e-15 noise), a requested start recorded once."""
    out = tmp_path / "t.json"
    argv = ["trajectory", "--v", "1", *BASE, "--eps-start", "-20", "--eps-end", "20", "--times", "-20,0,5"]
    assert main([*argv, *engine, "--out", str(out)]) == 0, capsys.readouterr().err
    t = [rec["t"] for rec in _records(out)]
    assert t == [-20.0, 0.0, 5.0, 20.0]


# `lzjax window --out` prints no table: asserted in test_dynamics_cli.py
# (test_window_output_equals_crossing_window, with and without --out)


def test_window_step_limit_counts_points():
    with pytest.raises(ValueError, match="batch limit"):
        dynamics.check_window_steps(MAX_STEPS, 10**6)
    assert dynamics.check_window_steps(1024, 1) == 1024
    assert np.isfinite(MAX_BATCH_BYTES)
