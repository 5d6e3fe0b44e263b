"""The command line never loses or mixes data and fails in one clear line, before any work
(issue 13, items 2-5 and 7): --store resume, Ctrl-C, output paths, flag applicability, size
estimate, --version, messages."""

import importlib
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import lzjax
import lzjax.sweeps as sweep_module
from lzjax.cli import main
from lzjax.sweeps import SweepResult, sweep

BASE = ["--T", "6.4", "--gamma", "5e-4", "--s", "3", "--omega-c", "5"]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def no_work(monkeypatch):
    """Any engine call fails the test: the checks must come before the work."""

    def engine_call(*a, **k):
        raise AssertionError("the engine was called")

    monkeypatch.setattr(sweep_module, "engine_call", engine_call)


def one_error_line(capsys, fragment):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lzjax: error:") and fragment in err, err
    return err


@pytest.mark.parametrize(
    "flags, fragment",
    [
        (["--out", "{d}/dir.json"], "is a folder"),
        (["--out", "/proc/lzjax-test/r.json"], "does not exist"),
        (["--out", "/proc/r.json"], "cannot write into folder"),
        (["--out", "{d}/r.txt"], "--out must end in"),
        (["--out", "{d}/r.json", "--plot", "{d}/p.gif"], "--plot must end in"),
        (["--out", "{d}/r.json", "--plot", "/proc/p.png"], "--plot: cannot write"),
        (["--out", "{d}/r.json", "--plot", "{d}/sub/p.png"], "does not exist"),
        (["--store", "{d}"], "is a folder"),
        (["--out", "{d}/x.json", "--store", "{d}/x.json"], "name the same file"),
    ],
)
def test_bad_output_paths_fail_fast_and_write_nothing(flags, fragment, tmp_path, capsys, no_work):
    (tmp_path / "dir.json").mkdir()
    argv = ["neqb", "--v", "0.3,1", *BASE] + [f.format(d=tmp_path) for f in flags]
    t0 = time.perf_counter()
    assert main(argv) == 2
    assert time.perf_counter() - t0 < 2.0
    one_error_line(capsys, fragment)
    assert sorted(os.listdir(tmp_path)) == ["dir.json"], "nothing written, no .tmp left"


@pytest.mark.slow
def test_a_failing_plot_leaves_no_results_file(tmp_path, monkeypatch, capsys):
    def broken(self, *a, **k):
        raise ValueError("plot failed")

    monkeypatch.setattr(SweepResult, "plot", broken)
    assert main(["neqb", "--v", "1", *BASE, "--out", str(tmp_path / "r.json"), "--plot", str(tmp_path / "p.png")]) == 2
    one_error_line(capsys, "plot failed")
    assert os.listdir(tmp_path) == []


def test_demo_outdir_that_is_a_file(tmp_path, capsys, no_work):
    target = tmp_path / "taken"
    target.write_text("x")
    assert main(["demo", "--outdir", str(target)]) == 2
    one_error_line(capsys, "exists and is not a folder")
    assert main(["demo", "--outdir", "/proc/lzjax-demo"]) == 2
    one_error_line(capsys, "--outdir: cannot write")


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["neqb", "--v", "1", *BASE, "--theta", "pi/0"], "cannot read angle 'pi/0'"),
        (
            ["neqb", "--v", "1", *BASE, "--delta", "1e300"],
            "v/delta**2 (the sweep speed in units of delta**2) over- or under",
        ),
        (
            [
                "quapi",
                "--v",
                "1",
                *BASE,
                "--dt",
                "0.2",
                "--kmax",
                "3",
                "--tmax",
                "20",
                "--budget",
                "99",
                "--eps-q",
                "999",
            ],
            "--budget, --eps-q belong to convergence mode (--tol), not to fixed settings --dt, --kmax, --tmax",
        ),
        (
            ["quapi", "--v", "1", *BASE, "--dt", "0.2", "--kmax", "3", "--tmax", "20", "--compensate"],
            "--compensate belong",
        ),
        (["quapi", "--v", "1", *BASE, "--dt", "0.2", "--kmax", "3", "--tmax", "20", "--tol", "1e-2"], "--tol belong"),
        (["quapi", "--v", "1", *BASE, "--budget", "8"], "--budget needs --tol"),
        (["quapi", "--v", "1", *BASE, "--dt", "0.2"], "missing --kmax, --tmax"),
        (
            ["fit", "data.csv", "--s", "3", "--omega-c", "5", "--T", "1", "--engine", "quapi", "--n-steps", "64"],
            "--n-steps belongs to --engine neqb",
        ),
        (
            [
                "neqb",
                "--v",
                ",".join(["1"] * 1001),
                "--T",
                ",".join(["1"] * 1001),
                "--gamma",
                "5e-4",
                "--s",
                "3",
                "--omega-c",
                "5",
            ],
            "pass --yes to run anyway",
        ),
        (["quapi", "--v", "0.01,0.02", *BASE, "--tol", "1e-2", "--budget", "14"], "pass --yes"),
    ],
)
def test_misleading_inputs_give_one_clear_line(argv, fragment, capsys, no_work):
    assert main(argv) == 2
    one_error_line(capsys, fragment)


