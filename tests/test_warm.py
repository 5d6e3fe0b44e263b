"""The warm process of the `lzjax` console script (lzjax_warm): a command it runs gives what the
command gives in its own process, bitwise, with the same exit status, files, working directory
and umask; Ctrl-C ends it with 130 and ends the warm process; it leaves when idle; off when asked."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

import lzjax_warm

#: the `lzjax` console script, run by this Python (what the installed script does)
SCRIPT = [sys.executable, "-c", "import sys, lzjax_main; sys.exit(lzjax_main.console_main())"]
NEQB = ["neqb", "--v", "0.5,1", "--T", "1", "--gamma", "1e-3", "--s", "3", "--omega-c", "5"]


@pytest.fixture
def short_tmp():
    """A private folder with a short path: a socket's path must stay under 100 bytes (AF_UNIX), which
    pytest's own tmp_path exceeds under pytest-xdist (…/popen-gw0/test_warm_address_follows_the_0/…)."""
    folder = pathlib.Path(tempfile.mkdtemp(prefix="lzw-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _env(short_tmp, **extra) -> dict:
    runtime = short_tmp / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime), XDG_CACHE_HOME=str(short_tmp / "cache"))
    env.update({"LZJAX_WARM": "1", "LZJAX_WARM_VERBOSE": "1", "LZJAX_WARM_IDLE": "120", **extra})
    env.pop("LZJAX_NO_CACHE", None)
    return env


def _socket(short_tmp) -> list:
    return sorted((short_tmp / "run" / "lzjax").glob("*.sock")) if (short_tmp / "run" / "lzjax").exists() else []


def _wait(condition, seconds: float = 30.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _stop_servers(short_tmp) -> None:
    for lock in (short_tmp / "run" / "lzjax").glob("*.lock") if (short_tmp / "run" / "lzjax").exists() else []:
        with contextlib.suppress(ValueError, OSError):
            os.kill(int(lock.read_text().split()[0]), signal.SIGTERM)


def _lzjax(args, env, cwd, umask: str = "022"):
    """The console script with `args` under `umask` (set by a shell: no fork of this JAX process with a hook)."""
    command = ["sh", "-c", f'umask {umask}; exec "$@"', "sh", *SCRIPT, *args]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_warm_process_runs_commands_as_their_own_process_would(short_tmp):
    env = _env(short_tmp)
    work = short_tmp / "work"
    work.mkdir()
    try:
        first = _lzjax([*NEQB, "--out", "a.json"], env, work)
        assert first.returncode == 0, first.stderr
        assert "warm process" not in first.stderr  # ran itself, then left a warm process
        assert _wait(lambda: len(_socket(short_tmp)) == 1)
        second = _lzjax([*NEQB, "--out", "b.json"], env, work, umask="077")
        assert second.returncode == 0, second.stderr
        assert "lzjax: run by the warm process" in second.stderr
        # the same numbers bitwise, the same table on stdout, the file in the client's folder
        assert (work / "a.json").read_bytes() == (work / "b.json").read_bytes()
        assert second.stdout == first.stdout
        assert (work / "b.json").stat().st_mode & 0o777 == 0o600  # the client's umask
        assert json.loads((work / "b.json").read_text())[0]["v"] == 0.5
        # bad input: status 2 and the one line, from the warm process
        bad = _lzjax([*NEQB[:2], "-1", *NEQB[3:]], env, work)
        assert bad.returncode == 2
        lines = [x for x in bad.stderr.splitlines() if "warm process" not in x]
        assert len(lines) == 1 and lines[0].startswith("lzjax: error: v"), bad.stderr
        # Ctrl-C reaches the command in the warm process: status 130, one line; the warm process ends
        slow = subprocess.Popen(
            [*SCRIPT, "quapi", "--v", "0.3", "--T", "6.4", "--gamma", "5e-4", "--s", "3", "--omega-c", "5"]
            + ["--tol", "1e-5", "--yes"],
            env=env,
            cwd=work,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert slow.stderr is not None
        assert "warm process" in slow.stderr.readline()
        time.sleep(0.5)
        slow.send_signal(signal.SIGINT)
        _, err = slow.communicate(timeout=60)
        assert slow.returncode == 130
        assert err.strip().splitlines()[-1] == "lzjax: interrupted"
        assert _wait(lambda: not _socket(short_tmp))
    finally:
        _stop_servers(short_tmp)


@pytest.mark.slow
def test_warm_process_leaves_when_idle_and_is_off_when_asked(short_tmp):
    try:
        off = _lzjax([*NEQB, "--out", "a.json"], _env(short_tmp, LZJAX_WARM="0"), short_tmp)
        assert off.returncode == 0, off.stderr
        time.sleep(1.0)
        assert not _socket(short_tmp)
        idle = _lzjax([*NEQB, "--out", "b.json"], _env(short_tmp, LZJAX_WARM_IDLE="1"), short_tmp)
        assert idle.returncode == 0, idle.stderr
        assert _wait(lambda: len(_socket(short_tmp)) == 1)  # started
        assert _wait(lambda: not _socket(short_tmp))  # and gone after a second without commands
    finally:
        _stop_servers(short_tmp)


def test_warm_address_follows_the_settings_and_needs_a_private_folder(short_tmp, monkeypatch):
    runtime = short_tmp / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.delenv("LZJAX_NO_CACHE", raising=False)
    monkeypatch.setenv("LZJAX_WARM", "1")
    first = lzjax_warm.address()
    assert first is not None and first.startswith(str(runtime))
    monkeypatch.setenv("JAX_LZJAX_TEST", "1")  # JAX_* are read when JAX starts
    assert lzjax_warm.address() not in (None, first)
    monkeypatch.delenv("JAX_LZJAX_TEST")
    assert lzjax_warm.address() == first
    monkeypatch.setenv("LZJAX_WARM", "0")
    assert lzjax_warm.address() is None
    monkeypatch.setenv("LZJAX_WARM", "1")
    monkeypatch.setenv("LZJAX_NO_CACHE", "1")
    assert lzjax_warm.address() is None
    monkeypatch.delenv("LZJAX_NO_CACHE")
    (runtime / "lzjax").chmod(0o755)  # others may enter: no socket there
    assert lzjax_warm.address() is None
