"""Shared ending of the benchmark scripts: record the load average, optionally write JSON."""

from __future__ import annotations

import json
import os


def finish(result: dict, json_path: str | None) -> dict:
    """Add the 1/5/15-minute load average at the end (timings on a shared host are only
    comparable with it), print it, and write `result` to `json_path` if given."""
    result["load_end"] = os.getloadavg()
    print(f"load at end {result['load_end']}", flush=True)
    if json_path:
        with open(json_path, "w") as fh:
            json.dump(result, fh, indent=1)
    return result


#: source prefix of a child benchmark script: json, sys, time, jax, numpy imported and
#: `compile_s = [seconds, count]` of the XLA backend compilations so far (jax.monitoring)
COMPILE_COUNTER = r"""
import json, sys, time
import jax, numpy as np
compile_s = [0.0, 0]
def listen(event, duration, **kw):
    if event == "/jax/core/compile/backend_compile_duration":
        compile_s[0] += duration; compile_s[1] += 1
jax.monitoring.register_event_duration_secs_listener(listen)
"""
