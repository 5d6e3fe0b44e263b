"""The Python API accepts exactly the documented types (issue 13, item 6; issue 23, item 9): real numbers and real
arrays; bool, str, None, complex, ragged lists are refused with the parameter's name — while
traced values (jit, vmap, grad) and JAX's own placeholders still pass through."""

import os
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lzjax import Bath, Drive, LZProblem, solve_neqb
from lzjax.sweeps import grid_problem, sweep

GOOD = dict(v=0.3, delta=1.0, gamma=5e-4, s=3.0, omega_c=5.0, T=6.4, theta=0.1)


def build(p):
    return LZProblem(Drive(p["v"], p["delta"]), Bath(p["gamma"], p["s"], p["omega_c"], p["T"]), p["theta"])


BAD_TYPES = st.one_of(
    st.booleans(),
    st.just(np.bool_(True)),
    st.text(max_size=6),
    st.none(),
    st.complex_numbers(allow_nan=False, allow_infinity=False, min_magnitude=1e-3).filter(lambda z: z.imag != 0),
    st.just(np.array([1.0 + 1j])),
    st.just(np.array([True, False])),
    st.just([[0.3, 0.4], [0.5]]),
    st.just([0.3, "a"]),
    st.just({"v": 1.0}),
    st.just(object()),
)
GOOD_TYPES = st.one_of(
    st.just(0.3),
    st.just(1),
    st.just(np.float32(0.3)),
    st.just(np.int64(1)),
    st.just([0.3, 0.5]),
    st.just((0.2,)),
    st.just(np.array([[0.1, 0.2], [0.3, 0.4]])),
    st.just(jnp.asarray(0.4)),
)


@settings(max_examples=120, deadline=None)
@given(name=st.sampled_from(sorted(GOOD)), value=BAD_TYPES)
def test_bad_types_are_refused_naming_the_parameter(name, value):
    with pytest.raises(ValueError, match=rf"^{name} must be a real number"):
        build(dict(GOOD, **{name: value}))


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(sorted(GOOD)), value=GOOD_TYPES)
def test_real_numbers_and_arrays_are_accepted(name, value):
    build(dict(GOOD, **{name: value}))


@pytest.mark.parametrize(
    "value, fragment",
    [
        ([-1.0, 0.5], "got -1.0"),
        ("nan", "real number"),
        (None, "real number"),
        (1 + 1j, "complex"),
        (True, "real number"),
        ([[1.0], [1.0, 2.0]], "ragged"),
    ],
)
def test_issue_cases_for_drive_v(value, fragment):
    with pytest.raises(ValueError, match=r"^v ") as info:
        Drive(v=value)
    assert fragment in str(info.value)


def test_delta_far_from_one_names_the_overflow_not_v():
    with pytest.raises(ValueError, match=r"^v/delta\*\*2 .*over- or underflows.*v = 1, delta = 1e\+300"):
        Drive(v=1.0, delta=1e300)
    with pytest.raises(ValueError, match=r"^omega_c/delta .*over- or underflows"):
        LZProblem(Drive(1e-300, 1e-150), Bath(5e-4, 3.0, 1e300, 1.0))


def test_problem_fields_must_be_drive_and_bath():
    with pytest.raises(ValueError, match="^bath must be a Bath"):
        LZProblem(Drive(1.0), {"gamma": 1e-3})


def test_traced_values_and_jax_placeholders_pass_through():
    problem = build(GOOD)
    assert jax.jit(lambda p: p.drive.v * p.bath.T)(problem) == pytest.approx(0.3 * 6.4)
    out = jax.vmap(lambda v: LZProblem(Drive(v), problem.bath).drive.v * 2)(jnp.array([1.0, 2.0]))
    np.testing.assert_allclose(out, [2.0, 4.0])
    assert jax.grad(lambda g: Bath(g, 3.0, 5.0, 1.0).gamma ** 2)(0.25) == pytest.approx(0.5)
    assert jax.jit(lambda v: Drive([v, 2 * v]).v[1])(1.5) == 3.0  # a list holding tracers
    structure = jax.tree_util.tree_structure(problem)
    jax.tree_util.tree_unflatten(structure, [None] * 7)  # JAX's placeholders are not user input
    jax.eval_shape(lambda p: p.drive.v + p.theta, problem)
    assert jax.tree_util.tree_map(lambda x: x, problem) == problem
    keys = [jax.tree_util.keystr(k) for k, _ in jax.tree_util.tree_flatten_with_path(problem)[0]]
    assert keys[0] == ".drive.v"


