"""Strict harness: float64 everywhere (lzjax enables x64 on import; asserted here)."""

import jax
import numpy as np
import pytest

import lzjax  # noqa: F401  (enables x64)


def pytest_configure(config):
    assert jax.config.jax_enable_x64, "lzjax must run in float64"


@pytest.fixture
def rng():
    return np.random.default_rng(20261124)
