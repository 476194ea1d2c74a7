"""End-to-end: the analysis tables of every REAL capture in tests/fixtures.

Each ``.heron`` file there was recorded by ``heron-capture`` around one
stand-in agent (``heron/standin/agents``) talking to the stand-in provider
(see tests/fixtures/README.md).  The expected values below are derived from
the agent's code (what it asks, in which order, with which tools) and from
the stand-in's documented deterministic script (:mod:`heron.standin.script`):

* prompt tokens = ``tokens(raw request body)``, so ``input_tokens`` must
  equal ``tokens`` of the request body size seen ON THE WIRE (Anthropic:
  minus cached tokens, none here);
* output tokens = ``tokens(answer text) + Σ tokens(tool name) +
  tokens(arguments JSON)``, the answer text being the script's
  ``"Done after N tool results: <last user text>"`` padded to ``words``
  words (computed with the script's own :func:`decide`), and Anthropic tool
  turns adding the ``"I'll use NAME."`` preamble;
* tool arguments come from each tool's JSON schema; tool results from
  :func:`heron.standin.agents._common.run_tool`.

Ids, pids and timings vary between recordings, so they are checked for
shape and consistency, never for exact values.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import heron
from heron.analyze.schema import schema
from heron.standin import tokens
from heron.standin.agents._common import run_tool
from heron.standin.scenario import Scenario
from heron.standin.script import Conversation, decide

FIXTURES = Path(__file__).parent.parent / "fixtures"
ALL = sorted(p.stem for p in FIXTURES.glob("*.heron"))
READ_CALC = '{"path":"src/calc.py"}'
WRITE_CALC = '{"path":"src/calc.py","content":"def add(a, b):\\n    return a + b\\n"}'


@functools.cache
def cap(name: str) -> heron.Capture:
    return heron.open(FIXTURES / f"{name}.heron")


def rows(name: str, table: str = "calls") -> list[dict[str, Any]]:
    df = getattr(cap(name), table)
    order = ["call_id", "tool_call_id"] if table == "tools" else [df.columns[0]]
    return list(df.sort(order).iter_rows(named=True))


def answer_tokens(n_results: int, last_user: str, words: int = 16) -> int:
    """Output tokens of the script's final text answer."""
    conv = Conversation(tools=[], n_results=n_results, last_user=last_user)
    return decide(conv, Scenario(words=words), body=b"", call_key="").output_tokens


def tool_tokens(name: str, args: str, *, preamble: bool = False) -> int:
    """Output tokens of a turn asking for one tool (Anthropic adds a preamble)."""
    return tokens(name) + tokens(args) + (tokens(f"I'll use {name}.") if preamble else 0)


