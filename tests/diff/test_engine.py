"""The diff engine on hand-built runs (schemas from heron.analyze.schema)."""

from __future__ import annotations

import json

import polars as pl
import pytest

from heron.analyze.diff import DiffError, diff
from tests.diff.synth import SEARCH, TIME, WEATHER, Turn, run, variant_a, variant_b

ALL_GATES = [
    "loops>0",
    "errors>0",
    "output_tokens>+20%",
    "calls>+5",
    "p95_latency_ms>+50%",
    "new_tools",
    "tool:delete_file>0",
]


def changed_metrics(r: object) -> dict[str, tuple[float | None, float | None]]:
    from heron.analyze.diff import DiffResult

    assert isinstance(r, DiffResult)
    rows = r.metrics.filter(pl.col("agent").is_null() & pl.col("changed"))
    return {m: (b, h) for m, b, h in rows.select("metric", "base", "head").iter_rows()}


def test_self_diff_reports_no_change_and_passes_every_gate() -> None:
    for cap in (variant_a(), variant_b()):
        r = diff(cap, cap, fail_on=[g for g in ALL_GATES if g not in ("loops>0", "errors>0")])
        assert not r.changed
        assert changed_metrics(r) == {}
        assert r.failed == []
        assert all(not d.changed for d in r.sequence_diffs)
        assert r.to_markdown().startswith("### Heron diff: ✅ No change in agent behaviour")
    a = variant_a()
    assert diff(a, a, fail_on=ALL_GATES).failed == []


def test_variant_b_differences() -> None:
    r = diff(variant_a(), variant_b())
    ch = changed_metrics(r)
    assert ch["calls"] == (3, 8)
    assert ch["tool_calls"] == (2, 6)
    assert ch["errors"] == (0, 1)
    assert ch["errors_429"] == (0, 1)
    assert ch["loops"] == (0, 1)
    assert ch["loops:repeated_tool_call"] == (0, 1)
    assert ch["tool:get_weather"] == (1, 4)
    assert ch["tool:search_web"] == (0, 1)
    assert ch["new_tools"] == (0, 1)
    assert ch["new_loops"] == (0, 1)
    assert ch["max_turns"] == (3, 8)
    # what must NOT be reported as changed
    for m in (
        "errors_5xx",
        "errors_4xx",
        "errors_stream",
        "removed_tools",
        "new_models",
        "unfinished",
    ):
        assert m not in ch
    assert r.matched_agents == ["python agent.py"] and not r.only_base and not r.only_head
    tools = {
        n: s
        for n, s in r.tools.filter(pl.col("agent").is_null()).select("name", "status").iter_rows()
    }
    assert tools == {"get_weather": "changed", "get_time": "same", "search_web": "new"}
    new_loops = r.loops.filter(pl.col("status") == "new")
    assert new_loops.get_column("signature").to_list() == ['get_weather({"city": "Paris"})']
    [seq] = r.sequence_diffs
    assert [(s.op, (s.head or s.base).name) for s in seq.steps] == [  # type: ignore[union-attr]
        ("equal", "get_weather"),
        ("insert", "get_weather"),
        ("insert", "get_weather"),
        ("insert", "get_weather"),
        ("equal", "get_time"),
        ("insert", "search_web"),
    ]


def test_gates_on_a_vs_b() -> None:
    r = diff(variant_a(), variant_b(), fail_on=ALL_GATES)
    got = {g.gate.expression: g.matched for g in r.gates}
    # output 60 -> 160 (+167%), calls 3 -> 8 (+5: not > +5), latency equal
    assert got == {
        "loops>0": True,
        "errors>0": True,
        "output_tokens>+20%": True,
        "calls>+5": False,
        "p95_latency_ms>+50%": False,
        "new_tools": True,
        "tool:delete_file>0": False,
    }
    assert diff(variant_a(), variant_b(), fail_on=["calls>+4"]).failed[0].message == (
        "calls>+4 matched: calls 3 -> 8 (+5), limit +4"
    )
    # the reverse direction: B -> A removes a tool and the loop; nothing grows
    back = diff(variant_b(), variant_a(), fail_on=ALL_GATES[2:])
    assert back.failed == []
    assert back.value("removed_tools") == (0, 1)


