"""Scenario 2: what capture costs a real agent, end to end.

Setup: the stand-in provider (TLS on loopback) answering every call after
50 ms, and the stand-in's ``bench_agent``: the openai SDK making 200 calls
(6 in ``--quick``) with a growing conversation history.  The agent reports
its own wall time from its first call to its last (``--out``), so process
start-up and capture attach are not counted.  Run twice each, alternating
which goes first, without and with ``heron-capture -o FILE -- <agent>`` (one
run takes ~40 s here: the history grows to ~40 KB); every capture is opened
with ``heron.open`` to check it holds every call.

Goal: capture adds under 1% to the agent's wall time.

Examples
--------
::

    sudo .venv/bin/python -m bench --only 2
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from bench._common import Interleaved, Row, fresh, out_dir, ratio, require_bpf, run_measured
from bench.captures import _env, agent_available, agent_cmd, capture_cmd


def count_calls(path: Path) -> int:
    """Rows of the capture's calls table."""
    import heron

    return int(heron.open(path).calls.height)


def run(quick: bool) -> list[Row]:
    """Interleave runs without and with capture; one row."""
    require_bpf()
    why = agent_available()
    if why:
        raise RuntimeError(why)
    from heron.standin import StandIn

    calls = 6 if quick else 200
    reps = 1 if quick else 2
    d = out_dir("s2")
    wall, p50 = Interleaved(), Interleaved()
    held: list[int] = []
    env = _env()
    with StandIn(log_path=str(d / "standin.jsonl"), latency_ms=50) as s:
        for rep in range(reps):
            for case in ("none", "heron") if rep % 2 == 0 else ("heron", "none"):
                out = fresh(d / f"{case}.json")
                agent = [*agent_cmd(s.https_url, str(s.ca_file), calls), "--out", str(out)]
                if case == "none":
                    run_measured(agent, env=env, timeout=900)
                else:
                    cap = fresh(d / f"agent-{rep}.heron")
                    run_measured(capture_cmd(cap, agent), env=env, timeout=900)
                    held.append(count_calls(cap))
                res = json.loads(out.read_text())
                wall.add(case, res["seconds"])
                p50.add(case, statistics.median(res["per_call_ms"]))
    r = ratio(wall.median("heron"), wall.median("none"))
    dp50 = p50.median("heron") - p50.median("none")
    note = (
        f"captures hold {', '.join(map(str, held))} of {calls} calls; per-call p50 {dp50:+.2f} ms"
    )
    return [
        Row(
            f"2. agent wall time, {calls} openai-SDK calls at 50 ms: capture vs none",
            wall.measure("heron", "s", 2),
            wall.measure("none", "s", 2),
            r,
            "< 1.01x",
            None if r is None else r < 1.01,
            note=note,
            ratio_fmt="{:.3f}x",
        )
    ]
