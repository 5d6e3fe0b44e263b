"""Strict harness: float64 everywhere (lzjax enables x64 on import; asserted here)."""

import os

os.environ.setdefault("LZJAX_NO_CACHE", "1")  # in-process CLI calls: no persistent cache (tested apart)

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import lzjax  # noqa: F401  (enables x64)


def pytest_configure(config):
    assert jax.config.jax_enable_x64, "lzjax must run in float64"


@pytest.fixture
def rng():
    return np.random.default_rng(20261124)
