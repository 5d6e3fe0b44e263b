"""Sweeps (labelled grids) and the command-line contract."""

import csv
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from lzjax import Bath, Drive, LZProblem, solve_neqb
from lzjax.cli import main, parse_angle
from lzjax.sweeps import sweep

BASE = ["--T", "6.4", "--gamma", "5e-4", "--s", "3", "--omega-c", "5"]


@pytest.mark.slow
def test_sweep_grid_layout_matches_direct_calls():
    """The grid's layout, and its point equal to a direct call (an equality of two runs: at
    NEQB tol 1e-4, fewer refinement levels to run)."""
    res = sweep("neqb", v=[0.1, 1.0], theta=[0.0, 0.3], T=[0.0, 6.4], gamma=5e-4, s=3, omega_c=5, tol=1e-4)
    assert res.dims == ("v", "T", "theta")
    assert res["P_LZ"].shape == (2, 2, 2, 1, 1, 1, 1)
    direct = solve_neqb(LZProblem(Drive(1.0), Bath(5e-4, 3.0, 5.0, 6.4), 0.3), tol=1e-4)
    assert res["P_LZ"][1, 1, 1, 0, 0, 0, 0] == pytest.approx(float(direct.P_LZ), abs=1e-9)
    ds = res.to_xarray()
    assert ds["P_LZ"].sel(v=1.0, T=6.4, theta=0.3).item() == pytest.approx(float(direct.P_LZ), abs=1e-9)


def test_sweep_rejects_unknown_and_bad_parameters():
    with pytest.raises(ValueError, match="unknown sweep parameter"):
        sweep("neqb", v=1.0, T=1.0, gamma=1e-3, s=3, omega_c=5, speed=2)
    with pytest.raises(ValueError, match="^omega_c"):
        sweep("neqb", v=1.0, T=1.0, gamma=1e-3, s=3, omega_c=[5, -1])
    with pytest.raises(ValueError, match="engine must be"):
        sweep("magic", v=1.0, T=1.0, gamma=1e-3, s=3, omega_c=5)


@pytest.mark.parametrize(
    "text, value",
    [
        ("0.3", 0.3),
        ("0.022pi", 0.022 * math.pi),
        ("-pi/4", -math.pi / 4),
        ("pi/2", math.pi / 2),
        ("-0.5*pi", -0.5 * math.pi),
        ("pi", math.pi),
    ],
)
def test_parse_angle(text, value):
    assert parse_angle(text) == pytest.approx(value)


@pytest.mark.slow
def test_cli_json_contract(tmp_path):
    out = tmp_path / "r.json"
    assert main(["neqb", "--v", "0.1,0.3,1", *BASE, "--theta", "0,0.022pi", "--out", str(out)]) == 0
    records = json.loads(out.read_text())
    assert len(records) == 6
    for key in ["v", "T", "gamma", "s", "omega_c", "theta", "delta", "P_LZ", "P_ES", "P_LZ_err", "converged"]:
        assert key in records[0]
    rec = next(r for r in records if r["v"] == 0.3 and r["theta"] > 0)
    assert rec["theta"] == pytest.approx(0.022 * math.pi)
    direct = solve_neqb(LZProblem(Drive(0.3), Bath(5e-4, 3.0, 5.0, 6.4), 0.022 * math.pi))
    assert rec["P_LZ"] == pytest.approx(float(direct.P_LZ), abs=1e-9)
    assert all(0.0 <= r["P_LZ"] <= 1.0 and 0.0 <= r["P_ES"] <= 1.0 for r in records)


