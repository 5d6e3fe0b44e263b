"""`lzjax trajectory` and `lzjax window` (issue 12, item 4): one-line errors before any work with
nothing written; the written records are the library's numbers (neqb_trajectory,
exact_trajectory, crossing_window) for the same arguments."""

from __future__ import annotations

import csv
import importlib
import json
import os
import time

import numpy as np
import pytest

pytest.importorskip("xarray")

from lzjax.cli import main  # noqa: E402
from lzjax.model import Bath, Drive  # noqa: E402

dynamics = importlib.import_module("lzjax.dynamics")
quapi_trajectory = importlib.import_module("lzjax.quapi.trajectory")
BATH = ["--T", "6.4", "--gamma", "5e-4", "--s", "3", "--omega-c", "5"]
FIG1 = Bath(gamma=5e-4, s=3.0, omega_c=5.0, T=6.4)
OBS = ("P_ground", "P_excited", "P_up", "r_x", "r_y", "r_z")


@pytest.fixture
def no_work(monkeypatch):
    """Any engine call fails the test: every check must come before the work."""

    def refuse(*a, **k):
        raise AssertionError("the engine was called")

    for name in ("neqb_trajectory", "crossing_window"):
        monkeypatch.setattr(dynamics, name, refuse)
    monkeypatch.setattr(quapi_trajectory, "exact_trajectory", refuse)


def one_error_line(capsys, fragment):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lzjax: error:") and fragment in err, err
    return err


LIN = ["trajectory", "--v", "1", *BATH]
TANH = ["trajectory", *BATH, "--drive", "tanh", "--amplitude", "5", "--tau", "3", "--t-start", "-10", "--t-end", "10"]
PER = [
    "trajectory",
    *BATH,
    "--drive",
    "periodic",
    "--eps0",
    "0.5",
    "--amplitude",
    "4",
    "--omega",
    "1",
    "--t-start",
    "0",
    "--t-end",
    "10",
]


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (LIN + ["--times", "0", "--out", "{d}/r.txt"], "--out must end in .csv or .json or .nc"),
        (LIN + ["--times", "0", "--out", "{d}/dir.csv"], "is a folder"),
        (LIN + ["--times", "0", "--out", "{d}/sub/r.csv"], "does not exist"),
        (LIN + ["--times", "0", "--out", "/proc/r.csv"], "cannot write into folder"),
        (LIN + ["--times", "0", "--out", "{d}/r.csv", "--plot", "{d}/p.gif"], "--plot must end in"),
        (LIN + ["--times", "0", "--tau", "3", "--omega", "1"], "--tau, --omega do not apply to --drive linear"),
        (TANH + ["--v", "1", "--times", "0"], "--v does not apply to --drive tanh"),
        (TANH + ["--omega", "2", "--times", "0"], "--omega does not apply to --drive tanh"),
        (PER[:-4] + ["--times", "1"], "--drive periodic needs --t-start, --t-end"),
        (TANH + ["--times", "0", "--n-steps", "64"], "--n-steps does not apply to --drive tanh"),
        (LIN + ["--times", "0", "--dt", "0.1"], "--dt does not apply to --engine neqb with --drive linear"),
        (LIN + ["--times", "0", "--kmax", "4"], "--kmax does not apply to --engine neqb"),
        (LIN + ["--times", "0", "--engine", "quapi", "--dt", "0.1", "--kmax", "3"], "needs a finite window"),
        (LIN + ["--times", "0", "--engine", "quapi", "--eps-start", "-5", "--eps-end", "5"], "quapi needs --dt"),
        (
            LIN + ["--times", "0", "--engine", "adt", "--dt", "0.1", "--eps-start", "-5", "--eps-end", "5"],
            "kmax (memory length in steps) is required",
        ),
        (
            LIN
            + ["--times", "0", "--engine", "adt", "--dt", "0.1", "--kmax", "2", "--memory", "1"]
            + ["--eps-start", "-5", "--eps-end", "5"],
            "--memory does not apply to --engine adt",
        ),
        (
            LIN
            + ["--times", "0", "--engine", "pt", "--dt", "0.1", "--kmax", "2", "--memory", "1"]
            + ["--eps-start", "-5", "--eps-end", "5"],
            "give one",
        ),
        (
            LIN
            + ["--times", "0", "--engine", "pt", "--dt", "0.1", "--memory", "500"]
            + ["--eps-start", "-5", "--eps-end", "5"],
            "memory_time must be a number in [0.1, 100]",
        ),
        (LIN + ["--times", "0", "--memory", "1"], "--memory does not apply to --engine neqb"),
        (
            PER + ["--every", "5", "--engine", "quapi", "--dt", "0.1", "--kmax", "3", "--n-steps", "64"],
            "--n-steps does not apply to --engine quapi",
        ),
        (LIN + ["--times", "0", "--eps-start", "-5"], "--eps-start and --eps-end go together"),
        (LIN + ["--times", "-7", "--eps-start", "-5", "--eps-end", "5"], "--times must lie inside"),
        (LIN + ["--eps-start", "5", "--eps-end", "-5", "--every", "4"], "eps_end must be > eps_start"),
        (LIN + ["--times", "0", "--every", "4"], "give one of --times"),
        (LIN, "give one of --times"),
        (LIN + ["--times", "0,x"], "--times: cannot read 'x'"),
        (LIN + ["--every", "0"], "--every must be a positive integer"),
        (LIN + ["--times", "0", "--gamma", "-1"], "gamma"),
        (LIN + ["--times", "0", "--delta", "2"], "--delta must be 1"),
        (TANH + ["--times", "0", "--window-tol", "1e-3"], "--window-tol applies to --drive linear only"),
        (["trajectory", *BATH, "--times", "0"], "--drive linear needs --v"),
        (["window", *BATH, "--v", "1", "--tol", "0.5"], "--tol must be in"),
        (["window", *BATH, "--v", "1", "--out", "{d}/w.png"], "--out must end in"),
        (["window", *BATH, "--v", "1", "--times", "0"], "unrecognized arguments: --times"),
        (["window", *BATH, "--v", "1", "--plot", "{d}/w.gif"], "--plot must end in"),
        (["window", *BATH, "--v", "1", "--plot", "{d}/sub/w.png"], "does not exist"),
        (["window", *BATH, "--v", "1", "--plot", "/proc/w.png"], "cannot write into folder"),
        (["window", *BATH, "--v", "1", "--out", "{d}/w.csv", "--plot", "{d}/dir.csv"], "--plot must end in"),
    ],
)
def test_bad_flags_and_paths_fail_fast_and_write_nothing(argv, fragment, tmp_path, capsys, no_work):
    (tmp_path / "dir.csv").mkdir()
    t0 = time.perf_counter()
    assert main([a.format(d=tmp_path) for a in argv]) == 2
    assert time.perf_counter() - t0 < 2.0
    one_error_line(capsys, fragment)
    assert sorted(os.listdir(tmp_path)) == ["dir.csv"], "nothing written, no .tmp left"


