"""Property-based checks (hypothesis): every invalid input ends in a clear error naming the
parameter — never a traceback from inside JAX — and valid inputs never give NaN or P ∉ [0, 1]."""

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lzjax import Bath, Drive, LZProblem, solve_neqb
from lzjax.cli import main
from lzjax.model import V_RANGE

FIELDS = {
    "v": (lambda x: x > 0),
    "delta": (lambda x: x > 0),
    "gamma": (lambda x: x >= 0),
    "s": (lambda x: x > 0),
    "omega_c": (lambda x: x > 0),
    "T": (lambda x: x >= 0),
    "theta": (lambda x: -math.pi / 2 < x <= math.pi / 2),
}
GOOD = dict(v=0.3, delta=1.0, gamma=5e-4, s=3.0, omega_c=5.0, T=6.4, theta=0.1)
any_float = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**6), 10**6))


def build(p):
    return LZProblem(Drive(p["v"], p["delta"]), Bath(p["gamma"], p["s"], p["omega_c"], p["T"]), p["theta"])


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(FIELDS)), value=any_float)
def test_public_api_accepts_exactly_the_documented_ranges(name, value):
    p = dict(GOOD, **{name: value})
    valid = math.isfinite(float(value)) and FIELDS[name](float(value))
    if valid and name == "delta":  # the engines work in units of delta: v/delta², omega_c/delta, T/delta
        d = np.float64(value)
        with np.errstate(all="ignore"):
            scaled = [float(p["v"] / d**2), float(p["omega_c"] / d), float(p["T"] / d)]
        if not all(math.isfinite(x) and x > 0 for x in scaled):
            with pytest.raises(ValueError, match=r"over- or underflows float64 .*delta = "):
                build(p)
            return
    if valid and name in ("v", "delta"):  # the accepted sweep speeds v/delta² (issue 23 item 5)
        lo, hi = V_RANGE
        if not lo <= float(np.float64(p["v"]) / np.float64(p["delta"]) ** 2) <= hi:
            with pytest.raises(ValueError, match=r"^v/delta\*\*2 \(the sweep speed.*must be in \[1e-06, 1e\+06\]"):
                build(p)
            return
    if valid:
        build(p)
    else:
        with pytest.raises(ValueError, match=rf"^{name} .*must be finite and in"):
            build(p)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    flag=st.sampled_from(["--v", "--T", "--gamma", "--s", "--omega-c", "--theta", "--delta"]),
    text=st.text(alphabet="0123456789.,-+eEpi/*xna ", min_size=0, max_size=12),
)
@pytest.mark.slow
def test_cli_never_tracebacks_and_never_writes_on_bad_input(flag, text, tmp_path_factory, capsys):
    out = tmp_path_factory.mktemp("cli") / "r.json"
    args = {"--v": "1", "--T": "6.4", "--gamma": "5e-4", "--s": "3", "--omega-c": "5", "--theta": "0", "--delta": "1"}
    args[flag] = text
    argv = ["neqb", "--tol", "1e-2", "--out", str(out)] + [x for k, v in args.items() for x in (k, v)]
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own exits (e.g. --help) are not expected here
        pytest.fail(f"SystemExit {exit_.code} for {argv}")
    err = capsys.readouterr().err
    if code == 0:
        records = json.loads(out.read_text())
        assert all(0 <= r["P_LZ"] <= 1 and 0 <= r["P_ES"] <= 1 for r in records)
    else:
        assert code == 2 and err.startswith("lzjax: error:") and "Traceback" not in err
        assert not out.exists(), "no partial output on bad input"


@settings(max_examples=4, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0.005, 50),
            st.floats(0, 5e-3),
            st.sampled_from([1.0, 3.0]),
            st.floats(1.0, 20.0),
            st.floats(0, 30.0),
            st.floats(-1.5, math.pi / 2),
        ),
        min_size=8,
        max_size=8,
    )
)
@pytest.mark.slow
def test_valid_inputs_give_probabilities(points):
    v, gamma, s, omega_c, T, theta = (np.array(x) for x in zip(*points, strict=False))
    res = solve_neqb(LZProblem(Drive(v), Bath(gamma, s, omega_c, T), theta), tol=1e-4)
    for p in (res.P_LZ, res.P_ES):
        assert np.all(np.isfinite(p)) and np.all((p >= -1e-12) & (p <= 1 + 1e-12))
    assert np.all(np.isfinite(res.P_LZ_err))
