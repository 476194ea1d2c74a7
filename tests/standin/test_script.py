"""The pure parts of the stand-in: scenarios, the scripted model, routing (no sockets)."""

from __future__ import annotations

import doctest
import importlib
import json
import pkgutil

import pytest

import heron.standin
from heron.standin import App, Request, Scenario, ScenarioError, parse_scenario, tokens
from heron.standin.script import Conversation, ToolSpec, decide, make_args

SCHEMA = {
    "type": "object",
    "properties": {"path": {"type": "string", "examples": ["a.py", "b.py"]}},
}


def _chat(body: dict, header: str | None = None) -> tuple[int, dict]:  # type: ignore[type-arg]
    raw = json.dumps(body).encode()
    hs = [("x-standin-scenario", header)] if header else []
    r = App().handle(Request("POST", "/v1/chat/completions", hs, raw))
    return r.status, json.loads(r.body)


def test_doctests_of_every_module() -> None:
    names = [m.name for m in pkgutil.walk_packages(heron.standin.__path__, "heron.standin.")]
    failed = 0
    for name in names:
        mod = importlib.import_module(name)
        failed += doctest.testmod(mod, optionflags=doctest.ELLIPSIS).failed
    assert failed == 0
    assert "heron.standin.providers.openai" in names and "heron.standin.agents.variant" in names


def test_token_formula_is_exact() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "é" * 7}]}
    raw = json.dumps(body, ensure_ascii=False).encode()
    r = App().handle(Request("POST", "/v1/chat/completions", [], raw))
    out = json.loads(r.body)
    text = out["choices"][0]["message"]["content"]
    assert out["usage"]["prompt_tokens"] == (len(raw) + 3) // 4
    assert out["usage"]["completion_tokens"] == (len(text.encode()) + 3) // 4
    assert tokens("é") == 1 and tokens("éé") == 1 and tokens("ééé") == 2  # bytes, not characters


def test_tool_rounds_then_final_answer() -> None:
    tools = [
        {"type": "function", "function": {"name": n, "parameters": SCHEMA}} for n in ("ls", "cat")
    ]
    msgs: list[dict] = [{"role": "user", "content": "go"}]  # type: ignore[type-arg]
    seen = []
    for _ in range(5):
        status, out = _chat({"model": "m", "messages": msgs, "tools": tools}, "tools=3")
        assert status == 200
        msg = out["choices"][0]["message"]
        if not msg.get("tool_calls"):
            break
        for tc in msg["tool_calls"]:
            seen.append((tc["function"]["name"], tc["function"]["arguments"]))
            msgs += [
                {"role": "assistant", "tool_calls": [tc]},
                {"role": "tool", "tool_call_id": tc["id"], "content": "r"},
            ]
    assert seen == [
        ("ls", '{"path":"a.py"}'),
        ("cat", '{"path":"a.py"}'),
        ("ls", '{"path":"b.py"}'),
    ]
    assert msg["content"].startswith("Done after 3 tool results")


def test_plan_parallel_and_usage_counts_tool_calls() -> None:
    conv = Conversation([ToolSpec("a", {}), ToolSpec("b", {})], n_results=0)
    t = decide(conv, parse_scenario("plan=a*2|b;parallel=2"), body=b"x" * 9, call_key="k")
    assert [c.name for c in t.tool_calls] == ["a", "a"]
    assert t.output_tokens == sum(tokens(c.name) + tokens(c.args_json) for c in t.tool_calls)
    assert t.prompt_tokens == 3
    assert len({c.id for c in t.tool_calls}) == 2


def test_make_args_types() -> None:
    schema = {
        "properties": {
            "s": {"type": "string"},
            "i": {"type": "integer"},
            "b": {"type": "boolean"},
            "e": {"enum": ["x", "y"]},
            "o": {"type": "object", "properties": {"n": {"type": "NUMBER"}}},
        }
    }
    assert make_args(schema, 1) == {"s": "s-2", "i": 2, "b": False, "e": "y", "o": {"n": 1.5}}


@pytest.mark.parametrize(
    "text,msg",
    [
        ("tools", "expected KEY=VALUE"),
        ("tools=x", "expected an integer"),
        ("error=200", "4xx/5xx"),
        ("latency_ms=999999999", "expected an integer in"),
        ("plan=a*b", "NAME*COUNT"),
        ("colour=red", "unknown scenario option 'colour'"),
    ],
)
def test_scenario_errors_say_what_was_expected(text: str, msg: str) -> None:
    with pytest.raises(ScenarioError, match=msg.replace("*", r"\*")):
        parse_scenario(text)


def test_header_overrides_model_suffix_and_defaults() -> None:
    sc = parse_scenario("tools=5", model="m~tools=2;words=3", default=Scenario(latency_ms=50))
    assert (sc.tools, sc.words, sc.latency_ms) == (5, 3, 50)


def test_error_once_without_sdk_header_is_per_body() -> None:
    app = App()
    body = b'{"model":"m~error=503-once","messages":[{"role":"user","content":"x"}]}'
    other = body.replace(b'"x"', b'"y"')
    statuses = [
        app.handle(Request("POST", "/v1/chat/completions", [], b)).status
        for b in (body, body, other)
    ]
    assert statuses == [503, 200, 503]


def test_model_name_suffix_not_echoed() -> None:
    _, out = _chat({"model": "gpt-4o~words=4", "messages": [{"role": "user", "content": "q"}]})
    assert out["model"] == "gpt-4o" and len(out["choices"][0]["message"]["content"].split()) == 4


def test_replies_are_deterministic() -> None:
    body = b'{"model":"m","stream":true,"messages":[{"role":"user","content":"same"}]}'
    a = App().handle(Request("POST", "/v1/chat/completions", [], body)).body
    b = App().handle(Request("POST", "/v1/chat/completions", [], body)).body
    assert a == b


def test_gemini_function_call_round() -> None:
    tools = [
        {
            "functionDeclarations": [
                {
                    "name": "f",
                    "parameters": {"type": "OBJECT", "properties": {"q": {"type": "STRING"}}},
                }
            ]
        }
    ]
    first = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "tools": tools}
    r = App().handle(
        Request("POST", "/v1beta/models/g:generateContent", [], json.dumps(first).encode())
    )
    part = json.loads(r.body)["candidates"][0]["content"]["parts"][0]
    assert part == {"functionCall": {"name": "f", "args": {"q": "q-1"}}}
    second = {
        **first,
        "contents": [
            *first["contents"],
            {"role": "model", "parts": [part]},
            {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]},
        ],
    }
    r = App().handle(
        Request("POST", "/v1beta/models/g:generateContent", [], json.dumps(second).encode())
    )
    assert "text" in json.loads(r.body)["candidates"][0]["content"]["parts"][0]


def test_method_and_route_errors() -> None:
    app = App()
    assert app.handle(Request("GET", "/v1/chat/completions")).status == 405
    assert app.handle(Request("POST", "/v1/messages", [], b"[1]")).status == 400
    assert app.handle(Request("POST", "/api/chat", [], b'{"model":"m"}')).status == 400
    assert app.handle(Request("GET", "/api/tags")).status == 200