def test_size_estimate_is_printed_above_the_soft_limit(capsys, monkeypatch):
    monkeypatch.setattr(sweep_module, "sweep", lambda *a, **k: (_ for _ in ()).throw(ValueError("stop here")))
    v = ",".join(str(0.1 * (i + 1)) for i in range(200))
    assert (
        main(["neqb", "--v", v, "--T", ",".join(["1", "2"] * 30), "--gamma", "5e-4", "--s", "3", "--omega-c", "5"]) == 2
    )
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("lzjax: 12000 grid points: estimated") and "MiB" in err[0]


def test_fit_size_estimate_counts_the_exact_engine(tmp_path, capsys, monkeypatch):
    """`lzjax fit --engine quapi` estimates what the process-tensor model costs (rows × t_max/dt
    steps × 1 + p tangents per evaluation, ~38 evaluations): 200 rows over 2·10⁵ steps is ~17 h,
    refused without --yes before anything is fitted; the same rows with NEQB pass silently."""
    fit_module = importlib.import_module("lzjax.fit")
    monkeypatch.setattr(fit_module, "fit_curve", lambda *a, **k: (_ for _ in ()).throw(ValueError("stop here")))
    data = tmp_path / "d.csv"
    data.write_text("v,P_LZ,sigma\n" + "".join(f"{0.1 + 0.01 * i:.4f},0.5,0.01\n" for i in range(200)))
    base = ["fit", str(data), "--s", "3", "--omega-c", "5", "--T", "6.4"]
    assert main(base + ["--engine", "quapi", "--dt", "0.01", "--tmax", "2000", "--kmax", "256"]) == 2
    err = capsys.readouterr().err
    assert "200 CSV rows: estimated" in err and " h " in err and "pass --yes" in err and "stop here" not in err
    for flags, message in (
        (["--dt", "0", "--kmax", "5"], "dt must be finite and > 0"),
        (["--dt", "0.1", "--kmax", "40"], "kmax must be an integer in [1, 14]"),
    ):
        assert main(base + ["--engine", "adt", "--tmax", "10"] + flags) == 2  # settings before the estimate
        err = capsys.readouterr().err
        assert message in err and "estimated" not in err and "Traceback" not in err
    assert main(base) == 2  # NEQB: no estimate printed, the fit itself is reached
    err = capsys.readouterr().err
    assert "estimated" not in err and "stop here" in err


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"lzjax {lzjax.__version__}"


@pytest.mark.slow
def test_cli_store_resumes_like_the_python_call(tmp_path, capsys, monkeypatch):
    store = tmp_path / "s.jsonl"
    argv = [
        "neqb",
        "--v",
        "0.3,1,3",
        *BASE,
        "--store",
        str(store),
        "--chunk-size",
        "2",
        "--out",
        str(tmp_path / "a.json"),
    ]
    assert main(argv) == 0
    assert len(store.read_text().splitlines()) == 1 + 2
    original = sweep_module.engine_call

    def no_compute(*a):
        names = original(*a)[1]
        return (lambda problem: (_ for _ in ()).throw(AssertionError("recomputed"))), names

    monkeypatch.setattr(sweep_module, "engine_call", no_compute)
    python = sweep("neqb", v=[0.3, 1, 3], T=6.4, gamma=5e-4, s=3, omega_c=5, tol=1e-6, chunk_size=2, store=store)
    records = json.loads((tmp_path / "a.json").read_text())
    np.testing.assert_array_equal([r["P_LZ"] for r in records], python["P_LZ"].ravel())


def test_not_converged_warning_names_the_points(capsys, monkeypatch):
    def fake(*a, **k):
        res = sweep_module.SweepResult(
            coords={
                "v": np.array([0.1, 1.0]),
                "T": np.array([6.4]),
                "theta": np.array([0.0]),
                "omega_c": np.array([5.0]),
                "gamma": np.array([5e-4]),
                "s": np.array([3.0]),
                "delta": np.array([1.0]),
            },
            data={
                "P_LZ": np.full((2, 1, 1, 1, 1, 1, 1), 0.5),
                "P_ES": np.full((2, 1, 1, 1, 1, 1, 1), 0.5),
                "P_LZ_err": np.full((2, 1, 1, 1, 1, 1, 1), 1e-3),
                "converged": np.array([False, True]).reshape(2, 1, 1, 1, 1, 1, 1),
                "status": np.array(["not converged", "converged"]).reshape(2, 1, 1, 1, 1, 1, 1),
            },
            attrs={"engine": "neqb"},
        )
        return res

    monkeypatch.setattr(sweep_module, "sweep", fake)
    assert main(["neqb", "--v", "0.1,1", *BASE]) == 0
    err = capsys.readouterr().err
    assert "1 point(s) did not reach the requested tolerance" in err and "(v=0.1, T=6.4" in err


