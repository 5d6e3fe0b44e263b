"""Bath physics against closed forms and independent quadrature."""

import math

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import gamma as gamma_fn
from scipy.special import kv, zeta

from lzjax import Bath
from lzjax.bath import (
    correlation_function,
    crossing_integral,
    hurwitz_zeta,
    relaxation_rate,
    spectral_density,
)


@pytest.mark.parametrize("s", [0.5, 1.0, 3.0, 4.5])
def test_correlation_zero_temperature_closed_form(s):
    bath = Bath(5e-3, s, 5.0, 0.0)
    t = np.linspace(-4, 4, 33)
    exact = gamma_fn(s + 1) * 5e-3 / np.pi * (5.0 / (1 + 1j * 5.0 * t)) ** (s + 1)
    np.testing.assert_allclose(np.asarray(correlation_function(jnp.asarray(t), bath)), exact, rtol=1e-12, atol=0)


def test_hurwitz_zeta_real_axis_against_scipy():
    for sigma in [1.5, 2.0, 4.0, 7.3]:
        for q in [1.0, 1.7, 13.0]:
            assert complex(hurwitz_zeta(jnp.float64(sigma), q)).real == pytest.approx(zeta(sigma, q), rel=1e-13)


@pytest.mark.parametrize("s, T", [(1.0, 6.4), (3.0, 6.4), (3.0, 0.7), (0.5, 2.0)])
def test_correlation_finite_temperature_against_quad(s, T):
    bath = Bath(5e-3, s, 5.0, T)
    for t in [0.0, 0.2, 0.9, 2.5]:
        g = lambda w: 5e-3 / np.pi * w**s * np.exp(-w / 5.0)
        re = quad(lambda w: g(w) / np.tanh(w / (2 * T)) * np.cos(w * t), 0, np.inf, limit=800, epsabs=1e-14)[0]
        im = -quad(lambda w: g(w) * np.sin(w * t), 0, np.inf, limit=800, epsabs=1e-14)[0]
        c = complex(correlation_function(jnp.float64(t), bath))
        assert abs(c - complex(re, im)) < 1e-8 * max(1.0, abs(complex(re, im)))


K = {n: kv(n, 0.2) for n in range(5)}
CLOSED = {
    (1, 0.0): K[0],
    (1, math.pi / 2): K[1] / 0.2,
    (3, 0.0): (K[2] + K[0]) / 2,
    (3, math.pi / 2): (K[4] - K[0]) / 8,
}
PAPER = {(1, 0.0): 3.5, (1, math.pi / 2): 47.8, (3, 0.0): 51.3, (3, math.pi / 2): 7475.0}


@pytest.mark.parametrize("key", list(CLOSED))
def test_crossing_integral_both_conventions(key):
    s, theta = key
    design = float(crossing_integral(s, theta, 5.0))
    assert design == pytest.approx(CLOSED[key], rel=1e-9)
    paper = float(crossing_integral(s, theta, 5.0, convention="paper"))
    assert paper == pytest.approx(2 * CLOSED[key], rel=1e-9)
    # the paper's table is exactly twice Eq. (8) integrated as written, to its printed digits
    assert paper == pytest.approx(PAPER[key], rel=2e-3)


@pytest.mark.parametrize(
    "s, T, theta", [(3.0, 6.4, 0.0), (1.0, 2.0, 0.07 * math.pi), (3.0, 0.0, -0.3), (1.0, 0.0, math.pi / 2)]
)
def test_gamma1_is_the_golden_rule_rate(s, T, theta):
    """Derive Γ1 from Hamiltonian (1)-(3): Γ↓ + Γ↑ with H_int = −X B/2,
    Γ_{a→b} = ¼ |⟨b|X|a⟩|² S(±E), S(ω) = ∫dt e^{iωt} C(t) from our C(t) by numerical FT."""
    bath = Bath(5e-3, s, 5.0, T)
    sx = np.array([[0, 1], [1, 0]], float)
    sz = np.array([[1, 0], [0, -1]], float)
    X = math.cos(theta) * sz + math.sin(theta) * sx
    t = np.linspace(-400, 400, 400001)
    C = np.asarray(correlation_function(jnp.asarray(t), bath))
    for eps in [-2.0, 0.0, 1.3]:
        energies, vecs = np.linalg.eigh(0.5 * sx + 0.5 * eps * sz)
        ground, excited = vecs[:, 0], vecs[:, 1]
        E = energies[1] - energies[0]
        x_ge = ground @ X @ excited
        spectrum = lambda w: np.trapezoid(np.exp(1j * w * t) * C, t).real
        golden = 0.25 * x_ge**2 * (spectrum(E) + spectrum(-E))
        ours = float(relaxation_rate(jnp.float64(eps), theta, bath))
        assert ours == pytest.approx(golden, rel=1e-5, abs=1e-12)
        # and the spectrum itself is 2πG(ω)(n+1) (detailed balance of our C)
        assert spectrum(E) == pytest.approx(
            2 * np.pi * float(spectral_density(E, bath)) * (1 + (1 / np.expm1(E / T) if T > 0 else 0)), rel=1e-5
        )
