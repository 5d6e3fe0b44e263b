"""Files of the command line (issue 23, item 6): an empty path, a full disk for --out, --plot or
--store, a folder removed during the run all end in one line and exit 2 with nothing left
behind; results get the user's umask; the store's lock file goes when the run ends (also with
several processes on one store)."""

import errno
import gc
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import lzjax.cli as cli
import lzjax.sweeps as sweep_module
from lzjax.cli import main
from lzjax.store import SweepStore, sweep_header
from lzjax.sweeps import sweep

BASE = ["--T", "6.4", "--gamma", "5e-4", "--s", "3", "--omega-c", "5"]
ROOT = Path(__file__).resolve().parent.parent
ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.fixture
def fake_engine(monkeypatch):
    """A cheap stand-in for the engines (real option checks and columns); the list counts chunks."""
    seen = []
    original = sweep_module.engine_call

    def engine_call(engine, options, progress):
        names = original(engine, options, progress)[1]

        def run(problem):
            seen.append(np.size(problem.drive.v))
            v = np.asarray(problem.drive.v, dtype=float)
            out = {}
            for n in names:
                if n == "status":
                    out[n] = np.full(v.shape, "converged")
                elif n == "converged":
                    out[n] = np.ones(v.shape, dtype=bool)
                elif n == "n_steps":
                    out[n] = np.full(v.shape, 10, dtype=np.int64)
                else:
                    out[n] = v / (1 + v)
            return out

        return run, names

    monkeypatch.setattr(sweep_module, "engine_call", engine_call)
    return seen


def one_error_line(capsys, *fragments):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lzjax: error:"), err
    assert all(f in err for f in fragments), err
    return err


def listing(folder):
    return sorted(os.listdir(folder))


# -- empty paths ----------------------------------------------------------------------------------
@pytest.mark.parametrize("flag", ["--store", "--out", "--plot"])
@pytest.mark.parametrize("value", ["", " ", "sub/"])
def test_empty_or_folder_path_is_one_line_and_leaves_nothing(flag, value, tmp_path, monkeypatch, capsys, fake_engine):
    monkeypatch.chdir(tmp_path)
    assert main(["neqb", "--v", "0.3,1", *BASE, flag, value]) == 2
    one_error_line(capsys, flag)
    assert listing(tmp_path) == [] and fake_engine == []


def test_python_sweep_refuses_an_empty_store_before_creating_anything(tmp_path, monkeypatch, fake_engine):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="store must name a file"):
        sweep("neqb", v=[0.3, 1], T=6.4, gamma=5e-4, s=3, omega_c=5, store="")
    assert listing(tmp_path) == []


# -- a full disk ---------------------------------------------------------------------------------
def failing_fsync(monkeypatch, after: int = 0):
    """os.fsync fails with ENOSPC from its (after+1)-th call on (a full disk that shows at the flush)."""
    real, calls = os.fsync, []

    def fsync(fd):
        calls.append(fd)
        if len(calls) > after:
            raise ENOSPC
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return calls


@pytest.mark.parametrize(
    "flags, flag",
    [
        (["--out", "{d}/r.json"], "--out"),
        (["--out", "{d}/r.csv"], "--out"),
        (["--plot", "{d}/p.png"], "--plot"),
        (["--out", "{d}/r.json", "--plot", "{d}/p.png"], "--out"),
        (["--store", "{d}/s.jsonl"], "--store"),
        (["--store", "{d}/s.jsonl", "--out", "{d}/r.json"], "--store"),
    ],
)
def test_full_disk_is_one_line_exit_2_and_leaves_nothing(flags, flag, tmp_path, monkeypatch, capsys, fake_engine):
    if "--plot" in flags:
        pytest.importorskip("matplotlib")
    failing_fsync(monkeypatch)
    argv = ["neqb", "--v", "0.3,1", *BASE] + [f.format(d=tmp_path) for f in flags]
    assert main(argv) == 2
    one_error_line(capsys, flag, "No space left on device")
    assert listing(tmp_path) == [], "no empty store, no lock, no temporary file"


def test_full_disk_at_the_rename_leaves_nothing(tmp_path, monkeypatch, capsys, fake_engine):
    def replace(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), src, None, dst)

    monkeypatch.setattr(os, "replace", replace)
    assert main(["neqb", "--v", "0.3,1", *BASE, "--out", str(tmp_path / "r.json")]) == 2
    one_error_line(capsys, "--out", "r.json'", "No space left on device")
    assert listing(tmp_path) == []


