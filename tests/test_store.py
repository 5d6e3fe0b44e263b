"""The resumable store (lzjax.store): lines of another sweep, damaged or short lines, empty files,
old-format stores, the notebook stores and two concurrent writers (issue 13, item 1)."""

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lzjax.sweeps as sweep_module
from lzjax.store import migrate
from lzjax.sweeps import sweep

GRID = dict(v=list(np.geomspace(0.05, 5.0, 10)), T=[0.0, 6.4], theta=[0.0, 0.3], gamma=5e-4, s=3, omega_c=5)
NAMES = ("P_LZ", "P_ES", "P_LZ_err", "P_ES_err", "eps_max", "t_max", "n_steps", "converged")
DATA = Path(__file__).resolve().parent.parent / "notebooks" / "data"


def fake_values(problem):
    """A cheap deterministic stand-in for an engine: every column a function of the point."""
    v, T, g, th = (np.asarray(x) for x in (problem.drive.v, problem.bath.T, problem.bath.gamma, problem.theta))
    p = v / (1 + v) + 10 * g + 1e-3 * T + 1e-4 * th
    return {
        "P_LZ": p,
        "P_ES": 1 - p,
        "P_LZ_err": np.where(v > 1, np.nan, 1e-7),
        "P_ES_err": p * 1e-7,
        "eps_max": 10 * v,
        "t_max": 20 / v,
        "n_steps": (100 * v).astype(np.int64) + 1,
        "converged": v < 2,
    }


@pytest.fixture
def calls(monkeypatch):
    """Replace the engine by `fake_values`; the list records the size of every chunk computed."""
    seen = []
    original = sweep_module.engine_call

    def engine_call(engine, options, progress):
        names = original(engine, options, progress)[1]  # checks the options, gives the columns

        def run(problem):
            seen.append(np.size(problem.drive.v))
            values = fake_values(problem)
            return {n: values.get(n, values["P_LZ"]) for n in names}

        return run, names

    monkeypatch.setattr(sweep_module, "engine_call", engine_call)
    return seen


def chunk_lines(path):
    return path.read_text().splitlines()[1:]


@pytest.mark.slow
def test_foreign_chunk_of_another_gamma_is_never_used(tmp_path, capsys):
    """The issue's reproduction with the real engine: a chunk of the same grid computed at
    γ = 2e-3, appended to (or in place of a line of) a finished γ = 5e-4 store."""
    store, other = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    grid = dict(GRID, v=[0.3, 1.0, 3.0], T=[6.4], theta=[0.0, 0.3])  # 6 points, 3 chunks
    reference = sweep("neqb", chunk_size=2, store=store, **grid)
    wrong = sweep("neqb", chunk_size=2, store=other, **dict(grid, gamma=2e-3))  # compiles nothing new
    assert np.all(wrong["P_ES"].ravel()[4:] != reference["P_ES"].ravel()[4:])
    foreign = chunk_lines(other)[2]
    assert json.loads(foreign)["chunk"] == 2
    lines = store.read_text().splitlines()
    store.write_text("\n".join(lines + [foreign]) + "\n")  # appended after the genuine chunk 4
    again = sweep("neqb", chunk_size=2, store=store, **grid)
    np.testing.assert_array_equal(again["P_ES"], reference["P_ES"])
    assert "from another sweep" in capsys.readouterr().err
    lines[1 + 2] = foreign  # now instead of it: chunk 2 must be recomputed, not read
    store.write_text("\n".join(lines) + "\n")
    again = sweep("neqb", chunk_size=2, store=store, **grid)
    for name in ("P_LZ", "P_ES", "converged"):
        np.testing.assert_array_equal(again[name], reference[name])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ignored 1 line(s)" in err and "recomputed" in err


def test_damaged_short_and_misplaced_lines_are_recomputed_not_blocking(tmp_path, calls, capsys):
    store = tmp_path / "s.jsonl"
    reference = sweep("neqb", chunk_size=8, store=store, **GRID)  # 40 points, 5 chunks
    assert calls == [8] * 5
    header, *lines = store.read_text().splitlines()
    short = json.loads(lines[1])
    short["data"]["P_LZ"] = short["data"]["P_LZ"][:-1]  # one value missing
    wrong_n = json.loads(lines[2])
    wrong_n["n"] = 7
    outside = dict(json.loads(lines[0]), chunk=9)
    text_value = json.loads(lines[3])
    text_value["data"]["P_ES"][0] = "0.5"
    damaged = [
        lines[0],
        json.dumps(short),
        "{not json",
        json.dumps(wrong_n),
        json.dumps(text_value),
        json.dumps(outside),
        lines[4],
    ]
    store.write_text("\n".join([header] + damaged) + "\n")
    calls.clear()
    again = sweep("neqb", chunk_size=8, store=store, **GRID)
    assert sorted(calls) == [8, 8, 8], "chunks 1, 2, 3 recomputed, 0 and 4 read back"
    for name in NAMES:
        np.testing.assert_array_equal(again[name], reference[name])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ignored 5 line(s)" in err
    calls.clear()
    sweep("neqb", chunk_size=8, store=store, **GRID)  # the recomputed chunks are kept
    assert calls == []


def test_empty_or_cut_header_counts_as_new_and_cut_tail_is_dropped(tmp_path, calls):
    store = tmp_path / "s.jsonl"
    store.write_text("")
    reference = sweep("neqb", chunk_size=8, store=store, **GRID)
    text = store.read_text()
    store.write_text(text.splitlines()[0][:30])  # a first write cut short by a kill
    calls.clear()
    again = sweep("neqb", chunk_size=8, store=store, **GRID)
    assert len(calls) == 5 and store.read_text() == text
    store.write_text(text[:-25])  # a kill in the middle of the last line
    calls.clear()
    again = sweep("neqb", chunk_size=8, store=store, **GRID)
    assert calls == [8] and store.read_text() == text
    np.testing.assert_array_equal(again["P_LZ"], reference["P_LZ"])


