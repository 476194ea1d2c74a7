"""``heron diff`` on real captures of the two variants of the fixture agent.

``tests/fixtures/variant_a.heron`` and ``variant_b.heron`` are recorded by
``heron-capture`` against the stand-in provider (see tests/fixtures/record.py):

- variant A finishes in 2 tool rounds;
- variant B calls the same tool with the same arguments 4 times, uses one more
  tool, and gets a 429 that it retries.

The diff must report exactly those differences, and nothing else about what
the agent did (timings and token counts are allowed to move).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

import heron
from heron.analyze.diff import DiffResult, diff
from heron.cli import main

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(os.environ.get("HERON_TEST_FIXTURES", ROOT / "tests" / "fixtures"))
A = FIXTURES / "variant_a.heron"
B = FIXTURES / "variant_b.heron"

# Metrics that describe WHAT the agent did; B differs from A in exactly these.
MUST_CHANGE = {
    "calls",
    "errors",
    "errors_429",
    "tool_calls",
    "loops",
    "loops:repeated_tool_call",
    "max_turns",
    "new_tools",
    "new_loops",
}
# Behaviour that B must NOT change.
MUST_NOT_CHANGE = {
    "errors_4xx",
    "errors_5xx",
    "errors_stream",
    "errors_other",
    "tool_errors",
    "conversations",
    "unfinished",
    "removed_tools",
    "new_models",
    "removed_models",
    "new_providers",
    "new_hosts",
    "new_apis",
    "newly_unfinished",
    "unmatched_agents",
    "loops:retry_storm",
    "loops:repeated_request",
}
# Measured quantities that legitimately vary run to run (or with more calls).
MAY_CHANGE_PREFIXES = ("p50_", "p95_", "duration_ms", "input_tokens", "output_tokens", "tokens")

ALL_GATES = [
    "loops>0",
    "errors>0",
    "output_tokens>+20%",
    "calls>+5",
    "p95_latency_ms>+50%",
    "new_tools",
    "tool:delete_file>0",
]


@pytest.fixture(scope="module")
def caps() -> tuple[heron.Capture, heron.Capture]:
    for p in (A, B):
        assert p.exists(), f"fixture missing: {p} (record it with `make fixtures`)"
    return heron.open(A), heron.open(B)


@pytest.fixture(scope="module")
def ab(caps: tuple[heron.Capture, heron.Capture]) -> DiffResult:
    return diff(caps[0], caps[1], fail_on=ALL_GATES)


def _total(r: DiffResult) -> pl.DataFrame:
    return r.metrics.filter(pl.col("agent").is_null())


def _repeated_tool(cap: heron.Capture) -> str:
    """The tool variant B repeats 4 times with the same arguments."""
    t = cap.tools.group_by("name", "arguments").agg(pl.len()).filter(pl.col("len") == 4)
    assert t.height == 1, cap.tools
    return str(t.item(0, "name"))


def test_fixtures_are_what_the_scenario_says(caps: tuple[heron.Capture, heron.Capture]) -> None:
    a, b = caps
    assert a.calls.height == 3  # 2 tool rounds + the final answer
    assert a.tools.height == 2 and a.loops.height == 0
    assert a.calls.filter(pl.col("error").is_not_null()).height == 0
    assert b.calls.filter(pl.col("status") == 429).height == 1
    assert set(b.tools.get_column("name")) - set(a.tools.get_column("name")) != set()


def test_a_vs_b_reports_exactly_the_scenario(
    ab: DiffResult, caps: tuple[heron.Capture, heron.Capture]
) -> None:
    a, b = caps
    changed = set(_total(ab).filter(pl.col("changed")).get_column("metric"))
    assert changed >= MUST_CHANGE
    assert not (changed & MUST_NOT_CHANGE), changed & MUST_NOT_CHANGE
    rep = _repeated_tool(b)
    new_tool = (set(b.tools.get_column("name")) - set(a.tools.get_column("name"))).pop()
    unexplained = {
        m
        for m in changed - MUST_CHANGE
        if not m.startswith(MAY_CHANGE_PREFIXES)
        and m not in (f"tool:{rep}", f"tool:{new_tool}")
        and not m.startswith("model:")  # model:NAME counts calls, which grew
    }
    assert unexplained == set()

    assert ab.value("errors_429") == (0, 1)
    assert ab.value("new_tools") == (0, 1)
    assert ab.value(f"tool:{new_tool}")[0] == 0
    assert ab.value(f"tool:{rep}")[1] == 4
    assert ab.value("calls")[1] == ab.value("calls")[0] + 5  # type: ignore[operator]
    assert ab.matched_agents and not ab.only_base and not ab.only_head

    tools = dict(_total_tools(ab))
    assert tools[new_tool] == "new"
    assert "removed" not in tools.values()

    new_loops = ab.loops.filter(pl.col("status") == "new")
    assert new_loops.get_column("kind").to_list() == ["repeated_tool_call"]
    assert new_loops.get_column("signature").item().startswith(f"{rep}(")
    assert new_loops.get_column("head_repeats").item() == 4
    assert ab.loops.filter(pl.col("status") == "gone").height == 0

    conv = ab.conversations
    assert conv.get_column("status").to_list() == ["changed"]
    assert conv.select("base_finished", "head_finished").row(0) == (True, True)

    [seq] = [d for d in ab.sequence_diffs if d.changed]
    ops = [(s.op, (s.head or s.base).name) for s in seq.steps]  # type: ignore[union-attr]
    assert ops.count(("insert", rep)) == 3
    assert ("insert", new_tool) in ops
    assert not any(op in ("delete", "changed") for op, _ in ops), ops


def _total_tools(r: DiffResult) -> list[tuple[str, str]]:
    return list(r.tools.filter(pl.col("agent").is_null()).select("name", "status").iter_rows())


def test_each_gate_trips_as_it_should(ab: DiffResult) -> None:
    b, h = ab.value("output_tokens")
    bl, hl = ab.value("p95_latency_ms")
    assert b is not None and h is not None and bl is not None and hl is not None
    got = {g.gate.expression: g.matched for g in ab.gates}
    assert got == {
        "loops>0": True,
        "errors>0": True,
        "output_tokens>+20%": True,  # 5 more turns of output
        "calls>+5": False,  # exactly +5: not more than 5
        # latency is measured, not scripted: the gate must agree with the values
        "p95_latency_ms>+50%": hl > bl * 1.5,
        "new_tools": True,
        "tool:delete_file>0": False,
    }
    assert h > b * 1.2
    assert [g.matched for g in ab.check(["calls>+4", "calls>=+5", "calls==+5", "calls<+5"])] == [
        True,
        True,
        True,
        False,
    ]


@pytest.mark.parametrize("which", ["a", "b"])
def test_self_diff_is_no_change(which: str, caps: tuple[heron.Capture, heron.Capture]) -> None:
    cap = caps[0] if which == "a" else caps[1]
    r = diff(cap, cap, fail_on=ALL_GATES)
    assert not r.changed
    assert _total(r).filter(pl.col("changed")).height == 0
    assert all(not d.changed for d in r.sequence_diffs)
    relative = [g for g in r.gates if g.gate.mode != "absolute"] + [
        g for g in r.gates if g.gate.metric in ("new_tools", "tool:delete_file")
    ]
    assert relative and not any(g.matched for g in relative)
    first = r.to_markdown().splitlines()[0]
    if which == "a":
        assert r.failed == []  # A has no loops and no errors: every gate passes
        assert first == "### Heron diff: ✅ No change in agent behaviour, all 7 gates passed"
    else:
        # absolute gates judge HEAD's own state: B has a loop and a 429 either way
        assert {g.gate.expression for g in r.failed} == {"loops>0", "errors>0"}
        assert first == "### Heron diff: ❌ 2 of 7 gates failed"


def _cli(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, ["diff", *args])
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout, r.stderr


@pytest.mark.parametrize(
    ("gate", "code"),
    [("loops>0", 1), ("errors>0", 1), ("new_tools", 1), ("calls>+5", 0), ("tool:delete_file>0", 0)],
)
def test_cli_exit_codes(gate: str, code: int) -> None:
    rc, out, err = _cli(str(A), str(B), "--format", "markdown", "--fail-on", gate)
    assert rc == code, err
    if code:
        assert f"gate failed: {gate} matched" in err
        assert out.startswith("### Heron diff: ❌ 1 of 1 gate failed")
    else:
        assert out.startswith("### Heron diff: ✅ All 1 gate passed")
    assert "<details><summary>Tool calls," in out


def test_cli_self_diff_all_gates_pass() -> None:
    args = [a for g in ALL_GATES for a in ("--fail-on", g)]
    rc, out, _ = _cli(str(A), str(A), "--format", "json", *args)
    assert rc == 0
    d = json.loads(out)
    assert d["changed"] is False and d["failed"] is False
    assert [g["matched"] for g in d["gates"]] == [False] * len(ALL_GATES)


@pytest.mark.parametrize("fraction", [0.5, 0.75])
def test_truncated_head_is_diffed_with_a_warning(tmp_path: Path, fraction: float) -> None:
    data = B.read_bytes()
    cut = tmp_path / "variant_b_cut.heron"
    cut.write_bytes(data[: int(len(data) * fraction)])
    whole = diff(A, B)
    full = whole.value("calls")[1]
    r = diff(A, cut)
    added = [w for w in r.warnings if w not in whole.warnings]
    assert added, r.warnings
    assert all(w.startswith("head: ") for w in added), added
    assert any("truncated" in w or "not closed cleanly" in w for w in added), added
    _, head_calls = r.value("calls")
    assert head_calls is not None and full is not None and head_calls < full
    if fraction == 0.75:
        # as far as readable: the complete chunks before the cut still count
        # (this 5-chunk file keeps 7 of its 8 calls when cut at 3/4)
        assert head_calls > 0
        assert r.value("loops") == (0, 1)
    rc, out, err = _cli(str(A), str(cut), "--format", "markdown")
    assert rc == 0
    assert "warning: head: " in err
    assert "> ⚠️ " in out and "head: " in out