def test_repr_is_short():
    res = sweep_module.SweepResult(
        coords={"v": np.geomspace(0.01, 10, 400), "T": np.array([6.4])},
        data={"P_LZ": np.zeros((400, 1))},
        attrs={"engine": "neqb", "tol": 1e-6},
    )
    text = repr(res)
    assert len(text) < 200 and "shape=(400, 1)" in text and "v=0.01..10 (400)" in text and "neqb" in text


def test_legend_theta_as_multiple_of_pi():
    pytest.importorskip("matplotlib")
    res = sweep_module.SweepResult(
        coords={"v": np.array([0.1, 1.0]), "theta": np.array([0.0, 0.022 * math.pi, 0.3])},
        data={"P_LZ": np.zeros((2, 3)), "P_ES": np.zeros((2, 3))},
        attrs={"engine": "neqb"},
    )
    fig = res.plot()
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["Θ=0", "Θ=0.022π", "Θ=0.3"]


@pytest.mark.slow
def test_sigint_mid_sweep_keeps_chunks_and_says_so_in_one_line(tmp_path):
    """A real Ctrl-C through `python -m lzjax` (the persistent cache on, in a private folder)."""
    store, cache = tmp_path / "s.jsonl", tmp_path / "cache"
    v = ",".join(f"{x:.8g}" for x in np.geomspace(0.05, 5.0, 1000))  # 1,000 chunks (~ms each once
    # compiled): a loaded machine may deschedule this test for a second between the third line and the signal
    env = {k: x for k, x in os.environ.items() if k != "LZJAX_NO_CACHE"}
    env["XDG_CACHE_HOME"] = str(cache)
    # a suite started in the background (`pytest &` without job control) has SIGINT ignored, which
    # a child inherits (and Python then keeps): give it a handler, reset to the default by exec
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lzjax",
            "neqb",
            "--v",
            v,
            *BASE,
            "--theta",
            "0,0.3",
            "--store",
            str(store),
            "--chunk-size",
            "2",
            "--out",
            str(tmp_path / "r.json"),
        ],
        cwd=str(ROOT),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    signal.signal(signal.SIGINT, previous)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if store.exists() and store.read_text().count("\n") >= 3:
            break
        time.sleep(0.02)
    assert proc.poll() is None, proc.communicate()[1][-2000:]
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    kept = store.read_text().count("\n") - 1
    assert proc.returncode == 130
    assert err.splitlines() == [f"lzjax: interrupted; {kept} of 1000 chunks kept in {store}"], err[-3000:]
    assert 2 <= kept < 1000
    assert not (tmp_path / "r.json").exists() and [p.name for p in tmp_path.iterdir() if ".tmp" in p.name] == []
    # lzjax stores its own executables (kind `programs`) whenever it compiles one; JAX's cache (kind
    # `jax`) only keeps compiles over 0.05 s, which a fast machine may never have for NEQB
    assert any((cache / "lzjax" / "programs").iterdir()), "compiled programs kept in the user cache"