def test_model_switch_and_new_host() -> None:
    a = run([[Turn([WEATHER]), Turn()]])
    b = run([[Turn([WEATHER], model="gpt-4o"), Turn(model="gpt-4o", host="api.example:443")]])
    r = diff(a, b)
    inv = r.inventory.filter(pl.col("agent").is_null() & (pl.col("status") != "same"))
    got = {(k, v, s) for k, v, s in inv.select("kind", "value", "status").iter_rows()}
    assert got == {
        ("model", "gpt-4o-mini", "removed"),
        ("model", "gpt-4o", "added"),
        ("host", "127.0.0.1", "changed"),
        ("host", "api.example:443", "added"),
    }
    md = r.to_markdown()
    assert "model `gpt-4o-mini` → `gpt-4o`" in md
    assert r.check(["new_models", "new_hosts", "model:gpt-4o>0"])[0].matched


def test_loopback_port_is_not_an_endpoint_change() -> None:
    a = run([[Turn(host="127.0.0.1:32855")]])
    b = run([[Turn(host="127.0.0.1:35421")]])
    assert not diff(a, b).changed
    c = run([[Turn(host="api.example:443")]])
    d = run([[Turn(host="api.example:8443")]])
    assert diff(c, d).value("new_hosts") == (0, 1)


def test_partial_response_with_a_finish_reason_is_an_answer() -> None:
    a = run([[Turn([WEATHER]), Turn()]])
    cf = run([[Turn([WEATHER]), Turn()]])
    calls = cf.calls.with_columns(pl.lit(True).alias("partial"))
    r = diff(a, type(cf)(calls, cf.tools, cf.loops))
    assert r.value("unfinished") == (0, 0)
    cut = calls.with_columns(
        pl.when(pl.col("call_id") == 1)
        .then(None)
        .otherwise(pl.col("finish_reason"))
        .alias("finish_reason")
    )
    assert diff(a, type(cf)(cut, cf.tools, cf.loops)).value("newly_unfinished") == (0, 1)


def test_changed_arguments_shown_as_changed() -> None:
    a = run([[Turn([("read_file", {"path": "src/main.py"})]), Turn()]])
    b = run([[Turn([("read_file", {"path": "src/main2.py"})]), Turn()]])
    r = diff(a, b)
    [seq] = r.sequence_diffs
    assert [s.op for s in seq.steps] == ["changed"]
    md = r.to_markdown()
    assert '! read_file {"path": "src/main.py"}  ->  {"path": "src/main2.py"}' in md
    assert "<details><summary>" in md and "+0 −0 ~1" in md


def test_conversation_that_no_longer_finishes() -> None:
    a = run([[Turn([WEATHER]), Turn()]])
    b = run([[Turn([WEATHER]), Turn([WEATHER])]])
    r = diff(a, b, fail_on=["newly_unfinished>0", "unfinished>0"])
    assert r.conversations.get_column("status").to_list() == ["no_longer_finishes"]
    assert [g.matched for g in r.gates] == [True, True]
    assert "no longer finish" in r.to_markdown()
    # an error as the last call is not an answer either
    c = run([[Turn([WEATHER]), Turn(status=500)]])
    assert diff(a, c).value("newly_unfinished") == (0, 1)