@pytest.mark.slow
def test_cli_csv_table_and_plot(tmp_path, capsys):
    out, png = tmp_path / "r.csv", tmp_path / "r.png"
    assert main(["neqb", "--v", "0.3,1", *BASE, "--out", str(out), "--plot", str(png)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 2 and {"v", "P_LZ", "P_ES"} <= set(rows[0])
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    assert main(["neqb", "--v", "1", *BASE]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:2] == ["v", "T"] and len(table) == 2


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["neqb", "--v", "-1", *BASE], "v (sweep speed) must be"),
        (["neqb", "--v", "1", "--T", "6.4", "--gamma", "5e-4", "--s", "0", "--omega-c", "5"], "s (spectral exponent)"),
        (["neqb", "--v", "1", *BASE, "--theta", "-pi/2"], "theta (coupling angle"),
        (["neqb", "--v", "1,abc", *BASE], "--v: cannot read 'abc'"),
        (["neqb", "--v", "1", *BASE, "--theta", "2pix"], "cannot read angle"),
        (["neqb", "--v", "1", "--T", "6.4"], "required"),
        (["neqb", "--v", "1", *BASE, "--out", "x.txt"], "--out must end in"),
        (["neqb", "--v", "1", *BASE, "--bogus", "3"], "unrecognized arguments"),
        ([], "choose a command"),
        (["quapi", "--v", "1", *BASE, "--tol", "1e-2", "--eps-q", "200"], "eps_q must be a number in [5, 120]"),
        (
            ["quapi", "--v", "1", *BASE, "--tol", "1e-2", "--budget", "8", "--eps-q", "100"],
            "eps_q must be a number in [5, 40]",
        ),
    ],
)
def test_cli_bad_input_exits_nonzero_with_one_line(argv, fragment, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lzjax: error:") and fragment in err


def test_console_script_entry_point():
    proc = subprocess.run(
        [sys.executable, "-m", "lzjax.cli", "neqb", "--v", "0", *BASE], capture_output=True, text=True
    )
    assert proc.returncode == 2 and proc.stderr.startswith("lzjax: error: v")


def test_cli_quapi_fixed_settings_contract(tmp_path):
    """`lzjax quapi` writes the same records plus dt, kmax, t_max; fixed settings carry null errors."""
    out = tmp_path / "q.json"
    argv = [
        "quapi",
        "--v",
        "1,3",
        "--T",
        "6.4",
        "--gamma",
        "5e-4",
        "--s",
        "3",
        "--omega-c",
        "5",
        "--dt",
        "0.1",
        "--kmax",
        "4",
        "--tmax",
        "24",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    records = json.loads(out.read_text())
    assert len(records) == 2
    for rec in records:
        assert rec["dt"] == 0.1 and rec["kmax"] == 4 and rec["t_max"] == pytest.approx(24.0)
        assert rec["P_LZ_err"] is None and rec["converged"] is False
        assert 0.0 <= rec["P_LZ"] <= 1.0 and 0.0 <= rec["P_ES"] <= 1.0
    # weak coupling, fast drive: close to the coherent Landau-Zener value (NEQB differs by < 5e-3 here)
    assert records[1]["P_LZ"] == pytest.approx(1 - math.exp(-math.pi / 6), abs=5e-3)


def test_cli_quapi_needs_complete_settings(capsys):
    base = ["quapi", "--v", "1", "--T", "6.4", "--gamma", "5e-4", "--s", "3", "--omega-c", "5"]
    assert main(base + ["--dt", "0.1"]) == 2
    assert main(base + ["--dt", "0.1", "--kmax", "4", "--tmax", "20", "--tol", "1e-3"]) == 2
    assert main(base + ["--dt", "-0.1", "--kmax", "4", "--tmax", "20"]) == 2
    errs = capsys.readouterr().err.strip().splitlines()
    assert len(errs) == 3 and all(e.startswith("lzjax: error:") for e in errs)
    assert "dt" in errs[2]


def _ladder_like_result(err: float):
    """A QUAPI-ladder-shaped SweepResult (v × T), one point not computed (NaN)."""
    from lzjax.sweeps import SweepResult

    v, T = np.geomspace(0.1, 10, 6), np.array([1.6, 6.4])
    P = np.exp(-np.pi / (2 * v))[:, None] * np.array([1.0, 0.9])[None, :]
    shape = (6, 2, 1, 1, 1, 1, 1)
    P_LZ = P.reshape(shape).copy()
    P_LZ[2, 1] = np.nan  # status other than converged/unchecked: absent
    data = {
        "P_LZ": P_LZ,
        "P_ES": 0.1 * P_LZ,
        "P_LZ_err": np.full(shape, err),
        "P_ES_err": np.full(shape, err),
    }
    coords = {"v": v, "T": T, "theta": [0.0], "omega_c": [5.0], "gamma": [5e-4], "s": [3.0], "delta": [1.0]}
    return SweepResult(coords={k: np.asarray(c) for k, c in coords.items()}, data=data, attrs={"engine": "quapi"})


def test_sweep_plot_markers_and_error_bars(tmp_path):
    """Markers at the computed points; error bars (ErrorbarContainer) where P_LZ_err/P_ES_err are
    finite, none where they are NaN (fixed QUAPI, NEQB); a NaN point is not drawn."""
    pytest.importorskip("matplotlib")
    from matplotlib.container import ErrorbarContainer

    fig = _ladder_like_result(0.02).plot(tmp_path / "p.png")
    ax = fig.axes[0]
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 4  # P_LZ and P_ES for each T
    lines = [c.lines[0] for c in bars]
    assert all(line.get_marker() in ("o", "s") for line in lines)
    assert sum(np.isnan(np.asarray(line.get_ydata(), dtype=float)).sum() for line in lines) == 2
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    fig = _ladder_like_result(np.nan).plot()
    ax = fig.axes[0]
    assert not [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(ax.lines) == 4 and all(line.get_marker() in ("o", "s") for line in ax.lines)