def test_a_failing_plot_leaves_no_records_file(tmp_path, capsys, monkeypatch):
    plotting = importlib.import_module("lzjax.plotting")

    def broken(*a, **k):
        raise ValueError("plot failed")

    monkeypatch.setattr(plotting, "plot_trajectory", broken)
    argv = LIN + [
        "--eps-start",
        "-4",
        "--eps-end",
        "4",
        "--every",
        "32",
        "--n-steps",
        "64",
        "--out",
        str(tmp_path / "r.csv"),
        "--plot",
        str(tmp_path / "p.png"),
    ]
    assert main(argv) == 2
    one_error_line(capsys, "plot failed")
    assert os.listdir(tmp_path) == []


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_trajectory_records_equal_neqb_trajectory(tmp_path, capsys):
    """A batched finite linear sweep (v = 0.5, 1; ε = −6 … 6, 128 asinh steps, three times):
    every CSV and JSON row equals neqb_trajectory's values for the same arguments (to 1e-15),
    point-major, parameters included; the plot is written."""
    times = [-2.0, 0.0, 3.0]
    base = (
        LIN[:2] + ["0.5,1"] + LIN[3:] + ["--eps-start", "-6", "--eps-end", "6", "--times", "-2,0,3", "--n-steps", "128"]
    )
    assert main(base + ["--out", str(tmp_path / "r.csv"), "--plot", str(tmp_path / "p.png")]) == 0
    assert main(base + ["--out", str(tmp_path / "r.json"), "--start", "excited"]) == 0
    capsys.readouterr()
    assert (tmp_path / "p.png").stat().st_size > 5_000
    ds = dynamics.neqb_trajectory(
        Drive(v=np.array([0.5, 1.0])), FIG1, 0.0, times=times, eps_start=-6.0, eps_end=6.0, n_steps=128
    )
    for rows, start in (
        (_read_csv(tmp_path / "r.csv"), "ground"),
        (json.loads((tmp_path / "r.json").read_text()), "excited"),
    ):
        sel = ds.sel(start=start)
        assert len(rows) == 2 * 5  # two points, start + three times + end
        for i, row in enumerate(rows):
            p, j = divmod(i, 5)
            assert row["start"] == start
            assert float(row["v"]) == float(ds.v[p]) and float(row["T"]) == 6.4 and float(row["eps_end"]) == 6.0
            got = [float(row[k]) for k in ("t", "epsilon", *OBS)]
            want = [float(ds.t[p, j]), float(ds.epsilon[p, j])] + [float(sel[k][p, j]) for k in OBS]
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-15)