def test_agents_matched_by_identity_not_pid() -> None:
    a = run([[Turn([WEATHER]), Turn()]], pid=10, extra_agents={"node helper.js": [[Turn()]]})
    b = run(
        [[Turn([WEATHER]), Turn([TIME]), Turn()]],
        pid=99999,
        extra_agents={"claude-code": [[Turn()]]},
    )
    r = diff(a, b, fail_on=["unmatched_agents>0"])
    assert r.matched_agents == ["python agent.py"]
    assert r.only_base == ["node helper.js"] and r.only_head == ["claude-code"]
    assert r.gates[0].matched
    per = r.metrics.filter((pl.col("agent") == "python agent.py") & (pl.col("metric") == "calls"))
    assert per.select("base", "head").row(0) == (2, 3)
    assert dict(r.agents.select("agent", "status").iter_rows()) == {
        "claude-code": "only_head",
        "node helper.js": "only_base",
        "python agent.py": "matched",
    }
    md = r.to_markdown()
    assert "only in base: `node helper.js`" in md and "only in head: `claude-code`" in md
    # one matched agent: its rows would repeat the totals
    assert "| agent | metric |" not in md


def test_several_agents_each_matched_to_its_counterpart() -> None:
    a = run([[Turn([WEATHER]), Turn()]], pid=1, extra_agents={"helper.js": [[Turn()]]})
    b = run([[Turn()]], pid=2, extra_agents={"helper.js": [[Turn(), Turn()]]})
    r = diff(a, b)
    assert r.matched_agents == ["helper.js", "python agent.py"]
    calls = {
        ag: (bv, hv)
        for ag, bv, hv in r.metrics.filter(pl.col("metric") == "calls")
        .select("agent", "base", "head")
        .iter_rows()
    }
    assert calls == {None: (3, 3), "helper.js": (1, 2), "python agent.py": (2, 1)}
    md = r.to_markdown()
    assert "| helper.js | calls | 1 | 2 | +1 | +100% |" in md
    assert "| python agent.py | calls | 2 | 1 | -1 | -50% |" in md
    assert "| all | calls |" not in md  # 3 -> 3: unchanged in total


def test_side_calls_are_paired_apart_from_main_conversations() -> None:
    from heron.analyze.diff import CaptureFrames

    # base: a title-generation side call first, then the main conversation
    a = run([[Turn()], [Turn([WEATHER]), Turn()]])
    a = CaptureFrames(
        a.calls.with_columns((pl.col("call_id") == 0).alias("auxiliary")), a.tools, a.loops
    )
    b = run([[Turn([WEATHER]), Turn()]])
    r = diff(a, b)
    rows = r.conversations.select("auxiliary", "ordinal", "status").rows()
    assert rows == [(False, 0, "same"), (True, 0, "only_base")]
    assert not any(d.changed for d in r.sequence_diffs if not d.auxiliary)


def test_agent_restriction() -> None:
    a = run([[Turn()]], extra_agents={"other": [[Turn(), Turn()]]})
    b = run([[Turn()]], extra_agents={"other": [[Turn()]]})
    r = diff(a, b, agent="python agent.py")
    assert not r.changed and r.agent == "python agent.py"
    assert diff(a, b, agent="other").value("calls") == (2, 1)
    with pytest.raises(DiffError, match="expected --agent to name an agent of either run"):
        diff(a, b, agent="nope")


def test_errors_by_class_and_tool_failures() -> None:
    a = run([[Turn([SEARCH]), Turn()]])
    b = run(
        [
            [
                Turn([SEARCH], tool_errors=(True,)),
                Turn(status=400),
                Turn(status=503),
                Turn(error="overloaded_error: in stream"),
                Turn(),
            ]
        ]
    )
    r = diff(
        a,
        b,
        fail_on=["errors:5xx>0", "errors:stream>0", "errors:4xx>0", "tool_errors:search_web>0"],
    )
    assert [g.matched for g in r.gates] == [True, True, True, True]
    assert r.value("errors") == (0, 3)
    t = r.tools.filter(pl.col("agent").is_null() & (pl.col("name") == "search_web"))
    assert t.select("base_errors", "head_errors").row(0) == (0, 1)