def test_full_disk_while_appending_a_chunk_keeps_the_store_as_it_was(tmp_path, monkeypatch, capsys, fake_engine):
    store = tmp_path / "s.jsonl"
    argv = ["neqb", "--v", "0.3,1,3", *BASE, "--store", str(store), "--chunk-size", "1"]
    # the header and one chunk fit, the second chunk does not
    real_fsync = os.fsync
    failing_fsync(monkeypatch, after=2)
    assert main(argv) == 2
    one_error_line(capsys, "--store", "No space left on device")
    lines = store.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 1 + 1 + 1, "header and one whole chunk, no cut line"
    assert listing(tmp_path) == ["s.jsonl"], "no lock left"
    monkeypatch.setattr(os, "fsync", real_fsync)
    fake_engine.clear()
    assert main(argv) == 0
    assert fake_engine == [1, 1], "the kept chunk is not recomputed"


def test_store_with_no_chunk_created_by_a_failed_run_is_removed(tmp_path, monkeypatch, capsys, fake_engine):
    failing_fsync(monkeypatch, after=1)  # the header fits, the first chunk does not
    assert main(["neqb", "--v", "0.3,1", *BASE, "--store", str(tmp_path / "s.jsonl")]) == 2
    one_error_line(capsys, "--store", "No space left on device")
    assert listing(tmp_path) == []


def test_folder_removed_during_the_run_is_one_line(tmp_path, monkeypatch, capsys, fake_engine):
    folder = tmp_path / "gone"
    folder.mkdir()
    real = sweep_module.sweep

    def sweep_then_remove(*a, **k):
        result = real(*a, **k)
        folder.rmdir()
        return result

    monkeypatch.setattr(sweep_module, "sweep", sweep_then_remove)
    assert main(["neqb", "--v", "0.3,1", *BASE, "--out", str(folder / "r.json")]) == 2
    one_error_line(capsys, "--out", "No such file or directory")
    assert listing(tmp_path) == []


