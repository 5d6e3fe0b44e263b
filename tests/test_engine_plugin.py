"""A third exact engine plugs in with one registry line (issue 19): an engine written here — the
coherent (γ = 0) propagation, exact for a bath without coupling — runs through the convergence
ladder, a sweep and the command line with no other edit to lzjax.

Reference: without bath P_LZ = P_ES = 1 − exp(−π/2v) (Landau-Zener; DESIGN.md §4.1).
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lzjax
from lzjax import Bath, Drive, LZProblem
from lzjax.cli import main
from lzjax.quapi import converge_quapi
from lzjax.quapi.engines import ENGINES
from lzjax.quapi.engines.adt import adt_plan


@dataclasses.dataclass(frozen=True)
class Coherent:
    """ρ propagated by the system's Liouville steps alone (the bath is ignored: exact at γ = 0)."""

    eps_q: float = 15.0

    name: ClassVar[str] = "coherent"
    shared_influence: ClassVar[bool] = False
    ladder_options: ClassVar[tuple[str, ...]] = ("eps_q",)
    fixed_settings: ClassVar[bool] = False
    columns: ClassVar[tuple[str, ...]] = ("dt", "t_max", "converged", "eps_q")
    memory_range: ClassVar[None] = None

    @property
    def kernel(self):
        return Coherent()

    def configured(self, **settings):
        return dataclasses.replace(self, **settings)

    # the ladder: the plain ADT's plan (the memory settings are ignored by this propagation)
    def group_keys(self, dimless):
        return np.asarray(dimless.drive.v)[:, None]

    def ladder_plans(self, dimless, groups, tol):
        return [adt_plan(4, 0.05, self.eps_q) for _ in groups], None

    def run_influence(self, bath, run, compensate):
        return None, {}

    def run_settings(self, plan, info):
        return {}

    def ladder_settings(self, record):
        return {}

    # the propagation
    def check(self, memory, tol=None):
        pass

    def memory_bytes(self, memory, batch, itemsize=16):
        return int(batch) * 8 * itemsize

    def influence_limit(self, memory):
        return math.inf, "never"

    def chunk_points(self, options):
        return 64

    def step_seconds(self, memory=None):
        return 1e-6

    def ladder_cost(self, n_points, v_typical):
        return n_points * 5 * 2 * self.eps_q / v_typical / 0.05 * self.step_seconds(), 1e3 * n_points

    def head(self, memory):
        return 0

    def head_trace(self, k_head, rho0, influence, memory):
        return rho0, jnp.zeros((0,) + rho0.shape, dtype=rho0.dtype)

    def compile_key(self, memory):
        return None

    def influence(self, bath, dt, memory, compensate):
        return None

    def start(self, k_head, rho0, influence, memory):
        return rho0

    def steady(self, influence):
        return None

    def advance(self, rho, steady, k_seq):
        return jax.lax.scan(lambda r, k: (r @ k.T, None), rho, k_seq)[0]

    def readout(self, rho, k_last, influence):
        return rho @ k_last.T


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(ENGINES, "coherent", Coherent)  # the one registry line


V = np.array([0.3, 1.0, 3.0])
EXACT = -np.expm1(-np.pi / (2 * V))


@pytest.mark.slow
def test_third_engine_through_the_ladder(registered):
    res = converge_quapi(
        LZProblem(Drive(v=V), Bath(gamma=0.0, s=3, omega_c=5, T=0.0), theta=0.0), tol=1e-3, engine="coherent"
    )
    assert res.engine == "quapi-coherent" and np.all(res.status == "converged")
    for p, err in ((res.P_LZ, res.P_LZ_err), (res.P_ES, res.P_ES_err)):
        assert np.all(np.abs(p - EXACT) <= err + 1e-6), (p - EXACT, err)


@pytest.mark.slow
def test_third_engine_through_sweep_and_cli(registered, tmp_path):
    grid = lzjax.sweep("quapi", v=V, T=0.0, gamma=0.0, s=3, omega_c=5, tol=1e-3, method="coherent")
    assert set(grid.data) == {"P_LZ", "P_ES", "P_LZ_err", "P_ES_err", *Coherent.columns, "status"}
    np.testing.assert_allclose(grid["P_LZ"].ravel(), EXACT, atol=1e-3)
    out = tmp_path / "c.json"
    argv = [
        "quapi",
        "--v",
        "0.3,1,3",
        "--T",
        "0",
        "--gamma",
        "0",
        "--s",
        "3",
        "--omega-c",
        "5",
        "--tol",
        "1e-3",
        "--engine",
        "coherent",
        "--eps-q",
        "20",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    records = json.loads(out.read_text())
    assert [r["eps_q"] for r in records] == pytest.approx([20.0] * 3, rel=1e-2)
    np.testing.assert_allclose([r["P_LZ"] for r in records], EXACT, atol=1e-3)
