"""The reproduction notebooks run end to end in fast mode and write their figures.

Each notebook is executed with nbclient (kernel python3 of this interpreter), headless, in a
temporary copy of notebooks/ (the committed notebooks and figures are not touched), with
LZJAX_NOTEBOOK_MODE=fast. Skipped when the notebook tooling (nbclient, ipykernel, matplotlib)
is not installed.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import jax
import pytest

pytest.importorskip("nbformat")
pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A copy of notebooks/ (sources only: notebooks, helper modules; no data, no figures)."""
    dest = tmp_path_factory.mktemp("notebooks")
    for path in NOTEBOOKS.iterdir():
        if path.suffix in (".ipynb", ".py"):
            shutil.copy(path, dest / path.name)
    return dest


@pytest.fixture(scope="module")
def kernel_path(tmp_path_factory):
    """A JUPYTER_PATH whose kernel "python3" is this interpreter (not whatever is installed)."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (tests)",
                "language": "python",
            }
        )
    )
    return str(root)


def test_every_paper_result_has_a_notebook():
    expected = {
        "fig1_longitudinal_weak",
        "fig2_longitudinal_strong",
        "fig3_transversal",
        "fig4_mixed_angle",
        "fig5_relaxation_rates",
        "fig6_cutoff",
        "xi_table",
        "crossing_window",
    }
    assert expected <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.slow
def test_notebook_runs_fast(name, workdir, kernel_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("LZJAX_NOTEBOOK_MODE", "fast")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("JUPYTER_PATH", kernel_path)
    # the kernels share JAX's persistent compilation cache with this run (tests/conftest.py; else
    # a folder of this module's): the notebooks' common programs (NEQB sweeps of equal shapes),
    # and those the suite compiled before, compile once, not per kernel
    cache = jax.config.jax_compilation_cache_dir or str(workdir / "jax-cache")
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", cache)
    monkeypatch.setenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    monkeypatch.setenv("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
    nb = nbformat.read(workdir / f"{name}.ipynb", as_version=4)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    ).execute()  # raises on a failing cell
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"
    ]
    assert not errors
    png = workdir / "figures" / f"{name}.png"
    assert png.is_file() and png.stat().st_size > 10_000
