"""One vocabulary (issue 19): one word means one thing across the library and the command line.

- the drive protocols are :data:`lzjax.protocols.PROTOCOLS`; the QUAPI setup/read-out pairs are
  :data:`lzjax.quapi.window.QUAPI_SCHEMES`;
- one linear-drive type: :class:`lzjax.model.LinearDrive` carries ε(t) = v t for :class:`Drive`
  and :class:`LinearSweep`, whose fields and pytree structures stay their own;
- result settings are documented (:data:`lzjax.results.SETTINGS`);
- the process tensor's memory time is `memory_time` everywhere (`memory` an alias);
- an exact engine owns its fixed settings (:meth:`fixed_memory`, :meth:`fixed_record`).
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

from lzjax import Bath, Drive, LZProblem, solve_neqb
from lzjax.model import LinearDrive
from lzjax.protocols import PROTOCOLS, LinearSweep
from lzjax.quapi import ADT, PT, converge_quapi, solve_quapi
from lzjax.quapi.engines.pt import FIXED_PT_TOL, PTSettings
from lzjax.quapi.window import QUAPI_SCHEMES
from lzjax.results import SETTINGS

PROBLEM = LZProblem(Drive(v=[0.5, 2.0]), Bath(gamma=1e-3, s=3, omega_c=5, T=1.0), theta=0.3)


def test_one_protocol_registry_and_one_scheme_registry():
    assert set(PROTOCOLS) == {"linear", "tanh", "periodic", "tabulated", "function"}
    assert set(QUAPI_SCHEMES) == {"window", "plain"}
    import lzjax.quapi.window as window

    assert not hasattr(window, "PROTOCOLS")


def test_one_linear_drive_type_keeps_both_pytrees():
    drive, sweep = Drive(v=0.7, delta=1.0), LinearSweep(v=0.7, eps_start=-5.0, eps_end=5.0)
    assert isinstance(drive, LinearDrive) and isinstance(sweep, LinearDrive)
    assert not isinstance(sweep, Drive) and not isinstance(drive, LinearSweep)
    assert Drive.epsilon is LinearSweep.epsilon is LinearDrive.epsilon
    assert Drive.depsilon is LinearSweep.depsilon is LinearDrive.depsilon
    assert jax.tree_util.tree_structure(drive).num_leaves == 2
    assert jax.tree_util.tree_structure(sweep).num_leaves == 3
    t = np.array([-2.0, 0.5])
    np.testing.assert_array_equal(drive.epsilon(t), 0.7 * t)
    np.testing.assert_array_equal(jax.jit(lambda d, x: d.depsilon(x))(sweep, t), [0.7, 0.7])


def test_result_settings_are_documented():
    for result in (
        solve_neqb(PROBLEM, tol=1e-4),
        solve_quapi(LZProblem(Drive(v=2.0), Bath(1e-3, 3, 5, 1.0)), dt=0.2, kmax=2, tmax=12.0),
    ):
        assert set(result.settings) <= set(SETTINGS), set(result.settings) - set(SETTINGS)
        for name, value in result.settings.items():
            assert np.array_equal(getattr(result, name), value)  # the shorthand result.dt
            assert np.array_equal(result.fields()[name], value)


def test_memory_time_is_the_name_of_the_memory_time():
    assert PT().configured(memory=3.2) == PT().configured(memory_time=3.2) == PT(memory_time=3.2)
    with pytest.raises(ValueError, match="not both"):
        PT().configured(memory=3.2, memory_time=3.2)
    with pytest.raises(ValueError, match="memory_time must be a number in"):
        PT(memory_time=1e3)
    for kw in (dict(memory_time=1.0), dict(memory=1.0)):
        with pytest.raises(ValueError, match="does not apply to engine 'adt'"):
            converge_quapi(PROBLEM, tol=1e-2, engine="adt", **kw)
    with pytest.raises(ValueError, match="not both"):
        converge_quapi(PROBLEM, tol=1e-2, engine="pt", memory=1.0, memory_time=1.0)


def test_engines_own_their_fixed_settings():
    assert ADT().fixed_memory(0.1, 4) == 4 and ADT().fixed_record(4) == {"kmax": 4}
    with pytest.raises(ValueError, match="kmax must be an integer in"):
        ADT().fixed_memory(0.1, 40)
    with pytest.raises(ValueError, match="kmax .* is required"):
        ADT().fixed_memory(0.1)
    pt = PT(memory_time=0.8, pt_tol=1e-7, chi_max=64)
    assert pt.fixed_memory(0.2) == PTSettings(4, 1e-7, 64, 0.0)  # K = round(τ/δt)
    assert pt.fixed_memory(0.2, 6, taper=0.5) == PTSettings(6, 1e-7, 64, 0.5)
    assert PT().fixed_memory(0.1).tol == FIXED_PT_TOL
    assert pt.fixed_record(PTSettings(4, 1e-7, 64, 0.0)) == {"kmax": 4, "pt_tol": 1e-7, "chi_max": 64, "taper": 0.0}
    with pytest.raises(ValueError, match="taper"):
        pt.fixed_memory(0.2, taper=2.0)
    with pytest.raises(ValueError, match="dt"):
        pt.fixed_memory(0.0)