@pytest.mark.parametrize(
    "flags, engine, memory",
    [
        (["--engine", "adt", "--kmax", "2"], "adt", 2),
        (["--engine", "pt", "--memory", "0.3"], "pt", 3),  # memory time 0.3/Δ: K = 3 steps of 0.1
        (["--engine", "quapi", "--kmax", "3"], "pt", 3),  # quapi: the alias of pt, in every subcommand
    ],
)
def test_exact_trajectory_records_equal_exact_trajectory(tmp_path, capsys, flags, engine, memory):
    """--engine adt / pt / quapi (periodic drive, δt = 0.1, every 25 steps): the JSON rows equal
    exact_trajectory's values with the same engine and run memory (the process tensor's from
    PT.fixed_memory: K steps, pt_tol 1e-9)."""
    from lzjax.protocols import PeriodicDrive
    from lzjax.quapi.engines import get_engine

    out = tmp_path / "q.json"
    assert main(PER + ["--every", "25", "--dt", "0.1", *flags, "--out", str(out)]) == 0
    capsys.readouterr()
    rows = json.loads(out.read_text())
    exact = get_engine(engine)
    kmax = exact.fixed_memory(0.1, memory)
    ds = quapi_trajectory.exact_trajectory(
        PeriodicDrive(0.5, 4.0, 1.0, 0.0, 10.0), FIG1, 0.0, dt=0.1, kmax=kmax, every=25, engine=exact
    )
    assert ds.attrs["engine"] == f"quapi-{engine}"
    assert len(rows) == ds.sizes["time"] == 5
    for j, row in enumerate(rows):
        want = [float(ds.t[0, j])] + [float(ds.sel(start="ground")[k][0, j]) for k in OBS]
        np.testing.assert_allclose([row[k] for k in ("t", *OBS)], want, rtol=0, atol=1e-15)


@pytest.mark.slow
def test_window_output_equals_crossing_window(tmp_path, capsys):
    """`lzjax window` (v = 1, 3; δ = 1e-2, 64 steps per segment, 4 halvings): the printed table
    (without --out) and the JSON records (with it, no table then) carry crossing_window's ε₋,
    ε₊, their errors and the rate-based estimate."""
    argv = [
        "window",
        "--v",
        "1,3",
        *BATH,
        "--tol",
        "1e-2",
        "--n-seg",
        "64",
        "--iterations",
        "4",
        "--out",
        str(tmp_path / "w.json"),
    ]
    assert main(argv) == 0
    assert capsys.readouterr().out == ""  # with --out a file, no table (as neqb; issue 23 item 11)
    rows = json.loads((tmp_path / "w.json").read_text())
    assert main(argv[:-2]) == 0
    out = capsys.readouterr().out.splitlines()
    ds = dynamics.crossing_window(Drive(v=np.array([1.0, 3.0])), FIG1, 0.0, tol=1e-2, n_seg=64, iterations=4)
    assert (
        len(rows) == 2
        and len(out) == 3
        and out[0].split()[6:10] == ["eps_minus", "eps_minus_err", "eps_plus", "eps_plus_err"]
    )
    for p, row in enumerate(rows):
        assert row["v"] == float(ds.v[p]) and row["tol"] == 1e-2
        for k in (
            "eps_minus",
            "eps_plus",
            "eps_minus_err",
            "eps_plus_err",
            "rate_eps_minus",
            "rate_eps_plus",
            "window_dev",
        ):
            assert row[k] == pytest.approx(float(ds[k][p]), abs=1e-12), k
        printed = [float(x) for x in out[1 + p].split()]
        np.testing.assert_allclose(
            printed[6:10], [row[k] for k in ("eps_minus", "eps_minus_err", "eps_plus", "eps_plus_err")], rtol=1e-5
        )


@pytest.mark.slow
def test_window_plot_written_with_the_records(tmp_path, capsys):
    """`lzjax window --plot w.png` (v = 1, 3 × T = 1.6, 6.4): a valid PNG beside the records; the
    figure is lzjax.plotting.plot_window's (edges with error bars, the window shaded)."""
    pytest.importorskip("matplotlib")
    png, out = tmp_path / "w.png", tmp_path / "w.csv"
    bath = ["--T", "1.6,6.4", "--gamma", "5e-4", "--s", "3", "--omega-c", "5"]
    argv = ["window", "--v", "1,3", *bath, "--tol", "1e-2", "--n-seg", "64", "--iterations", "4"]
    assert main([*argv, "--plot", str(png), "--out", str(out)]) == 0
    capsys.readouterr()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.exists()
    assert sorted(os.listdir(tmp_path)) == ["w.csv", "w.png"]


def test_window_plot_refused_before_any_work(tmp_path, capsys, no_work):
    """A --plot that cannot be written (read-only folder) exits 2 before the computation; nothing written."""
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        assert main(["window", "--v", "1", *BATH, "--plot", str(ro / "w.png")]) == 2
        one_error_line(capsys, "--plot")
        assert os.listdir(ro) == []
    finally:
        ro.chmod(0o700)