def test_tokens_unknown_are_not_zero() -> None:
    a = run([[Turn(input_tokens=None, output_tokens=None)]])
    r = diff(a, a, fail_on=["output_tokens>+20%"])
    assert r.value("output_tokens") == (None, None)
    assert not r.gates[0].matched and "not evaluated" in r.gates[0].message


def test_json_is_stable_and_serialisable() -> None:
    r = diff(variant_a(), variant_b(), fail_on=["loops>0"])
    d = json.loads(r.to_json())
    assert d["schema"] == "heron.diff/1"
    assert set(d) == {
        "schema",
        "base",
        "head",
        "agent",
        "changed",
        "failed",
        "gates",
        "agents",
        "metrics",
        "inventory",
        "tools",
        "loops",
        "conversations",
        "tool_sequences",
        "warnings",
    }
    assert d["failed"] is True and d["gates"][0]["matched"] is True
    calls = next(m for m in d["metrics"] if m["metric"] == "calls" and m["agent"] is None)
    assert calls == {
        "metric": "calls",
        "agent": None,
        "base": 3,
        "head": 8,
        "delta": 5,
        "pct": pytest.approx(166.6666, rel=1e-4),
        "changed": True,
    }
    assert [s["op"] for s in d["tool_sequences"][0]["steps"]][:2] == ["equal", "insert"]
    # record keys are part of the documented format (docs/diff.md)
    keys = {
        k: set(d[k][0])
        for k in ("gates", "metrics", "inventory", "tools", "loops", "conversations")
    }
    assert keys == {
        "gates": {
            "expression", "metric", "op", "mode", "threshold", "agent", "base", "head",
            "value", "matched", "evaluated", "message", "detail",
        },
        "metrics": {"metric", "agent", "base", "head", "delta", "pct", "changed"},
        "inventory": {"kind", "value", "agent", "base_calls", "head_calls", "status"},
        "tools": {
            "agent", "name", "base_calls", "head_calls", "delta", "base_errors", "head_errors", "status",
        },
        "loops": {
            "agent", "kind", "signature", "base_loops", "head_loops", "base_repeats", "head_repeats", "status",
        },
        "conversations": {
            "agent", "auxiliary", "ordinal", "base_conversation_id", "head_conversation_id",
            "base_turns", "head_turns", "base_tool_calls", "head_tool_calls",
            "base_finished", "head_finished", "status",
        },
    }  # fmt: skip
    seq = d["tool_sequences"][0]
    assert set(seq) == {
        "agent", "auxiliary", "ordinal", "base_conversation_id", "head_conversation_id", "changed", "steps",
    }  # fmt: skip
    assert set(seq["steps"][0]) == {"op", "base", "head", "similarity"}
    assert set(seq["steps"][0]["base"]) == {"name", "arguments", "is_error", "tool_call_id"}


def test_markdown_layout() -> None:
    r = diff(variant_a(), variant_b(), fail_on=["loops>0", "calls>+5"])
    md = r.to_markdown()
    lines = md.splitlines()
    assert lines[0] == "### Heron diff: ❌ 1 of 2 gates failed"
    assert "| ❌ | `loops>0` | 0 | 1 |" in md
    assert "| ✅ | `calls>+5` | 3 | 8 |" in md
    assert "| calls | 3 | 8 | +5 | +167% |" in md
    assert "| errors_429 | 0 | 1 | +1 | new |" in md
    assert "**Tools** new: `search_web`" in md
    assert "new repeated_tool_call" in md
    assert "```diff\n  get_weather" in md and "+ search_web" in md
    # unchanged metrics are not in the compact table
    assert "| p95_latency_ms |" not in md


def test_empty_runs() -> None:
    e = pl.DataFrame()
    from heron.analyze.diff import CaptureFrames

    r = diff(CaptureFrames(e, e, e), variant_a(), fail_on=["calls>+20%", "p95_latency_ms>+50%"])
    assert r.value("calls") == (0, 3)
    assert [g.matched for g in r.gates] == [True, False]
    assert "not evaluated" in r.gates[1].message