# -- permissions ---------------------------------------------------------------------------------
@pytest.mark.parametrize("mask", [0o022, 0o027, 0o002])
def test_results_get_the_umask(mask, tmp_path, fake_engine):
    pytest.importorskip("matplotlib")
    previous = os.umask(mask)
    try:
        argv = ["neqb", "--v", "0.3,1", *BASE, "--out", str(tmp_path / "r.csv"), "--plot", str(tmp_path / "p.png")]
        assert main(argv + ["--store", str(tmp_path / "s.jsonl")]) == 0
    finally:
        os.umask(previous)
    for name in ("r.csv", "p.png", "s.jsonl"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~mask, name


def test_a_replaced_result_keeps_its_permissions(tmp_path, fake_engine):
    out = tmp_path / "r.json"
    out.write_text("old")
    out.chmod(0o640)
    assert main(["neqb", "--v", "0.3", *BASE, "--out", str(out)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o640 and json.loads(out.read_text())[0]["v"] == 0.3


# -- the lock file ------------------------------------------------------------------------------
def test_lock_is_removed_after_a_finished_failed_or_interrupted_run(tmp_path, monkeypatch, capsys, fake_engine):
    store = tmp_path / "s.jsonl"
    argv = ["neqb", "--v", "0.3,1,3", *BASE, "--store", str(store), "--chunk-size", "1"]
    assert main(argv) == 0
    assert listing(tmp_path) == ["s.jsonl"]
    store.unlink()

    run = sweep_module.engine_call

    def interrupted_after_one(engine, options, progress):
        compute, names = run(engine, options, progress)
        count = []

        def call(problem):
            count.append(1)
            if len(count) > 1:
                raise KeyboardInterrupt
            return compute(problem)

        return call, names

    monkeypatch.setattr(sweep_module, "engine_call", interrupted_after_one)
    assert main(argv) == 130
    assert capsys.readouterr().err == f"lzjax: interrupted; 1 of 3 chunks kept in {store}\n"
    assert listing(tmp_path) == ["s.jsonl"], "chunks kept, lock gone"


def worker(store: Path, go: Path, done: Path, claim: int | None) -> subprocess.Popen:
    """A second process on `store`: enters it, says "in", claims chunk `claim` (or nothing) when
    `go` exists, says "claimed <bool>", and leaves when `done` exists."""
    code = textwrap.dedent(
        f"""
        import os, sys, time
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_cli_files import HEADER, NAMES, COUNTS
        from lzjax.store import SweepStore
        with SweepStore({str(store)!r}, HEADER, NAMES, COUNTS) as st:
            st.open()
            print("in", flush=True)
            while not os.path.exists({str(go)!r}):
                time.sleep(0.01)
            if {claim!r} is not None:
                print("claimed", st.claim({claim!r}), flush=True)
            while not os.path.exists({str(done)!r}):
                time.sleep(0.01)
        print("out", flush=True)
        """
    )
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=str(ROOT))


HEADER = sweep_header("neqb", {"v": [0.3, 1.0, 3.0]}, {"tol": 1e-6}, 1, 3, version="test")
NAMES = ("P_LZ",)
COUNTS = [1, 1, 1]


def test_lock_stays_while_another_process_holds_a_claim_and_goes_with_the_last(tmp_path):
    store, go, done = tmp_path / "s.jsonl", tmp_path / "go", tmp_path / "done"
    lock = Path(str(store) + ".lock")
    other = worker(store, go, done, claim=0)
    assert other.stdout.readline().strip() == "in"
    go.touch()
    assert other.stdout.readline().strip() == "claimed True"
    with SweepStore(store, HEADER, NAMES, COUNTS) as st:
        st.open()
        assert not st.claim(0), "the other process holds chunk 0"
        assert st.claim(1)
        st.append(1, {"P_LZ": np.array([0.5])})
    assert lock.exists(), "another process still holds a lock: not ours to remove"
    done.touch()
    assert other.stdout.readline().strip() == "out" and other.wait(30) == 0
    assert not lock.exists(), "the last one out removed it"


def test_a_process_that_outlives_the_lock_file_locks_the_new_one(tmp_path):
    """B holds no lock while A ends and removes the lock file; B's next claim must be seen by C."""
    store, go, done = tmp_path / "s.jsonl", tmp_path / "go", tmp_path / "done"
    lock = Path(str(store) + ".lock")
    with SweepStore(store, HEADER, NAMES, COUNTS) as a:
        a.open()
        b = worker(store, go, done, claim=2)
        assert b.stdout.readline().strip() == "in"
    assert not lock.exists(), "A was the last one holding a lock: B held none"
    go.touch()
    assert b.stdout.readline().strip() == "claimed True"
    assert lock.exists(), "B made the lock file anew"
    with SweepStore(store, HEADER, NAMES, COUNTS) as c:
        c.open()
        assert not c.claim(2), "C sees B's claim: both lock the file at the path"
        assert c.claim(1)
        c.release(1)
    assert lock.exists()
    done.touch()
    assert b.wait(30) == 0 and not lock.exists()


# -- Ctrl-C --------------------------------------------------------------------------------------
def test_ctrl_c_dropped_by_a_gc_callback_still_stops_the_run(monkeypatch, capsys):
    """A KeyboardInterrupt raised inside a garbage-collector callback (JAX has one) is dropped by
    Python ("Exception ignored"): the run went on and exited 0. It is delivered again."""
    real_getsignal = signal.getsignal
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        monkeypatch.setattr(signal, "getsignal", lambda s: signal.default_int_handler)
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    else:
        previous = None

    def in_callback(phase, info):
        if phase == "start" and not fired:
            fired.append(1)
            signal.raise_signal(signal.SIGINT)  # handled at the callback's next line: inside it
            sum(range(10))

    fired: list[int] = []

    def long_run(*a, **k):
        gc.callbacks.append(in_callback)
        try:
            gc.collect()
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                sum(range(1000))
        finally:
            gc.callbacks.remove(in_callback)
        raise AssertionError("the interrupt was lost")

    monkeypatch.setattr(sweep_module, "sweep", long_run)
    try:
        assert main(["neqb", "--v", "1", *BASE]) == 130
        # the handler in place before the run is back (the one installed above, if the suite
        # started with another, e.g. SIGINT ignored in a background job)
        assert real_getsignal(signal.SIGINT) is signal.default_int_handler, "handler restored"
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    assert fired and capsys.readouterr().err == "lzjax: interrupted\n"


def test_console_entry_leaves_with_os_exit_after_ctrl_c_only(monkeypatch):
    exits = []

    class Left(Exception):
        pass

    def fake_exit(code):
        exits.append(code)
        raise Left

    monkeypatch.setattr(os, "_exit", fake_exit)
    monkeypatch.setattr(cli, "main", lambda: 130)
    with pytest.raises(Left):
        cli.console_main()
    assert exits == [130]
    previous = signal.getsignal(signal.SIGINT)
    monkeypatch.setattr(cli, "main", lambda: 2)
    try:
        assert cli.console_main() == 2 and exits == [130]
    finally:
        signal.signal(signal.SIGINT, previous)