@pytest.mark.parametrize("option, value", [("tol", "1e-2"), ("tol", None), ("n_steps", 512.0), ("tol", True)])
def test_sweep_option_types_named(option, value):
    with pytest.raises(ValueError, match=rf"^{option} must be"):
        sweep("neqb", v=1.0, T=1.0, gamma=1e-3, s=3, omega_c=5, **{option: value})
    with pytest.raises(ValueError, match="^compensate must be True or False"):
        sweep("quapi", v=1.0, T=1.0, gamma=1e-3, s=3, omega_c=5, tol=1e-2, compensate="yes")


# --- issue 23 item 9: one policy for the constructors and sweep() ------------------------------

SWEEP = dict(v=0.3, T=6.4, gamma=5e-4, s=3.0, omega_c=5.0, theta=0.1, delta=1.0)


@settings(max_examples=120, deadline=None)
@given(name=st.sampled_from(sorted(SWEEP)), value=BAD_TYPES.filter(lambda x: x is not None))
def test_sweep_refuses_what_the_constructors_refuse(name, value):
    """`sweep(v='0.3')` ran as 0.3 and `theta=True` as 1 rad: now the constructors' message."""
    with pytest.raises(ValueError, match=rf"^{name} must be a real number"):
        sweep("neqb", **dict(SWEEP, **{name: value}))


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(sorted(GOOD)),
    value=st.lists(st.floats(0.01, 1.0), min_size=1, max_size=4).flatmap(lambda xs: st.sampled_from([xs, tuple(xs)])),
)
def test_lists_and_tuples_become_float64_arrays(name, value):
    p = build(dict(GOOD, **{name: value}))
    leaf = {"v": p.drive.v, "delta": p.drive.delta, "theta": p.theta}.get(name, getattr(p.bath, name, None))
    assert isinstance(leaf, np.ndarray) and leaf.dtype == np.float64
    np.testing.assert_array_equal(leaf, np.asarray(value, dtype=np.float64))
    assert len(jax.tree_util.tree_leaves(p)) == 7  # a list is one leaf, not one per element


@pytest.mark.parametrize("name", sorted(GOOD))
@pytest.mark.parametrize("empty", [[], (), np.array([])])
def test_empty_values_are_refused_by_name(name, empty):
    with pytest.raises(ValueError, match=rf"^{name} must be a real number \(or a non-empty array"):
        build(dict(GOOD, **{name: empty}))
    with pytest.raises(ValueError, match=rf"^{name} must be a real number \(or a non-empty array"):
        sweep("neqb", **dict(SWEEP, **{name: empty}))


@pytest.mark.slow
def test_a_problem_built_from_lists_solves_like_arrays():
    """`Drive(v=[0.1, 0.3])` used to be accepted and then fail in solve_neqb (TypeError)."""
    from_lists = LZProblem(Drive([0.1, 0.3]), Bath(5e-4, 3.0, 5.0, [1.6, 6.4]), [0.0, 0.1])
    arrays = [np.array(x) for x in ([0.1, 0.3], [1.6, 6.4], [0.0, 0.1])]
    from_arrays = LZProblem(Drive(arrays[0]), Bath(5e-4, 3.0, 5.0, arrays[1]), arrays[2])
    a, b = solve_neqb(from_lists, tol=1e-4), solve_neqb(from_arrays, tol=1e-4)
    np.testing.assert_array_equal(a.P_LZ, b.P_LZ)
    problem, coords = grid_problem(v=[0.1, 0.3], T=(1.6,), gamma=5e-4, s=3, omega_c=5, theta=[0.0])
    assert all(c.dtype == np.float64 for c in coords.values())


@pytest.mark.parametrize("store", [123, 1.5, b"out.jsonl", ["a.jsonl"], True])
def test_sweep_store_must_be_a_path(store):
    with pytest.raises(ValueError, match=r"^store must be a file path \(str or os.PathLike\) or None"):
        sweep("neqb", **SWEEP, store=store)


def test_check_path_accepts_paths():
    from lzjax.checks import check_path

    assert check_path("store", None) is None
    assert check_path("store", "a.jsonl") == "a.jsonl"
    assert isinstance(check_path("store", pathlib.Path("a.jsonl")), os.PathLike)
