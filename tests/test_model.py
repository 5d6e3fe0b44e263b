import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lzjax import Bath, Drive, LZProblem, dimensionless


def good():
    return dict(v=0.3, delta=1.0, gamma=5e-4, s=3.0, omega_c=5.0, T=6.4, theta=0.0)


def build(p):
    return LZProblem(Drive(p["v"], p["delta"]), Bath(p["gamma"], p["s"], p["omega_c"], p["T"]), p["theta"])


@pytest.mark.parametrize(
    "name, value",
    [
        ("v", 0.0),
        ("v", -1.0),
        ("v", math.inf),
        ("v", math.nan),
        ("delta", 0.0),
        ("delta", -2.0),
        ("gamma", -1e-3),
        ("gamma", math.nan),
        ("gamma", math.inf),
        ("s", 0.0),
        ("s", -1.0),
        ("omega_c", 0.0),
        ("omega_c", -5.0),
        ("T", -0.1),
        ("T", math.inf),
        ("theta", -math.pi / 2),
        ("theta", 2.0),
        ("theta", -1.6),
        ("theta", math.nan),
    ],
)
def test_invalid_parameter_names_itself_and_range(name, value):
    p = good()
    p[name] = value
    with pytest.raises(ValueError, match=rf"^{name} .*must be finite and in [\(\[]"):
        build(p)


def test_arrays_validated_elementwise():
    with pytest.raises(ValueError, match="^T "):
        Bath(5e-4, 3, 5, np.array([1.0, -1.0]))


def test_edge_values_accepted():
    p = good()
    p.update(T=0.0, gamma=0.0, theta=math.pi / 2)
    build(p)


def test_pytree_passes_jit_vmap_grad_and_stays_float64():
    problem = build(good())
    leaves = jax.tree_util.tree_leaves(problem)
    assert len(leaves) == 7
    f = jax.jit(lambda p: p.drive.v * p.bath.T * jnp.cos(p.theta))
    assert f(problem).dtype == jnp.float64
    batch = jax.vmap(lambda v: f(LZProblem(Drive(v), problem.bath, 0.0)))(jnp.array([1.0, 2.0]))
    np.testing.assert_allclose(batch, [6.4, 12.8], rtol=1e-15)
    g = jax.grad(lambda gamma: LZProblem(Drive(1.0), Bath(gamma, 3.0, 5.0, 1.0)).bath.gamma ** 2)(0.25)
    assert g == pytest.approx(0.5)


def test_dimensionless_rescaling():
    p = LZProblem(Drive(0.8, 2.0), Bath(5e-4, 3.0, 10.0, 12.8), 0.1)
    d = dimensionless(p)
    assert d.drive.v == pytest.approx(0.2) and d.drive.delta == pytest.approx(1.0)
    assert d.bath.omega_c == pytest.approx(5.0) and d.bath.T == pytest.approx(6.4)
    assert d.bath.gamma == 5e-4 and d.theta == 0.1


@pytest.mark.parametrize("v, delta", [(1e300, 1.0), (1e-300, 1.0), (2e6, 1.0), (5e-7, 1.0), (1.0, 1e-4), (1e-3, 100.0)])
def test_sweep_speed_outside_the_accepted_range_is_refused_before_any_work(v, delta):
    """Issue 23 item 5: `--v 1e300` ran 10 s and blamed the rates; now v/Δ² is checked at once."""
    with pytest.raises(ValueError, match=r"^v/delta\*\*2 \(the sweep speed.*must be in \[1e-06, 1e\+06\]; got "):
        Drive(v, delta)
    with pytest.raises(ValueError, match=r"^v/delta\*\*2"):
        Drive(np.array([1.0, v]), delta)


def test_sweep_speed_range_ends_are_accepted():
    Drive(np.array([1e-6, 1e6]))
    Drive(4e6, 2.0)  # v/Δ² = 1e6
