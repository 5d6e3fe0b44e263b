"""The dynamics layer with the spectral densities beyond the paper's (issue 21 item 2): NEQB and
exact trajectories and the NEQB crossing window take any :class:`lzjax.model.SpectralDensity`,
and `lzjax trajectory` takes --family. Exact identities (a sum of two halves is the whole bath:
closed forms against the generic quadrature path) and the weak-coupling limit of the exact engine."""

from __future__ import annotations

import csv

import numpy as np
import pytest

pytest.importorskip("xarray")

from lzjax.cli import main  # noqa: E402
from lzjax.dynamics import crossing_window, neqb_trajectory, windowed_probabilities  # noqa: E402
from lzjax.model import Bath, Drive  # noqa: E402
from lzjax.quapi.engines.pt import PTSettings  # noqa: E402
from lzjax.quapi.trajectory import exact_trajectory  # noqa: E402
from lzjax.spectral import DrudeLorentz, GaussianCutoff, Sum, Tabulated  # noqa: E402
from lzjax.trajectories import prepare_system  # noqa: E402

OBS = ("P_ground", "P_excited", "P_up", "r_x", "r_y", "r_z")


def halves(gamma, s, omega_c, T):
    """Bath(γ, s, ω_c, T) as the sum of its two halves (G is linear in γ)."""
    return Sum((Bath(gamma / 2, s, omega_c, T), Bath(gamma / 2, s, omega_c, T)))


def test_prepare_system_flattens_any_family():
    """A Tabulated's points stay static data (not broadcast); its T and scale are batched with the
    drive; the parameters are named as lzjax.fit.fittable names them (a sum's with [i], one T,
    no table's internal unit)."""
    table = Tabulated((0.5, 1.0, 2.0), (0.0, 1e-3, 0.0), T=[0.5, 1.0])
    system, in_axes, shape, params = prepare_system(Drive(v=[[1.0], [2.0]]), table, 0.1)
    assert shape == (2, 2) and system.bath.omega == (0.5, 1.0, 2.0) and system.bath.G == (0.0, 1e-3, 0.0)
    assert system.bath.T.shape == (4,) and in_axes.bath.T == 0 and in_axes.bath.omega == (0.5, 1.0, 2.0)
    assert list(params) == ["v", "T", "scale", "theta"]
    np.testing.assert_array_equal(params["T"], [0.5, 1.0, 0.5, 1.0])
    _, _, _, params = prepare_system(Drive(v=1.0), Sum((Bath(1e-3, 3.0, 5.0, 1.0), DrudeLorentz(0.01, 2.0, 1.0))))
    assert list(params) == ["v", "gamma[0]", "s[0]", "omega_c[0]", "T", "lam[1]", "gamma_d[1]", "theta"]


@pytest.mark.parametrize("bath", [object(), 0.1, {"gamma": 1e-3}])
def test_a_bath_that_is_no_spectral_density_is_refused(bath):
    """One line naming `bath`, from every engine, before any work."""
    for run in (
        lambda: neqb_trajectory(Drive(v=1.0), bath, times=[0.0]),
        lambda: crossing_window(Drive(v=1.0), bath),
        lambda: exact_trajectory(Drive(v=1.0), bath, dt=0.1, kmax=2, every=1, eps_start=-1.0, eps_end=1.0),
    ):
        with pytest.raises(ValueError, match=r"^bath must be a spectral density") as error:
            run()
        assert "\n" not in str(error.value)


@pytest.mark.slow
def test_sum_of_halves_is_the_bath_neqb_trajectory():
    """NEQB trajectory of the infinite sweep (v = 1, γ = 5e-3, s = 3, ω_c = 5, T = 1, Θ = 0,
    1024 steps): the generic path (a Sum) equals Bath's closed forms; measured 3.8e-12 at every
    record, asserted 4e-11 (10×)."""
    args = dict(times=np.array([-5.0, 0.0, 5.0]), n_steps=1024)
    a = neqb_trajectory(Drive(v=1.0), Bath(5e-3, 3.0, 5.0, 1.0), 0.0, **args)
    b = neqb_trajectory(Drive(v=1.0), halves(5e-3, 3.0, 5.0, 1.0), 0.0, **args)
    np.testing.assert_array_equal(a.t.values, b.t.values)
    for k in (*OBS, "P_LZ", "P_ES"):
        np.testing.assert_allclose(b[k].values, a[k].values, rtol=0, atol=4e-11, err_msg=k)
    assert b.coords["gamma[1]"].values[0] == 2.5e-3 and "gamma" not in b.coords
    assert float(np.abs(a.P_ground.values - a.P_ground.values[..., :1]).max()) > 0.1  # it does evolve


@pytest.mark.slow
def test_sum_of_halves_is_the_bath_crossing_window():
    """NEQB crossing window of the sum of halves (v = 1, γ = 5e-3, s = 3, ω_c = 5, T = 1,
    δ = 1e-3; n_seg 64, 6 halvings). The windowed runs at its edges through Bath's closed forms
    give its own P_LZ_window, P_ES_window, and the generic path's windowed runs at the same
    edges equal them (asserted 1e-14; at fixed edges ε = −30, 25 measured bitwise equal). The
    bisection brackets start from the bath-window bound ε_max, the generic bound differing from
    Bath's closed form (153.3 vs 152.5), so the two windows' edges differ (0.065 at 10 halvings,
    2.7 at 6): not compared."""
    bath, total = Bath(5e-3, 3.0, 5.0, 1.0), halves(5e-3, 3.0, 5.0, 1.0)
    w = crossing_window(Drive(v=1.0), total, 0.0, tol=1e-3, n_seg=64, iterations=6)
    assert "gamma[0]" in w.coords and float(w.window_dev.values[0]) <= 1e-3
    edges = dict(eps_minus=float(w.eps_minus.values[0]), eps_plus=float(w.eps_plus.values[0]), n_seg=64)
    assert -60.0 < edges["eps_minus"] < -5.0 and 5.0 < edges["eps_plus"] < 60.0, edges
    closed = windowed_probabilities(Drive(v=1.0), bath, 0.0, **edges)
    generic = windowed_probabilities(Drive(v=1.0), total, 0.0, **edges)
    for k, x, y in zip(("P_LZ_window", "P_ES_window"), closed, generic, strict=True):
        np.testing.assert_allclose(x, w[k].values, rtol=0, atol=1e-14, err_msg=k)
        np.testing.assert_allclose(y, x, rtol=0, atol=1e-14, err_msg=k)