def _interrupted(argv, env, delay):
    """Run `python -m lzjax argv`, send SIGINT `delay` s after the command line is imported (the
    interpreter start-up and `import lzjax`, before any lzjax code can take Ctrl-C over, is not
    this test's: `-X importtime` says when `lzjax.cli` is in); (exit status, stderr lines)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # see the test above
    proc = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "lzjax", *argv],
        cwd=str(ROOT),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    signal.signal(signal.SIGINT, previous)
    lines, ready = [], threading.Event()

    def drain():  # read all the time: a full pipe would stall the child
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if line.startswith("import time:") and line.split("|")[-1].strip() == "lzjax.cli":
                ready.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        assert ready.wait(120), "".join(lines)[-2000:]
        time.sleep(delay)
        assert proc.poll() is None, f"{argv[0]} finished before the signal: lengthen its run"
        proc.send_signal(signal.SIGINT)
        code = proc.wait(120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(10)
    err = [x for x in "".join(x for x in lines if not x.startswith("import time:")).splitlines() if x.strip()]
    return code, err


@pytest.mark.slow
def test_ctrl_c_exits_130_every_time_in_every_subcommand(tmp_path):
    """Issue 23, item 8: after its one line, an interrupted run crashed in the interpreter's
    teardown (SIGSEGV, XLA's threads) in 7 of 27 tries, or its Ctrl-C was dropped by JAX's garbage
    collector callback and the run finished with status 0. Each subcommand is interrupted at three
    moments, with and without the persistent compilation cache."""
    v = ",".join(f"{x:.6g}" for x in np.geomspace(0.01, 10, 200))
    curve = tmp_path / "curve.csv"
    vs = np.geomspace(0.05, 5, 8)
    curve.write_text("v,P_LZ\n" + "".join(f"{a},{math.exp(-math.pi / 2 / a)}\n" for a in vs))
    commands = {
        "neqb": ["neqb", "--v", v, *BASE, "--theta", "0,0.3"],
        "neqb --store": ["neqb", "--v", v, *BASE, "--theta", "0,0.3", "--store", "{d}/s.jsonl", "--chunk-size", "4"],
        # 24 speeds over 600/Δ: its run must outlast the last interrupt (1.5 s after the import);
        # 6 speeds over 150/Δ once finished first on a quiet machine
        "quapi": ["quapi", "--v", ",".join(f"{x:.4g}" for x in np.geomspace(0.3, 5, 24)), *BASE]
        + ["--dt", "0.1", "--kmax", "6", "--tmax", "600"],
        "fit": ["fit", str(curve), "--s", "3", "--omega-c", "5", "--T", "6.4"],
        "trajectory": ["trajectory", "--v", "0.1,0.3,1,3", *BASE, "--every", "4"],
        "window": ["window", "--v", "0.3,1", *BASE, "--tol", "1e-4"],
    }
    env = {k: x for k, x in os.environ.items() if k != "LZJAX_NO_CACHE"}
    env.update(PYTHONPATH=str(ROOT), XDG_CACHE_HOME=str(tmp_path / "cache"))
    tries = [(0.05, "1"), (0.6, "0"), (1.5, "1")]  # (delay after import in s, LZJAX_NO_CACHE)
    failures, count = [], {}
    for name, argv in commands.items():
        for i, (delay, no_cache) in enumerate(tries):
            folder = tmp_path / f"{name.replace(' ', '')}{i}"
            folder.mkdir()
            args = [a.format(d=folder) for a in argv] + ["--out", str(folder / "r.json")]
            code, err = _interrupted(args, dict(env, LZJAX_NO_CACHE=no_cache), delay)
            count[name] = count.get(name, 0) + 1
            ok = code == 130 and err and err[-1].startswith("lzjax: interrupted")
            ok = ok and not any("Traceback" in x or "Exception ignored" in x for x in err)
            if not ok:
                failures.append(f"{name} after {delay} s (LZJAX_NO_CACHE={no_cache}): status {code}, {err[-6:]}")
            leftovers = [p.name for p in folder.iterdir() if p.name != "s.jsonl"]
            if leftovers:
                failures.append(f"{name} after {delay} s left {leftovers}")
    assert not failures, "\n".join(failures)
    assert count == {name: len(tries) for name in commands}


@pytest.mark.slow
def test_ctrl_c_while_lzjax_is_imported_exits_130():
    """Issue 23: a Ctrl-C during start-up — while `lzjax` (and JAX, 1–3 s) is imported, before
    the command line can take Ctrl-C over — printed a KeyboardInterrupt traceback. The console
    script's entry (lzjax_main.py, outside the package) guards the import: status 130 and the
    one line. The signal is sent while JAX is being imported (`-X importtime` shows its first
    module in), at three moments of the import."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    results = []
    try:
        for delay in (0.0, 0.2, 0.5):
            proc = subprocess.Popen(
                [sys.executable, "-X", "importtime", "-m", "lzjax_main", "neqb", "--v", "1", *BASE],
                cwd=str(ROOT),
                env=dict(os.environ, PYTHONPATH=str(ROOT), LZJAX_NO_CACHE="1"),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            assert proc.stderr is not None
            for line in proc.stderr:  # the first module of JAX's is in: lzjax is being imported
                if line.startswith("import time:") and line.split("|")[-1].strip().startswith("jax"):
                    break
            time.sleep(delay)
            imported = proc.poll() is None
            proc.send_signal(signal.SIGINT)
            rest = proc.stderr.read()
            code = proc.wait(60)
            err = [x for x in rest.splitlines() if x.strip() and not x.startswith("import time:")]
            results.append((delay, imported, code, err))
    finally:
        signal.signal(signal.SIGINT, previous)
    for delay, alive, code, err in results:
        assert alive, f"finished before the signal at {delay} s"
        assert code == 130 and err == ["lzjax: interrupted"], (delay, code, err[-6:])