def check_common(name: str) -> None:
    """Invariants every fixture must satisfy."""
    c = cap(name)
    assert c.warnings == [], c.warnings
    for t in ("calls", "tools", "loops", "processes", "connections", "events"):
        assert getattr(c, t).schema == schema(t), t
    calls = c.calls
    assert calls["call_id"].to_list() == list(range(calls.height))
    assert calls["started_at"].is_sorted()
    assert calls["capture"].unique().to_list() == [f"{name}.heron"]
    ok = calls.filter(pl.col("status") == 200)
    assert not ok["partial"].any() and ok["parse_error"].is_null().all()
    assert ok["error"].is_null().all()
    # streamed calls have a TTFT inside the call; non-streamed have none
    st = calls.filter(pl.col("streamed"))
    assert st["ttft_ms"].is_not_null().all()
    assert ((st["ttft_ms"] > 0) & (st["ttft_ms"] <= st["duration_ms"])).all()
    assert calls.filter(~pl.col("streamed"))["ttft_ms"].is_null().all()
    # prompt tokens = tokens(request body as sent), wherever usage was reported;
    # behind a gateway, "as sent" to the provider is the upstream request's body
    sent_on = calls.filter(pl.col("duplicate_kind") == "upstream")["duplicate_of"].to_list()
    known = calls.filter(
        pl.col("input_tokens").is_not_null()
        & (pl.col("duplicate_kind").is_null() | (pl.col("duplicate_kind") == "upstream"))
        & ~pl.col("call_id").is_in(sent_on)
    )
    assert known["input_tokens"].to_list() == [(n + 3) // 4 for n in known["request_bytes"]]
    # every tool row: its times are ordered and its result (if any) is the real one
    for t in c.tools.iter_rows(named=True):
        if t["result_call_id"] is not None:
            assert t["result_call_id"] > t["call_id"]
            assert t["requested_at"] < t["result_at"]
            assert t["latency_ms"] > 0
            if name != "node_fetch":  # node's agent runs its own tool
                assert _same_text(t["result"], run_tool(t["name"], t["arguments"]))
    # processes and connections tie up with the calls
    procs = c.processes.filter(pl.col("n_calls") > 0)
    assert sorted(procs["pid"].to_list()) == sorted(calls["pid"].unique().to_list())
    assert procs["n_calls"].sum() == calls.height
    assert c.connections["n_calls"].sum() == calls.height


def _same_text(got: str, want: str) -> bool:
    """Equal text, or equal JSON (Gemini sends a tool result as an object)."""
    if got == want:
        return True
    try:
        return bool(json.loads(got) == json.loads(want))
    except ValueError:
        return False


@pytest.mark.parametrize("name", ALL)
def test_common_invariants(name: str) -> None:
    check_common(name)


def test_every_fixture_has_expectations() -> None:
    tested = {n.removeprefix("test_") for n in globals() if n.startswith("test_")}
    assert set(ALL) <= tested, f"fixtures without an end-to-end test: {set(ALL) - tested}"


def _cols(r: dict[str, Any], *names: str) -> tuple[Any, ...]:
    return tuple(r[n] for n in names)


KEY = ("provider", "api", "model", "streamed", "status", "finish_reason", "n_messages")
USAGE = ("output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens")


def test_openai_tools() -> None:
    c = rows("openai_tools")
    assert [_cols(r, *KEY) for r in c] == [
        ("openai", "chat.completions", "gpt-4o-mini", False, 200, "stop", 1),
        ("openai", "chat.completions", "gpt-4o-mini", True, 200, "stop", 1),
        ("openai", "chat.completions", "gpt-4o-mini", True, 200, "tool_calls", 2),
        ("openai", "chat.completions", "gpt-4o-mini", True, 200, "tool_calls", 4),
        ("openai", "chat.completions", "gpt-4o-mini", True, 200, "stop", 6),
        ("openai", "embeddings", "text-embedding-3-small", False, 200, None, 2),
    ]
    # OpenAI reports cached and reasoning tokens (0 here), never cache writes
    assert [_cols(r, *USAGE) for r in c] == [
        (answer_tokens(0, "Say hello in five words."), 0, None, 0),
        (answer_tokens(0, "Stream a short greeting."), 0, None, 0),
        (tool_tokens("list_files", '{"directory":"."}'), 0, None, 0),
        (tool_tokens("read_file", READ_CALC), 0, None, 0),
        (answer_tokens(2, "Find the calculator source and tell me what add() does."), 0, None, 0),
        (None, None, None, None),  # embeddings: prompt tokens only
    ]
    assert c[5]["input_tokens"] == tokens(b"x" * c[5]["request_bytes"])
    assert [r["conversation_id"] for r in c] == [0, 1, 2, 2, 2, None]
    assert [r["n_tools_offered"] for r in c] == [0, 0, 2, 2, 2, 0]
    assert [r["n_tool_calls"] for r in c] == [0, 0, 1, 1, 0, 0]
    assert {r["agent"] for r in c} == {"heron.standin.agents.openai_sync"}
    assert {r["http_version"] for r in c} == {"1.1"}
    # the first two calls share a keep-alive connection; after a streamed
    # response the SDK opens a new one (distinct local ports in CONN_OPEN)
    assert [r["conn"] for r in c] == [c[0]["conn"]] * 2 + sorted({r["conn"] for r in c[2:]})
    assert len({r["conn"] for r in c}) == 5
    assert not any(r["auxiliary"] for r in c)
    t = rows("openai_tools", "tools")
    assert [_cols(r, "name", "arguments", "call_id", "result_call_id", "is_error") for r in t] == [
        ("list_files", '{"directory":"."}', 2, 3, None),  # chat tool messages have no error flag
        ("read_file", READ_CALC, 3, 4, None),
    ]
    assert all(r["tool_call_id"].startswith("call_") and len(r["tool_call_id"]) == 29 for r in t)
    assert cap("openai_tools").loops.height == 0


def test_openai_async() -> None:
    c = rows("openai_async")
    assert [_cols(r, *KEY) for r in c] == [
        *[("openai", "chat.completions", "gpt-4o-mini", True, 200, "stop", 1)] * 4,
        ("openai", "responses", "gpt-4o-mini", True, 200, "completed", 1),
        ("openai", "responses", "gpt-4o-mini", True, 200, "completed", 3),
        ("openai", "completions", "gpt-3.5-turbo-instruct", False, 200, "stop", 1),
    ]
    concurrent = answer_tokens(0, "Concurrent request number 0: summarise calc.py.")
    assert [r["output_tokens"] for r in c] == [
        *[concurrent] * 4,
        tool_tokens("read_file", READ_CALC),
        answer_tokens(1, "Read calc.py and report the bug."),
        answer_tokens(0, "def add(a, b):"),
    ]
    # legacy completions report no token details at all
    assert [r["reasoning_tokens"] for r in c] == [0] * 6 + [None]
    # four concurrent single-turn streams with different prompts: four threads;
    # the responses round continues by re-sending its input items
    assert [r["conversation_id"] for r in c] == [0, 1, 2, 3, 4, 4, 6]
    assert {r["agent"] for r in c} == {"heron.standin.agents.openai_async"}
    # memory-BIO asyncio TLS: connections keyed by SSL*, no addresses -> 127.0.0.1 Host header
    assert all(r["host"].startswith("127.0.0.1:") for r in c)
    t = rows("openai_async", "tools")
    assert [_cols(r, "name", "arguments", "call_id", "result_call_id") for r in t] == [
        ("read_file", READ_CALC, 4, 5)
    ]
    assert t[0]["tool_call_id"].startswith("call_")


def test_anthropic_stream() -> None:
    c = rows("anthropic_stream")
    assert [_cols(r, *KEY) for r in c] == [
        ("anthropic", "messages", "claude-sonnet-4-6", True, 200, "tool_use", 2),
        ("anthropic", "messages", "claude-sonnet-4-6", True, 200, "tool_use", 4),
        ("anthropic", "messages", "claude-sonnet-4-6", True, 200, "end_turn", 6),
        ("anthropic", "messages", "claude-sonnet-4-6", False, 200, "end_turn", 1),
    ]
    prompt = "Why does test_add fail? Read the code and run the tests."
    # Anthropic reports cache reads and writes, no reasoning tokens
    assert [_cols(r, *USAGE) for r in c] == [
        (tool_tokens("read_file", READ_CALC, preamble=True), 0, 0, None),
        (tool_tokens("run_tests", '{"target":"tests/"}', preamble=True), 0, 0, None),
        (answer_tokens(2, prompt), 0, 0, None),
        (answer_tokens(0, "One-line summary, please."), 0, 0, None),
    ]
    assert [r["conversation_id"] for r in c] == [0, 0, 0, 3]
    assert {r["agent"] for r in c} == {"heron.standin.agents.anthropic_stream"}
    t = rows("anthropic_stream", "tools")
    assert [_cols(r, "name", "arguments", "call_id", "result_call_id", "is_error") for r in t] == [
        ("read_file", READ_CALC, 0, 1, False),
        ("run_tests", '{"target":"tests/"}', 1, 2, False),
    ]
    assert all(r["tool_call_id"].startswith("toolu_") for r in t)
    # the tool was requested when its block completed, before the response ended
    calls = cap("anthropic_stream").calls
    for r in t:
        assert r["requested_at"] <= calls["ended_at"][r["call_id"]]


def test_httpx_h2() -> None:
    c = rows("httpx_h2")
    assert [_cols(r, *KEY) for r in c] == [
        ("openai", "chat.completions", "gpt-4o-mini", False, 200, "stop", 1),
        ("anthropic", "messages", "claude-haiku-4-5", True, 200, "end_turn", 1),
        ("ollama", "ollama.chat", "llama3.2", False, 200, "stop", 1),
        *[("openai", "chat.completions", "gpt-4o-mini", True, 200, "stop", 1)] * 5,
    ]
    assert [r["output_tokens"] for r in c] == [
        answer_tokens(0, "h2 request one"),
        answer_tokens(0, "h2 request two"),
        answer_tokens(0, "h2 request three"),
        *[answer_tokens(0, "concurrent h2 stream 0")] * 5,
    ]
    assert {r["http_version"] for r in c} == {"2"}
    # part 1 on one connection, the 5 concurrent streams multiplexed on another
    assert len({r["conn"] for r in c[:3]}) == 1 and len({r["conn"] for r in c[3:]}) == 1
    ex = cap("httpx_h2").exchanges
    assert ex.filter(pl.col("call_id").is_not_null())["stream_id"].is_not_null().all()
    assert ex.filter(pl.col("path") == "/v1/models")["call_id"].to_list() == [None]
    assert [r["conversation_id"] for r in c] == list(range(8))
    assert {r["agent"] for r in c} == {"heron.standin.agents.httpx_h2"}
    assert cap("httpx_h2").tools.height == 0


def test_gemini() -> None:
    c = rows("gemini")
    assert [_cols(r, *KEY) for r in c] == [
        ("gemini", "generateContent", "gemini-2.0-flash", False, 200, "STOP", 1),
        ("gemini", "generateContent", "gemini-2.0-flash", False, 200, "STOP", 3),
        ("gemini", "generateContent", "gemini-2.0-flash", True, 200, "STOP", 1),
        ("gemini", "generateContent", "gemini-2.0-flash", True, 200, "STOP", 3),
    ]
    weather = tool_tokens("get_weather", '{"city":"Paris"}')
    final = answer_tokens(1, "What's the weather in Paris?")
    # Gemini omits cached/thought counts when zero: null, never 0
    assert [_cols(r, *USAGE) for r in c] == [
        (weather, None, None, None),
        (final, None, None, None),
    ] * 2
    # the streamed round re-asks the same question: a new thread, not a continuation
    assert [r["conversation_id"] for r in c] == [0, 0, 2, 2]
    t = rows("gemini", "tools")
    # no ids in Gemini: synthesised call_id:index, results paired by position and name
    assert [_cols(r, "tool_call_id", "name", "arguments", "result_call_id") for r in t] == [
        ("0:0", "get_weather", '{"city":"Paris"}', 1),
        ("2:0", "get_weather", '{"city":"Paris"}', 3),
    ]
    assert [r["is_error"] for r in t] == [False, False]
    assert [r["result"] for r in t] == ['{"city":"Paris","temp_c":21,"sky":"clear"}'] * 2
    assert cap("gemini").loops.height == 0  # 2 identical requests < 3


def test_ollama_plain() -> None:
    c = rows("ollama_plain")
    assert [_cols(r, *KEY) for r in c] == [
        ("ollama", "ollama.chat", "llama3.2", True, 200, "stop", 1),
        ("ollama", "ollama.chat", "llama3.2", True, 200, "stop", 3),
        ("ollama", "ollama.chat", "llama3.2", False, 200, "stop", 1),
        ("ollama", "ollama.generate", "llama3.2", True, 200, "stop", 1),
    ]
    assert [_cols(r, *USAGE) for r in c] == [
        (tool_tokens("list_files", '{"directory":"."}'), None, None, None),
        (answer_tokens(1, "List the files, then explain the project."), None, None, None),
        (answer_tokens(0, "Hi"), None, None, None),
        (answer_tokens(0, "Why is the sky blue?"), None, None, None),
    ]
    assert [r["conversation_id"] for r in c] == [0, 0, 2, 3]
    conns = cap("ollama_plain").connections
    assert conns["transport"].unique().to_list() == ["tcp"]
    t = rows("ollama_plain", "tools")
    assert [_cols(r, "tool_call_id", "name", "arguments", "result_call_id") for r in t] == [
        ("0:0", "list_files", '{"directory":"."}', 1)
    ]


def test_proxied() -> None:
    """An agent behind a local gateway (heron.standin.gateway): each call is seen three times."""
    c = rows("proxied")
    agent = [r for r in c if r["duplicate_of"] is None]
    assert [_cols(r, *KEY) for r in agent] == [
        ("openai", "chat.completions", "gpt-4o-mini", False, 200, "stop", 1),
        ("openai", "chat.completions", "gpt-4o-mini", True, 200, "tool_calls", 2),
        ("openai", "chat.completions", "gpt-4o-mini", True, 200, "stop", 4),
    ]
    assert {r["agent"] for r in agent} == {"heron.standin.agents.proxied"}
    # the gateway's views: its server side (the very same bytes) and its upstream request
    for a in agent:
        views = [r for r in c if r["duplicate_of"] == a["call_id"]]
        side, up = sorted(views, key=lambda r: r["duplicate_kind"])
        assert (side["duplicate_kind"], up["duplicate_kind"]) == ("server_side", "upstream")
        assert side["pid"] == up["pid"] != a["pid"]
        assert {side["agent"], up["agent"]} == {"heron.standin.gateway"}
        assert side["host"] == a["host"] != up["host"]  # the gateway, then the provider
        assert side["request_bytes"] == a["request_bytes"] < up["request_bytes"]  # model mapped
        assert _cols(side, *KEY, *USAGE) == _cols(a, *KEY, *USAGE) == _cols(up, *KEY, *USAGE)
        # the provider counted the upstream body, the one it received
        assert a["input_tokens"] == (up["request_bytes"] + 3) // 4
        assert a["started_at"] <= side["started_at"] <= up["started_at"]
        assert up["ended_at"] <= side["ended_at"]
    assert [r["output_tokens"] for r in agent] == [
        answer_tokens(0, "Say hello in five words."),
        tool_tokens("read_file", READ_CALC),
        answer_tokens(1, "Read src/calc.py and summarise it."),
    ]
    assert [r["conversation_id"] for r in agent] == [0, 3, 3]
    # tools and loops count each call once
    t = rows("proxied", "tools")
    assert [_cols(r, "name", "arguments", "call_id", "result_call_id") for r in t] == [
        ("read_file", READ_CALC, agent[1]["call_id"], agent[2]["call_id"])
    ]
    assert cap("proxied").loops.height == 0
    # both ends of each agent -> gateway connection are in the capture, tied by address
    conns = {r["conn"]: r for r in cap("proxied").connections.iter_rows(named=True)}
    for a in agent:
        mine = conns[a["conn"]]
        side = conns[next(r["conn"] for r in c if r["duplicate_of"] == a["call_id"]
                          and r["duplicate_kind"] == "server_side")]  # fmt: skip
        assert (mine["role"], side["role"]) == ("client", "server")
        assert (
            mine["local_port"] == side["remote_port"] and mine["remote_port"] == side["local_port"]
        )


def test_node_fetch() -> None:
    c = rows("node_fetch")
    assert [_cols(r, *KEY) for r in c] == [
        ("openai", "chat.completions", "gpt-4o-mini", False, 200, "stop", 1),
        ("openai", "chat.completions", "gpt-4o-mini", True, 200, "stop", 1),
        ("openai", "chat.completions", "gpt-4o-mini", True, 200, "tool_calls", 1),
        ("openai", "chat.completions", "gpt-4o-mini", True, 200, "stop", 3),
        ("anthropic", "messages", "claude-haiku-4-5", True, 200, "end_turn", 1),
    ]
    # the tool round streams WITHOUT stream_options.include_usage: OpenAI then
    # sends no usage, so the counts are null (never invented)
    assert [(r["input_tokens"] is None, r["output_tokens"]) for r in c] == [
        (False, answer_tokens(0, "Hello from node fetch")),
        (False, answer_tokens(0, "Stream to node fetch")),
        (True, None),
        (True, None),
        (False, answer_tokens(0, "Hi from node")),
    ]
    assert [r["conversation_id"] for r in c] == [0, 1, 2, 2, 4]
    assert {r["agent"] for r in c} == {"node_fetch.mjs"}
    assert {r["process"] for r in c} == {"node"}
    t = rows("node_fetch", "tools")
    assert [_cols(r, "name", "arguments", "call_id", "result_call_id") for r in t] == [
        ("get_weather", '{"city":"Oslo"}', 2, 3)
    ]
    assert t[0]["result"] == '{"city":"Oslo","temp_c":21}'  # the agent's own tool


def test_curl_h2() -> None:
    c = rows("curl_h2")
    assert [_cols(r, *KEY) for r in c] == [
        ("openai", "chat.completions", "gpt-4o-mini", False, 200, "stop", 1),
        ("openai", "chat.completions", "gpt-4o-mini", True, 200, "stop", 1),
        ("anthropic", "messages", "claude-haiku-4-5", True, 200, "end_turn", 1),
    ]
    assert [r["output_tokens"] for r in c] == [
        answer_tokens(0, "hello from curl"),
        answer_tokens(0, "stream to curl"),
        answer_tokens(0, "curl to anthropic"),
    ]
    assert {r["http_version"] for r in c} == {"2"}
    assert len({r["pid"] for r in c}) == 3  # one curl child per call
    assert {r["agent"] for r in c} == {"curl"}
    assert [r["conversation_id"] for r in c] == [0, 1, 2]
    assert all(r["user_agent"].startswith("curl/") for r in c)


def _variant_tools(name: str) -> list[tuple[Any, ...]]:
    return [_cols(r, "name", "arguments", "call_id", "result_call_id") for r in rows(name, "tools")]


def test_variant_a() -> None:
    c = rows("variant_a")
    assert [_cols(r, "finish_reason", "n_messages", "n_tools_offered") for r in c] == [
        ("tool_calls", 2, 2),
        ("tool_calls", 4, 2),
        ("stop", 6, 2),
    ]
    assert [r["output_tokens"] for r in c] == [
        tool_tokens("read_file", READ_CALC),
        tool_tokens("write_file", WRITE_CALC),
        answer_tokens(2, "Fix the failing test tests/test_calc.py::test_add."),
    ]
    assert [r["conversation_id"] for r in c] == [0, 0, 0]
    assert _variant_tools("variant_a") == [
        ("read_file", READ_CALC, 0, 1),
        ("write_file", WRITE_CALC, 1, 2),
    ]
    assert cap("variant_a").loops.height == 0


def test_variant_b() -> None:
    c = rows("variant_b")
    assert [_cols(r, "status", "streamed", "finish_reason", "n_messages") for r in c] == [
        (200, True, "tool_calls", 2),
        (200, True, "tool_calls", 4),
        (429, False, None, 6),  # 3rd model call: error=429-once
        (200, True, "tool_calls", 6),  # the SDK's retry of the same request
        (200, True, "tool_calls", 8),
        (200, True, "tool_calls", 10),
        (200, True, "tool_calls", 12),
        (200, True, "stop", 14),
    ]
    err = c[2]
    assert err["error"].startswith("HTTP 429")
    assert (err["input_tokens"], err["output_tokens"]) == (None, None)
    # the SDK closed the connection without reading the 429's body: partial,
    # but not a capture loss (no warning; see check_common)
    assert err["partial"] and err["parse_error"] is None
    assert err["request_fingerprint"] == c[3]["request_fingerprint"]
    assert [r["output_tokens"] for r in c] == [
        tool_tokens("read_file", READ_CALC),
        tool_tokens("read_file", READ_CALC),
        None,
        tool_tokens("read_file", READ_CALC),
        tool_tokens("read_file", READ_CALC),
        tool_tokens("run_tests", '{"target":"tests/"}'),
        tool_tokens("write_file", WRITE_CALC),
        answer_tokens(6, "Fix the failing test tests/test_calc.py::test_add."),
    ]
    assert [r["conversation_id"] for r in c] == [0] * 8
    # the result of the 2nd read_file first went back in the 429'd request
    assert _variant_tools("variant_b") == [
        ("read_file", READ_CALC, 0, 1),
        ("read_file", READ_CALC, 1, 2),
        ("read_file", READ_CALC, 3, 4),
        ("read_file", READ_CALC, 4, 5),
        ("run_tests", '{"target":"tests/"}', 5, 6),
        ("write_file", WRITE_CALC, 6, 7),
    ]
    loops = cap("variant_b").loops.to_dicts()
    assert [(x["kind"], x["signature"], x["count"], x["call_ids"]) for x in loops] == [
        ("repeated_tool_call", f"read_file({READ_CALC})", 4, [0, 1, 3, 4])
    ]
    assert loops[0]["conversation_id"] == 0 and loops[0]["first_at"] < loops[0]["last_at"]
    # one 429 is a retry, not a storm (3 needed); tighter thresholds find it
    storms = cap("variant_b").find_loops(min_retries=1)
    assert storms.filter(pl.col("kind") == "retry_storm")["call_ids"].to_list() == [[2]]


def test_demo() -> None:
    c = rows("demo")
    assert [_cols(r, *KEY) for r in c] == [
        ("anthropic", "messages", "claude-haiku-4-5", False, 200, "end_turn", 2),
        *[
            ("openai", "chat.completions", "gpt-4o-mini", True, 200, "tool_calls", n)
            for n in (2, 4, 6, 8, 10)
        ],
        ("openai", "chat.completions", "gpt-4o-mini", True, 200, "stop", 12),
        ("anthropic", "messages", "claude-sonnet-4-6", True, 200, "end_turn", 2),
    ]
    task = "The test tests/test_calc.py::test_add fails. Find the bug in the calculator and fix it."
    patch = json.loads(WRITE_CALC)
    assert [r["output_tokens"] for r in c] == [
        answer_tokens(0, task, words=5),  # the title
        tool_tokens("list_files", '{"directory":"."}'),
        tool_tokens("read_file", READ_CALC),
        tool_tokens("read_file", '{"path":"tests/test_calc.py"}'),
        tool_tokens("run_tests", '{"target":"tests/"}'),
        tool_tokens("write_file", WRITE_CALC),
        answer_tokens(5, task),
        answer_tokens(0, f"Review this patch to {patch['path']}:\n{patch['content']}", words=24),
    ]
    # the title-generation side call is flagged; the main turns and review are not
    assert [r["auxiliary"] for r in c] == [True] + [False] * 7
    assert [r["conversation_id"] for r in c] == [0, 1, 1, 1, 1, 1, 1, 7]
    assert {r["agent"] for r in c} == {"heron.standin.agents.demo"}
    assert [r["name"] for r in rows("demo", "tools")] == [
        "list_files",
        "read_file",
        "read_file",
        "run_tests",
        "write_file",
    ]
    assert [(r["call_id"], r["result_call_id"]) for r in rows("demo", "tools")] == [
        (1, 2),
        (2, 3),
        (3, 4),
        (4, 5),
        (5, 6),
    ]
    assert cap("demo").loops.height == 0