@pytest.mark.slow
def test_sum_of_halves_is_the_bath_process_tensor_trajectory():
    """Process tensor at fixed settings (finite sweep ε = −6 … 6, v = 1, δt = 0.1, K = 4 with no
    truncation, Θ = 0.3, γ = 5e-3, s = 3, ω_c = 5, T = 6.4): the sum's η from the generic
    quadrature equals Bath's closed forms; measured 2.4e-13, asserted 3e-12."""
    kwargs = dict(dt=0.1, kmax=PTSettings(4, 0.0, 4096), engine="pt", every=10, eps_start=-6.0, eps_end=6.0)
    a = exact_trajectory(Drive(v=1.0), Bath(5e-3, 3.0, 5.0, 6.4), 0.3, **kwargs)
    b = exact_trajectory(Drive(v=1.0), halves(5e-3, 3.0, 5.0, 6.4), 0.3, **kwargs)
    for k in (*OBS, "trace"):
        np.testing.assert_allclose(b[k].values, a[k].values, rtol=0, atol=3e-12, err_msg=k)


@pytest.mark.slow
def test_gaussian_cutoff_process_tensor_near_neqb_at_weak_coupling():
    """GaussianCutoff (γ = 5e-3, s = 1, ω_c = 3, T = 1, Θ = 0.3) along ε = −10 … 10 at v = 1:
    the process tensor (δt = 0.1, K = 8, truncation 1e-10) against NEQB. The bath moves
    P_ground by 6.4e-3 (NEQB with and without it); the engines differ by 1.5e-3, 0.23 of that at
    γ = 5e-3 as at γ = 2e-2 (an O(γ) non-Markovian and δt difference, not an O(γ²) one), asserted
    < 0.3 of the bath's effect; without the bath the two agree to 5e-7 (asserted 1e-5)."""
    bath = GaussianCutoff(gamma=5e-3, s=1.0, omega_c=3.0, T=1.0)
    finite = dict(eps_start=-10.0, eps_end=10.0)
    pt = dict(dt=0.1, kmax=PTSettings(8, 1e-10, 4096), engine="pt", every=10, **finite)
    ex = exact_trajectory(Drive(v=1.0), bath, 0.3, **pt)
    ne = neqb_trajectory(Drive(v=1.0), bath, 0.3, times=ex.t.values[0], **finite)
    ne0 = neqb_trajectory(Drive(v=1.0), bath.scaled(0.0), 0.3, times=ex.t.values[0], **finite)
    ex0 = exact_trajectory(Drive(v=1.0), bath.scaled(0.0), 0.3, **pt)
    for k in ("P_ground", "P_up", "r_y"):
        effect = float(np.abs(ne[k].values - ne0[k].values).max())
        dev = float(np.abs(ex[k].values - ne[k].values).max())
        assert effect > 5e-3 and dev < 0.3 * effect, (k, dev, effect)
        assert float(np.abs(ex0[k].values - ne0[k].values).max()) < 1e-5, k


@pytest.mark.slow
def test_cli_trajectory_family_equals_the_library(tmp_path):
    """`lzjax trajectory --family drude-lorentz` writes the library's numbers bitwise, with the
    family and its parameters in every record."""
    out = tmp_path / "dl.csv"
    argv = ["trajectory", "--family", "drude-lorentz", "--lam", "0.01,0.02", "--gamma-d", "2", "--T", "0.5"]
    assert main([*argv, "--v", "1", "--theta", "0.2", "--times", "-3,0,3", "--n-steps", "256", "--out", str(out)]) == 0
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    bath = DrudeLorentz(lam=np.array([0.01, 0.02]), gamma_d=2.0, T=0.5)
    ds = neqb_trajectory(Drive(v=1.0), bath, 0.2, times=np.array([-3.0, 0.0, 3.0]), n_steps=256)
    m = ds.sizes["time"]
    assert len(rows) == 2 * m and {r["family"] for r in rows} == {"drude_lorentz"}
    for i, row in enumerate(rows):
        p, j = divmod(i, m)
        assert float(row["lam"]) == [0.01, 0.02][p] and float(row["gamma_d"]) == 2.0 and float(row["T"]) == 0.5
        for k in (*OBS, "P_LZ", "P_ES"):
            want = ds[k].values[p] if k in ("P_LZ", "P_ES") else ds[k].values[p, 0, j]
            assert float(row[k]) == float(want), (i, k)


def test_cli_refuses_a_flag_of_another_family(capsys):
    """--gamma with --family drude-lorentz: one line naming it and the family's flags."""
    argv = ["trajectory", "--family", "drude-lorentz", "--lam", "0.01", "--gamma-d", "2", "--gamma", "1e-3"]
    assert main([*argv, "--T", "1", "--v", "1", "--times", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--gamma does not apply to --family drude-lorentz" in err, err