def test_header_of_another_sweep_or_version_is_refused(tmp_path, calls, monkeypatch):
    store = tmp_path / "s.jsonl"
    sweep("neqb", chunk_size=8, store=store, **GRID)
    before = store.read_text()
    with pytest.raises(ValueError, match="other parameters, options or chunk size; refusing to mix"):
        sweep("neqb", chunk_size=5, store=store, **GRID)
    import lzjax.store

    monkeypatch.setattr(lzjax.store, "__version__", "9.9.9")  # the store reads lzjax.version's
    with pytest.raises(ValueError, match="written by lzjax .*this is 9.9.9"):
        sweep("neqb", chunk_size=8, store=store, **GRID)
    assert store.read_text() == before


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line=st.integers(0, 4), cut=st.integers(0, 400), junk=st.text(max_size=8))
def test_any_mangled_line_is_recomputed_never_used(line, cut, junk, tmp_path_factory, calls):
    store = tmp_path_factory.mktemp("h") / "s.jsonl"
    reference = sweep("neqb", chunk_size=8, store=store, **GRID)
    header, *lines = store.read_text().splitlines()
    mangled = lines[line][:cut] + junk + lines[line][cut + len(junk) :]
    lines[line] = mangled.replace("\n", " ")
    store.write_text("\n".join([header] + lines) + "\n")
    calls.clear()
    again = sweep("neqb", chunk_size=8, store=store, **GRID)
    assert len(calls) <= 1
    for name in NAMES:
        np.testing.assert_array_equal(again[name], reference[name])


def test_old_format_store_is_refused_then_migrated_and_resumed(tmp_path, calls):
    store = tmp_path / "old.jsonl"
    reference = sweep("neqb", chunk_size=8, store=store, **GRID)
    header, *lines = [json.loads(x) for x in store.read_text().splitlines()]
    old_header = {
        "lzjax_sweep": 1,
        "engine": header["engine"],
        "coords": header["coords"],
        "options": header["options"],
        "chunk_size": header["chunk_size"],
    }
    old = [json.dumps(old_header)] + [json.dumps({"chunk": r["chunk"], "data": r["data"]}) for r in lines]
    store.write_text("\n".join(old) + "\n")
    with pytest.raises(ValueError, match="old format.*python -m lzjax.store migrate"):
        sweep("neqb", chunk_size=8, store=store, **GRID)
    assert migrate(store) == 5
    calls.clear()
    again = sweep("neqb", chunk_size=8, store=store, **GRID)
    assert calls == []
    for name in NAMES:
        np.testing.assert_array_equal(again[name], reference[name])


@pytest.mark.parametrize("path", sorted(DATA.glob("*.jsonl")), ids=lambda p: p.stem)
def test_notebook_stores_resume_without_recomputing(path, tmp_path, calls):
    """The committed notebook stores (migrated once) are read back in full by the sweep the
    notebook makes (parameters, options and the bath's family from the header, as nbtools.quapi
    passes them)."""
    header = json.loads(path.read_text().splitlines()[0])
    assert header["lzjax_sweep"] == 2
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    bath = header.get("bath", {})  # a family other than the paper's (its name; a table's points)
    family = {"family": bath["family"]} if "family" in bath else {}
    if "omega" in bath:
        family["table"] = (bath["omega"], bath["G"])
    res = sweep(
        header["engine"],
        store=copy,
        chunk_size=header["chunk_size"],
        **family,
        **header["coords"],
        **header["options"],
    )
    assert calls == [] and res["P_LZ"].size == header["n_points"]
    assert np.all((res["P_LZ"] >= 0) & (res["P_LZ"] <= 1))


WORKER = """
    import json, sys, time, importlib
    import numpy as np
    sys.path.insert(0, {tests!r})
    from test_store import fake_values, NAMES, GRID
    import lzjax.sweeps as sm
    mine = []
    def engine_call(engine, options, progress):
        def run(problem):
            mine.append(float(np.asarray(problem.drive.v)[0]))
            time.sleep(0.15)
            return fake_values(problem)
        return run, NAMES
    sm.engine_call = engine_call
    print("ready", flush=True)
    while not __import__("os").path.exists({go!r}):
        time.sleep(0.01)
    res = sm.sweep("neqb", chunk_size=2, store={store!r}, **GRID)
    print(json.dumps({{"computed": len(mine), "P_LZ": res["P_LZ"].ravel().tolist()}}))
"""


def test_two_concurrent_writers_share_the_work(tmp_path, calls):
    store, go = tmp_path / "s.jsonl", tmp_path / "go"
    code = textwrap.dedent(WORKER.format(tests=str(Path(__file__).parent), go=str(go), store=str(store)))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=str(Path(__file__).parent.parent),
        )
        for _ in range(2)
    ]
    for p in procs:
        assert p.stdout.readline().strip() == "ready", p.stderr.read()
    go.touch()
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e[-2000:] for _, e in outs]
    results = [json.loads(o.strip().splitlines()[-1]) for o, _ in outs]
    n_chunks = 20
    assert sum(r["computed"] for r in results) == n_chunks, "no chunk computed twice"
    assert all(r["computed"] > 0 for r in results), "both processes worked"
    expected = sweep("neqb", **GRID)["P_LZ"].ravel()
    for r in results:
        np.testing.assert_array_equal(r["P_LZ"], expected)
    lines = chunk_lines(store)
    assert len(lines) == n_chunks and sorted(json.loads(x)["chunk"] for x in lines) == list(range(n_chunks))
