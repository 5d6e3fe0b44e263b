"""Strict harness: float64 everywhere (lzjax enables x64 on import; asserted here)."""

import os
import shutil
import tempfile

os.environ.setdefault("LZJAX_NO_CACHE", "1")  # in-process CLI calls: no persistent cache (tested apart)
os.environ.setdefault("LZJAX_WARM", "0")  # no warm lzjax process left behind (tests/test_warm.py starts its own)

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import lzjax  # noqa: F401  (enables x64)

#: JAX's persistent compilation cache in a folder of this run (LZJAX_TEST_JAX_CACHE=0: off). Each
#: module's compiled programs are dropped after it (below), and many modules compile the same
#: programs again (solve_neqb, the ladders' window runs at equal shapes): from the second module on
#: these are read back from disk instead of compiled. Every compile is kept (minimum time 0): a
#: first call's many small programs add up (a module's first solve_neqb 1.7 s instead of 2.9 s
#: with the 0.1 s minimum, benchmarks/RESULTS.md). Only the compile step is skipped: the
#: programs are traced and lowered as before, and the executable is the one XLA made (the numbers
#: are the same). The CLI's own cache (lzjax.cache, off here by LZJAX_NO_CACHE) is not this one.
_SUITE_JAX_CACHE: str | None = None


_SHARED = "LZJAX_TEST_JAX_CACHE_DIR"  # the folder, handed to pytest-xdist's workers (they inherit it)


def pytest_configure(config):
    global _SUITE_JAX_CACHE
    assert jax.config.jax_enable_x64, "lzjax must run in float64"
    if os.environ.get("LZJAX_TEST_JAX_CACHE", "1").strip().lower() in ("0", "false", "no"):
        return
    folder = os.environ.get(_SHARED) if os.environ.get("PYTEST_XDIST_WORKER") else None
    if folder is None:  # the run itself (or xdist's controller): made here, removed at its end
        folder = _SUITE_JAX_CACHE = tempfile.mkdtemp(prefix="lzjax-tests-jax-cache-")
        os.environ[_SHARED] = folder
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def pytest_unconfigure(config):
    if _SUITE_JAX_CACHE is not None:
        shutil.rmtree(_SUITE_JAX_CACHE, ignore_errors=True)
        os.environ.pop(_SHARED, None)


@pytest.fixture
def rng():
    return np.random.default_rng(20261124)


# ---- shared helpers --------------------------------------------------------------------------


def assert_close(actual, expected, *, atol, rtol=0.0, what=""):
    """Elementwise |actual − expected| ≤ atol + rtol·|expected| over matching pytrees of arrays,
    with the worst deviation in the message (tolerances are always explicit)."""
    leaves_a, tree_a = jax.tree_util.tree_flatten(actual)
    leaves_e, tree_e = jax.tree_util.tree_flatten(expected)
    assert tree_a == tree_e, f"{what}: structures differ: {tree_a} vs {tree_e}"
    for a, e in zip(leaves_a, leaves_e, strict=False):
        a, e = np.asarray(a), np.asarray(e)
        assert a.shape == e.shape, f"{what}: shapes {a.shape} vs {e.shape}"
        dev = np.abs(a - e)
        bound = atol + rtol * np.abs(e)
        worst = float(np.max(dev - bound)) if dev.size else 0.0
        assert np.all(np.isfinite(a)) and np.all(dev <= bound), (
            f"{what}: max |actual - expected| = {float(np.max(dev)):.3g} exceeds atol={atol:g}, "
            f"rtol={rtol:g} (by {worst:.3g})"
        )


class CompileCounter:
    """Counts XLA backend compilations (jax.monitoring events) while active."""

    def __init__(self):
        self.count = 0
        self.active = False

    def _listener(self, event, duration, **kwargs):
        if self.active and event == "/jax/core/compile/backend_compile_duration":
            self.count += 1

    def __enter__(self):
        self.count, self.active = 0, True
        return self

    def __exit__(self, *exc):
        self.active = False


_COUNTER = CompileCounter()
jax.monitoring.register_event_duration_secs_listener(_COUNTER._listener)


@pytest.fixture
def compiles():
    """A context manager counting compilations: `with compiles as c: ...; c.count`."""
    return _COUNTER


#: test modules whose code runs under strict dtype promotion (STYLE.md:
#: a strict harness "where the code allows it"; the engines still rely on implicit real→complex
#: and int→float promotion in ~20 places, e.g. η at integer lags, listed in tests/README.md)
STRICT_MODULES = {"test_bath", "test_model"}


@pytest.fixture(autouse=True)
def _strict_promotion(request):
    if request.module.__name__.rsplit(".", 1)[-1] in STRICT_MODULES:
        with jax.numpy_dtype_promotion("strict"):
            yield
    else:
        yield


def _release_freed_memory():
    """Hand the heap that XLA's compiles freed back to the OS (glibc malloc_trim; elsewhere a
    no-op): freed is not returned by itself, so the resident size kept every module's peak."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _resident_bytes() -> int:
    """This process's resident set size (Linux /proc; 0 where unknown)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


#: after a test, compiled programs are dropped once the process holds more than this (each test
#: adds 0.1-0.4 GB of executables; dropping them all the time cost ~40 s of recompiles)
RESIDENT_LIMIT = 1.6 * 2**30

#: modules whose tests start heavy subprocesses (notebook kernels, two JAX processes): the
#: parent's programs are dropped before each test (test_scale's 8-device child is light enough)
SUBPROCESS_MODULES = {"test_notebooks", "test_distributed"}


@pytest.fixture(autouse=True)
def _bounded_memory(request):
    if request.module.__name__.rsplit(".", 1)[-1] in SUBPROCESS_MODULES:
        jax.clear_caches()
        _release_freed_memory()
    yield
    if _resident_bytes() > RESIDENT_LIMIT:
        jax.clear_caches()
        _release_freed_memory()


@pytest.fixture(autouse=True, scope="module")
def _drop_compiled_programs():
    """Each test module's compiled programs are dropped after it, and the freed heap returned:
    the suite's memory stays that of one module (the JIT caches of all modules together held
    ~3 GB)."""
    yield
    jax.clear_caches()
    _release_freed_memory()
